// spinestab instability page: run the analysis of one reader's landmarks as a job, then reload.
"use strict";

(function () {
  const box = document.getElementById("instability-run");
  if (!box || !window.spinestabImaging) {
    return;
  }
  const common = window.spinestabImaging;
  const status = document.getElementById("instability-status");
  const bar = document.getElementById("instability-progress");
  const button = document.getElementById("run-instability");

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "";
    try {
      const reader = document.getElementById("reader").value.trim();
      const started = await (
        await common.fetchOk(box.dataset.api, {
          method: "POST",
          headers: { "X-CSRF-Token": box.dataset.csrf, "Content-Type": "application/json" },
          body: JSON.stringify({ reader: reader || null }),
        })
      ).json();
      await common.waitForJob(box.dataset.jobs, started.job_id, { bar: bar, intervalMs: 600 });
      window.location.reload();
    } catch (error) {
      common.say(status, error.message, "error");
      button.disabled = false;
    }
  });
})();
