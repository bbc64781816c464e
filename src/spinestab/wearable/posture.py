"""Posture and movement classes per second, steps and cadence.

Walking is found from the trunk (lower-back) sensor as sequences of regular steps
(:mod:`spinestab.wearable.gait`). Sitting versus standing needs a thigh sensor (thigh
inclination, Skotte et al. 2014 [R]); with a trunk sensor alone both are
``upright_static``. Lying is a trunk inclination beyond ``lie_trunk_deg``. Stair climbing
is told from level walking only with a thigh sensor (Acti4's thigh rule, as in acti-motus);
with a trunk sensor alone it is walking.
"""

from __future__ import annotations

import numpy as np

from spinestab.wearable._runs import cover, runs
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.gait import Gait, gait_per_second

__all__ = [
    "CLASS_NAMES",
    "LYING",
    "MOVING",
    "NONWEAR",
    "RUNNING",
    "SITTING",
    "STANDING",
    "STATIC_CLASSES",
    "UPRIGHT_STATIC",
    "WALKING",
    "Gait",
    "classify",
    "fill_short",
    "gait_per_second",
    "runs",
    "sit_to_stand",
    "stairs_mask",
]

NONWEAR, LYING, SITTING, STANDING, UPRIGHT_STATIC, MOVING, WALKING, RUNNING, STAIRS = range(9)
CLASS_NAMES = (
    "nonwear",
    "lying",
    "sitting",
    "standing",
    "upright_static",
    "moving",
    "walking",
    "running",
    "stairs",
)
STATIC_CLASSES = (SITTING, STANDING, UPRIGHT_STATIC)
MOVEMENT_CLASSES = (MOVING, WALKING, RUNNING, STAIRS)


def fill_short(mask: np.ndarray, *, min_true: int = 0, max_gap: int = 0) -> np.ndarray:
    """Fill False gaps up to ``max_gap`` long inside True, then drop True runs < ``min_true``."""
    out = np.asarray(mask, bool).copy()
    if max_gap > 0:
        st, en = runs(~out)
        inner = (st > 0) & (en < out.size) & ((en - st) <= max_gap)
        out |= cover(st[inner], en[inner], out.size)
    if min_true > 1:
        st, en = runs(out)
        short = (en - st) < min_true
        out &= ~cover(st[short], en[short], out.size)
    return out


def classify(
    *,
    trunk_inc: np.ndarray,
    trunk_sd: np.ndarray,
    gait: Gait,
    nonwear: np.ndarray,
    cfg: WearableConfig,
    thigh_inc: np.ndarray | None = None,
    thigh_sd: np.ndarray | None = None,
    thigh_nonwear: np.ndarray | None = None,
) -> np.ndarray:
    """Posture class per second (codes of :data:`CLASS_NAMES`).

    Parameters
    ----------
    trunk_inc : (S,) ndarray
        Trunk inclination from upright, degrees.
    trunk_sd : (S,) ndarray
        Total acceleration SD of the trunk sensor per second, g.
    gait : Gait
        Gait features from :func:`gait_per_second`.
    nonwear : (S,) bool ndarray
        Trunk sensor not worn (or no data).
    cfg : WearableConfig, keyword-only
        Thresholds.
    thigh_inc, thigh_sd, thigh_nonwear : (S,) ndarrays, optional, keyword-only
        Thigh inclination from its walking reference, SD and non-wear; when given, sitting
        and standing are told apart.

    Returns
    -------
    (S,) int8 ndarray

    """
    s = trunk_inc.shape[0]
    out = np.full(s, UPRIGHT_STATIC, np.int8)
    with np.errstate(invalid="ignore"):
        high = np.nan_to_num(trunk_inc, nan=0.0) > cfg.lie_trunk_deg
    walking = gait.walking & ~high  # steps while the trunk is near horizontal are not gait
    running = walking & (gait.sd_vert >= cfg.run_sd_g)
    mm = int(cfg.min_move_s)
    moving = fill_short(trunk_sd >= cfg.move_sd_g, min_true=mm)
    if thigh_inc is not None:
        tsd = thigh_sd if thigh_sd is not None else trunk_sd
        with np.errstate(invalid="ignore"):
            thigh_h = np.nan_to_num(thigh_inc, nan=0.0) > cfg.sit_thigh_deg
        both = ~(thigh_nonwear if thigh_nonwear is not None else np.zeros(s, bool))
        out[:] = np.where(thigh_h, SITTING, STANDING)
        out[thigh_h & high] = LYING
        out[~thigh_h & fill_short(tsd >= cfg.move_sd_g, min_true=mm)] = MOVING
        out[~thigh_h & walking] = WALKING
        out[~thigh_h & stairs_mask(thigh_inc, walking & ~running & both, cfg)] = STAIRS
        out[~thigh_h & running] = RUNNING
        # thigh missing: fall back on the trunk-only rules for those seconds
        solo = ~both
    else:
        solo = np.ones(s, bool)
    if solo.any():
        lying = fill_short(high & ~walking, min_true=int(cfg.lie_min_s), max_gap=0)
        t = np.full(s, UPRIGHT_STATIC, np.int8)
        t[moving] = MOVING
        t[walking] = WALKING
        t[running] = RUNNING
        t[lying] = LYING
        out[solo] = t[solo]
    out[nonwear] = NONWEAR
    return out


