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

  // Show the attribution fields only for quotes.
  function syncKind(root) {
    root.querySelectorAll("form").forEach((form) => {
      const fields = form.querySelector("[data-quote-fields]");
      const checked = form.querySelector('input[name="kind"]:checked');
      if (fields && checked) fields.hidden = checked.value !== "quote";
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "kind") syncKind(document);
  });
  document.addEventListener("htmx:load", (event) => syncKind(event.target.parentNode || document));
  syncKind(document);

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
