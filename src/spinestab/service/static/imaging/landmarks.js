// spinestab landmark tool: four corners (and the two endplate mid-points) per vertebral body
// on a lateral film, with a magnifier and keyboard nudging; calibration by an object of
// known size. Coordinates are film pixels (x = column, y = row, pixel centres at whole
// numbers), as in the landmark JSON files. No inline script: data-* attributes and the API.
"use strict";

(function () {
  const root = document.getElementById("landmark-tool");
  if (!root || !window.spinestabImaging) {
    return;
  }
  const api = root.dataset.api; // /api/v1/patients/P/radiographs/ID
  const csrf = root.dataset.csrf;
  const text = JSON.parse(root.dataset.text || "{}");
  const LEVELS = JSON.parse(root.dataset.levels || "[]");
  const POINTS = [
    "anterior_superior",
    "posterior_superior",
    "posterior_inferior",
    "anterior_inferior",
    "mid_superior",
    "mid_inferior",
  ];
  const SHORT = { anterior_superior: "AS", posterior_superior: "PS", posterior_inferior: "PI",
    anterior_inferior: "AI", mid_superior: "MS", mid_inferior: "MI" };
  const MAGNIFY = 4; // magnifier zoom; one arrow key press = one magnifier pixel
  const $ = (sel) => root.querySelector(sel);
  const canvas = $("#film-canvas");
  const context = canvas.getContext("2d");
  const lens = $("#magnifier");
  const lensContext = lens.getContext("2d");
  const status = $("#tool-status");
  const image = new Image();

  const state = {
    points: {}, // level -> name -> [x, y]
    level: root.dataset.start || "L1",
    point: POINTS[0],
    scale: 1,
    offset: [0, 0],
    zoom: 1,
    mode: "place", // place | calibrate
    calibration: [],
    pointer: null,
    film: null,
  };
  window.spinestabLandmarks = {
    state: state,
    filmToScreen: (x, y) => {
      const rect = canvas.getBoundingClientRect();
      const k = rect.width / canvas.width;
      return [rect.left + ((x + 0.5) * state.scale + state.offset[0]) * k,
        rect.top + ((y + 0.5) * state.scale + state.offset[1]) * k];
    },
  };

  const common = window.spinestabImaging;
  const say = (message, kind) => common.say(status, message, kind);
  const fetchOk = common.fetchOk;

  // ---- geometry: canvas pixels <-> film pixels -----------------------------------------
  function fit() {
    const box = canvas.parentElement.getBoundingClientRect();
    const width = Math.max(240, Math.floor(box.width));
    const height = Math.max(240, Math.min(Math.floor(window.innerHeight * 0.78), Math.round(width * 1.4)));
    canvas.width = width;
    canvas.height = height;
    const base = Math.min(width / image.naturalWidth, height / image.naturalHeight);
    state.scale = base * state.zoom;
    draw();
  }
  function toFilm(event) {
    const rect = canvas.getBoundingClientRect();
    const k = canvas.width / rect.width;
    const cx = (event.clientX - rect.left) * k;
    const cy = (event.clientY - rect.top) * k;
    return [(cx - state.offset[0]) / state.scale - 0.5, (cy - state.offset[1]) / state.scale - 0.5];
  }
  function toCanvas(point) {
    return [(point[0] + 0.5) * state.scale + state.offset[0], (point[1] + 0.5) * state.scale + state.offset[1]];
  }

  // ---- drawing -------------------------------------------------------------------------
  function draw() {
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingEnabled = state.scale < 1;
    context.drawImage(image, state.offset[0], state.offset[1],
      image.naturalWidth * state.scale, image.naturalHeight * state.scale);
    Object.entries(state.points).forEach(([level, points]) => drawVertebra(level, points));
    if (state.calibration.length) {
      context.strokeStyle = "#00e5ff";
      context.lineWidth = 2;
      context.beginPath();
      state.calibration.forEach((p, i) => {
        const c = toCanvas(p);
        if (i === 0) context.moveTo(c[0], c[1]); else context.lineTo(c[0], c[1]);
      });
      context.stroke();
    }
    drawLens();
    listPoints();
  }
  function drawVertebra(level, points) {
    const corners = POINTS.slice(0, 4).map((n) => points[n]).filter(Boolean);
    const current = level === state.level;
    context.strokeStyle = current ? "#ffd400" : "#37c871";
    context.lineWidth = current ? 2 : 1.5;
    if (corners.length > 1) {
      context.beginPath();
      corners.forEach((p, i) => {
        const c = toCanvas(p);
        if (i === 0) context.moveTo(c[0], c[1]); else context.lineTo(c[0], c[1]);
      });
      if (corners.length === 4) context.closePath();
      context.stroke();
    }
    POINTS.forEach((name) => {
      const p = points[name];
      if (!p) return;
      const c = toCanvas(p);
      const selected = current && name === state.point;
      context.fillStyle = selected ? "#ff3b30" : current ? "#ffd400" : "#37c871";
      context.beginPath();
      context.arc(c[0], c[1], selected ? 4 : 3, 0, 2 * Math.PI);
      context.fill();
    });
    const first = corners[0];
    if (first) {
      const c = toCanvas(first);
      context.fillStyle = current ? "#ffd400" : "#37c871";
      context.font = "bold 13px system-ui, sans-serif";
      context.fillText(level, c[0] - 30, c[1] + 4);
    }
  }
  function drawLens() {
    const size = lens.width;
    const current = state.points[state.level] && state.points[state.level][state.point];
    const centre = state.pointer || current;
    lensContext.fillStyle = "#000";
    lensContext.fillRect(0, 0, size, size);
    if (!centre) return;
    const span = size / MAGNIFY; // film pixels shown
    lensContext.imageSmoothingEnabled = false;
    lensContext.drawImage(image, centre[0] + 0.5 - span / 2, centre[1] + 0.5 - span / 2, span, span, 0, 0, size, size);
    const toLens = (p) => [(p[0] - centre[0]) * MAGNIFY + size / 2, (p[1] - centre[1]) * MAGNIFY + size / 2];
    Object.entries(state.points).forEach(([level, points]) => {
      POINTS.forEach((name) => {
        const p = points[name];
        if (!p) return;
        const c = toLens(p);
        const selected = level === state.level && name === state.point;
        lensContext.strokeStyle = selected ? "#ff3b30" : "#ffd400";
        lensContext.lineWidth = 1;
        lensContext.beginPath();
        lensContext.moveTo(c[0] - 6, c[1]);
        lensContext.lineTo(c[0] + 6, c[1]);
        lensContext.moveTo(c[0], c[1] - 6);
        lensContext.lineTo(c[0], c[1] + 6);
        lensContext.stroke();
      });
    });
    lensContext.strokeStyle = "rgba(0, 229, 255, 0.7)";
    lensContext.strokeRect(size / 2 - 0.5, size / 2 - 0.5, 1, 1);
  }

  function listPoints() {
    const table = $("#points tbody");
    table.textContent = "";
    const points = state.points[state.level] || {};
    POINTS.forEach((name) => {
      const tr = document.createElement("tr");
      if (name === state.point) tr.className = "selected";
      const p = points[name];
      [text["point_" + name] || name, p ? p[0].toFixed(2) : "–", p ? p[1].toFixed(2) : "–"].forEach((v) => {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      });
      tr.tabIndex = 0;
      tr.addEventListener("click", () => select(state.level, name));
      table.appendChild(tr);
    });
    $("#current").textContent = state.level + " · " + (text["point_" + state.point] || state.point);
    $("#level").value = state.level;
  }

  function select(level, point) {
    state.level = level;
    state.point = point;
    state.pointer = null;
    state.last = null;
    draw();
  }
  function advance() {
    const index = POINTS.indexOf(state.point);
    const lastCorner = state.level === "S1" ? 1 : 3; // S1: its superior endplate only
    if (index < lastCorner) {
      select(state.level, POINTS[index + 1]);
    } else if (index === lastCorner && !$("#midpoints").checked) {
      nextLevel();
    } else if (index >= lastCorner && index < POINTS.length - 1 && state.level !== "S1") {
      select(state.level, POINTS[Math.max(index + 1, 4)]);
    } else {
      nextLevel();
    }
  }
  function nextLevel() {
    const index = LEVELS.indexOf(state.level);
    if (index >= 0 && index < LEVELS.length - 1) {
      select(LEVELS[index + 1], POINTS[0]);
    } else {
      draw();
    }
  }

  function place(film) {
    if (state.mode === "calibrate") {
      state.calibration.push(film);
      if (state.calibration.length === 2) {
        $("#calibration-length").focus();
        say(text.calibration_length);
      }
      draw();
      return;
    }
    state.points[state.level] = state.points[state.level] || {};
    state.points[state.level][state.point] = [round(film[0]), round(film[1])];
    const placed = [state.level, state.point];
    advance();
    state.last = placed;
  }
  function round(v) {
    return Math.round(v * 100) / 100;
  }
  function nudge(dx, dy) {
    const points = state.points[state.level];
    const target = state.last && state.points[state.last[0]] && state.points[state.last[0]][state.last[1]]
      ? state.last : (points && points[state.point] ? [state.level, state.point] : null);
    if (!target) return;
    const p = state.points[target[0]][target[1]];
    p[0] = round(p[0] + dx);
    p[1] = round(p[1] + dy);
    state.pointer = p;
    draw();
  }

  // ---- input ---------------------------------------------------------------------------
  canvas.addEventListener("click", (event) => place(toFilm(event)));
  canvas.addEventListener("mousemove", (event) => {
    state.pointer = toFilm(event);
    drawLens();
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const before = toFilm(event);
    state.zoom = Math.max(1, Math.min(16, state.zoom * (event.deltaY < 0 ? 1.25 : 0.8)));
    const base = Math.min(canvas.width / image.naturalWidth, canvas.height / image.naturalHeight);
    state.scale = base * state.zoom;
    const rect = canvas.getBoundingClientRect();
    const k = canvas.width / rect.width;
    state.offset = [(event.clientX - rect.left) * k - (before[0] + 0.5) * state.scale,
      (event.clientY - rect.top) * k - (before[1] + 0.5) * state.scale];
    draw();
  }, { passive: false });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea")) return;
    const step = (event.shiftKey ? 10 : 1) / MAGNIFY;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      nudge(moves[event.key][0], moves[event.key][1]);
    } else if (event.key === "n") {
      event.preventDefault();
      state.last = null;
      advance();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      const points = state.points[state.level];
      if (points) delete points[state.point];
      draw();
    } else if (event.key === "+" || event.key === "-") {
      state.zoom = Math.max(1, Math.min(16, state.zoom * (event.key === "+" ? 2 : 0.5)));
      fit();
    }
  });
  $("#level").addEventListener("change", (e) => select(e.target.value, POINTS[0]));
  $("#zoom-in").addEventListener("click", () => { state.zoom = Math.min(16, state.zoom * 2); fit(); });
  $("#zoom-out").addEventListener("click", () => { state.zoom = Math.max(1, state.zoom / 2); state.offset = [0, 0]; fit(); });
  $("#calibrate").addEventListener("click", () => {
    state.mode = state.mode === "calibrate" ? "place" : "calibrate";
    state.calibration = [];
    $("#calibrate").setAttribute("aria-pressed", state.mode === "calibrate" ? "true" : "false");
    $("#calibration-form").hidden = state.mode !== "calibrate";
    say(state.mode === "calibrate" ? text.calibration_start : "");
    draw();
  });
  $("#calibration-save").addEventListener("click", async () => {
    const length = parseFloat($("#calibration-length").value);
    if (state.calibration.length !== 2 || !isFinite(length)) {
      say(text.calibration_length, "warn");
      return;
    }
    try {
      const response = await fetchOk(api + "/calibration", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ start_px: state.calibration[0], end_px: state.calibration[1], length_mm: length }),
      });
      state.film = await response.json();
      showFilm();
      state.mode = "place";
      state.calibration = [];
      $("#calibration-form").hidden = true;
      $("#calibrate").setAttribute("aria-pressed", "false");
      say(text.calibrated, "ok");
      draw();
    } catch (error) {
      say(error.message, "error");
    }
  });
  $("#save-landmarks").addEventListener("click", async () => {
    const vertebrae = {};
    Object.entries(state.points).forEach(([level, points]) => {
      const corners = POINTS.slice(0, 4).filter((n) => points[n]);
      if (!corners.length) return;
      const entry = {};
      POINTS.forEach((n) => {
        if (n.startsWith("mid_")) {
          if (points[n]) entry[n] = points[n];
        } else {
          entry[n] = points[n] || null;
        }
      });
      vertebrae[level] = entry;
    });
    try {
      const response = await fetchOk(api + "/landmarks", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ vertebrae: vertebrae, comment: $("#landmark-note").value.trim() || undefined }),
      });
      const saved = await response.json();
      say(text.landmarks_saved.replace("{version}", saved.version).replace("{reader}", saved.reader), "ok");
      root.dataset.saved = String(saved.version);
      const list = $("#landmark-versions");
      const li = document.createElement("li");
      li.textContent = "v" + saved.version + " · " + saved.reader + " · " + saved.created_at.slice(0, 16).replace("T", " ");
      list.appendChild(li);
    } catch (error) {
      say(error.message, "error");
    }
  });

  function showFilm() {
    const film = state.film;
    $("#film-scale").textContent = film.pixel_spacing_mm
      ? text.scale_line.replace("{mm}", film.pixel_spacing_mm[0].toFixed(4)).replace("{source}", film.spacing_source)
      : text.no_scale;
    $("#film-scale").className = film.pixel_spacing_mm ? "small" : "small alert";
  }

  async function start() {
    state.film = await (await fetchOk(api)).json();
    showFilm();
    const latest = state.film.landmark_versions.filter((v) => v.mine).pop();
    if (latest) {
      Object.entries(latest.landmarks.vertebrae).forEach(([level, points]) => {
        state.points[level] = {};
        Object.entries(points).forEach(([name, p]) => {
          if (p) state.points[level][name] = p;
        });
      });
    }
    await new Promise((resolve, reject) => {
      image.onload = resolve;
      image.onerror = () => reject(new Error(text.film_not_loaded));
      image.src = api + "/image";
    });
    fit();
    root.dataset.ready = "true";
  }
  window.addEventListener("resize", () => image.naturalWidth && fit());
  start().catch((error) => {
    root.dataset.ready = "error";
    say(error.message, "error");
  });
})();
