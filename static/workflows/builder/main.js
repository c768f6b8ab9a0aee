/* The workflow builder (templates/workflows/builder.html): a working copy of a definition
   edited on the shared canvas, checked by the server after every change, saved as a new
   version against the version it started from. Every call is the public REST API. */
import { Canvas, edgeKey } from "../canvas.js";
import { el } from "../dom.js";
import { ApiError, get, patch, post } from "./api.js";
import { Inspector } from "./inspector.js";
import { Interactions } from "./interact.js";
import {
  addEdge, addNodes, copyNodes, History, isTrigger, labelOf, newId, nodeById, pasteNodes, removeEdges, removeNodes,
  sameEdge, setPositions, uniqueLabel,
} from "./model.js";
import { Palette } from "./palette.js";
import { Runs } from "./run.js";
import { Versions } from "./versions.js";

const VALIDATE_DELAY = 250;
const VALIDATE_MAX_WAIT = 600;
const CLIPBOARD_KEY = "workflow-builder-clipboard";
const EMPTY = { nodes: [], edges: [] };

class Editor {
  constructor(root) {
    this.root = root;
    this.workflowId = root.dataset.workflowId || null;
    this.tenantId = root.dataset.tenantId || null;
    this.readOnly = window.matchMedia("(max-width: 700px)").matches;
    this.selection = new Set();
    this.history = new History(EMPTY);
    this.validation = null;
    this.checks = new WeakMap();
    this.nodeData = new WeakMap();
    this.baseVersion = null;
    this.q = (role) => root.querySelector(`[data-role="${role}"]`);
    this.canvasHost = this.q("canvas");
    this.interact = new Interactions(this);
    this.canvas = new Canvas(this.canvasHost, {
      interactive: true, editable: !this.readOnly, minimap: true,
      ariaLabel: "Workflow canvas: Tab to a node, Enter to select it, arrow keys to move it, Delete to remove it",
      onActivate: (id, event) => { if (event.type !== "click") this.select(event.shiftKey ? [...this.selection, id] : [id]); },
      onEdgeActivate: (edge) => this.selectEdge(edge),
      onBackgroundClick: () => this.select([]),
      onBackgroundPointerDown: (event) => this.interact.onBackgroundPointerDown(event),
    });
    this.canvas.svg.addEventListener("pointerdown", (event) => this.interact.onPointerDown(event), true);
    this.selectedEdge = null;
    this.inspector = new Inspector(this, this.q("inspector"));
    this.palette = new Palette(this, this.q("palette"));
    this.versions = new Versions(this, this.q("versions"));
    this.runs = new Runs(this, this.q("runs"));
    root.classList.toggle("wb-read-only", this.readOnly);
  }

  get def() {
    return this.history.present;
  }

  async load() {
    this.setState("Loading…");
    const catalog = await get("/api/nodes/");
    this.catalogList = catalog.nodes;
    this.catalog = Object.fromEntries(catalog.nodes.map((t) => [t.type, t]));
    this.palette.render(this.catalogList);
    if (this.workflowId) {
      const workflow = await get(`/api/workflows/${this.workflowId}/`);
      await this.adopt(workflow);
    } else {
      this.workflow = { name: "", description: "", isActive: true };
      this.q("name").value = "";
      this.history.reset(EMPTY);
    }
    this.bind();
    this.render();
    this.canvas.fit();
    this.inspector.render();
    this.versions.load();
    this.runs.restore();
    this.validateSoon(0);
  }

  /* Take a workflow from the API as the new starting point (load, reload after a conflict, restore). */
  async adopt(workflow) {
    this.workflow = workflow;
    this.workflowId = workflow.id;
    this.tenantId = workflow.tenant;
    this.baseVersion = workflow.version;
    this.q("name").value = workflow.name;
    let def = workflow.definition || EMPTY;
    if (def.nodes.some((n) => !n.position)) {
      const placed = await post("/api/workflows/layout/", { definition: def });
      def = setPositions(def, Object.fromEntries(placed.nodes.map((n) => [n.id, n])));
    }
    this.history.reset(def);
    this.select([...this.selection].filter((id) => nodeById(def, id)));
  }

  // --- Changes -------------------------------------------------------------------------------

  change(def, coalesceKey = null) {
    if (this.readOnly || def === this.def) return;
    this.history.push(def, coalesceKey);
    this.render();
  }

  undo() {
    if (this.history.undo()) this.afterJump();
  }

  redo() {
    if (this.history.redo()) this.afterJump();
  }

  afterJump() {
    this.selection = new Set([...this.selection].filter((id) => nodeById(this.def, id)));
    this.render();
  }

