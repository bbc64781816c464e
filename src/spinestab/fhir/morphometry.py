"""Vertebral morphometry in the FHIR Bundle (CLINICAL_LOGIC.md §6.1, the Imaging row).

§6.1 maps imaging measurements to ``ImagingStudy``, ``DiagnosticReport`` and an
``Observation`` per measurement with ``bodySite`` the level and the values as components,
``derivedFrom`` the ImagingStudy, "local codes where no LOINC exists" [D]; §6.2 lists no code
for vertebral morphometry. Each stored morphometry study (``spinestab morphometry --patient``,
§4.6) is an ImagingStudy and a DiagnosticReport; each vertebra one Observation: code
``vertebral-morphometry`` (local), ``bodySite`` the vertebra (SNOMED CT from DICOM PS3.16
where :data:`spinestab.dicom_out.codes.VERTEBRA_CODES` has it, else text), ``valueInteger`` the
Genant grade (none for an ungraded vertebra), components the heights Ha, Hm, Hp (mm) and the
wedge, biconcave, crush and largest losses (%) (a blank one ``dataAbsentReason`` unknown) and
the deformity type, ``note`` the producer's flags. ``morphometry.json`` and the pictures travel
as DocumentReferences; the importer stores them with ``save_morphometry`` after checking that
the Observations equal the attached file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.dicom_out.codes import VERTEBRA_CODES
from spinestab.errors import InputError
from spinestab.fhir import codes as c
from spinestab.fhir.model import MorphometryExport, VertebraShape

__all__ = [
    "MORPHOMETRY_MEASURES",
    "add_morphometry",
    "is_morphometry",
    "morphometry_of_bundle",
    "vertebrae_of_file",
    "vertebrae_of_record",
]

#: morphometry.json key -> (local code, display, UCUM unit)
MORPHOMETRY_MEASURES = {
    "anterior_height_mm": ("vertebra-anterior-height", "Anterior vertebral height (Ha)", "mm"),
    "middle_height_mm": ("vertebra-middle-height", "Middle vertebral height (Hm)", "mm"),
    "posterior_height_mm": ("vertebra-posterior-height", "Posterior vertebral height (Hp)", "mm"),
    "wedge_loss_pct": ("vertebra-wedge-loss", "Wedge height loss (1 - Ha/Hp)", "%"),
    "biconcave_loss_pct": ("vertebra-biconcave-loss", "Biconcave height loss", "%"),
    "crush_loss_pct": ("vertebra-crush-loss", "Crush height loss", "%"),
    "height_loss_pct": ("vertebra-height-loss", "Largest vertebral height loss", "%"),
}
_BY_CODE = {v[0]: k for k, v in MORPHOMETRY_MEASURES.items()}
OBSERVATION_CODE = ("vertebral-morphometry", "Vertebral body morphometry")
REPORT_CODE = ("vertebral-morphometry-analysis", "Vertebral morphometry")
_DEFORMITY = ("vertebral-deformity-type", "Vertebral deformity type")
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _shape(entry: Mapping[str, Any], level: str) -> VertebraShape:
    grade = entry.get("genant_grade")
    deformity = entry.get("deformity")
    return VertebraShape(
        level=level,
        measures=tuple((k, _number(entry.get(k))) for k in MORPHOMETRY_MEASURES),
        deformity=str(deformity) if deformity is not None else None,
        genant_grade=int(grade) if grade is not None else None,
        flags=tuple(str(f) for f in entry.get("flags") or ()),
    )


def vertebrae_of_record(vertebrae: list[Mapping[str, Any]]) -> tuple[VertebraShape, ...]:
    """Return the vertebrae of a stored study (``MorphometryOut.vertebrae``)."""
    return tuple(_shape(v, str(v["level"])) for v in vertebrae)


def vertebrae_of_file(path: Path) -> tuple[VertebraShape, ...]:
    """Return the vertebrae of a ``morphometry.json`` as the record would store them."""
    from spinestab.core.levels import normalise_level

    doc = json.loads(path.read_text(encoding="utf-8"))
    entries = doc.get("vertebrae") if isinstance(doc, Mapping) else None
    if not isinstance(entries, list):
        raise InputError("morphometry.json has no list of vertebrae", source=path.name)
    return tuple(
        _shape(e, normalise_level(e["level"], source=path.name)[:32])
        for e in entries
        if isinstance(e, Mapping)
    )


def add_morphometry(b: Any, data: Any, subject: dict[str, Any]) -> None:
    """Add each morphometry study: ImagingStudy, one Observation per vertebra, DiagnosticReport."""
    from spinestab.fhir.build import (
        MEASUREMENTS_ONLY,
        _quantity,
        _ref,
        add_imaging_report,
        imaging_study_resource,
    )

    for study in data.morphometry:
        skey = f"morphometry|{study.study_id}"
        sid = b.add("ImagingStudy", skey, imaging_study_resource(study, subject))
        results = []
        for v in study.vertebrae:
            components: list[dict[str, Any]] = []
            for key, value in v.measures:
                code, display, unit = MORPHOMETRY_MEASURES[key]
                components.append(
                    {"code": c.local(code, display), "valueQuantity": _quantity(value, unit)}
                    if value is not None
                    else {
                        "code": c.local(code, display),
                        "dataAbsentReason": c.concept(_ABSENT, "unknown"),
                    }
                )
            if v.deformity is not None:
                components.append({"code": c.local(*_DEFORMITY), "valueString": v.deformity})
            spec = VERTEBRA_CODES.get(v.level)
            site = c.concept(c.SNOMED, spec.value, spec.meaning, v.level) if spec else None
            obs: dict[str, Any] = {
                "status": "final",
                "category": [c.concept(c.OBS_CATEGORY, "imaging", "Imaging")],
                "code": c.local(*OBSERVATION_CODE),
                "subject": subject,
                "effectiveDateTime": study.date.isoformat(),
                "bodySite": site or {"text": v.level},
                "component": components,
                "derivedFrom": [_ref(sid)],
            }
            if v.genant_grade is not None:
                obs["valueInteger"] = v.genant_grade
            if v.flags:
                obs["note"] = [{"text": f} for f in v.flags]
            results.append(b.add("Observation", f"{skey}|{v.level}", obs))
        add_imaging_report(
            b,
            skey,
            study,
            subject,
            code=REPORT_CODE,
            study_id=sid,
            results=results,
            conclusion=MEASUREMENTS_ONLY,
        )


def is_morphometry(observations: list[dict[str, Any]]) -> bool:
    """Return whether an ImagingStudy's Observations are a morphometry study's."""
    return any(_local(o.get("code")) == OBSERVATION_CODE[0] for o in observations)


def _local(concept: Any) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == c.LOCAL:
            return coding.get("code")
    return None


def morphometry_of_bundle(study: dict[str, Any], obs: list[dict[str, Any]]) -> MorphometryExport:
    """Read one morphometry ImagingStudy and its vertebra Observations back."""
    vertebrae = []
    for o in obs:
        if _local(o.get("code")) != OBSERVATION_CODE[0]:
            continue
        values: dict[str, float | None] = {}
        deformity = None
        for comp in o.get("component", []):
            code = _local(comp.get("code"))
            if code in _BY_CODE:
                q = comp.get("valueQuantity")
                values[_BY_CODE[code]] = float(q["value"]) if q else None
            elif code == _DEFORMITY[0]:
                deformity = comp.get("valueString")
        site = o.get("bodySite") or {}
        vertebrae.append(
            VertebraShape(
                level=site.get("text", ""),
                measures=tuple((k, values.get(k)) for k in MORPHOMETRY_MEASURES),
                deformity=deformity,
                genant_grade=o.get("valueInteger"),
                flags=tuple(n["text"] for n in o.get("note", [])),
            )
        )
    return MorphometryExport(
        study_id=study.get("description", ""),
        date=dt.date.fromisoformat(study["started"][:10]),
        vertebrae=tuple(vertebrae),
    )
