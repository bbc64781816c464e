"""Device decoders against the reference decodes (SKDH, ActiLife CSV) and file fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable._cwa import decode_cwa
from spinestab.wearable._geneactiv import decode_geneactiv
from spinestab.wearable._gt3x import decode_gt3x
from spinestab.wearable.io import read_recording

from .conftest import DATA, load_npz, shared_file


def test_ax3_matches_skdh_reference():
    d = decode_cwa((DATA / "ax3_sample.cwa").read_bytes())
    ref = load_npz(DATA / "ax3_reference.npz")
    assert d.device == "AX3" and d.fs_hz == 200.0
    assert d.acc_g.shape == ref["accel"].shape == (58800, 3)
    np.testing.assert_array_equal(d.acc_g, ref["accel"])  # exact: multiples of 1/256 g
    # block timestamps spread linearly; the reference agrees within 0.1 ms (< 1/50 sample)
    assert np.abs(d.time_unix_s - ref["time"]).max() < 1e-4


def test_ax6_matches_skdh_reference_with_gyro_and_temperature():
    d = decode_cwa((DATA / "ax6_sample.cwa").read_bytes())
    ref = load_npz(DATA / "ax6_data.npz")
    assert d.device == "AX6"
    assert d.acc_g.shape == ref["accel"].shape
    # the reference is rounded to 6 decimals
    np.testing.assert_allclose(d.acc_g, ref["accel"], atol=1e-6)
    np.testing.assert_allclose(d.gyro_dps, ref["gyro"], atol=1e-4)
    np.testing.assert_allclose(d.temperature_c, ref["temperature"], atol=1e-4)
    assert np.abs(d.time_unix_s - ref["time"]).max() < 1e-4


def test_geneactiv_matches_skdh_reference():
    d = decode_geneactiv((DATA / "gnactv_sample.bin").read_bytes())
    ref = load_npz(DATA / "gnactv_data.npz")
    assert d.fs_hz == 50.0 and d.acc_g.shape == (900, 3)
    np.testing.assert_allclose(d.acc_g, ref["accel"], atol=5.1e-5)  # reference: 4 decimals
    np.testing.assert_array_equal(d.light_lux, ref["light"])
    np.testing.assert_allclose(d.temperature_c, ref["temperature"], atol=1e-6)
    np.testing.assert_allclose(d.time_unix_s, ref["time"], atol=1e-6)


def test_truncated_geneactiv_reads_complete_pages_and_says_so():
    d = decode_geneactiv((DATA / "GENEActiv_testfile.bin").read_bytes())
    assert d.n_pages_header == 222048
    assert d.n_pages_read == 16 and d.acc_g.shape == (4800, 3)  # actipy also reads 4800
    rec = read_recording(DATA / "GENEActiv_testfile.bin")
    assert any("truncated" in n for n in rec.notes)


def test_old_genea_file_is_a_clear_error():
    with pytest.raises(InputError, match="not a GENEActiv"):
        read_recording(DATA / "genea_testfile.bin")


def test_actilife_epoch_count_csv_is_refused():
    with pytest.raises(InputError, match="epoch counts"):
        read_recording(DATA / "ActiGraph13.csv")


def test_empty_and_truncated_cwa(tmp_path):
    empty = tmp_path / "empty.cwa"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_recording(empty)
    raw = (DATA / "ax6_sample.cwa").read_bytes()
    header_only = tmp_path / "header.cwa"
    header_only.write_bytes(raw[:1024])
    with pytest.raises(InputError, match="no data blocks"):
        read_recording(header_only)
    # a block with a damaged checksum is skipped and counted, never decoded as data
    bad = bytearray(raw)
    bad[1024 + 512 * 3 + 100] ^= 0xFF
    d = decode_cwa(bytes(bad))
    assert d.n_bad_blocks == 1
    assert d.acc_g.shape[0] == 10360 - 40


def test_neo_gt3x_matches_actilife_csv():
    gt3x = shared_file("device_samples/pygt3x/neo.gt3x")
    csv = shared_file("device_samples/pygt3x/neo.csv")
    d = decode_gt3x(gt3x.read_bytes())
    ref = np.loadtxt(csv, delimiter=",", skiprows=11)
    assert d.acc_g.shape == ref.shape == (18004, 3)
    np.testing.assert_array_equal(np.round(d.acc_g.astype(np.float64), 3), ref)
    rec = read_recording(csv)  # the ActiLife CSV export itself
    assert rec.fs_hz == 30.0 and rec.n_samples == 18004
    np.testing.assert_allclose(rec.read(), ref, atol=1e-6)


def test_gt3x_idle_sleep_is_filled_and_marked():
    d = decode_gt3x(shared_file("device_samples/pygt3x/ISM_Enabled.gt3x").read_bytes())
    assert d.acc_g.shape == (9000, 3)  # 300 s at 30 Hz, as pygt3x fills it
    assert 0.5 < d.filled.mean() < 0.9
    # a filled stretch repeats the last real sample (still)
    i = int(np.argmax(d.filled))
    np.testing.assert_array_equal(d.acc_g[i], d.acc_g[i - 1])
    off = decode_gt3x(shared_file("device_samples/pygt3x/ISM_Disabled.gt3x").read_bytes())
    assert off.acc_g.shape == (9000, 3) and not off.filled.any()


def test_truncated_gt3x_with_idle_sleep_matches_pygt3x_count():
    d = decode_gt3x(shared_file("device_samples/pygt3x/small.gt3x").read_bytes())
    assert d.truncated
    assert d.acc_g.shape[0] == 1_467_810  # pygt3x's gap-filled count (MANIFEST)


def _with_second_session(raw: bytes, hours: int) -> bytes:
    """The file's blocks, then the same blocks again ``hours`` later (checksums fixed)."""
    head, body = raw[:1024], np.frombuffer(raw[1024:], np.uint8).reshape(-1, 512).copy()
    later = body.copy()
    stamp = later[:, 14:18].copy().view("<u4")[:, 0] + np.uint32(hours << 12)
    later[:, 14:18] = stamp.view(np.uint8).reshape(-1, 4)
    words = later.view("<u2")
    words[:, 255] = 0
    words[:, 255] = (-words.sum(axis=1, dtype=np.uint16)).astype(np.uint16)
    return head + body.tobytes() + later.tobytes()