  render() {
    this.canvas.setGraph(this.graphFor(this.def));
    this.canvas.select([...this.selection], this.selectedEdge ? [edgeKey(this.selectedEdge)] : []);
    this.inspector.update();
    this.paintState();
    const known = this.checks.get(this.def);
    if (known) this.applyValidation(known); else this.validateSoon();
  }

  graphFor(def) {
    return {
      nodes: def.nodes.map((node) => {
        let data = this.nodeData.get(node);
        if (!data) {
          const type = this.catalog[node.type];
          const trigger = isTrigger(node);
          data = {
            id: node.id, label: labelOf(node), type: node.type, typeLabel: type ? type.label : `${node.type} (unknown type)`,
            icon: type ? type.icon : "circle-help", x: node.position ? node.position.x : 0, y: node.position ? node.position.y : 0,
            outputs: trigger || !type ? [null] : this.outputsOf(node), hasInput: !trigger, hasError: !trigger,
          };
          this.nodeData.set(node, data);
        }
        return data;
      }),
      edges: def.edges,
    };
  }

  /* The output handles of a node: its type's branches, a switch's cases and default, or one. */
  outputsOf(node) {
    const type = this.catalog[node.type];
    if (!type) return [null];
    if (type.branches === null) {
      const cases = Array.isArray(node.config && node.config.cases) ? node.config.cases : [];
      const names = cases.map((c) => c && c.branch).filter((b) => typeof b === "string" && b);
      return [...new Set([...names, "default"])];
    }
    return type.branches.length ? [...type.branches] : [null];
  }

  select(ids) {
    this.selection = new Set(ids);
    this.selectedEdge = null;
    this.canvas.select(ids);
    this.inspector.update();
    this.runs.showSelected();
  }

  selectEdge(edge) {
    this.selection = new Set();
    this.selectedEdge = edge;
    this.canvas.select([], [edgeKey(edge)]);
    this.inspector.update();
    this.announce(`Edge selected: ${labelOf(nodeById(this.def, edge.source))} → ${labelOf(nodeById(this.def, edge.target))}. Press Delete to remove it.`);
  }

  addNodeAt(type, position, after = null) {
    const entry = this.catalog[type];
    if (!entry || this.readOnly) return;
    if (type === "trigger" && this.def.nodes.some(isTrigger)) {
      this.announce("A workflow has one trigger; this one has it already.", true);
      return;
    }
    const node = {
      id: newId(this.def, type), type, label: uniqueLabel(this.def, entry.label),
      config: Object.fromEntries((entry.configFields || []).filter((f) => f.default !== undefined).map((f) => [f.key, f.default])),
      position: { x: Math.round(position.x), y: Math.round(position.y) },
    };
    const edges = after && type !== "trigger" ? [{ source: after, target: node.id }] : [];
    this.change(addNodes(this.def, [node], edges));
    this.select([node.id]);
    this.canvas.reveal(node.id);
  }

  /* Keyboard and click on a palette item: after the selected node, or in free space. */
  addFromPalette(type) {
    const anchor = this.selection.size === 1 ? nodeById(this.def, [...this.selection][0]) : null;
    if (anchor) {
      const box = this.canvas.nodeBox(anchor.id);
      const taken = (x, y) => this.def.nodes.some((n) => n.position && Math.abs(n.position.x - x) < 120 && Math.abs(n.position.y - y) < 60);
      let y = box.y;
      while (taken(box.x + 260, y)) y += 96;
      this.addNodeAt(type, { x: box.x + 260, y }, anchor.id);
    } else {
      const r = this.canvasHost.getBoundingClientRect();
      const centre = this.canvas.toCanvas(r.left + r.width / 2, r.top + r.height / 2);
      const right = Math.max(0, ...this.def.nodes.map((n) => (n.position ? n.position.x + 260 : 0)));
      this.addNodeAt(type, this.def.nodes.length ? { x: right, y: centre.y - 30 } : { x: centre.x - 90, y: centre.y - 30 });
    }
    const node = this.canvas.nodeElement([...this.selection][0]);
    if (node) node.focus({ preventScroll: true });
  }

  movedNodes(positions) {
    this.change(setPositions(this.def, positions));
  }

