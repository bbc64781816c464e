// spinestab pages: small progressive enhancements; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Upload forms with a <progress>: show the upload's progress (HTMX fires the events).
  document.body.addEventListener("htmx:xhr:progress", function (event) {
    const bar = event.target.querySelector("progress");
    if (bar && event.detail.lengthComputable) {
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });
});
// A started analysis clears its form (the ticked files), so the next one starts afresh.
document.addEventListener("DOMContentLoaded", function () {
  document.body.addEventListener("analysis-started", function () {
    const form = document.getElementById("analysis-form");
    if (form) { form.reset(); }
  });
});
