"""Plan steps for daily activity: walking and movement breaks (CLINICAL_LOGIC.md §5.2, §5.7)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spinestab.care.config import CareRules
from spinestab.care.dose import Dose, start_dose
from spinestab.care.plan.draft import PlanDraft, PlanInput, PlanPart
from spinestab.care.plan.model import PlannedExercise
from spinestab.care.profile import StabilityProfile

__all__ = ["movement_breaks", "walking"]


def _walking_goal(profile: StabilityProfile, rules: CareRules, dose: Dose) -> dict[str, Any]:
    move = profile.movement
    baseline = move.walking_min if move is not None and move.valid_days else None
    return {
        "days_per_week": 5,
        "start_min_per_day": (dose.minutes or 0) * (dose.per_day or 1),
        "weekly_increase": float(rules["walking_weekly_increase"]),
        "target_min_per_week": int(rules["weekly_activity_target_min"]),
        "baseline_walking_min_per_day": None if baseline is None else round(baseline, 1),
        "baseline_steps_per_day": (
            None if move is None or move.steps is None else round(move.steps)
        ),
        "source": rules.rule("weekly_activity_target_min").source,
    }


def walking(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.2: walking from the patient's own baseline (30+ min a day starts at stage 2)."""
    move = inp.profile.movement
    baseline = move.walking_min if move is not None and move.valid_days else None
    stage = so_far.start_stage
    if baseline is not None and baseline >= 30:
        stage = max(stage, 2)
    dose = start_dose(inp.library["walking"], stage)
    planned = PlannedExercise("walking", stage, dose, 1, True)
    return PlanPart(
        changes={
            "exercises": (*so_far.exercises, planned),
            "walking": _walking_goal(inp.profile, inp.rules, dose),
        }
    )


def _break_goal(profile: StabilityProfile, rules: CareRules) -> dict[str, Any]:
    low, high = (int(x) for x in rules["movement_break_interval_min"])
    move = profile.movement
    if move is None or move.valid_days == 0 or move.longest_static_bout_min is None:
        why = (
            "no wearable data"
            if move is None
            else "no valid wear day in daily.csv"
            if move.valid_days == 0
            else "no static-bout figures on the valid days"
        )
        return {
            "interval_min": low,
            "from_own_data": False,
            "baseline_bouts_over_30min_per_day": None,
            "target_bouts_over_30min_per_day": None,
            "rule": f"{why}: lower end of the 30-45 min interval [D]",
        }
    # Prompt at half the patient's usual longest still spell, kept within 30-45 min and
    # rounded to 5 min [D]; goal: reduce the daily count of > 30 min static bouts.
    half = move.longest_static_bout_min / 2
    interval = int(min(high, max(low, 5 * round(half / 5))))
    bouts = move.static_bouts_over_30min
    target = None if bouts is None else int(bouts * (1 - float(rules["movement_break_reduction"])))
    return {
        "interval_min": interval,
        "from_own_data": True,
        "baseline_bouts_over_30min_per_day": None if bouts is None else round(bouts, 1),
        "baseline_longest_static_bout_min": round(move.longest_static_bout_min, 1),
        "target_bouts_over_30min_per_day": target,
        "valid_days": move.valid_days,
        "rule": "interval = half the median longest static bout, within 30-45 min; goal = "
        "static bouts > 30 min reduced by movement_break_reduction [D]",
    }


def movement_breaks(inp: PlanInput, so_far: PlanDraft) -> PlanPart:
    """§5.7: movement breaks at an interval from the patient's own static bouts."""
    goal = _break_goal(inp.profile, inp.rules)
    dose = replace(start_dose(inp.library["movement_breaks"], 0), interval_min=goal["interval_min"])
    reason = inp.rules.reason(
        "movement_breaks",
        f"Movement-break interval {goal['interval_min']} min ({goal['rule']}).",
        "movement_break_interval_min",
        "movement_break_reduction",
    )
    return PlanPart(
        (reason,),
        {
            "exercises": (*so_far.exercises, PlannedExercise("movement_breaks", 0, dose, 1, True)),
            "movement_breaks": goal,
        },
    )
