/* The workflow canvas: one SVG drawing of nodes and edges, used by the execution viewer
   (statuses, natural size) and by the builder (pan, zoom, minimap, handles, marks).

   Callers hand it plain data: nodes {id, label, type, typeLabel?, icon?, x, y, outputs?,
   hasInput?, extraClass?} and edges {source, target, branch, extraClass?, note?}; it keeps
   one SVG element per node and edge, keyed by id, and redraws only what changed, so a
   200-node workflow stays fluid. Status is drawn as colour, icon and word. */
import { ICON_NAMES, ICON_SPRITE, STATUS_ICONS, svg, truncate } from "./dom.js";

export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 60;
export const PADDING = 24;
const HANDLE_GAP = 18;
const MIN_ZOOM = 0.15;
const MAX_ZOOM = 2.5;
let instances = 0;

export const edgeKey = (edge) => `${edge.source}\u0000${edge.target}\u0000${edge.branch ?? ""}`;

export function nodeHeight(outputs) {
  return Math.max(NODE_HEIGHT, (outputs ? outputs.length : 1) * HANDLE_GAP + 20);
}

function edgePath(x1, y1, x2, y2, fromBottom) {
  const bend = Math.max(40, Math.abs(x2 - x1) / 2);
  const c1 = fromBottom ? `${x1.toFixed(1)},${(y1 + 60).toFixed(1)}` : `${(x1 + bend).toFixed(1)},${y1.toFixed(1)}`;
  return `M${x1.toFixed(1)},${y1.toFixed(1)} C${c1} ${(x2 - bend).toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
}

export class Canvas {
  /* host: the element the SVG fills (its previous content, a server-drawn first paint, is replaced).
     options: interactive (pan/zoom, fills the host), editable (handles), minimap, ariaLabel,
     onActivate(nodeId, event) when a node is clicked or Enter/Space pressed on it,
     onBackgroundPointerDown(event) returning true to take a background drag over (else it pans),
     onEdgeActivate(edge, event), onBackgroundClick(event), onViewChange(view). */
  constructor(host, options = {}) {
    this.host = host;
    this.options = { interactive: false, editable: false, minimap: false, ariaLabel: "Workflow graph", ...options };
    this.uid = `wfc${++instances}`;
    this.nodes = new Map();
    this.edges = new Map();
    this.statuses = new Map();
    this.marks = new Map();
    this.selected = new Set();
    this.selectedEdges = new Set();
    this.view = { x: 0, y: 0, k: 1 };
    this.build();
  }

  build() {
    const o = this.options;
    this.svg = svg("svg", {
      className: "wf-canvas" + (o.interactive ? " wf-canvas-interactive" : ""), role: "group", "aria-label": o.ariaLabel,
    });
    const defs = svg("defs", {}, [
      svg("marker", { id: `${this.uid}-arrow`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        [svg("path", { d: "M0,0 L10,5 L0,10 z", className: "wf-arrowhead" })]),
    ]);
    this.viewport = svg("g", { className: "wf-viewport" });
    this.edgeLayer = svg("g", { className: "wf-edges" });
    this.nodeLayer = svg("g", { className: "wf-nodes" });
    this.overlay = svg("g", { className: "wf-overlay", "pointer-events": "none" });
    this.viewport.append(this.edgeLayer, this.nodeLayer, this.overlay);
    this.svg.append(defs, this.viewport);
    this.host.replaceChildren(this.svg);
    this.svg.addEventListener("click", (event) => this.onClick(event));
    this.svg.addEventListener("keydown", (event) => {
      const node = event.target.closest && event.target.closest(".wf-node");
      if (node && (event.key === "Enter" || event.key === " ") && this.options.onActivate) {
        event.preventDefault();
        this.options.onActivate(node.getAttribute("data-node-id"), event);
      }
    });
    if (o.interactive) this.bindPanZoom();
    if (o.minimap) this.buildMinimap();
  }

  onClick(event) {
    if (this.suppressClick) { this.suppressClick = false; return; }
    const node = event.target.closest(".wf-node");
    if (node && !event.target.closest(".wf-handle") && this.options.onActivate) {
      this.options.onActivate(node.getAttribute("data-node-id"), event);
      return;
    }
    const edge = event.target.closest(".wf-edge-group");
    if (edge && this.options.onEdgeActivate) this.options.onEdgeActivate(this.edges.get(edge.getAttribute("data-edge-key")).data, event);
    else if (!node && !edge && this.options.onBackgroundClick) this.options.onBackgroundClick(event);
  }

  // --- Drawing ------------------------------------------------------------------------------

  setGraph(graph) {
    const seen = new Set();
    for (const data of graph.nodes) {
      seen.add(data.id);
      const entry = this.nodes.get(data.id) || { id: data.id };
      if (entry.data !== data) {
        entry.data = data;
        entry.x = data.x;
        entry.y = data.y;
        this.nodes.set(data.id, entry);
        entry.dirty = true;
      }
    }
    for (const [id, entry] of this.nodes) {
      if (!seen.has(id)) { entry.el.remove(); this.nodes.delete(id); this.selected.delete(id); }
    }
    // Outputs not given (the viewer) come from the edges leaving each node.
    const derived = new Map();
    for (const edge of graph.edges) {
      if (edge.branch === "error") continue;
      const list = derived.get(edge.source) || [];
      if (!list.includes(edge.branch ?? null)) list.push(edge.branch ?? null);
      derived.set(edge.source, list);
    }
    for (const entry of this.nodes.values()) {
      const given = entry.data.outputs;
      entry.autoOutputs = !given;
      const outputs = given || (derived.get(entry.id) || [null]).sort((a, b) => (a === null ? -1 : b === null ? 1 : 0));
      if (entry.dirty || String(outputs) !== String(entry.outputs)) {
        entry.outputs = outputs;
        entry.w = entry.data.width || NODE_WIDTH;
        entry.h = Math.max(entry.data.height || NODE_HEIGHT, nodeHeight(outputs));
        this.paintNode(entry);
        entry.dirty = false;
      }
    }
    const seenEdges = new Set();
    for (const data of graph.edges) {
      const key = edgeKey(data);
      seenEdges.add(key);
      let entry = this.edges.get(key);
      if (!entry) {
        entry = { key };
        this.edges.set(key, entry);
      }
      if (entry.data !== data) {
        entry.data = data;
        this.paintEdge(entry);
      }
    }
    for (const [key, entry] of this.edges) {
      if (!seenEdges.has(key)) { entry.el.remove(); this.edges.delete(key); this.selectedEdges.delete(key); }
    }
    this.routeAll();
    this.afterChange();
  }

  paintNode(entry) {
    const data = entry.data;
    const o = this.options;
    const status = this.statuses.get(entry.id);
    const hadFocus = entry.el && entry.el.contains(document.activeElement);
    const textX = data.icon ? 36 : 12;
    const children = [
      svg("rect", { className: "wf-node-box", width: entry.w, height: entry.h, rx: 8 }),
      data.icon ? svg("svg", { className: "wf-node-glyph", x: 10, y: 11, width: 18, height: 18, "aria-hidden": "true" },
        [svg("use", { href: `${ICON_SPRITE}#lucide-${ICON_NAMES.has(data.icon) ? data.icon : "box"}` })]) : null,
      svg("text", { className: "wf-node-label", x: textX, y: 25, text: truncate(data.label, data.icon ? 19 : 22) }),
      svg("text", { className: "wf-node-status", x: 12, y: 46 }, [
        svg("tspan", { className: "wf-node-icon", text: STATUS_ICONS[status] || "" }), " ",
        svg("tspan", { className: "wf-node-status-text", text: status || "" }),
      ]),
      svg("text", { className: "wf-node-type", x: 12, y: 46, text: truncate(data.typeLabel || data.type, 24) }),
      svg("title", { text: `${data.label} (${data.typeLabel || data.type})` }),
    ];
    if (o.editable) children.push(...this.handles(entry));
    const marks = this.markGroup(entry);
    if (marks) children.push(marks);
    const el = svg("g", {
      className: this.nodeClass(entry), "data-node-id": entry.id, "data-status": status || null, tabindex: "0", role: "button",
      "aria-label": this.nodeLabel(entry), transform: `translate(${entry.x},${entry.y})`,
    }, children);
    if (entry.el) entry.el.replaceWith(el); else this.nodeLayer.append(el);
    entry.el = el;
    if (hadFocus) el.focus({ preventScroll: true });
  }

  handles(entry) {
    const items = [];
    if (entry.data.hasInput !== false) {
      items.push(svg("circle", { className: "wf-handle-in", cx: 0, cy: entry.h / 2, r: 5 }));
    }
    for (const slot of this.slots(entry)) {
      const named = slot.branch !== null;
      items.push(svg("g", {
        className: "wf-handle" + (slot.branch === "error" ? " wf-handle-error" : ""), "data-branch": slot.branch ?? "",
        transform: `translate(${slot.x},${slot.y})`,
      }, [
        svg("circle", { r: 6 }),
        named ? svg("text", { className: "wf-handle-label", x: slot.branch === "error" ? 0 : 10, y: slot.branch === "error" ? 18 : 4,
          "text-anchor": slot.branch === "error" ? "middle" : "start", text: slot.branch }) : null,
        svg("title", { text: named ? `Output “${slot.branch}”: drag to a node` : "Output: drag to a node" }),
      ]));
    }
    return items;
  }

  slots(entry) {
    const outs = entry.outputs || [null];
    const slots = outs.map((branch, i) => ({ branch, x: entry.w, y: entry.h / 2 + (i - (outs.length - 1) / 2) * HANDLE_GAP }));
    if (entry.data.hasError) slots.push({ branch: "error", x: entry.w / 2, y: entry.h });
    return slots;
  }

  handlePoint(nodeId, branch) {
    const entry = this.nodes.get(nodeId);
    if (!entry) return null;
    if (branch === "error") return { x: entry.x + entry.w / 2, y: entry.y + entry.h, bottom: true };
    const outs = entry.outputs || [null];
    let index = outs.indexOf(branch ?? null);
    if (index < 0) index = outs.indexOf(null);
    const y = index < 0 ? entry.h / 2 : entry.h / 2 + (index - (outs.length - 1) / 2) * HANDLE_GAP;
    return { x: entry.x + entry.w, y: entry.y + y, bottom: false };
  }

  nodeClass(entry) {
    const status = this.statuses.get(entry.id);
    return ["wf-node", status ? `status-${status}` : "", this.selected.has(entry.id) ? "selected" : "", entry.data.extraClass || ""]
      .filter(Boolean).join(" ");
  }

  nodeLabel(entry) {
    const status = this.statuses.get(entry.id);
    const marks = (this.marks.get(entry.id) || []).map((m) => m.text).join(", ");
    return `${entry.data.label}: ${status || entry.data.typeLabel || entry.data.type}${marks ? " — " + marks : ""}`;
  }

  markGroup(entry) {
    const marks = this.marks.get(entry.id);
    if (!marks || !marks.length) return null;
    let right = entry.w - 4;
    const items = [];
    for (const mark of marks) {
      const width = mark.text.length * 6.4 + 12;
      items.push(svg("g", { className: `wf-mark wf-mark-${mark.kind}`, transform: `translate(${right - width},-9)` }, [
        svg("rect", { width, height: 17, rx: 8 }),
        svg("text", { x: width / 2, y: 12.5, "text-anchor": "middle", text: mark.text }),
        mark.title ? svg("title", { text: mark.title }) : null,
      ]));
      right -= width + 4;
    }
    return svg("g", { className: "wf-marks", "aria-hidden": "true" }, items);
  }

  paintEdge(entry) {
    const data = entry.data;
    const classes = ["wf-edge", data.branch === "error" ? "wf-edge-error" : "", data.extraClass || ""].filter(Boolean).join(" ");
    entry.path = svg("path", {
      className: classes, "marker-end": `url(#${this.uid}-arrow)`,
      "data-source": data.source, "data-target": data.target, "data-branch": data.branch ?? null,
    });
    const text = [data.branch, data.note].filter(Boolean).join(" · ");
    entry.label = text ? svg("text", { className: "wf-edge-label", "text-anchor": "middle", dy: "-6", text }) : null;
    const parts = [];
    if (this.options.editable) {
      entry.hit = svg("path", { className: "wf-edge-hit" });
      parts.push(entry.hit);
    }
    parts.push(entry.path, entry.label);
    const label = `Edge from ${this.labelOf(data.source)} to ${this.labelOf(data.target)}${data.branch ? ` (${data.branch})` : ""}`;
    const el = svg("g", {
      className: "wf-edge-group" + (this.selectedEdges.has(entry.key) ? " selected" : ""), "data-edge-key": entry.key,
      "aria-label": label,
    }, parts);
    if (entry.el) entry.el.replaceWith(el); else this.edgeLayer.append(el);
    entry.el = el;
  }

  labelOf(id) {
    const entry = this.nodes.get(id);
    return entry ? entry.data.label : id;
  }

  route(entry) {
    const from = this.handlePoint(entry.data.source, entry.data.branch);
    const target = this.nodes.get(entry.data.target);
    if (!from || !target) return;
    const x2 = target.x, y2 = target.y + target.h / 2;
    const d = edgePath(from.x, from.y, x2, y2, from.bottom);
    entry.path.setAttribute("d", d);
    if (entry.hit) entry.hit.setAttribute("d", d);
    if (entry.label) {
      entry.label.setAttribute("x", ((from.x + x2) / 2).toFixed(1));
      entry.label.setAttribute("y", ((from.y + y2) / 2).toFixed(1));
    }
  }

  routeAll() {
    for (const entry of this.edges.values()) this.route(entry);
  }

  /* Move nodes while dragging (no new data): only they and their edges are redrawn. */
  moveTo(positions) {
    const touched = new Set(Object.keys(positions));
    for (const [id, pos] of Object.entries(positions)) {
      const entry = this.nodes.get(id);
      if (!entry) continue;
      entry.x = pos.x;
      entry.y = pos.y;
      entry.el.setAttribute("transform", `translate(${pos.x},${pos.y})`);
    }
    for (const entry of this.edges.values()) {
      if (touched.has(entry.data.source) || touched.has(entry.data.target)) this.route(entry);
    }
    this.scheduleMinimap();
  }

  afterChange() {
    if (!this.options.interactive) this.sizeToContent();
    this.scheduleMinimap();
  }

  bounds() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const e of this.nodes.values()) {
      minX = Math.min(minX, e.x); minY = Math.min(minY, e.y - 12);
      maxX = Math.max(maxX, e.x + e.w + 40); maxY = Math.max(maxY, e.y + e.h + 20);
    }
    if (minX === Infinity) return { x: 0, y: 0, width: 0, height: 0 };
    return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
  }

  /* Natural size (the viewer): the drawing at 1:1, scaled down by CSS to fit, scrolled below 560px. */
  sizeToContent() {
    const b = this.bounds();
    const x = Math.min(0, b.x - PADDING), y = Math.min(0, b.y - PADDING);
    const width = Math.max(b.x + b.width + PADDING - x, 120), height = Math.max(b.y + b.height + PADDING - y, 80);
    this.svg.setAttribute("viewBox", `${x} ${y} ${width} ${height}`);
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    this.svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    this.svg.style.setProperty("--natural-width", `${width}px`);
  }

  // --- Statuses, marks, selection ----------------------------------------------------------

  setStatus(nodeId, status, detail) {
    const entry = this.nodes.get(nodeId);
    if (status) this.statuses.set(nodeId, status); else this.statuses.delete(nodeId);
    if (!entry) return;
    const el = entry.el;
    el.setAttribute("class", this.nodeClass(entry));
    if (status) el.setAttribute("data-status", status); else el.removeAttribute("data-status");
    el.setAttribute("aria-label", this.nodeLabel(entry));
    el.querySelector(".wf-node-icon").textContent = STATUS_ICONS[status] || "";
    el.querySelector(".wf-node-status-text").textContent = status ? status + (detail || "") : "";
    this.scheduleMinimap();
  }

  clearStatuses() {
    for (const id of [...this.statuses.keys()]) this.setStatus(id, null);
  }

  /* marks: {nodeId: [{kind: "error"|"warning"|"added"|"removed"|"changed", text, title?}]} */
  setMarks(marks) {
    const next = new Map(Object.entries(marks || {}));
    for (const id of new Set([...this.marks.keys(), ...next.keys()])) {
      const before = JSON.stringify(this.marks.get(id) || []), after = JSON.stringify(next.get(id) || []);
      if (before === after) continue;
      if (next.get(id)) this.marks.set(id, next.get(id)); else this.marks.delete(id);
      const entry = this.nodes.get(id);
      if (!entry) continue;
      const old = entry.el.querySelector(".wf-marks");
      if (old) old.remove();
      const group = this.markGroup(entry);
      if (group) entry.el.append(group);
      entry.el.setAttribute("aria-label", this.nodeLabel(entry));
    }
  }

  select(ids, edgeKeys = []) {
    this.selected = new Set(ids);
    this.selectedEdges = new Set(edgeKeys);
    for (const entry of this.nodes.values()) entry.el.classList.toggle("selected", this.selected.has(entry.id));
    for (const entry of this.edges.values()) entry.el.classList.toggle("selected", this.selectedEdges.has(entry.key));
  }

  nodeElement(id) {
    const entry = this.nodes.get(id);
    return entry ? entry.el : null;
  }

  nodeBox(id) {
    const e = this.nodes.get(id);
    return e ? { x: e.x, y: e.y, width: e.w, height: e.h } : null;
  }

  // --- Overlays for the builder (a dragged edge, a selection rectangle) ---------------------

  showTempEdge(from, to) {
    if (!this.tempEdge) {
      this.tempEdge = svg("path", { className: "wf-edge wf-edge-temp", "marker-end": `url(#${this.uid}-arrow)` });
      this.overlay.append(this.tempEdge);
    }
    this.tempEdge.setAttribute("d", edgePath(from.x, from.y, to.x, to.y, from.bottom));
  }

  hideTempEdge() {
    if (this.tempEdge) { this.tempEdge.remove(); this.tempEdge = null; }
  }

  showMarquee(rect) {
    if (!this.marquee) {
      this.marquee = svg("rect", { className: "wf-marquee" });
      this.overlay.append(this.marquee);
    }
    for (const key of ["x", "y", "width", "height"]) this.marquee.setAttribute(key, rect[key]);
  }

  hideMarquee() {
    if (this.marquee) { this.marquee.remove(); this.marquee = null; }
  }

  nodesIn(rect) {
    return [...this.nodes.values()].filter((e) => e.x < rect.x + rect.width && e.x + e.w > rect.x && e.y < rect.y + rect.height && e.y + e.h > rect.y).map((e) => e.id);
  }

  // --- Pan and zoom (interactive) -----------------------------------------------------------

  toCanvas(clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    return { x: (clientX - r.left - this.view.x) / this.view.k, y: (clientY - r.top - this.view.y) / this.view.k };
  }

  setView(view) {
    this.view = { x: view.x, y: view.y, k: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k)) };
    this.viewport.setAttribute("transform", `translate(${this.view.x.toFixed(1)},${this.view.y.toFixed(1)}) scale(${this.view.k.toFixed(4)})`);
    this.paintMinimapView();
    if (this.options.onViewChange) this.options.onViewChange(this.view);
  }

  zoomAt(factor, clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    const px = clientX == null ? r.width / 2 : clientX - r.left, py = clientY == null ? r.height / 2 : clientY - r.top;
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.k * factor));
    const ratio = k / this.view.k;
    this.setView({ x: px - (px - this.view.x) * ratio, y: py - (py - this.view.y) * ratio, k });
  }

  fit() {
    const b = this.bounds();
    const r = this.svg.getBoundingClientRect();
    if (!b.width || !r.width) { this.setView({ x: PADDING, y: PADDING, k: 1 }); return; }
    const k = Math.min(1.2, (r.width - 2 * PADDING) / b.width, (r.height - 2 * PADDING) / b.height);
    this.setView({ x: (r.width - b.width * k) / 2 - b.x * k, y: (r.height - b.height * k) / 2 - b.y * k, k });
  }

  /* Pan so that a node is inside the visible area (keyboard focus, a problem clicked in a list). */
  reveal(id) {
    const e = this.nodes.get(id);
    if (!e || !this.options.interactive) return;
    const r = this.svg.getBoundingClientRect();
    const { x, y, k } = this.view;
    const left = e.x * k + x, top = e.y * k + y, right = left + e.w * k, bottom = top + e.h * k;
    if (left >= 0 && top >= 0 && right <= r.width && bottom <= r.height) return;
    this.setView({ x: r.width / 2 - (e.x + e.w / 2) * k, y: r.height / 2 - (e.y + e.h / 2) * k, k });
  }

  bindPanZoom() {
    this.svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      if (event.ctrlKey || event.metaKey) this.zoomAt(Math.exp(-event.deltaY * 0.01), event.clientX, event.clientY);
      else this.setView({ x: this.view.x - event.deltaX, y: this.view.y - event.deltaY, k: this.view.k });
    }, { passive: false });
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 && event.button !== 1) return;
      if (event.target.closest(".wf-node, .wf-edge-group")) return;
      if (event.button === 0 && this.options.onBackgroundPointerDown && this.options.onBackgroundPointerDown(event)) return;
      const start = { x: event.clientX, y: event.clientY, vx: this.view.x, vy: this.view.y };
      this.svg.setPointerCapture(event.pointerId);
      this.svg.classList.add("wf-panning");
      const move = (e) => this.setView({ x: start.vx + e.clientX - start.x, y: start.vy + e.clientY - start.y, k: this.view.k });
      const up = (e) => {
        this.svg.removeEventListener("pointermove", move);
        this.svg.removeEventListener("pointerup", up);
        this.svg.classList.remove("wf-panning");
        if (Math.abs(e.clientX - start.x) + Math.abs(e.clientY - start.y) > 3) this.suppressClick = true;
      };
      this.svg.addEventListener("pointermove", move);
      this.svg.addEventListener("pointerup", up);
    });
    this.svg.addEventListener("focusin", (event) => {
      const node = event.target.closest && event.target.closest(".wf-node");
      if (node && !this.pointerFocus) this.reveal(node.getAttribute("data-node-id"));
    });
    this.svg.addEventListener("pointerdown", () => { this.pointerFocus = true; setTimeout(() => { this.pointerFocus = false; }, 0); }, true);
  }

  // --- Minimap -------------------------------------------------------------------------------

  buildMinimap() {
    this.mini = svg("svg", { className: "wf-minimap", "aria-hidden": "true", preserveAspectRatio: "xMidYMid meet" });
    this.miniNodes = svg("g");
    this.miniView = svg("rect", { className: "wf-minimap-view" });
    this.mini.append(this.miniNodes, this.miniView);
    this.host.append(this.mini);
    const jump = (event) => {
      const r = this.mini.getBoundingClientRect();
      const vb = this.mini.viewBox.baseVal;
      const scale = Math.max(vb.width / r.width, vb.height / r.height);
      const cx = vb.x + (event.clientX - r.left - (r.width - vb.width / scale) / 2) * scale;
      const cy = vb.y + (event.clientY - r.top - (r.height - vb.height / scale) / 2) * scale;
      const s = this.svg.getBoundingClientRect();
      this.setView({ x: s.width / 2 - cx * this.view.k, y: s.height / 2 - cy * this.view.k, k: this.view.k });
    };
    this.mini.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      this.mini.setPointerCapture(event.pointerId);
      jump(event);
      const move = (e) => jump(e);
      const up = () => { this.mini.removeEventListener("pointermove", move); this.mini.removeEventListener("pointerup", up); };
      this.mini.addEventListener("pointermove", move);
      this.mini.addEventListener("pointerup", up);
    });
  }

  scheduleMinimap() {
    if (!this.mini || this.miniPending) return;
    this.miniPending = requestAnimationFrame(() => {
      this.miniPending = null;
      this.paintMinimap();
    });
  }

  paintMinimap() {
    const b = this.bounds();
    const pad = 40;
    this.mini.setAttribute("viewBox", `${b.x - pad} ${b.y - pad} ${Math.max(b.width, 200) + 2 * pad} ${Math.max(b.height, 120) + 2 * pad}`);
    this.miniNodes.replaceChildren(...[...this.nodes.values()].map((e) => svg("rect", {
      x: e.x, y: e.y, width: e.w, height: e.h, rx: 8,
      className: "wf-minimap-node" + (this.statuses.get(e.id) ? ` status-${this.statuses.get(e.id)}` : "") + (this.selected.has(e.id) ? " selected" : ""),
    })));
    this.paintMinimapView();
  }

  paintMinimapView() {
    if (!this.mini) return;
    const r = this.svg.getBoundingClientRect();
    const { x, y, k } = this.view;
    this.miniView.setAttribute("x", -x / k);
    this.miniView.setAttribute("y", -y / k);
    this.miniView.setAttribute("width", r.width / k);
    this.miniView.setAttribute("height", r.height / k);
  }
}
