"""Steps and walking from the vertical trunk acceleration, in local steps a stream can repeat.

Walking is found from the trunk (lower-back) sensor as sequences of regular steps: peaks of
the vertical acceleration, one per step (Zijlstra & Hof 2003 use the vertical trunk
acceleration for step events [R]). Parameters, sources and tags:
:class:`~spinestab.wearable.config.WearableConfig` (``step_*``, ``min_steps``,
``min_walk_s``, ``walk_*``).

Every stage looks at a bounded neighbourhood only, and sums run in a fixed order, so that a
stream processed piece by piece (:mod:`spinestab.wearable.engine`) gives bit for bit what the
whole recording gives:

1. per second, the 3-s SD of the vertical acceleration (:func:`sd3`) and the *active*
   seconds (:func:`active_seconds`: SD at least half ``step_peak_g``, 2 s either side);
2. per sample, the step signal (:func:`step_signal`: a ``step_smooth_s`` moving mean less
   its 1-s moving mean) and its peaks above ``step_peak_g`` (:func:`peak_flags`); the signal
   is defined only where both windows lie inside the recording;
3. per peak, in active seconds only and linked only within one active stretch, the step
   sequences (:func:`step_sequences`);
4. per second, walking bouts merged across short breaks and the seconds they cover
   (:func:`walking_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinestab.wearable._runs import cover, runs
from spinestab.wearable.config import WearableConfig

__all__ = [
    "Gait",
    "active_seconds",
    "gait_per_second",
    "peak_flags",
    "sd3",
    "second_sums",
    "step_sequences",
    "step_signal",
    "walking_seconds",
]


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


def second_sums(vert: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and sum of squares of each second's samples, float64 (rows of ``vert``)."""
    v = np.ascontiguousarray(vert, np.float32)
    return v.sum(axis=-1, dtype=np.float64), np.einsum("...j,...j->...", v, v, dtype=np.float64)


def sd3(s1: np.ndarray, s2: np.ndarray, nsub: int) -> np.ndarray:
    """SD over the 3-s window centred on each second (no samples beyond the ends), float32.

    ``s1``, ``s2`` are :func:`second_sums` along the last axis; a stream computes the SD of
    second ``j`` once second ``j + 1`` is known (or the stream has ended).
    """
    z = np.zeros((*s1.shape[:-1], 1))
    p1 = np.concatenate([z, s1, z], axis=-1)
    p2 = np.concatenate([z, s2, z], axis=-1)
    m1 = (p1[..., :-2] + p1[..., 1:-1] + p1[..., 2:]) / (3 * nsub)
    m2 = (p2[..., :-2] + p2[..., 1:-1] + p2[..., 2:]) / (3 * nsub)
    return np.sqrt(np.maximum(m2 - m1 * m1, 0.0)).astype(np.float32)


def active_seconds(sd: np.ndarray, cfg: WearableConfig) -> np.ndarray:
    """Seconds that may hold steps: 3-s SD at least half ``step_peak_g``, 2 s either side [D]."""
    a = np.asarray(sd) >= 0.5 * cfg.step_peak_g
    p = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(2, 2)])
    n = a.shape[-1]
    return p[..., 0:n] | p[..., 1 : n + 1] | p[..., 2 : n + 2] | p[..., 3 : n + 3] | p[..., 4:]


def _window_sums(x: np.ndarray, n: int) -> np.ndarray:
    """``out[..., i] = x[..., i] + ... + x[..., i + n - 1]`` added in that order."""
    m = x.shape[-1] - n + 1
    if m <= 0:
        return np.zeros((*x.shape[:-1], 0), x.dtype)
    out = x[..., :m].copy()
    for k in range(1, n):
        out += x[..., k : k + m]
    return out


def signal_extent(nsub: int, cfg: WearableConfig) -> tuple[int, int]:
    """Return how many samples the step signal of one sample needs before and after it."""
    m1 = max(1, round(cfg.step_smooth_s * nsub))
    m2 = nsub
    h1, h2 = m1 // 2, m2 // 2
    return h1 + h2, (m1 - 1 - h1) + (m2 - 1 - h2)


