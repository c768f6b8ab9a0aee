/* The side panel's "Test run" tab: run the working copy (or the saved version) with an input
   form, watch every node's status live on the builder's own canvas (the execution's SSE
   stream), Stop once, read a node's resolved config, output, logs and error, and "run from
   here" (a copy of the run, re-run from a node with the upstream outputs kept).
   The attached run is in the URL (?run=<id>) so a reload finds it again. */
import { detailsBody, detailsTitle } from "../details.js";
import { badge, el, FINISHED } from "../dom.js";
import { ApiError, get, post } from "./api.js";
import { isTrigger, labelOf, nodeById } from "./model.js";

const stopKey = (id) => `wb-stop:${id}`;

export class Runs {
  constructor(editor, host) {
    this.editor = editor;
    this.host = host;
    this.execution = null;
    this.runs = {};
    this.source = null;
  }

  restore() {
    const id = new URLSearchParams(location.search).get("run");
    if (id) this.attach(id);
    else this.render();
  }

  recent() {
    try { return JSON.parse(sessionStorage.getItem(`wb-runs:${this.editor.workflowId}`)) || []; } catch (e) { return []; }
  }

  remember(id) {
    const list = [id, ...this.recent().filter((x) => x !== id)].slice(0, 8);
    try { sessionStorage.setItem(`wb-runs:${this.editor.workflowId}`, JSON.stringify(list)); } catch (e) { /* private mode */ }
  }

  // --- Starting ----------------------------------------------------------------------------

  openForm() {
    const editor = this.editor;
    if (!editor.workflowId) {
      editor.announce("Save the workflow once, then test-run it (later runs may use unsaved changes).", true);
      return;
    }
    const dialog = editor.q("run-form");
    const fields = (editor.validation && editor.validation.inputFields) || [];
    const box = dialog.querySelector('[data-role="run-input"]');
    box.replaceChildren(...(fields.length ? fields.map((f) => this.inputControl(f)) : [
      el("label", { for: "wb-run-json", className: "wb-label", text: "Input (JSON object)" }),
      el("textarea", { id: "wb-run-json", rows: 6, spellcheck: "false", className: "wb-json", text: this.lastInput ? JSON.stringify(this.lastInput, null, 2) : "{}" }),
      el("p", { className: "wb-help", text: "Give the trigger an input schema to get a form here instead." }),
    ]));
    const saved = dialog.querySelector('[data-role="run-saved"]');
    saved.disabled = !editor.baseVersion;
    dialog.querySelector('[data-role="run-saved-label"]').textContent = editor.baseVersion ? `Saved version v${editor.baseVersion}` : "Saved version (none yet)";
    dialog.querySelector('[data-role="run-working"]').checked = true;
    const message = dialog.querySelector('[data-role="run-error"]');
    message.hidden = true;
    dialog.querySelector("form").onsubmit = async (event) => {
      event.preventDefault();
      let input;
      try { input = this.readInput(box, fields); } catch (exc) { message.textContent = `✕ ${exc.message}`; message.hidden = false; return; }
      const useSaved = saved.checked;
      const submit = dialog.querySelector('[data-role="run-start"]');
      submit.disabled = true;
      try {
        await this.start(input, useSaved);
        dialog.close();
      } catch (exc) {
        const problems = exc instanceof ApiError && exc.body.errors ? exc.body.errors.map((p) => `${p.nodeId ? p.nodeId + " · " : ""}${p.field}: ${p.message}`).join("; ") : "";
        message.textContent = `✕ ${exc.message}${problems ? ` — ${problems}` : ""}`;
        message.hidden = false;
      } finally {
        submit.disabled = false;
      }
    };
    dialog.showModal();
  }

  /* One control per field of the workflow's input schema (validation's inputFields): a
     select for allowed values, a checkbox for booleans, JSON for objects and lists. */
  inputControl(field) {
    const id = `wb-run-${field.name.replace(/[^a-z0-9_-]/gi, "_")}`;
    const previous = this.lastInput ? this.lastInput[field.name] : field.default ?? undefined;
    const common = { id, "data-input": field.name, required: field.required && field.type !== "boolean", "aria-describedby": field.description ? `${id}-help` : null };
    const help = field.description ? el("p", { className: "wb-help", id: `${id}-help`, text: field.description }) : null;
    let control;
    if (field.type === "boolean") {
      control = el("input", { ...common, type: "checkbox" });
      control.checked = previous === true;
      return el("div", { className: "wb-field wb-field-inline" }, [control, el("label", { for: id, className: "wb-label", text: field.name }), help]);
    }
    if (Array.isArray(field.enum)) {
      control = el("select", common, [
        field.required ? null : el("option", { value: "", text: "—" }),
        ...field.enum.map((v) => el("option", { value: String(v), text: String(v) })),
      ]);
      if (previous !== undefined) control.value = String(previous);
    } else if (field.type === "object" || field.type === "array") {
      control = el("textarea", { ...common, rows: 3, className: "wb-json", spellcheck: "false", placeholder: field.type === "array" ? "[ ]" : "{ }" });
      if (previous !== undefined) control.value = JSON.stringify(previous);
    } else {
      control = el("input", { ...common, type: field.type === "number" || field.type === "integer" ? "number" : "text", step: field.type === "integer" ? "1" : "any" });
      if (previous !== undefined) control.value = previous;
    }
    const label = el("label", { for: id, className: "wb-label" }, [field.name,
      field.required ? el("span", { className: "wb-required", title: "required", text: " *" }) : null,
      el("span", { className: "muted", text: ` (${field.type})` })]);
    return el("div", { className: "wb-field", "data-input-field": field.name }, [label, control, help]);
  }

