// CI/CD pages: follow mode of a running job's log. The page works without it (a Refresh
// link); with it, the log polls `trace.json?state=` and appends what is new. The server sends
// the log as operations on plain text (lines of [classes, text] segments, section opens and
// closes): the DOM is built with textContent, never from HTML.
(function () {
  "use strict";

  var INTERVAL = 3000;
  var MAX_FAILURES = 5;
  var CLASS_RE = /^[a-z0-9\- ]*$/;

  function segmentsInto(parent, segments) {
    (segments || []).forEach(function (segment) {
      var classes = String(segment[0] || "");
      var text = String(segment[1] || "");
      if (classes && CLASS_RE.test(classes)) {
        var span = document.createElement("span");
        span.className = classes;
        span.textContent = text;
        parent.appendChild(span);
      } else {
        parent.appendChild(document.createTextNode(text));
      }
    });
  }

  // The innermost section still open: the next lines go into its body.
  function currentContainer(log) {
    var open = log.querySelectorAll("details[data-open]");
    if (!open.length) return log;
    var last = open[open.length - 1];
    return last.querySelector(":scope > .log-section-body") || log;
  }

  function apply(log, ops) {
    ops.forEach(function (op) {
      var container = currentContainer(log);
      if (op.t === "line") {
        var line = document.createElement("div");
        line.className = "log-line";
        segmentsInto(line, op.s);
        container.appendChild(line);
      } else if (op.t === "open") {
        var details = document.createElement("details");
        details.className = "log-section";
        details.setAttribute("data-section", String(op.n || ""));
        details.setAttribute("data-open", "");
        if (!op.c) details.open = true;
        var summary = document.createElement("summary");
        summary.className = "log-line log-section-header";
        segmentsInto(summary, op.h);
        var body = document.createElement("div");
        body.className = "log-section-body";
        details.appendChild(summary);
        details.appendChild(body);
        container.appendChild(details);
      } else if (op.t === "close") {
        var open = log.querySelectorAll("details[data-open]");
        if (open.length) open[open.length - 1].removeAttribute("data-open");
      }
    });
  }

  function follow(log) {
    var url = log.getAttribute("data-trace-url");
    var state = log.getAttribute("data-trace-state") || "0";
    var status = document.querySelector("[data-follow-status]");
    var failures = 0;

    function atBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    }

    function poll() {
      fetch(url + "?state=" + encodeURIComponent(state), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          var stick = atBottom();
          if (data.reset) log.textContent = "";
          apply(log, data.ops || []);
          state = data.state;
          if (stick) log.scrollTop = log.scrollHeight;
          document.querySelectorAll(".page-header [data-ci-status]").forEach(function (badge) {
            if (badge.getAttribute("data-ci-status") !== data.status) {
              badge.setAttribute("data-ci-status", data.status);
              badge.className = "badge badge-" + data.status + " ci-badge";
              badge.textContent = data.status === "success" ? "passed" : data.status;
            }
          });
          if (data.complete) {
            if (status) status.textContent = "The job has finished.";
            // The buttons (retry, artifacts) depend on the final state: load the page again.
            window.setTimeout(function () { window.location.reload(); }, 1000);
            return;
          }
          window.setTimeout(poll, INTERVAL);
        })
        .catch(function () {
          failures += 1;
          if (failures >= MAX_FAILURES) {
            if (status) status.textContent = "Stopped following the log; refresh the page.";
            return;
          }
          window.setTimeout(poll, INTERVAL * failures);
        });
    }

    log.scrollTop = log.scrollHeight;
    window.setTimeout(poll, INTERVAL);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var log = document.querySelector("#job-log[data-trace-url]");
    if (log) follow(log);
  });
})();
