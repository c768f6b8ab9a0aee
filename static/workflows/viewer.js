/* The execution viewer: keeps a server-rendered viewer (templates/workflows/_viewer.html)
   live over server-sent events, and shows a node's details when it is selected.
   The graph is drawn by the shared canvas module (canvas.js, the builder's too), which
   replaces the server's first paint. Every .wf-viewer on the page (outside a closed dialog)
   starts by itself; WorkflowViewer.init(element) starts one added later. */
import { Canvas } from "./canvas.js";
import { detailsBody, detailsTitle } from "./details.js";
import { badge, clock, el, FINISHED, formatDuration, formatTime, pretty, seconds, STATUS_ICONS, timeLeft, waiting } from "./dom.js";

/* The server layout (workflows/layout.py) as canvas data. */
export function graphData(graph) {
  return {
    nodes: graph.nodes.map((n) => ({ id: n.id, label: n.label, type: n.type, x: n.x, y: n.y, width: n.width, height: n.height })),
    edges: graph.edges.map((e) => ({ source: e.source, target: e.target, branch: e.branch })),
  };
}

class Viewer {
  constructor(root) {
    this.root = root;
    this.eventsUrl = root.getAttribute("data-events-url");
    this.detailUrl = root.getAttribute("data-detail-url");
    this.runs = {};
    this.execution = {};
    this.selected = null;
    this.source = null;
    this.graphKey = null;
    const host = root.querySelector(".wf-canvas-wrap");
    this.canvas = new Canvas(host, {
      ariaLabel: "Execution graph: select a node for its details",
      onActivate: (nodeId) => this.select(nodeId),
    });
    const data = document.getElementById(root.getAttribute("data-snapshot-id"));
    if (data) this.applySnapshot(JSON.parse(data.textContent), true);
    this.paintHeader();  // local times in place of the server's
    this.bind();
    // Deadlines count down in place (approvals, waits, sleeps).
    this.ticker = setInterval(() => {
      this.root.querySelectorAll("[data-deadline]").forEach((node) => { node.textContent = timeLeft(node.getAttribute("data-deadline")); });
    }, 1000);
  }

  q(role) {
    return this.root.querySelector(`[data-role="${role}"]`);
  }

  bind() {
    this.root.addEventListener("click", (event) => {
      const opener = event.target.closest("[data-open-node]");
      if (opener) this.select(opener.getAttribute("data-open-node"));
    });
    const close = this.q("details-close");
    if (close) close.addEventListener("click", () => this.select(null));
  }

  start() {
    if (this.source || FINISHED[this.execution.status] || !window.EventSource) {
      this.setLive("");
      return;
    }
    const source = new EventSource(this.eventsUrl);
    this.source = source;
    source.addEventListener("open", () => this.setLive("● live"));
    source.addEventListener("error", () => { if (this.source) this.setLive("reconnecting…"); });
    source.addEventListener("snapshot", (event) => this.applySnapshot(JSON.parse(event.data), true));
    source.addEventListener("node", (event) => this.applyNode(JSON.parse(event.data)));
    source.addEventListener("status", (event) => this.applyStatus(JSON.parse(event.data)));
    source.addEventListener("end", () => this.stop());
  }

  stop() {
    if (this.source) { this.source.close(); this.source = null; }
    this.setLive("");
  }

  setLive(text) {
    const live = this.q("live");
    if (live) live.textContent = text;
  }

  applySnapshot(snap, render) {
    this.execution = snap.execution;
    this.runs = {};
    for (const run of snap.execution.nodeRuns || []) this.runs[run.nodeId] = run;
    const key = JSON.stringify(snap.graph);
    if (key !== this.graphKey) {  // a retry on another version may change the graph
      this.graphKey = key;
      this.canvas.setGraph(graphData(snap.graph));
    }
    if (!render) return;
    for (const run of Object.values(this.runs)) this.paintNode(run);
    this.paintHeader();
    this.paintTimeline();
    this.paintActions(snap.execution.operatorActions);
    if (this.selected) this.paintDetails();
  }

