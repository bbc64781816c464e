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
