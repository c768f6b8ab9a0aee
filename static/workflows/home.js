/* The home page's cards kept current. A status change of any execution of the tenant
   (GET /api/executions/events/, the tenant's channel group) fetches the cards again from
   the server, at most once a second however many arrive; so does every half minute while
   the page is visible, for what sends no event (worker heartbeats, the backlog's age).
   The counts stay the server's: one aggregate query each, nothing counted here. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 1000;
  var REFRESH_MS = 30000;

  function boot() {
    var root = document.querySelector("[data-dashboard]");
    if (!root) return;
    var timer = null, inFlight = false, again = false;

    function refresh() {
      timer = null;
      if (inFlight) { again = true; return; }
      inFlight = true;
      fetch(root.getAttribute("data-refresh-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })  // a lost session redirects to the login
        .then(function (html) {
          if (html === null) return;
          root.innerHTML = html;
          root.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () {})
        .then(function () {
          inFlight = false;
          if (again) { again = false; schedule(); }
        });
    }

    function schedule() {
      if (!timer) timer = setTimeout(refresh, DEBOUNCE_MS);
    }

    function indicate(text) {
      document.querySelectorAll("[data-live-indicator]").forEach(function (el) { el.textContent = text; });
    }

    if (window.EventSource) {
      var source = new EventSource(root.getAttribute("data-events-url"));
      source.addEventListener("open", function () { indicate("● live"); });
      source.addEventListener("error", function () { indicate("reconnecting…"); });
      source.addEventListener("status", schedule);
    }
    setInterval(function () { if (!document.hidden) schedule(); }, REFRESH_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
