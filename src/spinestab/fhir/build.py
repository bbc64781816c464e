"""Build a FHIR R4B Bundle (a ``collection``) of one patient from :class:`PatientExport`.

Long module: one builder per resource kind of the Bundle.

Resources (issue 14, CLINICAL_LOGIC.md §6.1): Patient (pseudonymous identifier only);
QuestionnaireResponse per form; Observation per score (LOINC where one exists, §6.2);
RiskAssessment per STarT Back; Flag per open red flag (priority extension) and a
ServiceRequest per red-flag escalation and per referral; ImagingStudy, DiagnosticReport and an
Observation per muscle-quality measure (body site SNOMED CT, laterality, level and method as
components); the same for instability measures per motion segment; an Observation per
wearable day (steps, LOINC 41950-7) and one for its posture minutes (local codes); CarePlan
with its activities (exercise therapy, SNOMED CT 229065009) and Goals; Provenance (software
version, methods, authors of masks and landmarks).

Every resource is validated with fhir.resources' R4B model before it goes into the Bundle.
Ids are UUID 5 of the pseudonym and the resource's content key, so the same record gives the
same Bundle.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from spinestab import __version__
from spinestab.clinical import parse_form, score_form
from spinestab.dicom_out.codes import LATERALITY, VERTEBRA_CODES, muscle_code
from spinestab.errors import require
from spinestab.fhir import codes as c
from spinestab.fhir.model import ImagingExport, InstabilityExport, PatientExport

__all__ = ["build_bundle", "resource_id"]

logger = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("6f1d7c2e-3a59-4b0e-9a53-5f2b7c1d8e40")  # spinestab's UUID-5 namespace

#: muscle-quality measures: column -> (local code, display, UCUM unit)
MUSCLE_MEASURES = {
    "fat_fraction_pct": ("muscle-fat-fraction", "Muscle fat fraction", "%"),
    "csa_mean_mm2": ("muscle-csa-mean", "Muscle cross-sectional area, mean", "mm2"),
    "csa_max_mm2": ("muscle-csa-max", "Muscle cross-sectional area, maximum", "mm2"),
    "lean_csa_mean_mm2": ("muscle-lean-csa-mean", "Lean muscle cross-sectional area, mean", "mm2"),
    "volume_ml": ("muscle-volume", "Muscle volume", "mL"),
}
#: instability measures: field -> (local code, display, UCUM unit)
SEGMENT_MEASURES = {
    "slip_mm": ("segment-slip-mm", "Vertebral slip", "mm"),
    "slip_pct": ("segment-slip-pct", "Vertebral slip, percent of endplate", "%"),
    "meyerding_grade": ("segment-meyerding-grade", "Meyerding grade", "1"),
    "translation_mm": ("segment-translation-mm", "Flexion-extension translation", "mm"),
    "translation_pct": ("segment-translation-pct", "Flexion-extension translation, percent", "%"),
    "angulation_deg": ("segment-angulation-deg", "Flexion-extension angulation", "deg"),
    "segment_angle_deg": ("segment-angle-deg", "Segmental angle", "deg"),
}
#: posture minutes of a wearable day: daily.csv column -> local code
DAY_MINUTES = {
    "wear_min": "wear-time",
    "lying_min": "lying-time",
    "sitting_min": "sitting-time",
    "standing_min": "standing-time",
    "upright_static_min": "upright-static-time",
    "walking_min": "walking-time",
    "longest_static_bout_min": "longest-static-bout",
}


def resource_id(pseudonym: str, kind: str, key: str) -> str:
    """Return the stable id of a resource: UUID 5 of pseudonym, kind and content key."""
    return str(uuid.uuid5(_NAMESPACE, f"{pseudonym}|{kind}|{key}"))


def _ref(rid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{rid}"}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": unit}


def _answers_to_items(instrument: str, answers: Any) -> list[dict[str, Any]]:
    """Turn answers in the file format into QuestionnaireResponse items (linkId = key)."""
    if instrument == "psfs":
        acts = answers.get("activities", []) if isinstance(answers, dict) else []
        return [
            {
                "linkId": f"activity{n}",
                "text": str(a.get("name")),
                **({"answer": [_value(a.get("score"))]} if a.get("score") is not None else {}),
            }
            for n, a in enumerate(acts, start=1)
        ]
    if isinstance(answers, list):  # RMDQ: the ticked statements
        return [{"linkId": str(n), "answer": [{"valueBoolean": True}]} for n in answers]
    items = []
    for key, value in answers.items():
        item: dict[str, Any] = {"linkId": str(key)}
        values = value if isinstance(value, list) else [value]
        given = [_value(v) for v in values if v is not None]
        if given:
            item["answer"] = given
        items.append(item)
    return items


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"valueBoolean": v}
    if isinstance(v, int):
        return {"valueInteger": v}
    if isinstance(v, float):
        return {"valueDecimal": v}
    return {"valueString": str(v)}


class _Bundle:
    """Collects validated resources in order."""

    def __init__(self, pseudonym: str) -> None:
        self.pseudonym = pseudonym
        self.entries: list[dict[str, Any]] = []
        self.ids: list[str] = []
        #: per study key: its DiagnosticReport, then the Observations it reports
        self.reported: dict[str, list[str]] = {}

    def add(self, kind: str, key: str, resource: dict[str, Any]) -> str:
        rid = resource_id(self.pseudonym, kind, key)
        resource = {"resourceType": kind, "id": rid, **resource}
        _validated(resource)
        self.entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        self.ids.append(rid)
        return rid


def _validated(resource: dict[str, Any]) -> None:
    require("fhir.resources", extra="fhir", feature="FHIR export")
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)


def add_morphometry(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Add the morphometry studies (:mod:`spinestab.fhir.morphometry`)."""
    from spinestab.fhir.morphometry import add_morphometry as add

    add(b, data, subject)


