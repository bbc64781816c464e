"""The record page's working parts: plans, history, uploads, analyses, pictures, handout.

Every handler maps a form or an HTMX request to :mod:`spinestab.service.records` (or to a
job) and renders the answer; no analysis and no store query happens here.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from spinestab.service import records
from spinestab.service.deps import ClinicianUser, StateDep

__all__ = ["PICTURE_ROLES", "router"]

router = APIRouter()

#: File roles served as pictures on the record page (PNG written by the analyses).
PICTURE_ROLES = ("qa_picture", "picture", "timeline")


def record_url(pseudonym: str, anchor: str = "") -> str:
    """Return the record page's URL of a patient (``#anchor`` optional)."""
    return f"/patients/{quote(pseudonym, safe='')}" + (f"#{anchor}" if anchor else "")


@router.get("/patients/{pseudonym}/files/{file_id}")
def picture(pseudonym: str, file_id: int, state: StateDep, user: ClinicianUser) -> Response:
    """Send a result's picture (QA overlay, instability figure, posture timeline) as PNG."""
    described, data = records.read_file(state.record, user, pseudonym, file_id)
    if described["kind"] not in PICTURE_ROLES or data[:8] != b"\x89PNG\r\n\x1a\n":
        raise HTTPException(404, "not a picture of this record")
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, no-store"})
