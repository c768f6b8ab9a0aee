/* The side panel's "Node" tab: the selected node's label, the form generated from its type's
   configFields (showWhen applied as the form changes), retry settings, its outgoing
   connections (the keyboard's way to draw edges), and the server's problems on each field. */
import { el, icon } from "../dom.js";
import { fieldControl, visible } from "./fields.js";
import { isTrigger, labelOf, nodeById, removeEdges, renameNode, sameEdge, setConfigValue, setRetryValue } from "./model.js";
import { post } from "./api.js";

const RETRY_FIELDS = [
  ["maxAttempts", "Max attempts", "1, 2, 3…"], ["initialInterval", "First wait (s)", "1"],
  ["backoffFactor", "Backoff factor", "2"], ["maxInterval", "Longest wait (s)", "300"], ["jitter", "Jitter (0–1)", "0.2"],
];

export class Inspector {
  constructor(editor, host) {
    this.editor = editor;
    this.host = host;
    this.nodeId = null;
    this.node = null;
    this.controls = [];
    this.tracked = [];
    this.optionCache = new Map();
  }

  render() {
    for (const t of this.tracked) t.destroy();
    this.tracked = [];
    this.controls = [];
    const ids = [...this.editor.selection];
    this.nodeId = ids.length === 1 ? ids[0] : null;
    this.node = this.nodeId ? nodeById(this.editor.def, this.nodeId) : null;
    this.wasMultiple = ids.length > 1;
    if (ids.length > 1) this.host.replaceChildren(...this.multiple(ids));
    else if (this.node) this.host.replaceChildren(...this.form(this.node).filter(Boolean));
    else this.host.replaceChildren(...this.empty());
    this.showProblems();
  }

  /* After any change: redraw the form only if the node changed from elsewhere (undo, canvas). */
  update() {
    const ids = [...this.editor.selection];
    const nodeId = ids.length === 1 ? ids[0] : null;
    const node = nodeId ? nodeById(this.editor.def, nodeId) : null;
    if (nodeId !== this.nodeId || (ids.length > 1) !== this.wasMultiple || node !== this.node) this.render();
  }

  empty() {
    return [
      el("h2", { className: "wb-panel-title", text: "Workflow" }),
      el("p", { className: "muted", text: this.editor.readOnly
        ? "Read-only on a narrow screen: open the editor on a wider one to change this workflow."
        : "Drag a node type from the palette onto the canvas (or select one and press Enter), then drag from a node's output handle to another node to connect them. Select a node to configure it." }),
      el("div", { className: "wb-node-problems", "data-role": "global-problems" }),
    ];
  }

  multiple(ids) {
    const remove = el("button", { type: "button", className: "danger", text: `Delete ${ids.length} nodes`, disabled: this.editor.readOnly });
    remove.addEventListener("click", () => this.editor.deleteSelection());
    const copy = el("button", { type: "button", text: "Copy" });
    copy.addEventListener("click", () => this.editor.copySelection());
    return [el("h2", { className: "wb-panel-title", text: `${ids.length} nodes selected` }),
      el("p", { className: "muted", text: "Drag one of them to move them together; Delete removes them; Ctrl+C / Ctrl+V copies them with their config." }),
      el("div", { className: "wb-actions" }, [copy, remove])];
  }

