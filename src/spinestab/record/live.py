"""Live streams and their "keep moving" prompts in the record (issue 13.3).

- :class:`RecordStreamStore`: the :class:`~spinestab.wearable.live_hub.StreamStore` of the
  web app. One transaction per step of the hub: the streams' rows are read and locked
  (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``), each patient's prompt
  policy is read from the plan in force (:func:`prompt_policy`), and every stream's engine
  state and the prompts that fell due are written. A prompt is stored once per stream
  second (a database constraint), ``sent``, or ``snoozed`` while the patient has snoozed
  prompts (kept, never sent).
- :func:`prompt_policy`: prompts only under an approved active plan, with
  :meth:`~spinestab.wearable.config.PromptConfig.from_plan` of its movement-break goal; no
  approved plan, a blocked plan (a red flag is open) or a plan without the goal: none, and
  the reason says which.
- Services for the patient: :func:`snooze_prompts`, :func:`list_prompts`,
  :func:`live_status`.

Audit: a stream's creation, every step that stores prompts (one event with their count),
every snooze and every read of the prompts (a server-sent event connection is one read) are
audited. The engine state saved with each batch is not (it is no clinical content; one event
a second per patient would bury the trail).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from spinestab.errors import ConflictError, InputError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    find_patient,
    now,
    service,
    utc,
)
from spinestab.store.live_models import LivePrompt, LiveSnooze, LiveStream
from spinestab.store.models import Patient, PlanVersion
from spinestab.wearable.config import PromptConfig
from spinestab.wearable.engine import EnginePrompt
from spinestab.wearable.live_store import (
    DeliveredPrompt,
    PromptPolicy,
    StoredStream,
    StreamKey,
)

__all__ = [
    "MAX_SNOOZE_MIN",
    "LivePromptOut",
    "LiveStatus",
    "RecordStreamStore",
    "SnoozeOut",
    "list_prompts",
    "live_status",
    "prompt_policy",
    "snooze_prompts",
]

#: Longest snooze a patient may ask for, minutes (a day) [D]: input validation only.
MAX_SNOOZE_MIN = 1440


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class LivePromptOut(_Out):
    """A stored prompt (the ``prompt`` server-sent event's data)."""

    id: int
    stream: str
    due_at: dt.datetime
    second: int
    seq: int
    status: str
    plan_version: int | None


class SnoozeOut(_Out):
    """A snooze: no prompt is sent until ``until`` (None: snooze ended)."""

    until: dt.datetime | None
    minutes: float


class LiveStatus(_Out):
    """Whether the patient is prompted now, and their streams.

    ``reason``: ``plan`` (prompted by the approved plan's movement-break goal), ``no_plan``
    (no approved plan yet), ``blocked`` (the plan is blocked: a red flag is open) or
    ``no_goal`` (the approved plan has no movement-break goal).
    """

    prompting: bool
    reason: str
    plan_version: int | None
    static_limit_min: float | None
    snooze_min: float | None
    clear_move_min: float | None
    quiet_start_h: float | None
    quiet_end_h: float | None
    snoozed_until: dt.datetime | None
    streams: list[dict[str, Any]]
    last_prompt_id: int


# ------------------------------------------------------------------------------ policy
#: Prompt options of plan versions by id (a version's content never changes); None: the
#: plan has no movement-break goal.
_OPTIONS: dict[int, PromptConfig | None] = {}
_OPTIONS_MAX = 4096


def _options_of_plan(session: Session, plan_id: int) -> PromptConfig | None:
    """Prompt options of one (immutable) plan version, read once per process."""
    if plan_id in _OPTIONS:
        return _OPTIONS[plan_id]
    data = session.scalar(select(PlanVersion.data).where(PlanVersion.id == plan_id))
    try:
        options = PromptConfig.from_plan(data if isinstance(data, dict) else {})
    except InputError:
        options = None
    if len(_OPTIONS) >= _OPTIONS_MAX:
        _OPTIONS.clear()
    _OPTIONS[plan_id] = options
    return options


def _policy(session: Session, patient_id: int) -> PromptPolicy:
    """Prompt policy from the plan in force: active, or the latest blocked when newer."""
    row = session.execute(
        select(PlanVersion.id, PlanVersion.status, PlanVersion.version)
        .where(PlanVersion.patient_id == patient_id, PlanVersion.status.in_(("active", "blocked")))
        .order_by(PlanVersion.version.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return PromptPolicy(None, "no_plan")
    plan_id, status, version = row
    if status == "blocked":
        return PromptPolicy(None, "blocked", version)
    options = _options_of_plan(session, plan_id)
    if options is None:
        return PromptPolicy(None, "no_goal", version)
    return PromptPolicy(options, "plan", version)


def prompt_policy(uow: UnitOfWork, patient: Patient) -> PromptPolicy:
    """Return whether ``patient`` is prompted now and with which options (see the module)."""
    return _policy(uow.session, patient.id)


def _snoozed_until(session: Session, patient_id: int) -> dt.datetime | None:
    until = session.scalar(
        select(LiveSnooze.until)
        .where(LiveSnooze.patient_id == patient_id)
        .order_by(LiveSnooze.id.desc())
        .limit(1)
    )
    until = utc(until)
    return until if until is not None and until > now() else None


# ------------------------------------------------------------------------------ the store
class _Step:
    """One step's transaction (the hub's :class:`StepTransaction`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.uow = UnitOfWork(session)
        self._patients: dict[str, Patient] = {}
        self._rows: dict[StreamKey, LiveStream] = {}
        self._snooze: dict[int, dt.datetime | None] = {}

    def _patient(self, pseudonym: str) -> Patient:
        patient = self._patients.get(pseudonym)
        if patient is None:
            patient = self._patients[pseudonym] = find_patient(self.uow, pseudonym)
        return patient

    def load(self, key: StreamKey) -> StoredStream | None:
        patient = self._patient(key.patient)
        row = self.session.scalars(
            select(LiveStream)
            .where(LiveStream.patient_id == patient.id, LiveStream.name == key.name)
            .with_for_update()
        ).one_or_none()
        if row is None:
            return None
        self._rows[key] = row
        return StoredStream(
            fs_hz=row.fs_hz,
            units=row.units,
            start_unix_s=row.start_unix_s,
            utc_offset_h=row.utc_offset_h,
            next_seq=row.next_seq,
            end_unix_s=row.end_unix_s,
            state=row.state,
            version=row.version,
        )

    def policy(self, patient: str) -> PromptPolicy:
        return _policy(self.session, self._patient(patient).id)

    def save(
        self,
        key: StreamKey,
        stream: StoredStream,
        prompts: list[EnginePrompt],
        *,
        seq: int,
        policy: PromptPolicy,
        actor: str,
    ) -> list[DeliveredPrompt]:
        patient = self._patient(key.patient)
        who = Actor(username=actor, role="patient", patient=key.patient)
        row = self._rows.get(key)
        stamp = now()
        if row is None:
            row = LiveStream(
                patient_id=patient.id,
                name=key.name,
                fs_hz=stream.fs_hz,
                units=stream.units,
                start_unix_s=stream.start_unix_s,
                utc_offset_h=stream.utc_offset_h,
                created_at=stamp,
                created_by=actor,
            )
            self.session.add(row)
            row_is_new = True
        else:
            if row.version != stream.version - 1:
                raise ConflictError("stream saved by another process meanwhile", item=key.name)
            row_is_new = False
        row.next_seq = stream.next_seq
        row.end_unix_s = stream.end_unix_s
        row.state = stream.state
        row.version = stream.version
        row.updated_at = stamp
        self.session.flush()
        self._rows[key] = row
        if row_is_new:
            audit(
                self.uow,
                who,
                "create",
                "live_stream",
                row.id,
                patient=patient,
                detail={"stream": key.name, "fs_hz": stream.fs_hz, "units": stream.units},
            )
        if policy.options is None or not prompts:
            return []
        seconds = [p.second for p in prompts]
        have = set(
            self.session.scalars(
                select(LivePrompt.second).where(
                    LivePrompt.stream_id == row.id, LivePrompt.second.in_(seconds)
                )
            )
        )
        if patient.id not in self._snooze:
            self._snooze[patient.id] = _snoozed_until(self.session, patient.id)
        snoozed = self._snooze[patient.id] is not None
        new = []
        for p in prompts:
            if p.second in have:
                continue
            have.add(p.second)
            new.append(
                LivePrompt(
                    stream_id=row.id,
                    patient_id=patient.id,
                    second=p.second,
                    due_unix_s=p.unix_s,
                    seq=seq,
                    status="snoozed" if snoozed else "sent",
                    plan_version=policy.plan_version,
                    created_at=stamp,
                )
            )
        if not new:
            return []
        self.session.add_all(new)
        self.session.flush()
        audit(
            self.uow,
            who,
            "create",
            "live_prompt",
            new[0].id,
            patient=patient,
            detail={"stream": key.name, "count": len(new), "seq": seq, "snoozed": snoozed},
        )
        return [_delivered(p, key.name) for p in new]

    def delivered(self, key: StreamKey, seq: int) -> list[DeliveredPrompt]:
        row = self._rows.get(key)
        if row is None:
            return []
        rows = self.session.scalars(
            select(LivePrompt)
            .where(LivePrompt.stream_id == row.id, LivePrompt.seq == seq)
            .order_by(LivePrompt.id)
        ).all()
        return [_delivered(p, key.name) for p in rows]


def _delivered(p: LivePrompt, stream: str) -> DeliveredPrompt:
    return DeliveredPrompt(p.id, stream, p.due_unix_s, p.second, p.seq, p.status)


class RecordStreamStore:
    """The hub's store on the record's database (one transaction per step).

    Parameters
    ----------
    factory : sessionmaker
        The store's session factory (:func:`spinestab.store.open_store`).

    """

    def __init__(self, factory: sessionmaker[Session]) -> None:
        from spinestab.store.db import IMMEDIATE

        bind = factory.kw["bind"].execution_options(**IMMEDIATE)
        self.factory = sessionmaker(bind, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self, keys: list[StreamKey]) -> Iterator[_Step]:
        """One transaction for a step: committed when the block ends, else rolled back."""
        session = self.factory()
        try:
            yield _Step(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


# ------------------------------------------------------------------------------ services
def _prompt_out(p: LivePrompt, stream: str) -> LivePromptOut:
    return LivePromptOut(
        id=p.id,
        stream=stream,
        due_at=dt.datetime.fromtimestamp(p.due_unix_s, dt.UTC),
        second=p.second,
        seq=p.seq,
        status=p.status,
        plan_version=p.plan_version,
    )


@service("read", "live_prompt")
def list_prompts(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    *,
    after_id: int = 0,
    limit: int = 100,
    status: str | None = "sent",
    audited: bool = True,
) -> list[LivePromptOut]:
    """Return the prompts stored after ``after_id`` (oldest first, at most ``limit``).

    ``audited=False`` only for the further reads of one server-sent event connection,
    whose opening read was audited.
    """
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym)
    stmt = (
        select(LivePrompt, LiveStream.name)
        .join(LiveStream, LiveStream.id == LivePrompt.stream_id)
        .where(LivePrompt.patient_id == patient.id, LivePrompt.id > int(after_id))
        .order_by(LivePrompt.id)
        .limit(max(1, min(int(limit), 1000)))
    )
    if status is not None:
        stmt = stmt.where(LivePrompt.status == status)
    out = [_prompt_out(p, name) for p, name in uow.session.execute(stmt).all()]
    if audited:
        audit(uow, actor, "read", "live_prompt", None, patient=patient, detail={"n": len(out)})
    return out


@service("update", "live_snooze")
def snooze_prompts(
    uow: UnitOfWork, actor: Actor, pseudonym: str, *, minutes: float | None = None
) -> SnoozeOut:
    """Snooze the patient's prompts for ``minutes`` (default: the plan's snooze; 0 ends it).

    Raises
    ------
    InputError
        Minutes outside 0 to :data:`MAX_SNOOZE_MIN`, or no default without a plan's goal.

    """
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym, lock=True)
    if minutes is None:
        policy = _policy(uow.session, patient.id)
        if policy.options is None:
            raise InputError(
                "no prompts to snooze: " + _REASONS[policy.reason],
                item="minutes",
                expected="minutes given, or an approved plan with a movement-break goal",
            )
        minutes = policy.options.snooze_min
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not 0 <= minutes <= MAX_SNOOZE_MIN
    ):
        raise InputError(
            "snooze minutes out of range",
            item="minutes",
            value=minutes,
            expected=f"0 to {MAX_SNOOZE_MIN}",
        )
    stamp = now()
    until = stamp + dt.timedelta(minutes=float(minutes))
    row = LiveSnooze(
        patient_id=patient.id, until=until, created_at=stamp, created_by=actor.username
    )
    uow.session.add(row)
    uow.session.flush()
    audit(
        uow,
        actor,
        "update",
        "live_snooze",
        row.id,
        patient=patient,
        detail={"minutes": float(minutes)},
    )
    return SnoozeOut(until=until if minutes > 0 else None, minutes=float(minutes))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_REASONS = {
    "plan": "prompted by the approved plan",
    "no_plan": "no approved plan yet",
    "blocked": "the plan is blocked (a red flag is open): see your clinician",
    "no_goal": "the approved plan has no movement-break goal",
}


@service("read", "live_status")
def live_status(uow: UnitOfWork, actor: Actor, pseudonym: str) -> LiveStatus:
    """Whether the patient is prompted, with which options, and their streams."""
    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym)
    policy = _policy(uow.session, patient.id)
    streams = [
        {
            "name": s.name,
            "fs_hz": s.fs_hz,
            "units": s.units,
            "next_seq": s.next_seq,
            "until": dt.datetime.fromtimestamp(s.end_unix_s, dt.UTC).isoformat(),
            "updated_at": _iso(utc(s.updated_at)),
        }
        for s in uow.session.scalars(
            select(LiveStream).where(LiveStream.patient_id == patient.id).order_by(LiveStream.id)
        )
    ]
    last = uow.session.scalar(
        select(func.max(LivePrompt.id)).where(LivePrompt.patient_id == patient.id)
    )
    o = policy.options
    audit(uow, actor, "read", "live_status", None, patient=patient)
    return LiveStatus(
        prompting=o is not None,
        reason=policy.reason,
        plan_version=policy.plan_version,
        static_limit_min=o.static_limit_min if o else None,
        snooze_min=o.snooze_min if o else None,
        clear_move_min=o.clear_move_s / 60.0 if o else None,
        quiet_start_h=o.quiet_start_h if o else None,
        quiet_end_h=o.quiet_end_h if o else None,
        snoozed_until=_snoozed_until(uow.session, patient.id),
        streams=streams,
        last_prompt_id=int(last or 0),
    )
