/* A node run's details (the viewer's side panel, and the builder's after a test run):
   facts, what it waits for, error, resolved config, output and log entries.
   What a paused node waits for comes from the API (`waitingFor`, described by its node
   type on the server); this module only renders it. */
import { badge, clock, copyText, el, formatDuration, formatTime, pretty, seconds, timeLeft, waiting } from "./dom.js";

export function detailsTitle(run) {
  return [run.label || run.nodeId, " ", badge(run.status || "idle")];
}

function facts(rows) {
  return el("dl", { className: "wf-facts" }, rows.filter(Boolean).map((row) =>
    el("div", {}, [el("dt", { text: row[0] }), el("dd", {}, Array.isArray(row[1]) ? row[1] : [row[1]])])));
}

function deadline(iso, none) {
  if (!iso) return none;
  return [el("time", { datetime: iso, text: formatTime(iso) }), " (",
    el("span", { className: "wf-time-left", "data-deadline": iso, text: timeLeft(iso) }), ")"];
}

function names(list) {
  return list && list.length ? list.join(", ") : "—";
}

/* An approval's status as icon and word (pending, approved, rejected, expired, cancelled). */
function approvalBadge(status) {
  const like = { pending: "paused", approved: "success", rejected: "error", expired: "cancelled", cancelled: "cancelled" }[status] || "idle";
  const icon = { pending: "‖", approved: "✓", rejected: "✕", expired: "⌛", cancelled: "⊘" }[status] || "•";
  return el("span", { className: "badge status-" + like }, [el("span", { "aria-hidden": "true", text: icon }), " " + status]);
}

function approvalPanel(w) {
  const approved = (w.decisions || []).filter((d) => d.decision === "approved").length;
  let policy = w.policyLabel || w.policy;
  if (w.policy === "all") policy += ` · ${approved} of ${w.requiredApprovals} approvals`;
  const decisions = (w.decisions || []).length
    ? el("ul", { className: "wf-decisions", "data-role": "approval-decisions" }, w.decisions.map((d) => el("li", {}, [
      approvalBadge(d.decision), " ", el("strong", { text: d.user }), " ",
      el("span", { className: "muted" }, ["· ", el("time", { datetime: d.at, text: formatTime(d.at) }), " · via " + d.channel]),
      d.comment ? el("div", { className: "wf-comment", text: "“" + d.comment + "”" }) : null,
    ])))
    : el("p", { className: "muted", "data-role": "approval-decisions", text: "No decisions yet." });
  return [
    el("h4", { text: "Waiting for approval" }),
    el("div", { className: "wf-pause", "data-role": "approval-panel" }, [
      facts([
        ["Request", w.title],
        ["Status", approvalBadge(w.status)],
        ["Policy", el("span", { "data-role": "approval-policy", text: policy })],
        ["Approvers", el("span", { "data-role": "approval-approvers", text: names(w.approvers) })],
        (w.approverRoles || []).length ? ["Roles", names(w.approverRoles)] : null,
        ["May decide", names(w.eligible)],
        ["Deadline", el("span", { "data-role": "approval-deadline" }, [].concat(deadline(w.deadline, "none")))],
        ["Requested", formatTime(w.requestedAt)],
      ]),
      el("h5", { text: "Decisions" }),
      decisions,
      el("p", {}, [el("a", {
        className: "button", href: w.url, "data-role": "approval-link",
        text: w.canDecide ? "Decide on the approval page" : "Open the approval page",
      })]),
    ]),
  ];
}

function signalList(signals) {
  if (!signals || !signals.length) return el("p", { className: "muted", "data-role": "buffered-signals", text: "No signal is buffered for this key." });
  return el("ul", { className: "wf-decisions", "data-role": "buffered-signals" }, signals.map((s) => el("li", {}, [
    el("time", { datetime: s.receivedAt, text: formatTime(s.receivedAt) }), " from " + (s.receivedFrom || "—"),
    el("span", { className: "muted", text: " · kept until " + formatTime(s.expiresAt) }),
    el("pre", { className: "wf-pre-wrap", text: pretty(s.payload) }),
  ])));
}

