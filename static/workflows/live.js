/* Live executions tables and health figures on the workflow pages: one EventSource per
   table on GET /api/executions/events/ (status changes of your tenants' executions).
   A new execution gets one GET of its summary; health figures are re-read when a run
   finishes. No polling. */
(function () {
  "use strict";

  var ICONS = { running: "▶", paused: "‖", success: "✓", error: "✕", cancelled: "⊘" };
  var FINISHED = { success: true, error: true, cancelled: true };

  function badge(status) {
    var span = document.createElement("span");
    span.className = "badge status-" + status;
    var icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = ICONS[status] || "•";
    span.append(icon, " " + status);
    return span;
  }

  function cell(text) {
    var td = document.createElement("td");
    if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? "" : text;
    return td;
  }

  function duration(started, finished) {
    if (!started || !finished) return "…";
    var s = Math.max(0, (Date.parse(finished) - Date.parse(started)) / 1000);
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + String(Math.floor(s % 60)).padStart(2, "0") + " s";
    return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
  }

  function stamp(iso) {
    var d = new Date(iso), p = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  function percent(v) { return v == null ? "—" : (v * 100).toFixed(1) + " %"; }
  function secs(v) { return v == null ? "—" : duration(new Date(0).toISOString(), new Date(v * 1000).toISOString()); }

  function LiveTable(table) {
    this.table = table;
    this.body = table.querySelector("tbody");
    this.showWorkflow = table.querySelectorAll("thead th").length === 6;
    var names = document.getElementById(table.getAttribute("data-names"));
    this.names = names ? JSON.parse(names.textContent) : {};
    this.limit = parseInt(table.getAttribute("data-limit") || "20", 10);
  }

  LiveTable.prototype.row = function (id) {
    return this.body.querySelector('tr[data-execution-id="' + id + '"]');
  };

  LiveTable.prototype.update = function (data) {
    var row = this.row(data.executionId);
    if (!row) { this.insert(data); return; }
    var status = row.querySelector('[data-role="status"]');
    status.replaceChildren(badge(data.status));
    if (FINISHED[data.status] && row.getAttribute("data-started")) {
      row.querySelector('[data-role="duration"]').textContent = duration(row.getAttribute("data-started"), data.finishedAt);
    }
  };

  LiveTable.prototype.insert = function (data) {
    var self = this;
    var empty = this.body.querySelector(".wf-empty");
    if (empty) empty.remove();
    var row = document.createElement("tr");
    row.setAttribute("data-execution-id", data.executionId);
    var link = document.createElement("a");
    link.href = "/workflows/executions/" + data.executionId + "/";
    var code = document.createElement("code");
    code.textContent = data.executionId.slice(0, 8);
    link.appendChild(code);
    var first = cell(link);
    if (data.isTest) { first.append(" "); var t = document.createElement("span"); t.className = "badge wf-test"; t.textContent = "test"; first.appendChild(t); }
    var cells = [first];
    if (this.showWorkflow) cells.push(cell(this.names[data.workflowId] || ""));
    var status = cell(badge(data.status)); status.setAttribute("data-role", "status");
    var runAs = cell("…"), started = cell("…"), took = cell("…");
    took.setAttribute("data-role", "duration");
    cells.push(status, runAs, started, took);
    row.append.apply(row, cells);
    this.body.insertBefore(row, this.body.firstChild);
    while (this.body.rows.length > this.limit) this.body.deleteRow(this.body.rows.length - 1);
    fetch("/api/executions/" + data.executionId + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (e) {
        if (!e) return;
        runAs.textContent = e.runAs;
        started.replaceChildren(Object.assign(document.createElement("time"), { dateTime: e.createdAt, textContent: stamp(e.createdAt) }));
        row.setAttribute("data-started", e.startedAt || e.createdAt);
        if (self.showWorkflow && !self.names[e.workflowId]) cells[1].textContent = e.workflowName;
        if (e.finishedAt) took.textContent = duration(e.startedAt, e.finishedAt);
      })
      .catch(function () {});
  };

  var pendingHealth = {};

  function refreshHealth(workflowId) {
    var targets = document.querySelectorAll('[data-health-for="' + workflowId + '"]');
    if (!targets.length || pendingHealth[workflowId]) return;
    pendingHealth[workflowId] = setTimeout(function () {
      delete pendingHealth[workflowId];
      fetch("/api/workflows/" + workflowId + "/stats/", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (stats) { if (stats) targets.forEach(function (t) { paintHealth(t, stats); }); })
        .catch(function () {});
    }, 500);
  }

  function paintHealth(target, stats) {
    var rows = target.hasAttribute("data-window") ? [target] : target.querySelectorAll("[data-window]");
    rows.forEach(function (row) {
      var w = stats.windows[row.getAttribute("data-window")];
      if (!w) return;
      row.querySelectorAll("[data-stat]").forEach(function (td) {
        var key = td.getAttribute("data-stat");
        var v = w[key];
        td.textContent = key === "failureRate" ? percent(v) : /Seconds$/.test(key) ? secs(v) : String(v);
      });
    });
    var top = target.querySelector('[data-role="top-nodes"]');
    if (top) {
      var items = stats.topFailingNodes.map(function (n) {
        var li = document.createElement("li");
        var strong = document.createElement("strong");
        strong.textContent = n.label;
        li.append(strong, " — " + n.failures + " failure" + (n.failures === 1 ? "" : "s") + ", " + n.retries + (n.retries === 1 ? " retry" : " retries"));
        return li;
      });
      if (!items.length) { var li = document.createElement("li"); li.className = "muted"; li.textContent = "No failures or retries."; items.push(li); }
      top.replaceChildren.apply(top, items);
    }
  }

  function paintLastRun(data) {
    if (data.isTest) return;
    document.querySelectorAll('[data-last-run-for="' + data.workflowId + '"]').forEach(function (cell) {
      var link = document.createElement("a");
      link.href = "/workflows/executions/" + data.executionId + "/";
      link.appendChild(badge(data.status));
      var when = document.createElement("span");
      when.className = "muted";
      when.textContent = " just now";
      cell.replaceChildren(link, when);
    });
  }

  function setIndicator(text) {
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) { el.textContent = text; });
  }

  function boot() {
    if (!window.EventSource) return;
    document.querySelectorAll("table[data-live-executions]").forEach(function (table) {
      var live = new LiveTable(table);
      var source = new EventSource(table.getAttribute("data-events-url"));
      source.addEventListener("open", function () { setIndicator("● live"); });
      source.addEventListener("error", function () { setIndicator("reconnecting…"); });
      source.addEventListener("status", function (event) {
        var data = JSON.parse(event.data);
        live.update(data);
        paintLastRun(data);
        if (FINISHED[data.status] && !data.isTest) refreshHealth(data.workflowId);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
