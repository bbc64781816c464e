// spinestab instability page: run the analysis of one reader's landmarks as a job, then reload.
"use strict";

(function () {
  const box = document.getElementById("instability-run");
  if (!box) {
    return;
  }
  const status = document.getElementById("instability-status");
  const bar = document.getElementById("instability-progress");
  const button = document.getElementById("run-instability");

  async function json(response) {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      throw new Error(detail || response.status + " " + response.statusText);
    }
    return body;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "";
    try {
      const reader = document.getElementById("reader").value.trim();
      const started = await json(
        await fetch(box.dataset.api, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": box.dataset.csrf, "Content-Type": "application/json" },
          body: JSON.stringify({ reader: reader || null }),
        })
      );
      bar.hidden = false;
      for (;;) {
        const job = await json(
          await fetch(box.dataset.jobs + "/" + started.job_id, { credentials: "same-origin" })
        );
        bar.value = Math.round((job.progress || 0) * 100);
        if (job.status === "succeeded") {
          window.location.reload();
          return;
        }
        if (job.status === "failed") {
          throw new Error((job.errors || []).join("; "));
        }
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
    } catch (error) {
      status.textContent = error.message;
      status.className = "viewer-status error";
      bar.hidden = true;
      button.disabled = false;
    }
  });
})();
