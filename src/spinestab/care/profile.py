"""The stability profile: everything known about one patient at one time.

Four parts, each optional: the clinical state (scores, red flags, history), muscle quality
(from ``muscle_quality.csv`` of ``spinestab mri``), instability findings (from
``instability.json`` of ``spinestab instability``) and a movement summary (from
``daily.csv`` of ``spinestab wearable``). The profile names what is missing and what that
limits; it never fills a gap with a guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spinestab.clinical import Score

__all__ = [
    "ClinicalState",
    "DeformityFindings",
    "History",
    "InstabilityFindings",
    "LevelFinding",
    "Missing",
    "MovementSummary",
    "MuscleFindings",
    "RedFlag",
    "StabilityProfile",
    "VertebralDeformity",
]

#: Condition flags from ``history.json`` that shape exercise choice (CLINICAL_LOGIC.md §5.2
#: safety notes 3-7).
KNOWN_CONDITIONS = (
    "pregnancy",
    "osteoporosis",
    "shoulder_wrist_pain",
    "recent_spinal_surgery",
    "implanted_stimulator",
    "hypertension",
)

MEYERDING_ROMAN = {"0": 0, "I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
VERDICT_ORDER = ("stable", "borderline", "unstable")


@dataclass(frozen=True)
class RedFlag:
    """One open red-flag action (from the red-flag screen of ``spinestab.clinical``)."""

    condition: str
    urgency: str
    action: str
    items: tuple[str, ...]
    source: str
    evidence: str
    blocks_exercise: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["items"] = list(self.items)
        return data


@dataclass(frozen=True)
class History:
    """Clinical history and examination (``history.json``); every field may be unknown.

    Attributes
    ----------
    age : int or None
        Age in years.
    pain_duration_weeks : float or None
        Duration of the current episode.
    active_care_weeks : float or None
        Weeks of active care (exercise therapy) so far in this episode.
    adherence_pct : float or None
        Adherence to that care, percent of prescribed sessions.
    previous_response : {"responder", "non_responder"} or None
        Response to that care (MIC or 30 % on the primary measure, §2.6).
    aberrant_movement, prone_instability_test : bool or None
        Movement-control signs (§4.5, §5.1).
    slr_deg : float or None
        Straight-leg raise range, degrees (Hicks predictor).
    neuro_deficit : bool or None
        A known (stable, not progressive) neurological deficit.
    concordant_symptoms : bool or None
        Clinician's judgement that symptoms match the structural finding.
    symptoms : tuple of str
        E.g. ``neurogenic_claudication``, ``radiculopathy``, ``mechanical_back_pain``.
    slip_progression : bool or None
        Documented progression of a slip.
    conditions : tuple of str
        Any of :data:`KNOWN_CONDITIONS`.
    symptomatic_levels : tuple of str
        Vertebral levels of the symptoms, e.g. ``("L4", "L5")``.
    surgical_candidate : bool or None
        Whether the patient is a candidate for spine surgery (for §5.8).
    known_old_deformities : tuple of str
        Vertebrae whose deformity a clinician knows to be old (e.g. on earlier imaging):
        such a deformity adapts the plan instead of raising the fracture red flag (§4.6).
    age_uncertainty_years : int
        1 when the age comes from a birth year only (the record), else 0.
    sources : tuple of (name, source)
        Where values came from when not from ``history.json`` (e.g. the weeks of care
        counted from the record's session logs); see :meth:`source_of`.

    """

    age: int | None = None
    pain_duration_weeks: float | None = None
    active_care_weeks: float | None = None
    adherence_pct: float | None = None
    previous_response: str | None = None
    aberrant_movement: bool | None = None
    prone_instability_test: bool | None = None
    slr_deg: float | None = None
    neuro_deficit: bool | None = None
    concordant_symptoms: bool | None = None
    symptoms: tuple[str, ...] = ()
    slip_progression: bool | None = None
    conditions: tuple[str, ...] = ()
    symptomatic_levels: tuple[str, ...] = ()
    surgical_candidate: bool | None = None
    known_old_deformities: tuple[str, ...] = ()
    age_uncertainty_years: int = 0
    sources: tuple[tuple[str, str], ...] = ()

    def source_of(self, name: str, default: str = "history.json") -> str:
        """Return where a value came from (``sources``; default: the history document)."""
        return dict(self.sources).get(name, f"{default} {name}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the optional fields only when given)."""
        data = asdict(self)
        for key in ("symptoms", "conditions", "symptomatic_levels", "known_old_deformities"):
            data[key] = list(data[key])
        if not data["known_old_deformities"]:
            del data["known_old_deformities"]
        if not self.age_uncertainty_years:
            del data["age_uncertainty_years"]
        if self.sources:
            data["sources"] = dict(self.sources)
        else:
            del data["sources"]
        return data


@dataclass(frozen=True)
class ClinicalState:
    """Scores, red flags and history.

    Scores are the latest complete value per instrument; ``baseline`` holds the earliest
    complete value where there are several dates, and ``change`` the MIC status between
    them (``spinestab.clinical.compare_scores``).
    """

    date: dt.date | None = None
    startback_risk: str | None = None
    startback_total: float | None = None
    startback_psychosocial: int | None = None
    odi_pct: float | None = None
    rmdq: float | None = None
    nrs: float | None = None
    leg_pain_nrs: float | None = None
    psfs: float | None = None
    red_flag_screen: bool = False
    red_flag_screen_complete: bool = False
    red_flags: tuple[RedFlag, ...] = ()
    baseline: dict[str, float] = field(default_factory=dict)
    change: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: tuple[Score, ...] = ()
    history: History = field(default_factory=History)
    derived_red_flag_items: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        derived = (
            {"derived_red_flag_items": [d.to_dict() for d in self.derived_red_flag_items]}
            if self.derived_red_flag_items
            else {}
        )
        return derived | {
            "date": self.date.isoformat() if self.date else None,
            "startback_risk": self.startback_risk,
            "startback_total": self.startback_total,
            "startback_psychosocial": self.startback_psychosocial,
            "odi_pct": self.odi_pct,
            "rmdq": self.rmdq,
            "nrs": self.nrs,
            "leg_pain_nrs": self.leg_pain_nrs,
            "psfs": self.psfs,
            "red_flag_screen": self.red_flag_screen,
            "red_flag_screen_complete": self.red_flag_screen_complete,
            "red_flags": [f.to_dict() for f in self.red_flags],
            "baseline": dict(self.baseline),
            "change": dict(self.change),
            "scores": [s.to_dict() for s in self.scores],
            "history": self.history.to_dict(),
        }


@dataclass(frozen=True)
class MuscleFindings:
    """Multifidus (and other muscle) findings from the MRI table, for the profile.

    Summarised by :func:`spinestab.care.summarise.summarise_muscle` from the shared
    :class:`spinestab.core.results.MuscleQuality` rows.

    Attributes
    ----------
    multifidus_fat_pct : float or None
        Highest multifidus fat fraction (%) over the levels considered (the symptomatic
        levels when they are known and measured, otherwise all measured levels).
    multifidus_levels : tuple of str
        Levels the value was taken over.
    fat_method : str or None
        How fat was measured (Dixon, PDFF, CT HU, single-contrast, ...).
    multifidus_asymmetry_pct : float or None
        Largest left/right asymmetry of multifidus CSA (%) over the levels considered,
        where reported.
    rows : tuple of dict
        The multifidus rows used, as read (with the producer's ``grade``, ``grade_scheme``
        and ``flags``).
    other_muscles : dict
        Per other muscle in the table (e.g. ``autochthon``, ``erector_spinae``, ``psoas``):
        highest fat fraction (``fat_pct``), ``levels`` and ``fat_method``, chosen the same
        way. Shown, never used for §5.9, which is about the multifidus.
    fat_method_note : str or None
        What the fat figure is (quantitative Dixon/PDFF, a single-contrast threshold
        estimate or a CT HU share), from ``fat_method``.
    note : str or None
        E.g. that the symptomatic levels were not in the table and all levels were used.

    """

    multifidus_fat_pct: float | None
    multifidus_levels: tuple[str, ...]
    fat_method: str | None
    multifidus_asymmetry_pct: float | None
    rows: tuple[dict[str, Any], ...] = ()
    other_muscles: dict[str, dict[str, Any]] = field(default_factory=dict)
    fat_method_note: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "multifidus_fat_pct": self.multifidus_fat_pct,
            "multifidus_levels": list(self.multifidus_levels),
            "fat_method": self.fat_method,
            "fat_method_note": self.fat_method_note,
            "multifidus_asymmetry_pct": self.multifidus_asymmetry_pct,
            "rows": list(self.rows),
            "other_muscles": {k: dict(v) for k, v in self.other_muscles.items()},
            "note": self.note,
        }


