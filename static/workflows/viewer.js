/* The execution viewer: keeps a server-rendered viewer (templates/workflows/_viewer.html)
   live over server-sent events, and shows a node's details when it is selected.
   Framework-free; every .wf-viewer on the page (outside a closed dialog) starts by itself. */
(function () {
  "use strict";

  var ICONS = { idle: "○", running: "▶", paused: "‖", success: "✓", error: "✕", skipped: "↷", cancelled: "⊘" };
  var FINISHED = { success: true, error: true, cancelled: true };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function badge(status) {
    return el("span", { className: "badge status-" + status }, [
      el("span", { "aria-hidden": "true", text: ICONS[status] || "•" }), " " + status,
    ]);
  }

  function seconds(startedAt, finishedAt) {
    if (!startedAt || !finishedAt) return null;
    return Math.max(0, (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
  }

  function formatDuration(value) {
    if (value == null) return "";
    if (value < 1) return Math.round(value * 1000) + " ms";
    if (value < 60) return value.toFixed(1) + " s";
    if (value < 3600) return Math.floor(value / 60) + " min " + String(Math.floor(value % 60)).padStart(2, "0") + " s";
    return Math.floor(value / 3600) + " h " + String(Math.floor((value % 3600) / 60)).padStart(2, "0") + " min";
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // The same shapes as the server renders: 2026-01-31 14:05:09 and 14:05:09 (local time).
  function formatTime(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(iso);
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function waiting(run) {
    var info = {};
    [run.output, run.pauseData].forEach(function (source) {
      if (source && typeof source === "object" && !Array.isArray(source)) {
        ["approvalRequestId", "eventNamespace", "eventKey", "until"].forEach(function (key) {
          if (source[key] != null && source[key] !== "") info[key] = source[key];
        });
      }
    });
    if (info.approvalRequestId) info.approvalUrl = "/workflows/approvals/" + encodeURIComponent(info.approvalRequestId);
    return info;
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function Viewer(root) {
    this.root = root;
    this.id = root.getAttribute("data-execution-id");
    this.eventsUrl = root.getAttribute("data-events-url");
    this.detailUrl = root.getAttribute("data-detail-url");
    this.runs = {};
    this.execution = {};
    this.selected = null;
    this.source = null;
    var data = document.getElementById(root.getAttribute("data-snapshot-id"));
    if (data) this.applySnapshot(JSON.parse(data.textContent), false);
    this.paintHeader();  // local times in place of the server's
    this.bind();
  }

  Viewer.prototype.q = function (role) {
    return this.root.querySelector('[data-role="' + role + '"]');
  };

  Viewer.prototype.bind = function () {
    var self = this;
    this.root.querySelectorAll(".wf-node[data-node-id]").forEach(function (node) {
      node.addEventListener("click", function () { self.select(node.getAttribute("data-node-id")); });
      node.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); self.select(node.getAttribute("data-node-id")); }
      });
    });
    this.root.addEventListener("click", function (event) {
      var opener = event.target.closest("[data-open-node]");
      if (opener) self.select(opener.getAttribute("data-open-node"));
    });
    var close = this.q("details-close");
    if (close) close.addEventListener("click", function () { self.select(null); });
  };

  Viewer.prototype.start = function () {
    if (this.source || FINISHED[this.execution.status] || !window.EventSource) {
      this.setLive("");
      return;
    }
    var self = this;
    var source = new EventSource(this.eventsUrl);
    this.source = source;
    source.addEventListener("open", function () { self.setLive("● live"); });
    source.addEventListener("error", function () { if (self.source) self.setLive("reconnecting…"); });
    source.addEventListener("snapshot", function (event) { self.applySnapshot(JSON.parse(event.data), true); });
    source.addEventListener("node", function (event) { self.applyNode(JSON.parse(event.data)); });
    source.addEventListener("status", function (event) { self.applyStatus(JSON.parse(event.data)); });
    source.addEventListener("end", function () { self.stop(); });
  };

  Viewer.prototype.stop = function () {
    if (this.source) { this.source.close(); this.source = null; }
    this.setLive("");
  };

  Viewer.prototype.setLive = function (text) {
    var live = this.q("live");
    if (live) live.textContent = text;
  };

  Viewer.prototype.applySnapshot = function (snap, render) {
    var self = this;
    this.execution = snap.execution;
    this.runs = {};
    (snap.execution.nodeRuns || []).forEach(function (run) { self.runs[run.nodeId] = run; });
    if (!render) return;
    Object.keys(this.runs).forEach(function (id) { self.paintNode(self.runs[id]); });
    this.paintHeader();
    this.paintTimeline();
    if (this.selected) this.paintDetails();
  };

  Viewer.prototype.applyNode = function (data) {
    var run = this.runs[data.nodeId] || { nodeId: data.nodeId, logs: [] };
    ["label", "status", "attempt", "output", "error", "startedAt", "finishedAt"].forEach(function (key) {
      if (key in data && !(key === "startedAt" && data[key] == null && run.startedAt)) run[key] = data[key];
    });
    // A node made ready is claimed a moment later; until its own update says when, show it
    // in the timeline from when we heard it started.
    if (run.status === "running" && !run.startedAt) run.startedAt = new Date().toISOString();
    this.runs[data.nodeId] = run;
    this.paintNode(run);
    this.paintTimeline();
    if (this.selected === data.nodeId) this.refreshDetails();
  };

  Viewer.prototype.applyStatus = function (data) {
    this.execution.status = data.status;
    this.execution.error = data.error;
    if (data.finishedAt !== undefined) this.execution.finishedAt = data.finishedAt;
    this.paintHeader();
  };

  Viewer.prototype.paintNode = function (run) {
    var node = this.root.querySelector('.wf-node[data-node-id="' + CSS.escape(run.nodeId) + '"]');
    if (!node) return;
    node.setAttribute("class", "wf-node status-" + run.status + (this.selected === run.nodeId ? " selected" : ""));
    node.setAttribute("data-status", run.status);
    node.setAttribute("aria-label", (run.label || run.nodeId) + ": " + run.status);
    var icon = node.querySelector(".wf-node-icon");
    var text = node.querySelector(".wf-node-status-text");
    if (icon) icon.textContent = ICONS[run.status] || "•";
    if (text) text.textContent = run.status + (run.attempt > 1 ? " · attempt " + run.attempt : "");
  };

  Viewer.prototype.paintHeader = function () {
    var status = this.execution.status;
    this.root.setAttribute("data-status", status);
    var holder = this.q("status");
    if (holder) {
      holder.className = "badge status-" + status;
      holder.replaceChildren(el("span", { "aria-hidden": "true", text: ICONS[status] || "•" }), " " + status);
    }
    var started = this.q("started");
    if (started && this.execution.startedAt) started.textContent = formatTime(this.execution.startedAt);
    var finished = this.q("finished");
    if (finished) finished.textContent = this.execution.finishedAt ? formatTime(this.execution.finishedAt) : "—";
    var duration = this.q("duration");
    if (duration) duration.textContent = formatDuration(seconds(this.execution.startedAt, this.execution.finishedAt)) || "—";
    var error = this.q("error");
    if (error) {
      error.hidden = !this.execution.error;
      this.q("error-text").textContent = this.execution.error ? this.execution.error.message || "" : "";
    }
    var cancel = this.q("cancel");
    if (cancel) cancel.hidden = !!FINISHED[status];
    var retry = this.q("retry");
    if (retry) retry.hidden = !(status === "error" || status === "cancelled");
  };

  Viewer.prototype.paintTimeline = function () {
    var body = this.q("timeline");
    if (!body) return;
    var self = this;
    var started = Object.keys(this.runs).map(function (id) { return self.runs[id]; })
      .filter(function (run) { return run.startedAt; })
      .sort(function (a, b) { return Date.parse(a.startedAt) - Date.parse(b.startedAt); });
    if (!started.length) {
      body.replaceChildren(el("tr", { className: "wf-empty" }, [el("td", { colspan: "6", className: "muted", text: "No node has started yet." })]));
      return;
    }
    body.replaceChildren.apply(body, started.map(function (run) {
      var info = waiting(run);
      var wait = null;
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
  };

  Viewer.prototype.select = function (nodeId) {
    var self = this;
    this.selected = nodeId;
    this.root.querySelectorAll(".wf-node").forEach(function (node) {
      node.classList.toggle("selected", node.getAttribute("data-node-id") === nodeId);
    });
    var panel = this.q("details");
    panel.hidden = !nodeId;
    if (!nodeId) return;
    this.paintDetails();
    this.refreshDetails();
    panel.scrollIntoView({ block: "nearest" });
  };

  // Live node updates carry no logs or resolved config: read the full execution on demand.
  Viewer.prototype.refreshDetails = function () {
    var self = this;
    fetch(this.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        (data.nodeRuns || []).forEach(function (run) { self.runs[run.nodeId] = run; self.paintNode(run); });
        if (self.selected) self.paintDetails();
      })
      .catch(function () { /* the cached details stay on screen */ });
  };

  Viewer.prototype.paintDetails = function () {
    var run = this.runs[this.selected] || { nodeId: this.selected, status: "idle" };
    this.q("details-title").replaceChildren(run.label || run.nodeId, " ", badge(run.status));
    var rows = [
      ["Node id", run.nodeId], ["Type", run.type || ""], ["Attempts", String(run.attempt || 0)],
      ["Started", formatTime(run.startedAt)], ["Finished", formatTime(run.finishedAt)],
      ["Duration", formatDuration(seconds(run.startedAt, run.finishedAt)) || "—"],
    ];
    if (run.branch) rows.push(["Branch", run.branch]);
    var info = waiting(run);
    var parts = [el("dl", { className: "wf-facts" }, rows.map(function (row) {
      return el("div", {}, [el("dt", { text: row[0] }), el("dd", { text: row[1] })]);
    }))];
    if (run.status === "paused" || info.approvalUrl || info.eventNamespace) {
      var items = [];
      if (info.approvalUrl) items.push(el("li", {}, ["Approval: ", el("a", { href: info.approvalUrl, text: "open approval request" })]));
      if (info.eventNamespace || info.eventKey) items.push(el("li", { text: "Event: namespace " + (info.eventNamespace || "—") + ", key " + (info.eventKey || "—") }));
      if (info.until) items.push(el("li", { text: "Until: " + formatTime(info.until) }));
      if (items.length) parts.push(el("h4", { text: "Waiting for" }), el("ul", { className: "wf-waiting" }, items));
    }
    if (run.error) parts.push(el("h4", { text: "Error" }), el("pre", { className: "wf-pre-error", text: run.error.message ? run.error.message + (run.error.details ? "\n" + pretty(run.error.details) : "") : pretty(run.error) }));
    if (run.resolvedConfig != null) parts.push(el("h4", { text: "Config (resolved)" }), el("pre", { text: pretty(run.resolvedConfig) }));
    if (run.output != null) parts.push(el("h4", { text: "Output" }), el("pre", { "data-role": "details-output", text: pretty(run.output) }));
    var logs = run.logs || [];
    parts.push(el("h4", { text: "Log" }));
    parts.push(logs.length ? el("ol", { className: "wf-logs" }, logs.map(function (entry) {
      return el("li", { className: "log-" + entry.type }, [
        el("time", { datetime: entry.timestamp, text: clock(entry.timestamp) }),
        " ", el("strong", { text: entry.type }), " ", entry.message || "",
      ]);
    })) : el("p", { className: "muted", text: "No log entries." }));
    this.q("details-body").replaceChildren.apply(this.q("details-body"), parts);
  };

  function init(root) {
    if (!root || root.wfViewer) return root && root.wfViewer;
    root.wfViewer = new Viewer(root);
    root.wfViewer.start();
    return root.wfViewer;
  }

  function boot() {
    document.querySelectorAll(".wf-viewer").forEach(function (root) {
      if (!root.closest("dialog")) init(root);
    });
    document.querySelectorAll("[data-open-viewer]").forEach(function (button) {
      var dialog = document.getElementById(button.getAttribute("data-open-viewer"));
      if (!dialog) return;
      button.addEventListener("click", function () {
        dialog.showModal();
        var viewer = init(dialog.querySelector(".wf-viewer"));
        if (viewer) viewer.start();
      });
      dialog.addEventListener("close", function () {
        var root = dialog.querySelector(".wf-viewer");
        if (root && root.wfViewer) root.wfViewer.stop();
      });
    });
  }

  window.WorkflowViewer = { init: init };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
