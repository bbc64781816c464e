"""Non-wear: still runs that keep their orientation, decided with both sensors together.

van Hees et al. call a sensor not worn when it has been still for an hour (per-axis SD under
13 mg, 60-min windows; van Hees et al. 2011, 2013 [R]). Taken alone that rule eats exactly
what this product measures: a sleeper lying still between turns and a person sitting still
for an hour or more. What a worn sensor shows and a sensor on a table does not:

* **its orientation changes.** A still run is non-wear only while its mean gravity
  direction stays put: a turn in bed or standing up splits it, however short the turn (even
  one that falls between two seconds' windows and raises no second's SD). The limit is
  van Hees' second criterion, a value range under 50 mg per axis (GGIR ``racriter = 0.05``
  g [R]), expressed as the rotation that moves an axis by 50 mg: ``asin(0.05)`` = 2.87 deg
  (:attr:`~spinestab.wearable.config.WearableConfig.nonwear_turn_deg`).
* **the temperature**, where the device records one (Axivity, GENEActiv): a sensor taken
  off cools towards the room, a worn one stays near skin temperature. In a still run,
  non-wear starts where DETACH's start criteria hold for the next 5 minutes (Vert et al.
  2022, BMC Med Res Methodol 22:147: the smoothed temperature under 26 deg C, or under
  30 deg C and falling faster than 0.2 deg C per minute [V]); a run that stays skin warm
  (30 deg C and more) is worn however long it lasts: a sleeper lying still under a blanket
  is not taken off, a sensor left on a table for 20 minutes is. Without temperature the
  still hour decides.
* **the other sensor.** With a trunk and a thigh sensor, a still thigh is worn while the
  trunk sensor is worn (it breathes, fidgets and turns with the person) and shows no gait:
  the thigh of a person sitting still for two hours is still, the person is not gone. A
  thigh that stays still while the trunk walks is not worn. A pair on a table is still in
  every sense: both are non-wear by their own rule [D].
Non-wear is flagged, never deleted. Detectors are interchangeable classes, as the
sit-to-stand ones (:mod:`spinestab.wearable.transfers`); ``cfg.nonwear_method`` names one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable._runs import cover, runs
from spinestab.wearable.calibrate import still_mask
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.orientation import dot3, unit_rows

#: Seconds of continuous trunk gait that show a person walking: shorter runs are not taken
#: as evidence, a few seconds of fidgeting can pass for steps [D].
WALK_EVIDENCE_S = 10

__all__ = [
    "NONWEAR_DETECTORS",
    "NonwearDetector",
    "NonwearResult",
    "OrientationNonwear",
    "SensorSeconds",
    "StillRunNonwear",
    "nonwear_detector",
    "orientation_segments",
    "segment_lengths",
]


@dataclass(frozen=True)
class SensorSeconds:
    """Per-second features of one sensor, as non-wear detection sees them.

    Attributes
    ----------
    g : (S, 3) ndarray
        Mean acceleration per second (gravity direction), any scale.
    sd : (S,) ndarray
        Total acceleration SD per second, g.
    missing : (S,) bool ndarray
        Seconds without data (always non-wear).
    temperature_c : (S,) ndarray or None
        Device temperature per second, where the device records one.

    """

    g: np.ndarray
    sd: np.ndarray
    missing: np.ndarray
    temperature_c: np.ndarray | None = None


@dataclass(frozen=True)
class NonwearResult:
    """Non-wear per second of each sensor.

    Attributes
    ----------
    trunk, thigh : (S,) bool ndarrays (thigh None without a thigh sensor)
        Not worn (or no data).
    method : str
        The detector's name.

    """

    trunk: np.ndarray
    thigh: np.ndarray | None
    method: str


def orientation_segments(
    g: np.ndarray, still: np.ndarray, *, turn_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split the still runs where the gravity direction leaves its run's first direction.

    A segment starts at a still second and ends before the first later second whose
    direction lies more than ``turn_deg`` from the segment's first direction (or at the end
    of the run); the second that left starts the next segment.

    Parameters
    ----------
    g : (S, 3) ndarray
        Mean acceleration per second.
    still : (S,) bool ndarray
        Still seconds.
    turn_deg : float
        Largest change of direction within a segment, degrees.

    Returns
    -------
    starts, stops : (K,) int ndarrays
        Segment bounds (``stops`` exclusive), sorted.

    """
    u = unit_rows(np.asarray(g, np.float64))
    ok = np.asarray(still, bool) & np.isfinite(u).all(axis=1)
    cos_lim = np.cos(np.radians(turn_deg))
    st, en = runs(ok)
    out_s: list[int] = []
    out_e: list[int] = []
    for a, b in zip(st.tolist(), en.tolist(), strict=True):
        s = a
        while s < b:
            # exponential search for the first second that leaves: a loop per segment,
            # never per second
            anchor, lo, width, cut = u[s], s + 1, 64, b
            while lo < b:
                hi = min(b, lo + width)
                far = np.flatnonzero(dot3(u[lo:hi], anchor) < cos_lim)
                if far.size:
                    cut = lo + int(far[0])
                    break
                lo, width = hi, width * 2
            out_s.append(s)
            out_e.append(cut)
            s = cut
    return np.asarray(out_s, np.int64), np.asarray(out_e, np.int64)


