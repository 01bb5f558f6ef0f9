// Issues, merge requests, labels and milestones: the Markdown editor's Preview tab and label
// colour suggestions (diff line comments are diffs.js). Every page works
// without this file (CSP: no inline script; behaviour hangs off data- attributes).
(function () {
  "use strict";

  function csrfToken(element) {
    var form = element.closest("form");
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var any = document.querySelector("input[name=csrfmiddlewaretoken]");
    return any ? any.value : "";
  }

  // -- Markdown editor: Write / Preview ------------------------------------------------------
  function selectTab(editor, name) {
    var write = editor.querySelector(".md-editor-write");
    var preview = editor.querySelector(".md-preview");
    editor.querySelectorAll("[data-md-tab]").forEach(function (tab) {
      var selected = tab.getAttribute("data-md-tab") === name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
    });
    write.hidden = name !== "write";
    preview.hidden = name !== "preview";
    if (name === "preview") renderPreview(editor, preview);
  }

  function renderPreview(editor, preview) {
    var textarea = editor.querySelector("textarea");
    var text = textarea.value;
    if (!text.trim()) {
      preview.textContent = "Nothing to preview.";
      return;
    }
    preview.textContent = "Loading preview…";
    var body = new FormData();
    body.append("text", text);
    fetch(editor.getAttribute("data-preview-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(editor) },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("preview failed");
        return response.json();
      })
      .then(function (data) {
        // The server renders with kiln.markdown, which sanitizes the HTML.
        preview.innerHTML = data.body;
      })
      .catch(function () {
        preview.textContent = "The preview could not be loaded.";
      });
  }

  function setUpEditor(editor) {
    var tablist = editor.querySelector("[role=tablist]");
    if (!tablist || !editor.getAttribute("data-preview-url")) return;
    tablist.hidden = false;
    tablist.addEventListener("click", function (event) {
      var tab = event.target.closest("[data-md-tab]");
      if (tab) selectTab(editor, tab.getAttribute("data-md-tab"));
    });
    tablist.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      var current = editor.querySelector("[data-md-tab][aria-selected=true]");
      var next = current.getAttribute("data-md-tab") === "write" ? "preview" : "write";
      selectTab(editor, next);
      editor.querySelector("[data-md-tab=" + next + "]").focus();
      event.preventDefault();
    });
  }

  // -- label colours -------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var swatch = event.target.closest(".color-swatch[data-color]");
    if (!swatch) return;
    var input = document.querySelector("[data-color-input]");
    if (input) {
      input.value = swatch.getAttribute("data-color");
      input.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-md-editor]").forEach(setUpEditor);
  });
})();
