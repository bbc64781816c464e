"""A live stream's state to bytes and back (no pickle), and the bytes it refuses."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable._state_bytes import pack_arrays, unpack_arrays
from spinestab.wearable.engine import LiveEngine, StreamSetup
from spinestab.wearable.stream_batch import StreamBatch


def _engine_with_a_stream():
    eng = LiveEngine(fs_hz=25)
    eng.open("s", StreamSetup(start_unix_s=0.0))
    rng = np.random.default_rng(0)
    x = (np.tile([1.0, 0.0, 0.0], (25 * 300, 1)) + rng.normal(0, 0.02, (25 * 300, 3))).astype(
        np.float32
    )
    eng.submit("s", StreamBatch(0, 0.0, samples=x[:7000]))
    eng.submit("s", StreamBatch(2, 290.0, samples=x[7250:]))  # held: 1 is missing
    eng.step()
    return eng, x


def test_arrays_round_trip_with_scalars_and_every_kind():
    arrays = {
        "scalar": np.float64(3.5),
        "flag": np.bool_(True),
        "ring": np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2],  # not contiguous
        "bytes": np.frombuffer(b"abc", np.uint8),
        "empty": np.zeros((0, 3), np.float32),
    }
    back = unpack_arrays(pack_arrays(arrays))
    assert list(back) == list(arrays)
    for name, a in arrays.items():
        assert back[name].dtype == np.asarray(a).dtype and back[name].shape == np.shape(a)
        np.testing.assert_array_equal(back[name], a)
        assert back[name].flags.writeable


def test_a_restored_stream_goes_on_as_the_original_and_old_npz_states_still_read():
    eng, x = _engine_with_a_stream()
    state = eng.stream_state("s")
    assert state.startswith(b"SPST")
    # the former format: the same arrays in an .npz
    arrays = unpack_arrays(state)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    for data in (state, buf.getvalue()):
        other = LiveEngine(fs_hz=25)
        other.restore_stream("s", data)
        assert other.submit("s", StreamBatch(1, 280.0, samples=x[7000:7250])).next_seq == 3
        other.watch("s")
        other.step()
        other.close("s")
    eng.submit("s", StreamBatch(1, 280.0, samples=x[7000:7250]))
    eng.watch("s")
    eng.step()
    eng.close("s")
    np.testing.assert_array_equal(eng.watched("s")[0], other.watched("s")[0])


def test_bytes_that_are_not_a_state_are_refused():
    good = pack_arrays({"a": np.arange(4, dtype=np.int64)})
    header = json.dumps([["a", "|O", [1]]]).encode()
    objects = b"SPST\x01" + struct.pack("<I", len(header)) + header + b"\x00" * 8
    for bad in (b"", b"nonsense", good[:-1], good + b"\x00", objects, good[:5] + b"\xff" * 4):
        with pytest.raises(InputError):
            unpack_arrays(bad)
    with pytest.raises(InputError, match="not a stream state"):
        LiveEngine(fs_hz=25).restore_stream("s", b"garbage")
