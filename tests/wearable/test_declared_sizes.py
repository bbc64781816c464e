"""Device files whose headers declare more than the file can hold are refused before allocating.

Each case is a crafted header or time stamp in an otherwise valid file. Before this check a
10 kB GT3X with one record stamped 200 days late asked for 6.5 GB. ``tracemalloc`` sees
NumPy's allocations, so the peak it reports is what the reader really asked for.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable._cwa import decode_cwa
from spinestab.wearable._gt3x import decode_gt3x
from spinestab.wearable.io import read_recording

from .conftest import DATA

PEAK_LIMIT = 64e6  # bytes: every case below is refused (or read) within this
T0 = 1_600_000_000  # unix seconds of the first crafted GT3X record
TICKS0 = 621355968000000000  # .NET ticks at 1970-01-01


def _peak(fn):
    """Run ``fn``; return (its result or the InputError it raised, peak traced bytes)."""
    tracemalloc.start()
    try:
        out = fn()
    except InputError as exc:
        out = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, peak


def _record(stamp: int, payload: bytes, kind: int = 0x1A) -> bytes:
    head = bytes([0x1E, kind]) + stamp.to_bytes(4, "little") + len(payload).to_bytes(2, "little")
    return head + payload + b"\x00"


def _gt3x(records: list[bytes], info: str) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("info.txt", info)
        z.writestr("log.bin", b"".join(records))
    return b.getvalue()


def _ticks(unix_s: float) -> int:
    return TICKS0 + int(unix_s * 10**7)


SECOND = np.tile([0, 0, 256], 30).astype("<i2").tobytes()  # 30 samples of 1 g (256/g)
HOUR = [_record(T0 + i, SECOND) for i in range(3600)]
INFO = "Sample Rate: 30\r\nDevice Type: Link\r\nAcceleration Scale: 256\r\n"


def test_gt3x_record_stamped_200_days_late_is_refused():
    raw = _gt3x([*HOUR, _record(T0 + 200 * 86400, SECOND)], INFO)
    out, peak = _peak(lambda: decode_gt3x(raw))
    assert isinstance(out, InputError) and "span far more time" in str(out)
    assert "200.0 days" in str(out)
    assert peak < PEAK_LIMIT


def test_gt3x_record_outside_the_declared_window_is_dropped_and_the_rest_read():
    info = INFO + f"Start Date: {_ticks(T0)}\r\nDownload Date: {_ticks(T0 + 4000)}\r\n"
    raw = _gt3x([*HOUR, _record(T0 + 200 * 86400, SECOND)], info)
    out, peak = _peak(lambda: decode_gt3x(raw))
    assert not isinstance(out, InputError)
    assert out.acc_g.shape == (3600 * 30, 3) and np.allclose(out.acc_g[:, 2], 1.0)
    assert peak < PEAK_LIMIT


def test_gt3x_idle_sleep_to_a_last_sample_time_300_days_on_is_refused():
    enter_idle = bytes([0x1E, 0x03]) + (T0 + 3600).to_bytes(4, "little") + b"\x01\x00\x08\x00"
    info = INFO + f"Last Sample Time: {_ticks(T0 + 300 * 86400)}\r\n"
    out, peak = _peak(lambda: decode_gt3x(_gt3x([*HOUR, enter_idle], info)))
    assert isinstance(out, InputError) and "300.0 days" in str(out)
    assert peak < PEAK_LIMIT
    # the same idle sleep lasting ten minutes is filled, as ActiLife does
    info = INFO + f"Last Sample Time: {_ticks(T0 + 4200)}\r\n"
    d = decode_gt3x(_gt3x([*HOUR, enter_idle], info))
    assert d.acc_g.shape[0] == 4200 * 30 and d.filled.sum() == 600 * 30


def test_gt3x_rate_no_record_can_hold_is_refused_before_allocating():
    out, peak = _peak(lambda: decode_gt3x(_gt3x(HOUR, INFO.replace("30", "20000", 1))))
    assert isinstance(out, InputError)
    assert "no complete acceleration record" in str(out) and "20000" in str(out)
    assert "damaged" not in str(out)  # said as it is, not wrapped in another message
    assert peak < PEAK_LIMIT


def test_gt3x_member_declaring_more_than_its_data_can_hold_is_refused(tmp_path):
    raw = bytearray(_gt3x(HOUR, INFO))
    z = zipfile.ZipFile(io.BytesIO(bytes(raw)))
    m = z.getinfo("log.bin")
    lie = (m.compress_size * 1032 + 1).to_bytes(4, "little")
    true = m.file_size.to_bytes(4, "little")
    # the uncompressed size in the local header (offset 22) and the central directory (24)
    local = m.header_offset
    assert raw[local + 22 : local + 26] == true
    raw[local + 22 : local + 26] = lie
    central = next(
        c.start()
        for c in re.finditer(b"PK\x01\x02", bytes(raw))
        if raw[c.start() + 6 : c.start() + 20] == raw[local + 4 : local + 18]
    )
    assert raw[central + 24 : central + 28] == true
    raw[central + 24 : central + 28] = lie
    f = tmp_path / "lie.gt3x"
    f.write_bytes(bytes(raw))
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "more bytes than its compressed data" in str(out)
    assert "log.bin" in str(out)
    assert peak < PEAK_LIMIT + 2 * len(raw)


def _cwa_fixed(blocks: np.ndarray) -> np.ndarray:
    words = blocks.view("<u2")
    words[:, 255] = 0
    words[:, 255] = (-words.sum(axis=1, dtype=np.uint16)).astype(np.uint16)
    return blocks


def _cwa_parts() -> tuple[bytes, np.ndarray]:
    raw = (DATA / "ax3_sample.cwa").read_bytes()
    return raw[:1024], np.frombuffer(raw[1024:], np.uint8).reshape(-1, 512).copy()


def test_cwa_block_stamped_40_years_late_is_refused_on_the_chunked_path(tmp_path, monkeypatch):
    from spinestab.wearable import io as wio

    head, body = _cwa_parts()
    stamp = body[-1, 14:18].copy().view("<u4")[0] + np.uint32(40 << 26)
    body[-1, 14:18] = np.array([stamp], "<u4").view(np.uint8)
    f = tmp_path / "late.cwa"
    f.write_bytes(head + _cwa_fixed(body).tobytes())
    monkeypatch.setattr(wio, "_EAGER_SAMPLES", 1000)  # the multi-day (lazy) reader
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "span far more time" in str(out)
    assert peak < PEAK_LIMIT
    monkeypatch.setattr(wio, "_EAGER_SAMPLES", 10**9)  # and the whole-file reader
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "more than a day" in str(out)
    assert peak < PEAK_LIMIT


def test_cwa_blocks_claiming_a_rate_or_count_they_cannot_hold_are_skipped(tmp_path):
    head, body = _cwa_parts()
    slow, many = body.copy(), body.copy()
    slow[:10, 24] &= 0xF0  # rate code 0: 0.098 Hz, each block spread over 20 minutes
    many[:10, 25] = 0x62  # 6 axes of int16 hold 40 samples a block ...
    many[:10, 28:30] = np.array([120], "<u2").view(np.uint8)  # ... 120 claimed
    for blocks in (slow, many):
        d = decode_cwa(head + _cwa_fixed(blocks).tobytes())
        assert d.n_bad_blocks == 10 and d.acc_g.shape[0] == (body.shape[0] - 10) * 120
    slow[:, 24] &= 0xF0  # every block: nothing left to read
    f = tmp_path / "slow.cwa"
    f.write_bytes(head + _cwa_fixed(slow).tobytes())
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "no block with a valid time" in str(out)
    assert peak < PEAK_LIMIT


def _bin_with(tmp_path, fn) -> object:
    text = (DATA / "gnactv_sample.bin").read_bytes().decode("latin-1")
    f = tmp_path / "x.bin"
    f.write_bytes(fn(text).encode("latin-1"))
    return f


def test_geneactiv_page_rate_the_device_does_not_have_is_refused(tmp_path):
    f = _bin_with(
        tmp_path,
        lambda t: re.sub(r"(?m)^Measurement Frequency:50\.0$", "Measurement Frequency:0.001", t),
    )
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "measurement frequency" in str(out)
    assert "0.001" in str(out) and peak < PEAK_LIMIT
    f = _bin_with(
        tmp_path,
        lambda t: re.sub(r"(?m)^Measurement Frequency:50\.0$", "Measurement Frequency:x", t),
    )
    with pytest.raises(InputError, match="no readable measurement frequency"):
        read_recording(f, units="g")


def test_geneactiv_pages_a_day_apart_are_refused(tmp_path):
    def spread(t: str) -> str:
        stamps = iter(["2019-05-21 16", "2019-05-22 12", "2019-05-23 08"])
        return re.sub(r"Page Time:2019-05-21 16", lambda m: f"Page Time:{next(stamps)}", t)

    # 3 pages of 6 s each, 20 h apart: no single jump of a day, 40 h of mostly gap
    f = _bin_with(tmp_path, spread)
    out, peak = _peak(lambda: read_recording(f, units="g"))
    assert isinstance(out, InputError) and "span far more time" in str(out)
    assert peak < PEAK_LIMIT
