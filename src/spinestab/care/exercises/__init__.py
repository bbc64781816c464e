"""The exercise library as data: ``library.yaml`` plus one SVG picture per exercise and level."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from spinestab.errors import InputError

__all__ = ["LEVELS", "Exercise", "figure_svg", "load_library"]

LEVELS = ("L0", "L1", "L2", "L3")
DOSE_TYPES = ("hold", "reps", "walk", "break")


@dataclass(frozen=True)
class Exercise:
    """One exercise with its four levels.

    Attributes
    ----------
    id : str
        Identifier, e.g. ``"bird_dog"``; also the stem of its message keys and figures.
    group : str
        ``home`` (the six of §5.2), ``motor_control``, ``eccentric`` or ``activity``.
    target : str
        What it trains (clinician-facing).
    extensor : bool
        Loads the back extensors / posterior chain (emphasis for multifidus fat, §5.9).
    supine : bool
        Done lying on the back (avoid after the 1st trimester of pregnancy, §5.2 note 3).
    hands_loaded : bool
        Weight on hands or forearms (shoulder/wrist pain variants, §5.2 note 5).
    contraindications : tuple of str
        Codes of contraindication notes (``contra.<code>`` messages).
    levels : dict
        ``L0``..``L3`` -> dose specification (ranges ``[start, most]``).
    source, evidence : str
        Source and evidence tag.
    loaded_flexion : bool
        Whether the exercise loads the spine in flexion (left out when a vertebral
        deformity rules that out, ``CLINICAL_LOGIC.md`` §4.6).

    """

    id: str
    group: str
    target: str
    extensor: bool
    supine: bool
    hands_loaded: bool
    contraindications: tuple[str, ...]
    levels: Mapping[str, Mapping[str, Any]]
    source: str
    evidence: str
    loaded_flexion: bool = False

    def message_keys(self) -> list[str]:
        """All catalogue keys of this exercise's patient-facing text."""
        keys = [f"ex.{self.id}.{part}" for part in ("name", "purpose", "cue1", "cue2")]
        for level in LEVELS:
            keys += [f"ex.{self.id}.{level}.title", f"ex.{self.id}.{level}.how"]
        keys += [f"contra.{code}" for code in self.contraindications]
        return keys

    def figure_name(self, level: str) -> str:
        """File name of the picture of ``level`` (``figures/<id>_<level>.svg``)."""
        return f"{self.id}_{level}.svg"


@dataclass(frozen=True)
class Library:
    """The parsed library."""

    exercises: Mapping[str, Exercise]
    common_safety: tuple[str, ...]
    common_stop: tuple[str, ...]

    def __getitem__(self, exercise_id: str) -> Exercise:
        """Return exercise ``exercise_id``."""
        try:
            return self.exercises[exercise_id]
        except KeyError:
            raise InputError(
                "unknown exercise", item=exercise_id, expected="one of " + ", ".join(self.exercises)
            ) from None

    def message_keys(self) -> list[str]:
        """Every catalogue key the library needs."""
        keys = [f"safety.{c}" for c in self.common_safety]
        keys += [f"stop.{c}" for c in self.common_stop]
        for ex in self.exercises.values():
            keys += ex.message_keys()
        return list(dict.fromkeys(keys))


def _parse(raw: Mapping[str, Any]) -> Library:
    exercises = {}
    for ex_id, spec in raw["exercises"].items():
        levels = spec["levels"]
        if tuple(levels) != LEVELS:
            raise InputError("levels must be L0..L3", item=ex_id, value=list(levels))
        for level, dose in levels.items():
            if dose.get("type") not in DOSE_TYPES:
                raise InputError(
                    "unknown dose type",
                    item=f"{ex_id} {level}",
                    value=dose.get("type"),
                    expected=", ".join(DOSE_TYPES),
                )
        exercises[ex_id] = Exercise(
            id=ex_id,
            group=spec["group"],
            target=spec["target"],
            extensor=bool(spec["extensor"]),
            supine=bool(spec["supine"]),
            hands_loaded=bool(spec["hands_loaded"]),
            contraindications=tuple(spec.get("contraindications", ())),
            levels=levels,
            source=" ".join(str(spec["source"]).split()),
            evidence=str(spec["evidence"]),
            loaded_flexion=bool(spec.get("loaded_flexion", False)),
        )
    return Library(exercises, tuple(raw["common_safety"]), tuple(raw["common_stop"]))


@cache
def load_library() -> Library:
    """Load the bundled exercise library."""
    text = resources.files("spinestab.care.exercises").joinpath("library.yaml").read_text("utf-8")
    return _parse(yaml.safe_load(text))


def figure_svg(exercise_id: str, level: str) -> str:
    """Return the SVG text of the picture of ``exercise_id`` at ``level``."""
    path = resources.files("spinestab.care.exercises").joinpath(
        f"figures/{exercise_id}_{level}.svg"
    )
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError("no picture for exercise level", item=f"{exercise_id} {level}") from None