  /* An edge is added only when the server finds no new problem with it: cycles, edges into
     the trigger and duplicates are refused on the spot with the validator's reason. */
  async tryAddEdge(edge) {
    if (this.readOnly) return;
    const base = this.def;
    const candidate = addEdge(base, edge);
    try {
      const [before, after] = await Promise.all([this.validationFor(base), this.validationFor(candidate)]);
      const known = new Set(before.errors.map((p) => `${p.nodeId}|${p.message}`));
      const fresh = after.errors.filter((p) => /^edges/.test(p.field) && !known.has(`${p.nodeId}|${p.message}`));
      if (fresh.length) {
        this.announce(`Edge refused: ${fresh[0].message}`, true);
        return;
      }
      if (this.def !== base) return;  // the definition changed meanwhile: drop it rather than guess
      this.change(candidate);
      this.announce(`Connected ${labelOf(nodeById(candidate, edge.source))} → ${labelOf(nodeById(candidate, edge.target))}`);
    } catch (exc) {
      this.announce(`Could not check the edge: ${exc.message}`, true);
    }
  }

  deleteSelection() {
    if (this.readOnly) return;
    if (this.selectedEdge) {
      const edge = this.selectedEdge;
      this.selectedEdge = null;
      this.change(removeEdges(this.def, (e) => sameEdge(e, edge)));
      return;
    }
    if (!this.selection.size) return;
    const ids = [...this.selection];
    this.selection = new Set();
    this.change(removeNodes(this.def, ids));
    this.announce(`Deleted ${ids.length} node${ids.length > 1 ? "s" : ""} (Ctrl+Z brings ${ids.length > 1 ? "them" : "it"} back)`);
  }

