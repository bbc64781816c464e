"""Patient pages: today's exercises first, their own progress and follow-up forms.

Every page reads the logged-in patient's own pseudonym from the session; no patient page
takes a pseudonym from the URL, so another patient's record cannot be asked for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab.errors import InputError
from spinestab.service import records, summaries, views
from spinestab.service.deps import PatientUser, StateDep
from spinestab.service.intake import intake_fields
from spinestab.service.pages.intake import (
    PATIENT_INSTRUMENTS,
    document,
    form_fields,
    intake_form,
)
from spinestab.service.pages.render import page_language, render

__all__ = ["router"]

router = APIRouter()


def _own(user: PatientUser) -> str:
    if not user.patient_pseudonym:  # a patient account always has one (database check)
        raise HTTPException(403, "this account is not tied to a patient")
    return user.patient_pseudonym


def _review_weeks() -> list[int]:
    from spinestab.care.config import load_rules

    return [int(w) for w in load_rules()["review_weeks"]]


def _today() -> dt.date:
    """Return the server's date: the day the Today page is for (one place, so tests set it)."""
    return dt.date.today()


def _today_context(request: Request, state: StateDep, user: PatientUser) -> dict[str, Any]:
    """Return what the Today page shows: the plan, today's exercises, reminders, forms due."""
    _own(user)
    record, plan = records.patient_home(state.record, user)
    language = page_language(request)
    today_date = _today()
    context: dict[str, Any] = {
        "record": record,
        "plan": plan,
        "blocked": plan["status"] == "blocked",
        "actions": (
            views.blocked_actions(plan, language=language) if plan["status"] == "blocked" else []
        ),
        "day": None,
        "cards": [],
        "all_cards": [],
        "reminders": [],
        "due": [],
        "adherence": None,
        "prompts": [],
        "today": today_date.isoformat(),
    }
    if plan["status"] == "active":
        day = views.todays_exercises(plan, today_date)
        context["day"] = day
        context["all_cards"] = views.exercise_cards(plan, language=language)
        context["cards"] = [c for c in context["all_cards"] if c["id"] in day["exercises"]]
        context["reminders"] = summaries.reminders(plan, today=today_date)
        context["due"] = summaries.followup_due(
            record, plan, today=today_date, review_weeks=_review_weeks()
        )
        context["adherence"] = summaries.adherence(record["sessions"], plan, today=today_date)
        context["prompts"] = views.today_prompts(
            plan, record["sessions"], day=today_date, language=language
        )
        context |= views.safety_notes(language)
    return context


@router.get("/today")
def today(request: Request, state: StateDep, user: PatientUser) -> Response:
    """Show today's exercises, the session log, reminders and forms due.

    While blocked: what to do instead; without an approved plan: what happens next.
    """
    logged = request.query_params.get("logged", "")
    return render(
        request,
        "patient/today.html",
        logged=int(logged) if logged.isdigit() else None,
        error=None,
        **_today_context(request, state, user),
    )


def _int(fields: dict[str, str], key: str) -> int | None:
    text = fields.get(key, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(
            "not a whole number", source="session log", item=key, value=text[:20]
        ) from None


def session_rows(fields: dict[str, str], exercise_ids: list[str]) -> list[dict[str, Any]]:
    """Rows in the ``progress`` format from the session log form (one per exercise shown).

    An exercise is logged when ticked done, or when anything was typed for it (then done is
    false); pain the next morning applies to every row (the patient logs the day after).
    """
    date = fields.get("date", "").strip()
    morning = _int(fields, "pain_next_morning")
    rows = []
    for ex in exercise_ids:
        done = fields.get(f"done.{ex}") == "1"
        sets, during, effort = (
            _int(fields, f"{name}.{ex}") for name in ("sets", "pain_during", "effort")
        )
        if not done and sets is None and during is None and effort is None:
            continue
        row: dict[str, Any] = {"date": date, "exercise": ex, "done": done}
        for key, value in (
            ("sets", sets),
            ("pain_during", during),
            ("effort", effort),
            ("pain_next_morning", morning),
        ):
            if value is not None:
                row[key] = value
        rows.append(row)
    if not rows:
        raise InputError(
            "nothing to log", source="session log", expected="at least one exercise ticked done"
        )
    return rows


@router.post("/today/sessions")
async def log_session(request: Request, state: StateDep, user: PatientUser) -> Response:
    """Store the session the patient logged against their active plan.

    Per exercise: done, sets, pain during, effort; pain the next morning for all.
    """
    from spinestab.service.app import error_status

    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    ids = [str(v) for v in form.getlist("exercise") if isinstance(v, str)][:32]
    try:
        rows = session_rows(fields, ids)
        saved = await run_in_threadpool(records.save_sessions, state.record, user, rows)
    except InputError as exc:
        return render(
            request,
            "patient/today.html",
            status=error_status(exc),
            logged=None,
            error=str(exc),
            **_today_context(request, state, user),
        )
    return RedirectResponse(f"/today?logged={saved['stored']}#log", status_code=303)


@router.get("/progress")
def progress(request: Request, state: StateDep, user: PatientUser) -> Response:
    """Show the patient's own scores against the MIC, adherence and movement summary."""
    record = records.timeline(state.record, user, _own(user))
    movement = records.me_movement(state.record, user)
    return render(
        request,
        "patient/progress.html",
        record=record,
        charts=views.score_charts(record),
        instruments=PATIENT_INSTRUMENTS,
        movement=movement,
    )


@router.get("/forms")
def forms(request: Request, user: PatientUser) -> Response:
    """List the follow-up questionnaires the patient can fill in."""
    return render(request, "patient/forms.html", instruments=PATIENT_INSTRUMENTS)


def _instrument(instrument: str) -> str:
    if instrument not in PATIENT_INSTRUMENTS:
        raise HTTPException(404, "no such questionnaire")
    return instrument


@router.get("/forms/{instrument}")
def form_page(instrument: str, request: Request, user: PatientUser) -> Response:
    """Show one questionnaire for the patient to fill in."""
    return intake_form(
        request, pseudonym=_own(user), instrument=_instrument(instrument), clinician=False
    )


@router.post("/forms/{instrument}/check")
async def form_check(instrument: str, request: Request, user: PatientUser) -> Response:
    """Score what the patient has typed so far (nothing is stored)."""
    instrument = _instrument(instrument)
    try:
        result, error = records.check_form(document(instrument, await form_fields(request))), None
    except InputError as exc:
        result, error = None, str(exc)
    # the patient reads what to do now, not the clinician's referral text
    actions = views.patient_flag_actions(
        (result or {}).get("actions") or (), language=page_language(request)
    )
    return render(
        request,
        "clinician/_intake_result.html",
        result=result,
        error=error,
        patient_actions=actions,
        fields=intake_fields(instrument),
    )


@router.post("/forms/{instrument}")
async def form_save(
    instrument: str, request: Request, state: StateDep, user: PatientUser
) -> Response:
    """Store the patient's questionnaire in their record."""
    instrument = _instrument(instrument)
    fields = await form_fields(request)
    try:
        saved = await run_in_threadpool(
            records.save_form, state.record, user, _own(user), document(instrument, fields)
        )
    except InputError as exc:
        return intake_form(
            request,
            pseudonym=_own(user),
            instrument=instrument,
            clinician=False,
            values=fields,
            error=str(exc),
        )
    if any(flag.get("blocking") for flag in saved.get("open_red_flags", ())):
        # a red flag that stops the exercises: Today says what to do instead, in their words
        return RedirectResponse(f"/today?saved={instrument}", status_code=303)
    return RedirectResponse(f"/progress?saved={instrument}", status_code=303)