  applyNode(data) {
    const run = this.runs[data.nodeId] || { nodeId: data.nodeId, logs: [] };
    for (const key of ["label", "status", "attempt", "output", "error", "startedAt", "finishedAt"]) {
      if (key in data && !(key === "startedAt" && data[key] == null && run.startedAt)) run[key] = data[key];
    }
    // A node made ready is claimed a moment later; until its own update says when, show it
    // in the timeline from when we heard it started.
    if (run.status === "running" && !run.startedAt) run.startedAt = new Date().toISOString();
    this.runs[data.nodeId] = run;
    this.paintNode(run);
    this.paintTimeline();
    if (this.selected === data.nodeId) this.refreshDetails();
  }

  applyStatus(data) {
    const changed = data.status !== this.execution.status;
    this.execution.status = data.status;
    this.execution.error = data.error;
    if (data.context !== undefined) this.execution.context = data.context;
    if (data.finishedAt !== undefined) this.execution.finishedAt = data.finishedAt;
    // Which actions apply is the server's rule (allowedActions): none until it answers again.
    if (changed) this.execution.allowedActions = [];
    this.paintHeader();
    if (changed) this.refresh();  // the server's allowed actions, and who acted and why
  }

  /* Operator actions (who cancelled, retried or ran it again, when and why), under the timeline. */
  paintActions(actions) {
    const body = this.q("operator-actions");
    if (!body || !Array.isArray(actions)) return;
    if (!actions.length) {
      body.replaceChildren(el("tr", { className: "wf-empty" }, [el("td", { colspan: "4", className: "muted", text: "No one has acted on this execution." })]));
      return;
    }
    const names = { cancel: "Cancel", retry: "Retry", run_again: "Run again" };
    body.replaceChildren(...actions.map((a) => {
      const details = a.details || {};
      const what = [names[a.action] || a.action];
      if (details.fromNode) what.push(" from " + details.fromNode);
      if (details.newExecutionId) what.push(" → ", el("a", { href: `/workflows/executions/${details.newExecutionId}/`, text: "new execution" }));
      if (details.bulkOperationId) what.push(" ", el("span", { className: "muted", text: "(bulk)" }));
      return el("tr", { "data-action": a.action }, [
        el("td", {}, [el("time", { datetime: a.createdAt, text: formatTime(a.createdAt) })]),
        el("td", { text: a.user }),
        el("td", {}, what),
        el("td", { "data-role": "reason", text: a.reason || "—" }),
      ]);
    }));
  }

  paintNode(run) {
    this.canvas.setStatus(run.nodeId, run.status, run.attempt > 1 ? " · attempt " + run.attempt : "");
  }

  paintHeader() {
    const status = this.execution.status;
    this.root.setAttribute("data-status", status);
    const holder = this.q("status");
    if (holder) {
      holder.className = "badge status-" + status;
      holder.replaceChildren(el("span", { "aria-hidden": "true", text: STATUS_ICONS[status] || "•" }), " " + status);
    }
    const started = this.q("started");
    if (started && this.execution.startedAt) started.textContent = formatTime(this.execution.startedAt);
    const finished = this.q("finished");
    if (finished) finished.textContent = this.execution.finishedAt ? formatTime(this.execution.finishedAt) : "—";
    const duration = this.q("duration");
    if (duration) duration.textContent = formatDuration(seconds(this.execution.startedAt, this.execution.finishedAt)) || "—";
    const error = this.q("error");
    if (error) {
      error.hidden = !this.execution.error;
      this.q("error-text").textContent = this.execution.error ? this.execution.error.message || "" : "";
    }
    const actions = this.execution.allowedActions || [];
    for (const action of ["cancel", "retry"]) {
      const form = this.q(action);
      if (form) form.hidden = !actions.includes(action);
    }
    this.paintContext();
  }

