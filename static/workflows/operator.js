/* Operator actions in the browser: the viewer's confirmation dialogs (cancel, retry, run
   again: forms posted to the server), and the executions page's bulk actions, which count
   what the filters select, ask to confirm, and follow the operation's progress
   (POST and GET /api/bulk-operations/). */

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function bindDialogs() {
  document.querySelectorAll("[data-open-dialog]").forEach((button) => {
    const dialog = document.getElementById(button.getAttribute("data-open-dialog"));
    if (!dialog) return;
    button.addEventListener("click", () => dialog.showModal());
    dialog.querySelectorAll("[data-close-dialog]").forEach((close) => close.addEventListener("click", () => dialog.close()));
  });
}

/* The page's query as the API's filters: `input` repeats, the rest are single values. */
export function filtersFromQuery(search) {
  const params = new URLSearchParams(search);
  const filters = {};
  for (const key of new Set(params.keys())) {
    if (key === "cursor" || key === "ordering" || key === "pageSize") continue;
    const values = params.getAll(key).filter((v) => v !== "");
    if (!values.length) continue;
    filters[key] = key === "input" ? values : values[values.length - 1];
  }
  return filters;
}

async function api(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || body.detail || `HTTP ${response.status}`);
  return body;
}

const WORDS = { cancel: ["Cancel", "running or paused"], retry: ["Retry from the failed node", "failed"] };

function bindBulk() {
  const dialog = document.querySelector('[data-role="bulk-dialog"]');
  if (!dialog) return;
  const q = (role) => dialog.querySelector(`[data-role="${role}"]`);
  const filters = filtersFromQuery(window.location.search);
  let action = null;
  let count = null;
  document.querySelectorAll("[data-bulk-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      action = button.getAttribute("data-bulk-action");
      count = null;
      q("bulk-title").textContent = WORDS[action][0] + ": executions matching the filters";
      q("bulk-count").textContent = "Counting…";
      q("bulk-status").textContent = "";
      q("bulk-progress").hidden = true;
      q("bulk-confirm").disabled = true;
      dialog.showModal();
      try {
        const answer = await api("/api/bulk-operations/", { method: "POST", body: JSON.stringify({ action, filters, dryRun: true }) });
        count = answer.count;
        q("bulk-count").textContent = `${count} ${WORDS[action][1]} execution(s) match. ${WORDS[action][0]} them all?`;
        q("bulk-confirm").disabled = count === 0;
      } catch (error) {
        q("bulk-count").textContent = "Could not count: " + error.message;
      }
    });
  });
  let ran = false;
  q("bulk-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (ran) window.location.reload(); });  // show the new statuses
  q("bulk-confirm").addEventListener("click", async () => {
    const reason = q("bulk-form").elements.reason.value.trim();
    if (!reason) { q("bulk-status").textContent = "Say why (reason)."; return; }
    q("bulk-confirm").disabled = true;
    try {
      let op = await api("/api/bulk-operations/", {
        method: "POST", body: JSON.stringify({ action, filters, reason, expectedCount: count }),
      });
      ran = true;
      const bar = q("bulk-progress");
      bar.hidden = false;
      while (true) {
        bar.max = Math.max(op.total, 1);
        bar.value = op.processed;
        q("bulk-status").textContent = `${op.processed} of ${op.total} done (${op.succeeded} succeeded, ${op.failed} failed)`
          + (op.status === "done" ? ". Finished." : "…");
        if (op.status === "done") break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        op = await api(`/api/bulk-operations/${op.id}/`);
      }
    } catch (error) {
      q("bulk-status").textContent = "Refused: " + error.message;
    }
  });
}

function boot() {
  bindDialogs();
  bindBulk();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
