"""Posture and movement classes per second, steps and cadence.

Walking is found from the trunk (lower-back) sensor as sequences of regular steps: peaks
of the vertical acceleration, one per step (Zijlstra & Hof 2003 use the vertical trunk
acceleration for step events [R]). Sitting versus standing needs a thigh sensor (thigh
inclination, Skotte et al. 2014 [R]); with a trunk sensor alone both are
``upright_static``. Lying is a trunk inclination beyond ``lie_trunk_deg``. Stair climbing
is told from level walking only with a thigh sensor (Acti4's thigh rule, as in acti-motus);
with a trunk sensor alone it is walking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinestab.wearable.config import WearableConfig

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


@dataclass(frozen=True)
class Gait:
    """Gait per second from the trunk (lower-back) sensor.

    Attributes
    ----------
    walking : (S,) bool ndarray
        At least half of the second lies inside a sequence of regular steps.
    steps : (S,) float32 ndarray
        Steps (vertical-acceleration peaks inside step sequences) per second.
    sd_vert : (S,) float32 ndarray
        SD of the vertical dynamic acceleration over the 3-s window centred on the second, g.

    """

    walking: np.ndarray
    steps: np.ndarray
    sd_vert: np.ndarray


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return start and stop (exclusive) indices of the True runs of a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(m[1:] != m[:-1])
    return d[0::2], d[1::2]


def fill_short(mask: np.ndarray, *, min_true: int = 0, max_gap: int = 0) -> np.ndarray:
    """Fill False gaps up to ``max_gap`` long inside True, then drop True runs < ``min_true``."""
    out = np.asarray(mask, bool).copy()
    if max_gap > 0:
        st, en = runs(~out)
        inner = (st > 0) & (en < out.size) & ((en - st) <= max_gap)
        out |= _cover(st[inner], en[inner], out.size)
    if min_true > 1:
        st, en = runs(out)
        short = (en - st) < min_true
        out &= ~_cover(st[short], en[short], out.size)
    return out


def _cover(starts: np.ndarray, stops: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n``, True on the disjoint intervals ``[start, stop)``."""
    d = np.zeros(n + 1, np.int32)
    d[starts] += 1  # disjoint maximal runs: no start or stop repeats, so += is safe
    d[stops] -= 1
    return np.cumsum(d[:n], dtype=np.int32) > 0


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving mean over ``n`` samples, float32 (edges repeat the nearest window)."""
    n = max(1, int(n))
    if n == 1 or x.size < n:
        return np.asarray(x, np.float32).copy()
    c = np.empty(x.size + 1, np.float64)
    c[0] = 0.0
    np.cumsum(x, dtype=np.float64, out=c[1:])
    full = ((c[n:] - c[:-n]) / n).astype(np.float32)  # mean of x[i : i + n]
    half = n // 2
    out = np.empty(x.size, np.float32)
    out[half : half + full.size] = full
    out[:half] = full[0]
    out[half + full.size :] = full[-1]
    return out


def _steps(
    v: np.ndarray, nsub: int, cfg: WearableConfig, group: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find walking in ``v``: ``(starts, stops, steps)``, sample indices.

    ``starts``/``stops`` (exclusive) are the sorted, disjoint walking intervals; ``steps``
    the samples of the counted steps. ``group`` (per sample) numbers the separate stretches
    laid end to end in ``v``: steps of different stretches are never linked.
    """
    none = np.zeros(0, np.int64)
    sm = _moving_mean(v, max(1, round(cfg.step_smooth_s * nsub)))
    d = sm - _moving_mean(sm, nsub)
    pk = np.flatnonzero((d[1:-1] > d[:-2]) & (d[1:-1] >= d[2:]) & (d[1:-1] > cfg.step_peak_g)) + 1
    if pk.size < cfg.min_steps:
        return none, none, none
    # closer than the shortest step: keep the higher peak (like a refractory time)
    same = np.ones(pk.size - 1, bool) if group is None else group[pk[1:]] == group[pk[:-1]]
    close = (np.diff(pk) < nsub / cfg.step_hz[1]) & same
    if close.any():
        drop = np.zeros(pk.size, bool)
        i = np.flatnonzero(close)
        lower_first = d[pk[i]] < d[pk[i + 1]]
        drop[i[lower_first]] = True
        drop[i[~lower_first] + 1] = True
        pk = pk[~drop]
    iv = np.diff(pk) / nsub
    ok = (iv >= 1.0 / cfg.step_hz[1]) & (iv <= 1.0 / cfg.step_hz[0])
    if group is not None:
        ok &= group[pk[1:]] == group[pk[:-1]]
    similar = np.ones(iv.size, bool)
    similar[1:] = np.abs(iv[1:] - iv[:-1]) <= cfg.step_regularity * np.maximum(iv[1:], iv[:-1])
    prev_ok = np.concatenate([[False], ok[:-1]])
    good = ok & (~prev_ok | similar)
    st, en = runs(good)  # runs of good links; a run of m links spans m + 1 steps
    keep = ((en - st + 1) >= cfg.min_steps) & ((pk[en] - pk[st]) >= cfg.min_walk_s * nsub)
    st, en = st[keep], en[keep]  # sequences: peaks st..en (inclusive), disjoint, sorted
    e = int(cfg.walk_edge_steps)
    steps = pk[_cover(st, en + 1, pk.size)]
    long = (en - st) > 2 * e
    return pk[st[long] + e], pk[en[long] - e] + 1, steps