  form(node) {
    const type = this.editor.catalog[node.type] || { label: node.type, configFields: [], description: "Unknown node type" };
    const change = (def, key) => { this.node = nodeById(def, node.id); this.editor.change(def, key); };
    const parts = [
      el("div", { className: "wb-node-head" }, [icon(type.icon, 20), el("div", {}, [
        el("h2", { className: "wb-panel-title", text: labelOf(node) }),
        el("p", { className: "muted wb-type", text: `${type.label} · ${node.type}` }),
      ])]),
      type.description ? el("p", { className: "wb-help", text: type.description }) : null,
      el("div", { className: "wb-node-problems", "data-role": "node-problems" }),
    ];
    const labelInput = el("input", { id: "wb-label", type: "text", value: labelOf(node), autocomplete: "off", spellcheck: "false" });
    labelInput.value = labelOf(node);
    labelInput.addEventListener("input", () => {
      const text = labelInput.value;
      if (!text.trim()) return;  // an empty label would fall back to the id; wait for a name
      change(renameNode(this.editor.def, node.id, text), `label:${node.id}`);
      this.host.querySelector(".wb-panel-title").textContent = text;
    });
    parts.push(el("div", { className: "wb-field", "data-field": "label" }, [
      el("label", { for: "wb-label", className: "wb-label", text: "Label" }), labelInput,
      el("p", { className: "wb-help", text: "Unique in the workflow; templates name the node by it ({{Label.field}}). Renaming updates them." }),
    ]));
    const config = node.config || {};
    const fields = type.configFields || [];
    const section = el("div", { className: "wb-config" });
    for (const field of fields) {
      const { element, control } = fieldControl(field, config[field.key], {
        change: (value) => {
          const def = setConfigValue(this.editor.def, node.id, field.key, value);
          change(def, `config:${node.id}:${field.key}`);
          this.afterConfigChange(field.key);
        },
        completion: () => this.editor.completionFor(node.id),
        loadOptions: field.optionsUrl ? (f) => this.loadOptions(node.id, f) : null,
        track: (t) => this.tracked.push(t),
      });
      element.hidden = !visible(field, config);
      this.controls.push({ field, element, control });
      section.append(element);
    }
    if (!fields.length) section.append(el("p", { className: "muted", text: "This node has nothing to configure." }));
    parts.push(section);
    if (!isTrigger(node)) parts.push(this.retrySection(node, change), this.outputsSection(node, type));
    const duplicate = el("button", { type: "button", text: "Duplicate" });
    duplicate.addEventListener("click", () => { this.editor.copySelection(); this.editor.paste(); });
    const remove = el("button", { type: "button", className: "danger", text: "Delete node" });
    remove.addEventListener("click", () => this.editor.deleteSelection());
    parts.push(el("div", { className: "wb-actions" }, isTrigger(node) ? [remove] : [duplicate, remove]));
    if (this.editor.readOnly) for (const input of section.querySelectorAll("input, select, textarea, button")) input.disabled = true;
    return parts;
  }

  afterConfigChange(key) {
    const config = nodeById(this.editor.def, this.nodeId).config || {};
    for (const { field, element, control } of this.controls) {
      element.hidden = !visible(field, config);
      if ((field.optionsDependencyKeys || []).includes(key) && control.refresh) control.refresh();
    }
  }

  loadOptions(nodeId, field) {
    const node = nodeById(this.editor.def, nodeId);
    const config = node.config || {};
    const depends = (field.optionsDependencyKeys || []).map((k) => config[k]);
    const key = JSON.stringify([nodeId, field.key, depends]);
    if (!this.optionCache.has(key)) {
      const request = post(field.optionsUrl, { config, tenant: this.editor.tenantId || null }).then((answer) => answer.options);
      request.catch(() => this.optionCache.delete(key));
      this.optionCache.set(key, request);
    }
    return this.optionCache.get(key);
  }

  retrySection(node, change) {
    const retry = node.retry || {};
    const inputs = RETRY_FIELDS.map(([key, label, placeholder]) => {
      const id = `wb-retry-${key}`;
      const input = el("input", { id, type: "text", inputmode: "decimal", placeholder, autocomplete: "off" });
      input.value = retry[key] ?? "";
      input.addEventListener("input", () => {
        const text = input.value.trim();
        const value = text === "" ? undefined : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
        change(setRetryValue(this.editor.def, node.id, key, value), `retry:${node.id}:${key}`);
      });
      return el("div", { className: "wb-field wb-field-small", "data-field": `retry.${key}` }, [el("label", { for: id, className: "wb-label", text: label }), input]);
    });
    return el("details", { className: "wb-retry", open: Object.keys(retry).length > 0 }, [
      el("summary", { text: "Retry settings" }),
      el("p", { className: "wb-help", text: "Empty fields use the defaults (3 attempts, 1 s doubling up to 300 s, ±20 % jitter)." }),
      el("div", { className: "wb-retry-grid" }, inputs),
    ]);
  }

