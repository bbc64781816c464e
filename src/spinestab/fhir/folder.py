""":class:`PatientExport` from a patient folder (the format of ``spinestab plan``).

Until the patient record serves exports, a folder gives them: its questionnaires (as
filled in), the triage's referrals, ``muscle_quality.csv``, ``instability.json``,
``daily.csv`` and the plan ``spinestab plan`` would make (shown as not approved).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from spinestab import __version__
from spinestab.care import load_patient_dir, load_rules, prescribe, triage
from spinestab.care.handout import dose_text
from spinestab.care.i18n import Translator
from spinestab.care.io import questionnaire_files, read_daily
from spinestab.clinical import MIC_RULES, load_form
from spinestab.core.results import MUSCLE_QUALITY_REQUIRED
from spinestab.fhir.build import DAY_MINUTES, MUSCLE_MEASURES, SEGMENT_MEASURES
from spinestab.fhir.model import (
    DayMovement,
    FormEntry,
    ImagingExport,
    InstabilityExport,
    MuscleMeasure,
    PatientExport,
    PlanExport,
    PlannedActivity,
    Referral,
    SegmentMeasure,
)

__all__ = ["export_from_patient_dir"]


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _instability_method(path: Path) -> str:
    """Return the measurement method named in ``instability.json`` (translation, thresholds)."""
    from spinestab.care.io import read_json

    doc = read_json(path) if path.is_file() else {}
    parts = [
        f"translation {doc.get('translation_method_id') or 'corner'}",
        f"thresholds {(doc.get('thresholds') or {}).get('name') or 'unknown'}",
    ]
    return "vertebral corner landmarks; " + "; ".join(parts)


def export_from_patient_dir(
    folder: str | Path, *, language: str | None = None, jurisdiction: str = "NICE"
) -> PatientExport:
    """Collect what a patient folder holds into :class:`PatientExport`.

    Parameters
    ----------
    folder : path-like
        The patient folder; its name is the pseudonym.
    language : {"en", "de"}, optional
        Language of the plan's dose texts.
    jurisdiction : {"NICE", "ACP"}
        Guideline set of the triage.

    """
    from spinestab.dicom_out.sr import read_muscle_quality_csv

    folder = Path(folder)
    rules = load_rules()
    profile = load_patient_dir(folder, rules=rules)
    tri = triage(profile, rules=rules, jurisdiction=jurisdiction)
    forms = []
    for path in questionnaire_files(folder):
        form = load_form(path)
        forms.append(FormEntry(form.instrument, form.date, form.answers))
    forms.sort(key=lambda f: (f.date, f.instrument))
    date = profile.date or dt.date.today()
    referrals = tuple(
        Referral(a.code, a.text, a.urgency, f"{a.source} [{a.evidence}]")
        for a in tri.actions
        if a.kind == "referral"
    )
    imaging: tuple[ImagingExport, ...] = ()
    if (folder / "muscle_quality.csv").is_file():
        rows = read_muscle_quality_csv(
            folder / "muscle_quality.csv", required=MUSCLE_QUALITY_REQUIRED
        )
        measures = tuple(
            MuscleMeasure(r.muscle, r.side, r.level, col, v, r.fat_method)
            for r in rows
            for col in MUSCLE_MEASURES
            if (v := _finite(getattr(r, col))) is not None
        )
        imaging = (ImagingExport("muscle_quality.csv", date, "MR", None, measures),)
    instability: tuple[InstabilityExport, ...] = ()
    if profile.instability is not None:
        measures_i, verdicts = [], []
        method = _instability_method(folder / "instability.json")
        for f in profile.instability.all_levels:
            for name in SEGMENT_MEASURES:
                v = _finite(getattr(f, name, None))
                if v is not None:
                    measures_i.append(SegmentMeasure(f.level, name, v, method))
            if f.verdict:
                verdicts.append((f.level, f.verdict))
        instability = (
            InstabilityExport("instability.json", date, tuple(measures_i), tuple(verdicts)),
        )
    movement: tuple[DayMovement, ...] = ()
    if (folder / "daily.csv").is_file():
        movement = tuple(
            DayMovement(
                dt.date.fromisoformat(row["date"]),
                _finite(row.get("steps")),
                tuple((col, _finite(row.get(col))) for col in DAY_MINUTES if col in row),
            )
            for row in read_daily(folder / "daily.csv")
        )
    plan_export = None
    plan = prescribe(profile, tri, rules=rules)
    if plan is not None:
        t = Translator(language)
        goals = [
            (
                "movement-breaks",
                f"a movement break at least every {plan.movement_breaks.get('interval_min')} min "
                "of sitting",
            )
        ]
        for inst, base in sorted(profile.clinical.baseline.items()):
            rule = MIC_RULES.get(inst)
            if rule is None:
                continue
            sign = "+" if rule.higher_is_better else "-"
            goals.append(
                (
                    f"mic-{inst}",
                    f"{inst.upper()} {sign}{rule.absolute:g} from baseline {base:g} "
                    f"(MIC, {rule.source})",
                )
            )
        plan_export = PlanExport(
            version=1,
            status="active" if tri.plan_allowed and not tri.draft else "draft",
            track=tri.track,
            created=date,
            activities=tuple(
                PlannedActivity(ex.id, f"L{ex.stage}", dose_text(ex.dose, t))
                for ex in plan.exercises
            ),
            goals=tuple(goals),
        )
    return PatientExport(
        pseudonym=profile.patient,
        forms=tuple(forms),
        referrals=referrals,
        imaging=imaging,
        instability=instability,
        movement=movement,
        plan=plan_export,
        software_version=__version__,
    )