@dataclass(frozen=True)
class LevelFinding:
    """Instability measures of one motion segment (``instability.json``).

    ``verdict`` is the flexion-extension (dynamic) verdict ``stable``/``borderline``/
    ``unstable``, or None (no verdict, including the producer's ``not_assessable``): the
    ``dynamic_verdict`` of ``spinestab instability`` where given, else ``verdict``;
    ``static_verdict`` is its resting-film verdict (only with resting-film criteria);
    ``verdict_reported`` keeps the producer's overall ``verdict`` word; ``listhesis`` is
    ``anterolisthesis``/``retrolisthesis``/``none`` where reported.
    """

    level: str
    slip_mm: float | None
    slip_pct: float | None
    meyerding_grade: int | None
    translation_mm: float | None
    translation_pct: float | None
    angulation_deg: float | None
    verdict: str | None
    reasons: tuple[str, ...] = ()
    verdict_reported: str | None = None
    listhesis: str | None = None
    static_verdict: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


@dataclass(frozen=True)
class InstabilityFindings:
    """All measured motion segments.

    ``levels`` holds every segment without a cervical vertebra (the lumbar structural
    rules read them); ``cervical`` the segments with one (C1-C2 to C7-T1), which are
    reported and referred and never judged or trained by the lumbar programme
    (``CLINICAL_LOGIC.md`` §4.7).
    """

    levels: tuple[LevelFinding, ...]
    cervical: tuple[LevelFinding, ...] = ()

    @property
    def all_levels(self) -> tuple[LevelFinding, ...]:
        """Every measured segment, cervical ones first (for showing and exporting them)."""
        return self.cervical + self.levels

    @property
    def max_grade(self) -> int | None:
        """Highest Meyerding grade measured, or None."""
        grades = [f.meyerding_grade for f in self.levels if f.meyerding_grade is not None]
        return max(grades) if grades else None

    @property
    def worst_verdict(self) -> str | None:
        """Worst dynamic verdict (stable < borderline < unstable), or None."""
        verdicts = [f.verdict for f in self.levels if f.verdict in VERDICT_ORDER]
        return max(verdicts, key=VERDICT_ORDER.index) if verdicts else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "levels": [f.to_dict() for f in self.levels],
            "max_meyerding_grade": self.max_grade,
            "worst_verdict": self.worst_verdict,
            **({"cervical_levels": [f.to_dict() for f in self.cervical]} if self.cervical else {}),
        }


