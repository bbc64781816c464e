"""View models for the pages: pure functions of the record's JSON and a ``plan.json``.

Exercise cards are built as the printed handout builds them (:mod:`spinestab.care.handout`):
the library's figures (SVG, as data URIs: no extra request, nothing from outside), the
texts of the care catalogue in the page's language, the beginner version, safety notes and
stop rules. The timeline merges every kind of entry of the record, newest first.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

__all__ = [
    "approved_plan",
    "blocked_actions",
    "exercise_cards",
    "for_patient",
    "pain_zone",
    "patient_flag_actions",
    "progression_changes",
    "safety_notes",
    "score_charts",
    "timeline_events",
    "today_prompts",
    "todays_exercises",
]


@cache
def _figure(exercise_id: str, stage: int) -> str:
    from spinestab.care.exercises import figure_svg

    svg = figure_svg(exercise_id, stage).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _plan(plan_json: Mapping[str, Any]) -> Any:
    from spinestab.care.plan import Plan

    return Plan.from_dict(dict(plan_json) | {"status": "active"}, source="plan")


def exercise_cards(
    plan_json: Mapping[str, Any], *, language: str, only: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Cards of the plan's exercises (``only`` those ids, in the plan's order).

    Each card: ``id``, ``name``, ``stage``, ``title``, ``how``, ``purpose``, ``picture``
    (data URI), ``alt``, ``dose``, ``cues``, ``notes``, ``starts``, ``daily``, and for a
    stage above 0 the beginner version (``beginner_title``, ``beginner_how``,
    ``beginner_picture``, ``beginner_alt``).
    """
    from spinestab.care.handout import dose_text
    from spinestab.care.i18n import Translator

    t = Translator(language)
    plan = _plan(plan_json)
    cards = []
    for ex in plan.exercises:
        if only is not None and ex.id not in only:
            continue
        if ex.id in ("walking", "movement_breaks"):
            continue
        stage = ex.stage
        name = t(f"ex.{ex.id}.name")
        card: dict[str, Any] = {
            "id": ex.id,
            "name": name,
            "stage": stage,
            "stage_label": t("ui.stage", stage=stage),
            "title": t(f"ex.{ex.id}.stage{stage}.title"),
            "how": t(f"ex.{ex.id}.stage{stage}.how"),
            "purpose": t(f"ex.{ex.id}.purpose"),
            "picture": _figure(ex.id, stage),
            "alt": t("ui.picture", name=name, stage=stage),
            "dose": dose_text(ex.dose, t),
            "sets": int(ex.dose.sets or len(ex.dose.pyramid or ()) or 1),
            "cues": [t(f"ex.{ex.id}.cue1"), t(f"ex.{ex.id}.cue2")],
            "notes": [t(n) for n in ex.notes],
            "starts": t("ui.starts_week", week=ex.start_week) if ex.start_week > 1 else "",
            "daily": bool(ex.daily),
            "beginner": None,
        }
        if stage > 0:
            card["beginner"] = {
                "title": t(f"ex.{ex.id}.stage0.title"),
                "how": t(f"ex.{ex.id}.stage0.how"),
                "picture": _figure(ex.id, 0),
                "alt": t("ui.picture", name=name, stage=0),
            }
        cards.append(card)
    return cards


def progression_changes(plan_json: Mapping[str, Any], *, language: str) -> list[dict[str, Any]]:
    """Rows of a progression's decisions in words, as the handout words them.

    Each row: ``id``, ``name`` (the exercise's name), ``decision`` (``up``, ``keep`` or
    ``down``), ``decision_text`` (the handout's words), ``change`` (``level`` for a stage,
    else what the dose changed), ``label_key`` (the service catalogue's words for the
    clinician: next stage, dose up, unchanged, a stage back, less volume),
    ``stage_from``/``stage_to`` (labels) and ``dose_from``/``dose_to`` (patient-facing dose
    texts; equal when only the stage moved or nothing changed), ``reasons``.
    """
    from spinestab.care.dose import Dose
    from spinestab.care.handout import dose_text
    from spinestab.care.i18n import Translator

    t = Translator(language)

    def stage(side: Mapping[str, Any]) -> str:
        number = side.get("stage")
        return t("ui.stage", stage=number) if number is not None else str(side.get("level", ""))

    def dose(side: Mapping[str, Any]) -> str:
        data = side.get("dose")
        return dose_text(Dose.from_dict(dict(data)), t) if data else ""

    rows = []
    for d in plan_json.get("decisions", ()):
        before, after = d.get("from") or {}, d.get("to") or {}
        change = d.get("change", "")
        if d["decision"] == "keep" or change == "none":
            label = "keep"
        else:
            label = f"{d['decision']}_{'level' if change == 'level' else 'dose'}"
        rows.append(
            {
                "id": d["exercise"],
                "name": t(f"ex.{d['exercise']}.name"),
                "decision": d["decision"],
                "decision_text": t(f"decision.{d['decision']}"),
                "change": change,
                "label_key": f"plan.decision.{label}",
                "stage_from": stage(before),
                "stage_to": stage(after),
                "dose_from": dose(before),
                "dose_to": dose(after),
                "reasons": list(d.get("reasons") or ()),
            }
        )
    return rows


