"""Printable patient handout (HTML) with pictures, beginner versions and safety notes.

Every sentence comes from the translation catalogue of the chosen language
(:mod:`spinestab.care.i18n`); pictures are the library's SVG figures, embedded as data
URIs so the file is self-contained (no network, no external files).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from spinestab.care.dose import Dose
from spinestab.care.exercises import STAGE_LABELS, figure_svg, load_library
from spinestab.care.i18n import Translator
from spinestab.care.plan import Plan
from spinestab.errors import require

__all__ = ["dose_text", "render_handout"]


def dose_text(dose: Dose, t: Translator) -> str:
    """Patient-facing text of a dose in the translator's language."""
    parts = []
    if dose.type == "hold":
        if dose.pyramid:
            parts.append(
                t(
                    "dose.hold_pyramid",
                    hold=dose.hold_s,
                    pyramid="-".join(str(p) for p in dose.pyramid),
                )
            )
        else:
            parts.append(t("dose.hold_sets", hold=dose.hold_s, sets=dose.sets or 1))
    elif dose.type == "reps":
        parts.append(t("dose.reps", sets=dose.sets, reps=dose.reps))
    elif dose.type == "walk":
        parts.append(t("dose.walk", minutes=dose.minutes, per_day=dose.per_day))
    else:
        parts.append(t("dose.break", minutes=dose.duration_min, interval=dose.interval_min))
    if dose.per_side:
        parts.append(t("dose.per_side"))
    if dose.tempo == "slow_lowering":
        parts.append(t("dose.slow"))
    return " ".join(parts)


def _data_uri(exercise_id: str, stage: int) -> str:
    svg = figure_svg(exercise_id, stage).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _action_key(action: Mapping[str, Any]) -> str:
    return f"action.{action['code']}"


def render_handout(
    *,
    patient: str,
    date: str,
    track: str,
    actions: Sequence[Mapping[str, Any]],
    plan: Plan | None,
    language: str | None = None,
) -> str:
    """Render the handout as one self-contained HTML page.

    Parameters
    ----------
    patient, date : str
        Shown in the header.
    track : str
        Triage track (S0 .. F3).
    actions : sequence of mapping
        Triage actions (``code``, ``urgency``); each is shown with its catalogue text.
    plan : Plan or None
        None for track S0: the page then shows what to do instead of exercises.
    language : {"en", "de"}, optional
        Defaults to the ``SPINESTAB_LANGUAGE`` setting.

    Returns
    -------
    str
        HTML.

    """
    jinja2 = require("jinja2", extra="care", feature="the patient handout")
    t = Translator(language)
    lib = load_library()
    seen: set[str] = set()
    shown_actions = []
    for action in actions:
        key = _action_key(action)
        if key in seen or not t.has(key):
            continue
        seen.add(key)
        shown_actions.append({"text": t(key), "urgency": action.get("urgency", "routine")})
    context: dict[str, Any] = {
        "t": t,
        "lang": t.language,
        "patient": patient,
        "date": date,
        "plan": plan,
        "actions": shown_actions,
        "track_text": t(f"track.{track}"),
        "safety": [t(f"safety.{c}") for c in lib.common_safety],
        "stop": [t(f"stop.{c}") for c in lib.common_stop],
    }
    if plan is not None:
        names = {ex.id: t(f"ex.{ex.id}.name") for ex in plan.exercises}
        context["phases"] = [
            {
                "name": t(f"ui.phase.{p['index']}"),
                "weeks": t("ui.phase.weeks", start=p["weeks"][0], end=p["weeks"][1]),
            }
            for p in plan.phases
        ]
        context["schedule"] = [
            {
                "day": t(f"day.{d['weekday']}"),
                "session": d["session"],
                "names": [names[i] for i in d["exercises"]],
            }
            for d in plan.schedule()
        ]
        cards = []
        for ex in plan.exercises:
            stage = ex.stage
            card = {
                "id": ex.id,
                "name": names[ex.id],
                "stage_label": t("ui.stage", stage=stage),
                "title": t(f"ex.{ex.id}.stage{stage}.title"),
                "how": t(f"ex.{ex.id}.stage{stage}.how"),
                "purpose": t(f"ex.{ex.id}.purpose"),
                "picture": _data_uri(ex.id, stage),
                "alt": t("ui.picture", name=names[ex.id], stage=stage),
                "dose": dose_text(ex.dose, t),
                "cues": [t(f"ex.{ex.id}.cue1"), t(f"ex.{ex.id}.cue2")],
                "notes": [t(n) for n in ex.notes],
                "starts": t("ui.starts_week", week=ex.start_week) if ex.start_week > 1 else "",
                "beginner_picture": "",
                "beginner_alt": "",
                "beginner_title": "",
                "beginner_how": "",
            }
            if stage > 0:
                card.update(
                    {
                        "beginner_picture": _data_uri(ex.id, 0),
                        "beginner_alt": t("ui.picture", name=names[ex.id], stage=0),
                        "beginner_title": t(f"ex.{ex.id}.stage0.title"),
                        "beginner_how": t(f"ex.{ex.id}.stage0.how"),
                    }
                )
            cards.append(card)
        context["exercises"] = cards
        mb = plan.movement_breaks
        breaks = (
            plan.exercise("movement_breaks").dose
            if any(e.id == "movement_breaks" for e in plan.exercises)
            else None
        )
        context["breaks_text"] = t(
            "ui.breaks_goal",
            interval=mb.get("interval_min"),
            minutes=breaks.duration_min if breaks else 1,
        )
        context["breaks_own"] = (
            t(
                "ui.breaks_from_own",
                bouts=mb["baseline_bouts_over_30min_per_day"],
                target=mb["target_bouts_over_30min_per_day"],
            )
            if mb.get("from_own_data") and mb.get("baseline_bouts_over_30min_per_day") is not None
            else ""
        )
        context["walking_text"] = t(
            "ui.walking_goal",
            minutes=plan.walking.get("start_min_per_day"),
            days=plan.walking.get("days_per_week"),
        )
        context["prompts"] = [
            t("prompt.break", minutes=mb.get("interval_min")),
            t("prompt.session"),
            t("prompt.log"),
            t("prompt.next_morning"),
        ]
        context["education"] = [t(f"edu.{e}") for e in plan.education]
        context["changes"] = [
            {
                "name": names.get(d["exercise"], d["exercise"]),
                "text": t(f"decision.{d['decision']}"),
                # plan.json decisions written before stages had numbers give the label only
                "stage": t("ui.stage", stage=STAGE_LABELS.index(d["to"]["level"])),
            }
            for d in plan.decisions
        ]
        review = plan.review
        context["review"] = t(f"review.{review['status']}") if review else ""
        adherence = plan.adherence
        context["adherence"] = _adherence_text(adherence, t) if adherence else ""
    template_text = (
        resources.files("spinestab.care").joinpath("templates/handout.html.j2").read_text("utf-8")
    )
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return env.from_string(template_text).render(**context)


def _adherence_text(adherence: dict[str, Any], t: Any) -> str:
    """Planned sessions done of those due, and the extra sessions apart (care.adherence)."""
    if adherence.get("pct") is None:
        text = t("ui.adherence_none_due")
    else:
        text = t(
            "ui.adherence",
            done=adherence["done_sessions"],
            planned=adherence["planned_sessions"],
            pct=adherence["pct"],
        )
    if adherence.get("extra_sessions"):
        text += ". " + t("ui.adherence_extra", n=adherence["extra_sessions"])
    return text
