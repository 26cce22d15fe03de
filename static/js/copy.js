// "Copy" buttons beside read-only text boxes (Quote this, the embed snippet). Without
// JavaScript the buttons stay hidden and the text is there to select.
(function () {
  "use strict";
  // The page's one polite live region: the session page's, or one of our own.
  let live = document.getElementById("live-announcer");
  if (!live) {
    live = document.createElement("div");
    live.className = "visually-hidden";
    live.setAttribute("role", "status");
    document.body.appendChild(live);
  }

  function copy(box) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(box.value);
    box.focus();
    box.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("refused"));
  }

  document.querySelectorAll("[data-copy]").forEach((button) => {
    const box = document.getElementById(button.dataset.copy);
    if (!box) return;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", () => {
      copy(box).then(
        () => { button.textContent = "Copied"; live.textContent = "Copied to the clipboard."; },
        () => { box.select(); live.textContent = "Press Ctrl+C (⌘C) to copy the selected text."; }
      );
      setTimeout(() => (button.textContent = label), 3000);
    });
  });
})();
