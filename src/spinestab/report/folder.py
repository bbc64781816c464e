"""Report inputs from a patient folder (the folder format of ``spinestab plan``).

Until the patient record serves them, the letter can be made from the files of today: the
questionnaires, ``history.json``, ``muscle_quality.csv`` with its ``qa_<level>.png``
pictures, ``instability.json`` with ``instability.png``, and ``daily.csv``. Profile, triage
and plan come from :mod:`spinestab.care` exactly as ``spinestab plan`` makes them; the plan is
shown as not approved (a folder has no approval).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from spinestab.care import load_patient_dir, load_rules, prescribe, triage
from spinestab.care.handout import dose_text
from spinestab.care.i18n import Translator as CareTranslator
from spinestab.care.io import read_daily
from spinestab.core.i18n import resolve_language
from spinestab.core.results import MUSCLE_QUALITY_REQUIRED
from spinestab.errors import InputError
from spinestab.report.clinician import ImagingPart, InstabilityPart, PlanInForce, ReportInputs

__all__ = ["inputs_from_patient_dir"]


def _qa_pictures(folder: Path) -> dict[str, bytes]:
    return {p.stem.removeprefix("qa_"): p.read_bytes() for p in sorted(folder.glob("qa_*.png"))}


def inputs_from_patient_dir(
    patient_dir: str | Path,
    *,
    imaging_dir: str | Path | None = None,
    language: str | None = None,
    jurisdiction: str = "NICE",
    date: dt.date | None = None,
) -> ReportInputs:
    """Build :class:`ReportInputs` from a patient folder.

    Parameters
    ----------
    patient_dir : path-like
        The folder ``spinestab plan`` reads.
    imaging_dir : path-like, optional
        Output folder of ``spinestab mri`` (``muscle_quality.csv``, ``qa_*.png``); default
        the patient folder itself.
    language : {"en", "de"}, optional
        Language of the dose texts.
    jurisdiction : {"NICE", "ACP"}
        Guideline set of the triage.
    date : datetime.date, optional
        Date of the letter (default today).

    """
    from spinestab.dicom_out.sr import read_muscle_quality_csv

    folder = Path(patient_dir)
    if not folder.is_dir():
        raise InputError("not a folder", source=str(folder), expected="a patient folder")
    language = resolve_language(language)
    rules = load_rules()
    profile = load_patient_dir(folder, rules=rules)
    tri = triage(profile, rules=rules, jurisdiction=jurisdiction)
    plan = prescribe(profile, tri, rules=rules)
    plan_in_force = None
    if plan is not None:
        t = CareTranslator(language)
        doc = plan.to_dict()
        plan_in_force = PlanInForce(
            version=int(doc.get("version") or 1),
            status=str(doc.get("status") or "draft"),
            track=tri.track,
            exercises=tuple(
                (ex.id, f"L{ex.stage}", dose_text(ex.dose, t)) for ex in plan.exercises
            ),
        )
    imaging = None
    img_dir = Path(imaging_dir) if imaging_dir else folder
    table = img_dir / "muscle_quality.csv"
    if table.is_file():
        imaging = ImagingPart(
            rows=tuple(read_muscle_quality_csv(table, required=MUSCLE_QUALITY_REQUIRED)),
            qa_pictures=_qa_pictures(img_dir),
            study=str(img_dir.name),
        )
    instability = None
    if (folder / "instability.json").is_file():
        picture = folder / "instability.png"
        instability = InstabilityPart(
            picture=picture.read_bytes() if picture.is_file() else None, study="instability.json"
        )
    daily = tuple(read_daily(folder / "daily.csv")) if (folder / "daily.csv").is_file() else ()
    return ReportInputs(
        profile=profile,
        triage=tri,
        plan=plan_in_force,
        imaging=imaging,
        instability=instability,
        daily=daily,
        date=date or dt.date.today(),
    )
