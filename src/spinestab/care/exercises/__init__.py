"""The exercise library as data: ``library.yaml`` plus one SVG picture per exercise and stage.

Every exercise has four *stages*, 0 (beginner) to 3: the exercise levels L0-L3 of
CLINICAL_LOGIC.md §5.2, called stages in spinestab so that "L1" only ever names a vertebra.
``plan.json`` keeps labelling them ``"L0"``..``"L3"`` (key ``level``, :data:`STAGE_LABELS`)
and gives the number beside it (key ``stage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from spinestab.core.safe_load import parse_yaml
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["STAGES", "STAGE_LABELS", "Exercise", "figure_svg", "load_library", "stage_label"]

#: The stages of every exercise, beginner (0) to most demanding (3).
STAGES = (0, 1, 2, 3)
#: How ``plan.json`` has always labelled the stages (key ``level``), kept for its readers.
STAGE_LABELS = ("L0", "L1", "L2", "L3")
DOSE_TYPES = ("hold", "reps", "walk", "break")


@dataclass(frozen=True)
class Exercise:
    """One exercise with its four stages.

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
    stages : dict
        Stage 0..3 -> dose specification (ranges ``[start, most]``).
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
    stages: Mapping[int, Mapping[str, Any]]
    source: str
    evidence: str
    loaded_flexion: bool = False

    def message_keys(self) -> list[str]:
        """All catalogue keys of this exercise's patient-facing text."""
        keys = [f"ex.{self.id}.{part}" for part in ("name", "purpose", "cue1", "cue2")]
        for stage in STAGES:
            keys += [f"ex.{self.id}.stage{stage}.title", f"ex.{self.id}.stage{stage}.how"]
        keys += [f"contra.{code}" for code in self.contraindications]
        return keys

    def figure_name(self, stage: int) -> str:
        """File name of the picture of ``stage`` (``figures/<id>_stage<k>.svg``)."""
        return f"{self.id}_stage{stage}.svg"


@dataclass(frozen=True)
class Library:
    """The parsed library."""

    exercises: Mapping[str, Exercise]
    common_safety: tuple[str, ...]
    common_stop: tuple[str, ...]

    def __getitem__(self, exercise_id: str) -> Exercise:
        """Return exercise ``exercise_id``."""
        check_choice("exercise", exercise_id, self.exercises, message="unknown exercise")
        return self.exercises[exercise_id]

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
        stages = spec["stages"]
        if tuple(stages) != STAGES:
            raise InputError("stages must be 0..3", item=ex_id, value=list(stages))
        for stage, dose in stages.items():
            check_choice(
                f"{ex_id} stage {stage}",
                dose.get("type"),
                DOSE_TYPES,
                message="unknown dose type",
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
            stages=stages,
            source=" ".join(str(spec["source"]).split()),
            evidence=str(spec["evidence"]),
            loaded_flexion=bool(spec.get("loaded_flexion", False)),
        )
    return Library(exercises, tuple(raw["common_safety"]), tuple(raw["common_stop"]))


@cache
def load_library() -> Library:
    """Load the bundled exercise library."""
    text = resources.files("spinestab.care.exercises").joinpath("library.yaml").read_text("utf-8")
    return _parse(parse_yaml(text))


def figure_svg(exercise_id: str, stage: int) -> str:
    """Return the SVG text of the picture of ``exercise_id`` at ``stage`` (0-3)."""
    path = resources.files("spinestab.care.exercises").joinpath(
        f"figures/{exercise_id}_stage{stage}.svg"
    )
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(
            "no picture for exercise stage", item=f"{exercise_id} stage {stage}"
        ) from None


def stage_label(stage: int) -> str:
    """Return the ``plan.json`` label of a stage: ``"L0"``..``"L3"`` (key ``level``)."""
    return STAGE_LABELS[stage]
