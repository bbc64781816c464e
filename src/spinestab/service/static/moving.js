// spinestab "keep moving" page: live prompts from the server-sent event stream.
// The page works without it (the recent prompts are rendered by the server).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const list = document.getElementById("prompt-list");
  if (!list || typeof EventSource === "undefined") {
    return;
  }
  const now = document.getElementById("prompt-now");
  const empty = document.getElementById("prompt-empty");
  const text = list.dataset.text;
  const source = new EventSource(list.dataset.src);
  source.addEventListener("prompt", function (event) {
    const prompt = JSON.parse(event.data);
    const item = document.createElement("li");
    const when = document.createElement("time");
    when.dateTime = prompt.due_at;
    when.textContent = new Date(prompt.due_at).toLocaleTimeString(list.dataset.lang, {
      hour: "2-digit",
      minute: "2-digit",
    });
    item.appendChild(when);
    item.appendChild(document.createTextNode(" · " + text));
    item.className = "new";
    list.insertBefore(item, list.firstChild);
    if (empty) {
      empty.hidden = true;
    }
    if (now) {
      now.textContent = text;
      now.hidden = false;
    }
  });
});
