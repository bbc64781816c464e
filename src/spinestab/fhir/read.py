"""Read a Bundle written by :func:`spinestab.fhir.build_bundle` back into :class:`PatientExport`.

Derived resources (score Observations, RiskAssessment, red-flag Flags and escalations,
DiagnosticReports) are not read: they follow from the forms and measurements, and are made
again on the next export. A Bundle that is not spinestab's (no pseudonymous Patient, unknown
codes) is refused with a message that names the entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.dicom_out.codes import LATERALITY
from spinestab.errors import InputError, require
from spinestab.fhir import codes as c
from spinestab.fhir.build import DAY_MINUTES, MUSCLE_MEASURES, SEGMENT_MEASURES
from spinestab.fhir.model import (
    DayMovement,
    FormEntry,
    HistoryExport,
    ImagingExport,
    InstabilityExport,
    MuscleMeasure,
    PatientExport,
    PlanExport,
    PlannedActivity,
    Referral,
    SegmentMeasure,
    SourceDocument,
)
from spinestab.fhir.morphometry import is_morphometry, morphometry_of_bundle
from spinestab.fhir.read_provenance import study_provenance, with_landmarks, with_mask
from spinestab.fhir.wearable import sensors_of_device

__all__ = ["read_bundle", "read_bundle_file"]

_PRIORITY_URGENCY = {v: k for k, v in c.REQUEST_PRIORITY.items()}
_MUSCLE_BY_CODE = {v[0]: k for k, v in MUSCLE_MEASURES.items()}
_SEGMENT_BY_CODE = {v[0]: k for k, v in SEGMENT_MEASURES.items()}
_DAY_BY_CODE = {v: k for k, v in DAY_MINUTES.items()}
_SIDE_BY_CODE = {v.value: k for k, v in LATERALITY.items()}
#: statuses of a QuestionnaireResponse imported as a form (FHIR R4B QuestionnaireResponseStatus)
_FORM_STATUSES = ("completed", "amended")
#: size limit of a Bundle file read from disk [D]
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


def read_bundle_file(path: str | Path) -> PatientExport:
    """Read a Bundle JSON file with :func:`read_bundle`.

    Read through the shared bounded reader: at most 64 MiB, nesting, integer size and
    duplicate keys limited before parsing completes.
    """
    from spinestab.core.safe_load import load_json

    path = Path(path)
    data = load_json(path, max_bytes=MAX_BUNDLE_BYTES)
    try:
        return read_bundle(data)
    except InputError as exc:
        raise exc.with_source(str(path)) from None


def _code(cc: Mapping[str, Any] | None, system: str | None = None) -> str | None:
    for coding in (cc or {}).get("coding", []):
        if system is None or coding.get("system") == system:
            return coding.get("code")
    return None


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def _answers(instrument: str, items: list[dict[str, Any]]) -> Any:
    if instrument == "psfs":
        return {
            "activities": [
                {"name": i.get("text"), "score": _scalar(i.get("answer", [None])[0])} for i in items
            ]
        }
    values = {i["linkId"]: [_scalar(a) for a in i.get("answer", [])] for i in items}
    if (
        instrument == "rmdq"
        and values
        and all(v == [True] for v in values.values())
        and all(k.isdigit() for k in values)
    ):
        return [int(k) for k in values]
    return {k: (None if not v else v[0] if len(v) == 1 else v) for k, v in values.items()}


def _scalar(answer: Mapping[str, Any] | None) -> Any:
    if not answer:
        return None
    for key in ("valueBoolean", "valueInteger", "valueDecimal", "valueString"):
        if key in answer:
            return answer[key]
    raise InputError("unsupported answer type", value=sorted(answer))


def _component(obs: Mapping[str, Any], code: str) -> Mapping[str, Any] | None:
    for comp in obs.get("component", []):
        if _code(comp.get("code")) == code:
            return comp
    return None


def _required(obs: Mapping[str, Any], code: str) -> Mapping[str, Any]:
    """Return the component ``code`` of an Observation (KeyError, a bad Bundle, if none)."""
    comp = _component(obs, code)
    if comp is None:
        raise KeyError(code)
    return comp


def read_bundle(bundle: Mapping[str, Any]) -> PatientExport:
    """Turn a spinestab Bundle (JSON dicts) back into :class:`PatientExport`.

    The Bundle is first validated with fhir.resources' R4B Bundle model.
    """
    require("fhir.resources", extra="fhir", feature="FHIR import")
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InputError("not a FHIR Bundle", expected='{"resourceType": "Bundle", ...}')
    try:
        Bundle.model_validate(bundle)
    except Exception as exc:
        raise InputError(f"invalid FHIR R4B Bundle ({str(exc)[:300]})") from None
    by_type: dict[str, list[dict[str, Any]]] = {}
    by_url: dict[str, dict[str, Any]] = {}
    for entry in bundle.get("entry", []):
        res = entry.get("resource") or {}
        by_type.setdefault(res.get("resourceType", ""), []).append(res)
        if entry.get("fullUrl"):
            by_url[entry["fullUrl"]] = res
    patients = by_type.get("Patient", [])
    pseudonyms = [
        i.get("value")
        for p in patients
        for i in p.get("identifier", [])
        if i.get("system") == c.PSEUDONYM_SYSTEM
    ]
    if len(pseudonyms) != 1:
        raise InputError(
            "Bundle must hold one Patient with a spinestab pseudonym",
            item="Patient.identifier",
            value=len(pseudonyms),
            expected=f"one identifier with system {c.PSEUDONYM_SYSTEM}",
        )
    tags = [t.get("code") for t in (bundle.get("meta") or {}).get("tag", [])]
    try:
        data = _read(by_type, by_url, pseudonyms[0])
        if "record" not in tags:
            return data
        return _read_record_parts(data, by_type)
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(
            f"Bundle is not in spinestab's layout ({type(exc).__name__}: {exc})",
            expected="a Bundle written by spinestab fhir export",
        ) from None


def _read(by_type: dict, by_url: dict, pseudonym: str) -> PatientExport:
    forms = []
    for qr in by_type.get("QuestionnaireResponse", []):
        canonical = qr.get("questionnaire", "")
        instrument = canonical.rsplit("/", 1)[-1]
        if canonical == c.QUESTIONNAIRE_BASE + c.HISTORY_INSTRUMENT:
            continue  # the record's history: read with the record's parts
        if not canonical.startswith(c.QUESTIONNAIRE_BASE):
            raise InputError(
                "QuestionnaireResponse of an unknown questionnaire",
                item=f"QuestionnaireResponse {qr.get('id')}",
                value=canonical,
                expected=c.QUESTIONNAIRE_BASE + "<instrument>",
            )
        if qr.get("status") not in _FORM_STATUSES:
            raise InputError(
                "a QuestionnaireResponse that is not a completed form",
                item=f"QuestionnaireResponse {qr.get('id')} ({instrument})",
                value=qr.get("status"),
                expected="completed or amended (a Bundle carries no retracted or unfinished "
                "forms; retract a stored form in the record)",
            )
        forms.append(
            FormEntry(instrument, _date(qr["authored"]), _answers(instrument, qr.get("item", [])))
        )
    referrals = [
        Referral(
            code=_code(sr.get("code"), c.LOCAL) or "",
            text=(sr.get("code") or {}).get("text", ""),
            urgency=_PRIORITY_URGENCY.get(sr.get("priority", "routine"), "routine"),
            source=(sr.get("note") or [{}])[0].get("text", ""),
        )
        for sr in by_type.get("ServiceRequest", [])
        if any(_code(cat, c.LOCAL) == "referral" for cat in sr.get("category", []))
    ]
    provenance = study_provenance(by_type)
    observations = by_type.get("Observation", [])
    imaging, instability, morphometry = [], [], []
    for study in by_type.get("ImagingStudy", []):
        url = f"urn:uuid:{study['id']}"
        mine = [
            o
            for o in observations
            if any(r.get("reference") == url for r in o.get("derivedFrom", []))
        ]
        if is_morphometry(mine):
            morphometry.append(morphometry_of_bundle(study, mine))
        elif any(_code(o.get("code"), c.LOCAL) in _MUSCLE_BY_CODE for o in mine) or study.get(
            "modality"
        ):
            imaging.append(with_mask(_imaging_study(study, mine), provenance.get(url)))
        else:
            instability.append(with_landmarks(_instability_study(study, mine), provenance.get(url)))
    movement = _movement(observations)
    plan = _plan(by_type, by_url)
    devices = by_type.get("Device", [])
    software = [d for d in devices if d.get("version")]  # spinestab; sensors have none
    version = software[0]["version"][0].get("value", "") if software else ""
    return PatientExport(
        pseudonym=pseudonym,
        forms=tuple(forms),
        referrals=tuple(referrals),
        imaging=tuple(imaging),
        instability=tuple(instability),
        morphometry=tuple(morphometry),
        movement=movement,
        sensors=sensors_of_device(devices),
        plan=plan,
        software_version=version,
    )


def _imaging_study(study: dict, obs: list[dict]) -> ImagingExport:
    measures = []
    for o in obs:
        code = _code(o.get("code"), c.LOCAL)
        if code not in _MUSCLE_BY_CODE:
            continue
        side_comp = _component(o, c.LATERALITY_ATTRIBUTE[1])
        side = (
            _SIDE_BY_CODE.get(_code(side_comp["valueCodeableConcept"]) or "")
            if side_comp
            else "none"
        )
        level = _required(o, "vertebral-level")["valueCodeableConcept"]["text"]
        method = _required(o, "measurement-method")["valueString"]
        measures.append(
            MuscleMeasure(
                muscle=o["bodySite"]["text"],
                side=side or "none",
                level=level,
                measure=_MUSCLE_BY_CODE[code],
                value=float(o["valueQuantity"]["value"]),
                method=method,
            )
        )
    series = study.get("series") or [{}]
    uids = [i["value"] for i in study.get("identifier", []) if i.get("system") == "urn:dicom:uid"]
    return ImagingExport(
        study_id=study.get("description", ""),
        date=_date(study["started"]),
        modality=(study.get("modality") or [{}])[0].get("code", ""),
        series_uid=series[0].get("uid"),
        measures=tuple(measures),
        study_uid=uids[0].removeprefix("urn:oid:") if uids else None,
    )


def _instability_study(study: dict, obs: list[dict]) -> InstabilityExport:
    measures, verdicts = [], []
    for o in obs:
        code = _code(o.get("code"), c.LOCAL)
        if code == "segment-stability-verdict":
            verdicts.append(
                (o["bodySite"]["text"], o["valueCodeableConcept"]["coding"][0]["display"])
            )
        elif code in _SEGMENT_BY_CODE:
            measures.append(
                SegmentMeasure(
                    level=o["bodySite"]["text"],
                    measure=_SEGMENT_BY_CODE[code],
                    value=float(o["valueQuantity"]["value"]),
                    method=_required(o, "measurement-method")["valueString"],
                )
            )
    return InstabilityExport(
        study_id=study.get("description", ""),
        date=_date(study["started"]),
        measures=tuple(measures),
        verdicts=tuple(verdicts),
    )


def _movement(observations: list[dict]) -> tuple[DayMovement, ...]:
    days: dict[tuple[str, str], dict[str, Any]] = {}
    for o in observations:
        if "effectivePeriod" not in o:
            continue
        ids = [i["value"] for i in o.get("identifier", []) if i.get("system") == c.RECORDING_SYSTEM]
        recording = ids[0] if ids else ""
        span = o["effectivePeriod"]
        day = days.setdefault(
            (recording, span["start"]),
            {"steps": None, "minutes": (), "period": _span(span)},
        )
        if _code(o.get("code"), c.LOINC) in (c.STEPS_24H[1], c.STEPS_SPAN[1]):
            day["steps"] = float(o["valueQuantity"]["value"])
        elif _code(o.get("code"), c.LOCAL) == "posture-minutes":
            day["minutes"] = tuple(
                (
                    _DAY_BY_CODE[_code(comp["code"], c.LOCAL) or ""],
                    float(comp["valueQuantity"]["value"]) if "valueQuantity" in comp else None,
                )
                for comp in o.get("component", [])
            )
    return tuple(
        DayMovement(_date(d[:10]), v["steps"], v["minutes"], recording=r, period=v["period"])
        for (r, d), v in days.items()
    )


def _span(period: dict) -> tuple[str, str] | None:
    """Return a day's covered span; None for a whole date (``start`` and ``end`` dates)."""
    if len(period["start"]) == 10 and len(period.get("end", "")) == 10:
        return None
    return (period["start"], period["end"])


