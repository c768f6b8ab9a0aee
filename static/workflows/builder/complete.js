/* Completion in template fields: typing `{{` offers the labels of the nodes that run before
   this one (the server's scopes), then, after a label and a dot, that node's output fields
   (the catalog's outputFields; for the trigger, the input keys of its schema). */
import { el } from "../dom.js";

let popups = 0;

/* source(): {labels: [{label, detail}], fieldsOf(label) -> [{name, detail}]} for the field's node. */
export function attachCompletion(input, source) {
  const id = `wb-complete-${++popups}`;
  const list = el("ul", { className: "wb-complete", role: "listbox", id, hidden: true });
  document.body.append(list);
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", id);
  let items = [];
  let active = 0;
  let context = null;

  function close() {
    list.hidden = true;
    items = [];
    context = null;
    input.removeAttribute("aria-activedescendant");
    input.setAttribute("aria-expanded", "false");
  }

  function compute() {
    const caret = input.selectionStart;
    const before = input.value.slice(0, caret);
    const match = /\{\{([^{}]*)$/.exec(before);
    if (!match) return null;
    const partial = match[1];
    const start = caret - partial.length;
    const { labels, fieldsOf } = source();
    const trimmed = partial.replace(/^\s+/, "");
    const lead = partial.length - trimmed.length;
    const root = labels.map((l) => l.label).sort((a, b) => b.length - a.length).find((label) => trimmed.startsWith(label + "."));
    if (root) {
      const rest = trimmed.slice(root.length + 1);
      if (/[.[\]]/.test(rest)) return null;
      const fields = fieldsOf(root).filter((f) => f.name.toLowerCase().startsWith(rest.toLowerCase()));
      return { kind: "field", from: start + lead + root.length + 1, to: caret, options: fields.map((f) => ({ text: f.name, detail: f.detail })) };
    }
    const wanted = trimmed.toLowerCase();
    const options = labels.filter((l) => l.label.toLowerCase().includes(wanted)).map((l) => ({ text: l.label, detail: l.detail }));
    return { kind: "label", from: start + lead, to: caret, options };
  }

  function open() {
    context = compute();
    if (!context || !context.options.length) { close(); return; }
    items = context.options;
    active = Math.min(active, items.length - 1);
    list.replaceChildren(...items.map((item, index) => el("li", {
      id: `${id}-${index}`, role: "option", className: index === active ? "active" : "", "aria-selected": index === active ? "true" : "false",
      "data-value": item.text,
    }, [el("span", { className: "wb-complete-text", text: item.text }), item.detail ? el("span", { className: "wb-complete-detail", text: item.detail }) : null])));
    const rect = input.getBoundingClientRect();
    list.style.left = `${Math.round(rect.left)}px`;
    list.style.top = `${Math.round(rect.bottom + 2)}px`;
    list.style.minWidth = `${Math.round(Math.min(rect.width, 320))}px`;
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-activedescendant", `${id}-${active}`);
  }

  function choose(index) {
    if (!context || !items[index]) return;
    const item = items[index];
    const kind = context.kind;
    const value = input.value;
    let insert, caret;
    if (kind === "label") {
      insert = item.text + ".";
      caret = context.from + insert.length;
    } else {
      const closes = value.slice(context.to).trimStart().startsWith("}}");
      insert = item.text + (closes ? "" : "}}");
      caret = context.from + item.text.length;
    }
    input.value = value.slice(0, context.from) + insert + value.slice(context.to);
    input.setSelectionRange(caret, caret);
    input.dispatchEvent(new Event("input", { bubbles: true }));  // (reopens the list: its own listener)
    active = 0;
    if (kind === "label") open(); else close();  // after a label, offer its fields
  }

  // The scopes come with each validation: a fresher one may offer more (an edge just drawn).
  const revalidated = () => { if (document.activeElement === input) open(); };
  document.addEventListener("wb-validated", revalidated);
  input.addEventListener("input", () => { active = 0; open(); });
  input.addEventListener("click", open);
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      open();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  list.addEventListener("mousedown", (event) => {
    event.preventDefault();  // keep the focus in the field
    const option = event.target.closest("[role=option]");
    if (option) choose(Number(option.id.split("-").pop()));
  });
  return { close, destroy: () => { close(); list.remove(); document.removeEventListener("wb-validated", revalidated); } };
}
