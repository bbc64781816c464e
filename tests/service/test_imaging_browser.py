"""The imaging pages in Debian's Chromium (WebGL2 through SwiftShader), against `spinestab serve`.

- Viewer: the bundled MuscleMap MRI uploaded without a mask (no segmenter), one muscle traced
  on one slice by scripted pointer events on the NiiVue canvas, saved; the stored result
  equals ``spinestab mri`` on the saved mask, and the saved mask holds the traced polygon.
- Landmark tool: three synthetic films with known corners; every corner placed by a click
  and nudged with the arrow keys under the magnifier; the analysis run from the page; slip
  within 0.5 mm and angles within 0.5 deg of the truth.

Screenshots at phone and desktop size go to ``SPINESTAB_SCREENSHOT_DIR`` when it is set.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from .conftest import chromium

pytestmark = pytest.mark.browser

#: SwiftShader gives a WebGL2 context in headless Chromium (NiiVue needs one).
FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
DOC = ("doc", "clinician pass 1")
DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"


@pytest.fixture(scope="module")
def browser():
    with chromium(*FLAGS) as chromium_browser:
        yield chromium_browser


@pytest.fixture(scope="module")
def server(start_serve):
    def seed(serve):
        for pseudonym in ("P-IMG", "P-IMG-desktop", "P-IMG-phone"):
            serve.run("patient", "add", pseudonym, "--sex", "female", "--birth-year", "1968")
        serve.run("user", "add", DOC[0], "--role", "clinician", "--password-stdin", stdin=DOC[1])

    serve = start_serve("imaging-serve", env={"SPINESTAB_JOB_WORKERS": "1"}, seed=seed)
    return {"base": serve.base, "env": serve.env, "cli": serve.cli, "folder": serve.folder}


def _shot(page, name):
    folder = os.environ.get("SPINESTAB_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _login(page, base):
    page.goto(f"{base}/login")
    page.fill("#username", DOC[0])
    page.fill("#password", DOC[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/worklist")


def _errors(page):
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _canvas_voxels(page, points):
    """The voxel (i, j, k) under each canvas point, as NiiVue maps it."""
    return page.evaluate(
        "(points) => points.map(([x, y]) => window.spinestabViewer.canvasToVoxel(x, y))", points
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_trace_one_muscle_save_and_compare_with_the_cli(browser, server, viewport, tmp_path):
    from playwright.sync_api import expect

    base = server["base"]
    size = "phone" if viewport is PHONE else "desktop"
    patient = f"P-IMG-{size}"
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors = _errors(page)
    _login(page, base)
    page.goto(f"{base}/patients/{patient}/imaging")
    _shot(page, f"imaging-index-{size}")
    page.set_input_files("#image", str(MM_IMAGE))
    page.fill("#description", f"MuscleMap lumbar MRI ({size})")
    page.click("form[action$='/imaging'] button[type=submit]")
    page.wait_for_url(f"{base}/patients/{patient}/imaging/*")
    root = page.locator("#imaging-viewer")
    expect(root).to_have_attribute("data-ready", "true", timeout=60_000)
    first_view_ms = page.evaluate("window.spinestabViewer.state.firstViewMs")
    assert first_view_ms > 0
    _shot(page, f"imaging-viewer-empty-{size}")
    # slice 10 of 20; then right psoas with the outline-and-fill tool
    page.evaluate("document.getElementById('slice').value = '10'")
    page.dispatch_event("#slice", "input")
    page.click("[data-label='5']")
    expect(page.locator("[data-tool='fill']")).to_have_attribute("aria-pressed", "true")
    canvas = page.locator("#viewer-canvas")
    # a quarter of the canvas scrolled out of view, as a clinician's page often is: a press
    # must not scroll the page under the pointer (the stroke would land elsewhere)
    page.evaluate(
        "() => { const r = document.getElementById('viewer-canvas').getBoundingClientRect();"
        " window.scrollBy(0, r.top + r.height / 4); }"
    )
    scrolled = page.evaluate("window.scrollY")
    box = canvas.bounding_box()
    assert box["y"] < 0
    cx, cy = box["width"] / 2, box["height"] / 2
    r = min(box["width"], box["height"]) * 0.08
    polygon = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 25)]
    page.mouse.move(box["x"] + polygon[0][0], box["y"] + polygon[0][1])
    page.mouse.down()
    for x, y in polygon[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    page.mouse.up()
    assert page.evaluate("window.scrollY") == scrolled
    voxels = np.array(_canvas_voxels(page, [list(p) for p in polygon]))
    _shot(page, f"imaging-viewer-traced-{size}")
    page.click("#save")
    status = page.locator("#viewer-status")
    expect(status).to_have_text("Version 1 analysed.", timeout=180_000)
    _shot(page, f"imaging-viewer-result-{size}")
    rows = page.locator("#levels-table tbody tr")
    expect(rows.first).to_contain_text("psoas")

    # the stored mask: one slice, one label, the traced polygon's area
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    api = f"{base}/api/v1/patients/{patient}/imaging"
    with httpx.Client(cookies=cookies, timeout=60) as client:
        studies = client.get(api).json()
        study = studies[-1]
        version = study["mask_versions"][-1]
        assert (version["method"], version["author"]) == ("manual", "doc")
        mask_bytes = client.get(f"{api}/{study['id']}/mask?version={version['version']}").content
        state = client.get(f"{api}/{study['id']}").json()
    mask_path = tmp_path / "saved_mask.nii.gz"
    mask_path.write_bytes(mask_bytes)
    import nibabel as nib

    labels = np.asarray(nib.load(str(mask_path)).dataobj)
    assert set(np.unique(labels)) == {0, 5}
    (slices,) = np.nonzero(labels.any(axis=(0, 1)))
    assert list(slices) == [10]
    assert voxels[:, 2].round().tolist() == [10.0] * len(voxels)
    xy = voxels[:, :2]
    area = 0.5 * abs(
        np.dot(xy[:, 0], np.roll(xy[:, 1], 1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], 1))
    )
    assert np.count_nonzero(labels) == pytest.approx(area, rel=0.15)

    # the stored result equals `spinestab mri` on the same saved mask
    out = tmp_path / "cli"
    result = subprocess.run(
        [
            *server["cli"],
            "mri",
            "--image",
            str(MM_IMAGE),
            "--mask",
            str(mask_path),
            "--out",
            str(out),
        ],
        env=server["env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with (out / "muscle_quality.csv").open(newline="", encoding="utf-8") as handle:
        cli_rows = list(csv.DictReader(handle))
    (stored,) = [r for r in state["results"] if r["mask_version"] == version["version"]]
    assert stored["rows"] == cli_rows
    sides = {r["side"]: r for r in cli_rows if r["muscle"] == "psoas"}
    assert {r["muscle"] for r in cli_rows} == {"psoas"} and sides["right"]["n_slices"] == "1"
    assert sides["left"]["csa_max_mm2"] == ""  # the untraced side: absent, not zero
    assert "absent_from_mask:psoas left" in stored["flags"]
    # opened again, the viewer shows the saved version (fetched beside the volume)
    page.reload()
    expect(root).to_have_attribute("data-ready", "true", timeout=60_000)
    expect(page.locator("#mask-version-info")).to_contain_text("Version 1: manual, by doc")
    drawn = page.evaluate(
        "window.spinestabViewer.nv.drawBitmap.reduce((n, v) => n + (v === 5 ? 1 : 0), 0)"
    )
    assert drawn == np.count_nonzero(labels)
    assert errors == []
    context.close()


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _place(page, point):
    """Click at the screen pixel nearest to a film point, then nudge with the arrow keys."""
    sx, sy = page.evaluate("(p) => window.spinestabLandmarks.filmToScreen(p[0], p[1])", point)
    page.mouse.click(round(sx), round(sy))
    placed = page.evaluate(
        "() => { const s = window.spinestabLandmarks.state; const l = s.last;"
        " return s.points[l[0]][l[1]]; }"
    )
    for axis, (left, right) in enumerate((("ArrowLeft", "ArrowRight"), ("ArrowUp", "ArrowDown"))):
        steps = round((point[axis] - placed[axis]) * 4)  # one press = a quarter film pixel
        for _ in range(abs(steps)):
            page.keyboard.press(right if steps > 0 else left)


def test_place_corners_on_synthetic_films(browser, server):
    from playwright.sync_api import expect

    from spinestab.instability.film_phantom import STUDY_TRUTH, study_films
    from spinestab.instability.landmarks import CORNERS

    base = server["base"]
    films = study_films(pixel_spacing_mm=0.3)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = _errors(page)
    _login(page, base)
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    csrf = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    api = f"{base}/api/v1/patients/P-IMG/radiographs"
    ids = {}
    with httpx.Client(cookies=cookies, timeout=60) as client:
        for view, phantom in films.items():
            response = client.post(
                api,
                files={"file": (f"{view}.png", _png(phantom.pixels), "image/png")},
                data={"view": view, "pixel_spacing_mm": "0.3", "magnification_corrected": "true"},
                headers={"X-CSRF-Token": csrf},
            )
            assert response.status_code == 201, response.text
            ids[view] = response.json()["id"]
    for view, phantom in films.items():
        page.goto(f"{base}/patients/P-IMG/radiographs/{ids[view]}")
        tool = page.locator("#landmark-tool")
        expect(tool).to_have_attribute("data-ready", "true", timeout=30_000)
        for level, corners in phantom.landmarks.vertebrae.items():
            page.select_option("#level", level)
            for name, point in zip(CORNERS, corners.tolist(), strict=True):
                if np.isnan(point).any():
                    continue
                page.evaluate(
                    "([level, name]) => { const s = window.spinestabLandmarks.state;"
                    " s.level = level; s.point = name; }",
                    [level, name],
                )
                _place(page, point)
        if view == "neutral":
            _shot(page, "landmarks-neutral-desktop")
        page.click("#save-landmarks")
        expect(tool).to_have_attribute("data-saved", "1", timeout=30_000)
    page.goto(f"{base}/patients/P-IMG/instability")
    page.click("#run-instability")
    expect(page.locator("h2", has_text="Study")).to_have_count(1, timeout=120_000)
    _shot(page, "instability-desktop")
    with httpx.Client(cookies=cookies, timeout=60) as client:
        (study,) = client.get(f"{base}/api/v1/patients/P-IMG/instability").json()
    levels = {lv["level"]: lv for lv in study["result"]["levels"]}
    slips, angles, _ = STUDY_TRUTH["neutral"]
    for i, name in enumerate(["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]):
        assert levels[name]["slip_mm"] == pytest.approx(slips[i], abs=0.5), name
        assert levels[name]["segmental_angle_deg"] == pytest.approx(angles[i], abs=0.5), name
    assert levels["L4-L5"]["translation_mm"] == pytest.approx(4.5, abs=0.5)
    assert levels["L4-L5"]["angulation_deg"] == pytest.approx(11.0, abs=0.5)
    phone = browser.new_context(viewport=PHONE)
    small = phone.new_page()
    _login(small, base)
    small.goto(f"{base}/patients/P-IMG/radiographs/{ids['neutral']}")
    expect(small.locator("#landmark-tool")).to_have_attribute("data-ready", "true", timeout=30_000)
    _shot(small, "landmarks-neutral-phone")
    small.goto(f"{base}/patients/P-IMG/instability")
    _shot(small, "instability-phone")
    phone.close()
    assert errors == []
    context.close()


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def _axe(page):
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_imaging_pages_have_no_serious_accessibility_violations(browser, server, viewport):
    """axe-core (vendored) on the imaging list, the viewer, the landmark tool, instability."""
    from playwright.sync_api import expect

    from spinestab.instability.film_phantom import study_films

    base = server["base"]
    size = "phone" if viewport is PHONE else "desktop"
    context = browser.new_context(viewport=viewport, bypass_csp=True)  # to inject axe only
    page = context.new_page()
    _login(page, base)
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    csrf = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    api = f"{base}/api/v1/patients/P-IMG-a11y-{size}"
    subprocess.run(
        [*server["cli"], "patient", "add", f"P-IMG-a11y-{size}"],
        env=server["env"],
        check=True,
        capture_output=True,
    )
    with httpx.Client(cookies=cookies, timeout=60, headers={"X-CSRF-Token": csrf}) as client:
        study = client.post(
            f"{api}/imaging",
            files=[("image", (MM_IMAGE.name, MM_IMAGE.read_bytes(), "application/gzip"))],
        ).json()["study"]
        pixels = study_films(pixel_spacing_mm=0.3)["neutral"].pixels
        film = client.post(
            f"{api}/radiographs",
            files={"file": ("neutral.png", _png(pixels), "image/png")},
            data={"view": "neutral"},
        ).json()["id"]
    pages = f"{base}/patients/P-IMG-a11y-{size}"
    found = {}
    page.goto(f"{pages}/imaging")
    found["imaging"] = _axe(page)
    page.goto(f"{pages}/imaging/{study}")
    expect(page.locator("#imaging-viewer")).to_have_attribute("data-ready", "true", timeout=60_000)
    found["viewer"] = _axe(page)
    page.goto(f"{pages}/radiographs/{film}")
    expect(page.locator("#landmark-tool")).to_have_attribute("data-ready", "true", timeout=60_000)
    found["landmarks"] = _axe(page)
    page.goto(f"{pages}/instability")
    found["instability"] = _axe(page)
    context.close()
    assert {k: v for k, v in found.items() if v} == {}
