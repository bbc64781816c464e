"""Many live streams advanced together: raw trunk samples in, postures and prompts out.

Long module: one state machine over the shared ring arrays of every stream; its per-second
steps read and write the same arrays.

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

The module is longer than most (about 600 lines): it is the engine's whole interface (slots,
the idempotent input layer, stepping, closing, state to bytes), which shares one state
layout; the array stages are in :mod:`spinestab.wearable._engine_stages`.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable._engine_stages import (
    _CHUNK_S,
    _RING,
    FIELDS,
    EnginePrompt,
    EngineStages,
    StepResult,
    _rounds,
)
from spinestab.wearable._state_bytes import pack_arrays, unpack_arrays
from spinestab.wearable.calibrate import Calibration
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.features import _nsub
from spinestab.wearable.gait import signal_extent
from spinestab.wearable.orientation import Orientation
from spinestab.wearable.recording import processing_rate
from spinestab.wearable.stream_batch import StreamBatch, batch_from_bytes, batch_to_bytes

__all__ = ["EnginePrompt", "LiveEngine", "StepResult", "StreamSetup", "SubmitResult"]

log = logging.getLogger(__name__)

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
class SubmitResult:
    """What became of a submitted batch: ``"accepted"``, ``"duplicate"`` or ``"held"``."""

    status: str
    next_seq: int


class LiveEngine(EngineStages):
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
        for name, (shape, dtype, fill) in FIELDS.items():
            arr = np.full((capacity, *shape), fill, dtype)
            if name in self._a:
                arr[:old] = self._a[name]
            self._a[name] = arr
        ring_arrays: tuple[tuple[str, int, type], ...] = (
            ("_tail_v", self.tail, np.float32),
            ("_g_d", self.gait_len, np.float32),
            ("_g_pk", self.gait_len, bool),
            ("_d_tail", 2, np.float32),
        )
        for attr, width, kind in ring_arrays:
            arr = np.zeros((capacity, width), kind)
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
        for name, (_shape, _dtype, fill) in FIELDS.items():
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
        self.ids[k] = stream
        self.slot[stream] = k
        self.set_prompts(stream, setup.prompts)

    def set_prompts(self, stream: str, prompts: PromptConfig) -> None:
        """Change a stream's prompt options (a new plan version); its clock keeps running."""
        k = self._slot_of(stream)
        a = self._a
        a["limit_s"][k] = round(prompts.static_limit_min * 60)
        a["snooze_s"][k] = round(prompts.snooze_min * 60)
        a["clear_s"][k] = round(prompts.clear_move_s)
        a["quiet_start_h"][k] = prompts.quiet_start_h
        a["quiet_end_h"][k] = prompts.quiet_end_h

    def position(self, stream: str) -> tuple[int, float]:
        """Return the next sequence number expected and the device time where it starts."""
        k = self._slot_of(stream)
        a = self._a
        end = float(a["start_unix_s"][k]) + int(a["n_samples"][k]) / self.fs
        return int(a["next_seq"][k]), end

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
            early = held.pop(int(a["next_seq"][k]))
            try:
                self._take(k, early)
            except InputError as exc:  # checked before anything changed: wait for a resend
                log.info("%s: held batch %d refused (%s)", stream, early.seq, exc.message)
                break
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
                feats: tuple[np.ndarray, ...] = item  # type: ignore[assignment]
                for c0 in range(0, feats[0].shape[1], c):
                    self._arrive(slots, tuple(f[:, c0 : c0 + c] for f in feats))
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

    # ------------------------------------------------------------------ state to bytes
    def stream_state(self, stream: str) -> bytes:
        """Return the whole state of one stream as bytes (no pickle), for :meth:`restore_stream`.

        The format: :mod:`spinestab.wearable._state_bytes` (``.npz`` bytes of earlier
        versions are still read).

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
        return pack_arrays(arrays)

    def restore_stream(self, stream: str, data: bytes) -> None:
        """Open ``stream`` from :meth:`stream_state` bytes (after a server restart).

        Raises
        ------
        InputError
            For bytes that are not a stream state of an engine set up like this one.

        """
        if stream in self.slot:
            raise InputError("stream already open", item="stream", value=stream)
        if data[:2] == b"PK":  # an .npz, as states were written before pack_arrays
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    arrays = {name: z[name] for name in z.files}
            except (ValueError, OSError, EOFError) as exc:
                raise InputError("not a stream state", value=str(exc)[:200]) from None
        else:
            arrays = unpack_arrays(data)
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
        for name, (shape, dtype, _fill) in FIELDS.items():
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