  outputsSection(node, type) {
    const def = this.editor.def;
    const outputs = [...this.editor.outputsOf(node), "error"];
    const others = def.nodes.filter((n) => n.id !== node.id && !isTrigger(n));
    const rows = outputs.map((branch) => {
      const edges = def.edges.filter((e) => e.source === node.id && (e.branch ?? null) === branch);
      const name = branch === null ? "Next" : branch === "error" ? "On error" : `Branch “${branch}”`;
      const items = edges.map((edge) => {
        const target = nodeById(def, edge.target);
        const remove = el("button", { type: "button", className: "link", "aria-label": `Disconnect ${target ? labelOf(target) : edge.target}`, text: "✕" });
        remove.addEventListener("click", () => this.editor.change(removeEdges(this.editor.def, (e) => sameEdge(e, edge))));
        return el("li", {}, ["→ ", target ? labelOf(target) : edge.target, " ", remove]);
      });
      const selectId = `wb-connect-${branch ?? "next"}`;
      const select = el("select", { id: selectId, "aria-label": `${name}: connect to` }, [
        el("option", { value: "", text: "Connect to…" }), ...others.map((n) => el("option", { value: n.id, text: labelOf(n) })),
      ]);
      select.addEventListener("change", () => {
        if (!select.value) return;
        this.editor.tryAddEdge({ source: node.id, target: select.value, branch });
        select.value = "";
      });
      return el("div", { className: "wb-output" }, [el("h4", { text: name }), items.length ? el("ul", {}, items) : null, select]);
    });
    return el("details", { className: "wb-outputs", open: true }, [el("summary", { text: "Connections" }), ...rows]);
  }

  /* The server's problems on this node's fields (✕ error, ⚠ warning), and the ones it cannot place. */
  showProblems() {
    const check = this.editor.validation;
    for (const old of this.host.querySelectorAll(".wb-field-msg")) old.remove();
    for (const field of this.host.querySelectorAll(".wb-field.has-error, .wb-field.has-warning")) field.classList.remove("has-error", "has-warning");
    const box = this.host.querySelector('[data-role="node-problems"], [data-role="global-problems"]');
    if (box) box.replaceChildren();
    if (!check) return;
    const mine = (list, kind) => list.filter((p) => (this.nodeId ? p.nodeId === this.nodeId : !p.nodeId)).map((p) => ({ ...p, kind }));
    const problems = [...mine(check.errors, "error"), ...mine(check.warnings, "warning")];
    const unplaced = [];
    for (const problem of problems) {
      const field = this.host.querySelector(`.wb-field[data-field="${CSS.escape(problem.field)}"]:not([hidden])`);
      const message = el("p", { className: `wb-field-msg wb-msg-${problem.kind}`, role: "alert", "data-problem-field": problem.field },
        [el("span", { "aria-hidden": "true", text: problem.kind === "error" ? "✕ " : "⚠ " }), problem.kind === "error" ? "" : "Warning: ", problem.message]);
      if (field) {
        field.classList.add(`has-${problem.kind}`);
        field.append(message);
      } else unplaced.push(el("li", { className: `wb-msg-${problem.kind}` }, [
        el("span", { "aria-hidden": "true", text: problem.kind === "error" ? "✕ " : "⚠ " }), el("strong", { text: problem.field }), `: ${problem.message}`,
      ]));
    }
    if (box && unplaced.length) box.replaceChildren(el("ul", { className: "wb-problem-list" }, unplaced));
  }
}