def _median_filter_bool(mask: np.ndarray, length: int) -> np.ndarray:
    """Boolean median filter of odd ``length``, zeros beyond the ends (scipy ``medfilt``)."""
    k = np.ones(length, np.int32)
    h = (length - 1) // 2  # centred slice of the full convolution ("same" is wrong when short)
    return np.convolve(mask.astype(np.int32), k, mode="full")[h : h + mask.size] * 2 > length


def stairs_mask(thigh_inc: np.ndarray, walking: np.ndarray, cfg: WearableConfig) -> np.ndarray:
    """Stair climbing among walking seconds from the thigh inclination (Acti4 rule).

    Parameters
    ----------
    thigh_inc : (S,) ndarray
        Thigh inclination from its walking reference, degrees (NaN where missing).
    walking : (S,) bool ndarray
        Walking seconds (not running) with the thigh worn.
    cfg : WearableConfig
        ``stairs_thigh_deg``, ``stairs_thigh_max_deg`` and ``stairs_bout_s``.

    Returns
    -------
    (S,) bool ndarray
        Walking seconds that are stairs.

    """
    inc = np.asarray(thigh_inc, np.float64)
    pool = inc[walking & np.isfinite(inc)]
    if pool.size < 10:  # acti-motus's minimum pool: too little walking to set a reference
        return np.zeros(inc.size, bool)
    ref = float(np.median(pool))
    with np.errstate(invalid="ignore"):
        cand = walking & (inc > ref + cfg.stairs_thigh_deg) & (inc < ref + cfg.stairs_thigh_max_deg)
    n = 2 * int(cfg.stairs_bout_s) - 1
    if n > 1:
        cand = _median_filter_bool(_median_filter_bool(cand, n), n)
    return cand & walking


def sit_to_stand(
    inclination_deg: np.ndarray,
    sd_g: np.ndarray,
    *,
    still_sd_g: float = 0.05,
    min_still_s: int = 3,
    drop_deg: float = 10.0,
    max_sit_deg: float = 45.0,
    window_s: int = 4,
) -> np.ndarray:
    """Find sit-to-stand transitions from a trunk sensor alone.

    A transition ends a still period of at least ``min_still_s`` seconds whose trunk angle
    (sitting, usually leaning 10-40 deg from the walking upright) is at most
    ``max_sit_deg``; within ``window_s`` seconds the trunk settles at least ``drop_deg``
    more upright (standing). Thresholds are design decisions [D], checked on the SKDH
    sit-to-stand sample; a still, flexed stand followed by upright standing looks the same
    and is told apart only by ``max_sit_deg``.

    Parameters
    ----------
    inclination_deg : (S,) ndarray
        Trunk inclination per second.
    sd_g : (S,) ndarray
        Acceleration SD per second.
    still_sd_g, min_still_s, drop_deg, max_sit_deg, window_s : keyword-only
        Thresholds.

    Returns
    -------
    (T,) int ndarray
        Seconds at which each transition starts (the last still second).

    """
    inc = np.nan_to_num(np.asarray(inclination_deg, float), nan=0.0)
    still = np.nan_to_num(sd_g, nan=np.inf) < still_sd_g
    st, en = runs(still)
    out = []
    for a, b in zip(st, en, strict=True):
        if b - a < min_still_s or b + window_s + 2 > inc.size:
            continue
        base = float(np.median(inc[a:b]))
        after = float(np.median(inc[b + window_s - 2 : b + window_s + 2]))
        if drop_deg <= base <= max_sit_deg and after <= base - drop_deg:
            out.append(b - 1)
    return np.asarray(out, dtype=np.int64)