def step_signal(v: np.ndarray, nsub: int, cfg: WearableConfig) -> np.ndarray:
    """Compute the step signal along the last axis: a short moving mean less its 1-s mean.

    Returns an array as long as ``v``; samples whose windows reach beyond ``v`` are NaN.
    The moving means are the centred means of ``round(step_smooth_s * nsub)`` and ``nsub``
    samples (``step_smooth_s`` [D], see the config).
    """
    v = np.asarray(v, np.float32)
    m1 = max(1, round(cfg.step_smooth_s * nsub))
    before = signal_extent(nsub, cfg)[0]
    sm = _window_sums(v, m1) / np.float32(m1)  # sm[i] is centred on sample i + m1 // 2
    mm = _window_sums(sm, nsub) / np.float32(nsub)  # mm[i] on sm[i + nsub // 2]
    h2 = nsub // 2
    out = np.full(v.shape, np.nan, np.float32)
    k = mm.shape[-1]
    if k > 0:
        out[..., before : before + k] = sm[..., h2 : h2 + k] - mm
    return out


def peak_flags(d: np.ndarray, cfg: WearableConfig) -> np.ndarray:
    """Flag the peaks of the step signal above ``step_peak_g`` (along the last axis)."""
    out = np.zeros(d.shape, bool)
    with np.errstate(invalid="ignore"):
        c = d[..., 1:-1]
        out[..., 1:-1] = (c > d[..., :-2]) & (c >= d[..., 2:]) & (c > cfg.step_peak_g)
    return out


