"""Batches of a live stream as a phone or device sends them: JSON and a compact binary format.

A batch (``POST /api/v1/me/stream``, :class:`StreamBatch`) carries its stream's next
samples, or per-second features computed on the device, with a sequence number (the engine is
idempotent by it) and the device time of its first sample:

JSON::

    {"seq": 17, "device_time": 1704067200.0, "fs_hz": 25,
     "samples": [[0.01, -0.02, 0.99], ...]}                      # stream units; null = missing
    {"seq": 18, "device_time": "2024-01-01T00:00:10Z", "fs_hz": 25,
     "features": {"g": [[...], ...], "sd": [...], "vert": [[...25 values...], ...],
                  "missing": [false, ...]}}                       # one row per second, in g

``device_time`` may be null: the batch then follows the previous one without a gap.

Binary (little-endian): a 32-byte header ``b"SPSB"``, version (u8, 1), kind (u8: 1 int16
samples with a scale, 2 float32 samples, 3 float32 features), rate (u16, Hz), seq (i64),
device time (f64, NaN = follows the previous batch), count (u32: samples, or seconds for
features), sub-samples per second (u32, features only); then for kind 1 a float32 scale
(units per count) and ``count * 3`` int16, for kind 2 ``count * 3`` float32, for kind 3
``count`` rows of ``3 + 1 + 1 + nsub`` float32 (g, sd, missing as 0/1, the vertical
signal). 6 bytes a sample in kind 1 against about 25 in JSON. Declared counts are checked
against the bytes present before anything is allocated.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from spinestab.core.validation import check_range
from spinestab.errors import InputError

__all__ = [
    "MAX_BATCH_S",
    "BatchFeatures",
    "StreamBatch",
    "batch_from_bytes",
    "batch_from_json",
    "batch_to_bytes",
    "batch_to_json",
]

MAX_BATCH_S = 3600  # seconds one batch may hold [D]: bounds what a request can allocate
_HEADER = struct.Struct("<4sBBHqdII")
_MAGIC = b"SPSB"
_RAW_I16, _RAW_F32, _FEATURES = 1, 2, 3


@dataclass(frozen=True)
class BatchFeatures:
    """Per-second features computed on the device (in g), one row per second.

    Attributes
    ----------
    g : (k, 3) float32 ndarray
        Mean acceleration of each second.
    sd : (k,) float32 ndarray
        Total SD within each second.
    vert : (k, nsub) float32 ndarray
        Vertical dynamic acceleration at ``nsub`` samples per second.
    missing : (k,) bool ndarray
        Seconds not measured.

    """

    g: np.ndarray
    sd: np.ndarray
    vert: np.ndarray
    missing: np.ndarray

    @property
    def n_seconds(self) -> int:
        """Number of seconds."""
        return int(self.g.shape[0])


@dataclass(frozen=True)
class StreamBatch:
    """One batch of a stream: samples (stream units) or per-second features.

    Attributes
    ----------
    seq : int
        Sequence number (0, 1, 2 ... per stream).
    device_time_unix_s : float or None
        Device time of the first sample (or second); None: it follows the previous batch.
    samples : (n, 3) float32 ndarray or None
        Raw samples; NaN where not measured.
    features : BatchFeatures or None
        Per-second features instead of samples.
    fs_hz : int
        Sampling rate.

    """

    seq: int
    device_time_unix_s: float | None = None
    samples: np.ndarray | None = None
    features: BatchFeatures | None = None
    fs_hz: int = 25

    def __post_init__(self) -> None:
        """Check what any source of a batch must satisfy."""
        if isinstance(self.seq, bool) or not isinstance(self.seq, int | np.integer):
            raise InputError("sequence number must be an integer", item="seq", value=self.seq)
        if not 0 <= int(self.seq) < 2**62:
            raise InputError("sequence number out of range", item="seq", value=self.seq)
        t = self.device_time_unix_s
        if t is not None and not (math.isfinite(t) and 0 <= t < 1e11):
            raise InputError("device time must be unix seconds", item="device_time", value=t)
        if (self.samples is None) == (self.features is None):
            raise InputError("a batch holds either samples or features", item="batch")
        check_range("fs_hz", int(self.fs_hz), 1, 1000, message="sampling rate out of range")
        if self.samples is not None:
            s = self.samples
            if s.ndim != 2 or s.shape[1] != 3:
                raise InputError("samples must be rows of x, y, z", item="samples", value=s.shape)
            if s.shape[0] > MAX_BATCH_S * self.fs_hz:
                raise InputError(
                    "batch too long",
                    item="samples",
                    value=s.shape[0],
                    expected=f"at most {MAX_BATCH_S} s",
                )
            if np.isinf(s).any():
                raise InputError("samples must be finite numbers (or missing)", item="samples")
        if self.features is not None:
            f = self.features
            k = f.g.shape[0]
            if (
                f.g.shape != (k, 3)
                or f.sd.shape != (k,)
                or f.missing.shape != (k,)
                or f.vert.ndim != 2
                or f.vert.shape[0] != k
            ):
                raise InputError("features of unequal lengths", item="features")
            if k > MAX_BATCH_S:
                raise InputError("batch too long", item="features", value=k)

    def n_seconds(self, nsub: int) -> float:
        """Seconds the batch covers."""
        if self.features is not None:
            return float(self.features.n_seconds)
        assert self.samples is not None
        return self.samples.shape[0] / self.fs_hz


def _array(obj: object, item: str, *, dims: int) -> np.ndarray:
    try:
        a = np.array(obj, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(f"{item} must be numbers", item=item) from None
    if a.ndim != dims:
        raise InputError(f"{item} has the wrong shape", item=item, value=a.shape)
    return a


def _time(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError("device time must be unix seconds or ISO 8601", item="device_time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        from spinestab.wearable.io import parse_time

        return parse_time(value.replace("Z", "+00:00"), "device_time")
    raise InputError("device time must be unix seconds or ISO 8601", item="device_time")


def batch_from_json(obj: object) -> StreamBatch:
    """Read a batch from its decoded JSON (see the module notes).

    Raises
    ------
    InputError
        For anything the format does not allow, naming the item.

    """
    if not isinstance(obj, dict):
        raise InputError("a batch is a JSON object", value=type(obj).__name__)
    extra = set(obj) - {"seq", "device_time", "fs_hz", "samples", "features"}
    if extra:
        raise InputError("unknown fields in a batch", value=sorted(extra))
    fs = obj.get("fs_hz", 25)
    if isinstance(fs, bool) or not isinstance(fs, int):
        raise InputError("sampling rate must be an integer", item="fs_hz", value=fs)
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InputError("sequence number must be an integer", item="seq", value=seq)
    t = _time(obj.get("device_time"))
    if "samples" in obj:
        raw = obj["samples"]
        if not isinstance(raw, list) or len(raw) > MAX_BATCH_S * max(fs, 1):
            raise InputError("samples must be a list of at most an hour", item="samples")
        rows = [[np.nan if v is None else v for v in r] if isinstance(r, list) else r for r in raw]
        a = _array(rows, "samples", dims=2) if rows else np.zeros((0, 3))
        return StreamBatch(seq, t, samples=a.astype(np.float32), fs_hz=fs)
    f = obj.get("features")
    if not isinstance(f, dict):
        raise InputError("a batch needs samples or features", item="features")
    g = _array(f.get("g"), "features.g", dims=2)
    if g.shape[0] > MAX_BATCH_S:
        raise InputError("batch too long", item="features", value=g.shape[0])
    feats = BatchFeatures(
        g=g.astype(np.float32),
        sd=_array(f.get("sd"), "features.sd", dims=1).astype(np.float32),
        vert=_array(f.get("vert"), "features.vert", dims=2).astype(np.float32),
        missing=np.asarray(f.get("missing", [False] * g.shape[0]), bool),
    )
    return StreamBatch(seq, t, features=feats, fs_hz=fs)


def batch_to_json(batch: StreamBatch) -> dict[str, object]:
    """Write a batch as JSON-ready data (missing samples as null)."""
    out: dict[str, object] = {
        "seq": int(batch.seq),
        "device_time": batch.device_time_unix_s,
        "fs_hz": int(batch.fs_hz),
    }
    if batch.samples is not None:
        s = batch.samples.astype(np.float64)
        out["samples"] = [[None if np.isnan(v) else float(v) for v in r] for r in s]
    else:
        f = batch.features
        assert f is not None
        out["features"] = {
            "g": f.g.astype(np.float64).tolist(),
            "sd": f.sd.astype(np.float64).tolist(),
            "vert": f.vert.astype(np.float64).tolist(),
            "missing": f.missing.astype(bool).tolist(),
        }
    return out


def batch_to_bytes(batch: StreamBatch, *, counts_per_unit: float | None = None) -> bytes:
    """Write a batch in the binary format.

    Parameters
    ----------
    batch : StreamBatch
        The batch.
    counts_per_unit : float, optional, keyword-only
        Store samples as int16 counts at this resolution (e.g. 1024 per g); default float32.
        Missing samples need float32.

    """
    t = math.nan if batch.device_time_unix_s is None else float(batch.device_time_unix_s)
    if batch.features is not None:
        f = batch.features
        k, nsub = f.g.shape[0], f.vert.shape[1]
        head = _HEADER.pack(_MAGIC, 1, _FEATURES, batch.fs_hz, batch.seq, t, k, nsub)
        body = np.column_stack([f.g, f.sd, f.missing.astype(np.float32), f.vert])
        return head + body.astype("<f4").tobytes()
    s = batch.samples
    assert s is not None
    if counts_per_unit is not None:
        if np.isnan(s).any():
            raise InputError("missing samples cannot be stored as int16 counts")
        c = np.round(s * counts_per_unit)
        if np.abs(c).max(initial=0) > 32767:
            raise InputError("samples beyond the int16 range at this resolution")
        head = _HEADER.pack(_MAGIC, 1, _RAW_I16, batch.fs_hz, batch.seq, t, s.shape[0], 0)
        scale = struct.pack("<f", 1.0 / counts_per_unit)
        return head + scale + c.astype("<i2").tobytes()
    head = _HEADER.pack(_MAGIC, 1, _RAW_F32, batch.fs_hz, batch.seq, t, s.shape[0], 0)
    return head + s.astype("<f4").tobytes()


def batch_from_bytes(data: bytes) -> StreamBatch:
    """Read a batch in the binary format.

    Raises
    ------
    InputError
        For a wrong magic, version or kind, or a count the bytes do not hold.

    """
    if len(data) < _HEADER.size:
        raise InputError("binary batch shorter than its header", value=len(data))
    magic, version, kind, fs, seq, t, count, nsub = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != 1:
        raise InputError("not a binary stream batch", value=(magic, version))
    t_s = None if math.isnan(t) else t
    limit = MAX_BATCH_S * max(fs, 1)
    body = memoryview(data)[_HEADER.size :]
    if kind in (_RAW_I16, _RAW_F32):
        size = 4 + count * 6 if kind == _RAW_I16 else count * 12
        if count > limit or len(body) != size:
            raise InputError(
                "binary batch length does not match its sample count",
                value=f"{len(body)} bytes for {count} samples",
                expected=f"{size} bytes, at most {limit} samples",
            )
        if kind == _RAW_I16:
            scale = struct.unpack_from("<f", body)[0]
            if not (math.isfinite(scale) and scale > 0):
                raise InputError("binary batch scale must be positive", value=scale)
            c = np.frombuffer(body[4:], "<i2").reshape(count, 3)
            samples = (c.astype(np.float32) * np.float32(scale)).astype(np.float32)
        else:
            samples = np.frombuffer(body, "<f4").reshape(count, 3).astype(np.float32)
        return StreamBatch(int(seq), t_s, samples=samples, fs_hz=int(fs))
    if kind == _FEATURES:
        width = 5 + nsub
        if count > MAX_BATCH_S or not 1 <= nsub <= 200 or len(body) != count * width * 4:
            raise InputError(
                "binary batch length does not match its feature count",
                value=f"{len(body)} bytes for {count} seconds of {nsub}",
            )
        rows = np.frombuffer(body, "<f4").reshape(count, width).astype(np.float32)
        feats = BatchFeatures(rows[:, :3], rows[:, 3], rows[:, 5:], rows[:, 4] > 0.5)
        return StreamBatch(int(seq), t_s, features=feats, fs_hz=int(fs))
    raise InputError("unknown binary batch kind", value=kind, expected="1, 2 or 3")
