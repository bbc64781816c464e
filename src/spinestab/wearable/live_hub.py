"""Live streams of many patients on one engine per server process (issue 13.3).

A phone or device posts batches of its stream (:mod:`~spinestab.wearable.stream_batch`);
the server hands each to :meth:`LiveHub.advance`. The hub keeps one
:class:`~spinestab.wearable.engine.LiveEngine` per sampling rate and advances every stream
with work in **one vectorised step**: requests that arrive while a step runs wait for it
and go together into the next one (a group commit, led by whichever waiting request finds
the engine free). Each step is persisted in one transaction of a :class:`StreamStore`
(the web app's is the patient record: :mod:`spinestab.record.live`):

1. the stored streams of the step are read (and locked); a stream whose stored version is
   not the one held in memory is restored from its stored state, so several server
   processes may share streams through the store (state in the database), and a restarted
   server resumes where the last one stopped;
2. each stream's prompt options come from the store (the patient's approved plan:
   :meth:`~spinestab.wearable.config.PromptConfig.from_plan`); without them the engine still
   follows the stream, and the store keeps no prompt;
3. batches are checked (:func:`check_batch`: units, time going backwards, gaps) and
   submitted, idempotent by sequence number (a repeated batch is a duplicate, an early one is
   held until the ones before it arrive); one ``step()`` runs for all streams;
4. every stream's state (bytes) and the prompts that fell due are saved; the store answers
   which prompts it delivered (snoozed ones are kept, not sent).

When the store fails, the streams of that step are dropped from memory: the next batch
reloads them from the store and a resent batch gives the same prompts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from spinestab.errors import ConflictError, InputError
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.engine import EnginePrompt, LiveEngine, StreamSetup
from spinestab.wearable.live_checks import (
    UNITS,
    StreamOptions,
    check_batch,
    detect_batch_units,
)
from spinestab.wearable.live_store import (
    DeliveredPrompt,
    PromptPolicy,
    StepTransaction,
    StoredStream,
    StreamKey,
    StreamStore,
)
from spinestab.wearable.stream_batch import StreamBatch

__all__ = [
    "BatchOutcome",
    "DeliveredPrompt",
    "LiveHub",
    "PromptPolicy",
    "StoredStream",
    "StreamKey",
    "StreamOptions",
    "StreamUnavailableError",
]

log = logging.getLogger(__name__)


class StreamUnavailableError(RuntimeError):
    """The store failed while a step was saved; nothing of the step was kept (resend)."""


@dataclass
class BatchOutcome:
    """What became of one batch.

    Attributes
    ----------
    status : str
        ``accepted``, ``duplicate`` (seen before; its prompts are the ones it delivered
        then) or ``held`` (early: waits for the batches before it).
    next_seq : int
        Next sequence number the stream expects.
    prompts : list of DeliveredPrompt
        Prompts this batch's step delivered.
    gap_s : float
        Device time missing before this batch, filled as not measured.
    units : str
        The stream's units.
    policy : PromptPolicy
        Whether the patient is prompted.

    """

    status: str
    next_seq: int
    prompts: list[DeliveredPrompt]
    gap_s: float
    units: str
    policy: PromptPolicy


@dataclass
class _Ticket:
    key: StreamKey
    batch: StreamBatch
    options: StreamOptions
    actor: str
    outcome: BatchOutcome | None = None
    error: BaseException | None = None
    done: bool = False
    gap_s: float = 0.0
    status: str = ""
    next_seq: int = 0


@dataclass
class _Held:
    """A stream held in memory: its engine and the store version its state matches."""

    fs_hz: int
    units: str
    start_unix_s: float
    utc_offset_h: float
    version: int
    last_used: float = field(default_factory=time.monotonic)


class LiveHub:
    """One engine per rate for all streams of a server process; steps persisted by a store.

    Parameters
    ----------
    store : StreamStore
        Where streams and prompts are kept.
    cfg : WearableConfig, optional, keyword-only
        Posture and gait thresholds (the offline ones).
    idle_s : float, keyword-only
        A stream without batches this long leaves memory (its state stays in the store).

    """

    def __init__(
        self, store: StreamStore, *, cfg: WearableConfig | None = None, idle_s: float = 900.0
    ) -> None:
        self.store = store
        self.cfg = cfg or WearableConfig()
        self.idle_s = float(idle_s)
        self._engines: dict[int, LiveEngine] = {}
        self._held: dict[StreamKey, _Held] = {}
        self._cv = threading.Condition()
        self._pending: list[_Ticket] = []
        self._stepping = False
        self.steps = 0
        self.batches = 0
        self._next_eviction = time.monotonic() + min(60.0, self.idle_s)

    # ------------------------------------------------------------------ public
    def advance(
        self,
        key: StreamKey,
        batch: StreamBatch,
        options: StreamOptions | None = None,
        *,
        actor: str = "device",
    ) -> BatchOutcome:
        """Take one batch of a stream and return what became of it (blocks for the step).

        ``options`` set up a new stream (its first batch); ``actor`` is the user sending.

        Raises
        ------
        InputError
            A bad batch (its kind says which: ``ConflictError`` for time going backwards or
            a stream not yet started).
        StreamUnavailableError
            The store failed; resend the batch.

        """
        ticket = _Ticket(key, batch, options or StreamOptions(), actor)
        with self._cv:
            self._pending.append(ticket)
            while not ticket.done:
                if self._stepping:
                    self._cv.wait()
                    continue
                self._stepping = True
                work, self._pending = self._pending, []
                self._cv.release()
                try:
                    self._run(work)
                finally:
                    self._cv.acquire()
                    self._stepping = False
                    self._cv.notify_all()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.outcome is not None
        return ticket.outcome

    @property
    def streams_in_memory(self) -> int:
        """Streams held in memory now."""
        return len(self._held)

    def memory_per_stream_bytes(self) -> int:
        """Bytes of engine arrays per stream slot (the largest engine)."""
        return max((e.memory_per_stream_bytes() for e in self._engines.values()), default=0)

    # ------------------------------------------------------------------ the step
    def _engine(self, fs_hz: int) -> LiveEngine:
        eng = self._engines.get(fs_hz)
        if eng is None:
            eng = self._engines[fs_hz] = LiveEngine(fs_hz=fs_hz, cfg=self.cfg)
            eng._report_settled = False
        return eng

    def _forget(self, key: StreamKey) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            eng = self._engines.get(held.fs_hz)
            if eng is not None and key.engine_id in eng.slot:
                eng.drop(key.engine_id)

    def _run(self, work: list[_Ticket]) -> None:
        keys = list(dict.fromkeys(t.key for t in work))
        try:
            with self.store.transaction(keys) as tx:
                self._step(work, keys, tx)
        except Exception as exc:  # the store failed: nothing of this step was kept
            for key in keys:
                self._forget(key)
            for t in work:
                if not t.done:
                    t.error = StreamUnavailableError(
                        "the stream store failed; nothing was kept: resend the batch"
                    )
                    t.error.__cause__ = exc
                    t.done = True
            if not isinstance(exc, InputError):
                log.error("live step not saved (%s)", type(exc).__name__)
            return
        finally:
            self._evict_idle()
        for t in work:
            t.done = True

    def _step(self, work: list[_Ticket], keys: list[StreamKey], tx: StepTransaction) -> None:
        """Load, submit, one engine step, save: the work of one step."""
        policies = self._load(work, keys, tx)
        took: dict[StreamKey, list[_Ticket]] = {}
        for t in work:
            if t.done:  # refused while loading
                continue
            try:
                self._submit(t, policies[t.key.patient])
            except InputError as exc:
                t.error, t.done = exc, True
                continue
            took.setdefault(t.key, []).append(t)
        due = self._advance_engines(took)
        for key, tickets in took.items():
            self._save(key, tickets, due.pop(key, []), policies[key.patient], tx)
        self.steps += 1
        self.batches += len(work)

    def _load(
        self, work: list[_Ticket], keys: list[StreamKey], tx: StepTransaction
    ) -> dict[str, PromptPolicy]:
        """Sync the streams with the store and read each patient's policy.

        A stream the store refuses (e.g. no such patient) fails its own batches only.
        """
        policies: dict[str, PromptPolicy] = {}
        refused: dict[StreamKey, InputError] = {}
        for key in keys:
            try:
                self._sync(key, tx.load(key))
                if key.patient not in policies:
                    policies[key.patient] = tx.policy(key.patient)
            except InputError as exc:
                refused[key] = exc
        for t in work:
            if t.key in refused:
                t.error, t.done = refused[t.key], True
        return policies

    def _advance_engines(
        self, took: dict[StreamKey, list[_Ticket]]
    ) -> dict[StreamKey, list[EnginePrompt]]:
        """One step of every engine with a batch waiting; the prompts due by stream."""
        due: dict[StreamKey, list[EnginePrompt]] = {}
        rates = {self._held[k].fs_hz for k in took if k in self._held}
        for fs in rates:
            for p in self._engines[fs].step().prompts:
                key = StreamKey(*p.stream.split("\x1f", 1))
                due.setdefault(key, []).append(p)
        return due

    def _save(
        self,
        key: StreamKey,
        tickets: list[_Ticket],
        prompts: list[EnginePrompt],
        policy: PromptPolicy,
        tx: StepTransaction,
    ) -> None:
        """Save one stream's state and prompts; answer each of its batches."""
        held = self._held[key]
        eng = self._engines[held.fs_hz]
        next_seq, end = eng.position(key.engine_id)
        stored = StoredStream(
            fs_hz=held.fs_hz,
            units=held.units,
            start_unix_s=held.start_unix_s,
            utc_offset_h=held.utc_offset_h,
            next_seq=next_seq,
            end_unix_s=end,
            state=eng.stream_state(key.engine_id),
            version=held.version + 1,
        )
        accepted = [t for t in tickets if t.status == "accepted"]
        seq = max((t.batch.seq for t in accepted), default=-1)
        actor = (accepted or tickets)[-1].actor
        sent = tx.save(key, stored, prompts, seq=seq, policy=policy, actor=actor)
        held.version += 1
        held.last_used = time.monotonic()
        for t in tickets:
            if t.status == "duplicate":
                mine = tx.delivered(key, t.batch.seq)
            else:
                mine = sent if t.batch.seq == seq else []
            t.outcome = BatchOutcome(t.status, next_seq, mine, t.gap_s, held.units, policy)

    def _sync(self, key: StreamKey, stored: StoredStream | None) -> None:
        """Make the engine hold the stream as the store has it (restore or forget)."""
        held = self._held.get(key)
        if stored is None:
            if held is not None:  # the store lost it (another database?): start again
                self._forget(key)
            return
        if held is not None and held.version == stored.version:
            return
        self._forget(key)
        eng = self._engine(stored.fs_hz)
        eng.restore_stream(key.engine_id, stored.state)
        self._held[key] = _Held(
            stored.fs_hz, stored.units, stored.start_unix_s, stored.utc_offset_h, stored.version
        )

    def _open(self, t: _Ticket, policy: PromptPolicy) -> _Held:
        b, o = t.batch, t.options
        if b.seq != 0:
            raise ConflictError(
                "stream not started: its first batch (seq 0) is needed first",
                item="seq",
                value=b.seq,
                expected="0",
            )
        if b.device_time_unix_s is None:
            raise InputError(
                "the first batch of a stream needs its device time",
                item="device_time",
                expected="unix seconds or ISO 8601",
            )
        units = o.units
        if b.features is not None:
            units = "g"  # features are in g by the format
        elif units == "auto":
            assert b.samples is not None
            seen = detect_batch_units(b.samples, b.fs_hz)
            if seen is None:
                raise InputError(
                    "cannot tell g from m/s^2 in the first batch",
                    item="units",
                    expected="declare units=g or units=m/s2, or a first batch of >= 1 s",
                )
            units = seen
        eng = self._engine(b.fs_hz)
        setup = StreamSetup(
            start_unix_s=b.device_time_unix_s,
            orientation=o.orientation,
            standing_first_s=o.standing_first_s,
            scale_to_g=UNITS[units],
            utc_offset_h=o.utc_offset_h,
            prompts=policy.options or PromptConfig(),
        )
        eng.open(t.key.engine_id, setup)
        held = _Held(b.fs_hz, units, b.device_time_unix_s, o.utc_offset_h, 0)
        self._held[t.key] = held
        return held

    def _submit(self, t: _Ticket, policy: PromptPolicy) -> None:
        held = self._held.get(t.key)
        opened = held is None
        if held is None:
            held = self._open(t, policy)
        eng = self._engines[held.fs_hz]
        sid = t.key.engine_id
        try:
            if policy.options is not None and not opened:
                eng.set_prompts(sid, policy.options)
            next_seq, end = eng.position(sid)
            if t.batch.seq >= next_seq:
                t.gap_s, _ = check_batch(
                    t.batch, units=held.units, next_seq=next_seq, end_unix_s=end
                )
            res = eng.submit(sid, t.batch)
        except InputError:
            if opened:  # a first batch refused: the stream was never started
                self._forget(t.key)
            raise
        t.status, t.next_seq = res.status, res.next_seq

    def _evict_idle(self) -> None:
        now = time.monotonic()
        if now < self._next_eviction:  # a look over every stream at most once a minute
            return
        self._next_eviction = now + min(60.0, self.idle_s)
        limit = now - self.idle_s
        for key in [k for k, h in self._held.items() if h.last_used < limit]:
            self._forget(key)
