"""Black-box cases: other CSV layouts, damaged device files, and an independent phantom.

The phantom here is written independently of ``spinestab.wearable.synthetic``: a scripted
trunk signal with known posture and forward inclination per second, so posture,
exposures and prompt times are checked against hand-computed truth.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.config import PromptConfig
from spinestab.wearable.io import G_MS2, read_recording, recording_from_array
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.posture import (
    LYING,
    MOVEMENT_CLASSES,
    NONWEAR,
    SITTING,
    STANDING,
    STATIC_CLASSES,
    UPRIGHT_STATIC,
    WALKING,
)
from spinestab.wearable.prompts import PromptEngine, offline_prompts

from .conftest import DATA

T0 = 1704067200.0  # 2024-01-01 00:00 UTC


def _still_walk(nsec, fs, seed=0):
    """Upright trunk (x up), walking at 1.8 Hz in seconds 60-240."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(nsec * fs)) / fs
    a = np.zeros((t.size, 3))
    a[:, 0] = 1.0
    w = (t >= 60) & (t < 240)
    a[w, 0] += 0.3 * np.sin(2 * np.pi * 1.8 * t[w])
    return t, a + rng.normal(0, 0.01, a.shape)


@pytest.mark.parametrize(
    ("tname", "names", "scale"),
    [
        ("Time", ("Acc-X", "Acc-Y", "Acc-Z"), 1.0),
        ("Timestamp", ("Accel X (m/s^2)", "Accel Y (m/s^2)", "Accel Z (m/s^2)"), G_MS2),
        (
            "HEADER_TIMESTAMP",
            tuple(f"{k}_ACCELERATION_METERS_PER_SECOND_SQUARED" for k in "XYZ"),
            G_MS2,
        ),
        ("unix_ms", ("accX", "accY", "accZ"), 1.0),
    ],
)
def test_csv_other_column_names(tmp_path, tname, names, scale):
    t, a = _still_walk(300, 25)
    tv = (T0 + t) * 1e3 if tname == "unix_ms" else T0 + t
    f = tmp_path / "rec.csv"
    rows = "\n".join(
        f"{tt:.3f},{x:.5f},{y:.5f},{z:.5f}" for tt, (x, y, z) in zip(tv, a * scale, strict=True)
    )
    f.write_text(f"{tname},{','.join(names)}\n{rows}\n")
    r = read_recording(f)
    assert r.units == ("g" if scale == 1.0 else "m/s2")
    assert r.fs_hz == 25 and r.n_samples == t.size
    assert r.start_unix_s == pytest.approx(T0, abs=1e-3)
    np.testing.assert_allclose(r.read()[:, 0], a[:, 0], atol=1e-3)


def test_time_unit_from_column_name(tmp_path):
    """Milliseconds from 0 ("time_ms") are milliseconds, whatever their size."""
    t, a = _still_walk(120, 50)
    f = tmp_path / "ms.csv"
    rows = "\n".join(f"{tt * 1e3:.1f},{x},{y},{z}" for tt, (x, y, z) in zip(t, a, strict=True))
    f.write_text("time_ms,x,y,z\n" + rows)
    r = read_recording(f)
    assert r.fs_hz == 50 and r.n_samples == t.size and r.start_unix_s == 0.0


def test_semicolon_and_decimal_comma(tmp_path):
    t, a = _still_walk(120, 25)
    f = tmp_path / "eu.csv"
    rows = "\n".join(
        ";".join(f"{v:.5f}".replace(".", ",") for v in (T0 + tt, *xyz))
        for tt, xyz in zip(t, a, strict=True)
    )
    f.write_text("time;x;y;z\n" + rows)
    r = read_recording(f)
    assert r.n_samples == t.size
    np.testing.assert_allclose(r.read(), a, atol=1e-4)