def blocked_actions(plan_json: Mapping[str, Any], *, language: str) -> list[dict[str, Any]]:
    """Return what a blocked plan asks the patient to do instead, in the patient's words.

    Each action's text is the care catalogue's patient text (``action.<code>``, as the
    handout has it); an action without one keeps its English text, ``english`` True.
    """
    from spinestab.care.i18n import Translator

    t = Translator(language)
    out = []
    for action in plan_json.get("actions", ()):
        key = f"action.{action.get('code')}"
        known = t.has(key)
        out.append(
            {
                "urgency": action.get("urgency", "routine"),
                "text": t(key) if known else str(action.get("text", "")),
                "english": not known and language != "en",
            }
        )
    return out


#: Red-flag urgencies, most urgent first (CLINICAL_LOGIC.md §3 rule engine table).
URGENCY_ORDER = ("emergency", "same_day", "urgent", "routine")


def patient_flag_actions(
    actions: Sequence[Mapping[str, Any]], *, language: str
) -> list[dict[str, Any]]:
    """Return what a patient is told to do after positive red-flag answers, in their words.

    The clinician's action text (referrals, imaging, pathways) is for clinicians; a patient
    gets one plain text per urgency (``flag_patient.<urgency>`` in the service catalogue,
    sourced there from CLINICAL_LOGIC.md §3) and whether to stop the exercises (from the
    rule's ``blocks_exercise``). Most urgent first; one entry per urgency and stop/carry on.
    """
    from spinestab.service.i18n import messages

    t = messages(language)
    seen: dict[tuple[str, bool], dict[str, Any]] = {}
    for action in actions:
        urgency = str(action.get("urgency") or "routine")
        if urgency not in URGENCY_ORDER:
            urgency = "urgent"  # an unknown urgency is never played down
        stop = bool(action.get("blocks_exercise"))
        seen.setdefault(
            (urgency, stop),
            {
                "urgency": urgency,
                "blocks_exercise": stop,
                "text": t(f"flag_patient.{urgency}"),
                "exercise": t("flag_patient.stop" if stop else "flag_patient.continue"),
            },
        )
    return sorted(
        seen.values(),
        key=lambda a: (URGENCY_ORDER.index(a["urgency"]), not a["blocks_exercise"]),
    )


def for_patient(result: Mapping[str, Any], *, language: str) -> dict[str, Any]:
    """Return a stored form's result (``POST /me/forms``) with the patient's action texts.

    Each red-flag action's and open red flag's ``action`` becomes the patient text of its
    urgency and ``exercise`` says whether to stop the exercises (see
    :func:`patient_flag_actions`); the clinician's text is not sent to the patient.
    """
    out = dict(result)
    for key in ("actions", "open_red_flags"):
        if isinstance(out.get(key), list):
            out[key] = [_patient_action(a, language) for a in out[key]]
    return out


def _patient_action(action: Mapping[str, Any], language: str) -> dict[str, Any]:
    said = patient_flag_actions([action], language=language)[0]
    return dict(action) | {"action": f"{said['text']} {said['exercise']}"}


def safety_notes(language: str) -> dict[str, list[str]]:
    """Return the library's safety notes and stop rules in ``language``."""
    from spinestab.care.exercises import load_library
    from spinestab.care.i18n import Translator

    t = Translator(language)
    lib = load_library()
    return {
        "safety": [t(f"safety.{c}") for c in lib.common_safety],
        "stop": [t(f"stop.{c}") for c in lib.common_stop],
    }


