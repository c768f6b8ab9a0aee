/* Small DOM and formatting helpers shared by the viewer, the canvas and the builder. */

export const STATUS_ICONS = { idle: "○", running: "▶", paused: "‖", success: "✓", error: "✕", skipped: "↷", cancelled: "⊘" };
export const FINISHED = { success: true, error: true, cancelled: true };
const SVG_NS = "http://www.w3.org/2000/svg";

// Icon names of the vendored Lucide subset (static/vendor/lucide/icons.svg).
export const ICON_NAMES = new Set(("play git-branch split braces globe clock workflow repeat user-check bell pointer " +
  "message-square database box mail send webhook calendar filter code zap file-text users bot timer git-merge list " +
  "shuffle key shield cloud table search circle-help").split(" "));
export const ICON_SPRITE = "/static/vendor/lucide/icons.svg";

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

export function svg(tag, attrs, children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2).toLowerCase(), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
}

function append(node, children) {
  for (const child of children || []) {
    if (child != null && child !== false) node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/* A Lucide icon as inline SVG (`box` for names the subset lacks). */
export function icon(name, size = 16, className = "wf-icon") {
  const known = ICON_NAMES.has(name) ? name : "box";
  return svg("svg", { className, width: size, height: size, "aria-hidden": "true", focusable: "false" },
    [svg("use", { href: `${ICON_SPRITE}#lucide-${known}` })]);
}

/* A status as icon and word: never by colour alone. */
export function badge(status) {
  return el("span", { className: "badge status-" + status }, [
    el("span", { "aria-hidden": "true", text: STATUS_ICONS[status] || "•" }), " " + status,
  ]);
}

export function seconds(startedAt, finishedAt) {
  if (!startedAt || !finishedAt) return null;
  return Math.max(0, (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
}

export function formatDuration(value) {
  if (value == null) return "";
  if (value < 1) return Math.round(value * 1000) + " ms";
  if (value < 60) return value.toFixed(1) + " s";
  if (value < 3600) return Math.floor(value / 60) + " min " + String(Math.floor(value % 60)).padStart(2, "0") + " s";
  return Math.floor(value / 3600) + " h " + String(Math.floor((value % 3600) / 60)).padStart(2, "0") + " min";
}

const pad = (n) => String(n).padStart(2, "0");

/* The same shapes as the server renders: 2026-01-31 14:05:09 and 14:05:09 (local time). */
export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(iso);
}

export function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/* What a paused (or finished waiting) node waits for, from its pauseData or output. */
export function waiting(run) {
  const info = {};
  for (const source of [run.output, run.pauseData]) {
    if (source && typeof source === "object" && !Array.isArray(source)) {
      for (const key of ["approvalRequestId", "eventNamespace", "eventKey", "until"]) {
        if (source[key] != null && source[key] !== "") info[key] = source[key];
      }
    }
  }
  if (info.approvalRequestId) info.approvalUrl = "/workflows/approvals/" + encodeURIComponent(info.approvalRequestId);
  return info;
}

export function truncate(text, length) {
  text = String(text == null ? "" : text);
  return text.length > length ? text.slice(0, length - 1) + "…" : text;
}

/* How long until `iso` ("2 h 05 min left"), or how long ago it passed ("overdue by 12 s"). */
export function timeLeft(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  if (isNaN(ms)) return "";
  let rest = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(rest / 86400);
  const hours = Math.floor((rest % 86400) / 3600);
  const minutes = Math.floor((rest % 3600) / 60);
  rest %= 60;
  const text = days ? `${days} d ${hours} h` : hours ? `${hours} h ${pad(minutes)} min`
    : minutes ? `${minutes} min ${pad(rest)} s` : `${rest} s`;
  return ms >= 0 ? text + " left" : "overdue by " + text;
}

/* Copy `text` to the clipboard; resolves to whether it worked (insecure origins have no clipboard API). */
export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text).then(() => true, () => false);
  const area = el("textarea", { readonly: true, style: "position:fixed;opacity:0" });
  area.value = text;
  document.body.append(area);
  area.select();
  let done = false;
  try { done = document.execCommand("copy"); } catch (error) { done = false; }
  area.remove();
  return Promise.resolve(done);
}
