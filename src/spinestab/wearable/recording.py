"""The regularly sampled :class:`Recording` and the ways to build one.

A Recording reads its samples on demand (``read``/``chunks``), so multi-day files are
processed chunk by chunk; constructors wrap in-memory arrays, resample time-stamped samples
onto a regular grid, or decode device blocks lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = [
    "G_MS2",
    "Recording",
    "check_axes",
    "check_span",
    "lazy_regular",
    "need_fs",
    "processing_rate",
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
    idle : (n_samples,) bool ndarray or None
        Samples the device did not measure because it slept while still (ActiGraph idle
        sleep), filled with its last reading: still, not missing, and marked.
    filled : (n_samples,) bool ndarray or None
        Samples that were not measured (gaps, idle sleep, NaN runs); None when all were.
    notes : tuple of str
        What the reader noticed (resampling, gaps, truncation ...).
    temperature : (times, degrees C) pair of 1-D ndarrays or None
        The device's temperature channel where it records one (Axivity, GENEActiv): one
        reading per block or page, at its device time; used for non-wear.

    """

    fs_hz: float
    start_unix_s: float
    n_samples: int
    source: str
    device: str
    _loader: Callable[..., np.ndarray] = field(repr=False)  # (start, stop[, out])
    scale_to_g: float = 1.0
    units: str = "g"
    filled: np.ndarray | None = field(default=None, repr=False)
    idle: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    _buffered: bool = field(default=False, repr=False)
    temperature: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

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
        check_choice("units", units, ("g", "m/s2"), message="unknown units", expected="g or m/s2")
        scale = 1.0 if units == "g" else 1.0 / G_MS2
        return replace(self, scale_to_g=scale, units=units)


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
    check_axes(a, source)
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


def _spread_coarse_times(t: np.ndarray) -> np.ndarray:
    """Give the samples of each run of equal time stamps evenly spaced times.

    A run of ``L`` samples stamped ``t_s`` before the next stamp ``t_n`` gets
    ``t_s + k (t_n - t_s) / L``; the last run uses the median step between stamps.
    """
    start = np.flatnonzero(np.concatenate([[True], np.diff(t) != 0]))
    length = np.diff(np.concatenate([start, [t.size]]))
    stamps = t[start]
    step = np.diff(stamps)
    last = float(np.median(step)) if step.size else 1.0
    step = np.concatenate([step, [last]])
    k = np.arange(t.size) - np.repeat(start, length)
    return np.repeat(stamps, length) + k * np.repeat(step / length, length)


def _iso(t_unix_s: float) -> str:
    """Return a time stamp as ISO 8601 (UTC, milliseconds) for messages."""
    return str(np.datetime64(round(float(t_unix_s) * 1000), "ms"))


def check_axes(a: np.ndarray, source: str) -> None:
    """Fail unless ``a`` is a non-empty (N, 3) array."""
    if a.ndim != 2 or a.shape[1] != 3:
        raise InputError(
            "acceleration must have three axes",
            source=source,
            value=f"shape {a.shape}",
            expected="an (N, 3) array: x, y, z",
        )
    if a.shape[0] == 0:
        raise InputError("recording is empty", source=source, value="0 samples")


#: A regular grid may span at most this many times the time its samples cover, and more
#: than a day only then [D]: beyond it the grid would be mostly gap (a damaged time stamp).
MAX_GAP_RATIO = 10.0


