"""The record's revision: a per-patient counter that every write to the record moves on.

``patients.revision`` goes up by one in the *same transaction* as every write unit of work
(:meth:`spinestab.record.Record.unit_of_work`) that changed anything of the patient's, so a
reader that sees revision ``n`` sees exactly the record written up to ``n``. The web app's
record page is cached by it (:mod:`spinestab.service.pages.record_cache`): a page made at
revision ``n`` is shown again only while the revision is still ``n``.

Which patients a unit of work changed is found in one place, the write session's events,
not by each service:

- every row flushed (added, changed or deleted) that has a ``patient_id``, or is a
  :class:`~spinestab.store.models.Patient`, names its patient;
- every patient a service locked for writing (:func:`~spinestab.record.find_patient` with
  ``lock=True``, which every write does first);
- a write that names no patient (a row without ``patient_id``, such as a study's result
  rows, or an ``INSERT``/``UPDATE``/``DELETE`` statement run through the session) is put
  on the patients locked in the same unit of work; with none locked, every patient's
  revision moves on (nothing is ever shown stale; the cost is a page made again).

Audit rows and the artifact index change no page and move nothing on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from spinestab.store.models import Artifact, AuditEvent, Patient

__all__ = ["bump_revisions", "note_patient", "track_writes"]

_TOUCHED = "spinestab.touched_patients"
_UNKNOWN = "spinestab.unattributed_write"
#: Tables whose writes change no record page.
_IGNORED = frozenset({AuditEvent.__tablename__, Artifact.__tablename__})

_BUMP = (
    update(Patient)
    .where(Patient.id.in_(bindparam("ids", expanding=True)))
    .values(revision=Patient.revision + 1)
)
_BUMP_ALL = update(Patient).values(revision=Patient.revision + 1)
_REVISION = select(Patient.revision).where(Patient.id == bindparam("pid"))


def note_patient(session: Session, patient_id: int) -> None:
    """Mark a patient as changed by this session's transaction."""
    session.info.setdefault(_TOUCHED, set()).add(patient_id)


def _after_flush(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in _IGNORED:
            continue
        if isinstance(obj, Patient):
            if obj.id is not None:
                note_patient(session, obj.id)
            continue
        patient_id = getattr(obj, "patient_id", None)
        if patient_id is not None:
            note_patient(session, patient_id)
        elif obj in session.deleted or session.is_modified(obj) or obj in session.new:
            session.info[_UNKNOWN] = True


def _on_execute(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _IGNORED:
        return
    state.session.info[_UNKNOWN] = True


def track_writes(factory: sessionmaker[Session]) -> None:
    """Follow which patients the sessions of ``factory`` change (for :func:`bump_revisions`)."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _on_execute)


def bump_revisions(session: Session) -> None:
    """Move on the revision of every patient the session's transaction changed.

    Call just before the commit: it flushes first, and runs in the same transaction.
    """
    session.flush()
    touched: set[int] = session.info.pop(_TOUCHED, set())
    unknown = session.info.pop(_UNKNOWN, False)
    connection = session.connection()  # not through the session: no event of ours
    if touched:
        connection.execute(_BUMP, {"ids": sorted(touched)})
    elif unknown:
        connection.execute(_BUMP_ALL)


def record_revision(session: Session, patient_id: int) -> int:
    """Return a patient's revision as this session's transaction sees it."""
    return int(session.scalar(_REVISION, {"pid": patient_id}) or 0)
