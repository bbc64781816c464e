"""Session logs and follow-up outcome values, saved against the current active plan."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from spinestab.errors import AlreadyStoredError, ConflictError, InputError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    canonical_hash,
    current_episode,
    find_patient,
    now,
    service,
    store_file,
)
from spinestab.record.schemas import SessionsSaved
from spinestab.store.models import OutcomeValue, SessionLogRow

__all__ = ["MAX_SESSION_BYTES", "save_session_rows", "save_sessions", "save_sessions_file"]

#: Largest session-log file read (bytes).
MAX_SESSION_BYTES = 5_000_000


def _session_hash(log: Any) -> str:
    data = asdict(log)
    data["date"] = log.date.isoformat()
    return canonical_hash(data)


@service("create", "session")
def save_sessions(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    sessions: Sequence[Any],
    outcomes: Sequence[Any] = (),
    *,
    source: str = "api",
    raw: bytes | None = None,
) -> SessionsSaved:
    """Store validated session logs (``SessionLog``) and outcomes against the active plan.

    A row equal to a stored one (same date, exercise and values) is counted as already
    stored and not stored again; when nothing is new, :class:`AlreadyStoredError` is raised.
    Exercises must be in the active plan. Without an active plan (none approved yet, or
    blocked) the logs are refused (:class:`ConflictError`). A patient may log their own.
    """
    from spinestab.record.plans import current_plan

    authorize(actor, pseudonym, patient_may=True)
    patient = find_patient(uow, pseudonym, lock=True)
    plan = current_plan(uow, patient)
    if plan is None:
        raise ConflictError(
            "no active plan to log sessions against",
            item="plan",
            expected="a plan approved by a clinician (a blocked plan takes no sessions)",
        )
    known = {ex.get("id") for ex in plan.data.get("exercises", ()) if isinstance(ex, Mapping)}
    unknown = sorted({s.exercise for s in sessions} - known)
    if unknown:
        raise InputError(
            "session names an exercise that is not in the active plan",
            source=source,
            item=unknown[0],
            expected="one of " + ", ".join(sorted(str(k) for k in known)),
        )
    if not sessions and not outcomes:
        raise InputError("no session rows", source=source, expected="at least one row")
    stored = already = 0
    for log in sessions:
        digest = _session_hash(log)
        exists = uow.session.scalar(
            select(SessionLogRow.id).where(
                SessionLogRow.patient_id == patient.id, SessionLogRow.content_hash == digest
            )
        )
        if exists is not None:
            already += 1
            continue
        row = SessionLogRow(
            patient_id=patient.id,
            plan_id=plan.id,
            content_hash=digest,
            source=source,
            created_at=now(),
            created_by=actor.username,
            **asdict(log),
        )
        try:
            with uow.session.begin_nested():
                uow.session.add(row)
                uow.session.flush()
        except IntegrityError:
            already += 1
            continue
        stored += 1
    episode = current_episode(uow, actor, patient)
    outcomes_stored = 0
    for o in outcomes:
        digest = canonical_hash(
            {"date": o.date.isoformat(), "instrument": o.instrument, "value": o.value}
        )
        exists = uow.session.scalar(
            select(OutcomeValue.id).where(
                OutcomeValue.patient_id == patient.id, OutcomeValue.content_hash == digest
            )
        )
        if exists is not None:
            already += 1
            continue
        uow.session.add(
            OutcomeValue(
                patient_id=patient.id,
                episode_id=episode.id,
                date=o.date,
                instrument=o.instrument,
                value=o.value,
                content_hash=digest,
                source=source,
                created_at=now(),
                created_by=actor.username,
            )
        )
        outcomes_stored += 1
    uow.session.flush()
    if stored == 0 and outcomes_stored == 0:
        raise AlreadyStoredError(
            f"these {already} session row(s) are already stored",
            source=source,
            expected="rows not yet stored",
        )
    if raw is not None:
        store_file(
            uow,
            actor,
            patient,
            raw,
            entity="sessions",
            entity_id=plan.id,
            role="source",
            name=Path(source).name or "sessions",
        )
    audit(
        uow,
        actor,
        "create",
        "session",
        None,
        patient=patient,
        detail={
            "plan_version": plan.version,
            "stored": stored,
            "already_stored": already,
            "outcomes": outcomes_stored,
        },
    )
    return SessionsSaved(
        plan_version=plan.version,
        stored=stored,
        already_stored=already,
        outcomes_stored=outcomes_stored,
    )


@service("create", "session")
def save_sessions_file(
    uow: UnitOfWork, actor: Actor, pseudonym: str, path: str | Path
) -> SessionsSaved:
    """Read a session-log file (the ``progress`` CSV or JSON format) and save it."""
    from spinestab.care.progression import read_sessions

    path = Path(path)
    if path.is_file() and path.stat().st_size > MAX_SESSION_BYTES:
        raise InputError(
            "file too large for session logs",
            source=str(path),
            expected=f"at most {MAX_SESSION_BYTES} bytes",
        )
    sessions, outcomes = read_sessions(path)
    raw = path.read_bytes()
    return save_sessions(uow, actor, pseudonym, sessions, outcomes, source=str(path), raw=raw)


@service("create", "session")
def save_session_rows(
    uow: UnitOfWork, actor: Actor, pseudonym: str, document: Any, *, source: str = "api"
) -> SessionsSaved:
    """Save session rows given as JSON (a list, or ``{"sessions": [...], "outcomes": [...]}``).

    Validated exactly as a session-log JSON file (:func:`spinestab.care.progression.read_sessions`).
    """
    from spinestab.care.progression import read_sessions

    text = json.dumps(document, ensure_ascii=False)
    if len(text) > MAX_SESSION_BYTES:
        raise InputError("too many session rows", source=source, expected="a smaller batch")
    with tempfile.TemporaryDirectory(prefix="spinestab-sessions-") as tmp:
        path = Path(tmp) / "sessions.json"
        path.write_text(text, encoding="utf-8")
        try:
            sessions, outcomes = read_sessions(path)
        except InputError as exc:
            raise exc.with_source(source) from None
    return save_sessions(uow, actor, pseudonym, sessions, outcomes, source=source)
