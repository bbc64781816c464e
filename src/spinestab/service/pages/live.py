"""The patient's "keep moving" page: live prompts as they come, and snooze (issue 13.3).

``GET /moving`` shows whether the patient is prompted (the approved plan's movement-break
goal; or why not: no approved plan, a blocked plan), the recent prompts, and a live list
that ``static/moving.js`` fills from ``GET /api/v1/me/prompts`` (server-sent events).
``POST /moving/snooze`` (a form with the CSRF field) snoozes prompts, or ends a snooze.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab import record
from spinestab.errors import InputError
from spinestab.record.live import SnoozeOut, list_prompts, live_status, snooze_prompts
from spinestab.service.deps import PatientUser
from spinestab.service.live import live_service
from spinestab.service.pages.render import render

__all__ = ["router"]

router = APIRouter()

#: Snooze lengths offered on the page besides the plan's own (minutes).
SNOOZE_CHOICES = (15, 30, 60, 120)


def _actor(user: PatientUser) -> record.Actor:
    if not user.patient_pseudonym:
        raise HTTPException(403, "this account is not tied to a patient")
    return record.Actor(username=user.username, role="patient", patient=user.patient_pseudonym)


def _clock(hours: float | None) -> str:
    if hours is None:
        return ""
    minutes = round(hours * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@router.get("/moving")
def moving(request: Request, user: PatientUser) -> Response:
    """Show the patient's live prompts and whether (and why not) they are prompted."""
    actor = _actor(user)
    with live_service(request.app).record.unit_of_work() as uow:
        status = live_status(uow, actor, actor.patient or "")
        recent = list_prompts(
            uow, actor, actor.patient or "", after_id=max(0, status.last_prompt_id - 200)
        )[-10:]
    choices = sorted({*SNOOZE_CHOICES, *([round(status.snooze_min)] if status.snooze_min else [])})
    move = f"{status.clear_move_min or 1:g}"
    updated = [str(s["updated_at"]) for s in status.streams if s.get("updated_at")]
    return render(
        request,
        "patient/moving.html",
        live=status,
        limit_min=f"{status.static_limit_min or 0:g}",
        move_min=move,
        recent=list(reversed(recent)),
        last_data=max(updated) if updated else None,
        quiet=(_clock(status.quiet_start_h), _clock(status.quiet_end_h)),
        choices=choices,
        now=dt.datetime.now(dt.UTC),
        saved=request.query_params.get("snoozed"),
    )


@router.post("/moving/snooze")
async def snooze(request: Request, user: PatientUser) -> Response:
    """Snooze prompts for the chosen minutes (0 ends the snooze)."""
    actor = _actor(user)
    form = await request.form()
    value = form.get("minutes")
    try:
        minutes = float(value) if isinstance(value, str) and value.strip() else None
    except ValueError:
        raise InputError("snooze minutes must be a number", item="minutes") from None

    def save() -> SnoozeOut:
        with live_service(request.app).record.unit_of_work() as uow:
            return snooze_prompts(uow, actor, actor.patient or "", minutes=minutes)

    out = await run_in_threadpool(save)
    return RedirectResponse(f"/moving?snoozed={round(out.minutes)}", status_code=303)
