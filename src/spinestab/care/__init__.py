"""Stability profile, triage by the stabilization hierarchy, and a progressive plan.

Sources and evidence tags: ``../shared/clinical/CLINICAL_LOGIC.md`` §3-§5 and §8. Rules
tagged [R] or [D] are configurable (``rules.yaml``; ``--rules FILE``) and say so in the
output. Supports decisions; does not diagnose.

The chain on files is :func:`run_plan` (``spinestab plan``) and :func:`run_progress`
(``spinestab progress``); the pieces are :func:`load_patient_dir` -> :func:`triage` ->
:func:`prescribe` -> :func:`progress`, and :func:`fit_response_model` for a clinic's own
outcome data.
"""

from pathlib import Path
from typing import Any

from spinestab.care.config import CareRules, Reason, load_rules
from spinestab.care.folder import load_patient_dir
from spinestab.care.pipeline import run_demo, run_plan, run_progress
from spinestab.care.plan import Plan, PlannedExercise, prescribe
from spinestab.care.profile import StabilityProfile
from spinestab.care.progression import SessionLog, progress, read_sessions
from spinestab.care.triage import Triage, triage

__all__ = [
    "CareRules",
    "Plan",
    "PlannedExercise",
    "Reason",
    "SessionLog",
    "StabilityProfile",
    "Triage",
    "demo_patients_dir",
    "fit_response_model",
    "load_patient_dir",
    "load_rules",
    "prescribe",
    "progress",
    "read_sessions",
    "run_demo",
    "run_plan",
    "run_progress",
    "triage",
]


def fit_response_model(outcomes: Any, **options: Any) -> Any:
    """Fit who-benefits-from-which-programme models; see :mod:`spinestab.care.response`.

    Returns a :class:`spinestab.care.response.ResponseModel` (imported lazily: needs the
    ``care`` extra, scikit-learn).
    """
    from spinestab.care.response import fit_response_model as _fit

    return _fit(outcomes, **options)


def demo_patients_dir() -> Path:
    """Return the folder of the bundled demo patients (one sub-folder per patient)."""
    from importlib import resources

    return Path(str(resources.files("spinestab").joinpath("data/demo_patients")))
