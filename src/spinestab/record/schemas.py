"""Typed results of the record services (pydantic, so the web app can serve them as is).

``model_dump(mode="json")`` gives the JSON of ``spinestab record show --json`` and of the
web API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AssessmentOut",
    "EpisodeOut",
    "FileOut",
    "FormSaved",
    "HistoryOut",
    "ImagingOut",
    "InstabilityOut",
    "MorphometryOut",
    "OutcomeOut",
    "PatientOut",
    "PlanMade",
    "PlanOut",
    "RedFlagOut",
    "SessionOut",
    "SessionsSaved",
    "Timeline",
    "WearableOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PatientOut(_Out):
    """A patient."""

    pseudonym: str
    sex: str | None
    birth_year: int | None
    created_at: dt.datetime | None
    created_by: str | None
    episode: int | None = None


class EpisodeOut(_Out):
    """An episode of care."""

    number: int
    started_on: dt.date
    ended_on: dt.date | None
    reason: str | None


class FileOut(_Out):
    """A file of the record (its bytes are in the artifact store under ``sha256``)."""

    id: int
    role: str
    name: str
    sha256: str


class AssessmentOut(_Out):
    """A stored questionnaire with its score (``score``: the ``spinestab score --json`` dict)."""

    id: int
    instrument: str
    date: dt.date
    status: str
    source_format: str | None
    source: str | None
    content_hash: str
    fhir_id: str | None
    score: dict[str, Any]
    created_at: dt.datetime | None
    created_by: str | None
    retracted_at: dt.datetime | None = None
    retracted_by: str | None = None


class RedFlagOut(_Out):
    """An open red-flag action (from the latest screen, with items derived from the history)."""

    condition: str
    label: str
    urgency: str
    action: str
    items: list[str]
    source: str
    evidence: str
    blocks_exercise: bool
    blocking: bool
    screen_date: dt.date | None
    derived_items: list[str] = []


class FormSaved(_Out):
    """The result of saving (or retracting) a questionnaire."""

    assessment: AssessmentOut
    retracted: bool = False
    blocked_plans: list[int] = []
    open_red_flags: list[RedFlagOut] = []


class HistoryOut(_Out):
    """One version of the history and examination."""

    version: int
    recorded_on: dt.date | None
    data: dict[str, Any]
    source: str | None
    created_at: dt.datetime | None
    created_by: str | None


class ImagingOut(_Out):
    """An imaging study (muscle quality) with its rows and files."""

    id: int
    performed_on: dt.date | None
    modality: str | None
    fat_method: str | None
    options: dict[str, Any]
    source: str | None
    rows: list[dict[str, Any]]
    files: list[FileOut]
    created_at: dt.datetime | None
    created_by: str | None


class InstabilityOut(_Out):
    """An instability study with its per-level results and files."""

    id: int
    performed_on: dt.date | None
    thresholds: str | None
    options: dict[str, Any]
    source: str | None
    levels: list[dict[str, Any]]
    files: list[FileOut]
    created_at: dt.datetime | None
    created_by: str | None


class MorphometryOut(_Out):
    """A vertebral morphometry with its vertebrae (``morphometry.json`` keys) and files.

    ``blocked_plans``: plan versions this save blocked (a new deformity with acute pain
    raises the suspected-fracture red flag, CLINICAL_LOGIC.md §4.6 and §3).
    """

    id: int
    performed_on: dt.date | None
    unit: str | None
    options: dict[str, Any]
    source: str | None
    vertebrae: list[dict[str, Any]]
    files: list[FileOut]
    created_at: dt.datetime | None
    created_by: str | None
    blocked_plans: list[int] = []


class WearableOut(_Out):
    """A wearable recording with its daily rows, prompt count and files."""

    id: int
    first_date: dt.date | None
    last_date: dt.date | None
    setup: str | None
    options: dict[str, Any]
    source: str | None
    days: list[dict[str, Any]]
    prompts: int
    files: list[FileOut]
    created_at: dt.datetime | None
    created_by: str | None


class PlanOut(_Out):
    """A plan version; ``plan`` is the ``plan.json`` document (status as in the record)."""

    version: int
    status: str
    track: str
    approved_by: str | None
    approved_at: dt.datetime | None
    created_at: dt.datetime | None
    created_by: str | None
    previous_version: int | None = None
    status_reason: str | None = None
    plan: dict[str, Any] | None = None


class PlanMade(_Out):
    """A new plan version and its documents (file name -> text), as ``--out`` writes them."""

    plan: PlanOut
    documents: dict[str, str]
    superseded_drafts: list[int] = []
    inputs: dict[str, Any] = {}


class SessionOut(_Out):
    """One logged exercise of one session."""

    date: dt.date
    exercise: str
    done: bool
    sets: int | None
    reps: int | None
    hold_s: int | None
    pain_before: int | None
    pain_during: int | None
    pain_after: int | None
    pain_next_morning: int | None
    effort: int | None
    form_ok: bool | None
    plan_version: int | None
    created_at: dt.datetime | None
    created_by: str | None


class OutcomeOut(_Out):
    """A follow-up score given as a number."""

    date: dt.date
    instrument: str
    value: float
    source: str | None


class SessionsSaved(_Out):
    """The result of saving session logs (rows already stored are counted, not stored)."""

    plan_version: int
    stored: int
    already_stored: int
    outcomes_stored: int = 0


class Timeline(_Out):
    """Everything in one patient's record (``spinestab record show --json``)."""

    patient: PatientOut
    episodes: list[EpisodeOut]
    assessments: list[AssessmentOut]
    history: HistoryOut | None
    history_versions: int
    imaging: list[ImagingOut]
    instability: list[InstabilityOut]
    morphometry: list[MorphometryOut]
    wearable: list[WearableOut]
    plans: list[PlanOut]
    sessions: list[SessionOut]
    outcomes: list[OutcomeOut]
    open_red_flags: list[RedFlagOut]