def build_bundle(data: PatientExport, *, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """Build the patient's FHIR R4B Bundle as JSON-ready dicts.

    Parameters
    ----------
    data : PatientExport
        What the record holds for the patient.
    timestamp : datetime, optional
        ``Bundle.timestamp`` and ``Provenance.recorded`` (default: the latest date in the
        data at 00:00 UTC, so the same record gives the same Bundle).

    Returns
    -------
    dict
        The Bundle (type ``collection``), validated with fhir.resources' R4B models.

    """
    b = _Bundle(data.pseudonym)
    patient_id = b.add(
        "Patient",
        "patient",
        {"identifier": [{"system": c.PSEUDONYM_SYSTEM, "value": data.pseudonym}], "active": True},
    )
    subject = _ref(patient_id)
    _patient_facts(b, data, subject)
    _history(b, data, subject)
    _forms(b, data, subject)
    _record_red_flags(b, data, subject)
    _referrals(b, data, subject)
    _imaging(b, data, subject)
    _instability(b, data, subject)
    add_morphometry(b, data, subject)
    _movement(b, data, subject)
    _plan(b, data, subject)
    _triage(b, data, subject)
    _documents(b, data, subject)
    dates = [f.date for f in data.forms] + [i.date for i in data.imaging]
    dates += [i.date for i in data.instability] + [m.date for m in data.movement]
    dates += [m.date for m in data.morphometry]
    if data.plan:
        dates.append(data.plan.created)
    if data.history:
        dates.append(data.history.recorded_on)
    when = timestamp or dt.datetime.combine(
        max(dates) if dates else dt.date(1970, 1, 1), dt.time(), tzinfo=dt.UTC
    )
    _provenance(b, data, when)
    bundle = {
        "resourceType": "Bundle",
        "id": resource_id(data.pseudonym, "Bundle", "bundle"),
        "meta": {
            "tag": [c.coding(c.EXPORT_SYSTEM, "record" if data.red_flags is not None else "folder")]
        },
        "type": "collection",
        "timestamp": when.isoformat(),
        "entry": b.entries,
    }
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    logger.info("FHIR Bundle for %s: %d resources", data.pseudonym, len(b.entries))
    return bundle


def _forms(b: _Bundle, data: PatientExport, subject: dict) -> None:
    for n, form in enumerate(data.forms):
        key = f"{form.instrument}|{form.date.isoformat()}|{n}"
        qr = b.add(
            "QuestionnaireResponse",
            key,
            {
                "questionnaire": c.QUESTIONNAIRE_BASE + form.instrument,
                "status": "completed",
                "subject": subject,
                "authored": form.date.isoformat(),
                "item": _answers_to_items(form.instrument, form.answers),
            },
        )
        score = score_form(
            parse_form(
                {
                    "instrument": form.instrument,
                    "date": form.date.isoformat(),
                    "answers": form.answers,
                },
                source=f"form {key}",
            )
        )
        if form.instrument == "redflags":
            if data.red_flags is None:  # a folder: the flags of each screen
                _red_flags(b, key, score, subject, qr)
            continue
        if not score.complete:
            continue
        obs_ids = []
        for (inst, part), (system, code, display, text, unit) in c.SCORE_CODES.items():
            if inst != form.instrument:
                continue
            value = {
                "total": score.score,
                "pain": score.score,
                "mean": score.score,
                "percent": score.percent,
                "psychosocial": score.psychosocial,
            }[part]
            if value is None:
                continue
            obs_ids.append(
                b.add(
                    "Observation",
                    f"{key}|{part}",
                    {
                        "status": "final",
                        "category": [c.concept(c.OBS_CATEGORY, "survey", "Survey")],
                        "code": c.concept(system, code, display, text),
                        "subject": subject,
                        "effectiveDateTime": form.date.isoformat(),
                        "valueQuantity": _quantity(float(value), unit),
                        "derivedFrom": [_ref(qr)],
                        "method": {"text": score.source},
                    },
                )
            )
        if form.instrument == "startback" and obs_ids:
            b.add(
                "Observation",
                f"{key}|panel",
                {
                    "status": "final",
                    "category": [c.concept(c.OBS_CATEGORY, "survey", "Survey")],
                    "code": c.concept(*c.STARTBACK_PANEL, text="STarT Back Screening Tool"),
                    "subject": subject,
                    "effectiveDateTime": form.date.isoformat(),
                    "hasMember": [_ref(o) for o in obs_ids],
                    "derivedFrom": [_ref(qr)],
                },
            )
        if form.instrument == "startback" and score.risk in c.STARTBACK_RISK_ANSWERS:
            answer, display = c.STARTBACK_RISK_ANSWERS[score.risk]
            b.add(
                "RiskAssessment",
                key,
                {
                    "status": "final",
                    "code": c.concept(*c.STARTBACK_RISK),
                    "subject": subject,
                    "occurrenceDateTime": form.date.isoformat(),
                    "basis": [_ref(qr), *(_ref(o) for o in obs_ids)],
                    "prediction": [
                        {"qualitativeRisk": c.concept(c.LOINC, answer, display, score.risk)}
                    ],
                },
            )


def _red_flags(b: _Bundle, key: str, score: Any, subject: dict, qr: str) -> None:
    for action in score.actions:
        flag_key = f"{key}|{action.condition}"
        priority = c.FLAG_PRIORITY[action.urgency]
        flag = b.add(
            "Flag",
            flag_key,
            {
                "extension": [
                    {
                        "url": c.FLAG_PRIORITY_EXT,
                        "valueCodeableConcept": c.concept(c.FLAG_PRIORITY_SYSTEM, priority),
                    }
                ],
                "status": "active",
                "category": [c.local("red-flag", "Red flag")],
                "code": c.concept(
                    c.LOCAL, f"red-flag-{action.condition}", action.label, action.action
                ),
                "subject": subject,
            },
        )
        b.add(
            "ServiceRequest",
            flag_key,
            {
                "status": "active",
                "intent": "order",
                "priority": c.REQUEST_PRIORITY[action.urgency],
                "category": [c.local("red-flag-escalation", "Red-flag escalation")],
                "code": c.concept(c.LOCAL, f"escalate-{action.condition}", action.label),
                "subject": subject,
                "reasonReference": [_ref(flag)],
                "supportingInfo": [_ref(qr)],
                "note": [{"text": f"{action.action} ({action.source} [{action.evidence}])"}],
            },
        )


def _referrals(b: _Bundle, data: PatientExport, subject: dict) -> None:
    for r in data.referrals:
        b.add(
            "ServiceRequest",
            f"referral|{r.code}",
            {
                "status": "active",
                "intent": "proposal",
                "priority": c.REQUEST_PRIORITY.get(r.urgency, "routine"),
                "category": [c.local("referral", "Referral")],
                "code": c.concept(c.LOCAL, r.code, text=r.text),
                "subject": subject,
                "note": [{"text": r.source}],
            },
        )


def _level_component(level: str) -> dict[str, Any]:
    spec = VERTEBRA_CODES.get(level)
    value = (
        c.concept(c.SNOMED, spec.value, spec.meaning, level)
        if spec
        else {"text": level}  # "all": every slice of the study
    )
    return {"code": c.local("vertebral-level", "Vertebral level"), "valueCodeableConcept": value}


def _method_component(method: str) -> dict[str, Any]:
    return {"code": c.local("measurement-method", "Measurement method"), "valueString": method}


#: The conclusion of every measurement report: what spinestab is and is not.
MEASUREMENTS_ONLY = "Measurements only; spinestab supports decisions, it does not diagnose."


def imaging_study_resource(
    study: Any, subject: dict[str, Any], *, modality: str | None = None
) -> dict[str, Any]:
    """Return an analysed study's ``ImagingStudy`` (status, subject, start, description).

    ``study`` is any exported study with ``study_id`` and ``date`` (muscle quality,
    instability, morphometry); ``modality`` (a DICOM code) is added where the record knows it.
    """
    resource: dict[str, Any] = {
        "status": "available",
        "subject": subject,
        "started": study.date.isoformat(),
    }
    if modality is not None:
        resource["modality"] = [c.coding("http://dicom.nema.org/resources/ontology/DCM", modality)]
    resource["description"] = study.study_id
    return resource


def add_imaging_report(
    b: _Bundle,
    skey: str,
    study: Any,
    subject: dict[str, Any],
    *,
    code: tuple[str, str],
    study_id: str,
    results: list[str],
    conclusion: str | None = None,
) -> None:
    """Add a study's radiology ``DiagnosticReport`` over its result Observations.

    The report is listed first among the study's resources (``b.reported``), then its
    results; ``code`` is a local (code, display) pair.
    """
    b.reported[skey] = [_report_id(b, skey), *results]
    report: dict[str, Any] = {
        "status": "final",
        "category": [c.concept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")],
        "code": c.local(*code),
        "subject": subject,
        "effectiveDateTime": study.date.isoformat(),
        "imagingStudy": [_ref(study_id)],
        "result": [_ref(r) for r in results],
    }
    if conclusion is not None:
        report["conclusion"] = conclusion
    b.add("DiagnosticReport", skey, report)


def _imaging(b: _Bundle, data: PatientExport, subject: dict) -> None:
    for study in data.imaging:
        skey = f"imaging|{study.study_id}"
        imaging_study = imaging_study_resource(study, subject, modality=study.modality)
        if study.study_uid:
            imaging_study["identifier"] = [
                {"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_uid}"}
            ]
        if study.series_uid:
            imaging_study["series"] = [
                {
                    "uid": study.series_uid,
                    "modality": c.coding(
                        "http://dicom.nema.org/resources/ontology/DCM", study.modality
                    ),
                }
            ]
        sid = b.add("ImagingStudy", skey, imaging_study)
        results = []
        for m in study.measures:
            code, display, unit = MUSCLE_MEASURES[m.measure]
            muscle = muscle_code(m.muscle)
            components = [_level_component(m.level), _method_component(m.method)]
            if m.side in LATERALITY:
                side = LATERALITY[m.side]
                components.insert(
                    0,
                    {
                        "code": c.concept(*c.LATERALITY_ATTRIBUTE),
                        "valueCodeableConcept": c.concept(c.SNOMED, side.value, side.meaning),
                    },
                )
            results.append(
                b.add(
                    "Observation",
                    f"{skey}|{m.muscle}|{m.side}|{m.level}|{m.measure}",
                    {
                        "status": "final",
                        "category": [c.concept(c.OBS_CATEGORY, "imaging", "Imaging")],
                        "code": c.local(code, display),
                        "subject": subject,
                        "effectiveDateTime": study.date.isoformat(),
                        "bodySite": c.concept(c.SNOMED, muscle.value, muscle.meaning, m.muscle),
                        "valueQuantity": _quantity(m.value, unit),
                        "component": components,
                        "derivedFrom": [_ref(sid)],
                    },
                )
            )
        add_imaging_report(
            b,
            skey,
            study,
            subject,
            code=("muscle-quality-analysis", "Paraspinal muscle quality analysis"),
            study_id=sid,
            results=results,
            conclusion=MEASUREMENTS_ONLY,
        )


def _instability(b: _Bundle, data: PatientExport, subject: dict) -> None:
    for study in data.instability:
        skey = f"instability|{study.study_id}"
        sid = b.add("ImagingStudy", skey, imaging_study_resource(study, subject))
        results = []
        for m in study.measures:
            code, display, unit = SEGMENT_MEASURES[m.measure]
            results.append(
                b.add(
                    "Observation",
                    f"{skey}|{m.level}|{m.measure}",
                    {
                        "status": "final",
                        "category": [c.concept(c.OBS_CATEGORY, "imaging", "Imaging")],
                        "code": c.local(code, display),
                        "subject": subject,
                        "effectiveDateTime": study.date.isoformat(),
                        "bodySite": {"text": m.level},
                        "valueQuantity": _quantity(m.value, unit),
                        "component": [_method_component(m.method)],
                        "derivedFrom": [_ref(sid)],
                    },
                )
            )
        for segment, verdict in study.verdicts:
            results.append(
                b.add(
                    "Observation",
                    f"{skey}|{segment}|verdict",
                    {
                        "status": "final",
                        "category": [c.concept(c.OBS_CATEGORY, "imaging", "Imaging")],
                        "code": c.local("segment-stability-verdict", "Segment stability verdict"),
                        "subject": subject,
                        "effectiveDateTime": study.date.isoformat(),
                        "bodySite": {"text": segment},
                        "valueCodeableConcept": c.local(f"verdict-{verdict}", verdict),
                        "derivedFrom": [_ref(sid)],
                    },
                )
            )
        add_imaging_report(
            b,
            skey,
            study,
            subject,
            code=("instability-analysis", "Structural instability measurement"),
            study_id=sid,
            results=results,
        )


def _movement(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Add a Device per wearable sensor and per day its steps and posture minutes (§6.1)."""
    from spinestab.fhir.wearable import device_resource

    devices: dict[str, str] = {}
    for sensor in data.sensors:
        rid = b.add(
            "Device", f"wearable|{sensor.recording}|{sensor.sensor}", device_resource(sensor)
        )
        devices.setdefault(sensor.recording, rid)  # trunk first: the day Observations' device
    for day in data.movement:
        start = day.date.isoformat()
        dkey = f"day|{day.recording}|{start}" if day.recording else f"day|{start}"
        end = (day.date + dt.timedelta(days=1)).isoformat()
        period = {"start": day.period[0], "end": day.period[1]} if day.period else {}
        period = period or {"start": start, "end": end}
        device = {"device": _ref(devices[day.recording])} if day.recording in devices else {}
        whole = _whole_day(period)
        category = [c.concept(c.OBS_CATEGORY, "activity", "Activity")]
        if day.steps is not None:
            b.add(
                "Observation",
                f"{dkey}|steps",
                {
                    "status": "final",
                    "category": category,
                    "code": c.concept(*(c.STEPS_24H if whole else c.STEPS_SPAN)),
                    "subject": subject,
                    "effectivePeriod": period,
                    "valueQuantity": _quantity(day.steps, "/d" if whole else "{steps}"),
                    **device,
                    **({"identifier": [_recording_id(day.recording)]} if day.recording else {}),
                },
            )
        components = [
            {
                "code": c.local(DAY_MINUTES[col], col),
                **({"valueQuantity": _quantity(v, "min")} if v is not None else {}),
                **(
                    {}
                    if v is not None
                    else {
                        "dataAbsentReason": c.concept(
                            "http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown"
                        )
                    }
                ),
            }
            for col, v in day.minutes
        ]
        if components:
            b.add(
                "Observation",
                f"{dkey}|posture",
                {
                    "status": "final",
                    "category": category,
                    "code": c.local("posture-minutes", "Minutes per posture in the day"),
                    "subject": subject,
                    "effectivePeriod": period,
                    "component": components,
                    **device,
                    **({"identifier": [_recording_id(day.recording)]} if day.recording else {}),
                },
            )


def _whole_day(period: dict[str, str]) -> bool:
    """Return whether a day's period spans 24 hours (a date, or a fully covered day)."""
    start, end = (dt.datetime.fromisoformat(period[k]) for k in ("start", "end"))
    return end - start == dt.timedelta(days=1)


def _recording_id(recording: str) -> dict[str, str]:
    """Return the identifier of the wearable recording a day belongs to."""
    return {"system": c.RECORDING_SYSTEM, "value": recording}


def _plan(b: _Bundle, data: PatientExport, subject: dict) -> None:
    plan = data.plan
    if plan is None:
        return
    goal_ids = [
        b.add(
            "Goal",
            f"plan|{plan.version}|goal|{code}",
            {
                "lifecycleStatus": "active",
                "description": {"text": text, "coding": [c.coding(c.LOCAL, code)]},
                "subject": subject,
            },
        )
        for code, text in plan.goals
    ]
    care_plan: dict[str, Any] = {
        "status": c.CAREPLAN_STATUS[plan.status],
        "intent": "plan",
        "category": [c.concept(*c.EXERCISE_THERAPY)],
        "title": f"spinestab plan version {plan.version} (track {plan.track})",
        "subject": subject,
        "created": plan.created.isoformat(),
        "identifier": [{"system": "urn:spinestab:plan-version", "value": str(plan.version)}],
        "goal": [_ref(g) for g in goal_ids],
        "activity": [
            {
                "detail": {
                    "kind": "ServiceRequest",
                    "code": c.concept(c.LOCAL, f"exercise-{a.exercise}", a.exercise, a.level),
                    "status": "not-started" if plan.status in ("active", "draft") else "on-hold",
                    "description": a.dose,
                }
            }
            for a in plan.activities
        ],
        "extension": [
            {"url": "urn:spinestab:plan-status", "valueCode": plan.status},
            {"url": "urn:spinestab:track", "valueCode": plan.track},
        ],
    }
    if plan.approved_by:
        care_plan["author"] = {"display": plan.approved_by}
        care_plan["note"] = [{"text": f"approved by {plan.approved_by} at {plan.approved_at}"}]
        care_plan["extension"].append(
            {"url": "urn:spinestab:approved-at", "valueString": plan.approved_at or ""}
        )
    b.add("CarePlan", f"plan|{plan.version}", care_plan)


def _report_id(b: _Bundle, skey: str) -> str:
    return resource_id(b.pseudonym, "DiagnosticReport", skey)


def _participant(code: str) -> dict[str, Any]:
    return c.concept(c.PROVENANCE_PARTICIPANT, code)


def _person(name: str, kind: str, role: str) -> dict[str, Any]:
    """Return a Provenance agent that is a user of the record (by user name)."""
    return {
        "type": _participant(kind),
        "who": {"identifier": {"system": c.USER_SYSTEM, "value": name}, "display": name},
        "role": [{"text": role}],
    }


def _provenance(b: _Bundle, data: PatientExport, when: dt.datetime) -> None:
    """One Provenance of the Bundle (spinestab assembled it) and one per analysis.

    An analysis' Provenance targets its DiagnosticReport and Observations: spinestab (its
    version) measured them with the methods named; the mask version (image series, version,
    method) and its author, or the mask file; who named the levels; the segmenter; the
    landmark versions per view and the reader who placed them.
    """
    device = b.add(
        "Device",
        "software",
        {
            "deviceName": [{"name": "spinestab", "type": "manufacturer-name"}],
            "version": [{"value": data.software_version or __version__}],
        },
    )
    methods = sorted({m.method for s in data.imaging for m in s.measures})
    methods += sorted({m.method for s in data.instability for m in s.measures})
    targets = [_ref(rid) for rid in b.ids if rid != device]
    b.add(
        "Provenance",
        "provenance",
        {
            "target": targets,
            "recorded": when.isoformat(),
            "agent": [{"type": _participant("assembler"), "who": _ref(device)}],
            "activity": {"text": "; ".join(_unique(methods)) or "spinestab export"},
        },
    )
    for study in data.imaging:
        _imaging_provenance(b, study, device, when)
    for inst in data.instability:
        _instability_provenance(b, inst, device, when)


#: what the author of a mask version did, by the version's method
_MASK_ROLES = {
    "manual": ("author", "traced the muscle mask"),
    "edited": ("author", "edited the muscle mask"),
}


def _imaging_provenance(b: _Bundle, study: ImagingExport, device: str, when: dt.datetime) -> None:
    skey = f"imaging|{study.study_id}"
    agents: list[dict[str, Any]] = [
        {
            "type": _participant("performer"),
            "who": _ref(device),
            "role": [{"text": "measured the muscles within the mask"}],
        }
    ]
    if study.segmenter:
        agents.append(
            {
                "type": _participant("performer"),
                "who": {"display": f"{study.segmenter} (automatic segmentation)"},
                "role": [{"text": "segmenter of the muscle mask"}],
            }
        )
    trace = study.mask_version
    if trace is not None and trace.author:
        kind, did = _MASK_ROLES.get(trace.method, ("enterer", "stored the muscle mask"))
        agents.append(_person(trace.author, kind, did))
    if study.levels_by:
        agents.append(_person(study.levels_by, "verifier", "named the vertebral levels"))
    entities = []
    if trace is not None:
        what = (
            f"muscle mask version {trace.version} of image series {trace.series} ({trace.method})"
        )
        entity: dict[str, Any] = {
            "role": "source",
            "what": {
                "identifier": {
                    "system": c.MASK_VERSION_SYSTEM,
                    "value": f"{trace.series}/{trace.version}",
                },
                "display": what + (f": {study.mask_file}" if study.mask_file else ""),
            },
        }
        if trace.author:
            kind, _ = _MASK_ROLES.get(trace.method, ("enterer", ""))
            entity["agent"] = [_person(trace.author, kind, f"mask method: {trace.method}")]
        entities.append(entity)
    elif study.mask_file:
        entities.append(
            {
                "role": "source",
                "what": {"display": f"muscle mask of {study.study_id}: {study.mask_file}"},
            }
        )
    _study_provenance(b, skey, when, agents, entities, [m.method for m in study.measures])


def _instability_provenance(
    b: _Bundle, inst: InstabilityExport, device: str, when: dt.datetime
) -> None:
    skey = f"instability|{inst.study_id}"
    agents: list[dict[str, Any]] = [
        {
            "type": _participant("performer"),
            "who": _ref(device),
            "role": [{"text": "measured the motion segments from the landmarks"}],
        }
    ]
    if inst.landmarks_author:
        agents.append(_person(inst.landmarks_author, "author", "placed the landmarks"))
    entities = []
    for t in inst.landmarks:
        entity: dict[str, Any] = {
            "role": "source",
            "what": {
                "identifier": {
                    "system": c.LANDMARK_VERSION_SYSTEM,
                    "value": f"{t.radiograph}/{t.version}",
                },
                "display": f"{t.view} film: landmark version {t.version} of radiograph "
                f"{t.radiograph}",
            },
        }
        if t.reader:
            entity["agent"] = [
                _person(t.reader, "author", f"placed the landmarks on the {t.view} film")
            ]
        entities.append(entity)
    _study_provenance(b, skey, when, agents, entities, [m.method for m in inst.measures])


def _study_provenance(
    b: _Bundle,
    skey: str,
    when: dt.datetime,
    agents: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    methods: list[str],
) -> None:
    b.add(
        "Provenance",
        f"provenance|{skey}",
        {
            "target": [_ref(rid) for rid in b.reported[skey]],
            "recorded": when.isoformat(),
            "agent": agents,
            "activity": {"text": "; ".join(_unique(sorted(methods))) or "spinestab analysis"},
            **({"entity": entities} if entities else {}),
        },
    )


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return seen


# ------------------------------------------------------------------------------ the record
def _patient_facts(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Sex and birth year as Observations (the Patient carries the pseudonym only)."""
    facts = [
        ("sex", "Sex as recorded", {"valueString": data.sex} if data.sex else None),
        (
            "birth-year",
            "Year of birth",
            {"valueInteger": data.birth_year} if data.birth_year is not None else None,
        ),
    ]
    for code, display, value in facts:
        if value is None:
            continue
        b.add(
            "Observation",
            f"patient|{code}",
            {
                "status": "final",
                "category": [c.concept(c.OBS_CATEGORY, "social-history", "Social History")],
                "code": c.local(f"patient-{code}", display),
                "subject": subject,
                **value,
            },
        )


def _history_items(history: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for key, value in history.items():
        item: dict[str, Any] = {"linkId": str(key)}
        if value is None:
            pass
        elif isinstance(value, bool | int | float | str):
            item["answer"] = [_value(value)]
        else:  # lists and objects: their JSON, marked as such
            item["definition"] = c.JSON_ANSWER
            item["answer"] = [{"valueString": json.dumps(value, sort_keys=True)}]
        items.append(item)
    return items


def _history(b: _Bundle, data: PatientExport, subject: dict) -> None:
    if data.history is None:
        return
    b.add(
        "QuestionnaireResponse",
        "history",
        {
            "questionnaire": c.QUESTIONNAIRE_BASE + c.HISTORY_INSTRUMENT,
            "status": "completed",
            "subject": subject,
            "authored": data.history.recorded_on.isoformat(),
            "item": _history_items(data.history.data),
        },
    )


def _record_red_flags(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Open red flags of the record (latest screen and items derived from the history)."""
    for f in data.red_flags or ():
        key = f"redflag|{f.condition}"
        items = ", ".join(f.items)
        derived = f"; from the history: {', '.join(f.derived_items)}" if f.derived_items else ""
        flag: dict[str, Any] = {
            "extension": [
                {
                    "url": c.FLAG_PRIORITY_EXT,
                    "valueCodeableConcept": c.concept(
                        c.FLAG_PRIORITY_SYSTEM, c.FLAG_PRIORITY[f.urgency]
                    ),
                }
            ],
            "status": "active",
            "category": [c.local("red-flag", "Red flag")],
            "code": c.concept(c.LOCAL, f"red-flag-{f.condition}", f.label, f.action),
            "subject": subject,
        }
        if f.screen_date:
            flag["period"] = {"start": f.screen_date.isoformat()}
        fid = b.add("Flag", key, flag)
        b.add(
            "ServiceRequest",
            key,
            {
                "status": "active",
                "intent": "order",
                "priority": c.REQUEST_PRIORITY[f.urgency],
                "category": [c.local("red-flag-escalation", "Red-flag escalation")],
                "code": c.concept(c.LOCAL, f"escalate-{f.condition}", f.label),
                "subject": subject,
                "reasonReference": [_ref(fid)],
                "note": [
                    {"text": f"{f.action} ({f.source} [{f.evidence}])"},
                    {"text": f"positive items: {items}{derived}"},
                ],
            },
        )


def _triage(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Add the triage of the plan in force as a ClinicalImpression (track, reasons, actions)."""
    tri = data.triage
    if tri is None:
        return
    b.add(
        "ClinicalImpression",
        "triage",
        {
            "status": "completed",
            "code": c.local("stabilisation-triage", "Stabilisation hierarchy triage"),
            "subject": subject,
            "effectiveDateTime": tri.date.isoformat(),
            "summary": f"Track {tri.track}: {tri.track_label}"
            + ("" if tri.plan_allowed else " (no exercise plan)"),
            "finding": [
                {"itemCodeableConcept": c.concept(c.LOCAL, code, text=text), "basis": source}
                for code, text, source in tri.reasons
            ],
            "note": [
                {"text": f"{kind} ({urgency}): {text} [{code}] ({source})"}
                for code, kind, urgency, text, source in tri.actions
            ],
            "extension": [
                {"url": "urn:spinestab:track", "valueCode": tri.track},
                {"url": "urn:spinestab:plan-allowed", "valueBoolean": tri.plan_allowed},
            ],
        },
    )


def _related(data: PatientExport, kind: str, study: str) -> list[dict[str, str]]:
    if kind in ("imaging", "instability", "morphometry"):
        return [_ref(resource_id(data.pseudonym, "ImagingStudy", f"{kind}|{study}"))]
    if kind == "plan" and data.plan is not None:
        return [_ref(resource_id(data.pseudonym, "CarePlan", f"plan|{data.plan.version}"))]
    return []


def _documents(b: _Bundle, data: PatientExport, subject: dict) -> None:
    """Add the record's own files, one DocumentReference each (what the importer stores)."""
    for d in data.documents:
        related = _related(data, d.kind, d.study)
        b.add(
            "DocumentReference",
            f"document|{d.kind}|{d.study}|{d.role}|{d.name}",
            {
                "status": "current",
                "type": c.local(f"{d.kind}:{d.role}", f"{d.kind} {d.role}"),
                "category": [c.local("spinestab-record-file", "File of the spinestab record")],
                "subject": subject,
                "description": d.study,
                "content": [
                    {
                        "attachment": {
                            "contentType": d.content_type,
                            "data": base64.b64encode(d.data).decode("ascii"),
                            "title": d.name,
                            "size": len(d.data),
                            "hash": base64.b64encode(hashlib.sha1(d.data).digest()).decode(),
                            "creation": d.date.isoformat(),
                        }
                    }
                ],
                **({"context": {"related": related}} if related else {}),
            },
        )
