"""Code systems and codes of the FHIR export (CLINICAL_LOGIC.md §6.1 resource map, §6.2 codes).

LOINC and SNOMED CT codes are those of §6.2 (evidence tags there); concepts without a
standard code use spinestab's own code system :data:`LOCAL` (§6.2: "Use a local
CodeSystem"). Muscle and vertebra codes are shared with the DICOM export
(:mod:`spinestab.dicom_out.codes`, each with its source).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FLAG_PRIORITY",
    "LOCAL",
    "LOINC",
    "OBS_CATEGORY",
    "SCORE_CODES",
    "SNOMED",
    "STARTBACK_RISK_ANSWERS",
    "UCUM",
    "coding",
    "concept",
    "local",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: spinestab's own code system (a URN: no web page claimed)
LOCAL = "urn:spinestab:codesystem"
#: identifier system of pseudonyms
PSEUDONYM_SYSTEM = "urn:spinestab:pseudonym"
#: canonical of spinestab's questionnaires; the last segment is the instrument key, as
#: spinestab.clinical.fhir_input reads it
QUESTIONNAIRE_BASE = "urn:spinestab:Questionnaire/"
#: the record's history and examination as a QuestionnaireResponse of this "instrument"
HISTORY_INSTRUMENT = "history"
#: QuestionnaireResponse item definition marking an answer that holds JSON (lists, objects)
JSON_ANSWER = "urn:spinestab:json-answer"
#: Bundle.meta.tag system saying what the Bundle was made from: "record" (a stored patient,
#: red flags and triage from the record) or "folder" (a patient folder)
EXPORT_SYSTEM = "urn:spinestab:export-source"
#: identifier system of a wearable recording (its day Observations)
RECORDING_SYSTEM = "urn:spinestab:wearable-recording"
#: identifier system of the record's users (authors of masks and landmarks, Provenance.agent)
USER_SYSTEM = "urn:spinestab:user"
#: identifier systems of a mask version ("SERIES/VERSION") and of a landmark version
#: ("RADIOGRAPH/VERSION"), the record's ids (Provenance.entity)
MASK_VERSION_SYSTEM = "urn:spinestab:mask-version"
LANDMARK_VERSION_SYSTEM = "urn:spinestab:landmark-version"
#: FHIR's code system of Provenance.agent.type (author, performer, enterer, verifier...)
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
#: FHIR core extension for a flag's priority and its code system
FLAG_PRIORITY_EXT = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-priority-code"
#: red-flag urgency -> flag priority (PH high, PM medium, PL low) [D]
FLAG_PRIORITY = {"emergency": "PH", "same_day": "PH", "urgent": "PM", "routine": "PL"}
#: red-flag urgency -> ServiceRequest.priority (README: stat / asap / urgent / routine)
REQUEST_PRIORITY = {
    "emergency": "stat",
    "same_day": "asap",
    "urgent": "urgent",
    "routine": "routine",
}

#: score observation codes per instrument and quantity: (system, code, display, text, UCUM
#: unit). A LOINC display is written only where §6.2 gives it (72514-3); for the others §6.2
#: names the concept but not LOINC's display, so the concept carries a text instead.
SCORE_CODES: dict[tuple[str, str], tuple[str, str, str | None, str, str]] = {
    ("startback", "total"): (LOINC, "91351-7", None, "STarT Back total score", "{score}"),
    ("startback", "psychosocial"): (
        LOINC,
        "91350-9",
        None,
        "STarT Back psychosocial (distress) subscore",
        "{score}",
    ),
    ("odi", "percent"): (LOINC, "97909-6", None, "Oswestry Disability Index score", "%"),
    ("nrs", "pain"): (
        LOINC,
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "Pain severity (NRS 0-10)",
        "{score}",
    ),
    ("rmdq", "total"): (
        LOCAL,
        "rmdq-score",
        "Roland-Morris Disability Questionnaire score",
        "Roland-Morris Disability Questionnaire score",
        "{score}",
    ),
    ("psfs", "mean"): (
        LOCAL,
        "psfs-mean",
        "Patient-Specific Functional Scale mean",
        "Patient-Specific Functional Scale mean",
        "{score}",
    ),
}
#: STarT Back panel (RiskAssessment.code) and risk answers (§6.2 [V: loinc.org])
STARTBACK_RISK = (LOINC, "91352-5", None, "STarT Back risk group")
#: the STarT Back panel (CLINICAL_LOGIC.md §6.2 [V: loinc.org]); its members are the total and
#: the psychosocial subscore Observations. No display is claimed: LOINC's long name was not
#: checked here, so the concept carries a text instead.
STARTBACK_PANEL = (LOINC, "91349-1")
STARTBACK_RISK_ANSWERS = {
    "low": ("LA9194-7", "Low"),
    "medium": ("LA8982-6", "Medium"),
    "high": ("LA9193-9", "High"),
}
#: §6.2 codes of the plan
EXERCISE_THERAPY = (SNOMED, "229065009", "Exercise therapy (regime/therapy)")
STEPS_24H = (LOINC, "41950-7", "Number of steps in 24 hour Measured")
#: steps over a part of a day the recording covered (§6.1 wearables row [V]; 41950-7 is for 24 h)
STEPS_SPAN = (LOINC, "55423-8", "Number of steps in unspecified time Pedometer")
#: SNOMED CT "Laterality" attribute (DICOM PS3.16, as shipped in pydicom) [V]
LATERALITY_ATTRIBUTE = (SNOMED, "272741003", "Laterality")


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """Return a FHIR Coding."""
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    """Return a CodeableConcept with one coding."""
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def local(code: str, display: str | None = None) -> dict[str, Any]:
    """Return a CodeableConcept in spinestab's own code system."""
    return concept(LOCAL, code, display)


#: CarePlan.status (FHIR R4B RequestStatus) for each spinestab plan status
CAREPLAN_STATUS = {
    "draft": "draft",
    "active": "active",
    "blocked": "on-hold",
    "superseded": "revoked",
}