def step_sequences(
    pos: np.ndarray, value: np.ndarray, group: np.ndarray, nsub: int, cfg: WearableConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step sequences from peaks: ``(walk_starts, walk_stops, steps)``, sample positions.

    Parameters
    ----------
    pos : (P,) int ndarray
        Peak positions, sorted.
    value : (P,) ndarray
        Step-signal value at each peak.
    group : (P,) int ndarray
        Stretch of each peak: peaks of different stretches are never linked.
    nsub : int
        Samples per second.
    cfg : WearableConfig
        Thresholds.

    Returns
    -------
    walk_starts, walk_stops, steps : int ndarrays
        Walking intervals ``[start, stop)`` (sorted, disjoint) and the counted steps.

    """
    none = np.zeros(0, np.int64)
    pk, dv, gp = np.asarray(pos, np.int64), np.asarray(value), np.asarray(group)
    if pk.size < cfg.min_steps:
        return none, none, none
    # closer than the shortest step: keep the higher peak (like a refractory time)
    close = (np.diff(pk) < nsub / cfg.step_hz[1]) & (gp[1:] == gp[:-1])
    if close.any():
        drop = np.zeros(pk.size, bool)
        i = np.flatnonzero(close)
        lower_first = dv[i] < dv[i + 1]
        drop[i[lower_first]] = True
        drop[i[~lower_first] + 1] = True
        pk, gp = pk[~drop], gp[~drop]
    if pk.size < 2:
        return none, none, none
    iv = np.diff(pk) / nsub
    ok = (iv >= 1.0 / cfg.step_hz[1]) & (iv <= 1.0 / cfg.step_hz[0]) & (gp[1:] == gp[:-1])
    similar = np.ones(iv.size, bool)
    similar[1:] = np.abs(iv[1:] - iv[:-1]) <= cfg.step_regularity * np.maximum(iv[1:], iv[:-1])
    prev_ok = np.concatenate([[False], ok[:-1]])
    good = ok & (~prev_ok | similar)
    st, en = runs(good)  # runs of good links; a run of m links spans m + 1 steps
    keep = ((en - st + 1) >= cfg.min_steps) & ((pk[en] - pk[st]) >= cfg.min_walk_s * nsub)
    st, en = st[keep], en[keep]  # sequences: peaks st..en (inclusive), disjoint, sorted
    e = int(cfg.walk_edge_steps)
    steps = pk[cover(st, en + 1, pk.size)]
    long = (en - st) > 2 * e
    return pk[st[long] + e], pk[en[long] - e] + 1, steps


def walking_seconds(
    w0: np.ndarray, w1: np.ndarray, n_seconds: int, nsub: int, cfg: WearableConfig
) -> np.ndarray:
    """Seconds at least half inside walking, after merging bouts apart by short breaks.

    Bouts at most ``walk_merge_gap_s`` apart are one bout (Mobilise-D, Kluge et al. 2021
    [R]).
    """
    w0, w1 = np.asarray(w0, np.int64), np.asarray(w1, np.int64)
    if cfg.walk_merge_gap_s > 0 and w0.size > 1:
        join = (w0[1:] - w1[:-1]) <= int(cfg.walk_merge_gap_s * nsub)
        w0 = w0[np.concatenate([[True], ~join])]
        w1 = w1[np.concatenate([~join, [True]])]
    edges = np.arange(n_seconds + 1, dtype=np.int64) * nsub
    csum = np.concatenate([[0], np.cumsum(w1 - w0)])
    i = np.searchsorted(w1, edges, side="right")  # intervals ended by each edge
    inside = np.clip(edges - w0[np.minimum(i, w0.size - 1)], 0, None) if w0.size else 0
    covered = csum[i] + np.where(i < w0.size, inside, 0)
    return np.diff(covered) * 2 >= nsub


def gait_per_second(vert: np.ndarray, nsub: int, cfg: WearableConfig) -> Gait:
    """Find steps and walking from the decimated vertical trunk acceleration.

    Steps are peaks of the step signal (:func:`step_signal`) above ``step_peak_g``, in
    active seconds (:func:`active_seconds`), at least ``1 / step_hz[1]`` apart. Consecutive
    steps of one active stretch whose interval lies within ``1 / step_hz`` and differs from
    the previous interval by at most ``step_regularity`` of it form a sequence; sequences of
    ``min_steps`` or more steps spanning ``min_walk_s`` are walking, from the
    ``walk_edge_steps``-th step after the first to the one before the last (a Mobilise-D
    bout runs from first to last initial contact; the weight shift before gait initiation
    and the closing step are not in it); every step of the sequence is counted. Walking
    separated by breaks up to ``walk_merge_gap_s`` is merged.

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
    s1, s2 = second_sums(vert)
    sd = sd3(s1, s2, nsub)
    walking = np.zeros(s, bool)
    steps = np.zeros(s, np.float32)
    if nsub < 5 or s < 2:
        return Gait(walking, steps, sd)
    active = active_seconds(sd, cfg)
    a_st, a_en = runs(active)
    if a_st.size == 0:
        return Gait(walking, steps, sd)
    # the step signal on the active stretches, each padded with the samples its windows
    # need (never across the recording's ends), laid end to end
    before, after = signal_extent(nsub, cfg)
    flat = np.asarray(vert, np.float32).reshape(-1)
    lo = np.maximum(a_st * nsub - before - 1, 0)
    hi = np.minimum(a_en * nsub + after + 1, flat.size)
    lens = hi - lo
    first = np.concatenate([[0], np.cumsum(lens)[:-1]])
    total = int(lens.sum())
    src = np.arange(total, dtype=np.int64) + np.repeat(lo - first, lens)  # recording index
    d = step_signal(flat[src], nsub, cfg)
    # a window reaching into the next stretch's padding is not this sample's window: the
    # first `before` and last `after` samples of every padded stretch have none
    bad = np.zeros(total + 1, np.int32)
    np.add.at(bad, first, 1)
    np.add.at(bad, first + before, -1)
    np.add.at(bad, first + lens - after, 1)
    np.add.at(bad, first + lens, -1)
    d[np.cumsum(bad[:-1]) > 0] = np.nan
    pk_local = np.flatnonzero(peak_flags(d, cfg))
    rid = np.searchsorted(first, pk_local, side="right") - 1
    pk = src[pk_local]
    # peaks in the active seconds of the stretch whose padding they were found in
    sec = pk // nsub
    keep = (sec >= a_st[rid]) & (sec < a_en[rid])
    pk_local, pk, rid = pk_local[keep], pk[keep], rid[keep]
    w0, w1, st = step_sequences(pk, d[pk_local], rid, nsub, cfg)
    walking = walking_seconds(w0, w1, s, nsub, cfg)
    steps = np.bincount(st // nsub, minlength=s).astype(np.float32)
    return Gait(walking, steps, sd)
