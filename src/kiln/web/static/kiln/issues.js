// Issues, merge requests, labels and milestones: the Markdown editor's Preview tab, label
// colour suggestions, and commenting on a diff line without a page load. Every page works
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

  // -- diff line comments --------------------------------------------------------------------
  var formCounter = 0;

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-diff-comment]");
    var template = document.getElementById("diff-note-template");
    if (link && template) {
      var row = link.closest("tr[data-line-code]");
      if (!row) return;
      event.preventDefault();
      var existing = row.nextElementSibling;
      if (existing && existing.querySelector("form.diff-note-form")) {
        existing.querySelector("textarea").focus();
        return;
      }
      var fragment = template.content.cloneNode(true);
      var form = fragment.querySelector("form");
      form.querySelector("[name=line_file]").value = row.getAttribute("data-file");
      form.querySelector("[name=old_line]").value = row.getAttribute("data-old-line");
      form.querySelector("[name=new_line]").value = row.getAttribute("data-new-line");
      formCounter += 1;
      var id = "diff-note-js-" + formCounter;
      form.querySelector("label").setAttribute("for", id);
      form.querySelector("textarea").id = id;
      var notesRow = existing && existing.classList.contains("diff-notes-row") ? existing : null;
      if (!notesRow) {
        notesRow = document.createElement("tr");
        notesRow.className = "diff-notes-row";
        notesRow.setAttribute("data-js-created", "");
        var cell = document.createElement("td");
        cell.colSpan = 3;
        notesRow.appendChild(cell);
        row.parentNode.insertBefore(notesRow, row.nextSibling);
      }
      notesRow.firstElementChild.appendChild(fragment);
      notesRow.querySelector("textarea#" + id).focus();
      return;
    }
    var cancel = event.target.closest("[data-diff-cancel]");
    if (cancel && template) {
      event.preventDefault();
      var formEl = cancel.closest("form");
      var holder = formEl.closest("tr.diff-notes-row");
      var origin = holder && holder.previousElementSibling;
      formEl.remove();
      if (holder && holder.hasAttribute("data-js-created")) holder.remove();
      var back = origin && origin.querySelector("[data-diff-comment]");
      if (back) back.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-md-editor]").forEach(setUpEditor);
  });
})();
