/* The phone header: one line (the brand and a Menu button) with the links, tenant switcher
   and account behind the button. Runs right after the header, before it is painted, so the
   menu never flashes open; without JavaScript the header simply wraps onto more lines. */
(function () {
  "use strict";
  var bar = document.querySelector("[data-topbar]");
  var toggle = bar && bar.querySelector("[data-menu-toggle]");
  if (!toggle) return;
  bar.setAttribute("data-collapsible", "");

  function setOpen(open) {
    if (open) bar.setAttribute("data-open", ""); else bar.removeAttribute("data-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  toggle.addEventListener("click", function () { setOpen(!bar.hasAttribute("data-open")); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && bar.hasAttribute("data-open")) { setOpen(false); toggle.focus(); }
  });
  document.addEventListener("click", function (event) {
    if (bar.hasAttribute("data-open") && !bar.contains(event.target)) setOpen(false);
  });
})();
