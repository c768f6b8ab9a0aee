/* One form control per config field type of the node catalog (docs/plugins.md, "Config
   field types"). Each widget reports a new value through ctx.change(value); it parses what
   the user typed (numbers, JSON) but judges nothing: the server's validator does. */
import { el } from "../dom.js";
import { attachCompletion } from "./complete.js";

let uid = 0;
const nextId = () => `wb-f${++uid}`;

export const SCHEMA_TYPES = ["string", "number", "integer", "boolean", "object", "array"];

/* Whether a field's showWhen condition holds for `config` (what the form shows). */
export function visible(field, config) {
  const cond = field.showWhen;
  if (!cond) return true;
  const other = config[cond.field];
  if ("equals" in cond) return other === cond.equals;
  if ("notEquals" in cond) return other !== cond.notEquals;
  if ("in" in cond) return (cond.in || []).includes(other);
  return true;
}

const asText = (value) => (value == null ? "" : typeof value === "string" ? value : JSON.stringify(value));

function textInput(id, value, field, ctx, { multiline = false, template = false } = {}) {
  const attrs = { id, name: field.key, placeholder: field.placeholder || "", spellcheck: "false", autocomplete: "off" };
  const input = multiline
    ? el("textarea", { ...attrs, rows: field.rows || 3 })
    : el("input", { ...attrs, type: "text" });
  input.value = typeof value === "string" || value == null ? asText(value) : JSON.stringify(value, null, multiline ? 2 : 0);
  const structured = value != null && typeof value !== "string";
  input.addEventListener("input", () => {
    let next = input.value;
    if (structured) { try { next = JSON.parse(input.value); } catch (e) { /* text until it parses */ } }
    ctx.change(next === "" ? undefined : next);
  });
  if (template && ctx.completion) ctx.track(attachCompletion(input, ctx.completion));
  return input;
}

