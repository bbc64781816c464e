"""A patient folder -> :class:`~spinestab.care.profile.StabilityProfile`.

Each file is read and validated by :mod:`spinestab.care.io`, summarised by
:mod:`spinestab.care.summarise`, and what is missing is listed by
:func:`~spinestab.care.missing.find_missing`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
from spinestab.clinical import load_form, score_form
from spinestab.errors import InputError

__all__ = ["load_patient_dir"]

log = logging.getLogger(__name__)


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
    folder = Path(folder)
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
    history = History()
    if (folder / "history.json").is_file():
        history = read_history(
            read_json(folder / "history.json"), source=str(folder / "history.json")
        )
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
    clinical = clinical_state_from_scores(scores, history)
    muscle = None
    if (folder / "muscle_quality.csv").is_file():
        muscle = summarise_muscle(
            read_muscle_quality(folder / "muscle_quality.csv"),
            symptomatic_levels=history.symptomatic_levels,
        )
    instability = None
    if (folder / "instability.json").is_file():
        instability = read_instability(folder / "instability.json")
    movement = None
    if (folder / "daily.csv").is_file():
        movement = summarise_daily(read_daily(folder / "daily.csv"), rules=rules)
    deformities = None
    if (folder / "morphometry.json").is_file():
        deformities = read_morphometry(folder / "morphometry.json")
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
