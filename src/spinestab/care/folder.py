"""A patient folder -> :class:`~spinestab.care.profile.StabilityProfile`.

Each file is read and validated by :mod:`spinestab.care.io`, summarised by
:mod:`spinestab.care.summarise`, and what is missing is listed by
:func:`~spinestab.care.missing.find_missing`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from spinestab.care.config import CareRules, load_rules
from spinestab.care.io import (
    questionnaire_files,
    read_daily,
    read_history,
    read_instability,
    read_json,
    read_morphometry,
    read_muscle_quality,
)
from spinestab.care.missing import find_missing
from spinestab.care.profile import History, StabilityProfile
from spinestab.care.summarise import clinical_state_from_scores, summarise_daily, summarise_muscle
from spinestab.clinical import Score, load_form, score_form
from spinestab.errors import InputError

__all__ = ["load_patient_dir"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_patient_dir(folder: str | Path, *, rules: CareRules | None = None) -> StabilityProfile:
    """Read and validate a patient folder and build the stability profile.

    Parameters
    ----------
    folder : path-like
        The patient folder (see module docstring).
    rules : CareRules, optional
        Care rules (bundled defaults if omitted).

    Returns
    -------
    StabilityProfile

    """
    rules = rules or load_rules()
    folder = _check_folder(Path(folder))
    history = History()
    if (folder / "history.json").is_file():
        history = read_history(
            read_json(folder / "history.json"), source=str(folder / "history.json")
        )
    scores = _scores(folder)
    clinical = clinical_state_from_scores(scores, history)
    muscle = _if_present(
        folder / "muscle_quality.csv",
        lambda p: summarise_muscle(
            read_muscle_quality(p), symptomatic_levels=history.symptomatic_levels
        ),
    )
    instability = _if_present(folder / "instability.json", read_instability)
    movement = _if_present(
        folder / "daily.csv", lambda p: summarise_daily(read_daily(p), rules=rules)
    )
    deformities = _if_present(folder / "morphometry.json", read_morphometry)
    missing = find_missing(clinical, muscle, instability, movement)
    log.info("profile of %s: %d scores, %d missing parts", folder.name, len(scores), len(missing))
    return StabilityProfile(
        folder.name,
        clinical.date,
        clinical,
        muscle,
        instability,
        movement,
        missing,
        deformities=deformities,
    )


def _check_folder(folder: Path) -> Path:
    if folder.is_file():
        raise InputError(
            "a file was given where a patient folder is expected",
            source=str(folder),
            expected="a folder with questionnaire files",
        )
    if not folder.is_dir():
        raise InputError(
            "patient folder not found",
            source=str(folder),
            expected="a folder with questionnaire files",
        )
    return folder


def _scores(folder: Path) -> list[Score]:
    """Score every questionnaire of the folder; one form per instrument and date."""
    scores = []
    seen: dict[tuple[str, Any], Path] = {}
    for path in questionnaire_files(folder):
        form = load_form(path)
        key = (form.instrument, form.date)
        if key in seen:
            raise InputError(
                "two forms of the same instrument on the same date",
                source=str(path),
                item=form.instrument,
                value=f"{form.date.isoformat()} (also in {seen[key].name})",
                expected="one form per instrument and date",
            )
        seen[key] = path
        scores.append(score_form(form))
    if not scores:
        raise InputError(
            "no questionnaire files",
            source=str(folder),
            expected="JSON/YAML files {instrument, date, answers}",
        )
    return scores


def _if_present(path: Path, read: Callable[[Path], T]) -> T | None:
    """``read(path)`` when the optional file is there, else None."""
    return read(path) if path.is_file() else None