  readInput(box, fields) {
    if (!fields.length) {
      const value = JSON.parse(box.querySelector("#wb-run-json").value || "{}");
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("The input must be a JSON object");
      return value;
    }
    const input = {};
    for (const field of fields) {
      const control = box.querySelector(`[data-input="${CSS.escape(field.name)}"]`);
      if (field.type === "boolean") input[field.name] = control.checked;
      else if (control.value.trim() === "") continue;  // a missing required field is the server's to name
      else if (field.type === "object" || field.type === "array") {
        try { input[field.name] = JSON.parse(control.value); } catch (exc) { throw new Error(`${field.name}: not valid JSON`); }
      } else if (field.type === "number" || field.type === "integer") input[field.name] = Number(control.value);
      else input[field.name] = control.value;
    }
    return input;
  }

  async start(input, useSaved) {
    const editor = this.editor;
    this.lastInput = input;
    const body = useSaved ? { input } : { input, definition: editor.def };
    const answer = await post(`/api/workflows/${editor.workflowId}/test-run/`, body);
    this.attach(answer.executionId);
  }

  // --- Watching ----------------------------------------------------------------------------

  attach(id, { focus = true } = {}) {
    this.detach();
    this.execution = { id, status: "running" };
    this.runs = {};
    this.remember(id);
    const url = new URL(location.href);
    url.searchParams.set("run", id);
    history.replaceState(null, "", url);
    this.editor.root.dataset.runStatus = "running";
    if (focus) this.editor.showTab("runs");
    this.render();
    const source = new EventSource(`/api/executions/${id}/events/`);
    this.source = source;
    source.addEventListener("snapshot", (event) => {
      const snap = JSON.parse(event.data);
      this.execution = snap.execution;
      this.runs = {};
      for (const run of snap.execution.nodeRuns || []) this.runs[run.nodeId] = run;
      this.paintStatuses();
      this.render();
    });
    source.addEventListener("node", (event) => {
      const data = JSON.parse(event.data);
      const run = { ...(this.runs[data.nodeId] || { nodeId: data.nodeId }), ...data };
      this.runs[data.nodeId] = run;
      this.editor.canvas.setStatus(data.nodeId, data.status);
      if (this.editor.selection.has(data.nodeId)) this.refresh();
    });
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      Object.assign(this.execution, { status: data.status, error: data.error, finishedAt: data.finishedAt });
      this.render();
      if (FINISHED[data.status]) this.refresh();
    });
    source.addEventListener("end", () => { this.closeStream(); this.refresh(); });
    source.addEventListener("error", () => { if (this.source && FINISHED[this.execution.status]) this.closeStream(); });
  }

  closeStream() {
    if (this.source) { this.source.close(); this.source = null; }
  }

  detach() {
    this.closeStream();
    this.execution = null;
    this.runs = {};
    this.editor.canvas.clearStatuses();
    delete this.editor.root.dataset.runStatus;
  }

  clear() {
    this.detach();
    const url = new URL(location.href);
    url.searchParams.delete("run");
    history.replaceState(null, "", url);
    this.render();
  }

  paintStatuses() {
    this.editor.canvas.clearStatuses();
    for (const run of Object.values(this.runs)) this.editor.canvas.setStatus(run.nodeId, run.status);
  }

  /* Live updates carry no logs or resolved config: read the execution when details are needed. */
  async refresh() {
    if (!this.execution) return;
    const id = this.execution.id;
    const data = await get(`/api/executions/${id}/`).catch(() => null);
    if (!data || !this.execution || this.execution.id !== id) return;
    this.execution = { ...this.execution, ...data };
    for (const run of data.nodeRuns || []) this.runs[run.nodeId] = run;
    this.paintStatuses();
    this.render();
  }

  async stop() {
    const id = this.execution.id;
    try { sessionStorage.setItem(stopKey(id), "1"); } catch (e) { /* private mode */ }
    this.render();  // disabled from now on: it cannot be pressed twice
    try {
      const answer = await post(`/api/executions/${id}/cancel/`);
      if (this.execution && this.execution.id === id) this.execution.status = answer.status;
    } catch (exc) {
      this.editor.announce(`Stop: ${exc.message}`, true);
    }
    this.render();
  }

  async runFromHere(nodeId) {
    const editor = this.editor;
    try {
      const answer = await post(`/api/executions/${this.execution.id}/run-from-here/`, { nodeId, definition: editor.def });
      this.attach(answer.executionId);
      editor.announce(`Running again from ${labelOf(nodeById(editor.def, nodeId))}, with the earlier nodes' outputs kept`);
    } catch (exc) {
      editor.announce(`Run from here: ${exc.message}`, true);
    }
  }

  // --- Panel -------------------------------------------------------------------------------

  showSelected() {
    if (this.execution) this.render();
  }

  render() {
    const editor = this.editor;
    const parts = [el("h2", { className: "wb-panel-title", text: "Test run" })];
    const start = el("button", { type: "button", className: "primary", "data-role": "start-run", text: "Start a test run…" });
    start.addEventListener("click", () => this.openForm());
    if (!this.execution) {
      parts.push(el("p", { className: "muted", text: "Runs the working copy, unsaved changes included, as you and marked as a test: production lists and figures leave it out." }), start);
      const recent = this.recent();
      if (recent.length) parts.push(this.recentList(recent));
      this.host.replaceChildren(...parts.filter(Boolean));
      return;
    }
    const exec = this.execution;
    const status = exec.status || "running";
    editor.root.dataset.runStatus = status;
    let stopping = false;
    try { stopping = sessionStorage.getItem(stopKey(exec.id)) === "1"; } catch (e) { /* private mode */ }
    // Once pressed it stays disabled (also after a reload: the flag is in sessionStorage).
    const stop = el("button", { type: "button", className: "danger", "data-role": "stop-run", disabled: stopping || FINISHED[status],
      hidden: FINISHED[status] && status !== "cancelled", text: status === "cancelled" ? "Stopped" : stopping ? "Stopping…" : "Stop" });
    stop.addEventListener("click", () => { if (!stop.disabled) { stop.disabled = true; this.stop(); } });
    const clear = el("button", { type: "button", "data-role": "clear-run", text: "Clear from canvas" });
    clear.addEventListener("click", () => this.clear());
    parts.push(
      el("div", { className: "wb-run-head", "data-role": "run-summary", "data-status": status }, [
        badge(status), " ", el("a", { href: `/workflows/executions/${exec.id}/`, target: "_blank", text: `run ${String(exec.id).slice(0, 8)}` }),
        exec.version ? el("span", { className: "muted", text: ` · ${exec.workflowName && /\(test draft\)$/.test(exec.workflowName) ? "working copy" : `v${exec.version}`}` }) : null,
      ]),
      exec.error ? el("p", { className: "wf-error", text: `✕ ${exec.error.message || JSON.stringify(exec.error)}` }) : null,
      el("div", { className: "wb-actions" }, [stop, clear, start]),
    );
    const nodeId = editor.selection.size === 1 ? [...editor.selection][0] : null;
    const node = nodeId && nodeById(editor.def, nodeId);
    if (node) {
      const run = this.runs[nodeId] || { nodeId, label: labelOf(node), status: "idle" };
      parts.push(el("section", { className: "wb-run-node", "data-role": "run-node", "data-node-id": nodeId }, [
        el("h3", {}, detailsTitle(run)), ...detailsBody(run),
      ]));
      if (!isTrigger(node)) {
        const again = el("button", { type: "button", "data-role": "run-from-here", text: `Run from “${labelOf(node)}”`,
          disabled: !FINISHED[status], title: FINISHED[status] ? "Run a copy of this test run again from here, with the outputs before it kept" : "Wait for the run to finish (or stop it) first" });
        again.addEventListener("click", () => this.runFromHere(nodeId));
        parts.push(el("div", { className: "wb-actions" }, [again]),
          el("p", { className: "wb-help", text: "Re-runs a copy of this test run from this node with your current changes; the nodes before it keep this run's outputs." }));
      }
    } else {
      parts.push(el("p", { className: "muted", text: "Select a node on the canvas to see its resolved config, output, logs, attempts and error." }));
    }
    const others = this.recent().filter((id) => id !== exec.id);
    if (others.length) parts.push(this.recentList(others));
    this.host.replaceChildren(...parts.filter(Boolean));
  }

  recentList(ids) {
    return el("div", {}, [el("h3", { text: "This session's runs" }), el("ul", { className: "wb-recent" }, ids.map((id) => {
      const button = el("button", { type: "button", className: "link", text: `Show run ${id.slice(0, 8)}` });
      button.addEventListener("click", () => this.attach(id));
      return el("li", {}, [button]);
    }))]);
  }
}
