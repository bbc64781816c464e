"""ActiGraph GT3X decoder: the current ``log.bin`` format and the older ``activity.bin`` one.

Format: ActiGraph's public GT3X file-format description. ``log.bin`` is a sequence of
records ``0x1E, type, unix time (u32, local), size (u16), payload, checksum``; samples come
in one-second ACTIVITY (type 0x00, 12-bit packed y, x, z) or ACTIVITY2 (type 0x1A, int16
x, y, z) records. Seconds without a record while the device was in idle-sleep mode (event
record 0x03, payload 0x08 enter / 0x09 leave) are filled with the last sample, as ActiLife
does, and marked in ``filled``. The older format stores one continuous 12-bit bit stream in
``activity.bin``.

Sizes are checked before anything is allocated: a zip member may not declare more bytes than
its compressed data can expand to (deflate's limit, 1032:1), a record stamped outside the
device's declared window (``Start Date`` to ``Download Date`` in ``info.txt``) is damaged and
dropped, and a span that would be mostly filled-in time (over ten times the seconds the
records hold, and over a day) is refused rather than allocated (a 10 kB file with one record
stamped 200 days late asked for 6.5 GB).
"""

from __future__ import annotations

import io
import logging
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError

__all__ = ["Gt3xData", "decode_gt3x"]

log = logging.getLogger(__name__)

_TICKS_UNIX0 = 621355968000000000  # .NET ticks (100 ns since 0001-01-01) at 1970-01-01
_ACTIVITY, _EVENT, _ACTIVITY2 = 0x00, 0x03, 0x1A
_ENTER_IDLE = 0x08
#: deflate's largest expansion: 258 bytes from about 2 bits (zlib technical notes)
_DEFLATE_MAX_RATIO = 1032
#: a span over this many times the seconds the records hold (and over a day) is refused [D]
_MAX_FILL_RATIO = 10


@dataclass(frozen=True)
class Gt3xData:
    """Decoded GT3X file.

    Attributes
    ----------
    time_unix_s : (N,) float64 ndarray
        Sample times (device local clock, as stored).
    acc_g : (N, 3) float32 ndarray
        Acceleration in g.
    filled : (N,) bool ndarray
        True for samples filled in for seconds without data (idle sleep).
    fs_hz : float
        Sample rate from ``info.txt``.
    device : str
        Device type from ``info.txt``.
    truncated : bool
        The last record was cut short (an incomplete file).

    """

    time_unix_s: np.ndarray
    acc_g: np.ndarray
    filled: np.ndarray
    fs_hz: float
    device: str
    truncated: bool


def _unpack12(payload: np.ndarray, n_values: int) -> np.ndarray:
    """Unpack big-endian 12-bit two's-complement values from (R, B) uint8 rows."""
    rows = payload.shape[0]
    nbytes_pairs = (n_values + 1) // 2 * 3
    p = np.zeros((rows, nbytes_pairs), np.uint8)
    p[:, : min(payload.shape[1], nbytes_pairs)] = payload[:, :nbytes_pairs]
    trip = p.reshape(rows, -1, 3).astype(np.int32)
    v0 = (trip[..., 0] << 4) | (trip[..., 1] >> 4)
    v1 = ((trip[..., 1] & 0x0F) << 8) | trip[..., 2]
    vals = np.stack([v0, v1], axis=-1).reshape(rows, -1)[:, :n_values]
    return np.where(vals >= 2048, vals - 4096, vals)


def _info(z: zipfile.ZipFile, source: str) -> dict[str, str]:
    try:
        text = z.read("info.txt").decode("utf-8-sig", errors="replace")
    except KeyError as exc:
        raise InputError("GT3X file has no info.txt", source=source) from exc
    return {
        k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in text.splitlines() if ":" in ln)
    }


def _ticks_to_unix(value: str) -> float:
    return (int(value) - _TICKS_UNIX0) / 1e7


def decode_gt3x(raw: bytes, *, source: str = "GT3X file") -> Gt3xData:
    """Decode the bytes of an ActiGraph ``.gt3x`` file.

    Parameters
    ----------
    raw : bytes
        The whole file (a zip archive).
    source : str, keyword-only
        Name used in error messages.

    Returns
    -------
    Gt3xData
        Samples, with idle-sleep seconds filled and marked.

    Raises
    ------
    InputError
        Not a zip archive, no ``info.txt``, or no acceleration data.

    """
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise InputError(
            "not a GT3X file, or a truncated one (no complete zip archive)", source=source
        ) from exc
    try:
        return _decode_zip(z, source)
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        # a damaged archive member (bad CRC, broken deflate stream, cut-off member)
        raise InputError(
            "GT3X file is damaged: its contents cannot be read",
            source=source,
            value=str(exc),
        ) from exc


