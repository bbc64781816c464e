"""``GET /api/v1/jobs/{job_id}``: status, progress, errors and result of a background job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from spinestab.service.deps import ClinicianUser, SessionDep
from spinestab.service.jobs import job_public
from spinestab.service.models import Job

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}")
def get_job(job_id: str, session: SessionDep, _user: ClinicianUser) -> dict[str, Any]:
    """Return a job's status (queued, running, succeeded, failed), progress 0-1, errors, result."""
    job = session.get(Job, job_id[:36])
    if job is None:
        raise HTTPException(404, "unknown job")
    return job_public(job)
