"""The opened record, its unit of work, the actor, and what every service shares.

Every record service is a function ``service(uow, actor, ...)`` wrapped by
:func:`service`, which

- checks that it got a :class:`UnitOfWork` and an :class:`Actor`;
- runs the call in a savepoint: on a refusal (any :class:`~spinestab.errors.InputError`)
  only that call is rolled back, and one audit event with ``outcome="refused"``, the actor
  and the reason is written (the refused values are never stored); then it re-raises.

The caller owns the transaction: :meth:`Record.unit_of_work` commits when its block ends
without an error and rolls back otherwise, so several service calls in one block are all or
nothing.

Reads use :meth:`Record.read_unit_of_work`: a read transaction, then the audit rows in a
short write transaction; the result is handed back only once they are committed.

Long module: the unit of work and the few helpers every record service shares (the actor,
the patient found or locked, the audit row, the episode, a stored file) are the one
interface some twenty service modules import; split up, each part would import the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, ParamSpec, TypeVar, cast

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Table, bindparam, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from spinestab.errors import InputError, NotFoundError, RefusedError
from spinestab.settings import Settings, get_settings
from spinestab.store.artifacts import ArtifactStore, FileArtifactStore
from spinestab.store.models import Artifact, AuditEvent, Episode, Patient

__all__ = [
    "OPEN_EPISODE_ID",
    "Actor",
    "Record",
    "UnitOfWork",
    "audit",
    "canonical_hash",
    "current_episode",
    "find_patient",
    "lock_patient_id",
    "now",
    "open_record",
    "service",
]

log = logging.getLogger(__name__)

Role = Literal["clinician", "patient", "admin", "system"]
#: Roles that may read and write any patient's record.
STAFF_ROLES = ("clinician", "admin", "system")

P = ParamSpec("P")
R = TypeVar("R")


class Actor(BaseModel):
    """Who acts on the record: a user name and a role (a patient account names its patient).

    Attributes
    ----------
    username : str
        The user (1-128 characters).
    role : {"clinician", "patient", "admin", "system"}
        ``patient`` actors may only read their own record and add their own sessions and
        follow-up forms; the others may do everything the services offer.
    patient : str, optional
        For a ``patient`` actor: their pseudonym.

    """

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    patient: str | None = None

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not value or len(value) > 128:
            raise ValueError("1-128 characters")
        return value


def now() -> dt.datetime:
    """Return the current time, UTC (every timestamp the record writes)."""
    return dt.datetime.now(dt.UTC)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return a stored timestamp as an aware UTC datetime (SQLite returns naive UTC values)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data`` (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class UnitOfWork:
    """One transaction on the record: the database session and the artifact store.

    A refused service call is rolled back to where it started (a savepoint), so the caller
    may go on with other calls in the same unit of work (e.g. skip a file already stored);
    its refusal is audited even when the whole unit of work is rolled back later.
    """

    session: Session
    artifacts: ArtifactStore | None = None
    read_only: bool = False
    #: One service call that owns the whole unit of work: a refusal ends the block and rolls
    #: everything back, so the call takes no savepoint of its own (see :func:`service`).
    single_call: bool = False
    _depth: int = field(default=0, repr=False)
    _refusals: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _audit_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _patients: dict[str, Patient] = field(default_factory=dict, repr=False)
    _patient_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def files(self) -> ArtifactStore:
        """Return the artifact store (a unit of work made on a bare session has none)."""
        if self.artifacts is None:
            raise RuntimeError("this unit of work has no artifact store (use Record.unit_of_work)")
        return self.artifacts

    def record_refusal(
        self, actor: Actor, action: str, entity: str, exc: InputError, pseudonym: Any
    ) -> None:
        """Add one ``refused`` audit event (kept for :meth:`Record.unit_of_work`)."""
        try:
            patient_id = None
            name = pseudonym if isinstance(pseudonym, str) else None
            if name is not None and len(name) <= 64:
                patient_id = self.session.scalar(
                    select(Patient.id).where(Patient.pseudonym == name)
                )
            reason = f"{type(exc).__name__}: {exc.message}"
            if exc.item:
                reason += f" (item {str(exc.item)[:200]})"
            event = {
                "at": now(),
                "actor": actor.username,
                "role": actor.role,
                "action": action,
                "entity": entity,
                "entity_id": None,
                "patient_id": patient_id,
                "outcome": "refused",
                "reason": reason[:2000],
                "detail": {"patient": name[:64]} if name is not None else None,
            }
            self._refusals.append(event)
            if not self.read_only:  # a read writes it with its audit rows, at the end
                self.session.add(AuditEvent(**event))
                self.session.flush()
        except Exception as audit_exc:  # the refusal itself is re-raised by the caller
            log.warning("could not audit a refused %s (%s)", action, type(audit_exc).__name__)

    def write_refusals_after_rollback(self) -> None:
        """Store the refusals of a unit of work that was rolled back (own transaction)."""
        if not self._refusals:
            return
        try:
            self.session.add_all(AuditEvent(**event) for event in self._refusals)
            self.session.commit()
        except Exception as exc:
            log.warning(
                "could not audit %d refusal(s) (%s)", len(self._refusals), type(exc).__name__
            )
            self.session.rollback()


class Record:
    """The opened record: a session factory on the store and the artifact store.

    Use :func:`open_record` to open one from the settings, and close it (or use it as a
    context manager) to release the database connections.
    """

    def __init__(self, factory: sessionmaker[Session], artifacts: ArtifactStore) -> None:
        from spinestab.record.revision import track_writes
        from spinestab.store.db import IMMEDIATE

        self.engine = factory.kw["bind"]
        # SQLite: a unit of work takes the write lock when it begins (BEGIN IMMEDIATE)
        bind = self.engine.execution_options(**IMMEDIATE)
        self.factory = sessionmaker(bind, expire_on_commit=False)
        track_writes(self.factory)  # which patients a unit of work changes: their revision
        self._audit_bind = bind
        # Reads: a deferred transaction (SQLite WAL: no lock, a snapshot from the first read)
        self.read_factory = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        event.listen(self.read_factory, "before_flush", _refuse_flush)
        self.artifacts = artifacts

    @contextlib.contextmanager
    def unit_of_work(
        self, *, single_call: bool = False, audit_refusals_on_failure: bool = True
    ) -> Iterator[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back on any error.

        The changed patients' revisions move on in it (:mod:`spinestab.record.revision`).
        ``single_call=True`` for a block that makes one service call and lets its refusal
        end the block (the web app's writes): the call then takes no savepoint. A failed
        block stores its refusals' audit events in a transaction of their own, unless
        ``audit_refusals_on_failure=False`` (a block whose calls are all run again when it
        fails, so that the runs again audit them, each once).
        """
        from spinestab.record.revision import bump_revisions

        session = self.factory()
        uow = UnitOfWork(session, self.artifacts, single_call=single_call)
        try:
            yield uow
            bump_revisions(session)
            session.commit()
        except BaseException:
            session.rollback()
            if audit_refusals_on_failure:
                uow.write_refusals_after_rollback()
            raise
        finally:
            session.close()

    def write(self, call: Callable[[UnitOfWork], R]) -> R:
        """Run one service call in a unit of work of its own; return what it returns.

        ``call(uow)`` makes exactly one service call (a refusal rolls it back, audited, and
        is raised). The web app's record runs concurrent calls together in one transaction
        on SQLite (:class:`spinestab.service.turns.ServiceRecord`); here each has its own.
        """
        with self.unit_of_work(single_call=True) as uow:
            return call(uow)

    @contextlib.contextmanager
    def read_unit_of_work(self) -> Iterator[UnitOfWork]:
        """Read without the write lock; then commit the block's audit rows, then go on.

        For services that change nothing but the audit (SQLite WAL: reads run beside the
        writer). An audit row that cannot be committed fails the block: no read is handed
        out unaudited. A failed block writes its refusals only; a service that writes
        anything else fails (``RuntimeError``).
        """
        session = self.read_factory()
        uow = UnitOfWork(session, self.artifacts, read_only=True)
        try:
            yield uow
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read unit of work changed the record (use unit_of_work)")
        except BaseException:
            session.close()
            try:
                self.write_audit_rows(uow._refusals)
            except Exception as exc:  # the read's own error is what the caller gets
                log.warning("could not audit a refusal (%s)", type(exc).__name__)
            raise
        session.close()  # ends the read transaction (nothing to commit)
        self.write_audit_rows(uow._audit_rows + uow._refusals)

    def write_audit_rows(self, rows: list[dict[str, Any]]) -> None:
        """Commit audit rows (if any) in one short write transaction (one executemany)."""
        if rows:
            with self._audit_bind.begin() as connection:  # SQLite: BEGIN IMMEDIATE
                connection.execute(insert(cast(Table, AuditEvent.__table__)), rows)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse a flush in a read unit of work: it writes only its audit rows, afterwards."""
    raise RuntimeError("a read unit of work changed the record (use unit_of_work)")


def open_record(
    settings: Settings | None = None,
    *,
    url: str | None = None,
    artifacts: ArtifactStore | None = None,
) -> Record:
    """Open the record: the store (migrated, under a lock) and the artifact store.

    Parameters
    ----------
    settings : Settings, optional
        Settings (``SPINESTAB_DATA_DIR``, ``SPINESTAB_DATABASE_URL``); read from the
        environment when omitted.
    url : str, optional
        A database URL overriding the settings.
    artifacts : ArtifactStore, optional
        Default: files under ``DATA_DIR/artifacts`` (folder 0700, files 0600).

    """
    from spinestab.store.db import open_store, private_dir

    settings = settings or get_settings()
    factory = open_store(settings, url=url)
    if artifacts is None:
        try:
            artifacts = FileArtifactStore(private_dir(settings.data_dir) / "artifacts")
        except OSError as exc:
            factory.kw["bind"].dispose()
            raise InputError(
                f"cannot create the artifact folder ({exc.__class__.__name__})",
                source=str(settings.data_dir),
                item="SPINESTAB_DATA_DIR",
                expected="a writable folder",
            ) from None
    return Record(factory, artifacts)


def service(action: str, entity: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function ``fn(uow, actor, ...)`` as a record service (checks, refusal audit)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            uow, actor = args[0], args[1]
            if not isinstance(uow, UnitOfWork):
                raise TypeError(f"{fn.__name__}: the first argument must be a UnitOfWork")
            if not isinstance(actor, Actor):
                raise TypeError(f"{fn.__name__}: the second argument must be an Actor")
            uow._depth += 1
            outermost = uow._depth == 1
            # a read unit of work writes nothing in its transaction: nothing to roll back; a
            # single call's refusal rolls back the whole unit of work
            savepoint = (
                uow.session.begin_nested()
                if outermost and not uow.read_only and not uow.single_call
                else None
            )
            try:
                result = fn(*args, **kwargs)
                if savepoint is not None and savepoint.is_active:
                    savepoint.commit()
                return result
            except InputError as exc:
                if outermost:
                    if savepoint is not None and savepoint.is_active:
                        savepoint.rollback()
                    pseudonym = args[2] if len(args) > 2 else kwargs.get("pseudonym")
                    uow.record_refusal(actor, action, entity, exc, pseudonym)
                raise
            finally:
                uow._depth -= 1

        wrapper.__record_service__ = (action, entity)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def authorize(actor: Actor, pseudonym: str, *, patient_may: bool) -> None:
    """Refuse unless the actor is staff, or the patient acting on their own record.

    Checked before the patient is looked up, so a refusal never tells whether another
    pseudonym exists.
    """
    if actor.role in STAFF_ROLES:
        return
    if actor.role == "patient" and patient_may and actor.patient == pseudonym:
        return
    raise RefusedError(
        "not allowed for this user",
        item=actor.role,
        expected="a clinician" if not patient_may else "a clinician, or the patient themself",
    )


_PATIENT = select(Patient).where(Patient.pseudonym == bindparam("pseudonym"))
_PATIENT_FOR_UPDATE = _PATIENT.with_for_update()


def _check_pseudonym(pseudonym: Any) -> None:
    if not isinstance(pseudonym, str) or not pseudonym or len(pseudonym) > 64:
        raise NotFoundError(
            "unknown patient", item="patient", expected="a pseudonym of 1-64 characters"
        )


def _unknown_patient(pseudonym: str) -> NotFoundError:
    return NotFoundError(
        "unknown patient",
        item="patient",
        value=pseudonym,
        expected="a patient added with 'spinestab patient add'",
    )


def find_patient(uow: UnitOfWork, pseudonym: str, *, lock: bool = False) -> Patient:
    """Return the patient, locked for the rest of the transaction when ``lock``.

    Every write locks the patient row first (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite
    transactions are serialised by ``BEGIN IMMEDIATE``), so two writers on one patient run
    one after the other and each sees the other's result (e.g. a red flag saved while a
    plan is made).
    """
    _check_pseudonym(pseudonym)
    if uow.read_only and (known := uow._patients.get(pseudonym)) is not None:
        return known  # found before in this read's snapshot
    stmt = _PATIENT_FOR_UPDATE if lock else _PATIENT
    patient = uow.session.scalars(stmt, {"pseudonym": pseudonym}).one_or_none()
    if patient is None:
        raise _unknown_patient(pseudonym)
    if uow.read_only:
        uow._patients[pseudonym] = patient
    elif lock:
        uow.session.info.setdefault("spinestab.touched_patients", set()).add(patient.id)
    return patient


_PATIENT_ID = select(Patient.id).where(Patient.pseudonym == bindparam("pseudonym"))
_PATIENT_ID_FOR_UPDATE = _PATIENT_ID.with_for_update()
_PATIENT_ID_AND_REVISION = _PATIENT_ID.add_columns(Patient.revision)


def read_patient_revision(uow: UnitOfWork, pseudonym: str) -> tuple[int, int]:
    """Return ``(id, revision)`` of a patient as this unit of work sees it.

    One Core statement on the unit of work's connection (no ORM object); a read unit of work
    keeps the id for :func:`patient_id_of`.
    """
    _check_pseudonym(pseudonym)
    connection = uow.session.connection()
    found = connection.execute(_PATIENT_ID_AND_REVISION, {"pseudonym": pseudonym}).one_or_none()
    if found is None:
        raise _unknown_patient(pseudonym)
    patient_id, revision = int(found[0]), int(found[1])
    if uow.read_only:
        uow._patient_ids[pseudonym] = patient_id
    return patient_id, revision


def patient_id_of(uow: UnitOfWork, pseudonym: str) -> int:
    """Return a patient's id for a read: as found before in this read's snapshot, else read.

    One Core statement at most (no ORM object); refused as :func:`find_patient` refuses.
    """
    _check_pseudonym(pseudonym)
    if uow.read_only:
        if (known := uow._patients.get(pseudonym)) is not None:
            return int(known.id)
        if (known_id := uow._patient_ids.get(pseudonym)) is not None:
            return known_id
    return read_patient_revision(uow, pseudonym)[0]


def lock_patient_id(uow: UnitOfWork, pseudonym: str) -> int:
    """Return the id of the patient a write is about, locked as :func:`find_patient` locks.

    One Core statement on the unit of work's connection (no ORM object); the patient's
    revision moves on with the unit of work.
    """
    if uow.read_only:  # its writes are Core statements: the read session's flush guard misses them
        raise RuntimeError("a read unit of work changed the record (use unit_of_work)")
    _check_pseudonym(pseudonym)
    connection = uow.session.connection()
    patient_id = connection.execute(_PATIENT_ID_FOR_UPDATE, {"pseudonym": pseudonym}).scalar()
    if patient_id is None:
        raise _unknown_patient(pseudonym)
    uow.session.info.setdefault("spinestab.touched_patients", set()).add(patient_id)
    return int(patient_id)


_INSERT_AUDIT = insert(cast(Table, AuditEvent.__table__))


def audit(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient: Patient | None = None,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit event (``outcome="ok"``) in the current transaction.

    ``patient`` or ``patient_id`` names the patient. The row is written at once (one Core
    statement in the unit of work's transaction); a read unit of work writes it when its
    block ends.
    """
    if patient is not None:
        patient_id = patient.id
    row = {
        "at": now(),
        "actor": actor.username,
        "role": actor.role,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "patient_id": patient_id,
        "outcome": "ok",
        "reason": None,
        "detail": detail,
    }
    if uow.read_only:
        uow._audit_rows.append(row)
    else:
        uow.session.connection().execute(_INSERT_AUDIT, row)