def _member(z: zipfile.ZipFile, name: str, source: str) -> bytes:
    """Read one zip member after checking that its declared size is one its data can hold."""
    m = z.getinfo(name)
    ratio = 1 if m.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO
    can_hold = m.compress_size * ratio
    if m.file_size > can_hold:
        raise InputError(
            "GT3X member declares more bytes than its compressed data can hold",
            source=source,
            item=name,
            value=f"{m.file_size} bytes from {m.compress_size} compressed",
            expected=f"at most {can_hold} bytes",
        )
    return z.read(name)


def _window(info: dict[str, str]) -> tuple[float, float]:
    """Return the device's declared recording window, unix seconds (device clock), or +-inf."""
    lo, hi = -np.inf, np.inf
    try:
        if int(info.get("Start Date", "0")) > 0:
            lo = np.floor(_ticks_to_unix(info["Start Date"]))
        if int(info.get("Download Date", "0")) > 0:
            hi = np.ceil(_ticks_to_unix(info["Download Date"]))
    except ValueError:  # an unreadable date: no window
        return -np.inf, np.inf
    return (lo, hi) if lo < hi else (-np.inf, np.inf)


def _check_span(nsec: int, held: int, source: str) -> None:
    """Refuse a span that would be mostly filled-in time, before allocating it."""
    if nsec > max(_MAX_FILL_RATIO * held, 86400):
        raise InputError(
            "GT3X records span far more time than they hold: a damaged time stamp or "
            "'Last Sample Time'",
            source=source,
            value=f"{nsec / 86400:.1f} days spanned by {held} s of records",
            expected=f"a span of at most {_MAX_FILL_RATIO} times the recorded time",
        )


def _decode_zip(z: zipfile.ZipFile, source: str) -> Gt3xData:
    info = _info(z, source)
    fs = float(info.get("Sample Rate", "nan"))
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(
            "GT3X info.txt has no valid Sample Rate", source=source, value=info.get("Sample Rate")
        )
    device = info.get("Device Type", "unknown")
    names = set(z.namelist())
    if "log.bin" in names:
        # without an "Acceleration Scale" line: 256 counts/g for the +-8 g ActiGraph Link,
        # 341 counts/g for the +-6 g GT3X+/wGT3X devices (ActiGraph file-format notes)
        default = 256.0 if "link" in device.lower() else 341.0
        scale = float(info.get("Acceleration Scale", default))
        return _decode_log(_member(z, "log.bin", source), info, fs, scale, device, source)
    if "activity.bin" in names:
        # GT3X+ / NEO devices: 341 counts per g unless info.txt says otherwise
        scale = float(info.get("Acceleration Scale", 341.0))
        data = _member(z, "activity.bin", source)
        return _decode_activity_bin(data, info, fs, scale, device, source)
    raise InputError(
        "GT3X file holds neither log.bin nor activity.bin", source=source, value=sorted(names)
    )


def _decode_activity_bin(
    data: bytes, info: dict[str, str], fs: float, scale: float, device: str, source: str
) -> Gt3xData:
    n = len(data) * 8 // 36
    if n == 0:
        raise InputError("GT3X activity.bin is empty", source=source)
    vals = _unpack12(np.frombuffer(data, np.uint8)[None, :], 3 * n)[0].reshape(n, 3)
    acc = (vals[:, [1, 0, 2]] / scale).astype(np.float32)  # stored y, x, z
    t0 = _ticks_to_unix(info["Start Date"])
    return Gt3xData(t0 + np.arange(n) / fs, acc, np.zeros(n, bool), fs, device, False)


