/* A node run's details (the viewer's side panel, and the builder's after a test run):
   facts, what it waits for, error, resolved config, output and log entries. */
import { badge, clock, el, formatDuration, formatTime, pretty, seconds, waiting } from "./dom.js";

export function detailsTitle(run) {
  return [run.label || run.nodeId, " ", badge(run.status || "idle")];
}

export function detailsBody(run) {
  const rows = [
    ["Node id", run.nodeId], ["Type", run.type || ""], ["Attempts", String(run.attempt || 0)],
    ["Started", formatTime(run.startedAt)], ["Finished", formatTime(run.finishedAt)],
    ["Duration", formatDuration(seconds(run.startedAt, run.finishedAt)) || "—"],
  ];
  if (run.branch) rows.push(["Branch", run.branch]);
  const info = waiting(run);
  const parts = [el("dl", { className: "wf-facts" }, rows.map((row) => el("div", {}, [el("dt", { text: row[0] }), el("dd", { text: row[1] })])))];
  if (run.status === "paused" || info.approvalUrl || info.eventNamespace) {
    const items = [];
    if (info.approvalUrl) items.push(el("li", {}, ["Approval: ", el("a", { href: info.approvalUrl, text: "open approval request" })]));
    if (info.eventNamespace || info.eventKey) items.push(el("li", { text: "Event: namespace " + (info.eventNamespace || "—") + ", key " + (info.eventKey || "—") }));
    if (info.until) items.push(el("li", { text: "Until: " + formatTime(info.until) }));
    if (items.length) parts.push(el("h4", { text: "Waiting for" }), el("ul", { className: "wf-waiting" }, items));
  }
  if (run.error) {
    const text = run.error.message ? run.error.message + (run.error.details ? "\n" + pretty(run.error.details) : "") : pretty(run.error);
    parts.push(el("h4", { text: "Error" }), el("pre", { className: "wf-pre-error", "data-role": "details-error", text }));
  }
  if (run.resolvedConfig != null) parts.push(el("h4", { text: "Config (resolved)" }), el("pre", { "data-role": "details-config", text: pretty(run.resolvedConfig) }));
  if (run.output != null) parts.push(el("h4", { text: "Output" }), el("pre", { "data-role": "details-output", text: pretty(run.output) }));
  const logs = run.logs || [];
  parts.push(el("h4", { text: "Log" }));
  parts.push(logs.length ? el("ol", { className: "wf-logs" }, logs.map((entry) => el("li", { className: "log-" + entry.type }, [
    el("time", { datetime: entry.timestamp, text: clock(entry.timestamp) }),
    " ", el("strong", { text: entry.type }), " ", entry.message || "",
  ]))) : el("p", { className: "muted", text: "No log entries." }));
  return parts;
}