function eventPanel(w, options) {
  const copied = el("span", { className: "muted", "aria-live": "polite" });
  const copy = el("button", { type: "button", className: "link", "data-role": "copy-curl", text: "Copy" });
  copy.addEventListener("click", () => copyText(w.curl).then((ok) => { copied.textContent = ok ? " copied" : " select and copy it"; }));
  const send = w.canSignal && options.onSignal
    ? el("button", { type: "button", className: "primary", "data-role": "send-signal", text: "Send signal…" })
    : null;
  if (send) send.addEventListener("click", () => options.onSignal(w));
  return [
    el("h4", { text: "Waiting for event" }),
    el("div", { className: "wf-pause", "data-role": "event-panel" }, [
      facts([
        ["Namespace", el("code", { "data-role": "event-namespace", text: w.namespace })],
        ["Key", el("code", { "data-role": "event-key", text: w.key })],
        w.title ? ["Title", w.title] : null,
        ["Since", formatTime(w.since)],
        ["Deadline", el("span", { "data-role": "event-deadline" }, [].concat(deadline(w.deadline, "none (waits until signalled)")))],
        ["On expiration", w.onExpiration === "continue" ? "continue (status expired)" : "fail the node"],
      ]),
      w.description ? el("p", { className: "wf-pre-wrap", text: w.description }) : null,
      el("h5", { text: "Buffered signals for this key" }),
      signalList(w.bufferedSignals),
      send ? el("p", {}, [send]) : null,
      el("h5", {}, ["From a script ", copy, copied]),
      el("pre", { className: "wf-pre-wrap wf-curl", "data-role": "signal-curl", text: w.curl }),
      el("p", { className: "muted wf-hint", text: "Set WORKFLOW_API_KEY to a workflow API key of this tenant (created in the admin or with create_api_key)." }),
    ]),
  ];
}

function genericWaiting(run) {
  const info = waiting(run);
  if (!(run.status === "paused" || info.approvalUrl || info.eventNamespace)) return [];
  const items = [];
  if (info.approvalUrl) items.push(el("li", {}, ["Approval: ", el("a", { href: info.approvalUrl, text: "open approval request" })]));
  if (info.eventNamespace || info.eventKey) items.push(el("li", { text: "Event: namespace " + (info.eventNamespace || "—") + ", key " + (info.eventKey || "—") }));
  if (info.until) items.push(el("li", {}, ["Until: " + formatTime(info.until) + " (", el("span", { className: "wf-time-left", "data-deadline": info.until, text: timeLeft(info.until) }), ")"]));
  return items.length ? [el("h4", { text: "Waiting for" }), el("ul", { className: "wf-waiting" }, items)] : [];
}

/* `options.onSignal(wait)` opens the viewer's send-signal dialog (absent: no button). */
export function detailsBody(run, options = {}) {
  const rows = [
    ["Node id", run.nodeId], ["Type", run.type || ""], ["Attempts", String(run.attempt || 0)],
    ["Started", formatTime(run.startedAt)], ["Finished", formatTime(run.finishedAt)],
    ["Duration", formatDuration(seconds(run.startedAt, run.finishedAt)) || "—"],
  ];
  if (run.branch) rows.push(["Branch", run.branch]);
  const parts = [facts(rows)];
  const w = run.status === "paused" ? run.waitingFor : null;
  if (w && w.kind === "approval") parts.push(...approvalPanel(w));
  else if (w && w.kind === "event") parts.push(...eventPanel(w, options));
  else parts.push(...genericWaiting(run));
  if (run.error) {
    const text = run.error.message ? run.error.message + (run.error.details ? "\n" + pretty(run.error.details) : "") : pretty(run.error);
    parts.push(el("h4", { text: "Error" }), el("pre", { className: "wf-pre-error wf-pre-wrap", "data-role": "details-error", text }));
  }
  if (run.resolvedConfig != null) parts.push(el("h4", { text: "Config (resolved)" }), el("pre", { className: "wf-pre-wrap", "data-role": "details-config", text: pretty(run.resolvedConfig) }));
  if (run.output != null) parts.push(el("h4", { text: "Output" }), el("pre", { className: "wf-pre-wrap", "data-role": "details-output", text: pretty(run.output) }));
  const logs = run.logs || [];
  parts.push(el("h4", { text: "Log" }));
  parts.push(logs.length ? el("ol", { className: "wf-logs" }, logs.map((entry) => el("li", { className: "log-" + entry.type }, [
    el("time", { datetime: entry.timestamp, text: clock(entry.timestamp) }),
    " ", el("strong", { text: entry.type }), " ", entry.message || "",
  ]))) : el("p", { className: "muted", text: "No log entries." }));
  return parts;
}
