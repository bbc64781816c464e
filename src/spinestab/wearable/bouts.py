"""Exposures, static bouts, bends and breaks per second and per day.

Inputs are per-second arrays (posture codes and trunk forward inclination); outputs are
day tables. Thresholds come from :class:`~spinestab.wearable.config.WearableConfig`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from spinestab.wearable.config import WearableConfig
from spinestab.wearable.posture import (
    LYING,
    MOVEMENT_CLASSES,
    NONWEAR,
    SITTING,
    STANDING,
    STATIC_CLASSES,
    UPRIGHT_STATIC,
    runs,
)

__all__ = ["Bout", "bends", "daily_summary", "day_index", "static_bouts"]


@dataclass(frozen=True)
class Bout:
    """Static bouts: start second, length in seconds, and whether movement ended it."""

    start: np.ndarray
    length_s: np.ndarray
    ended_by_movement: np.ndarray


def day_index(n_seconds: int, start_unix_s: float, *, utc_offset_h: float = 0.0) -> np.ndarray:
    """Calendar day of each second (days since 1970-01-01 on the local clock)."""
    t0 = start_unix_s + utc_offset_h * 3600.0
    first = int(np.floor(t0 / 86400.0))
    off = round(t0 - first * 86400.0)
    return (first + (np.arange(n_seconds) + off) // 86400).astype(np.int64)


def static_bouts(posture: np.ndarray, cfg: WearableConfig) -> Bout:
    """Find runs of static posture (sitting, standing still, upright static).

    Non-static time shorter than ``break_min_s`` inside a static run does not end it, unless
    it is lying or non-wear.

    Parameters
    ----------
    posture : (S,) int ndarray
        Posture codes.
    cfg : WearableConfig
        ``break_min_s``.

    Returns
    -------
    Bout

    """
    static = np.isin(posture, STATIC_CLASSES)
    hard = np.isin(posture, (LYING, NONWEAR))
    gap_st, gap_en = runs(~static)
    inner = (gap_st > 0) & (gap_en < static.size) & ((gap_en - gap_st) < cfg.break_min_s)
    filled = static.copy()
    if inner.any():
        hard_cum = np.concatenate([[0], np.cumsum(hard)])
        for a, b in zip(gap_st[inner], gap_en[inner], strict=True):
            if hard_cum[b] - hard_cum[a] == 0:
                filled[a:b] = True
    st, en = runs(filled)
    nxt = np.where(en < posture.size, posture[np.minimum(en, posture.size - 1)], NONWEAR)
    return Bout(st, en - st, np.isin(nxt, MOVEMENT_CLASSES))


def bends(forward_deg: np.ndarray, upright: np.ndarray, cfg: WearableConfig) -> np.ndarray:
    """Start seconds of bends: forward inclination rising to ``bend_deg`` while upright.

    A bend ends when the trunk returns below ``bend_end_deg`` (hysteresis), so one flexion
    counts once.
    """
    fw = np.nan_to_num(forward_deg, nan=0.0)
    above = (fw >= cfg.bend_deg) & upright
    below = (fw < cfg.bend_end_deg) | ~upright
    # state: 1 after crossing above, 0 after crossing below; carry state through between
    state = np.where(above, 1, np.where(below, 0, -1)).astype(np.int8)
    idx = np.where(state >= 0, np.arange(state.size), -1)
    np.maximum.accumulate(idx, out=idx)
    filled = np.where(idx < 0, 0, state[np.maximum(idx, 0)])
    rise = np.flatnonzero((filled[1:] == 1) & (filled[:-1] == 0)) + 1
    if filled.size and filled[0] == 1:
        rise = np.concatenate([[0], rise])
    return rise


def _longest_run_per_day(mask: np.ndarray, day: np.ndarray, days: np.ndarray) -> np.ndarray:
    out = np.zeros(days.size)
    st, en = runs(mask)
    if st.size:
        d = np.searchsorted(days, day[st])
        np.maximum.at(out, d, en - st)
    return out


def daily_summary(
    *,
    posture: np.ndarray,
    forward_deg: np.ndarray,
    steps: np.ndarray,
    prompt_seconds: np.ndarray,
    start_unix_s: float,
    cfg: WearableConfig,
    utc_offset_h: float = 0.0,
) -> dict[str, np.ndarray]:
    """Daily table: minutes per posture, steps, exposures, bouts, breaks and prompts.

    Parameters
    ----------
    posture : (S,) int ndarray
        Posture codes per second.
    forward_deg : (S,) ndarray
        Trunk forward inclination per second, degrees.
    steps : (S,) ndarray
        Steps per second.
    prompt_seconds : (P,) int ndarray
        Seconds at which prompts were sent.
    start_unix_s : float
        Start time of second 0.
    cfg : WearableConfig
        Thresholds.
    utc_offset_h : float
        Local clock offset used to cut days.

    Returns
    -------
    dict of str to ndarray
        Columns of ``daily.csv`` (``date`` as ISO strings).

    """
    s = posture.size
    day = day_index(s, start_unix_s, utc_offset_h=utc_offset_h)
    # ``day`` never decreases, so each day is one slice: sums per day are ``reduceat``s
    first = np.flatnonzero(np.concatenate([[s > 0], day[1:] != day[:-1]]))
    days = day[first]
    nd = days.size

    def minutes(mask: np.ndarray) -> np.ndarray:
        if not nd:
            return np.zeros(0)
        return np.add.reduceat(mask, first, dtype=np.int64) / 60.0

    wear = posture != NONWEAR
    col: dict[str, np.ndarray] = {
        "date": np.array([str(np.datetime64(int(d), "D")) for d in days]),
        "wear_min": minutes(wear),
        "nonwear_min": minutes(~wear),
        "lying_min": minutes(posture == LYING),
        "sitting_min": minutes(posture == SITTING),
        "standing_min": minutes(posture == STANDING),
        "upright_static_min": minutes(posture == UPRIGHT_STATIC),
    }
    from spinestab.wearable.posture import MOVING, RUNNING, STAIRS, WALKING

    col["moving_min"] = minutes(posture == MOVING)
    col["walking_min"] = minutes(posture == WALKING)
    col["running_min"] = minutes(posture == RUNNING)
    col["stairs_min"] = minutes(posture == STAIRS)
    col["steps"] = np.round(
        np.add.reduceat(np.nan_to_num(steps), first, dtype=np.float64) if nd else np.zeros(0)
    )
    gait_min = col["walking_min"] + col["running_min"] + col["stairs_min"]
    with np.errstate(invalid="ignore", divide="ignore"):
        col["cadence_spm"] = np.where(gait_min > 0, col["steps"] / gait_min, np.nan)
    fw = np.nan_to_num(forward_deg, nan=-999.0)
    upright = wear & ~np.isin(posture, (LYING, SITTING))
    sitting = posture == SITTING
    for thr in cfg.forward_deg:
        t = int(thr)
        col[f"forward_ge{t}_min"] = minutes((fw >= thr) & (upright | sitting))
        col[f"forward_ge{t}_upright_min"] = minutes((fw >= thr) & upright)
        col[f"forward_ge{t}_sitting_min"] = minutes((fw >= thr) & sitting)
    lg = int(cfg.longest_deg)
    col[f"longest_forward_ge{lg}_s"] = _longest_run_per_day(
        (fw >= cfg.longest_deg) & (upright | sitting), day, days
    )
    b = bends(forward_deg, upright, cfg)
    col[f"bends_ge{int(cfg.bend_deg)}"] = np.bincount(
        np.searchsorted(days, day[b]), minlength=nd
    ).astype(float)
    bt = static_bouts(posture, cfg)
    bday = np.searchsorted(days, day[bt.start]) if bt.start.size else np.zeros(0, int)
    blen_min = bt.length_s / 60.0
    longest = np.zeros(nd)
    if bt.start.size:
        np.maximum.at(longest, bday, blen_min)
    col["longest_static_bout_min"] = longest
    col["static_bouts_over_30min"] = np.bincount(bday[blen_min > 30.0], minlength=nd).astype(float)
    edges = (0.0, *cfg.static_bins_min, np.inf)
    for lo, hi in itertools.pairwise(edges):
        name = (
            f"static_bouts_lt{int(hi)}min"
            if lo == 0
            else f"static_bouts_gt{int(lo)}min"
            if np.isinf(hi)
            else f"static_bouts_{int(lo)}_{int(hi)}min"
        )
        sel = (blen_min >= lo) & (blen_min < hi)
        col[name] = np.bincount(bday[sel], minlength=nd).astype(float)
    col["breaks"] = np.bincount(bday[bt.ended_by_movement], minlength=nd).astype(float)
    pd_ = np.searchsorted(days, day[prompt_seconds]) if len(prompt_seconds) else np.zeros(0, int)
    col["prompts"] = np.bincount(pd_, minlength=nd).astype(float)
    col["valid_day"] = col["wear_min"] >= cfg.valid_day_wear_h * 60.0
    # A day measured with the trunk sensor alone cannot tell sitting from standing (all of
    # it is upright_static): its sitting/standing splits are unknown, not 0 (blank in
    # daily.csv). Days with thigh data keep them; upright_static then holds the seconds
    # the thigh sensor missed.
    unsplit = (
        (col["upright_static_min"] > 0) & (col["sitting_min"] == 0) & (col["standing_min"] == 0)
    )
    if unsplit.any():
        split = ["sitting_min", "standing_min"] + [
            f"forward_ge{int(t)}_{part}_min"
            for t in cfg.forward_deg
            for part in ("upright", "sitting")
        ]
        for name in split:
            col[name] = np.where(unsplit, np.nan, col[name])
    return col
