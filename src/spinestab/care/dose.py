"""Doses of one exercise stage and the steps up and down between them.

Progression follows CLINICAL_LOGIC.md §5.3 [D]: one variable at a time, in the order hold
time or repetitions -> sets -> stage. Regression drops one stage (to its start dose) or, at
the lowest stage, reduces the volume by the rule ``regression_volume_factor`` (30-50 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from spinestab.care.exercises import STAGES, Exercise
from spinestab.errors import InputError

__all__ = ["Dose", "start_dose", "step_down", "step_up"]

#: The ``change`` word of a move to another stage in ``plan.json`` decisions (``"level"``,
#: kept for its readers).
STAGE_CHANGE = "level"

HOLD_STEP_S = 2  # [D] seconds added per step-up of a hold
REPS_STEP = 2  # [D] repetitions added per step-up
SETS_STEP = 1  # [D]


@dataclass(frozen=True)
class Dose:
    """A prescribed dose.

    Attributes
    ----------
    type : {"hold", "reps", "walk", "break"}
    hold_s : int or None
        Seconds per hold.
    pyramid : tuple of int
        Descending hold blocks (McGill 5-3-1) for pyramid holds, else empty.
    sets : int or None
        Sets (reps type) or number of holds (hold type without pyramid).
    reps : int or None
        Repetitions per set.
    per_side : bool
        Dose applies to each side.
    tempo : str or None
        ``slow_lowering`` (3-4 s eccentric phase) or None.
    minutes : int or None
        Minutes per walk.
    per_day : int or None
        Walks per day.
    duration_min : int or None
        Minutes of a movement break.
    interval_min : int or None
        Longest sitting spell before a break (movement breaks).

    """

    type: str
    hold_s: int | None = None
    pyramid: tuple[int, ...] = ()
    sets: int | None = None
    reps: int | None = None
    per_side: bool = False
    tempo: str | None = None
    minutes: int | None = None
    per_day: int | None = None
    duration_min: int | None = None
    interval_min: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict without empty fields."""
        data = asdict(self)
        data["pyramid"] = list(self.pyramid)
        return {k: v for k, v in data.items() if v not in (None, [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "plan") -> Dose:
        """Validate and build a dose from its dict."""
        if not isinstance(data, dict) or data.get("type") not in ("hold", "reps", "walk", "break"):
            raise InputError(
                "not a dose",
                source=source,
                value=data,
                expected="an object with type hold/reps/walk/break",
            )
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InputError("unknown dose field", source=source, item=sorted(unknown)[0])
        values = dict(data)
        values["pyramid"] = tuple(int(x) for x in values.get("pyramid", ()))
        for key in ("hold_s", "sets", "reps", "minutes", "per_day", "duration_min", "interval_min"):
            if values.get(key) is not None:
                value = values[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InputError(
                        "not a non-negative whole number", source=source, item=key, value=value
                    )
        return cls(**values)

    @property
    def volume(self) -> float:
        """A scalar size of the dose (hold-seconds, repetitions or minutes) for comparison."""
        side = 2 if self.per_side else 1
        if self.type == "hold":
            n = sum(self.pyramid) if self.pyramid else (self.sets or 1)
            return float(n * (self.hold_s or 0) * side)
        if self.type == "reps":
            return float((self.sets or 0) * (self.reps or 0) * side)
        if self.type == "walk":
            return float((self.minutes or 0) * (self.per_day or 1))
        return float(self.duration_min or 0)


def _spec(exercise: Exercise, stage: int) -> dict[str, Any]:
    if not 0 <= stage < len(STAGES):
        raise InputError("stage out of range", item=exercise.id, value=stage, expected="0-3")
    return dict(exercise.stages[stage])


def start_dose(
    exercise: Exercise, stage: int, *, endurance: bool = False, extra_set: bool = False
) -> Dose:
    """Return the starting dose of ``exercise`` at ``stage``.

    Parameters
    ----------
    exercise : Exercise
        The library exercise.
    stage : int
        0-3.
    endurance : bool
        Endurance-focused dosing (§5.9 FI grade 2 [D]): repetitions start at the top of the
        range, sets at the bottom.
    extra_set : bool
        One more set than the start, up to the most (§5.9 extensor emphasis [D]).

    """
    spec = _spec(exercise, stage)
    kind = spec["type"]
    if kind == "hold":
        sets = spec.get("sets")
        n_sets = None if sets is None else min(sets[1], sets[0] + (SETS_STEP if extra_set else 0))
        return Dose(
            "hold",
            hold_s=int(spec["hold_s"][0]),
            pyramid=tuple(spec.get("pyramid", ())),
            sets=n_sets,
            per_side=bool(spec.get("per_side")),
            tempo=spec.get("tempo"),
        )
    if kind == "reps":
        reps = spec["reps"][1] if endurance else spec["reps"][0]
        sets = min(spec["sets"][1], spec["sets"][0] + (SETS_STEP if extra_set else 0))
        return Dose(
            "reps",
            sets=int(sets),
            reps=int(reps),
            per_side=bool(spec.get("per_side")),
            tempo=spec.get("tempo"),
        )
    if kind == "walk":
        return Dose("walk", minutes=int(spec["minutes"][0]), per_day=int(spec["per_day"]))
    return Dose("break", duration_min=int(spec["duration_min"][0]))


_Grown = tuple[Dose, str] | None


def _grow_hold(spec: dict[str, Any], dose: Dose, *, hold_step_s: int, **_: Any) -> _Grown:
    """Hold longer, up to the stage's most, then add a set."""
    top = int(spec["hold_s"][1])
    if (dose.hold_s or 0) < top:
        return replace(dose, hold_s=min(top, (dose.hold_s or 0) + hold_step_s)), "hold"
    if spec.get("sets") and (dose.sets or 0) < spec["sets"][1]:
        return replace(dose, sets=(dose.sets or 0) + SETS_STEP), "sets"
    return None


def _grow_reps(spec: dict[str, Any], dose: Dose, *, reps_step: int, **_: Any) -> _Grown:
    """Add repetitions, up to the stage's most, then a set."""
    if (dose.reps or 0) < spec["reps"][1]:
        return replace(dose, reps=min(spec["reps"][1], (dose.reps or 0) + reps_step)), "reps"
    if (dose.sets or 0) < spec["sets"][1]:
        return replace(dose, sets=(dose.sets or 0) + SETS_STEP), "sets"
    return None


def _grow_walk(spec: dict[str, Any], dose: Dose, *, walk_increase: float, **_: Any) -> _Grown:
    """Raise walking minutes by the weekly increase (at least one minute)."""
    top = int(spec["minutes"][1])
    if (dose.minutes or 0) >= top:
        return None
    grown = max((dose.minutes or 0) + 1, math.ceil((dose.minutes or 0) * (1 + walk_increase)))
    return replace(dose, minutes=min(top, grown)), "minutes"


def _grow_break(spec: dict[str, Any], dose: Dose, **_: Any) -> _Grown:
    """Make a movement break one minute longer."""
    if (dose.duration_min or 0) >= int(spec["duration_min"][1]):
        return None
    return replace(dose, duration_min=(dose.duration_min or 0) + 1), "minutes"


#: How each dose type grows within its stage (§5.3: time or repetitions, then sets).
_GROW: dict[str, Callable[..., _Grown]] = {
    "hold": _grow_hold,
    "reps": _grow_reps,
    "walk": _grow_walk,
    "break": _grow_break,
}


def step_up(
    exercise: Exercise,
    stage: int,
    dose: Dose,
    *,
    max_stage: int = 3,
    walk_increase: float = 0.10,
    hold_step_s: int = HOLD_STEP_S,
    reps_step: int = REPS_STEP,
) -> tuple[int, Dose, str]:
    """Progress one variable (§5.3 order: hold/reps -> sets -> stage).

    Parameters
    ----------
    exercise : Exercise
        The library exercise.
    stage : int
        Current stage, 0-3.
    dose : Dose
        Current dose.
    max_stage : int
        Highest stage allowed (the phase's).
    walk_increase : float
        Relative weekly increase of walking minutes (rule ``walking_weekly_increase``).
    hold_step_s, reps_step : int
        Seconds or repetitions added per step (rules ``progression_hold_step_s``,
        ``progression_reps_step``).

    Returns
    -------
    stage : int
    dose : Dose
    change : str
        ``hold``, ``reps``, ``sets``, ``minutes``, :data:`STAGE_CHANGE` or ``none`` (already at the
        most allowed, e.g. by the phase's highest stage).

    """
    spec = _spec(exercise, stage)
    grown = _GROW[dose.type](
        spec, dose, walk_increase=walk_increase, hold_step_s=hold_step_s, reps_step=reps_step
    )
    if grown is not None:
        return stage, grown[0], grown[1]
    if stage < min(max_stage, len(STAGES) - 1):
        new = start_dose(exercise, stage + 1)
        if dose.type == "break":
            new = replace(new, interval_min=dose.interval_min)
        return stage + 1, new, STAGE_CHANGE
    return stage, dose, "none"


def step_down(
    exercise: Exercise, stage: int, dose: Dose, *, volume_factor: float = 0.5
) -> tuple[int, Dose, str]:
    """Regress: one stage down (its start dose), or at stage 0 reduce the volume.

    Parameters
    ----------
    exercise : Exercise
        The library exercise.
    stage : int
        Current stage, 0-3.
    dose : Dose
        Current dose.
    volume_factor : float
        Fraction of the volume kept at the lowest stage (§5.3: reduce by 30-50 %).

    Returns
    -------
    stage, dose, change
        ``change`` is :data:`STAGE_CHANGE` or ``volume`` (or ``none`` at the smallest dose).

    """
    if stage > 0:
        new = start_dose(exercise, stage - 1)
        if dose.type == "break":
            new = replace(new, interval_min=dose.interval_min)
        return stage - 1, new, STAGE_CHANGE

    def cut(value: int | None) -> int | None:
        # Rounded up: §5.3 says reduce by 30-50 %, and flooring small counts cut more than
        # asked (a 5-3-1 pyramid halved by floor kept 2-1-1 = 4 of 9 holds, a 56 % cut).
        return None if value is None else max(1, math.ceil(value * volume_factor - 1e-9))

    if dose.type == "hold":
        if dose.pyramid:
            smaller = tuple(p for p in (cut(x) for x in dose.pyramid) if p)
            new = replace(dose, pyramid=smaller)
        else:
            new = replace(dose, sets=cut(dose.sets), hold_s=dose.hold_s)
    elif dose.type == "reps":
        new = replace(dose, reps=cut(dose.reps))
    elif dose.type == "walk":
        new = replace(dose, minutes=cut(dose.minutes))
    else:
        new = dose
    return (0, new, "volume") if new.volume < dose.volume else (0, dose, "none")
