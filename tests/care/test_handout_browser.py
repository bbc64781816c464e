"""The handout renders in headless Chromium (screenshot) and shows every exercise's picture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from spinestab.care import demo_patients_dir, run_plan

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium, see .ci/run)")
        pytest.skip("Chromium not installed")
    return CHROMIUM


def _run(chromium, tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to raw rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8 and body[12] == 0
            channels = {2: 3, 6: 4}[body[9]]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out, prev = bytearray(), bytearray(stride)
    for row in range(height):
        filt = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, bytes(out[::channels])  # red channel only


@pytest.mark.parametrize(
    ("patient", "language"),
    [
        ("functional_high_risk", "en"),
        ("structural_spondylolisthesis", "de"),
        ("red_flag_cauda_equina", "en"),
    ],
)
def test_handout_renders_with_pictures(chromium, tmp_path, patient, language):
    out = tmp_path / "out"
    run_plan(demo_patients_dir() / patient, out, language=language)
    handout = out / "handout.html"
    shot = tmp_path / "shot.png"
    result = _run(
        chromium, tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", handout.as_uri()
    )
    assert shot.exists(), result.stderr[-2000:]
    width, height, red = _png_pixels(shot)
    assert (width, height) == (1000, 1400)
    dark = sum(v < 128 for v in red) / len(red)
    assert 0.005 < dark < 0.5  # text and figures drawn, not a blank or black page
    dom = _run(chromium, tmp_path, "--dump-dom", handout.as_uri()).stdout
    assert f'<html lang="{language}">' in dom
    if patient == "red_flag_cauda_equina":
        assert 'id="no-plan"' in dom and "<img" not in dom
        return
    cards = re.findall(r'<div class="exercise" id="ex-([a-z_]+)">', dom)
    assert len(cards) >= 9
    for card in cards:
        block = dom.split(f'id="ex-{card}"', 1)[1].split('<div class="exercise"', 1)[0]
        assert 'src="data:image/svg+xml;base64,' in block, card
