"""The array stages of :class:`~spinestab.wearable.engine.LiveEngine` and their state layout.

Kept apart from the engine's interface (opening streams, taking batches, state to bytes):
this module holds what one step does to the arrays of all streams, stage by stage, and
the helpers those stages share. See :mod:`spinestab.wearable.engine` for the stages' order
and what each looks back and ahead.

Long module: the stages read and write one ring layout, defined here, and splitting them
would scatter it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.calibrate import still_mask
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.features import second_features
from spinestab.wearable.gait import (
    peak_flags,
    sd3,
    second_sums,
    step_sequences,
    step_signal,
    walking_seconds,
)
from spinestab.wearable.orientation import Orientation, dot3, estimate_orientation, unit_rows
from spinestab.wearable.posture import (
    LYING,
    MOVEMENT_CLASSES,
    MOVING,
    NONWEAR,
    RUNNING,
    STATIC_CLASSES,
    UPRIGHT_STATIC,
    WALKING,
)

__all__ = ["FIELDS", "EnginePrompt", "EngineStages", "StepResult"]

_RING = 256  # seconds of per-second history per stream (power of two)
_CHUNK_S = 16  # seconds of a stream taken per inner round of a step (bounds the rings)
_SUMS = 32  # seconds of per-second sums kept for the 3-s SD (> _CHUNK_S + 3)
_RMASK, _SMASK = _RING - 1, _SUMS - 1  # both powers of two: position & mask = position % size
_SAT = 30000  # run lengths are kept up to this many seconds (more than any rule needs)
# bits of the per-second flags
_HIGH, _MOV, _NW, _RUN, _ACT0, _WALK = 1, 2, 4, 8, 16, 32
_GAIT_PAD = 8  # seconds between streams laid end to end for the gait stage (> merge gap)


@dataclass(frozen=True)
class EnginePrompt:
    """A prompt that fell due.

    Attributes
    ----------
    stream : str
        Stream id.
    unix_s : float
        Its time stamp (device time of the second it fell due in).
    second : int
        That second's index in the stream.
    settled_at : int
        Seconds the stream had delivered when the prompt was settled (``second + lag_s + 1``
        while the stream runs; fewer at its close).

    """

    stream: str
    unix_s: float
    second: int
    settled_at: int


@dataclass
class StepResult:
    """Prompts and settled seconds of one :meth:`LiveEngine.step`."""

    prompts: list[EnginePrompt] = field(default_factory=list)
    settled: dict[str, int] = field(default_factory=dict)


# per-slot arrays: name -> (shape after the slot axis, dtype, fill)
FIELDS: dict[str, tuple[tuple[int, ...], str, float]] = {
    "start_unix_s": ((), "f8", 0.0),
    "scale": ((), "f4", 1.0),
    "utc_off_h": ((), "f8", 0.0),
    "cal_ok": ((), "?", 0),
    "cal_off": ((3,), "f8", 0.0),
    "cal_gain": ((3,), "f8", 1.0),
    "up": ((3,), "f8", 0.0),
    "fwd_dir": ((3,), "f8", 0.0),
    "right": ((3,), "f8", 0.0),
    "oriented": ((), "?", 0),
    "standing_s": ((), "i8", 10),
    "limit_s": ((), "i8", 1800),
    "snooze_s": ((), "i8", 1800),
    "clear_s": ((), "i8", 60),
    "quiet_start_h": ((), "f8", 22.0),
    "quiet_end_h": ((), "f8", 7.0),
    "next_seq": ((), "i8", 0),
    "n_samples": ((), "i8", 0),  # samples taken (queued or processed)
    "ended": ((), "?", 0),
    "n_in": ((), "i8", 0),  # seconds arrived
    "n_gait": ((), "i8", 0),  # seconds with final walking
    "n_set": ((), "i8", 0),  # seconds settled
    "seg_len": ((), "i8", 0),  # still segment (non-wear) length at the newest second
    "anchor": ((3,), "f8", np.nan),  # its first direction
    "back_high": ((), "i8", 0),  # run of high inclination ending at the newest second
    "back_mov": ((), "i8", 0),  # run of moving seconds ending at the newest second
    "static_since": ((), "i8", -1),  # prompt clock (-1: none)
    "next_due": ((), "i8", -1),
    "move_run": ((), "i8", 0),
    # per-second rings: flags as bits, run lengths saturated at _SAT, the forward angle
    "r_bits": ((_RING,), "u1", 0),
    "r_bhigh": ((_RING,), "i2", 0),
    "r_bmov": ((_RING,), "i2", 0),
    "r_fwd": ((_RING,), "f4", np.nan),
    "r_s1": ((_SUMS,), "f8", 0.0),  # per-second sums for the 3-s SD
    "r_s2": ((_SUMS,), "f8", 0.0),
}


class EngineStages:
    """The per-second, per-sample, gait and settling stages over all streams' arrays.

    :class:`~spinestab.wearable.engine.LiveEngine` sets up the attributes used here.
    """

    cfg: WearableConfig
    fs: int
    nsub: int
    lag: int
    lie_s: int
    move_s: int
    gait_back: int
    gait_ahead: int
    gait_tick: int
    before: int
    after: int
    tail: int
    gait_len: int
    nonwear_s: int
    cos_turn: float
    ids: list[str | None]
    _a: dict[str, np.ndarray]
    _tail_v: np.ndarray
    _g_d: np.ndarray
    _g_pk: np.ndarray
    _d_tail: np.ndarray
    _standing: dict[int, list[np.ndarray]]
    _watch: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    _report_settled: bool

    def _set_orientation(self, k: int, o: Orientation) -> None:
        self._a["up"][k] = o.up
        self._a["fwd_dir"][k] = o.forward
        self._a["right"][k] = o.right
        self._a["oriented"][k] = True

    def _features(self, slots: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-second features of (M, k * fs, 3) raw samples, as ``FeatureStream`` gives them."""
        a, fs, nsub = self._a, self.fs, self.nsub
        m, k = slots.size, x.shape[1] // fs
        x = x * a["scale"][slots][:, None, None]
        g, sd, vert, nanf, _clip = second_features(
            x.reshape(m * k * fs, 3), fs=fs, nsub=nsub, keep_vert=True, clip_g=None
        )
        assert vert is not None
        return (
            g.reshape(m, k, 3),
            sd.reshape(m, k),
            vert.reshape(m, k, nsub),
            (nanf > 0.5).reshape(m, k),
        )

    def _flat(self, name: str) -> np.ndarray:
        """Return a per-slot ring as one flat array (index ``slot * width + position``)."""
        return self._a[name].reshape(-1)

    def _arrive(self, slots: np.ndarray, feats: tuple[np.ndarray, ...]) -> None:
        """Per-second stage and per-sample step signal of whole new seconds."""
        a, nsub, cfg = self._a, self.nsub, self.cfg
        g, sd, vert, missing = feats
        m, k = g.shape[0], g.shape[1]
        if k == 0:
            return
        n0 = a["n_in"][slots]
        secs = n0[:, None] + np.arange(k)
        fi = slots[:, None] * _RING + (secs & _RMASK)
        # angles and the lying / moving run lengths
        self._orient_waiting(slots, g, missing)
        ok = a["oriented"][slots]
        cal = a["cal_off"][slots][:, None, :] + a["cal_gain"][slots][:, None, :] * g
        gc = np.where(a["cal_ok"][slots][:, None, None], cal, g).astype(np.float32)
        inc, fwd = _angles(gc, a["up"][slots], a["fwd_dir"][slots])
        with np.errstate(invalid="ignore"):
            high = (np.nan_to_num(inc, nan=0.0) > cfg.lie_trunk_deg) & ok[:, None]
        mov = sd >= cfg.move_sd_g
        bh = _run_lengths(high, a["back_high"][slots])
        bm = _run_lengths(mov, a["back_mov"][slots])
        a["back_high"][slots], a["back_mov"][slots] = bh[:, -1], bm[:, -1]
        self._flat("r_bhigh")[fi] = np.minimum(bh, _SAT)
        self._flat("r_bmov")[fi] = np.minimum(bm, _SAT)
        self._flat("r_fwd")[fi] = fwd
        # non-wear: still segments that keep their orientation, counted as they grow
        still = still_mask(sd, cfg) & ~missing
        u = unit_rows(g.astype(np.float64))
        still &= np.isfinite(u).all(axis=2)
        seg, anchor = a["seg_len"][slots], a["anchor"][slots]
        nonwear = np.empty((m, k), bool)
        for j in range(k):
            cont = still[:, j] & (seg > 0)
            with np.errstate(invalid="ignore"):
                cont &= dot3(u[:, j], anchor) >= self.cos_turn
            start = still[:, j] & ~cont
            seg = np.where(cont, seg + 1, np.where(start, 1, 0))
            anchor[start] = u[start, j]
            nonwear[:, j] = missing[:, j] | (seg >= self.nonwear_s)
        a["seg_len"][slots], a["anchor"][slots] = seg, anchor
        bits = high * _HIGH | mov * _MOV | nonwear * _NW
        self._flat("r_bits")[fi] = bits.astype(np.uint8)
        # per-second sums for the 3-s SD (final once the next second is in)
        s1, s2 = second_sums(vert)
        fs_ = slots[:, None] * _SUMS + (secs & _SMASK)
        self._flat("r_s1")[fs_], self._flat("r_s2")[fs_] = s1, s2
        a["n_in"][slots] = n0 + k
        self._finish_sd(slots, np.maximum(n0 - 1, 0), n0 + k - 2, n0 + k)
        # the step signal and its peaks, from the tail of the samples before
        before, after, gl = self.before, self.after, self.gait_len
        v = np.concatenate([self._tail_v[slots], vert.reshape(m, k * nsub)], axis=1)
        fresh = np.flatnonzero(n0 * nsub < self.tail)  # no samples before the stream's start
        for i in fresh.tolist():
            v[i, : self.tail - int(n0[i]) * nsub] = np.nan
        self._tail_v[slots] = v[:, -self.tail :]
        d = step_signal(v, nsub, cfg)[:, before : before + k * nsub]  # positions p0 ...
        p0 = n0 * nsub - after
        p = p0[:, None] + np.arange(k * nsub)
        d = np.where(p >= 0, d, np.nan).astype(np.float32)
        gd, gp = self._g_d.reshape(-1), self._g_pk.reshape(-1)
        ix = _ring_index(slots, p0, k * nsub, gl)
        gd[ix] = d
        # peaks where the neighbours' signal is known: positions p0 - 1 .. p0 + k*nsub - 2
        dd = np.concatenate([self._d_tail[slots], d], axis=1)
        self._d_tail[slots] = dd[:, -2:]
        pk = peak_flags(dd, cfg)[:, 1:-1] & (p - 1 >= 1)
        gp[_ring_index(slots, p0 - 1, k * nsub, gl)] = pk

    def _finish_sd(
        self, slots: np.ndarray, first: np.ndarray, last: np.ndarray, n: np.ndarray
    ) -> None:
        """Set the running and activity flags of seconds ``first .. last`` (3-s SD final)."""
        nsub, cfg = self.nsub, self.cfg
        w = int((last - first).max(initial=-1)) + 3
        if w < 3:
            return
        j = (first - 1)[:, None] + np.arange(w)  # one second either side of those written
        have = (j >= 0) & (j < n[:, None])
        fs_ = slots[:, None] * _SUMS + (j & _SMASK)
        s1 = np.where(have, self._flat("r_s1")[fs_], 0.0)
        s2 = np.where(have, self._flat("r_s2")[fs_], 0.0)
        sd = sd3(s1, s2, nsub)
        write = (j >= first[:, None]) & (j <= last[:, None]) & (j >= 0)
        fi = (slots[:, None] * _RING + (j & _RMASK))[write]
        bits = self._flat("r_bits")
        flags = (sd >= cfg.run_sd_g) * _RUN | (sd >= 0.5 * cfg.step_peak_g) * _ACT0
        bits[fi] = (bits[fi] & ~np.uint8(_RUN | _ACT0)) | flags[write].astype(np.uint8)

    def _orient_waiting(self, slots: np.ndarray, g: np.ndarray, missing: np.ndarray) -> None:
        """Set the upright reference of streams still in their declared standing period."""
        if not self._standing:
            return
        a = self._a
        for i, k in enumerate(slots.tolist()):
            rows = self._standing.get(k)
            if rows is None:
                continue
            rows.append(np.column_stack([g[i], missing[i]]).astype(np.float32))
            seen = np.concatenate(rows)
            n = int(a["standing_s"][k])
            if seen.shape[0] < n:
                continue
            gg = seen[:, :3]
            stand = np.zeros(gg.shape[0], bool)
            stand[:n] = seen[:n, 3] == 0
            if stand.sum() < 10:
                raise InputError(
                    "declared standing period holds under 10 measured seconds",
                    item="standing_first_s",
                    value=n,
                )
            if a["cal_ok"][k]:
                gg = (a["cal_off"][k] + a["cal_gain"][k] * gg).astype(np.float32)
            o = estimate_orientation(
                unit_rows(gg),
                walking=np.zeros(gg.shape[0], bool),
                standing=stand,
                forward_candidates=np.zeros(gg.shape[0], bool),
            )
            self._set_orientation(k, o)
            del self._standing[k]
            # the seconds before this batch were taken without angles: redo them now
            prev = gg[: gg.shape[0] - g.shape[1]]
            if prev.shape[0]:
                inc, fwd = _angles(prev[None], o.up[None], o.forward[None])
                with np.errstate(invalid="ignore"):
                    high = np.nan_to_num(inc, nan=0.0) > self.cfg.lie_trunk_deg
                fi = k * _RING + (np.arange(prev.shape[0]) & _RMASK)
                bh = _run_lengths(high, np.zeros(1, np.int64))
                bits = self._flat("r_bits")
                bits[fi] = (bits[fi] & ~np.uint8(_HIGH)) | (high[0] * _HIGH).astype(np.uint8)
                self._flat("r_bhigh")[fi] = np.minimum(bh[0], _SAT)
                a["back_high"][k] = bh[0, -1]
                self._flat("r_fwd")[fi] = fwd[0]

    # ------------------------------------------------------------------ stage 3
    def _gait(self, slots: np.ndarray) -> None:
        """Make walking final where the window around it is known."""
        a, nsub, gl = self._a, self.nsub, self.gait_len
        n = a["n_in"][slots]
        ended = a["ended"][slots]
        # the 3-s SD flags are final one second behind; activity two more; peaks with them
        avail = np.where(ended, n, n - 1)
        known = np.where(ended, n, avail - 2)
        target = np.where(ended, n, known - self.gait_ahead)
        done = a["n_gait"][slots]
        due = (target - done >= self.gait_tick) | (ended & (done < n))
        if not due.any():
            return
        sl, known, target, avail = slots[due], known[due], target[due], avail[due]
        lo = a["n_gait"][sl]
        a["n_gait"][sl] = np.maximum(lo, target)
        start = np.maximum(lo - self.gait_back, 0)
        width = int((known - start).max())
        js = start[:, None] + np.arange(width)
        act = _activity(self._flat("r_bits"), sl, start, width, avail) & (js < known[:, None])
        busy = act.any(axis=1)  # no active second: no steps, walking stays off
        if not busy.any():
            return
        sl, act, js, start, lo, target = (
            sl[busy],
            act[busy],
            js[busy],
            start[busy],
            lo[busy],
            target[busy],
        )
        m = sl.size
        # stretches of activity, numbered across all streams of the window
        pad = _GAIT_PAD
        full = np.zeros((m, width + pad), bool)
        full[:, :width] = act
        flat = full.reshape(-1)
        gid = np.cumsum(flat & ~np.concatenate([[False], flat[:-1]])).reshape(m, width + pad)
        ps = _ring_index(sl, start * nsub, width * nsub, gl)
        pk = self._g_pk.reshape(-1)[ps] & np.repeat(act, nsub, axis=1)
        ri, ci = np.nonzero(pk)
        pos = ri * (width + pad) * nsub + ci
        val = self._g_d.reshape(-1)[ps[ri, ci]]
        w0, w1, _steps = step_sequences(pos, val, gid[ri, ci // nsub], nsub, self.cfg)
        walk = walking_seconds(w0, w1, m * (width + pad), nsub, self.cfg)
        walk = walk.reshape(m, width + pad)[:, :width]
        # the seconds that became final
        new = (js >= lo[:, None]) & (js < target[:, None]) & walk
        fi = (sl[:, None] * _RING + (js & _RMASK))[new]
        bits = self._flat("r_bits")
        bits[fi] |= np.uint8(_WALK)

    # ------------------------------------------------------------------ stage 4
    def _settle(self, slots: np.ndarray, out: StepResult) -> None:
        """Posture and prompt clock of every second that can be settled."""
        a = self._a
        n = a["n_in"][slots]
        ended = a["ended"][slots]
        upto = np.minimum(np.where(ended, n, n - self.lag), a["n_gait"][slots])
        upto = np.where(a["oriented"][slots], upto, a["n_set"][slots])
        cnt = np.maximum(upto - a["n_set"][slots], 0)
        if not cnt.any():
            return
        keep = cnt > 0
        sl, cnt, n_sl = slots[keep], cnt[keep], n[keep]
        s0 = a["n_set"][sl]
        kmax = int(cnt.max())
        js = s0[:, None] + np.arange(kmax)
        use = np.arange(kmax)[None, :] < cnt[:, None]
        fi = sl[:, None] * _RING + (js & _RMASK)
        b = self._flat("r_bits")[fi]
        high = (b & _HIGH) > 0
        lying = high & _long_run(self._flat("r_bhigh"), sl, js, self.lie_s, n_sl)
        moving = ((b & _MOV) > 0) & _long_run(self._flat("r_bmov"), sl, js, self.move_s, n_sl)
        walking = ((b & _WALK) > 0) & ~high
        running = walking & ((b & _RUN) > 0)
        nonwear = (b & _NW) > 0
        post = np.full(js.shape, UPRIGHT_STATIC, np.int8)
        post[moving] = MOVING
        post[walking] = WALKING
        post[running] = RUNNING
        post[lying] = LYING
        post[nonwear] = NONWEAR
        if self._watch:
            fwd = np.where(nonwear, np.nan, self._flat("r_fwd")[fi]).astype(np.float32)
            for i, k in enumerate(sl.tolist()):
                if k in self._watch:
                    c = int(cnt[i])
                    self._watch[k].append((post[i, :c].copy(), fwd[i, :c].copy()))
        self._prompts(sl, js, post, use, n_sl, out)
        a["n_set"][sl] = s0 + cnt
        if self._report_settled:
            for i, k in enumerate(sl.tolist()):
                name = str(self.ids[k])
                out.settled[name] = out.settled.get(name, 0) + int(cnt[i])

    def _prompts(
        self,
        sl: np.ndarray,
        js: np.ndarray,
        post: np.ndarray,
        use: np.ndarray,
        n_sl: np.ndarray,
        out: StepResult,
    ) -> None:
        """Run the prompt clock of ``PromptEngine``, one second at a time for all streams."""
        a = self._a
        since, due, mrun = a["static_since"][sl], a["next_due"][sl], a["move_run"][sl]
        limit, snooze, clear = a["limit_s"][sl], a["snooze_s"][sl], a["clear_s"][sl]
        start, off = a["start_unix_s"][sl], a["utc_off_h"][sl]
        qs, qe = a["quiet_start_h"][sl], a["quiet_end_h"][sl]
        movement = np.isin(post, MOVEMENT_CLASSES)
        static = np.isin(post, STATIC_CLASSES)
        for j in range(js.shape[1]):
            t = js[:, j]
            live = use[:, j]
            mv = live & movement[:, j]
            mrun = np.where(mv, mrun + 1, mrun)
            clr = mv & (since >= 0) & (mrun >= clear)
            st = live & static[:, j]
            reset = (live & ~movement[:, j] & ~static[:, j]) | clr
            since = np.where(reset, -1, since)
            due = np.where(reset, -1, due)
            mrun = np.where(reset | st, 0, mrun)
            new = st & (since < 0)
            since = np.where(new, t, since)
            due = np.where(new, t + limit, due)
            hit = st & (due >= 0) & (due <= t)
            if hit.any():
                local = start + t + off * 3600.0
                q_end = _quiet_end(local, qs, qe)
                quiet = hit & np.isfinite(q_end)
                if quiet.any():
                    t_end = np.ceil(np.where(quiet, q_end, 0.0) - start - off * 3600.0)
                    due = np.where(quiet, np.maximum(t_end, t).astype(np.int64), due)
                fire = hit & ~quiet
                for i in np.flatnonzero(fire).tolist():
                    k = int(sl[i])
                    out.prompts.append(
                        EnginePrompt(
                            stream=str(self.ids[k]),
                            unix_s=float(start[i] + t[i]),
                            second=int(t[i]),
                            settled_at=int(n_sl[i]),
                        )
                    )
                due = np.where(fire, t + snooze, due)
        a["static_since"][sl], a["next_due"][sl], a["move_run"][sl] = since, due, mrun


def _rounds(queue: list[tuple[np.ndarray, object]]) -> list[tuple[np.ndarray, object]]:
    """Group queued single-stream batches of equal kind and length, keeping each stream's order.

    Consecutive single-stream batches of different streams become one multi-stream item;
    a stream's second batch, or a multi-stream frame, closes the group.
    """
    out: list[tuple[np.ndarray, object]] = []
    group: dict[tuple[str, int], list[tuple[int, object]]] = {}
    seen: set[int] = set()

    def flush() -> None:
        for (kind, _n), items in group.items():
            slots = np.array([k for k, _ in items])
            if kind == "raw":
                out.append((slots, np.concatenate([x for _, x in items])))
            else:
                parts = [x for _, x in items]
                out.append((slots, tuple(np.concatenate(f) for f in zip(*parts, strict=True))))
        group.clear()
        seen.clear()

    for slots, item in queue:
        if slots.size != 1:
            flush()
            out.append((slots, item))
            continue
        k = int(slots[0])
        if k in seen:
            flush()
        raw = isinstance(item, np.ndarray)
        n = item.shape[1] if isinstance(item, np.ndarray) else item[0].shape[1]  # type: ignore[index]
        group.setdefault(("raw" if raw else "feat", n), []).append((k, item))
        seen.add(k)
    flush()
    return out


def _ring_index(slots: np.ndarray, first: np.ndarray, width: int, size: int) -> np.ndarray:
    """Flat ring indices of positions ``first .. first + width - 1`` of each slot's ring."""
    off = (first % size)[:, None] + np.arange(width)
    off = np.where(off >= size, off - size, off)  # width < size: one wrap at most
    return slots[:, None] * size + off


def _angles(g: np.ndarray, up: np.ndarray, fwd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclination and forward angle of (M, k, 3) readings against per-stream directions."""
    u = unit_rows(np.asarray(g, np.float64))
    cu = dot3(u, up[:, None, :])
    cf = dot3(u, fwd[:, None, :])
    with np.errstate(invalid="ignore"):
        inc = np.degrees(np.arccos(np.clip(cu, -1.0, 1.0)))
    return inc.astype(np.float32), np.degrees(np.arctan2(-cf, cu)).astype(np.float32)


def _run_lengths(mask: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """Length of the True run up to each element along rows; ``carry`` continues row runs."""
    m = np.asarray(mask, bool)
    k = m.shape[1]
    idx = np.broadcast_to(np.arange(k), m.shape)
    # index of the last False at or before each element (-1: none in the row)
    last_false = np.maximum.accumulate(np.where(~m, idx, -1), axis=1)
    out = np.where(m, idx - last_false, 0)
    out = np.where(m & (last_false < 0), out + np.asarray(carry)[:, None], out)
    return out.astype(np.int64)


def _long_run(
    back: np.ndarray, sl: np.ndarray, js: np.ndarray, need: int, n: np.ndarray
) -> np.ndarray:
    """Whether the run through each second reaches ``need`` (``back``: flat run lengths).

    A run through second ``j`` of length ``b`` so far reaches ``need`` if ``b >= need`` or
    if it is still going ``need - b`` seconds later.
    """
    if need <= 1:
        return np.ones(js.shape, bool)
    base = sl[:, None] * _RING
    b = back[base + (js & _RMASK)]
    ahead = js + (need - b)
    known = (b < need) & (ahead < n[:, None])
    b2 = back[base + (np.where(known, ahead, js) & _RMASK)]
    return (b >= need) | (known & (b2 >= need))


def _activity(
    bits: np.ndarray, sl: np.ndarray, start: np.ndarray, width: int, avail: np.ndarray
) -> np.ndarray:
    """Active seconds of a window: a 3-s SD flag within 2 s, none beyond what is known."""
    js = start[:, None] + np.arange(-2, width + 2)
    have = (js >= 0) & (js < avail[:, None])
    f = have & ((bits[sl[:, None] * _RING + (js & _RMASK)] & _ACT0) > 0)
    return f[:, :-4] | f[:, 1:-3] | f[:, 2:-2] | f[:, 3:-1] | f[:, 4:]


def _quiet_end(local: np.ndarray, qs: np.ndarray, qe: np.ndarray) -> np.ndarray:
    """Local time at which the quiet hours around ``local`` end (inf where not quiet)."""
    day0 = np.floor(local / 86400.0) * 86400.0
    h = (local - day0) / 3600.0
    inf = np.full(local.shape, np.inf)
    same = qs == qe
    inner = (qs < qe) & (qs <= h) & (h < qe)
    wrap = qs > qe
    late = wrap & (h >= qs)
    early = wrap & ~late & (h < qe)
    out = np.where(inner | early, day0 + qe * 3600.0, inf)
    out = np.where(late, day0 + 86400.0 + qe * 3600.0, out)
    return np.where(same, inf, out)
