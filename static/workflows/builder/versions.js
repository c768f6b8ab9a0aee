/* The side panel's "Versions" tab: every saved version with its author and time, the diff of
   any two (on a canvas and as a list), restore (saved as a new version), export and import. */
import { Canvas } from "../canvas.js";
import { el, formatTime } from "../dom.js";
import { ApiError, get, post } from "./api.js";
import { labelOf, setPositions } from "./model.js";

const short = (value) => {
  const text = value === undefined ? "(none)" : JSON.stringify(value);
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
};

export class Versions {
  constructor(editor, host) {
    this.editor = editor;
    this.host = host;
    this.list = [];
  }

  async load() {
    const editor = this.editor;
    this.list = editor.workflowId ? await get(`/api/workflows/${editor.workflowId}/versions/`) : [];
    this.render();
  }

  render() {
    const file = el("input", { type: "file", id: "wb-import", accept: "application/json,.json", className: "visually-hidden" });
    file.addEventListener("change", () => { if (file.files[0]) this.importFile(file.files[0]); file.value = ""; });
    const exportButton = el("button", { type: "button", "data-role": "export", text: "Export working copy" });
    exportButton.addEventListener("click", () => this.exportWorkingCopy());
    const tools = el("div", { className: "wb-actions" }, [
      el("label", { for: "wb-import", className: "button", "data-role": "import", tabindex: "0", text: "Import JSON…" }), file, exportButton,
    ]);
    tools.querySelector("label").addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); file.click(); } });
    if (!this.list.length) {
      this.host.replaceChildren(el("h2", { className: "wb-panel-title", text: "Versions" }),
        el("p", { className: "muted", text: "Nothing saved yet: the first save is version 1." }), tools);
      return;
    }
    const options = () => this.list.map((v) => el("option", { value: v.number, text: `v${v.number}` }));
    const from = el("select", { id: "wb-diff-from", "aria-label": "Compare from version" }, options());
    const to = el("select", { id: "wb-diff-to", "aria-label": "Compare to version" }, options());
    from.value = String(this.list[Math.min(1, this.list.length - 1)].number);
    to.value = String(this.list[0].number);
    const show = el("button", { type: "button", "data-role": "show-diff", text: "Show changes" });
    show.addEventListener("click", () => this.showDiff(Number(from.value), Number(to.value)));
    const latest = this.list[0].number;
    const rows = this.list.map((v) => {
      const restore = el("button", { type: "button", className: "link", "data-restore": v.number, text: "Restore", disabled: v.number === latest || this.editor.readOnly });
      restore.addEventListener("click", () => this.restore(v.number));
      const exporter = el("a", { href: `/api/workflows/${this.editor.workflowId}/versions/${v.number}/export/`, download: `workflow-v${v.number}.json`, text: "Export" });
      return el("li", { "data-version": v.number }, [
        el("div", {}, [el("strong", { text: `v${v.number}` }), v.number === latest ? el("span", { className: "badge", text: "latest" }) : null,
          el("span", { className: "muted", text: ` · ${v.nodeCount} nodes` })]),
        el("div", { className: "muted" }, [`${v.createdBy || "someone"} · `, el("time", { datetime: v.createdAt, text: formatTime(v.createdAt) })]),
        el("div", { className: "wb-version-actions" }, [restore, " · ", exporter]),
      ]);
    });
    this.host.replaceChildren(
      el("h2", { className: "wb-panel-title", text: "Versions" }),
      el("div", { className: "wb-compare" }, [el("span", { text: "Compare" }), from, el("span", { text: "with" }), to, show]),
      el("ol", { className: "wb-version-list", reversed: true }, rows), tools,
    );
  }

  async showDiff(fromNumber, toNumber) {
    const id = this.editor.workflowId;
    const [diff, before, after] = await Promise.all([
      get(`/api/workflows/${id}/diff/?from=${fromNumber}&to=${toNumber}`),
      get(`/api/workflows/${id}/versions/${fromNumber}/`), get(`/api/workflows/${id}/versions/${toNumber}/`),
    ]);
    const dialog = this.editor.q("diff");
    dialog.querySelector('[data-role="diff-title"]').textContent = `Changes from v${fromNumber} to v${toNumber}`;
    dialog.querySelector('[data-role="diff-list"]').replaceChildren(...this.diffList(diff, before.definition, after.definition));
    dialog.showModal();
    const canvas = new Canvas(dialog.querySelector('[data-role="diff-canvas"]'), { interactive: true, ariaLabel: `Workflow v${toNumber} with the changes since v${fromNumber} marked` });
    const { graph, marks } = await this.diffGraph(diff, before.definition, after.definition);
    canvas.setGraph(graph);
    canvas.setMarks(marks);
    canvas.fit();
  }

  async diffGraph(diff, before, after) {
    const removedIds = new Set(diff.removed.map((n) => n.nodeId));
    let union = { nodes: [...after.nodes, ...before.nodes.filter((n) => removedIds.has(n.id))], edges: [...after.edges] };
    const gone = diff.edgesRemoved.filter((e) => union.nodes.some((n) => n.id === e.source) && union.nodes.some((n) => n.id === e.target));
    union.edges.push(...gone.map((e) => ({ ...e, removed: true })));
    if (union.nodes.some((n) => !n.position)) {
      const placed = await post("/api/workflows/layout/", { definition: { nodes: union.nodes, edges: union.edges.map(({ removed, ...e }) => e) } });
      union = { ...union, nodes: setPositions(union, Object.fromEntries(placed.nodes.map((n) => [n.id, n]))).nodes };
    }
    const kind = {};
    diff.added.forEach((n) => { kind[n.nodeId] = "added"; });
    diff.removed.forEach((n) => { kind[n.nodeId] = "removed"; });
    diff.changed.forEach((n) => { kind[n.nodeId] = "changed"; });
    const marks = {};
    diff.added.forEach((n) => { marks[n.nodeId] = [{ kind: "added", text: "+ added" }]; });
    diff.removed.forEach((n) => { marks[n.nodeId] = [{ kind: "removed", text: "− removed" }]; });
    diff.changed.forEach((n) => { marks[n.nodeId] = [{ kind: "changed", text: `~ ${n.changes.length} change${n.changes.length > 1 ? "s" : ""}` }]; });
    diff.moved.forEach((id) => { marks[id] = [{ kind: "changed", text: "↔ moved" }]; });
    const addedEdges = new Set(diff.edgesAdded.map((e) => `${e.source}|${e.target}|${e.branch ?? ""}`));
    const catalog = this.editor.catalog;
    return {
      marks,
      graph: {
        nodes: union.nodes.map((n) => ({
          id: n.id, label: labelOf(n), type: n.type, typeLabel: catalog[n.type] ? catalog[n.type].label : n.type,
          icon: catalog[n.type] ? catalog[n.type].icon : "circle-help", x: n.position.x, y: n.position.y,
          extraClass: kind[n.id] ? `wf-diff-${kind[n.id]}` : "",
        })),
        edges: union.edges.map((e) => {
          const added = addedEdges.has(`${e.source}|${e.target}|${e.branch ?? ""}`);
          return { source: e.source, target: e.target, branch: e.branch ?? null,
            extraClass: e.removed ? "wf-diff-removed" : added ? "wf-diff-added" : "", note: e.removed ? "− removed" : added ? "+ added" : "" };
        }),
      },
    };
  }

  diffList(diff, before, after) {
    if (diff.isEmpty) return [el("p", { text: "No differences." })];
    const label = (id) => {
      const node = after.nodes.find((n) => n.id === id) || before.nodes.find((n) => n.id === id);
      return node ? labelOf(node) : id;
    };
    const nodeItems = [
      ...diff.added.map((n) => el("li", { className: "wb-diff-added" }, [el("span", { "aria-hidden": "true", text: "+ " }), "Added ", el("strong", { text: n.label }), ` (${n.type})`])),
      ...diff.removed.map((n) => el("li", { className: "wb-diff-removed" }, [el("span", { "aria-hidden": "true", text: "− " }), "Removed ", el("strong", { text: n.label }), ` (${n.type})`])),
      ...diff.changed.map((n) => el("li", { className: "wb-diff-changed" }, [el("span", { "aria-hidden": "true", text: "~ " }), "Changed ", el("strong", { text: n.label }),
        el("ul", {}, n.changes.map((c) => el("li", {}, [el("code", { text: c.field }), `: ${short(c.before)} → ${short(c.after)}`])))])),
      ...diff.moved.map((id) => el("li", {}, [el("span", { "aria-hidden": "true", text: "↔ " }), "Moved ", el("strong", { text: label(id) })])),
    ];
    const edge = (e) => `${label(e.source)} → ${label(e.target)}${e.branch ? ` (${e.branch})` : ""}`;
    const edgeItems = [
      ...diff.edgesAdded.map((e) => el("li", { className: "wb-diff-added" }, [el("span", { "aria-hidden": "true", text: "+ " }), "Edge added: ", edge(e)])),
      ...diff.edgesRemoved.map((e) => el("li", { className: "wb-diff-removed" }, [el("span", { "aria-hidden": "true", text: "− " }), "Edge removed: ", edge(e)])),
    ];
    return [
      el("h3", { text: "Nodes" }), nodeItems.length ? el("ul", { className: "wb-diff-list" }, nodeItems) : el("p", { className: "muted", text: "No node changes." }),
      el("h3", { text: "Edges" }), edgeItems.length ? el("ul", { className: "wb-diff-list" }, edgeItems) : el("p", { className: "muted", text: "No edge changes." }),
    ];
  }

  async restore(number) {
    const editor = this.editor;
    if (editor.history.dirty && !window.confirm(`Discard your unsaved changes and restore version ${number}?`)) return;
    try {
      const workflow = await post(`/api/workflows/${editor.workflowId}/versions/${number}/restore/`, { baseVersion: editor.baseVersion });
      await editor.adopt(workflow);
      editor.render();
      editor.canvas.fit();
      await this.load();
      editor.announce(`Version ${number} restored as version ${workflow.version}`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.code === "stale_version") editor.conflict(exc.body);
      else editor.announce(`Not restored: ${exc.message}`, true);
    }
  }

  exportWorkingCopy() {
    const editor = this.editor;
    const document_ = {
      format: "workflow/v1", name: editor.q("name").value.trim(), description: (editor.workflow && editor.workflow.description) || "",
      isActive: editor.workflow ? editor.workflow.isActive !== false : true, version: editor.baseVersion, definition: editor.def,
    };
    const blob = new Blob([JSON.stringify(document_, null, 2) + "\n"], { type: "application/json" });
    const link = el("a", { href: URL.createObjectURL(blob), download: `${document_.name || "workflow"}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  /* Read a file and let the server check it; nothing changes unless it is a valid workflow. */
  async importFile(file) {
    const editor = this.editor;
    const text = await file.text();
    const result = await post("/api/workflows/validate/", { text });
    if (!result.valid) {
      const dialog = editor.q("import-problems");
      dialog.querySelector('[data-role="import-name"]').textContent = file.name;
      dialog.querySelector('[data-role="import-list"]').replaceChildren(...result.errors.map((p) => el("li", {}, [
        el("span", { "aria-hidden": "true", text: "✕ " }), p.nodeId ? el("strong", { text: `${p.nodeId} · ` }) : null, el("code", { text: p.field }), `: ${p.message}`,
      ])));
      dialog.showModal();
      return;
    }
    let def = result.definition;
    if (def.nodes.some((n) => !n.position)) {
      const placed = await post("/api/workflows/layout/", { definition: def });
      def = setPositions(def, Object.fromEntries(placed.nodes.map((n) => [n.id, n])));
    }
    editor.replaceDefinition(def);
    editor.announce(`Imported ${file.name}: review it, then Save to make it a new version (Ctrl+Z undoes the import)`);
  }
}
