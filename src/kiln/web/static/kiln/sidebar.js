// The issuable sidebar: after htmx swaps a block in place, focus returns to the block's
// Edit control (or its button), so keyboard users stay where they were. Without this file
// (or without JavaScript) the blocks still work: their forms post and redirect back.
(function () {
  "use strict";

  var pending = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var block = event.target.closest && event.target.closest(".sidebar-block");
    pending = block ? block.id : null;
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!pending) return;
    var block = document.getElementById(pending);
    pending = null;
    var control = block && block.querySelector("summary, button[type=submit]");
    if (control) control.focus();
  });
})();
