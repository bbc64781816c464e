"""Axivity CWA decoder (AX3 and AX6), vectorized over 512-byte data blocks.

Format: OpenMovement ``cwa.h`` (BSD licence, public specification). A 1024-byte ``MD``
header is followed by 512-byte ``AX`` blocks, each holding up to 120 samples (packed
3 x 10-bit + exponent), 80 unpacked int16 tri-axial samples, or 40 six-axis samples
(AX6: gyro x, y, z, then accel x, y, z).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError

__all__ = [
    "CwaData",
    "CwaIndex",
    "block_temperatures",
    "decode_blocks",
    "decode_cwa",
    "index_cwa",
]

log = logging.getLogger(__name__)

_BLOCK = 512
_HEADER = 1024
_MIN_RATE_HZ = 6.25  # the lowest rate of an Axivity AX3/AX6


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


@dataclass(frozen=True)
class CwaIndex:
    """Block-level index of a CWA file: enough to decode any range of blocks later.

    Attributes
    ----------
    blocks : (B, 512) uint8 ndarray
        View of the valid data blocks (a memory map stays a memory map).
    count : (B,) int64 ndarray
        Samples per block.
    sample_start : (B + 1,) int64 ndarray
        Index of each block's first sample (cumulative counts).
    anchor_idx, anchor_t : ndarrays
        Sample index -> time anchors (see :func:`decode_cwa`).
    fs_hz : float
        Configured rate.
    device : str
        ``"AX3"`` or ``"AX6"``.
    sensor_cfg : int
        Header byte with the AX6 gyro range.
    n_bad_blocks : int
        Blocks skipped for a bad checksum.

    """

    blocks: np.ndarray
    count: np.ndarray
    sample_start: np.ndarray
    anchor_idx: np.ndarray
    anchor_t: np.ndarray
    fs_hz: float
    device: str
    sensor_cfg: int
    n_bad_blocks: int

    @property
    def n_samples(self) -> int:
        """Samples in the file."""
        return int(self.sample_start[-1])

    def times(self, i0: int, i1: int) -> np.ndarray:
        """Return the times of samples ``i0:i1``, unix seconds."""
        return np.interp(np.arange(i0, i1, dtype=np.float64), self.anchor_idx, self.anchor_t)


def index_cwa(raw: bytes | np.ndarray, *, source: str = "CWA file", gap_s: float = 1.0) -> CwaIndex:
    """Check and index the data blocks of a ``.cwa`` file without decoding samples.

    Parameters
    ----------
    raw : bytes or (B,) uint8 ndarray
        The whole file; a memory map is read in slices, so memory stays bounded.
    source : str, keyword-only
        Name used in error messages.
    gap_s : float, keyword-only
        A pause longer than this between blocks starts a new time anchor, so samples are
        never spread over a recording gap.

    Returns
    -------
    CwaIndex

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
    all_blocks = buf[start : start + nblk * _BLOCK].reshape(nblk, _BLOCK)
    valid = np.zeros(nblk, bool)
    n_sig = 0
    step = 65536
    for b0 in range(0, nblk, step):  # slices keep the checksum pass bounded in memory
        blk = np.asarray(all_blocks[b0 : b0 + step])
        words = blk.view("<u2")
        sig = (blk[:, 0] == ord("A")) & (blk[:, 1] == ord("X")) & (words[:, 1] == 508)
        valid[b0 : b0 + step] = sig & (words.sum(axis=1, dtype=np.uint16) == 0)
        n_sig += int(sig.sum())
    n_bad = n_sig - int(valid.sum())
    if n_bad:
        log.warning("%s: %d data blocks with bad checksum skipped", source, n_bad)
    if not valid.any():
        raise InputError("CWA file has no valid data block", source=source, expected="'AX' blocks")
    blocks = all_blocks[valid] if not valid.all() else all_blocks
    head = np.asarray(blocks[:, :30])
    words = head.view("<u2")
    stamp = head[:, 14:18].copy().view("<u4")[:, 0]
    rate_code = head[:, 24].astype(np.int64)
    ts_offset = words[:, 13].astype(np.int16).astype(np.int64)
    count = words[:, 14].astype(np.int64)
    n_axes = head[:, 25].astype(np.int64) >> 4
    freq = 3200.0 / (1 << (15 - (rate_code & 0x0F)))
    # block start time: packed whole second - timestampOffset / fs. The 'deviceFractional'
    # word is not added: the reference decoders (scikit-digital-health, actipy) ignore it
    # and their decodes are the contract here.
    t_stamp = _packed_time(stamp)
    t0 = t_stamp - ts_offset / freq
    # blocks with an impossible date or sample count, or that step back in time, are
    # corrupt: skipped and counted, never decoded as data
    # a block holds 480 bytes of samples: 120 packed 3-axis samples, or 480 / (2 * axes)
    # int16 ones; and Axivity devices sample at 6.25-3200 Hz (rate codes 6-15) [R: Axivity
    # OpenMovement cwa.h]. A block claiming more samples than it holds, or a rate that
    # would spread its samples over minutes, is damaged.
    packing = head[:, 25].astype(np.int64) & 0x0F
    capacity = np.where(packing == 0, 120, 480 // (2 * np.maximum(n_axes, 1)))
    sane = (t_stamp >= 0) & (count >= 1) & (count <= capacity) & (freq >= _MIN_RATE_HZ)
    prev = np.maximum.accumulate(np.where(sane, t0, -np.inf))
    sane[1:] &= t0[1:] >= prev[:-1] - 1.0
    if not sane.all():
        n_odd = int((~sane).sum())
        log.warning("%s: %d data blocks with impossible times or counts skipped", source, n_odd)
        n_bad += n_odd
        if not sane.any():
            raise InputError("CWA file has no block with a valid time", source=source)
        blocks = blocks[sane]
        stamp, rate_code, ts_offset = stamp[sane], rate_code[sane], ts_offset[sane]
        count, n_axes, freq, t0 = count[sane], n_axes[sane], freq[sane], t0[sane]
    # per-sample times: the block's end (start + count / fs) anchors the sample after its
    # last one, and samples are spread linearly between consecutive anchors, as in the
    # reference decodes; the first block starts at its own timestamp, and so does a block
    # after a pause longer than gap_s.
    ends = t0 + count / freq
    sample_start = np.concatenate([[0], np.cumsum(count)])
    pause = np.flatnonzero(t0[1:] - ends[:-1] > gap_s) + 1
    anchor_idx = np.concatenate([[0], sample_start[1:], sample_start[pause]]).astype(np.float64)
    anchor_t = np.concatenate([[t0[0]], ends, t0[pause]])
    order = np.argsort(
        anchor_idx + np.r_[np.zeros(1 + ends.size), 0.5 * np.ones(pause.size)], kind="stable"
    )
    anchor_idx, anchor_t = anchor_idx[order], anchor_t[order]
    # at a pause the previous block's end and the next block's start share one index:
    # nudge the end anchor a hair earlier so interpolation stays single-valued
    dup = np.flatnonzero(np.diff(anchor_idx) == 0)
    anchor_idx[dup] -= 1e-6
    is_ax6 = bool((n_axes >= 6).any()) or hardware == 0x64
    return CwaIndex(
        blocks,
        count,
        sample_start,
        anchor_idx,
        anchor_t,
        float(np.median(freq)),
        "AX6" if is_ax6 else "AX3",
        sensor_cfg,
        n_bad,
    )


def decode_blocks(
    ix: CwaIndex, b0: int, b1: int, *, source: str = "CWA file"
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Decode valid blocks ``b0:b1`` of an indexed file.

    Returns
    -------
    acc_g : (n, 3) float32 ndarray
    gyro_dps : (n, 3) float32 ndarray or None
    temperature_c : (n,) float32 ndarray

    """
    blocks = np.asarray(ix.blocks[b0:b1])
    nb = blocks.shape[0]
    words = blocks.view("<u2")
    light = words[:, 9].astype(np.int64)
    temp_raw = (words[:, 10] & 0x3FF).astype(np.float32)
    axes_bps = blocks[:, 25].astype(np.int64)
    count = ix.count[b0:b1]
    n_axes = axes_bps >> 4
    packing = axes_bps & 0x0F
    layouts = np.unique(np.stack([n_axes, packing], axis=1), axis=0)
    acc = np.zeros((nb, 120, 3), np.float32)
    gyro = np.zeros((nb, 120, 3), np.float32) if ix.device == "AX6" else None
    for na, pk in layouts:
        sel = (n_axes == na) & (packing == pk)
        data = blocks[sel, 30:510]
        if pk == 0 and na == 3:  # packed: 3 x 10-bit signed + 2-bit exponent in a u32
            v = data.copy().view("<u4")
            e = (v >> 30).astype(np.int32)
            for k in range(3):
                c = ((v >> (10 * k)) & 0x3FF).astype(np.int32)
                c = np.where(c >= 512, c - 1024, c) << e
                acc[sel, :, k] = c.astype(np.float32) / 256.0
        elif pk == 2 and na in (3, 6, 9):
            v = data.copy().view("<i2").reshape(data.shape[0], -1, na).astype(np.float32)
            ns = v.shape[1]
            unit = (1 << (8 + ((light[sel] >> 13) & 0x07))).astype(np.float32)
            a_cols = slice(3, 6) if na >= 6 else slice(0, 3)
            acc[sel, :ns] = v[:, :, a_cols] / unit[:, None, None]
            if na >= 6 and gyro is not None:
                cfg = ix.sensor_cfg
                grange = 8000.0 / (1 << (cfg & 0x0F)) if cfg not in (0, 0xFF) else 2000.0
                gyro[sel, :ns] = v[:, :, 0:3] * np.float32(grange / 32768.0)
        else:
            raise InputError(
                "unsupported CWA sample layout",
                source=source,
                value=f"{int(na)} axes, packing {int(pk)}",
                expected="3 axes packed or 3/6 axes int16",
            )
    keep = np.arange(120)[None, :] < count[:, None]
    # MCP9700 sensor: (raw - 171) / 3.142 degrees C (OpenMovement cwa-convert)
    temp_c = np.repeat(((temp_raw - 171.0) / 3.142).astype(np.float32), count)
    return acc[keep], (gyro[keep] if gyro is not None else None), temp_c


def block_temperatures(ix: CwaIndex) -> tuple[np.ndarray, np.ndarray]:
    """Each valid block's temperature at its first sample's time, without decoding samples.

    MCP9700 sensor: ``(raw - 171) / 3.142`` degrees C (OpenMovement cwa-convert), as in
    :func:`decode_blocks`.
    """
    raw = (np.asarray(ix.blocks[:, 20:22]).copy().view("<u2")[:, 0] & 0x3FF).astype(np.float32)
    t = np.interp(ix.sample_start[:-1].astype(np.float64), ix.anchor_idx, ix.anchor_t)
    return t, ((raw - 171.0) / 3.142).astype(np.float32)


def decode_cwa(raw: bytes | np.ndarray, *, source: str = "CWA file") -> CwaData:
    """Decode the bytes of an Axivity ``.cwa`` file.

    Parameters
    ----------
    raw : bytes or (B,) uint8 ndarray
        The whole file.
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
    ix = index_cwa(raw, source=source)
    acc, gyro, temp = decode_blocks(ix, 0, ix.count.size, source=source)
    return CwaData(
        time_unix_s=ix.times(0, ix.n_samples),
        acc_g=acc,
        gyro_dps=gyro,
        temperature_c=temp,
        fs_hz=ix.fs_hz,
        device=ix.device,
        n_bad_blocks=ix.n_bad_blocks,
    )