def todays_exercises(plan_json: Mapping[str, Any], day: dt.date) -> dict[str, Any]:
    """Return what the plan asks on ``day``: ``session`` (an exercise day), ids, week."""
    start = dt.date.fromisoformat(str(plan_json["programme_start"]))
    entry = next(
        (d for d in plan_json.get("schedule", ()) if d.get("weekday") == day.weekday()), None
    )
    started = day >= start
    starts = {ex["id"]: int(ex.get("start_week", 1)) for ex in plan_json.get("exercises", ())}
    week = (day - start).days // 7 + 1 if started else 0
    ids = [
        i
        for i in (entry or {}).get("exercises", ())
        if started and starts.get(i, 1) <= max(week, 1)
    ]
    return {
        "session": bool(entry and entry.get("session")) and started,
        "exercises": ids,
        "week": week,
        "started": started,
        "start": start.isoformat(),
    }


def pain_zone(pain: float | None) -> str | None:
    """Traffic-light zone of a pain rating with the care rules (green, amber, red)."""
    from spinestab.care.config import load_rules
    from spinestab.care.progression import zone

    return zone(pain, rules=load_rules())


def _event(date: Any, kind: str, **values: Any) -> dict[str, Any]:
    return {"date": str(date or "")[:10], "kind": kind} | values


def timeline_events(record_json: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return every entry of the record as one list, newest first.

    Forms, history, results, plans and session days.
    """
    events = []
    for a in record_json.get("assessments", ()):
        events.append(_event(a["date"], "form", item=a))
    if record_json.get("history"):
        h = record_json["history"]
        events.append(_event(h.get("recorded_on") or h.get("created_at"), "history", item=h))
    for s in record_json.get("imaging", ()):
        events.append(_event(s.get("performed_on") or s.get("created_at"), "imaging", item=s))
    for s in record_json.get("instability", ()):
        events.append(_event(s.get("performed_on") or s.get("created_at"), "instability", item=s))
    for s in record_json.get("wearable", ()):
        events.append(_event(s.get("last_date") or s.get("created_at"), "wearable", item=s))
    for p in record_json.get("plans", ()):
        events.append(_event(p.get("created_at"), "plan", item=p))
    days: dict[str, list[dict[str, Any]]] = {}
    for s in record_json.get("sessions", ()):
        days.setdefault(str(s["date"]), []).append(s)
    for day, rows in days.items():
        during = [r["pain_during"] for r in rows if r.get("pain_during") is not None]
        morning = [r["pain_next_morning"] for r in rows if r.get("pain_next_morning") is not None]
        events.append(
            _event(
                day,
                "session",
                item={
                    "exercises": len(rows),
                    "done": sum(1 for r in rows if r.get("done")),
                    "pain_during": max(during) if during else None,
                    "pain_next_morning": max(morning) if morning else None,
                },
            )
        )
    events.sort(key=lambda e: e["date"], reverse=True)
    return events


def today_prompts(
    plan_json: Mapping[str, Any],
    sessions: Sequence[Mapping[str, Any]],
    *,
    day: dt.date,
    language: str,
) -> list[str]:
    """Prompts for the patient today, in the care catalogue's words (as the handout has them).

    - an exercise day without a session logged yet: time for today's exercises;
    - a session logged yesterday without the next morning's pain: ask for it.
    """
    from spinestab.care.i18n import Translator

    t = Translator(language)
    out = []
    logged = {str(s["date"]) for s in sessions if s.get("done")}
    if todays_exercises(plan_json, day)["session"] and day.isoformat() not in logged:
        out.append(t("prompt.session"))
    yesterday = (day - dt.timedelta(days=1)).isoformat()
    rows = [s for s in sessions if str(s["date"]) == yesterday and s.get("done")]
    if rows and all(s.get("pain_next_morning") is None for s in rows):
        out.append(t("prompt.next_morning"))
    return out


def score_charts(record_json: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Scores over time per instrument, with the MIC band, ready for the record page."""
    from spinestab.service.charts import score_chart

    charts = []
    for instrument in ("nrs", "odi", "rmdq", "psfs", "startback"):
        points = []
        for a in record_json["assessments"]:
            score = a.get("score") or {}
            if a["instrument"] != instrument or a.get("status") != "stored":
                continue
            value = score.get("percent") if instrument == "odi" else score.get("score")
            if score.get("complete") and value is not None:
                points.append((a["date"], value))
        if points:
            charts.append(score_chart(instrument, points))
    return charts


def approved_plan(record_json: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the active (approved) plan of a timeline, or None."""
    active = [p for p in record_json.get("plans", []) if p.get("status") == "active"]
    return active[-1] if active else None