  paintContext() {
    const pre = this.q("context");
    if (!pre || this.execution.context === undefined) return;
    const finished = !!FINISHED[this.execution.status];
    const text = pretty(this.execution.context);
    if (pre.textContent !== text) pre.textContent = text;
    const title = this.q("context-title");
    const label = finished ? "Output (final context)" : "Context so far";
    if (title && title.textContent !== label) {
      title.textContent = label;
      if (finished) this.q("context-panel").open = true;
    }
  }

  paintTimeline() {
    const body = this.q("timeline");
    if (!body) return;
    const started = Object.values(this.runs).filter((run) => run.startedAt)
      .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    if (!started.length) {
      body.replaceChildren(el("tr", { className: "wf-empty" }, [el("td", { colspan: "6", className: "muted", text: "No node has started yet." })]));
      return;
    }
    body.replaceChildren(...started.map((run) => {
      const info = waiting(run);
      let wait = null;
      if (info.approvalUrl) wait = el("a", { href: info.approvalUrl, text: "Approval request" });
      else if (info.eventNamespace) wait = "event " + info.eventNamespace + " / " + (info.eventKey || "");
      else if (info.until && run.status === "paused") wait = "until " + formatTime(info.until);
      return el("tr", { "data-node-id": run.nodeId }, [
        el("td", {}, [el("button", { type: "button", className: "link", "data-open-node": run.nodeId, text: run.label || run.nodeId })]),
        el("td", {}, [badge(run.status)]),
        el("td", {}, [el("time", { datetime: run.startedAt, text: clock(run.startedAt) })]),
        el("td", { text: formatDuration(seconds(run.startedAt, run.finishedAt)) || "…" }),
        el("td", { text: String(run.attempt || 0) }),
        el("td", {}, [wait]),
      ]);
    }));
  }

  select(nodeId) {
    this.selected = nodeId;
    this.canvas.select(nodeId ? [nodeId] : []);
    const panel = this.q("details");
    panel.hidden = !nodeId;
    if (!nodeId) return;
    this.paintDetails();
    this.refresh();
    panel.scrollIntoView({ block: "nearest" });
  }

  refreshDetails() {
    this.refresh();
  }

  // Live updates carry no logs, resolved config, pause details or allowed actions: read the
  // full execution (one request) when a node is opened or changes, or the status changes.
  refresh() {
    fetch(this.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => {
        if (!data) return;
        for (const run of data.nodeRuns || []) { this.runs[run.nodeId] = run; this.paintNode(run); }
        if (data.status === this.execution.status) this.execution.allowedActions = data.allowedActions;
        this.execution.context = data.context;
        this.paintHeader();
        this.paintActions(data.operatorActions);
        if (this.selected) this.paintDetails();
      })
      .catch(() => { /* the cached details stay on screen */ });
  }

  paintDetails() {
    const run = this.runs[this.selected] || { nodeId: this.selected, status: "idle" };
    this.q("details-title").replaceChildren(...detailsTitle(run));
    const body = this.q("details-body");
    // Keep a flash message (signal sent) across the repaint that follows it.
    const flash = this.flashNode === this.selected ? body.querySelector('[data-role="details-flash"]') : null;
    body.replaceChildren(...(flash ? [flash] : []), ...detailsBody(run, { onSignal: (wait) => this.openSignalDialog(wait) }));
  }

  /* The operator's "send signal" dialog: a JSON payload checked as it is typed, posted to the
     session-authenticated endpoint the server named (signalUrl); no API key in the browser. */
  openSignalDialog(wait) {
    const dialog = this.signalDialog || this.buildSignalDialog();
    dialog.wfWait = wait;
    dialog.querySelector('[data-role="signal-target"]').textContent = wait.namespace + " / " + wait.key;
    const payload = dialog.querySelector('[data-role="signal-payload"]');
    if (!payload.value.trim()) payload.value = "{}";
    this.checkPayload();
    dialog.showModal();
    payload.focus();
  }

