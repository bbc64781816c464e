"""The plan's types: a planned exercise and a versioned plan (``plan.json``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from spinestab.care.config import Reason
from spinestab.care.dose import Dose
from spinestab.care.exercises import STAGE_LABELS, stage_label
from spinestab.errors import InputError

__all__ = ["Plan", "PlannedExercise"]


@dataclass(frozen=True)
class PlannedExercise:
    """One exercise in a plan.

    Attributes
    ----------
    id : str
        Library id.
    stage : int
        0 (beginner) to 3; ``plan.json`` writes it as ``"stage"`` and labels it
        ``"level": "L0"``..``"L3"`` (the name it has always had there).
    dose : Dose
    start_week : int
        First programme week (1-based) in which it is done.
    daily : bool
        Done every day (low-load motor control, movement breaks, walking) rather than on
        the exercise days only.
    emphasis : bool
        Emphasised (extensor loading for multifidus fat, §5.9).
    notes : tuple of str
        Patient-facing contraindication message keys (``contra.<code>``) that apply.
    clinician_notes : tuple of str
        Notes for the clinician (English).

    """

    id: str
    stage: int
    dose: Dose
    start_week: int = 1
    daily: bool = False
    emphasis: bool = False
    notes: tuple[str, ...] = ()
    clinician_notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "level": stage_label(self.stage),
            "stage": self.stage,
            "dose": self.dose.to_dict(),
            "start_week": self.start_week,
            "daily": self.daily,
            "emphasis": self.emphasis,
            "notes": list(self.notes),
            "clinician_notes": list(self.clinician_notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "plan") -> PlannedExercise:
        """Validate and build from the dict of :meth:`to_dict`."""
        try:
            stage = STAGE_LABELS.index(str(data["level"]))
        except (KeyError, ValueError):
            raise InputError(
                "exercise stage missing or unknown",
                source=source,
                item=str(data.get("id")),
                value=data.get("level"),
                expected="level L0-L3",
            ) from None
        if data.get("stage", stage) != stage:
            raise InputError(
                "stage and level disagree",
                source=source,
                item=str(data.get("id")),
                value={"level": data["level"], "stage": data["stage"]},
                expected=f"stage {stage} for level {data['level']}",
            )
        if "id" not in data or "dose" not in data:
            raise InputError("exercise without id or dose", source=source, value=data)
        return cls(
            str(data["id"]),
            stage,
            Dose.from_dict(data["dose"], source=source),
            int(data.get("start_week", 1)),
            bool(data.get("daily", False)),
            bool(data.get("emphasis", False)),
            tuple(data.get("notes", ())),
            tuple(data.get("clinician_notes", ())),
        )


@dataclass(frozen=True)
class Plan:
    """A versioned active-care plan (``plan.json``).

    Attributes
    ----------
    version : int
        1 for the first plan; each ``spinestab progress`` run adds one.
    created : datetime.date
        Date the version was made.
    programme_start : datetime.date
        Date of week 1, day 1.
    patient, track : str
    status : {"active", "draft"}
        ``draft`` while the red-flag screen is missing or incomplete, or an earlier positive
        screen is not confirmed as assessed.
    phases : tuple of dict
        ``index``, ``weeks`` [first, last], ``levels`` [lowest, highest] exercise stage (the
        key's name since the first ``plan.json``), ``focus``.
    sessions_per_week : int
    exercise_days : tuple of int
        Weekdays (0 = Monday) with the exercise session.
    exercises : tuple of PlannedExercise
    walking : dict
        Walking goal from the patient's own baseline.
    movement_breaks : dict
        Break interval and the daily goal from the patient's own static bouts.
    education : tuple of str
        Education message keys (``edu.<code>``).
    actions : tuple of dict
        Triage actions (code, kind, urgency) carried into the plan, e.g. referrals.
    not_offered : tuple of str
        Passive modalities and options the guideline set does not offer.
    emphasis : dict
        Multifidus fat grade and what it changed.
    baseline : dict
        Baseline scores for the reviews (primary measure first).
    reasons : tuple of Reason
        Why the plan looks as it does, with sources; configurable rules marked.
    history : tuple of dict
        Summaries of every earlier version (kept, never overwritten).
    clinician_limits_required : bool
        S2: a clinician sets flexion/extension loading limits before the first session.
    rules_origin : str

    """

    version: int
    created: dt.date
    programme_start: dt.date
    patient: str
    track: str
    status: str
    phases: tuple[dict[str, Any], ...]
    sessions_per_week: int
    exercise_days: tuple[int, ...]
    exercises: tuple[PlannedExercise, ...]
    walking: dict[str, Any]
    movement_breaks: dict[str, Any]
    education: tuple[str, ...]
    actions: tuple[dict[str, Any], ...]
    not_offered: tuple[str, ...]
    emphasis: dict[str, Any]
    baseline: dict[str, Any]
    reasons: tuple[Reason, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    clinician_limits_required: bool = False
    rules_origin: str = ""
    decisions: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    review: dict[str, Any] | None = None
    adherence: dict[str, Any] | None = None

    def exercise(self, exercise_id: str) -> PlannedExercise:
        """Return the planned exercise ``exercise_id``."""
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise KeyError(exercise_id)

    def week_of(self, day: dt.date) -> int:
        """Programme week (1-based) of a calendar date."""
        return (day - self.programme_start).days // 7 + 1

    def schedule(self) -> list[dict[str, Any]]:
        """Return the weekly schedule: per weekday the exercises, walking and breaks."""
        days = []
        for weekday in range(7):
            session = weekday in self.exercise_days
            ids = [
                ex.id
                for ex in self.exercises
                if ex.id not in ("walking", "movement_breaks") and (ex.daily or session)
            ]
            days.append(
                {
                    "weekday": weekday,
                    "session": session,
                    "exercises": ids,
                    "walking": True,
                    "movement_breaks": True,
                }
            )
        return days

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``plan.json``)."""
        return {
            "version": self.version,
            "created": self.created.isoformat(),
            "programme_start": self.programme_start.isoformat(),
            "patient": self.patient,
            "track": self.track,
            "status": self.status,
            "phases": [dict(p) for p in self.phases],
            "sessions_per_week": self.sessions_per_week,
            "exercise_days": list(self.exercise_days),
            "schedule": self.schedule(),
            "exercises": [ex.to_dict() for ex in self.exercises],
            "walking": dict(self.walking),
            "movement_breaks": dict(self.movement_breaks),
            "education": list(self.education),
            "actions": [dict(a) for a in self.actions],
            "not_offered": list(self.not_offered),
            "emphasis": dict(self.emphasis),
            "baseline": dict(self.baseline),
            "clinician_limits_required": self.clinician_limits_required,
            "reasons": [r.to_dict() for r in self.reasons],
            "decisions": [dict(d) for d in self.decisions],
            "review": self.review,
            "adherence": self.adherence,
            "history": [dict(h) for h in self.history],
            "rules_origin": self.rules_origin,
            "note": "Supports decisions; does not diagnose. Rules tagged R or D are "
            "configurable (rules.yaml) and need clinical review.",
        }

    def summary(self) -> dict[str, Any]:
        """Return a compact record of this version for the history of later versions."""
        return {
            "version": self.version,
            "created": self.created.isoformat(),
            "track": self.track,
            "status": self.status,
            "exercises": {
                ex.id: {
                    "level": stage_label(ex.stage),
                    "stage": ex.stage,
                    "dose": ex.dose.to_dict(),
                }
                for ex in self.exercises
            },
            "decisions": [dict(d) for d in self.decisions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "plan.json") -> Plan:
        """Validate a ``plan.json`` document and rebuild the plan."""
        required = (
            "version",
            "created",
            "programme_start",
            "patient",
            "track",
            "status",
            "phases",
            "sessions_per_week",
            "exercise_days",
            "exercises",
        )
        if not isinstance(data, dict):
            raise InputError("not a plan", source=source, expected="a plan.json object")
        missing = [k for k in required if k not in data]
        if missing:
            raise InputError(
                "not a plan: missing field(s) " + ", ".join(missing),
                source=source,
                expected="a plan.json written by spinestab plan",
            )
        try:
            created = dt.date.fromisoformat(str(data["created"]))
            start = dt.date.fromisoformat(str(data["programme_start"]))
        except ValueError:
            raise InputError(
                "bad date in plan", source=source, value=data["created"], expected="YYYY-MM-DD"
            ) from None
        reasons = tuple(
            Reason(
                r["code"],
                r["text"],
                r["source"],
                r["evidence"],
                bool(r.get("configurable")),
                tuple(r.get("rules", ())),
            )
            for r in data.get("reasons", ())
        )
        return cls(
            version=int(data["version"]),
            created=created,
            programme_start=start,
            patient=str(data["patient"]),
            track=str(data["track"]),
            status=str(data["status"]),
            phases=tuple(data["phases"]),
            sessions_per_week=int(data["sessions_per_week"]),
            exercise_days=tuple(int(d) for d in data["exercise_days"]),
            exercises=tuple(PlannedExercise.from_dict(e, source=source) for e in data["exercises"]),
            walking=dict(data.get("walking", {})),
            movement_breaks=dict(data.get("movement_breaks", {})),
            education=tuple(data.get("education", ())),
            actions=tuple(data.get("actions", ())),
            not_offered=tuple(data.get("not_offered", ())),
            emphasis=dict(data.get("emphasis", {})),
            baseline=dict(data.get("baseline", {})),
            reasons=reasons,
            history=tuple(data.get("history", ())),
            clinician_limits_required=bool(data.get("clinician_limits_required", False)),
            rules_origin=str(data.get("rules_origin", "")),
            decisions=tuple(data.get("decisions", ())),
            review=data.get("review"),
            adherence=data.get("adherence"),
        )