_OF_PATIENT = Episode.patient_id == bindparam("pid")
_OPEN_EPISODE = select(Episode).where(_OF_PATIENT, Episode.ended_on.is_(None))
_OPEN_EPISODE = _OPEN_EPISODE.order_by(Episode.number.desc()).limit(1)
_LAST_EPISODE = select(func.max(Episode.number)).where(_OF_PATIENT)
#: The id of the patient's open episode (``pid``), as :func:`current_episode` finds it.
OPEN_EPISODE_ID = _OPEN_EPISODE.with_only_columns(Episode.id)


def current_episode(uow: UnitOfWork, actor: Actor, patient: Patient) -> Episode:
    """Return the patient's open episode of care (the latest without an end; made if none)."""
    episode = uow.session.scalars(_OPEN_EPISODE, {"pid": patient.id}).one_or_none()
    if episode is not None:
        return episode
    number = (uow.session.scalar(_LAST_EPISODE, {"pid": patient.id}) or 0) + 1
    episode = Episode(
        patient_id=patient.id,
        number=number,
        started_on=dt.date.today(),
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(episode)
    uow.session.flush()
    audit(uow, actor, "create", "episode", episode.id, patient=patient, detail={"number": number})
    return episode


def store_file(
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    data: bytes | BinaryIO | Path,
    *,
    entity: str,
    entity_id: int | None,
    role: str,
    name: str,
    media_type: str | None = None,
) -> Any:
    """Put a file into the artifact store and name it in the record (``record_files``)."""
    from spinestab.store.models import RecordFile

    ref = uow.files().put(data)
    ensure_artifact_row(uow, ref.sha256, ref.size_bytes, media_type)
    row = RecordFile(
        patient_id=patient.id,
        entity=entity,
        entity_id=entity_id,
        role=role,
        name=name[:255],
        sha256=ref.sha256,
        created_at=now(),
        created_by=actor.username,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def ensure_artifact_row(
    uow: UnitOfWork,
    sha256: str,
    size_bytes: int,
    media_type: str | None,
    created_at: dt.datetime | None = None,
) -> None:
    """Name an artifact in the ``artifacts`` table once (concurrent writers: first wins)."""
    values = {"sha256": sha256, "size_bytes": size_bytes, "media_type": media_type}
    values["created_at"] = created_at or now()
    dialect = postgresql if uow.session.get_bind().dialect.name == "postgresql" else sqlite
    uow.session.execute(dialect.insert(Artifact).values(**values).on_conflict_do_nothing())
