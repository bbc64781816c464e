"""Background jobs: a job table and a worker pool inside the server process.

A job function is a plain function ``fn(context, params) -> result`` (JSON in, JSON out)
registered under a kind. It knows nothing about HTTP or threads: the pool here runs it in
the server process, and the same function can run in another process or on Dask by calling
:func:`run_job` there with a session factory on the same database. Claiming a job is one
conditional UPDATE, so several workers (threads or processes) never run a job twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from spinestab.errors import InputError, MissingDependencyError
from spinestab.service.accounts import utcnow
from spinestab.service.models import Job
from spinestab.store import session_scope

__all__ = [
    "JOB_STATES",
    "JobContext",
    "JobFunction",
    "WorkerPool",
    "claim_job",
    "job_public",
    "patient_jobs",
    "recover_interrupted",
    "run_job",
    "submit_job",
]

log = logging.getLogger(__name__)

JOB_STATES = ("queued", "running", "succeeded", "failed")


@dataclass
class JobContext:
    """What a job function gets besides its parameters.

    Attributes
    ----------
    job_id : str
        The job's id.
    actor : str
        Who submitted it (for the record's audit trail).
    patient : str or None
        The patient's pseudonym, when the job belongs to one.
    sessions : sessionmaker
        Session factory of the database the job reads from and writes to.
    settings : Any
        The settings object of the process running the job.

    """

    job_id: str
    actor: str
    patient: str | None
    sessions: sessionmaker[Session]
    settings: Any
    _last: float = field(default=-1.0, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0-1) and a short message (no health data) in the job row."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction - self._last < 0.01 and message is None:
            return
        self._last = fraction
        with session_scope(self.sessions) as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(progress=fraction, message=message if message is not None else Job.message)
            )


JobFunction = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


def submit_job(
    session: Session,
    *,
    kind: str,
    params: Mapping[str, Any],
    actor: str,
    patient: str | None,
    registry: Mapping[str, JobFunction],
) -> Job:
    """Queue a job; the caller commits.

    Raises
    ------
    InputError
        For a kind without a registered function.

    """
    if kind not in registry:
        raise InputError(
            "unknown analysis kind", item="kind", value=kind, expected=", ".join(sorted(registry))
        )
    job = Job(
        id=str(uuid.uuid4()),
        kind=kind,
        patient_pseudonym=patient,
        status="queued",
        progress=0.0,
        params=dict(params),
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def claim_job(sessions: sessionmaker[Session], *, worker: str) -> str | None:
    """Atomically take the oldest queued job for ``worker``; return its id or None."""
    with session_scope(sessions, immediate=True) as session:  # reads, then writes
        candidates = session.scalars(
            select(Job.id).where(Job.status == "queued").order_by(Job.created_at).limit(5)
        ).all()
        for job_id in candidates:
            taken = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(status="running", started_at=utcnow(), worker=worker, progress=0.0)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return job_id
    return None


def _finish(sessions: sessionmaker[Session], job_id: str, **values: Any) -> None:
    with session_scope(sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values))


def run_job(
    sessions: sessionmaker[Session],
    job_id: str,
    *,
    registry: Mapping[str, JobFunction],
    settings: Any,
) -> str:
    """Run one claimed job to its end; return its final status.

    A bad input (:class:`InputError`) fails the job with its message; any other error
    fails it with the error's class name only (details go to the log, never health data).
    """
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        if job is None:
            return "missing"
        kind, params, actor, patient = (
            job.kind,
            dict(job.params),
            job.created_by,
            job.patient_pseudonym,
        )
    context = JobContext(
        job_id=job_id, actor=actor, patient=patient, sessions=sessions, settings=settings
    )
    try:
        result = registry[kind](context, params)
    except (InputError, MissingDependencyError) as exc:
        _finish(sessions, job_id, status="failed", error=str(exc))
        return "failed"
    except Exception as exc:
        log.error("job %s (%s) failed: %s", job_id, kind, exc.__class__.__name__)
        _finish(
            sessions,
            job_id,
            status="failed",
            error=f"internal error ({exc.__class__.__name__}); the server log has the details",
        )
        return "failed"
    _finish(sessions, job_id, status="succeeded", progress=1.0, result=result)
    return "succeeded"


def recover_interrupted(sessions: sessionmaker[Session]) -> int:
    """Fail jobs left running by a stopped server (call once at start, before the pool)."""
    with session_scope(sessions) as session:
        done = session.execute(
            update(Job)
            .where(Job.status == "running")
            .values(
                status="failed",
                error="interrupted: the server stopped while the job ran; submit it again",
                finished_at=utcnow(),
            )
        )
        return int(done.rowcount or 0)  # type: ignore[attr-defined]


def job_public(job: Job | Row[Any]) -> dict[str, Any]:
    """Return the public view of a job (``GET /jobs/{id}``): a row or a row's columns."""
    return {
        "job_id": job.id,
        "kind": job.kind,
        "patient": job.patient_pseudonym,
        "status": job.status,
        "progress": round(float(job.progress or 0.0), 3),
        "message": job.message,
        "errors": [job.error] if job.error else [],
        "result": job.result,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


class WorkerPool:
    """Threads that claim and run queued jobs until stopped.

    Parameters
    ----------
    sessions : sessionmaker
        Session factory of the store.
    registry : mapping
        Job kind -> job function.
    settings : Any
        Passed to every job.
    size : int
        Number of threads (0: no worker; jobs stay queued for another process).
    poll_s : float
        How often idle workers look for jobs submitted by other processes.

    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        registry: Mapping[str, JobFunction],
        settings: Any,
        size: int = 2,
        poll_s: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._settings = settings
        self._size = size
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._name = f"spinestab-{uuid.uuid4().hex[:8]}"

    def start(self) -> None:
        """Start the worker threads."""
        for i in range(self._size):
            thread = threading.Thread(
                target=self._loop,
                name=f"{self._name}-{i}",
                args=(f"{self._name}-{i}",),
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        """Tell idle workers that a job was queued."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop taking jobs and wait for running ones (up to ``timeout_s`` each)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                job_id = claim_job(self._sessions, worker=worker)
            except Exception as exc:  # database away: try again later
                log.warning("job worker could not claim a job: %s", exc.__class__.__name__)
                job_id = None
            if job_id is None:
                self._wake.wait(self._poll_s)
                self._wake.clear()
                continue
            run_job(self._sessions, job_id, registry=self._registry, settings=self._settings)


#: A patient's latest jobs as plain columns (the record page asks at every showing).
_PATIENT_JOBS = (
    select(
        Job.id,
        Job.kind,
        Job.patient_pseudonym,
        Job.status,
        Job.progress,
        Job.message,
        Job.result,
        Job.error,
        Job.created_by,
        Job.created_at,
        Job.started_at,
        Job.finished_at,
    )
    .where(Job.patient_pseudonym == bindparam("pseudonym"))
    .order_by(Job.created_at.desc())
    .limit(bindparam("limit"))
)


def patient_jobs(
    session: Session | Connection, pseudonym: str, *, limit: int = 10
) -> list[dict[str, Any]]:
    """Return the public view of a patient's latest jobs, newest first.

    One Core statement (no ORM objects); ``session`` may be any open session or connection,
    so the record page reads its jobs in the same read transaction as the record.
    """
    rows = session.execute(_PATIENT_JOBS, {"pseudonym": pseudonym, "limit": limit})
    return [job_public(row) for row in rows]