def _plan(by_type: dict, by_url: dict) -> PlanExport | None:
    plans = by_type.get("CarePlan", [])
    if not plans:
        return None
    cp = plans[0]
    ext = {e["url"]: e.get("valueCode", e.get("valueString")) for e in cp.get("extension", [])}
    status = ext["urn:spinestab:plan-status"]
    if c.CAREPLAN_STATUS.get(status) != cp.get("status"):
        raise InputError(
            "the CarePlan's status disagrees with its plan status",
            item=f"CarePlan {cp.get('id')}",
            value=f"{cp.get('status')} / {status}",
            expected=", ".join(f"{v} for {k}" for k, v in c.CAREPLAN_STATUS.items()),
        )
    goals = []
    for ref in cp.get("goal", []):
        goal = by_url[ref["reference"]]
        desc = goal["description"]
        goals.append((desc["coding"][0]["code"], desc["text"]))
    activities = []
    for act in cp.get("activity", []):
        detail = act["detail"]
        coding = detail["code"]["coding"][0]
        activities.append(
            PlannedActivity(
                exercise=coding["display"], level=detail["code"]["text"], dose=detail["description"]
            )
        )
    return PlanExport(
        version=int(cp["identifier"][0]["value"]),
        status=status,
        track=ext["urn:spinestab:track"],
        created=_date(cp["created"]),
        activities=tuple(activities),
        goals=tuple(goals),
        approved_by=(cp.get("author") or {}).get("display"),
        approved_at=ext.get("urn:spinestab:approved-at"),
    )


