// spinestab imaging pages (viewer, landmark tool, instability): what they share. Loaded
// before each page's own script; defines window.spinestabImaging. No inline script.
"use strict";

(function () {
  // A status line: the message, styled as ok / error / plain.
  function say(element, message, kind) {
    element.textContent = message;
    element.className = "viewer-status" + (kind ? " " + kind : "");
  }

  // fetch() that throws on a non-2xx answer with the API's `detail` (or the status) as its
  // message and the HTTP status as `status`.
  async function fetchOk(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}));
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      } catch (e) {
        /* not JSON */
      }
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  // Follow a job until it ends: `bar` (a <progress>) shows its progress, `onStep(job)` is
  // called while it runs; resolves with the job when it succeeded, throws with its errors
  // (or `failedText`) when it failed.
  async function waitForJob(jobsApi, jobId, options) {
    const opts = options || {};
    const bar = opts.bar || null;
    if (bar) {
      bar.hidden = false;
    }
    try {
      for (;;) {
        const job = await (await fetchOk(jobsApi + "/" + jobId)).json();
        if (bar) {
          bar.value = Math.round((job.progress || 0) * 100);
        }
        if (job.status === "succeeded") {
          return job;
        }
        if (job.status === "failed") {
          throw new Error((job.errors || []).join("; ") || opts.failedText || "failed");
        }
        if (opts.onStep) {
          opts.onStep(job);
        }
        await new Promise((resolve) => setTimeout(resolve, opts.intervalMs || 700));
      }
    } finally {
      if (bar) {
        bar.hidden = true;
      }
    }
  }

  window.spinestabImaging = { say: say, fetchOk: fetchOk, waitForJob: waitForJob };
})();
