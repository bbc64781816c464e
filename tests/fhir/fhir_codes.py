"""Independent checks of every coded element a spinestab Bundle writes.

Two independent truths, read or transcribed here and not taken from ``spinestab.fhir``:

- CLINICAL_LOGIC.md §6.2 (the table of codes found or checked), parsed from the shared file:
  a LOINC or SNOMED CT code in a Bundle must be in it (SNOMED CT codes of muscles, sides and
  vertebrae may instead come from DICOM PS3.16 as pydicom ships it, or from the short list of
  unverified muscle codes the docs name); a display, where one is written, must be §6.2's
  (a code §6.2 lists without a display is written without one); and each §6.2 concept sits
  where §6.1 and the issue put it (the STarT Back total is 91351-7, steps in 24 h are
  counted over one day, ...).
- FHIR R4B's required bindings and the HL7 code systems the Bundle uses, transcribed from
  the FHIR R4B specification (hl7.org/fhir/R4B, each resource's "Terminology Bindings" table
  and the code systems' pages).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLINICAL_LOGIC = ROOT.parent / "shared" / "clinical" / "CLINICAL_LOGIC.md"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
LOCAL = "urn:spinestab:codesystem"
_SYSTEMS = {"SNOMED CT": SNOMED, "LOINC": LOINC}

#: FHIR R4B required bindings of the code elements spinestab writes: (resource, path) ->
#: allowed codes (hl7.org/fhir/R4B/<resource>.html#tx, the value sets' pages)
REQUIRED = {
    ("Bundle", "type"): {
        "document", "message", "transaction", "transaction-response", "batch",
        "batch-response", "history", "searchset", "collection", "subscription-notification",
    },
    ("Observation", "status"): {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
    ("RiskAssessment", "status"): {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
    ("DiagnosticReport", "status"): {
        "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
        "cancelled", "entered-in-error", "unknown",
    },
    ("QuestionnaireResponse", "status"): {
        "in-progress", "completed", "amended", "entered-in-error", "stopped",
    },
    ("Flag", "status"): {"active", "inactive", "entered-in-error"},
    ("ServiceRequest", "status"): {
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
    },
    ("ServiceRequest", "intent"): {
        "proposal", "plan", "directive", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option",
    },
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("ImagingStudy", "status"): {
        "registered", "available", "cancelled", "entered-in-error", "unknown",
    },
    ("CarePlan", "status"): {
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
    },
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("CarePlan", "activity.detail.kind"): {
        "Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest",
        "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription",
    },
    ("CarePlan", "activity.detail.status"): {
        "not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
        "stopped", "unknown", "entered-in-error",
    },
    ("Goal", "lifecycleStatus"): {
        "proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
        "entered-in-error", "rejected",
    },
    ("ClinicalImpression", "status"): {"in-progress", "completed", "entered-in-error"},
    ("DocumentReference", "status"): {"current", "superseded", "entered-in-error"},
    ("Provenance", "entity.role"): {"derivation", "revision", "quotation", "source", "removal"},
    ("Device", "deviceName.type"): {
        "udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name",
        "model-name", "other",
    },
}  # fmt: skip
#: HL7 code systems the Bundle uses and their codes (terminology.hl7.org, FHIR R4B)
HL7_CODES = {
    "http://terminology.hl7.org/CodeSystem/observation-category": {
        "social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey",
        "exam", "therapy", "activity",
    },
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type": {
        "enterer", "performer", "author", "verifier", "legal", "attester", "informant",
        "custodian", "assembler", "composer",
    },
    "http://terminology.hl7.org/CodeSystem/flag-priority-code": {"PN", "PL", "PM", "PH"},
    "http://terminology.hl7.org/CodeSystem/data-absent-reason": {
        "unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked",
        "not-applicable", "unsupported", "as-text", "error", "not-a-number",
        "negative-infinity", "positive-infinity", "not-performed", "not-permitted",
    },
    # v2 table 0074 (diagnostic service section), the radiology section
    "http://terminology.hl7.org/CodeSystem/v2-0074": {"RAD"},
    # DICOM CID 29 acquisition modalities spinestab reads
    "http://dicom.nema.org/resources/ontology/DCM": {"MR", "CT"},
}  # fmt: skip
#: UCUM units the Bundle may write (each a valid UCUM expression)
UCUM_UNITS = {"%", "mm2", "mL", "deg", "1", "/d", "min", "{score}", "{steps}", "Hz"}
#: SNOMED CT codes not in §6.2 nor DICOM PS3.16 (docs/interop.md names them [R]): three
#: muscles, and the S1 vertebra (TotalSegmentator's SNOMED mapping; a morphometry of S1)
UNVERIFIED_SNOMED = {"5709001", "6001004", "276167002", "65985001"}


def dicom_snomed_meanings() -> dict[str, set[str]]:
    """SNOMED CT code -> meanings (lower case) in DICOM PS3.16 (pydicom's dictionary)."""
    from pydicom.sr._concepts_dict import concepts

    out: dict[str, set[str]] = {}
    for entries in concepts.get("SCT", {}).values():
        for code, (meaning, _cids) in entries.items():
            out.setdefault(code, set()).add(meaning.lower())
    return out


def section_6_2() -> dict[str, tuple[str, str | None]]:
    """Return §6.2's codes: code -> (system, display or None), read from the shared file."""
    text = CLINICAL_LOGIC.read_text(encoding="utf-8")
    start = text.index("### 6.2 Codes found or checked")
    table = text[start : text.index("\n## ", start)]
    out: dict[str, tuple[str, str | None]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[1] not in _SYSTEMS:
            continue
        _, system, code_cell, display_cell, _ = cells
        codes = [c.strip() for c in re.split(r"[/;,]", code_cell) if c.strip()]
        displays = [d.strip() for d in display_cell.split(" / ")]
        aligned = len(displays) == len(codes) and display_cell not in ("—", "-")
        aligned = aligned and not display_cell.startswith(("as listed", "risk answers"))
        for n, code in enumerate(codes):
            out[code] = (_SYSTEMS[system], displays[n] if aligned else None)
        for answer, meaning in re.findall(r"(LA\d{4}-\d) (\w+)", display_cell):
            out[answer] = (LOINC, meaning)  # LOINC answers: meaning, compared ignoring case
    return out


def section_6_1_wearables() -> dict[str, tuple[str, str | None]]:
    """Return the LOINC codes §6.1's Wearables row names: code -> (LOINC, its quoted display)."""
    text = CLINICAL_LOGIC.read_text(encoding="utf-8")
    start = text.index("### 6.1 Resource map")
    row = next(
        line
        for line in text[start : text.index("### 6.2", start)].splitlines()
        if line.startswith("| Wearables |")
    )
    return {
        code: (LOINC, display) for code, display in re.findall(r'(\d{4,5}-\d)\** "([^"]+)"', row)
    }


def codings(obj, path=""):
    """Yield ``(path, coding)`` for every Coding (a dict with ``system`` and ``code``)."""
    if isinstance(obj, dict):
        if "system" in obj and "code" in obj and "value" not in obj:
            yield path, obj
        for k, v in obj.items():
            yield from codings(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for v in obj:
            yield from codings(v, path)


def _values(resource, path):
    items = [resource]
    for part in path.split("."):
        nxt = []
        for item in items:
            value = item.get(part) if isinstance(item, dict) else None
            nxt.extend(value if isinstance(value, list) else [] if value is None else [value])
        items = nxt
    return items


def check_required_bindings(bundle) -> set[tuple[str, str]]:
    """Assert every required-bound code is allowed; return the (resource, path) seen."""
    seen = set()
    assert bundle["type"] in REQUIRED[("Bundle", "type")]
    for entry in bundle["entry"]:
        res = entry["resource"]
        for (kind, path), allowed in REQUIRED.items():
            if kind != res["resourceType"]:
                continue
            for value in _values(res, path):
                assert value in allowed, (kind, path, value)
                seen.add((kind, path))
        for att in _values(res, "content.attachment"):  # MimeType (BCP 13), required
            assert re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", att["contentType"]), att["contentType"]
    return seen


def check_codes(bundle, dicom_meanings: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Assert every Coding is known (§6.2, HL7, DICOM, UCUM or local); return those seen.

    ``dicom_meanings``: SNOMED CT code -> its meanings (lower case) in DICOM PS3.16 (pydicom).
    """
    table = section_6_1_wearables() | section_6_2()
    seen = set()
    for path, coding in codings(bundle):
        system, code, display = coding["system"], coding["code"], coding.get("display")
        seen.add((system, code))
        where = (path, system, code, display)
        if system in (LOINC, SNOMED) and code in table:
            assert table[code][0] == system, where
            expected = table[code][1]
            if expected is None:
                assert display is None, ("§6.2 gives no display to claim", where)
            elif code.startswith("LA"):
                assert display is None or display.lower() == expected.lower(), where
            else:
                assert display is None or display == expected, where
        elif system == SNOMED:
            if code in UNVERIFIED_SNOMED:
                continue
            assert code in dicom_meanings, ("SNOMED CT code in neither §6.2 nor DICOM", where)
            assert display is None or display.lower() in dicom_meanings[code], where
        elif system == LOINC:
            raise AssertionError(("LOINC code not in §6.2", where))
        elif system in HL7_CODES:
            assert code in HL7_CODES[system], where
        elif system == UCUM:
            assert code in UCUM_UNITS, where
        else:
            assert system == LOCAL or system.startswith("urn:spinestab:"), where
    return seen


def check_placement(bundle) -> None:
    """Assert each §6.2 concept sits where §6.1 and the issue put it."""
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for res in urls.values():
        kind = res["resourceType"]
        code = ((res.get("code") or {}).get("coding") or [{}])[0]
        if kind == "Observation" and code.get("system") == LOINC:
            derived = [urls[r["reference"]]["resourceType"] for r in res.get("derivedFrom", [])]
            if code["code"] in ("41950-7", "55423-8"):  # steps: one day's count
                period = res["effectivePeriod"]
                start, end = (dt.datetime.fromisoformat(period[k]) for k in ("start", "end"))
                if code["code"] == "41950-7":  # in 24 hours: the whole day
                    assert end - start == dt.timedelta(days=1), period
                else:  # the part of one local day the recording covered (§6.1)
                    assert dt.timedelta(0) < end - start < dt.timedelta(days=1), period
                    assert start.date() == (end - dt.timedelta(microseconds=1)).date(), period
                unit = "/d" if code["code"] == "41950-7" else "{steps}"
                assert res["valueQuantity"]["code"] == unit
                assert res["category"][0]["coding"][0]["code"] == "activity"
                if "device" in res:  # a wearable sensor (§6.1: Observation with device)
                    assert urls[res["device"]["reference"]]["resourceType"] == "Device"
                continue
            # scores: category survey, derived from the form (§6.1)
            assert res["category"][0]["coding"][0]["code"] == "survey", code
            assert derived == ["QuestionnaireResponse"], code
            form = urls[res["derivedFrom"][0]["reference"]]["questionnaire"].rsplit("/", 1)[1]
            expected = {
                "91351-7": "startback", "91350-9": "startback", "91349-1": "startback",
                "97909-6": "odi", "72514-3": "nrs",
            }[code["code"]]  # fmt: skip
            assert form == expected, (code, form)
            if code["code"] == "91349-1":  # the panel holds the total and the subscore
                members = {
                    urls[m["reference"]]["code"]["coding"][0]["code"] for m in res["hasMember"]
                }
                assert members <= {"91351-7", "91350-9"} and "91351-7" in members
            if code["code"] == "97909-6":
                assert res["valueQuantity"]["code"] == "%"
        if kind == "RiskAssessment":
            assert code == {"system": LOINC, "code": "91352-5"} or code["code"] == "91352-5"
            for p in res["prediction"]:
                answer = p["qualitativeRisk"]["coding"][0]
                risk = {"LA9194-7": "low", "LA8982-6": "medium", "LA9193-9": "high"}
                assert risk[answer["code"]] == p["qualitativeRisk"]["text"], answer
        if kind == "CarePlan":
            cats = [c["coding"][0] for c in res["category"]]
            assert {"system": SNOMED, "code": "229065009"} in [
                {k: c[k] for k in ("system", "code")} for c in cats
            ]
        if kind == "Observation" and code.get("code") in ("muscle-fat-fraction",):
            assert urls[res["derivedFrom"][0]["reference"]]["resourceType"] == "ImagingStudy"


def check_bundle(bundle, validator) -> None:
    """Assert a Bundle is valid R4B: each resource by fhir.resources' R4B models, the whole by
    HL7's JSON schema (``validator``), and every code by the checks above."""
    from fhir.resources.R4B import get_fhir_model_class

    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    errors = [f"{list(e.path)}: {e.message[:120]}" for e in validator.iter_errors(bundle)]
    assert not errors, errors[:5]
    check_codes(bundle, dicom_snomed_meanings())
    check_required_bindings(bundle)
    check_placement(bundle)