  buildSignalDialog() {
    const id = "signal-" + this.root.id;
    const payload = el("textarea", { id: id + "-payload", rows: "8", spellcheck: "false", "data-role": "signal-payload", className: "wf-code" });
    const problem = el("p", { className: "wf-form-errors", role: "alert", "data-role": "signal-error", hidden: true });
    const send = el("button", { type: "submit", className: "primary", "data-role": "signal-send", text: "Send signal" });
    const cancel = el("button", { type: "button", text: "Cancel" });
    const form = el("form", { className: "wf-signal-form" }, [
      el("h3", { id: id + "-title", text: "Send signal" }),
      el("p", {}, ["Delivers event ", el("code", { "data-role": "signal-target" }),
        " to this execution as you; the waiting node continues at once."]),
      el("label", { for: id + "-payload", text: "Payload (JSON object)" }),
      payload,
      el("p", { className: "muted", "data-role": "signal-check", "aria-live": "polite" }),
      problem,
      el("div", { className: "wf-dialog-buttons" }, [cancel, send]),
    ]);
    const dialog = el("dialog", { className: "wf-signal-dialog", "data-role": "signal-dialog", "aria-labelledby": id + "-title" }, [form]);
    payload.addEventListener("input", () => this.checkPayload());
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (event) => { event.preventDefault(); this.sendSignal(); });
    this.root.append(dialog);
    this.signalDialog = dialog;
    return dialog;
  }

  /* The payload typed so far: {value} when it is a JSON object, else {problem}. */
  checkPayload() {
    const dialog = this.signalDialog;
    const text = dialog.querySelector('[data-role="signal-payload"]').value;
    let result;
    try {
      const value = text.trim() ? JSON.parse(text) : {};
      result = value && typeof value === "object" && !Array.isArray(value) ? { value } : { problem: "payload must be a JSON object" };
    } catch (error) {
      result = { problem: "payload is not valid JSON: " + error.message };
    }
    const check = dialog.querySelector('[data-role="signal-check"]');
    check.textContent = result.problem || "Valid JSON object.";
    check.className = result.problem ? "wf-invalid" : "muted";
    dialog.querySelector('[data-role="signal-send"]').disabled = !!result.problem;
    return result;
  }

  sendSignal() {
    const dialog = this.signalDialog;
    const problem = dialog.querySelector('[data-role="signal-error"]');
    const { value, problem: invalid } = this.checkPayload();
    if (invalid) return;
    const send = dialog.querySelector('[data-role="signal-send"]');
    send.disabled = true;
    problem.hidden = true;
    fetch(dialog.wfWait.signalUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.root.getAttribute("data-csrf") || "" },
      body: JSON.stringify({ payload: value }),
    })
      .then((response) => response.json().catch(() => ({})).then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.message || "The signal was refused");
        dialog.close();
        const flash = el("p", { className: "wf-flash", role: "status", "data-role": "details-flash", text: "Signal delivered: the execution continues." });
        const old = this.root.querySelector('[data-role="details-flash"]');
        if (old) old.remove();
        this.q("details-body").prepend(flash);
        this.flashNode = this.selected;
        this.refresh();
      })
      .catch((error) => { problem.textContent = error.message; problem.hidden = false; })
      .finally(() => { send.disabled = false; });
  }
}

export function init(root) {
  if (!root || root.wfViewer) return root && root.wfViewer;
  root.wfViewer = new Viewer(root);
  root.wfViewer.start();
  return root.wfViewer;
}

function boot() {
  document.querySelectorAll(".wf-viewer").forEach((root) => {
    if (!root.closest("dialog")) init(root);
  });
  document.querySelectorAll("[data-open-viewer]").forEach((button) => {
    const dialog = document.getElementById(button.getAttribute("data-open-viewer"));
    if (!dialog) return;
    button.addEventListener("click", () => {
      dialog.showModal();
      const viewer = init(dialog.querySelector(".wf-viewer"));
      if (viewer) viewer.start();
    });
    dialog.addEventListener("close", () => {
      const root = dialog.querySelector(".wf-viewer");
      if (root && root.wfViewer) root.wfViewer.stop();
    });
  });
}

window.WorkflowViewer = { init };
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
