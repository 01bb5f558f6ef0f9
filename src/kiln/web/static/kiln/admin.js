// Groups, new project, settings and admin pages: small enhancements, every form works
// without them. No inline scripts (CSP): behaviour hangs off data- attributes.
(function () {
  "use strict";

  // GitLab's path from a name: ASCII letters, digits, '_', '.', '-'; other runs become '-'.
  function pathFromName(name) {
    var ascii = name.normalize("NFKD").replace(/[^\x00-\x7F]/g, "");
    var path = ascii.trim().replace(/[^A-Za-z0-9_.\-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "");
    return path.replace(/-{2,}/g, "-").toLowerCase();
  }

  // <input data-path-source="path-input-id">: fill the path from the name until the path is
  // edited by hand.
  document.querySelectorAll("[data-path-source]").forEach(function (source) {
    var target = document.getElementById(source.getAttribute("data-path-source"));
    if (!target) return;
    var edited = target.value !== "" && target.value !== pathFromName(source.value);
    target.addEventListener("input", function () { edited = target.value !== ""; });
    source.addEventListener("input", function () {
      if (!edited) target.value = pathFromName(source.value);
    });
  });

  // <input data-confirm-match="text">: the form's submit button stays disabled until the
  // text is typed exactly (the server checks it too).
  document.querySelectorAll("[data-confirm-match]").forEach(function (input) {
    var form = input.form;
    var button = form && form.querySelector("button[type=submit]");
    if (!button) return;
    var expected = input.getAttribute("data-confirm-match");
    function sync() { button.disabled = input.value !== expected; }
    input.addEventListener("input", sync);
    sync();
  });
})();
