/* Customer360: the page behaviours, in one static file so the Content Security Policy needs no inline
   script. Each behaviour looks for its own elements and does nothing on pages without them. Loaded with
   `defer` after htmx, so the document is parsed and `htmx` is defined when this runs. */
(function () {
  "use strict";

  // A submit button with data-confirm asks first (instead of an inline onclick="return confirm(...)").
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) { ev.preventDefault(); }
  });

  // Customer list: provider checkboxes take part in the htmx trigger like the status select.
  document.querySelectorAll("#customer-filters input[name=provider]").forEach(function (el) {
    el.classList.add("filter-input");
  });
  // Rows per page: the select lives in the table htmx swaps, so its change is picked up here (a listener
  // on the document outlives the swap; an hx-trigger "from:" binds the first select only) and submits the
  // filters form it belongs to.
  document.addEventListener("change", function (ev) {
    if (ev.target.id === "per-page" && ev.target.form) { htmx.trigger(ev.target.form, "submit"); }
  });
  // A row's arrow shows its summary, fetched on the first opening (one listener for every row).
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-summary-url]");
    if (!button) { return; }
    var cell = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "\u25BE" : "\u25B8";
    cell.parentElement.hidden = !open;
    if (open && !cell.dataset.loaded) {
      cell.dataset.loaded = "1";
      cell.textContent = "Loading\u2026";
      htmx.ajax("GET", button.dataset.summaryUrl, {target: cell, swap: "innerHTML"});
    }
  });
  // Double-clicking a row opens the profile; the name stays a normal link for keyboard and middle-click.
  document.addEventListener("dblclick", function (ev) {
    var row = ev.target.closest("tr[data-href]");
    if (row && !ev.target.closest("a, button")) { window.location = row.dataset.href; }
  });

  // Quote recipient: show only the panel of the chosen kind; without JavaScript both stay visible.
  var customerPanel = document.getElementById("recipient-customer");
  var leadPanel = document.getElementById("recipient-lead");
  if (customerPanel && leadPanel) {
    var syncRecipient = function () {
      var kind = (document.querySelector("input[name=kind]:checked") || {}).value || "customer";
      customerPanel.hidden = kind !== "customer";
      leadPanel.hidden = kind !== "lead";
    };
    document.querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", syncRecipient); });
    syncRecipient();
  }

  // Quote scenarios: after an htmx swap, keep keyboard focus on the edited scenario, not on <body>:
  // the first field in error, otherwise the status line that announces the change.
  document.body.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.detail.target.id === "scenarios") {
      var target = document.querySelector("#scenarios [aria-invalid=true]") || document.getElementById("scenarios-status");
      if (target) { target.focus(); }
    }
  });

  // Customer quotes: Create Quote shows the tiles in place; without JavaScript the link opens the page with them.
  var toggle = document.getElementById("create-quote");
  if (toggle) {
    toggle.addEventListener("click", function (ev) {
      ev.preventDefault();
      var panel = document.getElementById("create-panel"), open = panel.hidden;
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) { var first = panel.querySelector("button.tile"); if (first) { first.focus(); } }
    });
    toggle.addEventListener("keydown", function (ev) { if (ev.key === " ") { ev.preventDefault(); toggle.click(); } });
  }

  // Quote summary: copy the customer's accept link.
  var copy = document.getElementById("copy-share");
  if (copy) {
    copy.addEventListener("click", function () {
      var input = document.getElementById("share-url"), status = document.getElementById("copy-status");
      var fallback = function () { input.select(); status.textContent = "Press Ctrl+C to copy the selected link."; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { status.textContent = "Link copied."; }, fallback);
      } else { fallback(); }
    });
  }

  // Billing export form: show only the fields of the chosen destination.
  var destination = document.getElementById("id_destination");
  if (destination && document.querySelector("[data-destination]")) {
    var showDestination = function () {
      document.querySelectorAll("[data-destination]").forEach(function (group) {
        group.hidden = group.dataset.destination.split(" ").indexOf(destination.value) < 0;
      });
    };
    destination.addEventListener("change", showDestination);
    showDestination();
  }
})();
