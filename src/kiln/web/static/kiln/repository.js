// The repository pages' enhancements (no inline scripts: CSP). Without JavaScript the line
// anchors still jump (#L10) and the editor form still posts.
(function () {
  "use strict";

  // --- Line anchors and ranges in the file view: #L10, #L10-20, shift-click extends. -----
  var RANGE = /^#L(\d+)(?:-(\d+))?$/;
  var anchor = null;

  function viewer() {
    return document.querySelector("[data-blob-viewer]");
  }

  function clearHighlight() {
    document.querySelectorAll(".hll-line").forEach(function (el) {
      el.classList.remove("hll-line");
    });
  }

  function highlight(from, to, scroll) {
    clearHighlight();
    if (from > to) { var swap = from; from = to; to = swap; }
    for (var n = from; n <= to; n++) {
      var line = document.getElementById("LC" + n);
      var number = document.getElementById("L" + n);
      if (line) line.classList.add("hll-line");
      if (number) number.classList.add("hll-line");
    }
    if (scroll) {
      var first = document.getElementById("L" + from);
      if (first) first.scrollIntoView({ block: "center" });
    }
  }

  function fromHash(scroll) {
    if (!viewer()) return;
    var match = RANGE.exec(window.location.hash);
    if (!match) { clearHighlight(); return; }
    var from = parseInt(match[1], 10);
    var to = match[2] ? parseInt(match[2], 10) : from;
    anchor = from;
    highlight(from, to, scroll);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(".line-numbers a[id^='L']");
    if (!link || !viewer()) return;
    event.preventDefault();
    var line = parseInt(link.id.slice(1), 10);
    var hash;
    if (event.shiftKey && anchor !== null && anchor !== line) {
      var from = Math.min(anchor, line);
      var to = Math.max(anchor, line);
      hash = "#L" + from + "-" + to;
      highlight(from, to, false);
    } else {
      anchor = line;
      hash = "#L" + line;
      highlight(line, line, false);
    }
    window.history.replaceState(null, "", hash);
  });

  window.addEventListener("hashchange", function () { fromHash(true); });
  // The highlighted code of a large file arrives after the page: keep the selected lines.
  document.addEventListener("htmx:afterSwap", function () { fromHash(false); });
  document.addEventListener("DOMContentLoaded", function () { fromHash(true); });

  // --- Editor: "start a new merge request" only makes sense for a new branch. ---------
  function syncBranchOption() {
    var input = document.querySelector("[data-source-branch]");
    var option = document.querySelector("[data-new-branch-only]");
    if (!input || !option) return;
    var same = input.value.trim() === input.getAttribute("data-source-branch");
    option.hidden = same;
    if (same) {
      var box = option.querySelector("input[type=checkbox]");
      if (box) box.checked = false;
    }
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-source-branch]")) syncBranchOption();
  });
  document.addEventListener("DOMContentLoaded", syncBranchOption);
})();
