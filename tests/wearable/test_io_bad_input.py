"""Readers: CSV variants, units, and bad input (clear errors or flags, never silence)."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.features import compute_features
from spinestab.wearable.io import G_MS2, read_recording


def _still(n, fs=50, seed=0):
    rng = np.random.default_rng(seed)
    a = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.005, (n, 3))
    return a, np.arange(n) / fs + 1.7e9


def _write(path, header, rows):
    path.write_text(header + "\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows))


def test_csv_iso_and_unix_time_and_axis_names(tmp_path):
    a, t = _still(500)
    f1 = tmp_path / "unix.csv"
    _write(f1, "timestamp,acc_x,acc_y,acc_z", np.column_stack([t, a]))
    r1 = read_recording(f1)
    assert r1.fs_hz == 50 and r1.n_samples == 500 and r1.units == "g"
    assert r1.start_unix_s == pytest.approx(1.7e9)
    iso = np.datetime_as_string((t * 1e3).astype("datetime64[ms]"), unit="ms")
    f2 = tmp_path / "iso.csv"
    f2.write_text(
        "time,x,y,z\n" + "\n".join(f"{s}Z,{x},{y},{z}" for s, (x, y, z) in zip(iso, a, strict=True))
    )
    r2 = read_recording(f2)
    np.testing.assert_allclose(r2.read(), r1.read(), atol=1e-6)
    assert r2.start_unix_s == pytest.approx(1.7e9, abs=1e-3)


def test_units_detected_and_overridable(tmp_path):
    a, t = _still(500)
    f = tmp_path / "ms2.csv"
    _write(f, "time,x,y,z", np.column_stack([t, a * G_MS2]))
    r = read_recording(f)
    assert r.units == "m/s2"
    np.testing.assert_allclose(np.linalg.norm(r.read(), axis=1).mean(), 1.0, atol=0.01)
    assert read_recording(f, units="g").units == "g"


def test_mixed_units_is_an_error(tmp_path):
    a, _ = _still(50 * 3600)
    a[a.shape[0] // 2 :] *= G_MS2
    np.save(tmp_path / "mixed.npy", a.astype(np.float32))
    with pytest.raises(InputError, match="mixed units"):
        read_recording(tmp_path / "mixed.npy", fs_hz=50)


def test_backward_time_is_an_error_duplicates_are_counted(tmp_path):
    a, t = _still(300)
    t2 = t.copy()
    t2[100] = t2[50]
    f = tmp_path / "back.csv"
    _write(f, "time,x,y,z", np.column_stack([t2, a]))
    with pytest.raises(InputError, match="backwards"):
        read_recording(f)
    t3 = t.copy()
    t3[101] = t3[100]
    f3 = tmp_path / "dup.csv"
    _write(f3, "time,x,y,z", np.column_stack([t3, a]))
    r = read_recording(f3)
    assert any("duplicated" in n for n in r.notes)


def test_gaps_and_nan_runs_are_flagged_missing(tmp_path):
    a, t = _still(50 * 120)
    t[3000:] += 30.0  # a 30-s gap
    a[500:700] = np.nan  # a 4-s NaN run
    f = tmp_path / "gap.csv"
    _write(f, "time,x,y,z", np.column_stack([t, a]))
    r = read_recording(f)
    feats = compute_features(r)
    assert feats.n_seconds == 150
    miss = np.flatnonzero(feats.missing)
    assert set(range(60, 90)) <= set(miss.tolist())  # the gap
    assert set(range(11, 13)) <= set(miss.tolist())  # the NaN run
    assert len(miss) < 40  # nothing else


def test_two_axis_and_empty_files(tmp_path):
    f = tmp_path / "two.csv"
    f.write_text("time,x,y\n1,0,1\n2,0,1\n")
    with pytest.raises(InputError, match="two axes"):
        read_recording(f)
    e = tmp_path / "e.csv"
    e.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_recording(e)
    with pytest.raises(InputError, match="not found"):
        read_recording(tmp_path / "missing.cwa")


def test_clipped_seconds_are_flagged(tmp_path):
    rng = np.random.default_rng(1)
    a = np.tile([0.0, 0.0, 1.0], (50 * 60, 1)) + rng.normal(0, 0.01, (3000, 3))
    a[1000:1010, 0] = 8.0  # at the range limit
    np.save(tmp_path / "clip.npy", a.astype(np.float32))
    f = compute_features(read_recording(tmp_path / "clip.npy", fs_hz=50))
    np.testing.assert_array_equal(np.flatnonzero(f.clipped), [20])


def test_npy_chunked_read_equals_whole(tmp_path):
    rng = np.random.default_rng(2)
    a = (np.tile([0.0, 1.0, 0.0], (100 * 70, 1)) + rng.normal(0, 0.2, (7000, 3))).astype(np.float32)
    np.save(tmp_path / "x.npy", a)
    r = read_recording(tmp_path / "x.npy", fs_hz=100)
    whole = compute_features(r, chunk_s=10**6)
    parts = compute_features(r, chunk_s=7)
    np.testing.assert_allclose(parts.g, whole.g, atol=1e-6)
    np.testing.assert_allclose(parts.sd, whole.sd, atol=1e-6)
    np.testing.assert_allclose(parts.g, a.reshape(70, 100, 3).mean(axis=1), atol=1e-5)


def test_file_without_timestamps_needs_a_rate(tmp_path):
    from spinestab.wearable.io import parse_time

    a, _ = _still(300)
    f = tmp_path / "plain.csv"
    _write(f, "acc_x,acc_y,acc_z", a)
    with pytest.raises(InputError, match="sampling rate unknown"):
        read_recording(f)
    start = parse_time("2024-03-01T08:00:00+01:00", "test")
    assert start == pytest.approx(1709276400.0)
    r = read_recording(f, fs_hz=50, start_unix_s=start)
    assert r.n_samples == 300 and r.start_unix_s == start
    with pytest.raises(InputError, match="cannot read time"):
        parse_time("yesterday", "test")


def test_parquet_and_npz_inputs(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    a, t = _still(400)
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(t, unit="s", utc=True),
            "acc_x": a[:, 0],
            "acc_y": a[:, 1],
            "acc_z": a[:, 2],
        }
    )
    df.to_parquet(tmp_path / "x.parquet")
    r = read_recording(tmp_path / "x.parquet")
    assert r.fs_hz == 50 and r.n_samples == 400
    assert r.start_unix_s == pytest.approx(1.7e9, abs=1e-3)
    np.testing.assert_allclose(r.read(), a, atol=1e-6)
    np.savez(tmp_path / "y.npz", time=t, accel=a)
    r2 = read_recording(tmp_path / "y.npz")
    np.testing.assert_allclose(r2.read(), a, atol=1e-6)


def test_csv_variants_semicolons_units_in_names_and_actilife_timestamps(tmp_path):
    a, t = _still(300)
    f = tmp_path / "semi.csv"
    f.write_text(
        "time;Acc X [g];Acc Y [g];Acc Z [g]\n"
        + "\n".join(f"{ti:.3f};{x:.6f};{y:.6f};{z:.6f}" for ti, (x, y, z) in zip(t, a, strict=True))
    )
    r = read_recording(f)
    assert r.n_samples == 300 and r.fs_hz == 50
    np.testing.assert_allclose(r.read(), a, atol=1e-6)
    # ActiLife raw export with its timestamp column (M/d/yyyy HH:mm:ss.fff)
    head = (
        "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 Firmware v2.5.0 "
        "date format M/d/yyyy at 50 Hz  Filter Normal -----------\nSerial Number: X\n"
        "Start Time 11:55:00\nStart Date 12/20/2021\nEpoch Period (hh:mm:ss) 00:00:00\n"
        "Download Time 12:09:58\nDownload Date 12/20/2021\nCurrent Memory Address: 0\n"
        "Current Battery Voltage: 4.26     Mode = 12\n"
        "--------------------------------------------------\n"
    )
    stamps = [
        np.datetime64("2021-12-20T11:55:00") + np.timedelta64(20 * i, "ms") for i in range(300)
    ]
    rows = [
        f"{str(s)[5:7]}/{str(s)[8:10]}/{str(s)[:4]} {str(s)[11:]},{x:.3f},{y:.3f},{z:.3f}"
        for s, (x, y, z) in zip(stamps, a, strict=True)
    ]
    g = tmp_path / "actilife.csv"
    g.write_text(
        head + "Timestamp,Accelerometer X,Accelerometer Y,Accelerometer Z\n" + "\n".join(rows)
    )
    r2 = read_recording(g)
    assert r2.device == "ActiLife CSV" and r2.n_samples == 300
    assert r2.start_unix_s == pytest.approx(1640001300.0, abs=1e-3)  # 2021-12-20 11:55
