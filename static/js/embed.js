// The embedded live view (/embed/...): links open outside the frame, in a new tab,
// including those in entries that arrive live. live.js does everything else.
(function () {
  "use strict";
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (link && !link.target) {
      link.target = "_blank";
      link.rel = (link.rel ? link.rel + " " : "") + "noopener";
    }
  });
})();