  copySelection() {
    const clip = copyNodes(this.def, [...this.selection]);
    if (!clip.nodes.length) return;
    this.clipboard = clip;
    try { localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(clip)); } catch (e) { /* private mode */ }
    this.announce(`Copied ${clip.nodes.length} node${clip.nodes.length > 1 ? "s" : ""}`);
  }

  paste() {
    let clip = this.clipboard;
    try { clip = JSON.parse(localStorage.getItem(CLIPBOARD_KEY)) || clip; } catch (e) { /* keep ours */ }
    if (!clip || !clip.nodes || !clip.nodes.length || this.readOnly) return;
    this.pasteCount = (this.pasteCount || 0) + 1;
    const { def, ids } = pasteNodes(this.def, clip, { x: 40 * this.pasteCount, y: 40 * this.pasteCount });
    this.change(def);
    this.select(ids);
  }

  nudge(dx, dy) {
    if (!this.selection.size || this.readOnly) return;
    const positions = {};
    for (const id of this.selection) {
      const box = this.canvas.nodeBox(id);
      if (box) positions[id] = { x: box.x + dx, y: box.y + dy };
    }
    this.change(setPositions(this.def, positions), `nudge:${[...this.selection].join(",")}`);
  }

  async autoLayout() {
    const placed = await post("/api/workflows/layout/", { definition: this.def });
    this.change(setPositions(this.def, Object.fromEntries(placed.nodes.map((n) => [n.id, n]))));
    this.canvas.fit();
  }

  // --- Server checks ---------------------------------------------------------------------------

  validationFor(def) {
    if (!this.checks.has(def)) {
      const request = post("/api/workflows/validate/", { definition: def });
      request.catch(() => this.checks.delete(def));
      this.checks.set(def, request);
    }
    return this.checks.get(def);
  }

  /* Debounced while the user types, but never starved: at least every VALIDATE_MAX_WAIT ms. */
  validateSoon(delay = VALIDATE_DELAY) {
    const now = Date.now();
    if (this.validateTimer && now - this.validateSince > VALIDATE_MAX_WAIT) return;
    if (!this.validateTimer) this.validateSince = now;
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => {
      this.validateTimer = null;
      const def = this.def;
      this.validationFor(def).then((result) => { if (def === this.def) this.applyValidation(result); }).catch(() => {});
    }, delay);
  }

  applyValidation(result) {
    if (result instanceof Promise) { result.then((r) => this.applyValidation(r)); return; }
    if (this.validation === result) return;
    this.validation = result;
    const marks = {};
    const add = (p, kind) => {
      if (!p.nodeId) return;
      (marks[p.nodeId] = marks[p.nodeId] || { error: [], warning: [] })[kind].push(p);
    };
    result.errors.forEach((p) => add(p, "error"));
    result.warnings.forEach((p) => add(p, "warning"));
    const shown = {};
    for (const [id, m] of Object.entries(marks)) {
      shown[id] = [];
      if (m.error.length) shown[id].push({ kind: "error", text: `✕ ${m.error.length} problem${m.error.length > 1 ? "s" : ""}`, title: m.error.map((p) => `${p.field}: ${p.message}`).join("\n") });
      if (m.warning.length) shown[id].push({ kind: "warning", text: `⚠ ${m.warning.length}`, title: m.warning.map((p) => `${p.field}: ${p.message}`).join("\n") });
    }
    this.canvas.setMarks(shown);
    this.inspector.showProblems();
    this.paintProblems();
    document.dispatchEvent(new CustomEvent("wb-validated"));
  }

  paintProblems() {
    const box = this.q("problems");
    const { errors, warnings } = this.validation;
    const summary = errors.length || warnings.length
      ? [errors.length ? `✕ ${errors.length} problem${errors.length > 1 ? "s" : ""}` : "✓ No problems", warnings.length ? ` · ⚠ ${warnings.length} warning${warnings.length > 1 ? "s" : ""}` : ""].join("")
      : "✓ No problems: the server's validator accepts this workflow";
    const items = [...errors.map((p) => ({ ...p, kind: "error" })), ...warnings.map((p) => ({ ...p, kind: "warning" }))].slice(0, 50).map((p) => {
      const node = p.nodeId && nodeById(this.def, p.nodeId);
      const text = `${p.kind === "error" ? "✕" : "⚠"} ${node ? labelOf(node) + " · " : ""}${p.field}: ${p.message}`;
      const item = node ? el("button", { type: "button", className: "link", text }) : el("span", { text });
      if (node) item.addEventListener("click", () => { this.select([node.id]); this.canvas.reveal(node.id); this.showTab("node"); });
      return el("li", { className: `wb-msg-${p.kind}` }, [item]);
    });
    box.dataset.valid = errors.length ? "false" : "true";
    box.replaceChildren(...[
      el("strong", { className: errors.length ? "wb-msg-error" : "wb-msg-ok", text: summary }),
      items.length ? el("ul", { className: "wb-problem-list" }, items) : null,
    ].filter(Boolean));
  }

  // --- Template completion -------------------------------------------------------------------

  completionFor(nodeId) {
    const check = this.validation;
    const upstream = (check && check.scopes[nodeId]) || [];
    const labels = upstream.map((id) => nodeById(this.def, id)).filter(Boolean).map((n) => ({
      label: labelOf(n), detail: this.catalog[n.type] ? this.catalog[n.type].label : n.type,
    }));
    const fieldsOf = (label) => {
      const node = this.def.nodes.find((n) => labelOf(n) === label);
      if (!node) return [];
      if (isTrigger(node)) return ((check && check.inputFields) || []).map((f) => ({ name: f.name, detail: f.type }));
      const type = this.catalog[node.type];
      return ((type && type.outputFields) || []).map((f) => ({ name: f.field || f.key, detail: f.description || f.label || "" })).filter((f) => f.name);
    };
    return { labels, fieldsOf };
  }

  // --- Saving ----------------------------------------------------------------------------------

  async save({ overwrite = null } = {}) {
    const name = this.q("name").value.trim();
    if (!name) {
      this.announce("Give the workflow a name before saving.", true);
      this.q("name").focus();
      return;
    }
    const def = this.def;
    this.setState("Saving…");
    try {
      let workflow;
      if (!this.workflowId) {
        const body = { name, definition: def, isActive: true };
        if (this.tenantId) body.tenant = this.tenantId;
        workflow = await post("/api/workflows/", body);
        this.workflowId = workflow.id;
        this.tenantId = workflow.tenant;
        this.root.dataset.workflowId = workflow.id;
        history.replaceState(null, "", `/workflows/${workflow.id}/edit/${location.search}`);
      } else {
        workflow = await patch(`/api/workflows/${this.workflowId}/`, { name, definition: def, baseVersion: overwrite || this.baseVersion });
      }
      const created = workflow.version !== this.baseVersion;
      this.workflow = workflow;
      this.baseVersion = workflow.version;
      this.history.markSaved(def);
      this.paintState();
      this.announce(created ? `Saved as version ${workflow.version}` : "Saved (the definition had not changed: no new version)");
      this.versions.load();
    } catch (exc) {
      this.paintState();
      if (exc instanceof ApiError && exc.code === "stale_version") this.conflict(exc.body);
      else if (exc instanceof ApiError && exc.code === "invalid_definition") this.announce(`Not saved: ${exc.body.errors.length} problem(s); see the list below the canvas.`, true);
      else this.announce(`Not saved: ${exc.message}`, true);
    }
  }

  conflict(body) {
    const dialog = this.q("conflict");
    dialog.querySelector('[data-role="conflict-message"]').textContent = body.message;
    const latest = body.latestVersion;
    dialog.querySelector('[data-role="conflict-who"]').textContent =
      `Version ${latest.number} by ${latest.createdBy || "someone"} at ${new Date(latest.createdAt).toLocaleString()}`;
    dialog.returnValue = "";
    dialog.onclose = () => {
      if (dialog.returnValue === "overwrite") this.save({ overwrite: latest.number });
      else if (dialog.returnValue === "reload") this.reload(true);
    };
    dialog.showModal();
  }

  async reload(force = false) {
    if (!force && this.history.dirty && !window.confirm("Discard your unsaved changes and load the latest saved version?")) return;
    await this.adopt(await get(`/api/workflows/${this.workflowId}/`));
    this.render();
    this.canvas.fit();
    this.versions.load();
    this.announce(`Loaded version ${this.baseVersion}`);
  }

  /* Replace the working copy (an import): one undoable change, saved only by Save. */
  replaceDefinition(def) {
    this.selection = new Set();
    this.change(def);
    this.canvas.fit();
  }

  paintState() {
    const version = this.baseVersion ? `v${this.baseVersion}` : "New workflow";
    const dirty = this.history.dirty || !this.workflowId;
    this.setState(`${version} · ${dirty ? (this.workflowId ? "unsaved changes" : "not saved yet") : "saved"}`);
    this.root.dataset.dirty = String(this.history.dirty);
    this.q("undo").disabled = !this.history.past.length;
    this.q("redo").disabled = !this.history.future.length;
    const link = this.q("workflow-link");
    link.hidden = !this.workflowId;
    if (this.workflowId) link.href = `/workflows/${this.workflowId}/`;
  }

  setState(text) {
    this.q("state").textContent = text;
  }

  announce(text, problem = false) {
    const toast = this.q("toast");
    toast.textContent = (problem ? "✕ " : "") + text;
    toast.className = "wb-toast" + (problem ? " wb-toast-problem" : "");
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { toast.hidden = true; }, problem ? 8000 : 3500);
  }

  showTab(name) {
    for (const tab of this.root.querySelectorAll('[role="tab"]')) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      this.root.querySelector(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
    }
  }

  // --- Keyboard and buttons ----------------------------------------------------------------------

  bind() {
    const click = (role, fn) => this.q(role).addEventListener("click", fn);
    click("save", () => this.save());
    click("undo", () => this.undo());
    click("redo", () => this.redo());
    click("layout", () => this.autoLayout());
    click("fit", () => this.canvas.fit());
    click("zoom-in", () => this.canvas.zoomAt(1.25));
    click("zoom-out", () => this.canvas.zoomAt(0.8));
    click("test-run", () => this.runs.openForm());
    this.q("name").addEventListener("input", () => { this.nameChanged = true; this.root.dataset.dirty = "true"; });
    const tabs = [...this.root.querySelectorAll('[role="tab"]')];
    tabs.forEach((tab, index) => {
      tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        const next = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        this.showTab(next.dataset.tab);
        next.focus();
      });
    });
    document.addEventListener("keydown", (event) => this.onKey(event));
    window.addEventListener("beforeunload", (event) => {
      if (this.history.dirty || (this.nameChanged && this.q("name").value.trim() !== (this.workflow.name || ""))) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  onKey(event) {
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable], dialog");
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "s") { event.preventDefault(); this.save(); return; }
    if (typing) return;
    const key = event.key.toLowerCase();
    if (mod && key === "z") { event.preventDefault(); if (event.shiftKey) this.redo(); else this.undo(); }
    else if (mod && key === "y") { event.preventDefault(); this.redo(); }
    else if (mod && key === "c") { this.copySelection(); }
    else if (mod && key === "v") { event.preventDefault(); this.paste(); }
    else if (mod && key === "a") { event.preventDefault(); this.select(this.def.nodes.map((n) => n.id)); }
    else if (event.key === "Delete" || event.key === "Backspace") { event.preventDefault(); this.deleteSelection(); }
    else if (event.key === "Escape") this.select([]);
    else if (event.key.startsWith("Arrow") && this.selection.size && event.target.closest(".wf-canvas")) {
      event.preventDefault();
      const step = event.shiftKey ? 50 : 10;
      const [dx, dy] = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
      this.nudge(dx, dy);
    } else if (!mod && (event.key === "+" || event.key === "=")) this.canvas.zoomAt(1.25);
    else if (!mod && event.key === "-") this.canvas.zoomAt(0.8);
    else if (!mod && event.key === "0") this.canvas.fit();
  }
}

async function boot() {
  const root = document.getElementById("builder");
  if (!root) return;
  const editor = new Editor(root);
  window.workflowBuilder = editor;  // for people poking at it from the console, and the tests
  try {
    await editor.load();
    root.dataset.ready = "true";
  } catch (exc) {
    editor.setState(`Could not load: ${exc.message}`);
    throw exc;
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
