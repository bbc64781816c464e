"""Pure summaries of a record's JSON for the patient's pages and ``GET /me/movement``.

Functions of the timeline (``record show --json``) and a ``plan.json``: no database, no
HTTP. Adherence is planned sessions done over planned sessions due (a session day is a
day with a session exercise done; planned days are the plan's exercise weekdays since the
programme start); sessions on other days are counted apart as extra sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from spinestab.care.adherence import planned_adherence

__all__ = [
    "adherence",
    "followup_due",
    "movement_summary",
    "reminders",
    "session_days",
]

#: daily.csv columns shown to the patient (minutes, counts); blank cells stay unknown.
MOVEMENT_COLUMNS = (
    "wear_min",
    "walking_min",
    "steps",
    "upright_static_min",
    "sitting_min",
    "longest_static_bout_min",
    "static_bouts_over_30min",
    "breaks",
    "prompts",
    "valid_day",
)


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _session_ids(plan: Mapping[str, Any]) -> set[str]:
    return {
        str(ex.get("id"))
        for ex in plan.get("exercises", ())
        if not ex.get("daily") and ex.get("id") not in ("walking", "movement_breaks")
    }


def session_days(sessions: Sequence[Mapping[str, Any]], plan: Mapping[str, Any]) -> list[str]:
    """Dates (ISO) with a session exercise of ``plan`` done, on or after its start."""
    start = str(plan.get("programme_start") or "")
    ids = _session_ids(plan) or {str(ex.get("id")) for ex in plan.get("exercises", ())}
    return sorted(
        {
            str(s["date"])
            for s in sessions
            if s.get("done") and s.get("exercise") in ids and str(s["date"]) >= start
        }
    )


def adherence(
    sessions: Sequence[Mapping[str, Any]], plan: Mapping[str, Any], *, today: dt.date
) -> dict[str, Any]:
    """Planned sessions done against planned sessions due, and the extra sessions apart.

    The definition is :func:`spinestab.care.adherence.planned_adherence` (the one the
    progression rule uses): the plan's exercise days from the programme start to today
    (today's only when done), a day counted as done when a session exercise of the plan
    (as :func:`session_days`) was done; sessions on other days are extra, not in the share.

    Returns
    -------
    dict
        ``done_sessions`` (planned sessions done), ``planned_sessions`` (planned sessions
        due), ``pct`` (None before any is due), ``extra_sessions``, ``since``.

    """
    start = dt.date.fromisoformat(str(plan["programme_start"]))
    counted = planned_adherence(
        (dt.date.fromisoformat(d) for d in session_days(sessions, plan)),
        start=start,
        through=today,
        exercise_days=plan.get("exercise_days") or (),
    )
    return {**counted.to_dict(), "since": start.isoformat()}


def reminders(plan: Mapping[str, Any], *, today: dt.date, days: int = 7) -> list[dict[str, Any]]:
    """Return the plan's exercise days from today on (``days`` ahead)."""
    schedule = {d["weekday"]: d for d in plan.get("schedule", ())}
    start = dt.date.fromisoformat(str(plan["programme_start"]))
    out = []
    for k in range(days):
        day = today + dt.timedelta(days=k)
        entry = schedule.get(day.weekday())
        if day < start or entry is None or not entry.get("session"):
            continue
        out.append({"date": day.isoformat(), "weekday": day.weekday(), "today": k == 0})
    return out


def followup_due(
    record_json: Mapping[str, Any],
    plan: Mapping[str, Any],
    *,
    today: dt.date,
    review_weeks: Sequence[int],
) -> list[dict[str, Any]]:
    """Review questionnaires due (weeks ``review_weeks`` begun without a complete form)."""
    from spinestab.record.worklist import PRIMARY_INSTRUMENT

    start = dt.date.fromisoformat(str(plan["programme_start"]))
    primary = (plan.get("baseline") or {}).get("primary")
    instrument = PRIMARY_INSTRUMENT.get(primary or "", "odi")
    due = []
    for week in sorted(int(w) for w in review_weeks):
        week_start = start + dt.timedelta(days=7 * (week - 1))
        if today < week_start:
            break
        done = [
            a
            for a in record_json.get("assessments", ())
            if a["instrument"] == instrument
            and a.get("status") == "stored"
            and str(a["date"]) >= week_start.isoformat()
            and (a.get("score") or {}).get("complete")
        ]
        if not done:
            due.append({"instrument": instrument, "week": week, "due": week_start.isoformat()})
            break
    return due


def movement_summary(
    record_json: Mapping[str, Any], plan: Mapping[str, Any] | None, *, today: dt.date | None = None
) -> dict[str, Any]:
    """``GET /me/movement``: the latest recording's days, the plan's goals and adherence.

    Returns
    -------
    dict
        ``recording`` (first/last date, setup, prompt count) or None, ``days`` (the
        :data:`MOVEMENT_COLUMNS` per day, numbers or None), ``goals`` (the plan's
        ``walking`` and ``movement_breaks``) or None, ``adherence`` or None.

    """
    today = today or dt.date.today()
    from spinestab.record import newest_performed_first

    recordings = newest_performed_first(record_json.get("wearable", ()))
    latest = recordings[0] if recordings else None  # the one that recorded last
    days = []
    if latest is not None:
        for day in latest.get("days", ()):
            row: dict[str, Any] = {"date": day.get("date")}
            for column in MOVEMENT_COLUMNS:
                value = day.get(column)
                if column == "valid_day":
                    row[column] = value if isinstance(value, bool) else str(value) == "true"
                else:
                    row[column] = _number(value)
            days.append(row)
    live = plan is not None and plan.get("status") == "active"
    return {
        "recording": (
            {
                "first_date": latest.get("first_date"),
                "last_date": latest.get("last_date"),
                "setup": latest.get("setup"),
                "prompts": latest.get("prompts"),
            }
            if latest is not None
            else None
        ),
        "days": days,
        "goals": (
            {
                "walking": dict(plan.get("walking") or {}),
                "movement_breaks": dict(plan.get("movement_breaks") or {}),
            }
            if live and plan is not None
            else None
        ),
        "adherence": (
            adherence(record_json.get("sessions", ()), plan, today=today)
            if live and plan is not None
            else None
        ),
    }
