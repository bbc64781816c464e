"""The types and ranges of the care rules, checked when the rules are loaded.

``rules.yaml`` (and any ``--rules`` file) is validated against :class:`RuleValues` when it
is loaded, so a bad value fails at once with the rule named, never later inside the triage
or the plan.

The ranges are what the rule means (a share is 0-1, a pain rating 0-10, a week count is not
negative); the values themselves and their sources are in ``rules.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinestab.errors import InputError

__all__ = ["RuleValues", "validate_rule_values"]

NonNegative = Annotated[int | float, Field(ge=0)]
Share = Annotated[int | float, Field(ge=0, le=1)]
Rating = Annotated[int | float, Field(ge=0, le=10)]
Percent = Annotated[int | float, Field(ge=0, le=100)]
Week = Annotated[int, Field(ge=1)]
Stage = Annotated[int, Field(ge=0, le=3)]
Urgency = Literal["emergency", "same_day", "urgent", "routine"]
FunctionalTrack = Literal["F1", "F2", "F3"]


class RuleValues(BaseModel):
    """Every care rule with its type and range (the value's source is in ``rules.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    blocking_urgencies: list[Urgency] = Field(min_length=1)
    red_flag_screen_required: bool
    chronic_weeks: NonNegative
    acute_weeks: NonNegative
    failed_active_care_weeks: NonNegative
    unknown_response_counts_as_failed: bool
    slip_present_min_mm: NonNegative
    high_grade_meyerding: Annotated[int, Field(ge=1, le=5)]
    s1_structural_requires_waiting: bool
    s2_escalation_concordant_after_failed_care: bool
    hicks_min_positive: Annotated[int, Field(ge=1, le=4)]
    hicks_age_below: Annotated[int | float, Field(ge=0, le=130)]
    hicks_slr_above_deg: Annotated[int | float, Field(ge=0, le=180)]
    movement_signs_two_item: bool
    low_risk_with_movement_signs_track: FunctionalTrack
    unknown_risk_track: FunctionalTrack
    fi_grade_cutoffs_pct: tuple[Percent, Percent]
    fi_asymmetry_pct: NonNegative | None
    valid_wear_day_min: Annotated[int | float, Field(ge=0, le=1440)]
    movement_break_interval_min: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]
    movement_break_reduction: Share
    weekly_activity_target_min: NonNegative
    walking_weekly_increase: Share
    phase_weeks: tuple[tuple[Week, Week], tuple[Week, Week], tuple[Week, Week]]
    phase_stages: tuple[tuple[Stage, Stage], tuple[Stage, Stage], tuple[Stage, Stage]]
    phase_weeks_fi2: tuple[tuple[Week, Week], tuple[Week, Week], tuple[Week, Week]]
    sessions_per_week: Annotated[int, Field(ge=1, le=7)]
    green_max: Rating
    amber_max: Rating
    progression_consecutive_sessions: Annotated[int, Field(ge=1)]
    progression_max_rpe: Rating
    regression_volume_factor: Annotated[int | float, Field(gt=0, le=1)]
    review_weeks: list[Week] = Field(min_length=1)
    neurostim_min_pain_months: NonNegative
    neurostim_min_nrs: Rating
    neurostim_min_odi: Percent
    neurostim_min_adherence_pct: Percent
    weekly_pain_increase_points: NonNegative
    progression_hold_step_s: NonNegative
    progression_reps_step: Annotated[int, Field(ge=1)]
    deformity_min_grade: Annotated[int, Field(ge=1, le=3)]
    deformity_fracture_urgency: Urgency
    cervical_referral_urgency: Urgency


def _ordered_pairs(values: RuleValues) -> list[tuple[str, str]]:
    """Relations between rules: ``(rule, what must hold)`` for each one broken."""
    broken = []
    low, high = values.fi_grade_cutoffs_pct
    if low > high:
        broken.append(("fi_grade_cutoffs_pct", "the grade-1 cut-off at or below the grade-2 one"))
    if values.movement_break_interval_min[0] > values.movement_break_interval_min[1]:
        broken.append(("movement_break_interval_min", "[shortest, longest] interval in min"))
    if values.amber_max < values.green_max:
        broken.append(("amber_max", f"at least green_max ({values.green_max:g})"))
    for name in ("phase_weeks", "phase_weeks_fi2", "phase_stages"):
        pairs = getattr(values, name)
        if any(a > b for a, b in pairs):
            broken.append((name, "each phase as [first, last] with first <= last"))
        elif name != "phase_stages" and any(nxt[0] != cur[1] + 1 for cur, nxt in pairwise(pairs)):
            broken.append((name, "phases that follow each other week by week"))
    return broken


def validate_rule_values(values: Mapping[str, Any], *, origin: str) -> RuleValues:
    """Validate the rule values; raise :class:`InputError` naming the first bad rule.

    Parameters
    ----------
    values : mapping
        ``{rule name: value}`` of every rule in force.
    origin : str
        Where the rules came from (the bundled file and any ``--rules`` file), for messages.

    """
    try:
        parsed = RuleValues.model_validate(dict(values))
    except ValidationError as exc:
        first = exc.errors()[0]
        # the rule name and list positions; not the union member pydantic tried (``int``)
        loc = [str(p) for i, p in enumerate(first["loc"]) if i == 0 or isinstance(p, int)]
        name = loc[0] if loc else "rules"
        raise InputError(
            f"bad care rule value ({first['msg']})",
            source=origin,
            item=".".join(loc) or None,
            value=values.get(name),
            expected=f"the type and range of rule {name} (see rules.yaml)",
        ) from None
    for name, expected in _ordered_pairs(parsed):
        raise InputError(
            "care rules that do not fit together",
            source=origin,
            item=name,
            value=values.get(name),
            expected=expected,
        )
    return parsed