def test_iso_with_offset_at_12_5_hz(tmp_path):
    """12.5 Hz stays 12.5 Hz (not rounded to 12), and +01:00 times are converted to UTC."""
    import datetime as dt

    t, a = _still_walk(300, 12.5)
    tz = dt.timezone(dt.timedelta(hours=1))
    stamps = [dt.datetime.fromtimestamp(T0 + x, tz).isoformat(timespec="milliseconds") for x in t]
    f = tmp_path / "iso.csv"
    rows = "\n".join(f"{s},{x},{y},{z}" for s, (x, y, z) in zip(stamps, a, strict=True))
    f.write_text("datetime,x,y,z\n" + rows)
    r = read_recording(f)
    assert stamps[0].endswith("+01:00")
    assert r.fs_hz == 12.5 and r.n_samples == t.size
    assert r.start_unix_s == pytest.approx(T0, abs=1e-3)


def test_float_unix_seconds_keep_the_last_sample(tmp_path):
    t, a = _still_walk(60, 200)
    f = tmp_path / "f.csv"
    rows = "\n".join(f"{float(T0 + tt)!r},{x},{y},{z}" for tt, (x, y, z) in zip(t, a, strict=True))
    f.write_text("time,x,y,z\n" + rows)
    assert read_recording(f).n_samples == t.size  # 12000, not 11999


def _gt3x_zip(log: bytes) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("info.txt", "Sample Rate: 30\r\nDevice Type: wGT3XBT\r\n")
        z.writestr("log.bin", log)
    return b.getvalue()