def _decode_log(
    data: bytes, info: dict[str, str], fs: float, scale: float, device: str, source: str
) -> Gt3xData:
    buf = np.frombuffer(data, np.uint8)
    n_per = round(fs)
    stamps: list[int] = []
    kinds: list[int] = []
    offsets: list[int] = []
    sizes: list[int] = []
    idle_at_end = False
    i, end = 0, len(data)
    truncated = False
    while i + 8 <= end:
        if data[i] != 0x1E:
            raise InputError(
                "GT3X log.bin record separator missing",
                source=source,
                item=f"byte {i}",
                value=data[i],
                expected="0x1E",
            )
        kind = data[i + 1]
        size = int.from_bytes(data[i + 6 : i + 8], "little")
        if i + 9 + size > end:
            truncated = True
            break
        if kind in (_ACTIVITY, _ACTIVITY2):
            stamps.append(int.from_bytes(data[i + 2 : i + 6], "little"))
            kinds.append(kind)
            offsets.append(i + 8)
            sizes.append(size)
            idle_at_end = False
        elif kind == _EVENT and size >= 1:
            idle_at_end = data[i + 8] == _ENTER_IDLE
        i += 9 + size
    if i < end and not truncated:
        truncated = True
    if truncated:
        log.warning("%s: GT3X log.bin ends in an incomplete record (truncated file)", source)
    if not stamps:
        raise InputError("GT3X file holds no acceleration records", source=source)
    st = np.asarray(stamps, np.int64)
    kd = np.asarray(kinds)
    off = np.asarray(offsets, np.int64)
    sz = np.asarray(sizes, np.int64)
    # decode every record with a full second of samples; others count as missing seconds
    full2 = (kd == _ACTIVITY2) & (sz == 6 * n_per)
    full1 = (kd == _ACTIVITY) & (sz == (36 * n_per + 7) // 8)
    lo, hi = _window(info)
    inside = (st >= lo) & (st < hi)
    if not inside[full1 | full2].all():
        n_out = int((~inside & (full1 | full2)).sum())
        log.warning("%s: %d GT3X records outside the device's window dropped", source, n_out)
    full1 &= inside
    full2 &= inside
    ok = full1 | full2
    if not ok.any():  # checked before allocating: the rate may be one no record can hold
        raise InputError(
            "GT3X file holds no complete acceleration record",
            source=source,
            value=f"Sample Rate {fs:g} Hz",
            expected=f"records of one second ({6 * n_per} or {(36 * n_per + 7) // 8} bytes)",
        )
    rec = np.empty((int(ok.sum()), n_per, 3), np.float32)
    pos_ok = np.cumsum(ok) - 1  # row of each complete record in rec
    if full2.any():
        idx = off[full2, None] + np.arange(6 * n_per)[None, :]
        vals2 = buf[idx].copy().view("<i2").reshape(-1, n_per, 3)
        rec[pos_ok[full2]] = vals2 / np.float32(scale)
    if full1.any():
        nb = (36 * n_per + 7) // 8
        idx = off[full1, None] + np.arange(nb)[None, :]
        vals = _unpack12(buf[idx], 3 * n_per).reshape(-1, n_per, 3)
        rec[pos_ok[full1]] = vals[..., [1, 0, 2]] / np.float32(scale)
    st = st[ok]
    # a record stamped at or before an earlier one (damaged log) is dropped, never wrapped
    # into a negative index
    prev_max = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], st[:-1]]))
    fwd = st > prev_max
    if not fwd.all():
        log.warning("%s: %d GT3X records out of time order dropped", source, int((~fwd).sum()))
        st, rec = st[fwd], rec[fwd]
    first = int(st[0])
    last = int(st[-1])
    if idle_at_end and "Last Sample Time" in info:
        # the device went to idle sleep after its last record and stayed there until the end
        # (never past its download)
        last_t = min(round(_ticks_to_unix(info["Last Sample Time"])), hi)
        last = max(last, int(last_t) - 1)
    nsec = last - first + 1
    _check_span(nsec, int(st.size), source)
    sec = st - first
    keep = np.ones(len(sec), bool)
    keep[1:] = np.diff(sec) > 0  # duplicated seconds: first record wins
    sec, rec = sec[keep], rec[keep]
    have = np.zeros(nsec, bool)
    have[sec] = True
    src = np.maximum.accumulate(np.where(have, np.arange(nsec), -1))
    pos = np.full(nsec, -1, np.int64)
    pos[sec] = np.arange(len(sec))
    acc = np.empty((nsec, n_per, 3), np.float32)
    acc[sec] = rec
    gap = ~have
    if gap.any():
        # fill with the last sample before the gap (ActiLife's idle-sleep convention)
        before_gap = rec[pos[src[gap]], -1, :]
        acc[gap] = before_gap[:, None, :]
    filled = np.repeat(gap, n_per)
    t = first + np.arange(nsec * n_per) / fs
    return Gt3xData(t, acc.reshape(-1, 3), filled, fs, device, truncated)
