"""Stream batches in JSON and the compact binary format: round trips, limits, bad input."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.stream_batch import (
    MAX_BATCH_S,
    BatchFeatures,
    StreamBatch,
    batch_from_bytes,
    batch_from_json,
    batch_to_bytes,
    batch_to_json,
)


def _samples(n=250, seed=0):
    x = np.random.default_rng(seed).normal(0, 0.3, (n, 3)).astype(np.float32)
    x[7] = np.nan  # a missing sample
    return x


def test_json_round_trip_keeps_samples_missing_and_time():
    b = StreamBatch(3, 1704067200.5, samples=_samples())
    text = json.dumps(batch_to_json(b))
    assert "null" in text  # the missing sample
    back = batch_from_json(json.loads(text))
    assert back.seq == 3 and back.device_time_unix_s == 1704067200.5 and back.fs_hz == 25
    np.testing.assert_array_equal(back.samples, b.samples)
    iso = batch_from_json({"seq": 0, "device_time": "2024-01-01T00:00:00Z", "samples": []})
    assert iso.device_time_unix_s == 1704067200.0
    assert (
        batch_from_json({"seq": 1, "device_time": None, "samples": [[0, 0, 1]]}).device_time_unix_s
        is None
    )


def test_binary_round_trips_float_int16_and_features():
    b = StreamBatch(9, 1704067200.0, samples=_samples())
    back = batch_from_bytes(batch_to_bytes(b))
    np.testing.assert_array_equal(back.samples, b.samples)
    assert (back.seq, back.device_time_unix_s, back.fs_hz) == (9, 1704067200.0, 25)
    clean = StreamBatch(10, None, samples=np.nan_to_num(_samples()))
    raw = batch_to_bytes(clean, counts_per_unit=1024)
    assert len(raw) == 32 + 4 + 250 * 6  # 6 bytes a sample
    back = batch_from_bytes(raw)
    assert back.device_time_unix_s is None
    assert np.abs(back.samples - clean.samples).max() <= 0.5 / 1024 + 1e-7
    assert len(json.dumps(batch_to_json(clean))) > 3 * len(raw)
    f = BatchFeatures(
        g=np.ones((4, 3), np.float32),
        sd=np.full(4, 0.01, np.float32),
        vert=np.zeros((4, 25), np.float32),
        missing=np.array([0, 1, 0, 0], bool),
    )
    back = batch_from_bytes(batch_to_bytes(StreamBatch(2, 5.0, features=f)))
    np.testing.assert_array_equal(back.features.missing, f.missing)
    np.testing.assert_array_equal(back.features.vert, f.vert)
    jb = batch_from_json(json.loads(json.dumps(batch_to_json(StreamBatch(2, 5.0, features=f)))))
    np.testing.assert_array_equal(jb.features.g, f.g)


def test_declared_counts_beyond_the_bytes_are_refused_before_allocating():
    raw = bytearray(batch_to_bytes(StreamBatch(1, 0.0, samples=_samples())))
    struct.pack_into("<I", raw, 24, 10**9)  # claims a billion samples
    with pytest.raises(InputError, match="does not match its sample count"):
        batch_from_bytes(bytes(raw))
    with pytest.raises(InputError, match="shorter than its header"):
        batch_from_bytes(b"SPSB")
    with pytest.raises(InputError, match="not a binary stream batch"):
        batch_from_bytes(b"XXXX" + bytes(raw[4:]))
    bad_kind = bytearray(raw)
    bad_kind[5] = 9
    with pytest.raises(InputError, match="unknown binary batch kind"):
        batch_from_bytes(bytes(bad_kind))


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([], "JSON object"),
        ({"seq": "1", "samples": []}, "sequence number"),
        ({"seq": True, "samples": []}, "sequence number"),
        ({"seq": -1, "samples": []}, "out of range"),
        ({"seq": 1}, "samples or features"),
        ({"seq": 1, "samples": [[1, 2]]}, "rows of x, y, z"),
        ({"seq": 1, "samples": [["a", 1, 2]]}, "must be numbers"),
        ({"seq": 1, "samples": [[1e400, 0, 0]]}, "finite"),
        ({"seq": 1, "device_time": "yesterday", "samples": []}, "cannot read time"),
        ({"seq": 1, "device_time": 1e13, "samples": []}, "unix seconds"),
        ({"seq": 1, "fs_hz": 25.5, "samples": []}, "integer"),
        ({"seq": 1, "samples": [], "extra": 1}, "unknown fields"),
        (
            {"seq": 1, "features": {"g": [[1, 0, 0]], "sd": [0.1, 0.2], "vert": [[0] * 25]}},
            "unequal",
        ),
        ({"seq": 1, "samples": [[0, 0, 1]] * (MAX_BATCH_S * 25 + 1)}, "at most an hour"),
    ],
)
def test_bad_json_batches_name_what_is_wrong(obj, match):
    with pytest.raises(InputError, match=match):
        batch_from_json(obj)
