// spinestab "keep moving" page: live prompts from the server-sent event stream.
// The page works without it (the recent prompts are rendered by the server, in UTC).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const list = document.getElementById("prompt-list");
  if (!list) {
    return;
  }
  const lang = list.dataset.lang;
  function localTime(element) {
    const when = new Date(element.dateTime);
    if (!Number.isNaN(when.getTime())) {
      element.textContent = when.toLocaleString(lang, {dateStyle: "medium", timeStyle: "short"});
    }
  }
  document.querySelectorAll("main time[datetime]").forEach(localTime);
  if (typeof EventSource === "undefined") {
    return;
  }
  const now = document.getElementById("prompt-now");
  const empty = document.getElementById("prompt-empty");
  const text = list.dataset.text;
  const source = new EventSource(list.dataset.src);
  source.addEventListener("status", function () {
    list.dataset.connected = "1";
  });
  source.addEventListener("prompt", function (event) {
    const prompt = JSON.parse(event.data);
    const item = document.createElement("li");
    const when = document.createElement("time");
    when.dateTime = prompt.due_at;
    localTime(when);
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
