/* The palette: the node catalog grouped by category (a plugin's category is its
   integration's label), searchable by name and description. Drag a type onto the canvas, or
   activate it (click, Enter) to add it after the selected node. */
import { el, icon } from "../dom.js";

export class Palette {
  constructor(editor, host) {
    this.editor = editor;
    this.host = host;
  }

  render(types) {
    this.search = el("input", { type: "search", id: "wb-search", placeholder: "Search nodes…", "aria-label": "Search node types", autocomplete: "off" });
    this.list = el("div", { className: "wb-palette-list" });
    this.empty = el("p", { className: "muted", text: "No node type matches.", hidden: true });
    const groups = new Map();
    for (const type of types) {
      if (!groups.has(type.category)) groups.set(type.category, []);
      groups.get(type.category).push(type);
    }
    for (const [category, members] of groups) {
      const items = members.map((type) => {
        const button = el("button", {
          type: "button", className: "wb-palette-item", "data-node-type": type.type,
          "data-search": `${type.label} ${type.description || ""} ${type.type}`.toLowerCase(),
          title: type.description || type.label, "aria-describedby": "wb-palette-help",
        }, [icon(type.icon, 18), el("span", { className: "wb-palette-text" }, [
          el("span", { className: "wb-palette-name", text: type.label }),
          type.description ? el("span", { className: "wb-palette-desc", text: type.description }) : null,
        ])]);
        button.addEventListener("pointerdown", (event) => this.editor.interact.startPaletteDrag(event, type.type, button));
        button.addEventListener("click", () => {
          if (this.editor.interact.justDragged) return;
          this.editor.addFromPalette(type.type);
        });
        return button;
      });
      this.list.append(el("section", { className: "wb-palette-group", "data-category": category }, [
        el("h3", { text: category }), ...items,
      ]));
    }
    this.search.addEventListener("input", () => this.filter(this.search.value));
    this.host.replaceChildren(
      el("h2", { className: "wb-panel-title", text: "Nodes" }), this.search,
      el("p", { className: "wb-help", id: "wb-palette-help", text: "Drag onto the canvas, or press Enter to add after the selected node." }),
      this.list, this.empty,
    );
  }

  filter(text) {
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const group of this.list.querySelectorAll(".wb-palette-group")) {
      let any = false;
      for (const item of group.querySelectorAll(".wb-palette-item")) {
        const hit = words.every((w) => item.dataset.search.includes(w));
        item.hidden = !hit;
        any = any || hit;
        shown += hit ? 1 : 0;
      }
      group.hidden = !any;
    }
    this.empty.hidden = shown > 0;
  }
}