function numberInput(id, value, field, ctx) {
  const input = el("input", { id, name: field.key, type: "text", inputmode: "decimal", placeholder: field.placeholder || "", autocomplete: "off" });
  input.value = asText(value);
  input.addEventListener("input", () => {
    const text = input.value.trim();
    ctx.change(text === "" ? undefined : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  });
  return input;
}

function selectInput(id, value, field, ctx) {
  const options = field.options || [];
  const select = el("select", { id, name: field.key }, [
    el("option", { value: "", text: field.required ? "Choose…" : "—" }),
    ...options.map((o, i) => el("option", { value: String(i), text: o.label ?? String(o.value) })),
  ]);
  const index = options.findIndex((o) => o.value === value);
  select.value = index >= 0 ? String(index) : "";
  select.addEventListener("change", () => ctx.change(select.value === "" ? undefined : options[Number(select.value)].value));
  return select;
}

/* A combobox (ARIA 1.2 pattern): type to filter the options (static or from the options
   endpoint), pick with the mouse or the arrow keys and Enter; free text is kept as typed. */
function combobox(id, value, field, ctx) {
  const listId = `${id}-list`;
  const input = el("input", {
    id, name: field.key, type: "text", role: "combobox", "aria-expanded": "false", "aria-controls": listId,
    "aria-autocomplete": "list", autocomplete: "off", placeholder: field.placeholder || field.searchPlaceholder || "Search…",
  });
  const list = el("ul", { className: "wb-options", role: "listbox", id: listId, hidden: true });
  const wrap = el("div", { className: "wb-combobox" }, [input, list]);
  let options = field.options || null;
  let active = -1;
  const labelFor = (v) => {
    const found = (options || []).find((o) => String(o.value) === String(v));
    return found ? found.label ?? String(found.value) : asText(v);
  };
  let displayed = "";
  const show = (v) => { displayed = labelFor(v); input.value = displayed; };
  show(value);
  const load = () => (options || !ctx.loadOptions ? Promise.resolve(options || []) : ctx.loadOptions(field).then((found) => {
    options = found;
    wrap.dataset.loaded = "true";
    if (document.activeElement !== input || input.value === displayed) show(value);
    return found;
  }));
  if (!field.options && ctx.loadOptions) load().catch(() => {});
  const render = (filter) => {
    const shown = (options || []).filter((o) => !filter || String(o.label ?? o.value).toLowerCase().includes(filter.toLowerCase()));
    list.replaceChildren(...shown.map((o, i) => el("li", {
      id: `${listId}-${i}`, role: "option", className: i === active ? "active" : "", "aria-selected": String(o.value) === String(value) ? "true" : "false",
      "data-value": String(o.value), text: o.label ?? String(o.value),
    })));
    if (!shown.length) list.replaceChildren(el("li", { className: "muted", text: options ? "No options" : "Loading…" }));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    if (active >= 0 && shown[active]) input.setAttribute("aria-activedescendant", `${listId}-${active}`);
    return shown;
  };
  let shown = [];
  const pick = (option) => {
    value = option.value;
    show(value);
    ctx.change(option.value);
    close();
  };
  const close = () => { list.hidden = true; active = -1; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); };
  const openList = (filter) => load().then(() => { shown = render(filter); });
  input.addEventListener("focus", () => openList(""));
  input.addEventListener("click", () => openList(""));
  input.addEventListener("input", () => { active = -1; openList(input.value); });
  input.addEventListener("blur", () => setTimeout(() => {
    if (document.activeElement === input) return;  // focused again meanwhile
    close();
    const typed = input.value.trim();
    if (typed === displayed) return;  // what we showed, not something typed
    const exact = (options || []).find((o) => String(o.label ?? o.value) === typed || String(o.value) === typed);
    if (exact) { if (exact.value !== value) pick(exact); else show(value); }
    else { value = typed || undefined; displayed = typed; ctx.change(value); }
  }, 150));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) { openList(""); return; }
      active = shown.length ? (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length : -1;
      shown = render(input.value === displayed ? "" : input.value);
    } else if (event.key === "Enter" && !list.hidden && active >= 0 && shown[active]) {
      event.preventDefault();
      pick(shown[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  list.addEventListener("mousedown", (event) => {
    event.preventDefault();
    const item = event.target.closest("[role=option]");
    if (item) pick(shown[Number(item.id.split("-").pop())]);
  });
  wrap.refresh = () => { if (!field.options) { options = null; load().catch(() => {}); } };
  return wrap;
}

function multiSelect(id, value, field, ctx) {
  let current = Array.isArray(value) ? value : typeof value === "string" && value.trim().startsWith("[") ? safeJson(value, []) : [];
  const box = el("fieldset", { className: "wb-checks", id, "aria-label": field.label });
  const paint = (options) => {
    box.replaceChildren(...(options.length ? options.map((o) => {
      const cid = nextId();
      const check = el("input", { type: "checkbox", id: cid, value: String(o.value) });
      check.checked = current.some((v) => String(v) === String(o.value));
      check.addEventListener("change", () => {
        current = check.checked ? [...current, o.value] : current.filter((v) => String(v) !== String(o.value));
        ctx.change(current.length ? current : undefined);
      });
      return el("label", { className: "wb-check", for: cid }, [check, " ", o.label ?? String(o.value)]);
    }) : [el("span", { className: "muted", text: "No options (choose what they depend on first)" })]));
  };
  const load = () => (field.options ? Promise.resolve(field.options) : ctx.loadOptions ? ctx.loadOptions(field) : Promise.resolve([]));
  load().then(paint).catch(() => paint([]));
  box.refresh = () => load().then(paint).catch(() => paint([]));
  return box;
}

const safeJson = (text, fallback) => { try { return JSON.parse(text); } catch (e) { return fallback; } };

/* Rows of key and value: match-builder, single-row-update, object. Values are template
   inputs; a value that is not text is edited as JSON. */
function pairs(id, value, field, ctx, { wrapList = false } = {}) {
  let source = typeof value === "string" ? safeJson(value, {}) : value;
  if (wrapList) source = Array.isArray(source) ? source[0] || {} : source || {};
  let rows = Object.entries(source && typeof source === "object" && !Array.isArray(source) ? source : {}).map(([k, v]) => ({ key: k, value: v }));
  const box = el("div", { className: "wb-pairs", id });
  const emit = () => {
    const object = {};
    for (const row of rows) if (row.key) object[row.key] = row.value;
    const empty = !Object.keys(object).length;
    ctx.change(empty ? undefined : wrapList ? [object] : object);
  };
  const paint = () => {
    box.replaceChildren(...rows.map((row, index) => {
      const key = el("input", { type: "text", className: "wb-pair-key", placeholder: field.keyPlaceholder || "key", "aria-label": `${field.label}: key ${index + 1}`, autocomplete: "off" });
      key.value = row.key;
      key.addEventListener("input", () => { row.key = key.value.trim(); emit(); });
      const val = el("input", { type: "text", className: "wb-pair-value", placeholder: "value or {{template}}", "aria-label": `${field.label}: value ${index + 1}`, autocomplete: "off", spellcheck: "false" });
      const structured = row.value != null && typeof row.value !== "string";
      val.value = structured ? JSON.stringify(row.value) : row.value ?? "";
      val.addEventListener("input", () => {
        row.value = structured ? safeJson(val.value, val.value) : val.value;
        emit();
      });
      if (ctx.completion) ctx.track(attachCompletion(val, ctx.completion));
      const remove = el("button", { type: "button", className: "link wb-pair-remove", "aria-label": `Remove ${row.key || "row " + (index + 1)}`, text: "✕" });
      remove.addEventListener("click", () => { rows.splice(index, 1); emit(); paint(); });
      return el("div", { className: "wb-pair" }, [key, val, remove]);
    }), (() => {
      const add = el("button", { type: "button", className: "wb-add", text: "+ Add" });
      add.addEventListener("click", () => { rows.push({ key: "", value: "" }); paint(); box.querySelector(".wb-pair:last-of-type .wb-pair-key").focus(); });
      return add;
    })());
  };
  paint();
  return box;
}

/* The workflow's input schema (the trigger's inputSchema): one row per field with its name,
   type, whether it is required and, for text and numbers, the allowed values ("low, high").
   Entries keep keys the form does not edit (description, default). */
function schemaBuilder(id, value, field, ctx) {
  const parsed = typeof value === "string" ? safeJson(value, value) : value;
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return jsonArea(id, parsed, field, ctx);  // a hand-written JSON schema
  let rows = Array.isArray(parsed) ? parsed.map((e) => ({ ...e, name: e.name || "", type: e.type || "string" })) : [];
  const box = el("div", { className: "wb-schema", id });
  const enumText = (row) => (Array.isArray(row.enum) ? row.enum.join(", ") : "");
  const takesEnum = (type) => type === "string" || type === "number" || type === "integer";
  const entry = (row) => {
    const out = { ...row };
    if (!out.required) delete out.required;
    if (!takesEnum(out.type) || !Array.isArray(out.enum) || !out.enum.length) delete out.enum;
    return out;
  };
  const emit = () => {
    const list = rows.filter((r) => r.name).map(entry);
    ctx.change(list.length ? list : undefined);
  };
  const paint = () => {
    box.replaceChildren(...rows.map((row, index) => {
      const name = el("input", { type: "text", placeholder: "name", "aria-label": `${field.label}: name ${index + 1}`, autocomplete: "off" });
      name.value = row.name;
      name.addEventListener("input", () => { row.name = name.value.trim(); emit(); });
      const type = el("select", { "aria-label": `${field.label}: type ${index + 1}` }, SCHEMA_TYPES.map((t) => el("option", { value: t, text: t })));
      type.value = row.type;
      const required = el("input", { type: "checkbox", "aria-label": `${field.label}: ${row.name || "entry " + (index + 1)} is required`, "data-role": "schema-required" });
      required.checked = row.required === true;
      required.addEventListener("change", () => { row.required = required.checked; emit(); });
      const options = el("input", { type: "text", placeholder: "allowed values: a, b", "aria-label": `${field.label}: allowed values ${index + 1}`, autocomplete: "off", "data-role": "schema-enum", hidden: !takesEnum(row.type) });
      options.value = enumText(row);
      options.addEventListener("input", () => {
        const parts = options.value.split(",").map((p) => p.trim()).filter(Boolean);
        row.enum = row.type === "string" ? parts : parts.map(Number).filter((n) => !Number.isNaN(n));
        emit();
      });
      type.addEventListener("change", () => { row.type = type.value; options.hidden = !takesEnum(row.type); options.dispatchEvent(new Event("input")); });
      const remove = el("button", { type: "button", className: "link wb-pair-remove", "aria-label": `Remove ${row.name || "entry " + (index + 1)}`, text: "✕" });
      remove.addEventListener("click", () => { rows.splice(index, 1); emit(); paint(); });
      return el("div", { className: "wb-pair wb-schema-row" }, [
        name, type, el("label", { className: "wb-schema-required", title: "The input must have this field" }, [required, " required"]), remove, options,
      ]);
    }), (() => {
      const add = el("button", { type: "button", className: "wb-add", text: "+ Add field" });
      add.addEventListener("click", () => { rows.push({ name: "", type: "string" }); paint(); box.querySelector(".wb-pair:last-of-type input").focus(); });
      return add;
    })());
  };
  paint();
  return box;
}

/* JSON text for list and object values that have no friendlier control. */
function jsonArea(id, value, field, ctx) {
  const area = el("textarea", { id, name: field.key, rows: field.rows || 4, spellcheck: "false", className: "wb-json", placeholder: field.placeholder || (field.type === "list" ? "[ ]" : "{ }") });
  area.value = value == null ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2);
  const note = el("p", { className: "wb-json-note", hidden: true, role: "status" });
  area.addEventListener("input", () => {
    const text = area.value.trim();
    if (!text) { note.hidden = true; ctx.change(undefined); return; }
    try {
      ctx.change(JSON.parse(text));
      note.hidden = true;
    } catch (exc) {
      if (/\{\{/.test(text)) { note.hidden = true; ctx.change(text); return; }  // a template standing for the whole value
      note.hidden = false;
      note.textContent = `✎ Not JSON yet (${exc.message}); the last valid value is kept.`;
    }
  });
  return el("div", {}, [area, note]);
}

function checkbox(id, value, field, ctx) {
  const box = el("input", { id, name: field.key, type: "checkbox" });
  box.checked = value === true || value === "true" || (value == null && field.default === true);
  box.addEventListener("change", () => ctx.change(box.checked));
  return box;
}

const WIDGETS = {
  "template-input": (id, v, f, c) => textInput(id, v, f, c, { template: true }),
  "template-textarea": (id, v, f, c) => textInput(id, v, f, c, { multiline: true, template: true }),
  text: (id, v, f, c) => textInput(id, v, f, c),
  number: numberInput,
  select: selectInput,
  combobox,
  "multi-select": multiSelect,
  "match-builder": (id, v, f, c) => pairs(id, v, { ...f, keyPlaceholder: "attribute" }, c),
  "single-row-update": (id, v, f, c) => pairs(id, v, { ...f, keyPlaceholder: "column" }, c, { wrapList: (f.singleRowMode || "update") !== "update" }),
  "schema-builder": schemaBuilder,
  boolean: checkbox,
  object: (id, v, f, c) => pairs(id, v, f, c),
  list: jsonArea,
};

/* The labelled control of one field: {element, control}. */
export function fieldControl(field, value, ctx) {
  const id = nextId();
  const make = WIDGETS[field.type] || WIDGETS.text;
  const control = make(id, value, field, ctx);
  const inline = field.type === "boolean";
  const label = el("label", { for: id, className: "wb-label" }, [field.label, field.required ? el("span", { className: "wb-required", title: "required", text: " *" }) : null]);
  const help = field.description ? el("p", { className: "wb-help", id: `${id}-help`, text: field.description }) : null;
  if (help) (control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea") || control).setAttribute("aria-describedby", `${id}-help`);
  const element = el("div", { className: "wb-field" + (inline ? " wb-field-inline" : ""), "data-field": `config.${field.key}`, "data-type": field.type },
    inline ? [control, label, help] : [label, control, help]);
  return { element, control };
}
