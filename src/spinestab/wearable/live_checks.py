"""Checks of a live stream's batches before the engine takes them (issue 13.3).

Stream names, the options of a new stream, units (g against m/s^2, told as the offline
reader tells them), device time going backwards and gaps too long to fill.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from spinestab.errors import ConflictError, InputError
from spinestab.wearable.orientation import Orientation
from spinestab.wearable.recording import G_MS2
from spinestab.wearable.stream_batch import StreamBatch

__all__ = [
    "MAX_GAP_S",
    "UNITS",
    "StreamOptions",
    "check_batch",
    "check_stream_name",
    "detect_batch_units",
]

#: Units a stream may declare and their factor to g.
UNITS: dict[str, float] = {"g": 1.0, "m/s2": 1.0 / G_MS2}
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: As the engine: a longer gap needs a new stream.
MAX_GAP_S = 3600.0


def check_stream_name(name: str) -> str:
    """Return ``name`` if it is a valid stream name (1-64 of ``A-Z a-z 0-9 . _ -``).

    Raises
    ------
    InputError
        For any other name.

    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            "stream name not allowed",
            item="stream",
            value=str(name)[:80],
            expected="1-64 letters, digits, '.', '_' or '-'",
        )
    return name


@dataclass(frozen=True)
class StreamOptions:
    """How a new stream is set up (taken from its first batch's request).

    Attributes
    ----------
    units : {"auto", "g", "m/s2"}
        Units of the raw samples; ``auto`` tells them from the first batch's magnitude.
    utc_offset_h : float
        The patient's local clock offset (quiet hours are local).
    standing_first_s : int
        Seconds the patient stands upright at the start (the upright reference), unless an
        orientation is known.
    orientation : Orientation, optional
        The sensor's upright and forward directions as worn (an earlier recording's).

    """

    units: str = "auto"
    utc_offset_h: float = 0.0
    standing_first_s: int = 10
    orientation: Orientation | None = None

    def __post_init__(self) -> None:
        """Check the options."""
        if self.units not in ("auto", *UNITS):
            raise InputError(
                "unknown units", item="units", value=self.units, expected="auto, g or m/s2"
            )
        if not (math.isfinite(self.utc_offset_h) and -14.0 <= self.utc_offset_h <= 14.0):
            raise InputError(
                "UTC offset out of range",
                item="utc_offset_min",
                value=self.utc_offset_h * 60,
                expected="-840 to 840 minutes",
            )


def detect_batch_units(samples: np.ndarray, fs_hz: int) -> str | None:
    """Tell g from m/s^2 in a batch, as the offline reader does; None when it cannot tell.

    :func:`spinestab.wearable.io.detect_units` on the batch's seconds (the median magnitude
    of still seconds, else of all seconds; 1 g against 9.81 m/s^2).
    """
    from spinestab.wearable.io import detect_units
    from spinestab.wearable.recording import recording_from_array

    fin = np.isfinite(samples).all(axis=1)
    if fin.sum() < fs_hz:
        return None
    try:
        return detect_units(recording_from_array(samples[fin], fs_hz=fs_hz))
    except InputError:
        return None


def _unit_words(units: str) -> str:
    return "m/s^2" if units == "m/s2" else "g"


def check_batch(
    batch: StreamBatch, *, units: str, next_seq: int, end_unix_s: float
) -> tuple[float, str | None]:
    """Check a batch against its stream before the engine takes it.

    Parameters
    ----------
    batch : StreamBatch
        The batch.
    units : str
        The stream's units (``g`` or ``m/s2``).
    next_seq, end_unix_s : int, float
        Where the stream stands (:meth:`LiveEngine.position`).

    Returns
    -------
    gap_s : float
        Device time missing before the batch (in-order batches; else 0).
    seen_units : str or None
        Units the samples look like.

    Raises
    ------
    InputError
        Samples in the other unit (1 g read as m/s^2 or 9.81 m/s^2 as g), or a gap over an
        hour (a new stream is needed).
    ConflictError
        Device time going backwards (the batch starts before samples already taken).

    """
    gap = 0.0
    seen = None
    if batch.samples is not None:
        seen = detect_batch_units(batch.samples, batch.fs_hz)
        if seen is not None and seen != units:
            raise InputError(
                f"samples look like {_unit_words(seen)}, but the stream is in {_unit_words(units)}",
                item="samples",
                expected=f"samples in {_unit_words(units)} (a new stream for other units)",
            )
    elif batch.features is not None:
        g = batch.features.g
        ok = ~batch.features.missing & np.isfinite(g).all(axis=1)
        if ok.any():
            mag = float(np.median(np.linalg.norm(g[ok], axis=1)))
            if abs(mag - G_MS2) <= 0.25 * G_MS2:
                raise InputError(
                    "features look like m/s^2; they must be in g",
                    item="features.g",
                    value=round(mag, 2),
                    expected="about 1 (g)",
                )
    t = batch.device_time_unix_s
    if t is not None and batch.seq >= next_seq:
        half = 0.5 / max(batch.fs_hz, 1)
        if t < end_unix_s - half:
            raise ConflictError(
                "device time goes backwards: the batch starts before samples already taken",
                item="device_time",
                value=round(t, 3),
                expected=f">= {end_unix_s:.3f} (the end of batch {next_seq - 1})",
            )
        if batch.seq == next_seq:
            gap = max(0.0, t - end_unix_s)
            if gap > MAX_GAP_S:
                raise InputError(
                    "gap since the last batch over an hour: start a new stream",
                    item="device_time",
                    value=f"{gap:.0f} s",
                    expected=f"at most {MAX_GAP_S:.0f} s, or another stream name",
                )
    return gap, seen