def gait_per_second(vert: np.ndarray, nsub: int, cfg: WearableConfig) -> Gait:
    """Find steps and walking from the decimated vertical trunk acceleration.

    Steps are peaks of the smoothed vertical acceleration (``step_smooth_s`` moving mean)
    above its 1-s moving mean by ``step_peak_g``, at least ``1 / step_hz[1]`` apart.
    Consecutive steps whose interval lies within ``1 / step_hz`` and differs from the
    previous interval by at most ``step_regularity`` of it form a sequence; sequences of
    ``min_steps`` or more steps spanning ``min_walk_s`` are walking, from the
    ``walk_edge_steps``-th step after the first to the one before the last (a Mobilise-D
    bout runs from first to last initial contact; the weight shift before gait initiation
    and the closing step are not in it); every step of the sequence is counted. Walking
    separated by breaks up to ``walk_merge_gap_s`` is
    merged. Only stretches whose 3-s vertical SD reaches half of ``step_peak_g`` (plus 2 s
    either side) are searched: quieter ones cannot hold steps [D].

    Parameters
    ----------
    vert : (S, nsub) float32 ndarray
        Vertical dynamic acceleration, ``nsub`` samples per second, g.
    nsub : int
        Samples per second of ``vert``.
    cfg : WearableConfig
        Thresholds.

    Returns
    -------
    Gait

    """
    s = vert.shape[0]
    # SD over a 3-s window, from per-second sums
    s1 = vert.sum(axis=1, dtype=np.float64)
    s2 = np.einsum("ij,ij->i", vert, vert, dtype=np.float64)
    k3 = np.ones(3)
    # "full" then centred slices: "same" returns max(len) samples, wrong under 3 seconds
    m1 = np.convolve(s1, k3, "full")[1 : s + 1] / (3 * nsub)
    sd = np.sqrt(np.maximum(np.convolve(s2, k3, "full")[1 : s + 1] / (3 * nsub) - m1 * m1, 0.0))
    walking = np.zeros(s, bool)
    steps = np.zeros(s, np.float32)
    if nsub < 5 or s < 2:
        return Gait(walking, steps, sd.astype(np.float32))
    active = sd >= 0.5 * cfg.step_peak_g
    active = np.convolve(active, np.ones(5), "full")[2 : s + 2] > 0  # 2 s either side
    # the active stretches laid end to end and searched in one call (a call per stretch
    # cost more in overhead than in work); steps are linked only within a stretch
    a_st, a_en = runs(active)
    n_in = (a_en - a_st) * nsub
    group = np.repeat(np.arange(a_st.size), n_in)
    first = np.concatenate([[0], np.cumsum(n_in)[:-1]])  # compact index of each stretch
    w0, w1, st = _steps(vert[active].reshape(-1), nsub, cfg, group)

    def full(c: np.ndarray) -> np.ndarray:  # compact sample index -> recording sample index
        g = group[c]
        return a_st[g] * nsub + (c - first[g])

    w0, w1, st = full(w0), full(w1 - 1) + 1, full(st)
    if cfg.walk_merge_gap_s > 0 and w0.size > 1:  # bouts apart by short breaks are one bout
        join = (w0[1:] - w1[:-1]) <= int(cfg.walk_merge_gap_s * nsub)
        w0 = w0[np.concatenate([[True], ~join])]
        w1 = w1[np.concatenate([~join, [True]])]
    # walking seconds: at least half of the second inside a walking interval
    edges = np.arange(s + 1, dtype=np.int64) * nsub
    csum = np.concatenate([[0], np.cumsum(w1 - w0)])
    i = np.searchsorted(w1, edges, side="right")  # intervals ended by each edge
    inside = np.clip(edges - w0[np.minimum(i, w0.size - 1)], 0, None) if w0.size else 0
    covered = csum[i] + np.where(i < w0.size, inside, 0)
    walking = np.diff(covered) * 2 >= nsub
    steps = np.bincount(st // nsub, minlength=s).astype(np.float32)
    return Gait(walking, steps, sd.astype(np.float32))


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