def test_damaged_gt3x_member_is_an_input_error(tmp_path):
    log = bytes(range(256)) * 4
    raw = bytearray(_gt3x_zip(log))
    i = bytes(raw).find(log[:64])
    raw[i + 100] ^= 0xFF  # a flipped byte inside log.bin: its CRC no longer matches
    f = tmp_path / "bad.gt3x"
    f.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="damaged"):
        read_recording(f, units="g")
    f.write_bytes(bytes(raw[: len(raw) // 2]))  # cut: no zip directory
    with pytest.raises(InputError, match="truncated"):
        read_recording(f, units="g")


def test_truncated_cwa_is_flagged():
    raw = (DATA / "ax3_sample.cwa").read_bytes()
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "cut.cwa"
        f.write_bytes(raw[: 512 * 60 + 200])
        r = read_recording(f, units="g")
        assert r.n_samples > 0
        assert any("truncated" in n for n in r.notes)
        f.write_bytes(raw[: 512 * 60])  # whole blocks: a shorter file, not flagged
        assert not any("truncated" in n for n in read_recording(f, units="g").notes)


# ----------------------------------------------------------------- independent phantom
# (posture, seconds, forward inclination deg)
_SCRIPT = [
    (STANDING, 120, 0),
    (WALKING, 300, 0),
    (SITTING, 2400, 10),
    (SITTING, 300, 35),
    (WALKING, 180, 0),
    (STANDING, 600, 0),
    (STANDING, 300, 25),
    (STANDING, 90, 65),
    (STANDING, 60, 95),
    (STANDING, 240, 0),
    (WALKING, 120, 0),
    (SITTING, 4200, 5),
    (WALKING, 600, 0),
    (LYING, 3600, 0),
    (WALKING, 240, 0),
    (SITTING, 1200, 22),
    (STANDING, 30, 0),
    (SITTING, 1200, 22),
    (WALKING, 400, 0),
]


def _phantom(fs, rot, units):
    rng = np.random.default_rng(2)
    lab = np.concatenate([[s] * d for s, d, _ in _SCRIPT])
    fw = np.concatenate([[f] * d for _, d, f in _SCRIPT]).astype(float)
    n = lab.size * fs
    t = np.arange(n) / fs
    th = np.radians(np.repeat(fw, fs))
    wk = np.repeat(lab == WALKING, fs)
    # trunk frame: x up the spine, z anterior; flexion tilts gravity towards -z
    a = np.stack([np.cos(th), np.zeros(n), -np.sin(th)], 1)
    a[np.repeat(lab == LYING, fs)] = (0.0, 0.0, 1.0)  # supine
    a[:, 0] += 0.3 * np.sin(2 * np.pi * 1.9 * t) * wk
    a[:, 1] += 0.05 * np.sin(np.pi * 1.9 * t) * wk
    a += rng.normal(0, 0.01, a.shape)
    sec = np.arange(lab.size)
    shift = np.repeat((sec % 600 == 300) | (sec % 600 == 301), fs) & ~wk  # 2-s shifts
    a[shift] += rng.normal(0, 0.08, (int(shift.sum()), 3))
    a = a @ rot.T
    return (a * (G_MS2 if units == "m/s2" else 1.0)).astype(np.float32), lab, fw


@pytest.mark.parametrize(
    ("fs", "units", "mount"),
    [(50, "g", "upside_down"), (30, "m/s2", "rotated_90"), (25, "g", "inside_out")],
)
def test_independent_phantom_posture_exposures_prompts(fs, units, mount):
    rot = {
        "upside_down": np.diag([-1.0, 1.0, -1.0]),
        "inside_out": np.diag([1.0, -1.0, -1.0]),
        "rotated_90": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    }[mount]
    a, lab, fw = _phantom(fs, rot, units)
    start = T0 + 8 * 3600  # 08:00, outside quiet hours
    rec = recording_from_array(a, fs_hz=fs, start_unix_s=start)
    res = analyse(rec.with_units(units))
    p = res.posture
    assert p.size == lab.size
    static = np.isin(lab, (SITTING, STANDING))
    assert (p[static] == UPRIGHT_STATIC).mean() >= 0.99  # trunk only: no sit/stand split
    assert (p[lab == LYING] == LYING).mean() >= 0.99
    assert (p[lab == WALKING] == WALKING).mean() >= 0.95
    o = res.info["trunk"]["orientation"]
    assert o["upside_down"] == (mount == "upside_down")
    assert o["inside_out"] == (mount in ("upside_down", "inside_out"))
    # exposures: minutes with forward >= threshold, not lying (hand-computed from the script)
    for thr, want in ((20, 52.5), (30, 7.5), (60, 2.5), (90, 1.0)):
        assert ((fw >= thr) & (lab != LYING)).sum() / 60 == pytest.approx(want)
        assert res.daily[f"forward_ge{thr}_min"][0] == pytest.approx(want, rel=0.01)
    assert res.daily["longest_forward_ge60_s"][0] == pytest.approx(150, abs=2)
    assert res.daily["bends_ge45"][0] == 1  # 25 -> 65 -> 95 -> 0 deg is one bend
    # static bouts by hand: 2, 45, 21.5, 70 and 40.5 min (the 30-s stand joins two sits in
    # a trunk-only set-up), each ended by walking
    d = res.daily
    assert d["longest_static_bout_min"][0] == pytest.approx(70, abs=0.1)
    got = [d[f"static_bouts_{k}min"][0] for k in ("lt5", "5_20", "20_30", "30_60", "gt60")]
    assert got == [1, 0, 1, 2, 1]
    assert d["static_bouts_over_30min"][0] == 3 and d["breaks"][0] == 5
    walk_s = (lab == WALKING).sum()
    assert d["steps"][0] == pytest.approx(walk_s * 1.9, rel=0.02)
    # prompts by hand: static from 420 s -> 2220; from 4710 s -> 6510 and (snooze) 8310;
    # lying resets; sitting 13350 s on, a 30-s stand does not break it -> 15150
    np.testing.assert_allclose(res.prompts_unix_s - start, [2220, 6510, 8310, 15150], atol=2)


def _reference_prompts(p, start, cfg, off_h):
    """Second-by-second reading of the prompt rules (independent of the run-based engine)."""
    out, since, due, mv = [], None, None, 0
    for i, c in enumerate(p.tolist()):
        if c in MOVEMENT_CLASSES:
            mv += 1
            if since is not None and mv >= cfg.clear_move_s:
                since, due, mv = None, None, 0
            continue
        if c not in STATIC_CLASSES or c in (NONWEAR, LYING):
            since, due, mv = None, None, 0
            continue
        mv = 0
        if since is None:
            since, due = i, i + cfg.static_limit_min * 60
        if i >= due:
            h = ((start + i + off_h * 3600) % 86400) / 3600
            qs, qe = cfg.quiet_start_h, cfg.quiet_end_h
            if not ((qs <= h or h < qe) if qs > qe else (qs <= h < qe)):
                out.append(start + i)
                due = i + cfg.snooze_min * 60
    return np.array(out, float)


def test_prompt_engine_offline_and_streamed_match_reference():
    rng = np.random.default_rng(0)
    codes = [SITTING, STANDING, UPRIGHT_STATIC, WALKING, LYING, NONWEAR, 5, 6]
    for _ in range(25):
        parts, n = [], 0
        while n < 120_000:
            c = codes[rng.integers(len(codes))] if rng.random() < 0.7 else SITTING
            d = int(rng.choice([rng.integers(1, 90), rng.integers(30, 4000), 6000]))
            parts.append(np.full(d, c, np.int8))
            n += d
        p = np.concatenate(parts)
        start = T0 + int(rng.integers(0, 86400))
        off = float(rng.choice([0.0, 2.0, -5.0, 5.5]))
        cfg = PromptConfig(
            static_limit_min=float(rng.choice([20, 30, 45])),
            snooze_min=float(rng.choice([5, 10, 30])),
            clear_move_s=float(rng.choice([30, 60, 120])),
        )
        want = _reference_prompts(p, start, cfg, off)
        np.testing.assert_array_equal(
            offline_prompts(p, start_unix_s=start, cfg=cfg, utc_offset_h=off), want
        )
        eng = PromptEngine(start_unix_s=start, cfg=cfg, utc_offset_h=off)
        cuts = np.sort(rng.integers(0, p.size, 30))
        got = []
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, p.size], strict=True):
            got += eng.feed(p[a:b])
        np.testing.assert_array_equal(np.array(got, float), want)


# ----------------------------------------------------------------- options and edge lengths


@pytest.mark.parametrize("fs", ["0", "-3", "nan"])
def test_cli_rejects_a_bad_sampling_rate(tmp_path, fs):
    from typer.testing import CliRunner

    from spinestab.cli import app

    _, a = _still_walk(120, 25)
    np.save(tmp_path / "t.npy", a.astype(np.float32))
    res = CliRunner().invoke(
        app, ["wearable", "--trunk", str(tmp_path / "t.npy"), "--fs", fs, "--out", str(tmp_path)]
    )
    assert res.exit_code == 2, res.output
    assert "sampling rate" in res.output


@pytest.mark.parametrize(
    "kw", [{"snooze_min": 0.0}, {"static_limit_min": -5.0}, {"quiet_end_h": 25.0}]
)
def test_prompt_options_are_checked(kw):
    # a zero snooze used to loop forever on the first prompt
    with pytest.raises(InputError):
        PromptConfig(**kw)


@pytest.mark.parametrize("nsec", [1, 2, 4, 8])
def test_recordings_of_a_few_seconds(nsec):
    _, a = _still_walk(nsec, 25)
    rec = recording_from_array(a.astype(np.float32), fs_hz=25, start_unix_s=T0).with_units("g")
    for thigh in (None, rec):
        res = analyse(rec, thigh)
        assert res.posture.size == nsec
        assert res.daily["wear_min"][0] == pytest.approx(nsec / 60)


def test_thigh_without_overlap_is_reported():
    _, a = _still_walk(300, 25)
    a = a.astype(np.float32)
    trunk = recording_from_array(a, fs_hz=25, start_unix_s=T0).with_units("g")
    thigh = recording_from_array(a, fs_hz=25, start_unix_s=T0 + 86400).with_units("g")
    res = analyse(trunk, thigh)
    assert res.info["thigh"]["overlap_s"] == 0
    assert "does not overlap" in res.info["setup"]
    late = recording_from_array(a, fs_hz=25, start_unix_s=T0 + 200).with_units("g")
    assert analyse(trunk, late).info["thigh"]["overlap_s"] == 100


def _actilife(path, fmt, date, fs=30, n=900):
    head = [
        f"------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 Firmware v2.5.0 "
        f"date format {fmt} at {fs} Hz  Filter Normal -----------",
        "Serial Number: TEST0001",
        "Start Time 11:55:00",
        f"Start Date {date}",
        "Epoch Period (hh:mm:ss) 00:00:00",
        "Download Time 12:09:58",
        f"Download Date {date}",
        "Current Memory Address: 0",
        "Current Battery Voltage: 4.26     Mode = 12",
        "--------------------------------------------------",
        "Accelerometer X,Accelerometer Y,Accelerometer Z",
    ]
    rows = [f"{0.01 * (i % 3):.3f},0.020,-1.000" for i in range(n)]
    path.write_text("\n".join(head + rows) + "\n")


@pytest.mark.parametrize(
    ("fmt", "date"),
    [
        ("M/d/yyyy", "12/20/2021"),
        ("dd/MM/yyyy", "20/12/2021"),
        ("dd.MM.yyyy", "20.12.2021"),
        ("yyyy-MM-dd", "2021-12-20"),
    ],
)
def test_actilife_header_date_formats(tmp_path, fmt, date):
    f = tmp_path / "al.csv"
    _actilife(f, fmt, date, fs=50)
    r = read_recording(f)
    assert r.device == "ActiLife CSV" and r.fs_hz == 50 and r.n_samples == 900
    assert r.start_unix_s == pytest.approx(1640001300.0)  # 2021-12-20 11:55:00


def test_actilife_impossible_date_is_an_input_error(tmp_path):
    f = tmp_path / "al.csv"
    _actilife(f, "M/d/yyyy", "13/20/2021")
    with pytest.raises(InputError, match="impossible Start Date"):
        read_recording(f)


def test_clock_jump_is_an_error_not_a_huge_grid():
    from spinestab.wearable.io import recording_from_times

    t = np.r_[np.arange(1000) / 50, 400 * 86400 + np.arange(1000) / 50] + 1.7e9
    with pytest.raises(InputError, match="jump by more than a day"):
        recording_from_times(t, np.tile([1.0, 0.0, 0.0], (2000, 1)))
    # a two-day gap in a week of data stays a (marked) gap
    t2 = np.r_[np.arange(3 * 86400), 5 * 86400 + np.arange(2 * 86400)] + 1.7e9
    r = recording_from_times(t2, np.tile([1.0, 0.0, 0.0], (t2.size, 1)), fs_hz=1.0)
    assert r.n_samples == 7 * 86400 and r.filled is not None and r.filled.sum() >= 2 * 86400 - 2


def test_pictures_and_prompts_follow_the_local_clock(tmp_path):
    """20:00-23:00 UTC at UTC+5 is 01:00-04:00 on the next local day: one day, one picture."""
    import csv

    from spinestab.wearable.outputs import write_outputs

    _, a = _still_walk(3 * 3600, 25)
    shift = np.repeat(np.arange(3 * 3600) % 600 == 300, 25)  # a shift every 10 min: worn
    a[shift] += np.random.default_rng(1).normal(0, 0.1, (int(shift.sum()), 3))
    start = T0 + 20 * 3600
    rec = recording_from_array(a.astype(np.float32), fs_hz=25, start_unix_s=start)
    cfg_quiet_off = PromptConfig(quiet_start_h=0.0, quiet_end_h=0.0)
    from spinestab.wearable.config import WearableConfig

    res = analyse(rec.with_units("g"), cfg=WearableConfig(prompts=cfg_quiet_off), utc_offset_h=5)
    assert res.daily["date"].tolist() == ["2024-01-02"]
    paths = write_outputs(res, tmp_path, pictures=True)
    assert sorted(p.name for p in paths if p.suffix == ".png") == ["timeline_2024-01-02.png"]
    rows = list(csv.DictReader((tmp_path / "prompts.csv").read_text("utf-8").splitlines()))
    assert rows  # upright static from 240 s on: prompts every 30 min
    first = res.prompts_unix_s[0]
    assert rows[0]["time"] == str(np.datetime64(round(first), "s"))
    assert rows[0]["local_time"] == str(np.datetime64(round(first) + 5 * 3600, "s")) + "+05:00"


def test_clipping_after_the_first_hours_is_flagged():
    """The range probe reads the first 6 h; clipping on day 1 evening must still show."""
    from spinestab.wearable.features import compute_features

    rng = np.random.default_rng(0)
    fs, n = 25, 25 * 3600 * 8
    a = (np.tile([1.0, 0.0, 0.0], (n, 1)) + rng.normal(0, 0.01, (n, 3))).astype(np.float32)
    t1, t2 = 7 * 3600, 7 * 3600 + 1800
    a[t1 * fs + 3 : t1 * fs + 13, 0] = 8.0  # 10 samples at the +8 g limit
    a[t2 * fs : t2 * fs + 5, 2] = -8.0
    f = compute_features(recording_from_array(a, fs_hz=fs).with_units("g"))
    assert np.flatnonzero(f.clipped).tolist() == [t1, t2]
    a[t1 * fs + 4 : t1 * fs + 13, 0] = 1.0  # one 8-g sample is a peak, not clipping
    a[t2 * fs : t2 * fs + 5, 2] = 0.0
    assert not compute_features(recording_from_array(a, fs_hz=fs).with_units("g")).clipped.any()


def test_relative_time_column_takes_the_start(tmp_path):
    t, a = _still_walk(120, 25)
    f = tmp_path / "rel.csv"
    rows = "\n".join(f"{tt:.3f},{x},{y},{z}" for tt, (x, y, z) in zip(t, a, strict=True))
    f.write_text("time,x,y,z\n" + rows)
    r = read_recording(f)
    assert r.start_unix_s == 0.0 and any("--start" in n for n in r.notes)
    r = read_recording(f, start_unix_s=T0)
    assert r.start_unix_s == T0 and r.n_samples == t.size


def test_no_upright_reference_is_said():
    """Without walking or --standing the angles rest on the nominal mounting: say so."""
    rng = np.random.default_rng(0)
    a = (np.tile([1.0, 0.0, 0.0], (25 * 600, 1)) + rng.normal(0, 0.02, (25 * 600, 3))).astype(
        np.float32
    )
    res = analyse(recording_from_array(a, fs_hz=25, start_unix_s=T0).with_units("g"))
    assert res.info["trunk"]["orientation"]["up_source"] == "nominal"
    assert any("nominal axes" in n for n in res.info["trunk"]["notes"])


def test_whole_second_time_stamps_keep_every_sample(tmp_path):
    """50 Hz rows stamped to the whole second: 50 rows share a stamp; none may be dropped."""
    import datetime as dt

    t, a = _still_walk(300, 50)
    f = tmp_path / "sec.csv"
    stamps = [
        dt.datetime.fromtimestamp(T0 + np.floor(x), dt.UTC).strftime("%Y-%m-%d %H:%M:%S") for x in t
    ]
    rows = "\n".join(f"{s},{x},{y},{z}" for s, (x, y, z) in zip(stamps, a, strict=True))
    f.write_text("time,x,y,z\n" + rows)
    r = read_recording(f)
    assert r.fs_hz == 50 and r.n_samples == t.size
    assert any("coarser" in n for n in r.notes)
    np.testing.assert_allclose(r.read(), a, atol=1e-6)  # evenly spread: the same samples
    res = analyse(r)
    assert (res.posture[65:235] == WALKING).mean() > 0.95  # gait survives


@pytest.mark.parametrize("ext", ["parquet", "npz", "csv", "npy"])
def test_damaged_table_files_are_input_errors(tmp_path, ext):
    """Random bytes or a cut-off file: a clear error (ArrowInvalid, pickle ValueError and
    UnicodeDecodeError escaped before)."""
    import pandas as pd

    t, a = _still_walk(60, 25)
    good = tmp_path / f"good.{ext}"
    df = pd.DataFrame({"time": T0 + t, "x": a[:, 0], "y": a[:, 1], "z": a[:, 2]})
    if ext == "parquet":
        df.to_parquet(good)
    elif ext == "npz":
        np.savez(good, time=T0 + t, accel=a)
    elif ext == "npy":
        np.save(good, a)
        (tmp_path / "meta.json").write_text('{"fs": 25}')
    else:
        df.to_csv(good, index=False)
    raw = good.read_bytes()
    rnd = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    bad = tmp_path / f"bad.{ext}"
    for content in [rnd, raw[: len(raw) // 2]] if ext != "csv" else [rnd]:
        bad.write_bytes(content)
        with pytest.raises(InputError):
            read_recording(bad, units="g")


def test_german_cp1252_csv(tmp_path):
    f = tmp_path / "de.csv"
    head = "Zeit;Beschl. X [m/s²];Beschl. Y [m/s²];Beschl. Z [m/s²]\n".encode("cp1252")
    rows = "".join(f"{T0 + i / 25:.2f};9,81;0,05;0,1\n" for i in range(25 * 60)).encode()
    f.write_bytes(head + rows)
    r = read_recording(f)
    assert r.units == "m/s2" and r.fs_hz == 25 and r.n_samples == 1500
    assert r.start_unix_s == pytest.approx(T0)
    np.testing.assert_allclose(r.read()[0], np.array([9.81, 0.05, 0.1]) / G_MS2, rtol=1e-5)


def test_empty_third_column_is_a_two_axis_error(tmp_path):
    f = tmp_path / "xy.csv"
    f.write_text("time,x,y,z\n" + "\n".join(f"{T0 + i / 25},1.0,0.0," for i in range(500)))
    with pytest.raises(InputError, match="two-axis") as e:
        read_recording(f)
    assert e.value.item == "z"


def test_cli_folder_as_input_and_file_as_output(tmp_path):
    from typer.testing import CliRunner

    from spinestab.cli import app

    folder = tmp_path / "data.csv"
    folder.mkdir()
    res = CliRunner().invoke(app, ["wearable", "--trunk", str(folder), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "not a file" in res.output
    _, a = _still_walk(120, 25)
    np.save(tmp_path / "t.npy", a.astype(np.float32))
    taken = tmp_path / "taken"
    taken.write_text("")
    res = CliRunner().invoke(
        app, ["wearable", "--trunk", str(tmp_path / "t.npy"), "--fs", "25", "--out", str(taken)]
    )
    assert res.exit_code == 2 and "not a folder" in res.output


def test_truncated_millisecond_stamps_at_30_hz_keep_the_last_sample(tmp_path):
    t, a = _still_walk(100, 30)
    ms = np.floor((T0 + t) * 1000).astype(np.int64)  # 33, 33, 34 ms steps
    f = tmp_path / "ms30.csv"
    rows = "\n".join(f"{m},{x},{y},{z}" for m, (x, y, z) in zip(ms, a, strict=True))
    f.write_text("timestamp,x,y,z\n" + rows)
    r = read_recording(f)
    assert r.fs_hz == 30 and r.n_samples == 3000


def test_dst_fall_back_in_local_times_is_explained():
    from spinestab.wearable.io import recording_from_times

    t = np.r_[np.arange(0, 7200, 0.04), 3600 + np.arange(0, 3600, 0.04)] + T0
    with pytest.raises(InputError, match="daylight-saving"):
        recording_from_times(t, np.tile([1.0, 0.0, 0.0], (t.size, 1)))


def test_no_gait_from_a_recording_too_slow_to_show_steps():
    """At 2 Hz a 1.9 Hz step aliases: no walking and no steps, and a note (44 false steps
    were reported at 1 Hz before)."""
    a, lab, _ = _phantom(10, np.eye(3), "g")
    slow = a[::5]  # 2 Hz
    res = analyse(recording_from_array(slow, fs_hz=2, start_unix_s=T0).with_units("g"))
    assert res.steps.sum() == 0 and not (res.posture == WALKING).any()
    assert any("walking and steps cannot be detected" in n for n in res.info["trunk"]["notes"])
    n = res.posture.size  # resampling 2 -> 25 Hz may drop the last, partial second
    assert n >= lab.size - 1
    assert (res.posture[lab[:n] == LYING] == LYING).mean() > 0.99  # posture still works
