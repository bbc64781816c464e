"""Reading accelerometer recordings into one regularly sampled :class:`Recording`.

Formats: CSV (``time, x, y, z`` and common variants, ISO 8601 or unix-second timestamps, or
a start time plus sampling rate; ActiLife CSV exports), Axivity CWA (AX3, AX6), GENEActiv
BIN, ActiGraph GT3X, NumPy (``.npy`` with a ``meta.json`` beside it, or ``.npz`` with
``time``/``accel``) and Parquet. The device decoders are spinestab's own (``_cwa``,
``_geneactiv``, ``_gt3x``), tested against the reference decodes of scikit-digital-health,
actipy/pygt3x and ActiLife. Large ``.npy`` files are read chunk by chunk, never whole.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinestab.errors import InputError, require

__all__ = [
    "G_MS2",
    "Recording",
    "detect_units",
    "parse_time",
    "processing_rate",
    "read_recording",
    "recording_from_array",
    "recording_from_times",
]

log = logging.getLogger(__name__)

G_MS2 = 9.80665  # standard gravity, m/s^2
_RATES = (25, 30, 50, 100, 200)  # rates the per-second features work at (whole sub-bins)


def processing_rate(fs_hz: float) -> int:
    """Return the rate the pipeline works at: ``fs_hz`` if standard, else the nearest standard."""
    if float(fs_hz).is_integer() and int(fs_hz) in _RATES:
        return int(fs_hz)
    return min(_RATES, key=lambda r: abs(np.log(r / fs_hz)))


_TIME_NAMES = (
    "time",
    "timestamp",
    "datetime",
    "date_time",
    "unix_time",
    "unix",
    "t",
    "ts",
    "time_s",
    "timestamp_s",
    "epoch",
)
_AXIS_PATTERNS = (
    ("x", "y", "z"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("acc x", "acc y", "acc z"),
    ("ax", "ay", "az"),
    ("accx", "accy", "accz"),
    ("accelerometer x", "accelerometer y", "accelerometer z"),
    ("x-axis", "y-axis", "z-axis"),
    ("x_axis", "y_axis", "z_axis"),
    ("acc_x_g", "acc_y_g", "acc_z_g"),
)


@dataclass(frozen=True)
class Recording:
    """A regularly sampled tri-axial accelerometer recording.

    Samples are read on demand with :meth:`read` so that multi-day files are processed in
    chunks. Values come back in g (``scale_to_g`` converts the stored units).

    Attributes
    ----------
    fs_hz : float
        Sampling rate after any resampling, Hz.
    start_unix_s : float
        Time of the first sample, seconds since 1970-01-01 (clock of the device or file).
    n_samples : int
        Number of samples.
    source : str
        File name or description.
    device : str
        Device or format.
    scale_to_g : float
        Multiplier from stored units to g (1 for g, 1/9.80665 for m/s^2).
    units : str
        ``"g"`` or ``"m/s2"``: the stored units (detected or declared).
    filled : (n_samples,) bool ndarray or None
        Samples that were not measured (gaps, idle sleep, NaN runs); None when all were.
    notes : tuple of str
        What the reader noticed (resampling, gaps, truncation ...).

    """

    fs_hz: float
    start_unix_s: float
    n_samples: int
    source: str
    device: str
    _loader: Callable[[int, int], np.ndarray] = field(repr=False)
    scale_to_g: float = 1.0
    units: str = "g"
    filled: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    _buffered: bool = field(default=False, repr=False)

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs_hz

    def read(
        self, start: int = 0, stop: int | None = None, *, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Return samples ``start:stop`` in g as a (n, 3) float32 array (NaN where missing).

        ``out`` is an optional float32 buffer of at least ``stop - start`` rows that file
        readers fill in place (it saves fresh memory on every chunk); the result may be a view
        of it, valid until the next read into the same buffer.
        """
        stop = self.n_samples if stop is None else min(stop, self.n_samples)
        a = self._loader(start, stop, out) if self._buffered else self._loader(start, stop)
        a = np.asarray(a, dtype=np.float32)
        if self.scale_to_g != 1.0:
            if out is not None and np.shares_memory(a, out):
                a *= np.float32(self.scale_to_g)  # our own buffer: scale in place
            else:
                a = a * np.float32(self.scale_to_g)  # never change the caller's array
        return a

    def chunks(self, chunk_samples: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start_index, samples_in_g)`` pieces of at most ``chunk_samples`` samples."""
        for s in range(0, self.n_samples, chunk_samples):
            yield s, self.read(s, s + chunk_samples)

    def with_units(self, units: str) -> Recording:
        """Return the recording with its stored units declared (``"g"`` or ``"m/s2"``)."""
        if units not in ("g", "m/s2"):
            raise InputError("unknown units", item="units", value=units, expected="g or m/s2")
        scale = 1.0 if units == "g" else 1.0 / G_MS2
        return _replace(self, scale_to_g=scale, units=units)


def _replace(rec: Recording, **kw: object) -> Recording:
    from dataclasses import replace

    return replace(rec, **kw)  # type: ignore[arg-type]


def recording_from_array(
    acc: np.ndarray,
    *,
    fs_hz: float,
    start_unix_s: float = 0.0,
    source: str = "array",
    device: str = "array",
    filled: np.ndarray | None = None,
    notes: tuple[str, ...] = (),
) -> Recording:
    """Wrap a regularly sampled (N, 3) array (stored units, detected later) as a Recording.

    Parameters
    ----------
    acc : (N, 3) ndarray
        Acceleration, g or m/s^2.
    fs_hz : float, keyword-only
        Sampling rate, Hz.
    start_unix_s : float, keyword-only
        Time of the first sample.
    source, device : str, keyword-only
        Names for messages and outputs.
    filled : (N,) bool ndarray, keyword-only
        Samples not measured.
    notes : tuple of str, keyword-only
        Reader notes.

    """
    a = np.asarray(acc)
    _check_axes(a, source)
    if not np.isfinite(fs_hz) or fs_hz <= 0:
        raise InputError(
            "sampling rate must be positive",
            source=source,
            item="fs_hz",
            value=fs_hz,
            expected="> 0 Hz",
        )
    nan = ~np.isfinite(a).all(axis=1) if a.dtype.kind == "f" else None
    if nan is not None and nan.any():
        filled = nan if filled is None else (filled | nan)
        notes = (*notes, f"{int(nan.sum())} samples with NaN/inf marked as missing")
    return Recording(
        float(fs_hz),
        float(start_unix_s),
        int(a.shape[0]),
        source,
        device,
        lambda s, e: a[s:e],
        filled=filled,
        notes=notes,
    )


def _check_axes(a: np.ndarray, source: str) -> None:
    if a.ndim != 2 or a.shape[1] != 3:
        raise InputError(
            "acceleration must have three axes",
            source=source,
            value=f"shape {a.shape}",
            expected="an (N, 3) array: x, y, z",
        )
    if a.shape[0] == 0:
        raise InputError("recording is empty", source=source, value="0 samples")


def recording_from_times(
    time_unix_s: np.ndarray,
    acc: np.ndarray,
    *,
    fs_hz: float | None = None,
    source: str = "samples",
    device: str = "samples",
    filled: np.ndarray | None = None,
    gap_s: float = 1.0,
    notes: tuple[str, ...] = (),
) -> Recording:
    """Resample time-stamped samples onto a regular grid (linear interpolation).

    Duplicated timestamps keep their first sample (counted in the notes); backward steps in
    time are an error; gaps longer than ``gap_s`` are left missing (NaN) and marked filled.

    Parameters
    ----------
    time_unix_s : (N,) float64 ndarray
        Sample times, seconds.
    acc : (N, 3) ndarray
        Acceleration in stored units.
    fs_hz : float, optional, keyword-only
        Target rate; default: the median sampling rate rounded to an integer Hz.
    source, device : str, keyword-only
        Names for messages.
    filled : (N,) bool ndarray, keyword-only
        Input samples that were themselves filled in (for example idle sleep).
    gap_s : float, keyword-only
        Longest interval bridged by interpolation.
    notes : tuple of str, keyword-only
        Notes carried over from the reader.

    """
    t = np.asarray(time_unix_s, dtype=np.float64)
    a = np.asarray(acc, dtype=np.float32)
    _check_axes(a, source)
    if t.shape[0] != a.shape[0]:
        raise InputError(
            "time and acceleration lengths differ", source=source, value=(t.shape[0], a.shape[0])
        )
    if not np.isfinite(t).all():
        raise InputError("timestamps contain NaN", source=source, item="time")
    if a.shape[0] < 2:
        raise InputError(
            "recording has fewer than two samples", source=source, value=int(a.shape[0])
        )
    dt = np.diff(t)
    if (dt < 0).any():
        i = int(np.argmax(dt < 0))
        raise InputError(
            "timestamps go backwards",
            source=source,
            item=f"row {i + 1}",
            value=f"{t[i]!r} then {t[i + 1]!r}",
            expected="non-decreasing times",
        )
    notes_l = list(notes)
    dup = np.concatenate([[False], dt == 0])
    if dup.any():
        notes_l.append(f"{int(dup.sum())} samples with duplicated timestamps: first kept")
        log.warning("%s: %d duplicated timestamps, first sample kept", source, int(dup.sum()))
        t, a = t[~dup], a[~dup]
        filled = filled[~dup] if filled is not None else None
        dt = np.diff(t)
    if fs_hz is None:
        fs_hz = float(np.round(1.0 / np.median(dt)))
        if fs_hz <= 0:
            raise InputError(
                "cannot infer the sampling rate",
                source=source,
                expected="increasing timestamps or --fs",
            )
    n = int(np.floor((t[-1] - t[0]) * fs_hz + 1e-6)) + 1
    grid = t[0] + np.arange(n) / fs_hz
    out = np.empty((n, 3), np.float32)
    for k in range(3):
        out[:, k] = np.interp(grid, t, a[:, k])
    # grid points inside a gap longer than gap_s are missing, not interpolated
    j = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 2)
    in_gap = (t[j + 1] - t[j]) > gap_s
    in_gap &= grid > t[j] + 0.5 / fs_hz
    gmask = in_gap.copy()
    nan_in = ~np.isfinite(out).all(axis=1)
    if in_gap.any():
        out[in_gap] = np.nan
        notes_l.append(f"{in_gap.sum() / fs_hz:.1f} s of gaps longer than {gap_s} s left missing")
    if filled is not None:
        gmask |= np.interp(grid, t, filled.astype(np.float32)) > 0.5
    if nan_in.any():
        notes_l.append(f"{int(nan_in.sum())} samples with NaN marked as missing")
        gmask |= nan_in
    med = float(np.median(dt))
    if abs(med * fs_hz - 1.0) > 0.02:
        notes_l.append(f"resampled from {1 / med:.2f} Hz to {fs_hz:g} Hz")
    return Recording(
        fs_hz,
        float(t[0]),
        n,
        source,
        device,
        lambda s, e: out[s:e],
        filled=gmask if gmask.any() else None,
        notes=tuple(notes_l),
    )


# --------------------------------------------------------------------------- units


def detect_units(rec: Recording, *, tolerance: float = 0.25, max_seconds: int = 3600) -> str:
    """Tell g from m/s^2 by the median vector magnitude of still seconds.

    Up to ``max_seconds`` seconds spread over the recording are looked at; stillness is an
    SD of the magnitude below 10 % of its mean.

    Returns
    -------
    str
        ``"g"`` or ``"m/s2"``.

    Raises
    ------
    InputError
        The magnitude matches neither unit, or parts of the file disagree (mixed units).

    """
    fs = round(rec.fs_hz)
    nsec = rec.n_samples // max(fs, 1)
    if nsec < 1:
        raise InputError(
            "recording shorter than one second", source=rec.source, value=f"{rec.n_samples} samples"
        )
    n_pick = min(nsec, max_seconds)
    picks = np.unique(np.linspace(0, nsec - 1, n_pick).astype(np.int64))
    # read in up to 24 contiguous blocks to stay cheap on huge files
    groups = np.array_split(picks, min(24, len(picks)))
    meds, alls = [], []
    per_group = max(1, n_pick // max(len(groups), 1))
    for g in groups:
        s0 = int(g[0])
        s1 = min(nsec, s0 + per_group)  # one short contiguous read per group
        raw = rec.read(s0 * fs, s1 * fs) / np.float32(rec.scale_to_g)
        m = (raw.shape[0] // fs) * fs
        if m == 0:
            continue
        vm = np.sqrt((raw[:m].reshape(-1, fs, 3) ** 2).sum(axis=2))
        fin = np.isfinite(vm)
        cnt = fin.sum(axis=1)
        vz = np.where(fin, vm, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, vz.sum(axis=1) / cnt, np.nan)
            sd = np.sqrt(
                np.maximum(np.where(cnt > 0, (vz * vz).sum(axis=1) / cnt, np.nan) - mean**2, 0.0)
            )
        ok = np.isfinite(mean) & (mean > 0)
        alls.extend(mean[ok].tolist())
        still = ok & (sd < 0.1 * np.abs(mean))
        if still.sum() >= 3:
            meds.append(float(np.median(mean[still])))
    if not meds and not alls:
        raise InputError(
            "cannot detect units: no finite sample",
            source=rec.source,
            expected="declare units (--units g or --units m/s2)",
        )
    if not meds:  # nothing still (short, active recording): fall back on all seconds
        meds = [float(np.median(alls))]
        tolerance = max(tolerance, 0.5)
    meds_a = np.asarray(meds)

    def kind(v: float) -> str | None:
        if abs(v - 1.0) <= tolerance:
            return "g"
        if abs(v - G_MS2) <= tolerance * G_MS2:
            return "m/s2"
        return None

    kinds = [kind(v) for v in meds_a]
    n_g, n_ms2 = kinds.count("g"), kinds.count("m/s2")
    if n_g >= 2 and n_ms2 >= 2:
        raise InputError(
            "mixed units: parts of the file look like g and parts like m/s^2",
            source=rec.source,
            value=np.round(meds_a, 2).tolist(),
            expected="one unit throughout",
        )
    overall = kind(float(np.median(meds_a)))
    if overall is None:
        raise InputError(
            "cannot detect units: still magnitude is neither 1 g nor 9.81 m/s^2",
            source=rec.source,
            value=round(float(np.median(meds_a)), 3),
            expected="about 1 (g) or 9.81 (m/s^2); or declare --units",
        )
    return overall


# --------------------------------------------------------------------------- readers


def read_recording(
    path: str | Path,
    *,
    units: str = "auto",
    fs_hz: float | None = None,
    start_unix_s: float | None = None,
    tolerance: float = 0.25,
) -> Recording:
    """Read any supported file into a regularly sampled Recording with known units.

    Parameters
    ----------
    path : str or Path
        ``.cwa``, ``.bin``, ``.gt3x``, ``.csv`` (``.csv.gz``), ``.npy``, ``.npz``, ``.parquet``.
    units : {"auto", "g", "m/s2"}, keyword-only
        Stored units; ``auto`` detects them from still periods.
    fs_hz : float, optional, keyword-only
        Sampling rate for files without timestamps (overrides the file's rate otherwise).
    start_unix_s : float, optional, keyword-only
        Start time for files without timestamps.
    tolerance : float, keyword-only
        Unit-detection tolerance.

    Returns
    -------
    Recording

    Raises
    ------
    InputError
        Missing, empty, truncated beyond use, or unreadable file; unknown or mixed units.

    """
    p = Path(path)
    src = str(p)
    if not p.exists():
        raise InputError("file not found", source=src)
    if p.stat().st_size == 0:
        raise InputError("file is empty", source=src, value="0 bytes")
    name = p.name.lower()
    if name.endswith(".cwa"):
        rec = _read_cwa(p)
    elif name.endswith(".bin"):
        rec = _read_bin(p)
    elif name.endswith(".gt3x"):
        rec = _read_gt3x(p)
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        rec = _read_csv(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    elif name.endswith(".npy"):
        rec = _read_npy(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    elif name.endswith(".npz"):
        rec = _read_npz(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    elif name.endswith(".parquet"):
        rec = _read_parquet(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    else:
        raise InputError(
            "unknown file type",
            source=src,
            value=p.suffix,
            expected=".cwa, .bin, .gt3x, .csv, .npy, .npz or .parquet",
        )
    if units == "auto":
        units = detect_units(rec, tolerance=tolerance)
    return rec.with_units(units)


_EAGER_SAMPLES = 5_000_000


def _lazy_regular(
    *,
    source: str,
    device: str,
    fs: float,
    unit_start: np.ndarray,
    anchor_idx: np.ndarray,
    anchor_t: np.ndarray,
    times: Callable[[int, int], np.ndarray],
    decode: Callable[[int, int], np.ndarray],
    gap_s: float,
    notes: tuple[str, ...],
) -> Recording:
    """Make a Recording that decodes only the blocks/pages each chunk needs, resampled.

    ``unit_start`` holds the first sample index of each block (and the total at the end);
    ``anchor_idx``/``anchor_t`` map sample index to time for locating blocks; ``times``
    gives exact sample times and ``decode`` the samples of a block range.
    """
    t_first = float(anchor_t[0])
    n = int(np.floor((float(anchor_t[-1]) - t_first) * fs))
    total = int(unit_start[-1])
    n_units = unit_start.size - 1

    def load(s: int, e: int) -> np.ndarray:
        grid = t_first + np.arange(s, e, dtype=np.float64) / fs
        pos = np.interp(grid[[0, -1]], anchor_t, anchor_idx)
        i0 = max(0, int(np.floor(pos[0])) - 1)
        i1 = min(total, int(np.ceil(pos[1])) + 2)
        b0 = max(0, int(np.searchsorted(unit_start, i0, side="right")) - 1)
        b1 = min(n_units, int(np.searchsorted(unit_start, i1, side="left")))
        acc = decode(b0, b1)
        t = times(int(unit_start[b0]), int(unit_start[b1]))
        out = np.empty((grid.size, 3), np.float32)
        for k in range(3):
            out[:, k] = np.interp(grid, t, acc[:, k])
        j = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, max(t.size - 2, 0))
        if t.size > 1:  # inside a recording gap: missing (as recording_from_times does)
            out[((t[j + 1] - t[j]) > gap_s) & (grid > t[j] + 0.5 / fs)] = np.nan
        return out

    return Recording(
        fs, t_first, n, source, device, load, notes=(*notes, "decoded and resampled chunk by chunk")
    )


def _read_cwa(p: Path, *, gap_s: float = 1.0) -> Recording:
    from spinestab.wearable._cwa import decode_blocks, decode_cwa, index_cwa

    mm = np.memmap(p, dtype=np.uint8, mode="r")
    ix = index_cwa(mm, source=str(p), gap_s=gap_s)
    notes = (f"{ix.n_bad_blocks} CWA blocks with bad checksum skipped",) if ix.n_bad_blocks else ()
    if ix.n_samples <= _EAGER_SAMPLES:
        d = decode_cwa(mm, source=str(p))
        return recording_from_times(
            d.time_unix_s,
            d.acc_g,
            fs_hz=processing_rate(d.fs_hz),
            source=str(p),
            device=d.device,
            gap_s=gap_s,
            notes=notes,
        )
    # multi-day file: decode only the blocks a chunk needs, resample them onto the grid
    return _lazy_regular(
        source=str(p),
        device=ix.device,
        fs=processing_rate(ix.fs_hz),
        unit_start=ix.sample_start,
        anchor_idx=ix.anchor_idx,
        anchor_t=ix.anchor_t,
        times=ix.times,
        decode=lambda b0, b1: decode_blocks(ix, b0, b1, source=str(p))[0],
        gap_s=gap_s,
        notes=notes,
    )


def _read_bin(p: Path, *, gap_s: float = 1.0) -> Recording:
    import mmap

    from spinestab.wearable._geneactiv import decode_pages, index_geneactiv

    with open(p, "rb") as f:
        raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    ix = index_geneactiv(raw, source=str(p))
    notes: tuple[str, ...] = ()
    if ix.n_pages < ix.n_pages_header:
        notes = (
            f"truncated: header announces {ix.n_pages_header} pages, "
            f"{ix.n_pages} complete pages read",
        )
    per = 300
    unit_start = np.arange(ix.n_pages + 1, dtype=np.int64) * per

    def times(i0: int, i1: int) -> np.ndarray:
        i = np.arange(i0, i1)
        return ix.page_time[i // per] + (i % per) / ix.fs_hz

    def decode(b0: int, b1: int) -> np.ndarray:
        return decode_pages(ix, b0, b1, source=str(p))[0]

    if ix.n_pages * per <= _EAGER_SAMPLES:
        return recording_from_times(
            times(0, ix.n_pages * per),
            decode(0, ix.n_pages),
            fs_hz=processing_rate(ix.fs_hz),
            source=str(p),
            device="GENEActiv",
            gap_s=gap_s,
            notes=notes,
        )
    anchor_t = np.append(ix.page_time, ix.page_time[-1] + per / ix.fs_hz)
    return _lazy_regular(
        source=str(p),
        device="GENEActiv",
        fs=processing_rate(ix.fs_hz),
        unit_start=unit_start,
        anchor_idx=unit_start.astype(np.float64),
        anchor_t=anchor_t,
        times=times,
        decode=decode,
        gap_s=gap_s,
        notes=notes,
    )


def _read_gt3x(p: Path) -> Recording:
    from spinestab.wearable._gt3x import decode_gt3x

    d = decode_gt3x(p.read_bytes(), source=str(p))
    notes = []
    if d.filled.any():
        notes.append(f"{d.filled.sum() / d.fs_hz:.0f} s of idle sleep filled as still and marked")
    if d.truncated:
        notes.append("truncated GT3X file: read up to the last complete record")
    filled = d.filled if d.filled.any() else None
    return recording_from_array(
        d.acc_g,
        fs_hz=d.fs_hz,
        start_unix_s=float(d.time_unix_s[0]),
        source=str(p),
        device=f"ActiGraph {d.device}",
        filled=filled,
        notes=tuple(notes),
    )


def _meta_for(p: Path) -> dict[str, object]:
    for cand in (p.with_suffix(".json"), p.parent / "meta.json"):
        if cand.exists():
            return json.loads(cand.read_text())
    return {}


def parse_time(value: object, source: str) -> float:
    """Parse ISO 8601 (with or without offset) or unix seconds into unix seconds.

    A time without an offset is taken as it stands (the device clock, read as UTC).
    """
    import datetime as dt

    if isinstance(value, int | float):
        return float(value)
    try:
        t = dt.datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(
            "cannot read time",
            source=source,
            value=value,
            expected="ISO 8601 (2024-01-01T08:00:00[+01:00]) or unix seconds",
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _need_fs(fs_hz: float | None, meta: dict[str, object], source: str) -> float:
    fs = fs_hz if fs_hz is not None else meta.get("fs", meta.get("fs_hz"))
    if fs is None:
        raise InputError(
            "sampling rate unknown for a file without timestamps",
            source=source,
            expected="--fs HZ, or a meta.json with 'fs' beside the file",
        )
    return float(fs)  # type: ignore[arg-type]


def _read_npy(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    src = str(p)
    try:
        arr = np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise InputError("not a readable .npy file", source=src) from exc
    _check_axes(arr, src)
    meta = _meta_for(p)
    fs = _need_fs(fs_hz, meta, src)
    start = start_unix_s if start_unix_s is not None else parse_time(meta.get("start", 0.0), src)
    offset = int(arr.offset)
    dtype = arr.dtype
    n = int(arr.shape[0])
    fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)
    del arr
    if fortran:
        data = np.load(p)
        return recording_from_array(data, fs_hz=fs, start_unix_s=start, source=src, device="npy")

    def load(s: int, e: int, out: np.ndarray | None) -> np.ndarray:
        # plain reads (not a memory map) keep the resident set bounded; a reused float32
        # buffer avoids touching fresh memory on every chunk
        with open(p, "rb") as f:
            f.seek(offset + s * 3 * dtype.itemsize)
            if out is not None and dtype == np.float32 and out.shape[0] >= e - s:
                view = out[: e - s]
                nread = f.readinto(memoryview(view.reshape(-1)).cast("B"))
                return view[: nread // (3 * dtype.itemsize)]
            return np.fromfile(f, dtype=dtype, count=(e - s) * 3).reshape(-1, 3)

    # NaN scan is done per chunk downstream (features mark NaN seconds as missing)
    return Recording(fs, float(start), n, src, "npy", load, _buffered=True)


def _read_npz(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    src = str(p)
    z = np.load(p, allow_pickle=False)
    key = next((k for k in ("accel", "acc", "acceleration", "xyz") if k in z.files), None)
    if key is None:
        raise InputError(
            "no acceleration array in .npz",
            source=src,
            value=z.files,
            expected="'accel' (and 'time' or 'fs')",
        )
    acc = z[key]
    if "time" in z.files:
        return recording_from_times(z["time"], acc, fs_hz=fs_hz, source=src, device="npz")
    meta = _meta_for(p)
    if "fs" in z.files and fs_hz is None:
        fs_hz = float(np.ravel(z["fs"])[0])
    fs = _need_fs(fs_hz, meta, src)
    return recording_from_array(
        acc, fs_hz=fs, start_unix_s=start_unix_s or 0.0, source=src, device="npz"
    )


def _find_axes(cols: list[str], source: str) -> list[str]:
    low = {c.strip().lower(): c for c in cols}
    for pat in _AXIS_PATTERNS:
        if all(k in low for k in pat):
            return [low[k] for k in pat]
    two = [c for c in cols if c.strip().lower() in ("x", "y", "acc_x", "acc_y")]
    raise InputError(
        "acceleration columns not found" + (" (only two axes?)" if len(two) == 2 else ""),
        source=source,
        value=cols[:12],
        expected="x, y, z (or acc_x/acc_y/acc_z, ...)",
    )


def _frame_to_recording(
    df: object, *, source: str, fs_hz: float | None, start_unix_s: float | None, device: str
) -> Recording:
    pd = require("pandas", extra="wearable", feature="reading CSV/Parquet recordings")
    cols = [str(c) for c in df.columns]  # type: ignore[attr-defined]
    axes = _find_axes(cols, source)
    acc = df[axes].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)  # type: ignore[index]
    bad = ~np.isfinite(acc).all(axis=1)
    low = {c.strip().lower(): c for c in cols}
    tcol = next((low[n] for n in _TIME_NAMES if n in low), None)
    notes: tuple[str, ...] = ()
    if bad.all():
        raise InputError("no numeric acceleration values", source=source, item=",".join(axes))
    if tcol is None:
        fs = _need_fs(fs_hz, {}, source)
        return recording_from_array(
            acc, fs_hz=fs, start_unix_s=start_unix_s or 0.0, source=source, device=device
        )
    t = _to_unix(df[tcol], source, tcol)  # type: ignore[index]
    if bad.any():
        notes = (f"{int(bad.sum())} rows with non-numeric acceleration marked missing",)
    return recording_from_times(
        t,
        acc,
        fs_hz=fs_hz,
        source=source,
        device=device,
        filled=bad if bad.any() else None,
        notes=notes,
    )


def _to_unix(col: object, source: str, name: str) -> np.ndarray:
    pd = require("pandas", extra="wearable", feature="reading CSV timestamps")
    s = col
    if pd.api.types.is_numeric_dtype(s):
        v = np.asarray(s, np.float64)
        med = np.nanmedian(np.abs(v))
        if med > 1e14:  # microseconds
            return v / 1e6
        if med > 1e11:  # milliseconds
            return v / 1e3
        return v  # unix seconds (or seconds from an unknown start)
    try:
        ts = pd.to_datetime(s, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InputError(
            "cannot read timestamps",
            source=source,
            item=name,
            value=str(s.iloc[0]),
            expected="ISO 8601 or unix seconds",
        ) from exc
    if ts.isna().any():
        raise InputError(
            "unreadable timestamps", source=source, item=name, value=int(ts.isna().sum())
        )
    return (
        (ts.astype("int64").to_numpy() / 1e9)
        if ts.dtype.unit == "ns"
        else (ts.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9)
    )


def _actilife_header(lines: list[str], source: str) -> tuple[float, float | None, int]:
    head = "\n".join(lines)
    m_ep = re.search(r"Epoch Period \(hh:mm:ss\)\s*(\d+):(\d+):(\d+)", head)
    if m_ep and any(int(g) for g in m_ep.groups()):
        raise InputError(
            "ActiLife CSV holds epoch counts, not raw acceleration",
            source=source,
            item="Epoch Period",
            value=":".join(m_ep.groups()),
            expected="a raw-data export (Epoch Period 00:00:00)",
        )
    m_st = re.search(r"Start Time\s*(\d+):(\d+):(\d+)", head)
    m_sd = re.search(r"Start Date\s*(\d+)/(\d+)/(\d+)", head)
    m_fmt = re.search(r"date format\s*(\S+)", head)
    m_fs = re.search(r"at\s+(\d+(?:\.\d+)?)\s*Hz", head)
    if not (m_st and m_sd):
        raise InputError("ActiLife CSV header lacks Start Time/Start Date", source=source)
    a, b, year = (int(g) for g in m_sd.groups())
    fmt = m_fmt.group(1).lower() if m_fmt else "m/d/yyyy"
    month, day = (a, b) if fmt.startswith("m") else (b, a)
    h, mi, se = (int(g) for g in m_st.groups())
    start = float(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "s").astype(np.int64))
    start += h * 3600 + mi * 60 + se
    fs = float(m_fs.group(1)) if m_fs else None
    return start, fs, 10


def _read_csv(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    pd = require("pandas", extra="wearable", feature="reading CSV recordings")
    src = str(p)
    with (
        open(p, encoding="utf-8", errors="replace")
        if not p.name.endswith(".gz")
        else __import__("gzip").open(p, "rt", encoding="utf-8", errors="replace")
    ) as f:
        first = [f.readline() for _ in range(11)]
    if not any(line.strip() for line in first):
        raise InputError("CSV file has no rows", source=src)
    device = "csv"
    skip = 0
    if first[0].startswith("-") and "ActiLife" in first[0]:
        start, fs_file, skip = _actilife_header(first[:10], src)
        start_unix_s = start if start_unix_s is None else start_unix_s
        fs_hz = fs_hz or fs_file
        device = "ActiLife CSV"
    head_cells = [c.strip() for c in first[skip].split(",")]
    numeric_head = all(_is_number(c) for c in head_cells if c)
    try:
        if numeric_head:
            df = pd.read_csv(p, header=None, skiprows=skip, engine="c")
            ncol = df.shape[1]
            if ncol < 3:
                raise InputError(
                    "CSV has fewer than three columns",
                    source=src,
                    value=ncol,
                    expected="time, x, y, z or x, y, z",
                )
            # headerless: (time, x, y, z, ...) when the first column grows like time
            c0 = df.iloc[:, 0].to_numpy(np.float64)
            looks_time = (
                ncol >= 4
                and np.all(np.diff(c0[: min(len(c0), 1000)]) >= 0)
                and (np.median(np.abs(c0)) > 1e6)
            )
            names = ["time", "x", "y", "z"] if looks_time else ["x", "y", "z"]
            df.columns = names + [f"extra{i}" for i in range(ncol - len(names))]
        else:
            df = pd.read_csv(p, skiprows=skip, engine="c")
    except pd.errors.EmptyDataError as exc:
        raise InputError("CSV file has no rows", source=src) from exc
    if len(df) == 0:
        raise InputError("CSV file has no data rows", source=src)
    return _frame_to_recording(
        df, source=src, fs_hz=fs_hz, start_unix_s=start_unix_s, device=device
    )


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _read_parquet(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    pd = require("pandas", extra="wearable", feature="reading Parquet recordings")
    require("pyarrow", extra="wearable", feature="reading Parquet recordings")
    df = pd.read_parquet(p)
    if df.index.name is not None and df.index.name.lower() in _TIME_NAMES:
        df = df.reset_index()
    return _frame_to_recording(
        df, source=str(p), fs_hz=fs_hz, start_unix_s=start_unix_s, device="parquet"
    )
