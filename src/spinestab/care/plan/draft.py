"""The types the plan steps share: their input, the draft so far and one step's part."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from spinestab.care.config import CareRules, Reason
from spinestab.care.exercises import Library
from spinestab.care.plan.model import PlannedExercise
from spinestab.care.profile import StabilityProfile
from spinestab.care.triage import Triage

__all__ = ["FatEmphasis", "PlanDraft", "PlanInput", "PlanPart"]


@dataclass(frozen=True)
class PlanInput:
    """What every plan step may read."""

    profile: StabilityProfile
    triage: Triage
    rules: CareRules
    library: Library
    start: dt.date


@dataclass(frozen=True)
class FatEmphasis:
    """Multifidus fat and what it changes in the plan (§5.9)."""

    fat_pct: float | None
    grade: int | None
    asymmetry_pct: float | None
    asymmetric: bool

    @property
    def on(self) -> bool:
        """Extensor emphasis: fat grade >= 1 or an asymmetry at or above the rule."""
        return (self.grade or 0) >= 1 or self.asymmetric

    @property
    def grade2(self) -> bool:
        """Grade 2: lower starting load, longer phases, endurance dosing."""
        return self.grade == 2


@dataclass(frozen=True)
class PlanDraft:
    """The plan as the steps have built it so far (read-only for a step)."""

    fat: FatEmphasis = FatEmphasis(None, None, None, False)
    emphasis: Mapping[str, Any] = field(default_factory=dict)
    phases: tuple[dict[str, Any], ...] = ()
    start_stage: int = 0
    exercises: tuple[PlannedExercise, ...] = ()
    walking: Mapping[str, Any] = field(default_factory=dict)
    movement_breaks: Mapping[str, Any] = field(default_factory=dict)
    education: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    sessions_per_week: int = 0
    exercise_days: tuple[int, ...] = ()
    baseline: Mapping[str, Any] = field(default_factory=dict)
    reasons: tuple[Reason, ...] = ()

    def add(self, part: PlanPart) -> PlanDraft:
        """Return the draft with one step's part applied."""
        return replace(self, **part.changes, reasons=self.reasons + part.reasons)


@dataclass(frozen=True)
class PlanPart:
    """What one plan step adds: reasons, and the draft fields it sets."""

    reasons: tuple[Reason, ...] = ()
    changes: Mapping[str, Any] = field(default_factory=dict)
