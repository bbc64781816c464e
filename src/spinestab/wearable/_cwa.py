"""Axivity CWA decoder (AX3 and AX6), vectorized over 512-byte data blocks.

Format: OpenMovement ``cwa.h`` (BSD licence, public specification). A 1024-byte ``MD``
header is followed by 512-byte ``AX`` blocks, each holding up to 120 samples (packed
3 x 10-bit + exponent), 80 unpacked int16 tri-axial samples, or 40 six-axis samples
(AX6: gyro x, y, z, then accel x, y, z).
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError

__all__ = ["CwaData", "decode_cwa"]

log = logging.getLogger(__name__)

_BLOCK = 512
_HEADER = 1024


@dataclass(frozen=True)
class CwaData:
    """Decoded CWA file.

    Attributes
    ----------
    time_unix_s : (N,) float64 ndarray
        Sample times, seconds since 1970-01-01 UTC (device clock, no time zone).
    acc_g : (N, 3) float32 ndarray
        Acceleration in g.
    gyro_dps : (N, 3) float32 ndarray or None
        Angular velocity in degrees per second (AX6 only).
    temperature_c : (N,) float32 ndarray
        Temperature per sample (block value repeated), degrees Celsius.
    fs_hz : float
        Configured sampling rate.
    device : str
        ``"AX3"`` or ``"AX6"``.
    n_bad_blocks : int
        Blocks skipped because their checksum or signature was wrong.

    """

    time_unix_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    temperature_c: np.ndarray
    fs_hz: float
    device: str
    n_bad_blocks: int


def _packed_time(ts: np.ndarray) -> np.ndarray:
    """Convert CWA packed timestamps ``YYYYYYMM MMDDDDDh hhhhmmmm mmssssss`` to unix seconds."""
    ts = ts.astype(np.int64)
    year = 2000 + ((ts >> 26) & 0x3F)
    month = (ts >> 22) & 0x0F
    day = (ts >> 17) & 0x1F
    hour = (ts >> 12) & 0x1F
    minute = (ts >> 6) & 0x3F
    sec = ts & 0x3F
    bad = (month < 1) | (month > 12) | (day < 1)
    month = np.where(bad, 1, month)
    day = np.where(bad, 1, day)
    dates = ((year - 1970).astype("datetime64[Y]") + (month - 1).astype("timedelta64[M]")).astype(
        "datetime64[D]"
    ) + (day - 1).astype("timedelta64[D]")
    out = dates.astype("datetime64[s]").astype(np.int64) + hour * 3600 + minute * 60 + sec
    return np.where(bad, -1, out).astype(np.float64)


def decode_cwa(raw: bytes | np.ndarray, *, source: str = "CWA file") -> CwaData:
    """Decode the bytes of an Axivity ``.cwa`` file.

    Parameters
    ----------
    raw : bytes or (B,) uint8 ndarray
        The whole file (a memory map works and keeps memory bounded to the decoded arrays).
    source : str, keyword-only
        Name used in error messages.

    Returns
    -------
    CwaData
        Samples with per-sample times interpolated between block timestamps.

    Raises
    ------
    InputError
        Not a CWA file, or no valid data block.

    """
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes | bytearray) else raw
    if buf.size < _HEADER or bytes(buf[:2]) != b"MD":
        raise InputError(
            "not an Axivity CWA file (no 'MD' header)",
            source=source,
            value=bytes(buf[:2]),
            expected="b'MD'",
        )
    hdr_len = int(buf[2]) | (int(buf[3]) << 8)
    start = hdr_len + 4 if hdr_len + 4 >= _HEADER else _HEADER
    hardware = int(buf[4])
    sensor_cfg = int(buf[35])
    nblk = (buf.size - start) // _BLOCK
    if nblk <= 0:
        raise InputError("CWA file holds no data blocks", source=source, value=int(buf.size))
    blocks = buf[start : start + nblk * _BLOCK].reshape(nblk, _BLOCK)
    words = blocks.view("<u2")
    sig_ok = (blocks[:, 0] == ord("A")) & (blocks[:, 1] == ord("X")) & (words[:, 1] == 508)
    csum_ok = (words.sum(axis=1, dtype=np.uint16)) == 0
    valid = sig_ok & csum_ok
    n_bad = int(sig_ok.sum() - valid.sum())
    if n_bad:
        log.warning("%s: %d data blocks with bad checksum skipped", source, n_bad)
    blocks = blocks[valid]
    if blocks.shape[0] == 0:
        raise InputError("CWA file has no valid data block", source=source, expected="'AX' blocks")
    words = blocks.view("<u2")
    stamp = blocks[:, 14:18].copy().view("<u4")[:, 0]
    light = words[:, 9].astype(np.int64)
    temp_raw = (words[:, 10] & 0x3FF).astype(np.float32)
    rate_code = blocks[:, 24].astype(np.int64)
    axes_bps = blocks[:, 25].astype(np.int64)
    ts_offset = words[:, 13].astype(np.int16).astype(np.int64)
    count = words[:, 14].astype(np.int64)

    n_axes = axes_bps >> 4
    packing = axes_bps & 0x0F
    freq = 3200.0 / (1 << (15 - (rate_code & 0x0F)))
    fs = float(np.median(freq))
    # one layout per file is the norm; mixed layouts are decoded group by group
    layouts = np.unique(np.stack([n_axes, packing], axis=1), axis=0)
    is_ax6 = bool((n_axes >= 6).any()) or hardware == 0x64
    acc = np.zeros((blocks.shape[0], 120, 3), np.float32)
    gyro = np.zeros((blocks.shape[0], 120, 3), np.float32) if is_ax6 else None
    for na, pk in layouts:
        sel = (n_axes == na) & (packing == pk)
        data = blocks[sel, 30:510]
        if pk == 0 and na == 3:  # packed: 3 x 10-bit signed + 2-bit exponent in a u32
            v = data.copy().view("<u4").astype(np.int64)
            e = v >> 30
            xyz = np.stack([(v >> (10 * k)) & 0x3FF for k in range(3)], axis=-1)
            xyz = np.where(xyz >= 512, xyz - 1024, xyz) << e[..., None]
            acc[sel] = xyz.astype(np.float32) / 256.0
        elif pk == 2 and na in (3, 6, 9):
            v = data.copy().view("<i2").reshape(data.shape[0], -1, na).astype(np.float32)
            ns = v.shape[1]
            unit = (1 << (8 + ((light[sel] >> 13) & 0x07))).astype(np.float32)
            a_cols = slice(3, 6) if na >= 6 else slice(0, 3)
            acc[sel, :ns] = v[:, :, a_cols] / unit[:, None, None]
            if na >= 6 and gyro is not None:
                grange = (
                    8000.0 / (1 << (sensor_cfg & 0x0F)) if sensor_cfg not in (0, 0xFF) else 2000.0
                )
                gyro[sel, :ns] = v[:, :, 0:3] * np.float32(grange / 32768.0)
        else:
            raise InputError(
                "unsupported CWA sample layout",
                source=source,
                value=f"{int(na)} axes, packing {int(pk)}",
                expected="3 axes packed or 3/6 axes int16",
            )
    # block start time: packed whole second - timestampOffset / fs. The 'deviceFractional'
    # word is not added: the reference decoders (scikit-digital-health, actipy) ignore it
    # and their decodes are the contract here.
    t0 = _packed_time(stamp) - ts_offset / freq
    # per-sample times: the block's end (start + count / fs) anchors the sample after its
    # last one, and samples are spread linearly between consecutive anchors, as in the
    # reference decodes; the first block starts at its own timestamp.
    ends = t0 + count / freq
    anchor_idx = np.concatenate([[0], np.cumsum(count)])
    anchor_t = np.concatenate([[t0[0]], ends])
    idx = np.arange(120)[None, :]
    keep = idx < count[:, None]
    time_s = np.interp(np.arange(int(count.sum()), dtype=np.float64), anchor_idx, anchor_t)
    acc_out = acc[keep]
    gyro_out = gyro[keep] if gyro is not None else None
    # MCP9700 sensor: (raw - 171) / 3.142 degrees C (OpenMovement cwa-convert)
    temp_c = np.repeat(((temp_raw - 171.0) / 3.142).astype(np.float32), count)
    return CwaData(
        time_unix_s=time_s,
        acc_g=acc_out,
        gyro_dps=gyro_out,
        temperature_c=temp_c,
        fs_hz=fs,
        device="AX6" if is_ax6 else "AX3",
        n_bad_blocks=n_bad,
    )


def start_datetime(t: float) -> _dt.datetime:
    """Return a UTC datetime for unix seconds ``t``."""
    return _dt.datetime.fromtimestamp(t, tz=_dt.UTC)
