/* Pointer work on the builder's canvas: dragging node types in from the palette, moving
   (multi-)selected nodes, drawing an edge from an output handle to a node, and Shift+drag
   to select with a rectangle. The canvas draws; the editor decides and records. */
import { el } from "../dom.js";

const THRESHOLD = 4;

export class Interactions {
  constructor(editor) {
    this.editor = editor;
    this.justDragged = false;
  }

  get canvas() {
    return this.editor.canvas;
  }

  track(onMove, onUp) {
    const move = (event) => onMove(event);
    const up = (event) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", up);
      onUp(event);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", up);
  }

  suppressNextClick() {
    this.justDragged = true;
    setTimeout(() => { this.justDragged = false; }, 50);
  }

  startPaletteDrag(event, type, source) {
    if (event.button !== 0 || this.editor.readOnly) return;
    const start = { x: event.clientX, y: event.clientY };
    let ghost = null;
    this.track((e) => {
      if (!ghost && Math.hypot(e.clientX - start.x, e.clientY - start.y) < THRESHOLD) return;
      if (!ghost) {
        ghost = el("div", { className: "wb-ghost", "aria-hidden": "true", text: source.querySelector(".wb-palette-name").textContent });
        document.body.append(ghost);
      }
      ghost.style.left = `${e.clientX + 8}px`;
      ghost.style.top = `${e.clientY + 8}px`;
    }, (e) => {
      if (!ghost) return;
      ghost.remove();
      this.suppressNextClick();
      const rect = this.editor.canvasHost.getBoundingClientRect();
      if (e.clientX < rect.left || e.clientX > rect.right || e.clientY < rect.top || e.clientY > rect.bottom) return;
      const at = this.canvas.toCanvas(e.clientX, e.clientY);
      this.editor.addNodeAt(type, { x: at.x - 90, y: at.y - 30 });
    });
  }

  /* pointerdown anywhere on the canvas SVG (capture phase, before the canvas pans). */
  onPointerDown(event) {
    if (event.button !== 0) return;
    const handle = event.target.closest(".wf-handle");
    const node = event.target.closest(".wf-node");
    if (handle && node && !this.editor.readOnly) {
      event.stopPropagation();
      event.preventDefault();
      this.drawEdge(event, node.getAttribute("data-node-id"), handle.getAttribute("data-branch") || null);
    } else if (node) {
      event.stopPropagation();
      this.dragNodes(event, node.getAttribute("data-node-id"));
    }
  }

  dragNodes(event, id) {
    const editor = this.editor;
    const toggle = event.shiftKey || event.ctrlKey || event.metaKey;
    const wasSelected = editor.selection.has(id);
    if (!wasSelected) editor.select(toggle ? [...editor.selection, id] : [id]);
    const ids = [...editor.selection];
    const start = this.canvas.toCanvas(event.clientX, event.clientY);
    const origin = Object.fromEntries(ids.map((n) => [n, this.canvas.nodeBox(n)]).filter(([, box]) => box));
    let moved = false;
    let positions = {};
    this.track((e) => {
      if (editor.readOnly) return;
      const at = this.canvas.toCanvas(e.clientX, e.clientY);
      const dx = at.x - start.x, dy = at.y - start.y;
      if (!moved && Math.hypot(dx, dy) * this.canvas.view.k < THRESHOLD) return;
      moved = true;
      positions = Object.fromEntries(Object.entries(origin).map(([n, box]) => [n, { x: box.x + dx, y: box.y + dy }]));
      this.canvas.moveTo(positions);
    }, () => {
      if (moved) {
        this.suppressNextClick();
        this.canvas.suppressClick = true;
        editor.movedNodes(positions);
      } else if (toggle && wasSelected) {
        editor.select(ids.filter((n) => n !== id));
      } else if (!toggle && wasSelected && ids.length > 1) {
        editor.select([id]);
      }
      const el = this.canvas.nodeElement(id);
      if (el) el.focus({ preventScroll: true });
    });
  }

  drawEdge(event, source, branch) {
    const from = this.canvas.handlePoint(source, branch);
    let target = null;
    const mark = (next) => {
      if (target === next) return;
      if (target && this.canvas.nodeElement(target)) this.canvas.nodeElement(target).classList.remove("drop-target");
      target = next;
      if (target && this.canvas.nodeElement(target)) this.canvas.nodeElement(target).classList.add("drop-target");
    };
    this.track((e) => {
      this.canvas.showTempEdge(from, this.canvas.toCanvas(e.clientX, e.clientY));
      const hit = document.elementFromPoint(e.clientX, e.clientY);
      const node = hit && hit.closest(".wf-node");
      mark(node && node.getAttribute("data-node-id") !== source ? node.getAttribute("data-node-id") : null);
    }, () => {
      this.canvas.hideTempEdge();
      const chosen = target;
      mark(null);
      this.canvas.suppressClick = true;
      if (chosen) this.editor.tryAddEdge({ source, target: chosen, branch });
    });
  }

  /* Shift+drag on the background: select the nodes inside the rectangle. */
  onBackgroundPointerDown(event) {
    if (!event.shiftKey) return false;
    const start = this.canvas.toCanvas(event.clientX, event.clientY);
    const before = [...this.editor.selection];
    this.track((e) => {
      const at = this.canvas.toCanvas(e.clientX, e.clientY);
      const rect = { x: Math.min(start.x, at.x), y: Math.min(start.y, at.y), width: Math.abs(at.x - start.x), height: Math.abs(at.y - start.y) };
      this.canvas.showMarquee(rect);
      this.editor.select([...new Set([...before, ...this.canvas.nodesIn(rect)])]);
    }, () => {
      this.canvas.hideMarquee();
      this.canvas.suppressClick = true;
    });
    return true;
  }
}
