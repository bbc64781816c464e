// spinestab imaging viewer: NiiVue (vendored) with the muscle mask as an editable drawing,
// the per-level table, level names, the fat overlay and the QA pictures. No inline script:
// everything the page needs comes in data-* attributes and from the JSON API.
"use strict";

(function () {
  const root = document.getElementById("imaging-viewer");
  if (!root || !window.niivue || !window.spinestabImaging) {
    return;
  }
  const api = root.dataset.api;
  const jobsApi = root.dataset.jobs;
  const csrf = root.dataset.csrf;
  const text = JSON.parse(root.dataset.text || "{}");
  const flagWords = JSON.parse(root.dataset.flags || "{}");
  const muscleWords = JSON.parse(root.dataset.muscles || "{}"); // the record page's names
  const $ = (sel) => root.querySelector(sel);
  const status = $("#viewer-status");

  const state = {
    startedAt: performance.now(), // ms from navigation start to this script running
    study: null,
    maskVersion: null, // the version shown (null: a new drawing)
    result: null,
    penValue: null,
    tool: "navigate",
    affine: null, // native voxel -> mm (from the NIfTI header)
    perm: [1, 2, 3], // native axis -> RAS axis (1-based, negative: flipped)
    dimsRas: [1, 1, 1],
    sliceAxis: 2,
    dims: [1, 1, 1],
    fatShown: false,
    fatVolume: null,
    changed: false,
    sliceTable: {}, // level -> [first, last], 0-based (the slice levels being marked)
  };

  const nv = new window.niivue.Niivue({
    isRadiologicalConvention: true,
    isOrientationTextVisible: true,
    show3Dcrosshair: false,
    backColor: [0, 0, 0, 1],
    crosshairColor: [1, 1, 0, 0.6],
    multiplanarForceRender: false,
    // axial from the first frame: the default (planes with a 3D render) would draw the
    // volume rendering once for nothing when the volume arrives
    sliceType: window.niivue.SLICE_TYPE.AXIAL,
    logLevel: "error",
  });
  window.spinestabViewer = { nv: nv, state: state }; // for tests and the benchmark

  const common = window.spinestabImaging;
  const say = (message, kind) => common.say(status, message, kind);
  const fetchOk = common.fetchOk;

  async function loadNifti(url, name, extra) {
    const buffer = await (await fetchOk(url)).arrayBuffer();
    return window.niivue.NVImage.loadFromUrl(Object.assign({ url: buffer, name: name }, extra || {}));
  }

  // ---- geometry: native voxel index <-> NiiVue's RAS voxel and texture fraction ---------
  // NiiVue shows (and draws on) the volume in its RAS-reordered voxel grid; an oblique
  // volume is shown in voxel space, not resliced, so voxels map one to one.
  function affineOf(volume) {
    const a = volume.hdr.affine;
    return [a[0], a[1], a[2], a[3]].map((row) => Array.from(row));
  }
  function sliceAxisOf(affine) {
    // the array axis closest to world S (as spinestab.imaging.io.slice_axis)
    let best = 0;
    let bestValue = -1;
    for (let c = 0; c < 3; c++) {
      const norm = Math.hypot(affine[0][c], affine[1][c], affine[2][c]);
      const value = Math.abs(affine[2][c]) / norm;
      if (value > bestValue) {
        best = c;
        bestValue = value;
      }
    }
    return best;
  }
  function nativeToRas(v) {
    const out = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      const p = state.perm[a];
      out[Math.abs(p) - 1] = p > 0 ? v[a] : state.dims[a] - 1 - v[a];
    }
    return out;
  }
  function rasToNative(r) {
    const out = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      const p = state.perm[a];
      const value = r[Math.abs(p) - 1];
      out[a] = p > 0 ? value : state.dims[a] - 1 - value;
    }
    return out;
  }
  function fracToNative(frac) {
    return rasToNative([0, 1, 2].map((a) => frac[a] * state.dimsRas[a] - 0.5));
  }
  function currentVoxel() {
    return fracToNative(nv.scene.crosshairPos).map((v) => Math.round(v));
  }
  function canvasToVoxel(x, y) {
    // a point on the canvas (CSS pixels) -> native voxel index (fractional)
    const canvas = $("#viewer-canvas");
    const k = canvas.width / canvas.getBoundingClientRect().width;
    return fracToNative(nv.canvasPos2frac([x * k, y * k]));
  }
  window.spinestabViewer.canvasToVoxel = canvasToVoxel;
  function goToSlice(index) {
    const vox = currentVoxel();
    vox[state.sliceAxis] = Math.max(0, Math.min(state.dims[state.sliceAxis] - 1, index));
    const ras = nativeToRas(vox);
    nv.scene.crosshairPos = [0, 1, 2].map((a) => (ras[a] + 0.5) / state.dimsRas[a]);
    nv.drawScene();
    nv.createOnLocationChange && nv.createOnLocationChange();
    showSlice();
  }
  function showSlice() {
    const k = currentVoxel()[state.sliceAxis];
    const slider = $("#slice");
    slider.value = String(k);
    $("#slice-label").textContent = text.slice + " " + (k + 1) + " / " + state.dims[state.sliceAxis];
  }

  // ---- colours: one per muscle, sides apart -------------------------------------------
  function hex(colour) {
    return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  }
  function drawColormap(palette) {
    const size = Math.max(255, ...palette.map((p) => p.value)) + 1;
    const cmap = { R: [], G: [], B: [], A: [], labels: [] };
    for (let i = 0; i < size; i++) {
      cmap.R.push(0);
      cmap.G.push(0);
      cmap.B.push(0);
      cmap.A.push(0);
      cmap.labels.push("");
    }
    palette.forEach((p) => {
      const rgb = hex(p.colour);
      cmap.R[p.value] = rgb[0];
      cmap.G[p.value] = rgb[1];
      cmap.B[p.value] = rgb[2];
      cmap.A[p.value] = p.kind === "muscle" ? 255 : 90;
      cmap.labels[p.value] = p.label;
    });
    return cmap;
  }

  // ---- the mask: a version as the drawing, or a new one -------------------------------
  // A version comes cropped to its labels' box (a NIfTI of its own, uint8) with where the
  // box lies in the series' grid; it is put back into NiiVue's drawing (RAS order) here,
  // which spares NiiVue reading a whole-grid label volume.
  function fetchMask(version) {
    return fetchOk(api + "/mask?crop=true&version=" + version).then(async (response) => ({
      version: version,
      origin: (response.headers.get("X-Mask-Crop-Origin") || "0,0,0").split(",").map(Number),
      buffer: await response.arrayBuffer(),
    }));
  }
  async function gunzip(buffer) {
    const bytes = new Uint8Array(buffer);
    if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
      return buffer;
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  function readLabelNifti(buffer) {
    // NIfTI-1: sizeof_hdr (348) at 0, dim[8] int16 at 40, datatype at 70, vox_offset at 108
    const view = new DataView(buffer);
    const little = view.getInt32(0, true) === 348;
    if (!little && view.getInt32(0, false) !== 348) {
      throw new Error(text.mask_not_loaded);
    }
    const dims = [1, 2, 3].map((i) => view.getInt16(40 + 2 * i, little));
    const datatype = view.getInt16(70, little);
    const offset = Math.round(view.getFloat32(108, little));
    const count = dims[0] * dims[1] * dims[2];
    if (datatype === 2) {
      return { dims: dims, data: new Uint8Array(buffer, offset, count) };
    }
    if (datatype === 4 || datatype === 512) {
      const data = new Uint8Array(count);
      for (let n = 0; n < count; n++) {
        const value = view.getInt16(offset + 2 * n, little);
        data[n] = value > 255 ? 0 : value; // the viewer draws labels 0..255
      }
      return { dims: dims, data: data };
    }
    throw new Error(text.mask_not_loaded);
  }
  function rasIndexTables() {
    // native index along each axis -> its share of the RAS-ordered drawing's flat index
    const strides = [1, state.dimsRas[0], state.dimsRas[0] * state.dimsRas[1]];
    return [0, 1, 2].map((a) => {
      const p = state.perm[a];
      const stride = strides[Math.abs(p) - 1];
      const table = new Int32Array(state.dims[a]);
      for (let v = 0; v < state.dims[a]; v++) {
        table[v] = (p > 0 ? v : state.dims[a] - 1 - v) * stride;
      }
      return table;
    });
  }
  async function maskBitmap(fetched) {
    const box = readLabelNifti(await gunzip(fetched.buffer));
    const o = fetched.origin;
    if ([0, 1, 2].some((a) => o[a] < 0 || o[a] + box.dims[a] > state.dims[a])) {
      throw new Error(text.mask_not_loaded);
    }
    const [tx, ty, tz] = rasIndexTables();
    const bitmap = new Uint8Array(state.dimsRas[0] * state.dimsRas[1] * state.dimsRas[2]);
    const data = box.data;
    let n = 0;
    for (let k = 0; k < box.dims[2]; k++) {
      const zk = tz[k + o[2]];
      for (let j = 0; j < box.dims[1]; j++) {
        const yj = zk + ty[j + o[1]];
        for (let i = 0; i < box.dims[0]; i++) {
          bitmap[tx[i + o[0]] + yj] = data[n++];
        }
      }
    }
    return bitmap;
  }
  async function showMask(version, prefetched) {
    const fetched =
      version === null
        ? null
        : prefetched && prefetched.version === version
          ? await prefetched.promise
          : await fetchMask(version);
    const bitmap = fetched === null ? null : await maskBitmap(fetched);
    nv.createEmptyDrawing();
    if (bitmap !== null) {
      nv.drawBitmap.set(bitmap);
      nv.drawClearAllUndoBitmaps();
      nv.drawAddUndoBitmap();
      nv.refreshDrawing(false);
    }
    state.maskVersion = version;
    state.changed = false;
    nv.setDrawOpacity(parseFloat($("#opacity").value));
    describeVersion();
    showResult();
  }

  // Slice numbers shown count from 1 (as the slider and the QA titles); the API's are
  // 0-based array indices (level spans, an edit's slices, the slice table).
  function sliceList(indices) {
    return indices.map((k) => String(k + 1)).join(", ");
  }
  function describeVersion() {
    const v = state.study.mask_versions.find((m) => m.version === state.maskVersion);
    const slices = v && v.edit && v.edit.slices ? v.edit.slices : [];
    $("#mask-version-info").textContent = v
      ? text.version_line
          .replace("{version}", v.version)
          .replace("{method}", v.method)
          .replace("{author}", v.author)
          .replace("{at}", v.created_at.slice(0, 16).replace("T", " ")) +
        (slices.length && v.parent_version
          ? " · " + text.edited_slices.replace("{slices}", sliceList(slices))
          : "")
      : "";
  }

  // ---- results: the per-level table of the shown mask version -------------------------
  function fmt(value, digits) {
    return value === null || value === undefined || value === "" ? "–" : Number(value).toFixed(digits);
  }
  // A study flag (NAME or NAME:DETAIL) in words, with its detail (muscle, side, count);
  // a flag the catalogue does not know is shown as its code.
  function flagText(flag) {
    const cut = flag.indexOf(":");
    const name = cut < 0 ? flag : flag.slice(0, cut);
    const words = flagWords[name];
    if (!words) {
      return flag;
    }
    return cut < 0 ? words : flag.slice(cut + 1) + ": " + words;
  }
  function showResult() {
    const results = state.study.results.filter((r) => r.mask_version === state.maskVersion);
    state.result = results.length ? results[results.length - 1] : null;
    const table = $("#levels-table tbody");
    table.textContent = "";
    const caption = $("#result-caption");
    const levelsBox = $("#level-names");
    const pictures = $("#qa-pictures");
    pictures.textContent = "";
    if (!state.result) {
      caption.textContent = state.maskVersion === null ? text.no_mask : text.no_result;
      levelsBox.hidden = true;
      $("#fat-toggle").disabled = true;
      return;
    }
    const r = state.result;
    caption.textContent = text.result_line
      .replace("{version}", r.mask_version)
      .replace("{method}", r.mask_method)
      .replace("{author}", r.mask_author)
      .replace("{fat}", r.fat_method || "–");
    const spans = {};
    (r.level_slices || []).forEach((s) => {
      spans[s.level] = s;
    });
    // names that rest on an assumption say so on every row until a clinician confirms them
    const namesState = (r.level_names || {}).state;
    const mark = text["level_mark_" + namesState];
    r.rows.forEach((row) => {
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.level = row.level;
      const cells = [
        row.level + (mark && row.level !== "all" ? " " + mark : ""),
        muscleWords[row.muscle] || row.muscle.replace(/_/g, " "),
        text["side_" + row.side] || row.side,
        fmt(row.csa_max_mm2, 0),
        fmt(row.fat_fraction_pct, 1),
        row.grade === "" || row.grade === null ? "–" : row.grade,
      ];
      cells.forEach((value) => {
        const td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      });
      const go = () => {
        const span = spans[row.level];
        if (span) {
          goToSlice(span.middle);
          // on a phone the table lies below the image: bring the image into view
          const box = $("#viewer-canvas").getBoundingClientRect();
          if (box.bottom < 0 || box.top > window.innerHeight) {
            $("#viewer-canvas").scrollIntoView({ block: "center" });
          }
          say(
            text.showing_level
              .replace("{level}", row.level)
              .replace("{first}", span.first + 1)
              .replace("{last}", span.last + 1)
          );
        }
      };
      tr.addEventListener("click", go);
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          go();
        }
      });
      table.appendChild(tr);
    });
    const names = r.level_names || {};
    levelsBox.hidden = false;
    $("#level-state").textContent = text["levels_" + (names.state || "none")] || names.state || "";
    $("#level-how").textContent = names.how || "";
    const select = $("#level-computed");
    select.textContent = "";
    (r.levels_present || []).forEach((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    });
    $("#level-form").hidden = !(r.levels_present || []).length;
    $("#level-help").hidden = !(r.levels_present || []).length;
    state.sliceTable = {};
    Object.entries(r.slice_levels || {}).forEach(([name, span]) => {
      state.sliceTable[name] = [span[0], span[1]];
    });
    showSliceTable();
    if (r.slice_levels_by) {
      $("#level-how").textContent = text.slice_levels_by.replace("{by}", r.slice_levels_by);
    }
    $("#result-flags").textContent = (r.flags || []).map(flagText).join("; ");
    (r.pictures || []).forEach((p) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = p.url;
      img.alt = text.qa_picture.replace("{name}", p.name);
      img.loading = "lazy";
      const caption = document.createElement("figcaption");
      caption.textContent = p.name + " · " + text.mask_short.replace("{version}", r.mask_version);
      figure.appendChild(img);
      figure.appendChild(caption);
      pictures.appendChild(figure);
    });
    $("#fat-toggle").disabled = !r.fat_url;
    $("#fat-toggle-label").textContent = r.fat_classes ? text.fat_classes : text.fat_map;
  }

  // ---- tools ---------------------------------------------------------------------------
  function setTool(tool) {
    state.tool = tool;
    root.querySelectorAll("[data-tool]").forEach((b) => {
      b.setAttribute("aria-pressed", b.dataset.tool === tool ? "true" : "false");
    });
    if (tool === "navigate") {
      nv.setDrawingEnabled(false);
      return;
    }
    if ((tool === "pen" || tool === "fill") && state.penValue === null) {
      say(text.pick_label, "warn");
    }
    // an eraser clears whatever it covers; "leave other muscles untouched" guards drawing only
    nv.drawFillOverwrites = tool.startsWith("erase") || !$("#protect").checked;
    nv.setDrawingEnabled(true);
    if (tool === "erase") {
      nv.setPenValue(0, false);
    } else if (tool === "erase-fill") {
      nv.setPenValue(0, true);
    } else {
      nv.setPenValue(state.penValue === null ? 0 : state.penValue, tool === "fill");
    }
  }
  function pickLabel(value) {
    state.penValue = value;
    root.querySelectorAll("[data-label]").forEach((b) => {
      b.setAttribute("aria-pressed", Number(b.dataset.label) === value ? "true" : "false");
    });
    if (state.tool === "navigate" || state.tool.startsWith("erase")) {
      setTool("fill");
    } else {
      setTool(state.tool);
    }
  }
  function buildPalette() {
    const box = $("#palette");
    box.textContent = "";
    state.study.palette
      .filter((p) => p.editable)
      .forEach((p) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "label-button side-" + p.side;
        button.dataset.label = String(p.value);
        button.setAttribute("aria-pressed", "false");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.setProperty("background-color", p.colour);
        button.appendChild(swatch);
        const side = p.side === "left" ? " L" : p.side === "right" ? " R" : "";
        button.appendChild(document.createTextNode(p.name.replace("_", " ") + side));
        button.addEventListener("click", () => pickLabel(p.value));
        box.appendChild(button);
      });
  }

  function setWindow() {
    const volume = nv.volumes[0];
    const width = parseFloat($("#window-width").value);
    const centre = parseFloat($("#window-level").value);
    if (!isFinite(width) || !isFinite(centre) || width <= 0) {
      return;
    }
    volume.cal_min = centre - width / 2;
    volume.cal_max = centre + width / 2;
    nv.updateGLVolume();
  }
  function showWindow() {
    const volume = nv.volumes[0];
    $("#window-width").value = Math.round(volume.cal_max - volume.cal_min);
    $("#window-level").value = Math.round((volume.cal_max + volume.cal_min) / 2);
  }

  async function toggleFat() {
    const r = state.result;
    if (!r || !r.fat_url) {
      return;
    }
    state.fatShown = !state.fatShown;
    $("#fat-toggle").setAttribute("aria-pressed", state.fatShown ? "true" : "false");
    if (state.fatShown) {
      if (!state.fatVolume || state.fatVolume.spinestabUrl !== r.fat_url) {
        if (state.fatVolume) {
          nv.removeVolume(state.fatVolume);
        }
        say(text.loading);
        state.fatVolume = await loadNifti(r.fat_url, "fat.nii.gz", {
          colormap: r.fat_classes ? "red" : "warm",
          cal_min: r.fat_classes ? 49 : 0,
          cal_max: r.fat_classes ? 51 : 100,
          opacity: 0.6,
        });
        state.fatVolume.spinestabUrl = r.fat_url;
        nv.addVolume(state.fatVolume);
        say("");
      }
      nv.setOpacity(1, 0.6);
      nv.setDrawOpacity(0);
    } else if (state.fatVolume) {
      nv.setOpacity(1, 0);
      nv.setDrawOpacity(parseFloat($("#opacity").value));
    }
  }

  // ---- jobs ----------------------------------------------------------------------------
  function waitForJob(jobId) {
    return common.waitForJob(jobsApi, jobId, {
      bar: $("#job-progress"),
      failedText: text.job_failed,
      onStep: (job) => say(text.analysing + (job.message ? " · " + job.message : "")),
    });
  }
  async function refresh(version) {
    state.study = await (await fetchOk(api)).json();
    buildVersions();
    if (version !== undefined) {
      state.maskVersion = version;
      $("#mask-version").value = String(version);
    }
    describeVersion();
    showResult();
  }
  function buildVersions() {
    const select = $("#mask-version");
    select.textContent = "";
    state.study.mask_versions.forEach((v) => {
      const option = document.createElement("option");
      option.value = String(v.version);
      option.textContent = "v" + v.version + " · " + v.method + " · " + v.author;
      select.appendChild(option);
    });
    const fresh = document.createElement("option");
    fresh.value = "new";
    fresh.textContent = text.new_drawing;
    select.appendChild(fresh);
    select.value = state.maskVersion === null ? "new" : String(state.maskVersion);
  }

  async function save() {
    const button = $("#save");
    button.disabled = true;
    try {
      say(text.saving);
      const bytes = await nv.saveImage({ filename: "", isSaveDrawing: true });
      if (!(bytes instanceof Uint8Array)) {
        throw new Error(text.nothing_drawn);
      }
      // gzip in the browser (masks compress ~50x) and send as a multipart file
      const gz = await new Response(
        new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))
      ).blob();
      const form = new FormData();
      form.append("mask", gz, "mask.nii.gz");
      if (state.maskVersion !== null) {
        form.append("from_version", String(state.maskVersion));
      }
      const note = $("#note").value.trim();
      if (note) {
        form.append("note", note);
      }
      if (state.result && state.result.slice_levels) {
        form.append("slice_levels", JSON.stringify(state.result.slice_levels));
      }
      const response = await fetchOk(api + "/mask", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
        body: form,
      });
      const saved = await response.json();
      state.changed = false;
      say(text.saved.replace("{version}", saved.version).replace("{method}", saved.method));
      await refresh(saved.version);
      if (saved.job_id) {
        await waitForJob(saved.job_id);
        await refresh(saved.version);
        say(text.analysed.replace("{version}", saved.version), "ok");
      }
    } catch (error) {
      say(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function relevel(confirmOnly) {
    const r = state.result;
    if (!r) {
      return;
    }
    const body = { mask_version: r.mask_version, level_names: { rename: {} } };
    if (r.slice_levels) {
      body.slice_levels = r.slice_levels;
    }
    if (!confirmOnly) {
      const computed = $("#level-computed").value;
      const right = $("#level-right").value.trim().toUpperCase();
      if (!computed || !right) {
        say(text.level_pair_needed, "warn");
        return;
      }
      body.level_names.rename[computed] = right;
    }
    try {
      say(text.analysing);
      const response = await fetchOk(api + "/analyses", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const job = await response.json();
      await waitForJob(job.job_id);
      await refresh(r.mask_version);
      say(text.levels_done, "ok");
    } catch (error) {
      say(error.message, "error");
    }
  }

  // ---- levels by slice (where the mask names no vertebrae): spinestab mri --levels-table --
  // The fields show slice numbers as the slider does (1-based); the API takes 0-based ones.
  function showSliceTable() {
    const list = $("#slice-level-list");
    list.textContent = "";
    Object.entries(state.sliceTable)
      .sort((a, b) => a[1][0] - b[1][0])
      .forEach(([name, span]) => {
        const item = document.createElement("li");
        item.appendChild(
          document.createTextNode(
            text.slice_levels_line
              .replace("{level}", name)
              .replace("{first}", span[0] + 1)
              .replace("{last}", span[1] + 1) + " "
          )
        );
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "small";
        remove.textContent = text.slice_remove;
        remove.setAttribute("aria-label", text.slice_remove + " " + name);
        remove.addEventListener("click", () => {
          delete state.sliceTable[name];
          showSliceTable();
        });
        item.appendChild(remove);
        list.appendChild(item);
      });
    $("#slice-level-run").disabled = !Object.keys(state.sliceTable).length;
  }
  function addSliceLevel() {
    const n = state.dims[state.sliceAxis];
    const name = $("#slice-level-name").value;
    const first = parseInt($("#slice-level-first").value, 10);
    const last = parseInt($("#slice-level-last").value, 10);
    if (!(first >= 1 && last >= first && last <= n)) {
      say(text.slice_range_bad.replace("{n}", n), "warn");
      return;
    }
    const taken = Object.entries(state.sliceTable).find(
      ([other, span]) => other !== name && span[0] <= last - 1 && first - 1 <= span[1]
    );
    if (taken) {
      say(text.slice_overlap.replace("{level}", taken[0]), "warn");
      return;
    }
    state.sliceTable[name] = [first - 1, last - 1];
    showSliceTable();
    say("");
  }
  async function runSliceLevels() {
    const r = state.result;
    if (!r || !Object.keys(state.sliceTable).length) {
      say(text.slice_none, "warn");
      return;
    }
    try {
      say(text.analysing);
      const response = await fetchOk(api + "/analyses", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ mask_version: r.mask_version, slice_levels: state.sliceTable }),
      });
      const job = await response.json();
      await waitForJob(job.job_id);
      await refresh(r.mask_version);
      say(text.levels_done, "ok");
    } catch (error) {
      say(error.message, "error");
    }
  }

  // ---- start ---------------------------------------------------------------------------
  async function start() {
    const t0 = performance.now();
    const marks = {};
    const mark = (name) => {
      marks[name] = Math.round(performance.now() - t0);
    };
    state.marks = marks;
    say(text.loading);
    // the state, the volume and the latest mask version (named by the page) are fetched at
    // once (the page preloads them while NiiVue's script loads)
    const latestMask = parseInt(root.dataset.latestMask || "", 10);
    const prefetched = Number.isNaN(latestMask)
      ? null
      : { version: latestMask, promise: fetchMask(latestMask) };
    const fetched = Promise.all([
      fetchOk(api).then((r) => r.json()),
      // gzip-encoded by HTTP: the browser inflates it off this thread (see nifti_http.py)
      loadNifti(api + "/volume?transfer=http", "volume.nii"),
    ]).then((both) => {
      mark("volume");
      return both;
    });
    await nv.attachToCanvas($("#viewer-canvas"));
    mark("attached");
    const [study, volume] = await fetched;
    state.study = study;
    // the drawing's colours before the volume: NiiVue redraws every layer when they change
    nv.setDrawColormap(drawColormap(study.palette));
    nv.addVolume(volume);
    nv.setSliceType(nv.sliceTypeAxial);
    state.affine = affineOf(volume);
    state.sliceAxis = sliceAxisOf(state.affine);
    state.dims = [volume.hdr.dims[1], volume.hdr.dims[2], volume.hdr.dims[3]];
    state.perm = Array.from(volume.permRAS || [1, 2, 3]);
    state.dimsRas = [volume.dimsRAS[1], volume.dimsRAS[2], volume.dimsRAS[3]];
    const slider = $("#slice");
    slider.max = String(state.dims[state.sliceAxis] - 1);
    $("#slice-level-first").max = String(state.dims[state.sliceAxis]);
    $("#slice-level-last").max = String(state.dims[state.sliceAxis]);
    showWindow();
    showSlice();
    // the image is on screen and can be paged, windowed and read: the first view
    mark("shown");
    state.imageShownMs = performance.now() - t0;
    root.dataset.imageReady = "true";
    buildPalette();
    const versions = study.mask_versions;
    const latest = versions.length ? versions[versions.length - 1].version : null;
    buildVersions();
    if (latest !== null) {
      say(text.loading_mask);
    }
    await showMask(latest, prefetched);
    $("#mask-version").value = latest === null ? "new" : String(latest);
    mark("drawn");
    state.firstViewMs = performance.now() - t0;
    $("#drawing-tools").disabled = false;
    root.dataset.ready = "true";
    say(latest === null ? text.draw_first : "");
    await followJobs();
  }

  // A mask given at upload (or a save or re-analysis from another tab) is analysed after
  // the page opens: follow the shown version's queued or running job, then show its table;
  // a failed last job of the shown version says why.
  async function followJobs() {
    const jobs = (state.study.jobs || []).filter((j) => j.mask_version === state.maskVersion);
    const last = jobs.length ? jobs[jobs.length - 1] : null;
    if (!last) {
      return;
    }
    if (last.status === "failed" && !state.result) {
      say(text.job_failed + " " + (last.errors || []).join("; "), "error");
      return;
    }
    if (last.status !== "queued" && last.status !== "running") {
      return;
    }
    const version = state.maskVersion;
    try {
      await waitForJob(last.job_id);
      if (state.maskVersion === version && !state.changed) {
        await refresh(version);
        say(text.analysed.replace("{version}", version), "ok");
      }
    } catch (error) {
      say(error.message, "error");
    }
  }

  // NiiVue focuses the canvas on a press; on a canvas partly scrolled out of view the browser
  // then scrolls the page under the pointer, and the rest of the stroke lands elsewhere.
  // Focusing it first without scrolling leaves NiiVue's focus nothing to do.
  ["pointerdown", "mousedown", "touchstart"].forEach((kind) =>
    $("#viewer-canvas").addEventListener(
      kind,
      () => $("#viewer-canvas").focus({ preventScroll: true }),
      { capture: true, passive: true }
    )
  );
  nv.onLocationChange = () => showSlice();
  nv.onImageLoaded = () => {};
  root.querySelectorAll("[data-tool]").forEach((b) =>
    b.addEventListener("click", () => setTool(b.dataset.tool))
  );
  $("#undo").addEventListener("click", () => nv.drawUndo());
  $("#save").addEventListener("click", save);
  $("#slice").addEventListener("input", (e) => goToSlice(parseInt(e.target.value, 10)));
  $("#prev-slice").addEventListener("click", () => goToSlice(currentVoxel()[state.sliceAxis] - 1));
  $("#next-slice").addEventListener("click", () => goToSlice(currentVoxel()[state.sliceAxis] + 1));
  $("#opacity").addEventListener("input", (e) => nv.setDrawOpacity(parseFloat(e.target.value)));
  $("#pen-size").addEventListener("change", (e) => {
    nv.opts.penSize = parseInt(e.target.value, 10);
  });
  $("#protect").addEventListener("change", () => {
    nv.drawFillOverwrites = state.tool.startsWith("erase") || !$("#protect").checked;
  });
  $("#window-width").addEventListener("change", setWindow);
  $("#window-level").addEventListener("change", setWindow);
  $("#fat-toggle").addEventListener("click", () => toggleFat().catch((e) => say(e.message, "error")));
  $("#view").addEventListener("change", (e) => {
    const kinds = {
      axial: nv.sliceTypeAxial,
      sagittal: nv.sliceTypeSagittal,
      coronal: nv.sliceTypeCoronal,
      planes: nv.sliceTypeMultiplanar,
    };
    nv.setSliceType(kinds[e.target.value]);
  });
  $("#mask-version").addEventListener("change", (e) => {
    const value = e.target.value === "new" ? null : parseInt(e.target.value, 10);
    showMask(value).catch((error) => say(error.message, "error"));
  });
  $("#slice-level-first-here").addEventListener("click", () => {
    $("#slice-level-first").value = String(currentVoxel()[state.sliceAxis] + 1);
  });
  $("#slice-level-last-here").addEventListener("click", () => {
    $("#slice-level-last").value = String(currentVoxel()[state.sliceAxis] + 1);
  });
  $("#slice-level-add").addEventListener("click", addSliceLevel);
  $("#slice-level-run").addEventListener("click", runSliceLevels);
  $("#level-confirm").addEventListener("click", () => relevel(true));
  $("#level-correct").addEventListener("click", () => relevel(false));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("input, select, textarea")) {
      return;
    }
    if ((e.ctrlKey || e.metaKey) && e.key === "z") {
      e.preventDefault();
      nv.drawUndo();
    } else if (e.key === "PageUp") {
      goToSlice(currentVoxel()[state.sliceAxis] + 1);
    } else if (e.key === "PageDown") {
      goToSlice(currentVoxel()[state.sliceAxis] - 1);
    }
  });
  start().catch((error) => {
    root.dataset.ready = "error";
    say(error.message, "error");
  });
})();