def _read_record_parts(data: PatientExport, by_type: dict) -> PatientExport:
    """Read what a Bundle made from a record holds besides the folder's parts.

    The history, sex and birth year, and the record's files (DocumentReference
    attachments, checked against their size and SHA-1). Open red flags and the triage are
    not read back: the record derives them again from the forms, the history and the plan.
    """
    import base64
    import hashlib
    import json
    from dataclasses import replace

    history = None
    for qr in by_type.get("QuestionnaireResponse", []):
        if qr.get("questionnaire") != c.QUESTIONNAIRE_BASE + c.HISTORY_INSTRUMENT:
            continue
        fields: dict[str, Any] = {}
        for item in qr.get("item", []):
            answers = item.get("answer") or []
            value = _scalar(answers[0]) if answers else None
            if item.get("definition") == c.JSON_ANSWER and isinstance(value, str):
                value = json.loads(value)
            fields[item["linkId"]] = value
        history = HistoryExport(_date(qr["authored"]), fields)
    sex = birth_year = None
    for o in by_type.get("Observation", []):
        code = _code(o.get("code"), c.LOCAL)
        if code == "patient-sex":
            sex = o.get("valueString")
        elif code == "patient-birth-year":
            birth_year = o.get("valueInteger")
    documents = []
    for ref in by_type.get("DocumentReference", []):
        kind, _, role = (_code(ref.get("type"), c.LOCAL) or "").partition(":")
        att = ref["content"][0]["attachment"]
        raw = base64.b64decode(att["data"], validate=True)
        sha1 = base64.b64encode(hashlib.sha1(raw).digest()).decode()
        if att.get("size", len(raw)) != len(raw) or att.get("hash", sha1) != sha1:
            raise InputError(
                "an attachment does not match its size or SHA-1",
                item=f"DocumentReference {ref.get('id')}",
                value=att.get("title"),
            )
        documents.append(
            SourceDocument(
                kind=kind,
                study=ref.get("description", ""),
                role=role,
                name=att.get("title", ""),
                content_type=att.get("contentType", ""),
                data=raw,
                date=_date(att["creation"]),
            )
        )
    return replace(
        data,
        sex=sex,
        birth_year=birth_year,
        history=history,
        red_flags=(),
        documents=tuple(documents),
    )