def segment_lengths(
    g: np.ndarray,
    still: np.ndarray,
    *,
    carry: int,
    anchor: np.ndarray | None,
    turn_deg: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Length of the orientation-stable still segment up to each second, chunk by chunk.

    The streaming form of :func:`orientation_segments` (segments depend only on the past):
    ``carry`` and ``anchor`` continue the segment open at the end of the previous chunk
    (``carry`` seconds long, starting at direction ``anchor``).

    Returns
    -------
    lengths : (S,) int64 ndarray
        0 for seconds that are not still.
    anchor : (3,) ndarray or None
        Reading of the first second of the segment still open after the chunk (None if
        none is).

    """
    g = np.asarray(g, np.float64)
    still = np.asarray(still, bool)
    lead = carry > 0 and anchor is not None and still.size > 0 and bool(still[0])
    if lead:  # the open segment's first direction, as a pseudo-second before the chunk
        g = np.concatenate([np.asarray(anchor, np.float64)[None, :], g])
        still = np.concatenate([[True], still])
    st, en = orientation_segments(g, still, turn_deg=turn_deg)
    lengths = np.zeros(still.size, np.int64)
    if st.size:
        idx = np.arange(still.size)
        seg = np.maximum(np.searchsorted(st, idx, side="right") - 1, 0)
        inside = (idx >= st[seg]) & (idx < en[seg])
        lengths[inside] = idx[inside] - st[seg][inside] + 1
    if lead and st.size and st[0] == 0:
        lengths[: en[0]] += carry - 1  # the pseudo-second stands for the carried ones
    new_anchor = None
    if still.size and still[-1] and st.size and en[-1] == still.size:
        new_anchor = g[st[-1]].copy()  # the reading itself: normalised again, same bits
    elif not still.size:
        new_anchor = anchor
    if lead:
        lengths = lengths[1:]
    return lengths, new_anchor


def _smoothed_temperature(temp: np.ndarray) -> np.ndarray:
    """DETACH's smoothing: 2nd-order Butterworth low-pass at 0.005 Hz, zero phase [V]."""
    t = np.asarray(temp, np.float64)
    ok = np.isfinite(t)
    if not ok.any():
        return t
    t = np.interp(np.arange(t.size), np.flatnonzero(ok), t[ok])  # gaps bridged for the filter
    from scipy.signal import butter, filtfilt

    b, a = butter(2, 0.005 / 0.5)  # per-second series: Nyquist 0.5 Hz
    if t.size <= 3 * max(len(a), len(b)):
        return t
    return np.asarray(filtfilt(b, a, t))


def _temperature_off(
    sensor: SensorSeconds, st: np.ndarray, en: np.ndarray, cfg: WearableConfig
) -> np.ndarray:
    """Seconds of the still segments that the temperature shows off the body.

    In a segment, non-wear starts at the first second from which DETACH's start criteria
    hold over the next ``nonwear_temp_min_s`` (all of them inside the segment) and lasts to
    the segment's end [V, as DETACH]. A segment where they never hold is worn while its
    temperature stays at or above ``nonwear_temp_high_c`` (skin warm) throughout; if it
    dips below, the still hour decides as without temperature [D] (a warm room can keep a
    removed sensor's cooling too slow for the criteria).
    """
    assert sensor.temperature_c is not None
    n = sensor.g.shape[0]
    sm = _smoothed_temperature(sensor.temperature_c)
    rate = np.diff(sm, prepend=sm[:1]) * 60.0  # deg C per minute
    w = int(cfg.nonwear_temp_min_s)
    out = np.zeros(n, bool)
    if n < w:
        return out
    win_max = np.lib.stride_tricks.sliding_window_view(sm, w).max(axis=1)  # sm[i : i + w]
    c = np.concatenate([[0.0], np.cumsum(rate)])
    win_mean = (c[w:] - c[:-w]) / w
    with np.errstate(invalid="ignore"):
        start_ok = (win_max < cfg.nonwear_temp_low_c) | (
            (win_max < cfg.nonwear_temp_high_c) & (win_mean < cfg.nonwear_temp_fall_c_min)
        )
    ok_at = np.flatnonzero(start_ok)
    long = cfg.nonwear_min * 60
    for a, b in zip(st.tolist(), en.tolist(), strict=True):
        i = int(np.searchsorted(ok_at, a))
        if i < ok_at.size and ok_at[i] + w <= b:
            out[ok_at[i] : b] = True
        elif b - a >= long and not np.nanmin(sm[a:b]) >= cfg.nonwear_temp_high_c:
            out[a:b] = True
    return out


def _long_segments(
    sensor: SensorSeconds, cfg: WearableConfig, turn_deg: float | None
) -> np.ndarray:
    """Seconds in still segments of ``nonwear_min`` or longer (``turn_deg`` None: no split)."""
    still = still_mask(sensor.sd, cfg) & ~np.asarray(sensor.missing, bool)
    if turn_deg is None:
        st, en = runs(still)
    else:
        st, en = orientation_segments(sensor.g, still, turn_deg=turn_deg)
    if sensor.temperature_c is not None and turn_deg is not None:
        return _temperature_off(sensor, st, en, cfg)
    long = (en - st) >= cfg.nonwear_min * 60
    return cover(st[long], en[long], still.size)


class NonwearDetector(ABC):
    """One non-wear method: parameters in the constructor, :meth:`detect` to run it."""

    name: ClassVar[str]

    @abstractmethod
    def detect(
        self,
        trunk: SensorSeconds,
        thigh: SensorSeconds | None = None,
        *,
        trunk_walking: np.ndarray | None = None,
        cfg: WearableConfig,
    ) -> NonwearResult:
        """Non-wear of the trunk (and thigh) sensor per second.

        ``trunk_walking`` holds the seconds of gait found from the trunk sensor (only the
        two-sensor decision uses it).
        """


@dataclass(frozen=True)
class StillRunNonwear(NonwearDetector):
    """van Hees' rule alone: still for ``nonwear_min``, each sensor on its own (the former rule).

    Kept for comparison: it calls a sleeper lying still between turns and a person sitting
    still for an hour non-wear.
    """

    name: ClassVar[str] = "still run"

    def detect(
        self,
        trunk: SensorSeconds,
        thigh: SensorSeconds | None = None,
        *,
        trunk_walking: np.ndarray | None = None,
        cfg: WearableConfig,
    ) -> NonwearResult:
        """Still runs of ``nonwear_min`` or more, and missing seconds."""

        def one(s: SensorSeconds) -> np.ndarray:
            return _long_segments(s, cfg, None) | np.asarray(s.missing, bool)

        return NonwearResult(one(trunk), None if thigh is None else one(thigh), self.name)


@dataclass(frozen=True)
class OrientationNonwear(NonwearDetector):
    """Still runs that keep their orientation, both sensors decided together (the default).

    Parameters
    ----------
    turn_deg : float, optional
        Largest change of the gravity direction within one still run; default
        ``cfg.nonwear_turn_deg``.

    """

    name: ClassVar[str] = "orientation"
    turn_deg: float | None = None

    def detect(
        self,
        trunk: SensorSeconds,
        thigh: SensorSeconds | None = None,
        *,
        trunk_walking: np.ndarray | None = None,
        cfg: WearableConfig,
    ) -> NonwearResult:
        """Trunk: its orientation-stable still runs; thigh: the same, unless the trunk is worn."""
        turn = cfg.nonwear_turn_deg if self.turn_deg is None else self.turn_deg
        nw_t = _long_segments(trunk, cfg, turn) | np.asarray(trunk.missing, bool)
        if thigh is None:
            return NonwearResult(nw_t, None, self.name)
        cand = _long_segments(thigh, cfg, turn)
        if thigh.temperature_c is not None:  # the thigh's own temperature decides
            return NonwearResult(nw_t, cand | np.asarray(thigh.missing, bool), self.name)
        off = cand & nw_t  # the trunk is off as well: a pair on a table
        if trunk_walking is not None and cand.any():
            # a thigh segment during which the trunk walks is not worn: a worn thigh moves
            # with every step. Walking counts from WALK_EVIDENCE_S on: a few seconds of
            # fidgeting can pass for steps.
            walk = np.asarray(trunk_walking, bool) & ~nw_t
            ws, we = runs(walk)
            walk_start = np.zeros(cand.size, np.int32)
            np.add.at(walk_start, ws[(we - ws) >= WALK_EVIDENCE_S], 1)
            st, en = runs(cand)
            cw = np.concatenate([[0], np.cumsum(walk_start)])
            walked = (cw[en] - cw[st]) > 0
            off |= cover(st[walked], en[walked], cand.size)
        return NonwearResult(nw_t, off | np.asarray(thigh.missing, bool), self.name)


#: The non-wear methods a configuration may name (``cfg.nonwear_method``).
NONWEAR_DETECTORS: dict[str, type[NonwearDetector]] = {
    OrientationNonwear.name: OrientationNonwear,
    StillRunNonwear.name: StillRunNonwear,
}


def nonwear_detector(method: str | NonwearDetector) -> NonwearDetector:
    """Return the detector for a method name (a detector is returned as it is).

    Raises
    ------
    InputError
        For a name that is not in :data:`NONWEAR_DETECTORS`.

    """
    if isinstance(method, NonwearDetector):
        return method
    cls = NONWEAR_DETECTORS.get(str(method))
    if cls is None:
        raise InputError(
            "unknown non-wear method",
            item="nonwear_method",
            value=method,
            expected=" or ".join(NONWEAR_DETECTORS),
        )
    return cls()