def test_cwa_gap_is_missing_and_chunked_reading_equals_whole(tmp_path, monkeypatch):
    from spinestab.wearable import io
    from spinestab.wearable.features import compute_features

    f = tmp_path / "two.cwa"
    f.write_bytes(_with_second_session((DATA / "ax3_sample.cwa").read_bytes(), 1))
    d = decode_cwa(f.read_bytes())
    assert d.n_bad_blocks == 0 and d.acc_g.shape[0] == 2 * 58800
    whole = compute_features(read_recording(f))
    monkeypatch.setattr(io, "_EAGER_SAMPLES", 1000)  # force the multi-day (chunked) path
    rec = read_recording(f)
    assert "chunk by chunk" in " ".join(rec.notes)
    parts = compute_features(rec, chunk_s=50)
    assert parts.n_seconds == whole.n_seconds
    np.testing.assert_allclose(parts.g, whole.g, atol=1e-5)
    # the hour between the sessions (minus the first session's ~300 s) is missing, not
    # invented; both sessions are present
    miss = whole.missing
    assert 3600 - 310 <= miss.sum() <= 3600 - 290
    assert not miss[:290].any() and not miss[-290:].any()
    np.testing.assert_array_equal(parts.missing, miss)


@pytest.mark.parametrize("name", ["gnactv_sample.bin", "ax6_sample.cwa"])
def test_chunked_device_reading_equals_whole(name, monkeypatch):
    from spinestab.wearable import io
    from spinestab.wearable.features import compute_features

    whole = compute_features(read_recording(DATA / name))
    monkeypatch.setattr(io, "_EAGER_SAMPLES", 10)  # force the multi-day (chunked) path
    rec = read_recording(DATA / name)
    assert "chunk by chunk" in " ".join(rec.notes)
    parts = compute_features(rec, chunk_s=3)
    np.testing.assert_allclose(parts.g, whole.g, atol=1e-5)
    np.testing.assert_allclose(parts.sd, whole.sd, atol=1e-4)


def test_cwa_block_with_impossible_time_is_skipped():
    raw = bytearray((DATA / "ax6_sample.cwa").read_bytes())
    blk = 1024 + 512 * 5
    raw[blk + 14 : blk + 18] = (0).to_bytes(4, "little")  # month 0: no such date
    words = np.frombuffer(bytes(raw[blk : blk + 512]), "<u2").copy()
    words[255] = 0
    words[255] = (0x10000 - int(words.sum(dtype=np.uint16))) & 0xFFFF
    raw[blk : blk + 512] = words.tobytes()
    d = decode_cwa(bytes(raw))
    assert d.n_bad_blocks == 1 and d.acc_g.shape[0] == 10360 - 40
    assert np.all(np.diff(d.time_unix_s) > 0)


def test_gt3x_idle_sleep_is_still_and_marked_not_missing():
    from spinestab.wearable.features import compute_features

    rec = read_recording(shared_file("device_samples/pygt3x/ISM_Enabled.gt3x"))
    f = compute_features(rec)
    assert f.idle is not None and 100 < f.idle.sum() < 280
    assert not f.missing.any()  # the device slept because it was still: data, not a gap
    assert (f.sd[f.idle] < 0.001).all()