def check_span(span_s: float, held_s: float, *, source: str) -> None:
    """Refuse a time span far beyond what the samples cover, before a grid is allocated.

    Parameters
    ----------
    span_s : float
        First to last time stamp, seconds.
    held_s : float
        Time the samples cover at their own rate (samples / rate), seconds.
    source : str
        File name for the message.

    Raises
    ------
    InputError
        When ``span_s`` exceeds ``MAX_GAP_RATIO * held_s`` and one day.

    """
    if span_s > max(MAX_GAP_RATIO * held_s, 86400.0):
        raise InputError(
            "time stamps span far more time than the samples cover: the file would be "
            "mostly gap (a damaged time stamp?)",
            source=source,
            value=f"{span_s / 86400.0:.1f} days spanned by {held_s / 3600.0:.1f} h of samples",
            expected=f"a span of at most {MAX_GAP_RATIO:g} times the recorded time",
        )


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
    check_axes(a, source)
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
        clock_change = abs(abs(float(dt[i])) - 3600.0) < 60.0
        dst = " by an hour (a daylight-saving clock change in local times?)"
        raise InputError(
            "timestamps go backwards" + (dst if clock_change else ""),
            source=source,
            item=f"row {i + 1}",
            value=f"{_iso(t[i])} then {_iso(t[i + 1])}",
            expected="non-decreasing times"
            + ("; give times in UTC or ISO 8601 with their offset" if clock_change else ""),
        )
    notes_l = list(notes)
    dup = np.concatenate([[False], dt == 0])
    if dup.mean() > 0.2:
        # time stamps coarser than the samples (whole seconds, truncated milliseconds):
        # spread each run of equal stamps evenly up to the next stamp, never drop samples
        t = _spread_coarse_times(t)
        notes_l.append(
            f"time stamps coarser than the samples ({int(dup.sum())} repeats): samples spread "
            "evenly between them"
        )
        log.warning("%s: coarse time stamps, samples spread evenly between them", source)
        dt = np.diff(t)
        dup = np.concatenate([[False], dt == 0])
    if dup.any():
        notes_l.append(f"{int(dup.sum())} samples with duplicated timestamps: first kept")
        log.warning("%s: %d duplicated timestamps, first sample kept", source, int(dup.sum()))
        t, a = t[~dup], a[~dup]
        filled = filled[~dup] if filled is not None else None
        dt = np.diff(t)
    if fs_hz is not None and not (np.isfinite(fs_hz) and fs_hz > 0):
        raise InputError(
            "sampling rate must be a positive number",
            source=source,
            item="fs_hz",
            value=fs_hz,
            expected="> 0 Hz",
        )
    if fs_hz is None:
        # the median rate, to a whole Hz where it is one (jittered time stamps), else to
        # 0.01 Hz (12.5 Hz devices must not become 12 or 13 Hz)
        raw_fs = 1.0 / float(np.median(dt)) if np.median(dt) > 0 else 0.0
        whole = float(np.round(raw_fs))
        fs_hz = whole if abs(raw_fs - whole) <= 0.02 * max(whole, 1.0) else round(raw_fs, 2)
        if fs_hz <= 0:
            raise InputError(
                "cannot infer the sampling rate",
                source=source,
                expected="increasing timestamps or --fs",
            )
    # a last sample within 5 % of a sample period of the grid counts (float time stamps;
    # milliseconds cut off at 30 or 60 Hz)
    n = int(np.floor((t[-1] - t[0]) * fs_hz + 5e-2)) + 1
    big = float(dt.max()) if dt.size else 0.0
    if n > 10 * t.size and big > 86400.0:
        # a clock jump (or wrong time unit) would make a grid of mostly empty days
        i = int(np.argmax(dt))
        raise InputError(
            "timestamps jump by more than a day and the file would be mostly gap",
            source=source,
            item=f"row {i + 1}",
            value=f"{big / 86400.0:.1f} days between {_iso(t[i])} and {_iso(t[i + 1])}",
            expected="a continuous recording (check the device clock and the time unit)",
        )
    # many smaller jumps can add up to the same: checked before the grid is allocated
    check_span(float(t[-1] - t[0]), t.size * float(np.median(dt)), source=source)
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


def lazy_regular(
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
    held_s: float,
) -> Recording:
    """Make a Recording that decodes only the blocks/pages each chunk needs, resampled.

    ``unit_start`` holds the first sample index of each block (and the total at the end);
    ``anchor_idx``/``anchor_t`` map sample index to time for locating blocks; ``times``
    gives exact sample times and ``decode`` the samples of a block range. ``held_s`` is the
    time the samples cover at their own rate: a span far beyond it is refused
    (:func:`check_span`).
    """
    t_first = float(anchor_t[0])
    check_span(float(anchor_t[-1]) - t_first, held_s, source=source)
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


def need_fs(fs_hz: float | None, meta: dict[str, object], source: str) -> float:
    """Return the declared sampling rate, or the one in ``meta``; fail if neither is known."""
    fs = fs_hz if fs_hz is not None else meta.get("fs", meta.get("fs_hz"))
    if fs is None:
        raise InputError(
            "sampling rate unknown for a file without timestamps",
            source=source,
            expected="--fs HZ, or a meta.json with 'fs' beside the file",
        )
    try:
        value = float(fs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise InputError(
            "sampling rate must be a positive number", source=source, value=fs, expected="> 0 Hz"
        )
    return value
