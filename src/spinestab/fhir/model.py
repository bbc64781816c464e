"""What a FHIR export holds, typed: the builder writes it, the importer reads it back.

The record (or a patient folder, until the record serves it) fills :class:`PatientExport`;
:func:`spinestab.fhir.build_bundle` turns it into a Bundle and
:func:`spinestab.fhir.read_bundle` turns a Bundle back into it, so that export, import,
export gives the same resources.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DayMovement",
    "FormEntry",
    "HistoryExport",
    "ImagingExport",
    "InstabilityExport",
    "LandmarkTrace",
    "MaskTrace",
    "MorphometryExport",
    "MuscleMeasure",
    "PatientExport",
    "PlanExport",
    "PlannedActivity",
    "RedFlagExport",
    "Referral",
    "SegmentMeasure",
    "SourceDocument",
    "TriageExport",
    "VertebraShape",
    "WearableSensor",
]


@dataclass(frozen=True)
class FormEntry:
    """One questionnaire as filled in: instrument, date and answers in the file format."""

    instrument: str
    date: dt.date
    answers: Any


@dataclass(frozen=True)
class Referral:
    """A triage action that is a referral or an escalation (a ServiceRequest)."""

    code: str
    text: str
    urgency: str
    source: str


@dataclass(frozen=True)
class MuscleMeasure:
    """One muscle-quality value: muscle, side, level, measure, value and method."""

    muscle: str
    side: str
    level: str
    measure: str  # csa_max_mm2, csa_mean_mm2, lean_csa_mean_mm2, fat_fraction_pct, volume_ml
    value: float
    method: str


@dataclass(frozen=True)
class MaskTrace:
    """The mask version an analysis measured: the record's image series, version, how, who.

    ``method``: ``manual`` (traced in the viewer), ``edited``, ``imported`` or
    ``segmenter NAME``; ``author``: who stored that version (the clinician who traced or
    edited it, or who imported it).
    """

    series: int
    version: int
    method: str
    author: str | None


@dataclass(frozen=True)
class LandmarkTrace:
    """One landmark version an instability study used: the view, film, version and reader."""

    view: str
    radiograph: int
    version: int
    reader: str | None


@dataclass(frozen=True)
class ImagingExport:
    """A muscle analysis of one imaging study."""

    study_id: str
    date: dt.date
    modality: str
    series_uid: str | None
    measures: tuple[MuscleMeasure, ...]
    mask_author: str | None = None
    segmenter: str | None = None
    study_uid: str | None = None
    mask_file: str | None = None  # name and SHA-256 of a mask given as a file
    mask_version: MaskTrace | None = None  # the viewer's mask version the analysis measured
    levels_by: str | None = None  # who named the vertebral levels (viewer or --level-names)


@dataclass(frozen=True)
class SegmentMeasure:
    """One instability value of one motion segment."""

    level: str
    measure: str  # slip_mm, slip_pct, meyerding_grade, translation_mm, ...
    value: float
    method: str


@dataclass(frozen=True)
class InstabilityExport:
    """An instability study: values per segment and the verdicts."""

    study_id: str
    date: dt.date
    measures: tuple[SegmentMeasure, ...]
    verdicts: tuple[tuple[str, str], ...] = ()  # (segment, stable/borderline/unstable)
    landmarks_author: str | None = None  # the reader who placed the landmarks
    landmarks: tuple[LandmarkTrace, ...] = ()  # the landmark versions used, by view


@dataclass(frozen=True)
class DayMovement:
    """One day of a wearable recording (a ``daily.csv`` row, blanks as None)."""

    date: dt.date
    steps: float | None
    minutes: tuple[tuple[str, float | None], ...]  # (daily.csv column, minutes)
    recording: str = ""  # the wearable recording of the record ("" for a folder's daily.csv)
    #: the span of the day the recording covers (ISO dateTimes with the local offset); None
    #: where only ``daily.csv`` is known (the Observation then spans the whole date)
    period: tuple[str, str] | None = None


@dataclass(frozen=True)
class VertebraShape:
    """One vertebra of a morphometry study (``morphometry.json``'s keys; blanks as None)."""

    level: str
    measures: tuple[tuple[str, float | None], ...]  # (key, value): heights mm, losses %
    deformity: str | None = None
    genant_grade: int | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class MorphometryExport:
    """A vertebral morphometry study: one row per vertebra (CLINICAL_LOGIC.md §4.6)."""

    study_id: str
    date: dt.date
    vertebrae: tuple[VertebraShape, ...]


@dataclass(frozen=True)
class WearableSensor:
    """A sensor of a wearable recording, as its ``wearable_summary.json`` names it (a Device).

    ``device``: the reader's device string (``AX3``, ``GENEActiv``, ``ActiGraph wGT3XBT``,
    or a file format such as ``npy`` where the file names no device); ``manufacturer`` and
    ``model`` where that string names them. No serial number: the record does not keep one.
    """

    recording: str
    sensor: str  # trunk | thigh
    device: str
    manufacturer: str | None = None
    model: str | None = None
    fs_hz: float | None = None


@dataclass(frozen=True)
class PlannedActivity:
    """One exercise of the plan: id, level and the dose as text."""

    exercise: str
    level: str
    dose: str


@dataclass(frozen=True)
class PlanExport:
    """The plan version in force, its approval and its goals."""

    version: int
    status: str  # draft | active | blocked | superseded
    track: str
    created: dt.date
    activities: tuple[PlannedActivity, ...]
    goals: tuple[tuple[str, str], ...]  # (goal code, description)
    approved_by: str | None = None
    approved_at: str | None = None


@dataclass(frozen=True)
class HistoryExport:
    """The history and examination in force (the ``history.json`` fields)."""

    recorded_on: dt.date
    data: dict[str, Any]


@dataclass(frozen=True)
class RedFlagExport:
    """An open red flag of the record, with the action to take (a Flag and a ServiceRequest)."""

    condition: str
    label: str
    urgency: str
    action: str
    source: str
    evidence: str
    items: tuple[str, ...] = ()
    derived_items: tuple[str, ...] = ()
    screen_date: dt.date | None = None


@dataclass(frozen=True)
class TriageExport:
    """The triage the plan in force was made from (a ClinicalImpression).

    ``reasons``: (code, text, source); ``actions``: (code, kind, urgency, text, source).
    """

    date: dt.date
    track: str
    track_label: str
    plan_allowed: bool
    reasons: tuple[tuple[str, str, str], ...] = ()
    actions: tuple[tuple[str, str, str, str, str], ...] = ()


@dataclass(frozen=True)
class SourceDocument:
    """A file of the record carried in the Bundle (a DocumentReference attachment).

    ``kind``: imaging, instability, wearable or plan; ``study``: the study, recording or
    plan it belongs to; ``role``: what the file is to it (``table``, ``summary``,
    ``qa_picture``, ``plan``...). The importer gives these files to the record services,
    so that export, import, export gives the same resources.
    """

    kind: str
    study: str
    role: str
    name: str
    content_type: str
    data: bytes
    date: dt.date


@dataclass(frozen=True)
class PatientExport:
    """Everything one patient's Bundle holds."""

    pseudonym: str
    forms: tuple[FormEntry, ...] = ()
    referrals: tuple[Referral, ...] = ()
    imaging: tuple[ImagingExport, ...] = ()
    instability: tuple[InstabilityExport, ...] = ()
    morphometry: tuple[MorphometryExport, ...] = ()
    movement: tuple[DayMovement, ...] = ()
    sensors: tuple[WearableSensor, ...] = ()
    plan: PlanExport | None = None
    software_version: str = ""
    sex: str | None = None
    birth_year: int | None = None
    history: HistoryExport | None = None
    red_flags: tuple[RedFlagExport, ...] | None = None  # None: derived from the forms
    triage: TriageExport | None = None
    documents: tuple[SourceDocument, ...] = ()
