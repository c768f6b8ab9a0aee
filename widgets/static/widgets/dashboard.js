// The widget dashboard: one WidgetRun per saved widget, drawn again on every change.
import { WidgetRun, sharedSocket } from "./widget-run.js";

const LABELS = { COMPLETED: "Completed", FAILED: "Failed", ERROR: "Error", PENDING: "Running", LOADING: "Starting" };

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function renderChart(target, data, card) {
  const spec = data && data.spec;
  if (!spec) return;
  const key = JSON.stringify(spec);
  if (target.dataset.rendered === key) return;
  target.dataset.rendered = key;
  card.dataset.points = String((spec.data && spec.data.values || []).length);
  if (typeof window.vegaEmbed !== "function") { target.textContent = "Charts unavailable"; return; }
  const width = Math.max(160, (target.clientWidth || 320) - 90);
  window.vegaEmbed(target, { width, height: 200, ...spec }, { actions: false, renderer: "svg" })
    .then(() => { card.dataset.chartRendered = card.dataset.points; })
    .catch((error) => { target.textContent = `Chart error: ${error.message}`; });
}

function renderTable(target, data, card) {
  target.replaceChildren();
  if (!data || !Array.isArray(data.rows)) return;
  const wrap = el("div", { class: "table-wrap" });
  const table = el("table", { class: "data" });
  const head = el("tr");
  for (const column of data.columns || []) head.append(el("th", { scope: "col" }, column.label));
  table.append(el("thead"));
  table.tHead.append(head);
  const body = el("tbody");
  for (const row of data.rows) {
    const tr = el("tr");
    for (const cell of row) tr.append(el("td", {}, cell === null || cell === undefined ? "" : String(cell)));
    body.append(tr);
  }
  table.append(body);
  wrap.append(table);
  target.append(wrap);
  if (data.truncated) target.append(el("p", { class: "muted" }, `Showing ${data.rows.length} of ${data.total} rows`));
  card.dataset.points = String(data.rows.length);
}

function renderMetric(target, data, card) {
  target.replaceChildren();
  if (!data) return;
  target.append(el("div", { class: "metric-value" }, data.formatted));
  if (data.label) target.append(el("div", { class: "metric-label" }, data.label));
  if (data.formattedDelta) {
    const arrow = { up: "▲", down: "▼", flat: "■" }[data.deltaDirection] || "";
    const words = { up: "up", down: "down", flat: "unchanged" }[data.deltaDirection] || "";
    target.append(el("div", { class: `metric-delta delta-${data.deltaDirection}` }, `${arrow} ${data.formattedDelta} (${words})`));
  }
  card.dataset.points = data.value === null ? "0" : "1";
}

function renderText(target, data, card) {
  // The server rendered this HTML from Markdown with every tag escaped first.
  target.innerHTML = data && typeof data.html === "string" ? data.html : "";
  card.dataset.points = data ? "1" : "0";
}

const RENDERERS = { "vega-lite": renderChart, table: renderTable, metric: renderMetric, text: renderText };

function renderLogs(list, logs) {
  list.replaceChildren(...logs.slice(-200).map((entry) => {
    const item = el("li", { class: `log log-${entry.type}` });
    item.append(el("time", { datetime: entry.timestamp }, entry.timestamp.slice(11, 19)));
    item.append(el("strong", {}, ` ${entry.type.toUpperCase()} `));
    item.append(el("span", {}, `${entry.label}: ${entry.message}`));
    return item;
  }));
}

function mount(card, socket) {
  const options = JSON.parse(document.getElementById(card.dataset.optionsId).textContent);
  const run = new WidgetRun({ ...options, socket });
  const body = card.querySelector(".widget-body");
  const status = card.querySelector(".widget-status");
  const connection = card.querySelector(".widget-connection");
  const logs = card.querySelector(".widget-logs");
  const render = () => {
    const state = run.snapshot();
    const renderer = RENDERERS[options.widgetType];
    if (renderer && state.data) renderer(body, state.data, card);
    else if (!state.data) body.textContent = state.isLoading ? "Loading…" : "No data yet";
    const label = LABELS[state.workflowStatus] || "Idle";
    status.textContent = label;
    status.className = `widget-status badge status-${(run.executionStatus || "idle")}`;
    connection.textContent = state.isLive ? "● live" : `○ ${state.connectionState}`;
    card.dataset.status = state.workflowStatus || "";
    card.dataset.connection = state.connectionState;
    card.dataset.instance = state.instanceID || "";
    card.querySelector(".stop-widget").disabled = !state.isRunning;
    renderLogs(logs, state.logs);
    card.querySelector(".log-count").textContent = String(state.logs.length);
  };
  run.addEventListener("change", render);
  card.querySelector(".run-widget").addEventListener("click", () => run.runWidget());
  card.querySelector(".stop-widget").addEventListener("click", () => run.stop());
  card.querySelector(".clear-logs").addEventListener("click", () => run.clearLogs());
  const form = card.querySelector(".widget-input");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const field = form.querySelector("input[name=value]");
    run.sendInput(form.querySelector("input[name=inputType]").value || "form", { value: field.value });
  });
  render();
  return run;
}

const socket = sharedSocket();
window.widgetSocket = socket;
window.widgetRuns = {};
for (const card of document.querySelectorAll(".widget-card")) {
  window.widgetRuns[card.dataset.widgetId] = mount(card, socket);
}
const runAll = document.getElementById("run-all");
if (runAll) runAll.addEventListener("click", () => Object.values(window.widgetRuns).forEach((run) => run.runWidget()));
if (new URLSearchParams(window.location.search).get("autorun") === "1") {
  for (const run of Object.values(window.widgetRuns)) run.runWidget();
}
