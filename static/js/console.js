// The blogging console: keyboard posting, the quote fields, and clear errors.
(function () {
  "use strict";

  // Ctrl/Cmd+Enter posts from the text box (no hx-trigger filter: htmx's eval is off).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const form = event.target.closest && event.target.closest("form");
    if (form && event.target.tagName === "TEXTAREA") {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // Show the attribution fields for quotes and citations, each kind's own among them.
  function syncKind(root) {
    root.querySelectorAll("form").forEach((form) => {
      const fields = form.querySelector("[data-quote-fields]");
      const checked = form.querySelector('input[name="kind"]:checked');
      if (!fields || !checked) return;
      const kind = checked.value;
      fields.hidden = kind !== "quote" && kind !== "citation";
      fields.querySelectorAll("[data-only]").forEach((field) => (field.hidden = field.dataset.only !== kind));
      fields.querySelectorAll("[data-label-citation]").forEach((label) => {
        label.textContent = kind === "citation" ? label.dataset.labelCitation : label.dataset.labelQuote;
      });
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "kind") syncKind(document);
  });
  document.addEventListener("htmx:load", (event) => syncKind(event.target.parentNode || document));
  syncKind(document);

  // A photo: the camera or a file (the input), a drop, or a paste anywhere on the console.
  const photoForm = document.getElementById("photo-form");
  if (photoForm) {
    const input = photoForm.querySelector('input[type="file"]');
    const drop = photoForm.querySelector("[data-photo-drop]");
    const preview = photoForm.querySelector("[data-photo-preview]");
    let previewUrl = null;
    const showPreview = (file) => {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = file ? URL.createObjectURL(file) : null;
      preview.hidden = !file;
      if (file) preview.src = previewUrl;
      else preview.removeAttribute("src");
    };
    const take = (file) => {
      if (!file || !/^image\//.test(file.type || "image/")) return false;
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
      showPreview(file);
      photoForm.querySelector('input[name="alt"]').focus();
      return true;
    };
    input.addEventListener("change", () => showPreview(input.files[0]));
    photoForm.addEventListener("reset", () => showPreview(null));
    ["dragenter", "dragover"].forEach((type) =>
      drop.addEventListener(type, (event) => {
        event.preventDefault();
        drop.classList.add("photo-drop--over");
      })
    );
    ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("photo-drop--over")));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      take(event.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (event) => {
      const files = Array.from((event.clipboardData && event.clipboardData.files) || []);
      const image = files.find((file) => /^image\//.test(file.type));
      if (image && take(image)) event.preventDefault();
    });
  }

  // Errors the server refuses with (403, 404, 413, 5xx) or a lost network: say so.
  const errorBox = document.getElementById("console-error");
  function showError(text) {
    if (!errorBox) return;
    errorBox.textContent = text;
    errorBox.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => (errorBox.hidden = true), 8000);
  }
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const type = xhr.getResponseHeader("Content-Type") || "";
    const text = type.startsWith("text/plain") ? xhr.responseText : "";
    showError(text || "The server refused that (" + xhr.status + "). Nothing was changed.");
  });
  document.addEventListener("htmx:sendError", () => {
    showError("Could not reach the server. Check the connection; nothing was lost from the text box.");
  });
})();
