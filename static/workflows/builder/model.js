/* The builder's working copy of a definition: pure functions that return a new definition
   (unchanged nodes are shared, so the canvas redraws only what changed), and the undo history.
   Nothing here judges a definition: the server's validator does. */

export const isTrigger = (node) => node && node.type === "trigger";

export function nodeById(def, id) {
  return def.nodes.find((n) => n.id === id);
}

export function labelOf(node) {
  return node.label || node.id;
}

export function uniqueLabel(def, base, exceptId) {
  const taken = new Set(def.nodes.filter((n) => n.id !== exceptId).map(labelOf));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base} ${i}`)) return `${base} ${i}`;
}

export function newId(def, type) {
  const stem = (type.split("/").pop() || "node").replace(/[^a-z0-9]+/gi, "-").toLowerCase().slice(0, 40) || "node";
  const taken = new Set(def.nodes.map((n) => n.id));
  for (;;) {
    const id = `${stem}-${Math.random().toString(36).slice(2, 7)}`;
    if (!taken.has(id)) return id;
  }
}

export const sameEdge = (a, b) => a.source === b.source && a.target === b.target && (a.branch ?? null) === (b.branch ?? null);

export function addNodes(def, nodes, edges = []) {
  return { ...def, nodes: [...def.nodes, ...nodes], edges: [...def.edges, ...edges] };
}

export function addEdge(def, edge) {
  const clean = { source: edge.source, target: edge.target };
  if (edge.branch != null) clean.branch = edge.branch;
  return { ...def, edges: [...def.edges, clean] };
}

export function removeEdges(def, predicate) {
  return { ...def, edges: def.edges.filter((e) => !predicate(e)) };
}

export function removeNodes(def, ids) {
  const gone = new Set(ids);
  return {
    ...def,
    nodes: def.nodes.filter((n) => !gone.has(n.id)),
    edges: def.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
  };
}

export function updateNode(def, id, change) {
  return { ...def, nodes: def.nodes.map((n) => (n.id === id ? change({ ...n }) : n)) };
}

export function setConfigValue(def, id, key, value) {
  return updateNode(def, id, (node) => {
    const config = { ...(node.config || {}) };
    if (value === undefined) delete config[key]; else config[key] = value;
    node.config = config;
    return node;
  });
}

export function setRetryValue(def, id, key, value) {
  return updateNode(def, id, (node) => {
    const retry = { ...(node.retry || {}) };
    if (value === undefined) delete retry[key]; else retry[key] = value;
    if (Object.keys(retry).length) node.retry = retry; else delete node.retry;
    return node;
  });
}

export function setPositions(def, positions) {
  return {
    ...def,
    nodes: def.nodes.map((n) => (positions[n.id] ? { ...n, position: { x: Math.round(positions[n.id].x), y: Math.round(positions[n.id].y) } } : n)),
  };
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function mapStrings(value, fn) {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  return value;
}

/* Rename a node; templates naming its old label follow (`{{Old.x}}` becomes `{{New.x}}`). */
export function renameNode(def, id, label) {
  const node = nodeById(def, id);
  const old = labelOf(node);
  // While a label collides with another node's (typing through a name that exists), the
  // templates are left alone: they might name the other node.
  const clash = def.nodes.some((n) => n.id !== id && (labelOf(n) === old || labelOf(n) === label));
  const pattern = new RegExp(`\\{\\{(\\s*)${escapeRegExp(old)}(?=\\s*(?:[.\\[]|\\}\\}))`, "g");
  return {
    ...def,
    nodes: def.nodes.map((n) => {
      if (n.id === id) return { ...n, label };
      if (clash || !old || !n.config || !JSON.stringify(n.config).includes(old)) return n;
      return { ...n, config: mapStrings(n.config, (s) => s.replace(pattern, (_, space) => `{{${space}${label}`)) };
    }),
  };
}

/* What Ctrl+C keeps: the nodes with their config and the edges between them. */
export function copyNodes(def, ids) {
  const chosen = new Set(ids);
  return {
    nodes: def.nodes.filter((n) => chosen.has(n.id) && !isTrigger(n)).map((n) => JSON.parse(JSON.stringify(n))),
    edges: def.edges.filter((e) => chosen.has(e.source) && chosen.has(e.target)).map((e) => ({ ...e })),
  };
}

/* Paste copied nodes with new ids and unique labels, shifted by `offset`; returns {def, ids}. */
export function pasteNodes(def, clip, offset) {
  let next = def;
  const ids = {};
  const nodes = [];
  for (const node of clip.nodes) {
    const id = newId(next, node.type);
    ids[node.id] = id;
    const pos = node.position || { x: 0, y: 0 };
    const copy = { ...node, id, label: uniqueLabel(next, labelOf(node)), position: { x: pos.x + offset.x, y: pos.y + offset.y } };
    nodes.push(copy);
    next = { ...next, nodes: [...next.nodes, copy] };
  }
  const edges = clip.edges.filter((e) => ids[e.source] && ids[e.target]).map((e) => ({ ...e, source: ids[e.source], target: ids[e.target] }));
  return { def: { ...next, edges: [...next.edges, ...edges] }, ids: Object.values(ids) };
}

/* Undo and redo over whole definitions (cheap: unchanged nodes are shared). Consecutive
   edits of one field within a moment are one step, as typing a word is. */
export class History {
  constructor(def) {
    this.past = [];
    this.future = [];
    this.present = def;
    this.saved = def;
    this.lastKey = null;
    this.lastAt = 0;
  }

  push(def, coalesceKey = null) {
    const now = Date.now();
    if (coalesceKey && coalesceKey === this.lastKey && now - this.lastAt < 1500 && this.present !== this.saved) {
      this.present = def;
    } else {
      this.past.push(this.present);
      if (this.past.length > 500) this.past.shift();
      this.present = def;
    }
    this.future = [];
    this.lastKey = coalesceKey;
    this.lastAt = now;
  }

  undo() {
    if (!this.past.length) return false;
    this.future.push(this.present);
    this.present = this.past.pop();
    this.lastKey = null;
    return true;
  }

  redo() {
    if (!this.future.length) return false;
    this.past.push(this.present);
    this.present = this.future.pop();
    this.lastKey = null;
    return true;
  }

  get dirty() {
    return this.present !== this.saved;
  }

  markSaved(def = this.present) {
    this.saved = def;
    this.lastKey = null;
  }

  reset(def) {
    this.past = [];
    this.future = [];
    this.present = def;
    this.saved = def;
    this.lastKey = null;
  }
}
