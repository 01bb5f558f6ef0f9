// Diffs: hide and show a file's contents (one or all), open the file a link points into, and
// comment on a line without a page load (inline and side by side). Every page works without
// this file: files are then all shown, and a line's comment link opens the form with `?line=`.
(function () {
  "use strict";

  function setOpen(toggle, open) {
    var content = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!content) return;
    content.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.setAttribute("aria-label", open ? "Hide file contents" : "Show file contents");
  }

  // A link to a file, or to a line of it, shows that file's contents.
  function openTarget(hash) {
    var id = decodeURIComponent((typeof hash === "string" ? hash : window.location.hash).slice(1));
    var target = id && document.getElementById(id);
    var file = target && target.closest(".diff-file");
    var toggle = file && file.querySelector("[data-diff-toggle]");
    if (toggle && toggle.getAttribute("aria-expanded") === "false") {
      setOpen(toggle, true);
      target.scrollIntoView();
    }
  }

  // -- comments on lines ---------------------------------------------------------------------
  var formCounter = 0;

  // The notes row under `row`, made if missing: one cell inline or for an unchanged line,
  // a cell per side for a changed row of the side-by-side view.
  function notesRow(row, parallel, both) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains("diff-notes-row")) return next;
    var created = document.createElement("tr");
    created.className = "diff-notes-row";
    created.setAttribute("data-js-created", "");
    var sides = parallel && !both ? ["left", "right"] : ["both"];
    sides.forEach(function (side) {
      var cell = document.createElement("td");
      cell.colSpan = parallel ? (both ? 4 : 2) : 3;
      cell.setAttribute("data-side", side);
      created.appendChild(cell);
    });
    row.parentNode.insertBefore(created, row.nextSibling);
    return created;
  }

  function openForm(link, template) {
    var row = link.closest("tr");
    var table = link.closest("table[data-file]");
    if (!row || !table) return false;
    // The line code is "<file hash>_<old line>_<new line>" (0: not on that side).
    var code = link.getAttribute("href").split("#")[1] || "";
    var parts = code.split("_");
    if (parts.length !== 3) return false;
    var parallel = table.classList.contains("diff-parallel");
    var both = !parallel || row.id === code;
    var side = both ? "both" : (link.closest("td").cellIndex < 2 ? "left" : "right");
    var holder = notesRow(row, parallel, both);
    var cell = holder.querySelector("td[data-side='" + side + "']") || holder.firstElementChild;
    var open = cell.querySelector("form.diff-note-form");
    if (open) {
      open.querySelector("textarea").focus();
      return true;
    }
    var fragment = template.content.cloneNode(true);
    var form = fragment.querySelector("form");
    form.querySelector("[name=line_file]").value = table.getAttribute("data-file");
    form.querySelector("[name=old_line]").value = parts[1] === "0" ? "" : parts[1];
    form.querySelector("[name=new_line]").value = parts[2] === "0" ? "" : parts[2];
    formCounter += 1;
    var id = "diff-note-js-" + formCounter;
    form.querySelector("label").setAttribute("for", id);
    form.querySelector("textarea").id = id;
    form.setAttribute("data-line-code", code);
    cell.appendChild(fragment);
    document.getElementById(id).focus();
    return true;
  }

  function closeForm(cancel) {
    var form = cancel.closest("form");
    var holder = form.closest("tr.diff-notes-row");
    var row = holder && holder.previousElementSibling;
    var code = form.getAttribute("data-line-code");
    form.remove();
    if (holder && holder.hasAttribute("data-js-created") && !holder.querySelector("form, section")) {
      holder.remove();
    }
    var back = row && code && row.querySelector("[data-diff-comment][href$='#" + code + "']");
    if (back) back.focus();
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-diff-toggle]");
    if (toggle) {
      setOpen(toggle, toggle.getAttribute("aria-expanded") === "false");
      return;
    }
    var jump = event.target.closest(".diff-tree a[href^='#']");
    if (jump) {
      // The hash may not change (the same link again): open the file here too.
      openTarget(jump.getAttribute("href"));
      return;
    }
    var all = event.target.closest("[data-diff-all-action]");
    if (all) {
      var open = all.getAttribute("data-diff-all-action") === "show";
      document.querySelectorAll("[data-diff-toggle]").forEach(function (t) { setOpen(t, open); });
      return;
    }
    var template = document.getElementById("diff-note-template");
    if (!template) return;
    var link = event.target.closest("[data-diff-comment]");
    if (link) {
      if (openForm(link, template)) event.preventDefault();
      return;
    }
    var cancel = event.target.closest("[data-diff-cancel]");
    if (cancel && cancel.closest("form[data-line-code]")) {
      event.preventDefault();
      closeForm(cancel);
    }
  });

  window.addEventListener("hashchange", openTarget);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-diff-toggle], [data-diff-all]").forEach(function (el) {
      el.hidden = false;
    });
  });
})();
