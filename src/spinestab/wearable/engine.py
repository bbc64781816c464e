"""Many live streams advanced together: raw trunk samples in, postures and prompts out.

:class:`LiveEngine` is the server side of :class:`~spinestab.wearable.live.LiveMonitor`: the
same rules, the same postures and the same prompts, for many streams at once. Every stream's
state lives in rows of a few arrays (ring buffers of per-second values, of the step signal
and of the prompt clock), so one :meth:`LiveEngine.step` does the work of a second for all
streams with a few array operations, never a Python loop per stream or per sample.

The stages, each as in the offline pipeline and each looking a bounded way back and ahead:

1. per second (on arrival): the features of :func:`~spinestab.wearable.features.second_features`,
   the trunk angles from the stream's upright reference, the still segments of non-wear
   (:mod:`~spinestab.wearable.nonwear`, counted as they grow, as ``LiveMonitor`` does), and
   the run lengths that lying (``lie_min_s``) and moving (``min_move_s``) need;
2. per sample: the step signal and its peaks (:mod:`~spinestab.wearable.gait`), computed
   once from a short tail of the previous second;
3. every ``gait_tick_s``: step sequences and walking over a window reaching
   ``gait_history_s`` back and ``gait_lookahead_s`` ahead of the seconds it makes final;
4. per settled second (``lag_s`` after it was measured): the posture and the prompt clock
   (:class:`~spinestab.wearable.prompts.PromptEngine`'s rules, one second at a time).

Input is idempotent by sequence number (:meth:`LiveEngine.submit`): a batch seen before is
ignored, one that arrives early waits for the batches before it, so a repeated or reordered
batch never duplicates a prompt. A stream's whole state goes to bytes and back
(:meth:`LiveEngine.stream_state`, :meth:`LiveEngine.restore_stream`): a server restart
resumes where it stopped. Batch formats (JSON and a compact binary one):
:mod:`spinestab.wearable.stream_batch`.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.calibrate import Calibration, still_mask
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.features import _nsub, second_features
from spinestab.wearable.gait import (
    peak_flags,
    sd3,
    second_sums,
    signal_extent,
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
from spinestab.wearable.recording import processing_rate
from spinestab.wearable.stream_batch import StreamBatch, batch_from_bytes, batch_to_bytes

__all__ = ["EnginePrompt", "LiveEngine", "StepResult", "StreamSetup", "SubmitResult"]

log = logging.getLogger(__name__)

_RING = 256  # seconds of per-second history per stream (power of two)
_CHUNK_S = 16  # seconds of a stream taken per inner round of a step (bounds the rings)
_SUMS = 32  # seconds of per-second sums kept for the 3-s SD (> _CHUNK_S + 3)
_RMASK, _SMASK = _RING - 1, _SUMS - 1  # both powers of two: position & mask = position % size
_SAT = 30000  # run lengths are kept up to this many seconds (more than any rule needs)
# bits of the per-second flags
_HIGH, _MOV, _NW, _RUN, _ACT0, _WALK = 1, 2, 4, 8, 16, 32
_GAIT_PAD = 8  # seconds between streams laid end to end for the gait stage (> merge gap)
_MAX_PENDING = 64  # early batches a stream may hold while one before them is missing
_MAX_GAP_S = 3600.0  # a device-time gap up to this long is filled as missing


@dataclass(frozen=True)
class StreamSetup:
    """How one stream is worn and prompted.

    Attributes
    ----------
    start_unix_s : float
        Device time of the stream's first sample.
    orientation : Orientation, optional
        Upright and forward directions of the sensor as worn (e.g. from an earlier
        ``wearable_summary.json``); without it the first ``standing_first_s`` seconds are a
        declared standing period, as in :class:`~spinestab.wearable.live.LiveMonitor`.
    standing_first_s : int
        Seconds of upright standing at the start (used when no orientation is given).
    calibration : Calibration, optional
        Gain and offset correction.
    scale_to_g : float
        Factor from the stream's units to g (``1 / 9.80665`` for m/s^2).
    utc_offset_h : float
        Local clock offset for quiet hours.
    prompts : PromptConfig
        Static limit, snooze, movement that clears the clock and quiet hours, per patient
        (from the plan's movement-break goal).

    """

    start_unix_s: float
    orientation: Orientation | None = None
    standing_first_s: int = 10
    calibration: Calibration | None = None
    scale_to_g: float = 1.0
    utc_offset_h: float = 0.0
    prompts: PromptConfig = field(default_factory=PromptConfig)


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


@dataclass(frozen=True)
class SubmitResult:
    """What became of a submitted batch: ``"accepted"``, ``"duplicate"`` or ``"held"``."""

    status: str
    next_seq: int


@dataclass
class StepResult:
    """Prompts and settled seconds of one :meth:`LiveEngine.step`."""

    prompts: list[EnginePrompt] = field(default_factory=list)
    settled: dict[str, int] = field(default_factory=dict)


# per-slot arrays: name -> (shape after the slot axis, dtype, fill)
_FIELDS: dict[str, tuple[tuple[int, ...], str, float]] = {
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


class LiveEngine:
    """Posture and prompts for many raw trunk streams, advanced together.

    Parameters
    ----------
    fs_hz : int, keyword-only
        Sampling rate of every stream: 25, 30, 50, 100 or 200 Hz (one engine per rate).
    cfg : WearableConfig, optional, keyword-only
        Posture and gait thresholds (the offline ones); prompt options are per stream.
    lag_s : int, optional, keyword-only
        Seconds between a sample and the settling of its second; default and minimum
        ``lie_min_s`` (lying must last that long), which gives the offline postures.
    gait_history_s, gait_lookahead_s, gait_tick_s : int, keyword-only
        The gait stage's window (see the module notes); ``gait_lookahead_s + gait_tick_s +
        4`` must not exceed ``lag_s``.
    capacity : int, keyword-only
        Streams held before the arrays grow.

    Examples
    --------
    >>> import numpy as np
    >>> eng = LiveEngine(fs_hz=25)
    >>> eng.open("p1", StreamSetup(start_unix_s=0.0, standing_first_s=10))
    >>> upright = np.tile([1.0, 0.0, 0.0], (25 * 600, 1))
    >>> eng.submit("p1", StreamBatch(seq=0, device_time_unix_s=0.0, samples=upright)).status
    'accepted'
    >>> res = eng.step()
    >>> res.settled["p1"]
    480

    """

    def __init__(
        self,
        *,
        fs_hz: int = 25,
        cfg: WearableConfig | None = None,
        lag_s: int | None = None,
        gait_history_s: int = 15,
        gait_lookahead_s: int = 15,
        gait_tick_s: int = 5,
        capacity: int = 64,
    ) -> None:
        if processing_rate(fs_hz) != fs_hz:
            raise InputError(
                "the engine needs a rate the pipeline uses without resampling",
                item="fs_hz",
                value=fs_hz,
                expected="25, 30, 50, 100 or 200 Hz",
            )
        self.cfg = cfg or WearableConfig()
        self.fs = int(fs_hz)
        self.nsub = _nsub(self.fs)
        self.lie_s = int(self.cfg.lie_min_s)
        self.move_s = int(self.cfg.min_move_s)
        self.lag = int(max(np.ceil(self.cfg.lie_min_s), 15) if lag_s is None else lag_s)
        self.gait_back = int(gait_history_s)
        self.gait_ahead = int(gait_lookahead_s)
        self.gait_tick = max(1, int(gait_tick_s))
        if self.lag < max(self.lie_s, self.gait_ahead + self.gait_tick + 4, self.move_s):
            raise InputError(
                "lag too short for the rules to settle a second",
                item="lag_s",
                value=self.lag,
                expected=f">= {max(self.lie_s, self.gait_ahead + self.gait_tick + 4)} s",
            )
        if self.lag + _CHUNK_S + 8 > _RING:
            raise InputError("lag longer than the engine's history", item="lag_s", value=lag_s)
        self.before, self.after = signal_extent(self.nsub, self.cfg)
        self.tail = self.before + self.after
        win = self.gait_back + self.gait_ahead + self.gait_tick + _CHUNK_S + 8
        self.gait_ring_s = win
        self.gait_len = self.gait_ring_s * self.nsub
        self.nonwear_s = round(self.cfg.nonwear_min * 60)
        self.cos_turn = float(np.cos(np.radians(self.cfg.nonwear_turn_deg)))
        self.ids: list[str | None] = []
        self.slot: dict[str, int] = {}
        self._a: dict[str, np.ndarray] = {}
        self._tail_v = np.zeros((0, self.tail), np.float32)
        self._g_d = np.zeros((0, self.gait_len), np.float32)
        self._g_pk = np.zeros((0, self.gait_len), bool)
        self._d_tail = np.zeros((0, 2), np.float32)  # the last two step-signal values
        self._rest: dict[int, np.ndarray] = {}  # samples of an unfinished second
        self._pending: dict[int, dict[int, StreamBatch]] = {}  # early batches by seq
        self._standing: dict[int, list[np.ndarray]] = {}  # g rows before an orientation
        self._queue: list[tuple[np.ndarray, object]] = []  # (slots, samples or features)
        self._watch: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._report_settled = True
        self._grow(max(1, capacity))

    # ------------------------------------------------------------------ slots and state
    def _grow(self, capacity: int) -> None:
        old = len(self.ids)
        if capacity <= old:
            return
        for name, (shape, dtype, fill) in _FIELDS.items():
            arr = np.full((capacity, *shape), fill, dtype)
            if name in self._a:
                arr[:old] = self._a[name]
            self._a[name] = arr
        for attr, width, dtype in (
            ("_tail_v", self.tail, np.float32),
            ("_g_d", self.gait_len, np.float32),
            ("_g_pk", self.gait_len, bool),
            ("_d_tail", 2, np.float32),
        ):
            arr = np.zeros((capacity, width), dtype)
            arr[:old] = getattr(self, attr)
            setattr(self, attr, arr)
        self.ids.extend([None] * (capacity - old))

    @property
    def streams(self) -> list[str]:
        """Ids of the open streams."""
        return [s for s in self.ids if s is not None]

    def memory_per_stream_bytes(self) -> int:
        """Bytes of array state per stream slot."""
        n = len(self.ids)
        total = sum(a.nbytes for a in self._a.values())
        total += self._tail_v.nbytes + self._g_d.nbytes + self._g_pk.nbytes + self._d_tail.nbytes
        return int(total // max(n, 1))

    def _free_slot(self) -> int:
        try:
            return self.ids.index(None)
        except ValueError:
            n = len(self.ids)
            self._grow(2 * n)
            return n

    def _reset_slot(self, k: int) -> None:
        for name, (_shape, _dtype, fill) in _FIELDS.items():
            self._a[name][k] = fill
        self._tail_v[k] = 0.0
        self._g_d[k] = np.nan
        self._g_pk[k] = False
        self._d_tail[k] = np.nan
        for d in (self._rest, self._pending, self._standing, self._watch):
            d.pop(k, None)

    def open(self, stream: str, setup: StreamSetup) -> None:
        """Open a stream.

        Raises
        ------
        InputError
            For an id already open, or a setup the rules cannot work with.

        """
        if stream in self.slot:
            raise InputError("stream already open", item="stream", value=stream)
        if setup.orientation is None and setup.standing_first_s < 10:
            raise InputError(
                "a declared standing period needs at least 10 seconds",
                item="standing_first_s",
                value=setup.standing_first_s,
                expected=">= 10",
            )
        if setup.orientation is None and setup.standing_first_s > self.lag:
            raise InputError(
                "declared standing period longer than the engine's lag",
                item="standing_first_s",
                value=setup.standing_first_s,
                expected=f"<= {self.lag} s",
            )
        if not (np.isfinite(setup.scale_to_g) and setup.scale_to_g > 0):
            raise InputError("scale must be a positive number", item="scale_to_g")
        k = self._free_slot()
        self._reset_slot(k)
        a = self._a
        a["start_unix_s"][k] = setup.start_unix_s
        a["scale"][k] = setup.scale_to_g
        a["utc_off_h"][k] = setup.utc_offset_h
        cal = setup.calibration
        if cal is not None and cal.status.startswith("ok"):
            a["cal_ok"][k] = True
            a["cal_off"][k] = cal.offset_g
            a["cal_gain"][k] = cal.gain
        a["standing_s"][k] = setup.standing_first_s
        if setup.orientation is not None:
            self._set_orientation(k, setup.orientation)
        else:
            self._standing[k] = []
        p = setup.prompts
        a["limit_s"][k] = round(p.static_limit_min * 60)
        a["snooze_s"][k] = round(p.snooze_min * 60)
        a["clear_s"][k] = round(p.clear_move_s)
        a["quiet_start_h"][k] = p.quiet_start_h
        a["quiet_end_h"][k] = p.quiet_end_h
        self.ids[k] = stream
        self.slot[stream] = k

    def _set_orientation(self, k: int, o: Orientation) -> None:
        self._a["up"][k] = o.up
        self._a["fwd_dir"][k] = o.forward
        self._a["right"][k] = o.right
        self._a["oriented"][k] = True

    def watch(self, stream: str) -> None:
        """Keep every settled posture and forward angle of ``stream`` (see :meth:`watched`)."""
        self._watch[self._slot_of(stream)] = []

    def watched(self, stream: str) -> tuple[np.ndarray, np.ndarray]:
        """Postures and forward angles settled so far for a watched stream."""
        parts = self._watch.get(self._slot_of(stream), [])
        if not parts:
            return np.zeros(0, np.int8), np.zeros(0, np.float32)
        return np.concatenate([p for p, _ in parts]), np.concatenate([f for _, f in parts])

    def _slot_of(self, stream: str) -> int:
        try:
            return self.slot[stream]
        except KeyError:
            raise InputError("no such stream", item="stream", value=stream) from None

    # ------------------------------------------------------------------ input layer
    def submit(self, stream: str, batch: StreamBatch) -> SubmitResult:
        """Take one batch of a stream; idempotent by ``batch.seq``.

        A batch with a sequence number seen before is a duplicate and ignored; one ahead of
        the next expected number is held until the batches before it arrive. Samples are
        placed by device time: a gap of up to an hour since the last sample is filled as
        missing; a batch that overlaps samples already taken is refused.

        Returns
        -------
        SubmitResult

        """
        k = self._slot_of(stream)
        a = self._a
        if a["ended"][k]:
            raise InputError("stream is closed", item="stream", value=stream)
        if batch.fs_hz != self.fs:
            raise InputError(
                "batch sampled at another rate than the stream",
                item="fs_hz",
                value=batch.fs_hz,
                expected=f"{self.fs} Hz",
            )
        nxt = int(a["next_seq"][k])
        if batch.seq < nxt:
            return SubmitResult("duplicate", nxt)
        if batch.seq > nxt:
            held = self._pending.setdefault(k, {})
            if batch.seq in held:
                return SubmitResult("duplicate", nxt)
            if len(held) >= _MAX_PENDING:
                raise InputError(
                    "too many batches waiting for a missing one",
                    item="seq",
                    value=f"waiting for {nxt}, holding {len(held)}",
                    expected=f"at most {_MAX_PENDING} early batches",
                )
            held[batch.seq] = batch
            return SubmitResult("held", nxt)
        self._take(k, batch)
        held = self._pending.get(k, {})
        while int(a["next_seq"][k]) in held:
            self._take(k, held.pop(int(a["next_seq"][k])))
        if not held:
            self._pending.pop(k, None)
        return SubmitResult("accepted", int(a["next_seq"][k]))

    def _take(self, k: int, batch: StreamBatch) -> None:
        """Queue an in-order batch as whole seconds (samples of an unfinished one wait)."""
        a, fs = self._a, self.fs
        rest = self._rest.get(k)
        have = int(a["n_samples"][k])
        expected_t = float(a["start_unix_s"][k]) + have / fs
        t = expected_t if batch.device_time_unix_s is None else batch.device_time_unix_s
        lead = round((t - expected_t) * fs)
        if lead < 0:
            raise InputError(
                "batch overlaps samples already taken",
                item="device_time",
                value=batch.device_time_unix_s,
                expected=f">= {expected_t:.3f}",
            )
        if lead > _MAX_GAP_S * fs:
            raise InputError(
                "gap since the last batch too long to fill; open a new stream",
                item="device_time",
                value=f"{lead / fs:.0f} s",
                expected=f"at most {_MAX_GAP_S:.0f} s",
            )
        if batch.features is not None:
            f = batch.features
            if rest is not None or lead % fs or f.vert.shape[1] != self.nsub:
                raise InputError(
                    "features must cover whole seconds of the stream",
                    item="features",
                    value=f"{f.vert.shape[1]} sub-samples, offset {lead} samples",
                    expected=f"{self.nsub} sub-samples a second, aligned to the stream",
                )
            gap = lead // fs
            nan3 = np.full((gap, 3), np.nan, np.float32)
            feats = (
                np.concatenate([nan3, f.g])[None],
                np.concatenate([np.full(gap, np.nan, np.float32), f.sd])[None],
                np.concatenate([np.zeros((gap, self.nsub), np.float32), f.vert])[None],
                np.concatenate([np.ones(gap, bool), f.missing])[None],
            )
            if gap + f.n_seconds:
                self._queue.append((np.array([k]), feats))
            a["n_samples"][k] = have + (gap + f.n_seconds) * fs
        else:
            assert batch.samples is not None
            x = batch.samples
            if lead:
                x = np.concatenate([np.full((lead, 3), np.nan, np.float32), x])
            a["n_samples"][k] = have + x.shape[0]
            if rest is not None:
                x = np.concatenate([rest, x])
            whole = (x.shape[0] // fs) * fs
            if x.shape[0] > whole:
                self._rest[k] = x[whole:].copy()
            else:
                self._rest.pop(k, None)
            if whole:
                self._queue.append((np.array([k]), x[None, :whole]))
        a["next_seq"][k] = batch.seq + 1

    def submit_frames(self, streams: list[str], seqs: np.ndarray, samples: np.ndarray) -> int:
        """Take one batch of whole seconds from each of many streams at once.

        Parameters
        ----------
        streams : list of str
            Distinct stream ids.
        seqs : (M,) int array
            Each batch's sequence number.
        samples : (M, k * fs, 3) array
            Each stream's next samples, in order, following its previous batch without a
            gap.

        Returns
        -------
        int
            Batches accepted; duplicates are skipped; a batch that is not simply the next
            one (early, or with a stream holding an unfinished second) goes through
            :meth:`submit`.

        """
        x = np.asarray(samples, np.float32)
        if x.ndim != 3 or x.shape[2] != 3 or x.shape[1] % self.fs:
            raise InputError(
                "frames must be (streams, whole seconds of samples, 3)",
                value=x.shape,
                expected=f"(M, k * {self.fs}, 3)",
            )
        slots = np.array([self._slot_of(s) for s in streams], np.int64)
        if np.unique(slots).size != slots.size:
            raise InputError("a stream appears twice in one frame", item="streams")
        seqs = np.asarray(seqs, np.int64)
        a = self._a
        nxt = a["next_seq"][slots]
        simple = (seqs == nxt) & ~a["ended"][slots]
        if self._rest or self._pending:
            simple &= np.array(
                [k not in self._rest and k not in self._pending for k in slots.tolist()]
            )
        if simple.any():
            self._queue.append((slots[simple], x[simple]))
            a["next_seq"][slots[simple]] += 1
            a["n_samples"][slots[simple]] += x.shape[1]
        taken = int(simple.sum())
        for i in np.flatnonzero(~simple & (seqs >= nxt)).tolist():
            # early, or behind an unfinished second: placed right after the batch before it
            batch = StreamBatch(int(seqs[i]), None, samples=x[i], fs_hz=self.fs)
            res = self.submit(streams[i], batch)
            taken += res.status == "accepted"
        return taken

    # ------------------------------------------------------------------ the step
    def step(self) -> StepResult:
        """Process everything submitted: features, gait, settled postures and prompts."""
        out = StepResult()
        queue, self._queue = self._queue, []
        fs, c = self.fs, _CHUNK_S
        for slots, item in _rounds(queue):
            if isinstance(item, np.ndarray):  # raw samples (M, k * fs, 3)
                for c0 in range(0, item.shape[1], c * fs):
                    self._arrive(slots, self._features(slots, item[:, c0 : c0 + c * fs]))
                    self._gait(slots)
                    self._settle(slots, out)
            else:  # per-second features
                for c0 in range(0, item[0].shape[1], c):
                    self._arrive(slots, tuple(f[:, c0 : c0 + c] for f in item))
                    self._gait(slots)
                    self._settle(slots, out)
        return out

    def close(self, stream: str) -> StepResult:
        """End a stream: settle every remaining second (as offline at a recording's end)."""
        k = self._slot_of(stream)
        out = self.step()
        a = self._a
        rest = self._rest.pop(k, None)
        if rest is not None:
            log.info("%s: %d samples of an unfinished second dropped", stream, rest.shape[0])
        slots = np.array([k])
        if not a["ended"][k]:
            a["ended"][k] = True
            n = int(a["n_in"][k])
            if n >= 1:  # the last second's SD and activity, with nothing beyond the end
                last = np.array([n - 1])
                self._finish_sd(slots, last, last, np.array([n]))
                # the step signal of the last samples reaches beyond the end: none, no peaks
                q = n * self.nsub - self.after - 1 + np.arange(self.after + 1)
                self._g_pk[k, q % self.gait_len] = False
                self._g_d[k, (q[1:]) % self.gait_len] = np.nan
                self._d_tail[k] = np.nan
        self._gait(slots)
        self._settle(slots, out)
        return out

    def drop(self, stream: str) -> None:
        """Forget a stream (its slot is reused)."""
        k = self._slot_of(stream)
        self._reset_slot(k)
        self.ids[k] = None
        del self.slot[stream]

    # ------------------------------------------------------------------ stage 1 and 2
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

    # ------------------------------------------------------------------ state to bytes
    def stream_state(self, stream: str) -> bytes:
        """Return the whole state of one stream as bytes (no pickle), for :meth:`restore_stream`.

        Raises
        ------
        InputError
            While the stream has submitted batches not yet stepped (call :meth:`step`).

        """
        k = self._slot_of(stream)
        if any(k in s.tolist() for s, _ in self._queue):
            raise InputError("stream has batches not yet processed: step() first", value=stream)
        arrays: dict[str, np.ndarray] = {f"f_{n}": v[k] for n, v in self._a.items()}
        arrays["tail_v"] = self._tail_v[k]
        arrays["g_d"] = self._g_d[k]
        arrays["g_pk"] = self._g_pk[k]
        arrays["d_tail"] = self._d_tail[k]
        arrays["rest"] = self._rest.get(k, np.zeros((0, 3), np.float32))
        held = self._pending.get(k, {})
        for seq, b in held.items():
            arrays[f"held_{seq}"] = np.frombuffer(batch_to_bytes(b), np.uint8)
        if k in self._standing:
            rows = self._standing[k]
            arrays["standing"] = np.concatenate(rows) if rows else np.zeros((0, 4), np.float32)
        arrays["meta"] = np.array(
            [
                self.fs,
                _RING,
                self.gait_len,
                self.tail,
                self.lag,
                self.gait_back,
                self.gait_ahead,
                self.gait_tick,
            ],
            np.int64,
        )
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def restore_stream(self, stream: str, data: bytes) -> None:
        """Open ``stream`` from :meth:`stream_state` bytes (after a server restart).

        Raises
        ------
        InputError
            For bytes that are not a stream state of an engine set up like this one.

        """
        if stream in self.slot:
            raise InputError("stream already open", item="stream", value=stream)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except (ValueError, OSError, EOFError) as exc:
            raise InputError("not a stream state", value=str(exc)[:200]) from None
        meta = arrays.get("meta")
        mine = [
            self.fs,
            _RING,
            self.gait_len,
            self.tail,
            self.lag,
            self.gait_back,
            self.gait_ahead,
            self.gait_tick,
        ]
        if meta is None or meta.tolist() != mine:
            raise InputError(
                "stream state of an engine set up differently",
                value=None if meta is None else meta.tolist(),
                expected=str(mine),
            )
        k = self._free_slot()
        self._reset_slot(k)
        for name, (shape, dtype, _fill) in _FIELDS.items():
            v = arrays.get(f"f_{name}")
            if v is None or v.shape != shape:
                raise InputError("stream state lacks a field", item=name)
            self._a[name][k] = v.astype(dtype)
        self._tail_v[k] = arrays["tail_v"]
        self._g_d[k] = arrays["g_d"]
        self._g_pk[k] = arrays["g_pk"]
        self._d_tail[k] = arrays["d_tail"]
        if arrays["rest"].shape[0]:
            self._rest[k] = arrays["rest"].astype(np.float32)
        held = {}
        for name, v in arrays.items():
            if name.startswith("held_"):
                b = batch_from_bytes(v.tobytes())
                held[b.seq] = b
        if held:
            self._pending[k] = held
        if "standing" in arrays:
            self._standing[k] = [arrays["standing"]]
        self.ids[k] = stream
        self.slot[stream] = k


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
                out.append((slots, np.concatenate([x for _, x in items])))  # type: ignore[misc]
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
        n = item.shape[1] if raw else item[0].shape[1]  # type: ignore[index,union-attr]
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