@dataclass(frozen=True)
class VertebralDeformity:
    """One vertebra's morphometric deformity (``morphometry.json`` of ``spinestab morphometry``).

    Attributes
    ----------
    level : str
        The vertebra.
    deformity : str
        ``wedge``, ``biconcave`` or ``crush``.
    genant_grade : int
        1-3 (grade 0 bodies are not deformities).
    height_loss_pct : float or None
        The largest height loss.
    flags : tuple of str
        The producer's flags (e.g. ``grade_lower_bound``).

    """

    level: str
    deformity: str
    genant_grade: int
    height_loss_pct: float | None = None
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["flags"] = list(self.flags)
        return data


@dataclass(frozen=True)
class DeformityFindings:
    """Vertebral deformities of grade >= 1 found by morphometry (§4.6), and what was graded."""

    deformities: tuple[VertebralDeformity, ...]
    graded_levels: tuple[str, ...] = ()
    source: str = "morphometry.json"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "deformities": [d.to_dict() for d in self.deformities],
            "graded_levels": list(self.graded_levels),
            "source": self.source,
        }


@dataclass(frozen=True)
class MovementSummary:
    """Per-day means over valid wear days of ``daily.csv``.

    Attributes
    ----------
    days : int
        Days in the file.
    valid_days : int
        Days with enough wear time (the producer's ``valid_day`` flag, else rule
        ``valid_wear_day_min``).
    first_date, last_date : str or None
        First and last day in the file (ISO dates).
    wear_min, sitting_min, standing_min, walking_min, upright_static_min : float
        Mean minutes per valid day; sitting and standing are None for a trunk-only
        recording, which cannot separate them (see ``notes``).
    steps : float
        Median steps per valid day.
    static_bouts_over_30min : float
        Mean number per valid day of static bouts longer than 30 min.
    longest_static_bout_min : float
        Median over valid days of the day's longest static bout.
    breaks : float
        Mean number of breaks per valid day.
    forward_ge20_min, forward_ge60_min : float
        Mean minutes per valid day with trunk flexion >= 20 / >= 60 degrees.
    notes : tuple of str
        What could not be summarised and why.

    """

    days: int
    valid_days: int
    first_date: str | None = None
    last_date: str | None = None
    wear_min: float | None = None
    sitting_min: float | None = None
    standing_min: float | None = None
    walking_min: float | None = None
    upright_static_min: float | None = None
    steps: float | None = None
    static_bouts_over_30min: float | None = None
    longest_static_bout_min: float | None = None
    breaks: float | None = None
    forward_ge20_min: float | None = None
    forward_ge60_min: float | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class Missing:
    """A part of the profile that is missing and what that limits."""

    part: str
    limits: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready dict."""
        return {"part": self.part, "limits": self.limits}


@dataclass(frozen=True)
class StabilityProfile:
    """One patient at one time: clinical state, muscle, instability, movement.

    Attributes
    ----------
    patient : str
        Identifier (the patient folder's name).
    date : datetime.date or None
        Date of the profile (latest assessment).
    clinical : ClinicalState
    muscle : MuscleFindings or None
    instability : InstabilityFindings or None
    movement : MovementSummary or None
    missing : tuple of Missing
        What is missing and what that limits.
    deformities : DeformityFindings or None
        Vertebral deformities from ``morphometry.json`` (§4.6), when measured.

    """

    patient: str
    date: dt.date | None
    clinical: ClinicalState
    muscle: MuscleFindings | None = None
    instability: InstabilityFindings | None = None
    movement: MovementSummary | None = None
    missing: tuple[Missing, ...] = ()
    deformities: DeformityFindings | None = None

    @property
    def open_red_flags(self) -> tuple[RedFlag, ...]:
        """Red-flag actions of the screen (all are open until a clinician closes them)."""
        return self.clinical.red_flags

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``profile.json``)."""
        return {
            "patient": self.patient,
            "date": self.date.isoformat() if self.date else None,
            "clinical": self.clinical.to_dict(),
            "muscle": self.muscle.to_dict() if self.muscle else None,
            "instability": self.instability.to_dict() if self.instability else None,
            "movement": self.movement.to_dict() if self.movement else None,
            "missing": [m.to_dict() for m in self.missing],
            **({"deformities": self.deformities.to_dict()} if self.deformities else {}),
        }
