"""FHIR R4B Bundle: every resource valid, the FHIR JSON schema, codes of CLINICAL_LOGIC §6.2,
and export -> import -> export."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("fhir.resources")

import fhir_codes
from fhir.resources.R4B import get_fhir_model_class

from spinestab.clinical import parse_form, score_form
from spinestab.errors import InputError
from spinestab.fhir import (
    build_bundle,
    export_from_patient_dir,
    read_bundle,
    read_bundle_file,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients"
SCHEMA = ROOT / "tests" / "data" / "fhir" / "fhir-r4b-4.3.0.schema.json.gz"
CLINICAL_LOGIC = ROOT.parent / "shared" / "clinical" / "CLINICAL_LOGIC.md"
NAMES = sorted(p.name for p in DEMO.iterdir())


@pytest.fixture(scope="module")
def exports():
    return {name: export_from_patient_dir(DEMO / name, language="en") for name in NAMES}


@pytest.fixture(scope="module")
def bundles(exports):
    return {name: build_bundle(x) for name, x in exports.items()}


@pytest.fixture(scope="module")
def schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    with gzip.open(SCHEMA, "rt", encoding="utf-8") as fh:
        schema = json.load(fh)
    return schema, jsonschema.Draft6Validator(schema)


def _types(bundle):
    return Counter(e["resource"]["resourceType"] for e in bundle["entry"])


def test_every_resource_the_issue_lists_is_there(bundles):
    full = _types(bundles["functional_high_risk"])
    for kind in (
        "Patient",
        "QuestionnaireResponse",
        "Observation",
        "RiskAssessment",
        "ServiceRequest",
        "ImagingStudy",
        "DiagnosticReport",
        "CarePlan",
        "Goal",
        "Provenance",
    ):
        assert full[kind] >= 1, kind
    assert _types(bundles["red_flag_cauda_equina"])["Flag"] == 1
    assert "CarePlan" not in _types(bundles["red_flag_cauda_equina"])  # blocked: no plan
    assert _types(bundles["structural_spondylolisthesis"])["DiagnosticReport"] == 1


def test_patient_holds_the_pseudonym_only(bundles):
    for name, bundle in bundles.items():
        patient = bundle["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient"
        assert set(patient) == {"resourceType", "id", "identifier", "active"}
        assert patient["identifier"] == [{"system": "urn:spinestab:pseudonym", "value": name}]


def test_each_resource_validates_with_the_r4b_models(bundles):
    for bundle in bundles.values():
        for entry in bundle["entry"]:
            res = entry["resource"]
            get_fhir_model_class(res["resourceType"]).model_validate(res)
        get_fhir_model_class("Bundle").model_validate(bundle)


def test_bundle_validates_against_the_fhir_json_schema(bundles, schema_validator):
    _, validator = schema_validator
    for name, bundle in bundles.items():
        errors = [f"{list(e.path)}: {e.message[:120]}" for e in validator.iter_errors(bundle)]
        assert not errors, (name, errors[:5])


def test_the_schema_check_can_fail(bundles, schema_validator):
    _, validator = schema_validator
    broken = copy.deepcopy(bundles["functional_high_risk"])
    obs = next(
        e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "Observation"
    )
    # R4B's schema types status as a plain code (its enums were dropped; fhir_codes.py checks
    # the required bindings): break what it does check, an unknown element and a required one
    obs["valueSteps"] = 1  # not an element of Observation
    assert list(validator.iter_errors(broken))
    del obs["valueSteps"]
    del obs["code"]  # Observation.code is required (1..1)
    assert list(validator.iter_errors(broken))
    obs["code"] = {"text": "x"}
    assert not list(validator.iter_errors(broken))


def test_r4b_schema_elements_equal_r4b_model_elements(bundles, schema_validator):
    """HL7's R4B schema and fhir.resources' R4B models agree on the types we write."""
    schema, _ = schema_validator
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.3"  # R4B 4.3.0
    kinds = set().union(*(_types(b) for b in bundles.values())) | {"Bundle"}
    for kind in sorted(kinds):
        props = {p for p in schema["definitions"][kind]["properties"] if not p.startswith("_")}
        model = get_fhir_model_class(kind)
        fields = {f.alias or n for n, f in model.model_fields.items()} - {"fhir_comments"}
        assert props - {"resourceType"} == {f for f in fields if not f.startswith("_")}, kind


def test_every_coded_element_is_checked_against_clinical_logic_and_fhir(bundles):
    """Codes of §6.2 (read from the shared file), their displays and places; FHIR R4B
    required bindings and HL7 code systems (transcribed in fhir_codes.py)."""
    if not fhir_codes.CLINICAL_LOGIC.is_file():
        pytest.fail(f"{fhir_codes.CLINICAL_LOGIC} missing: the shared clinical logic must sit "
                    "beside the repo")  # fmt: skip
    meanings = fhir_codes.dicom_snomed_meanings()
    seen, bound = set(), set()
    for bundle in bundles.values():
        seen |= fhir_codes.check_codes(bundle, meanings)
        bound |= fhir_codes.check_required_bindings(bundle)
        fhir_codes.check_placement(bundle)
    for code in ("91349-1", "91351-7", "91350-9", "91352-5", "72514-3", "97909-6", "41950-7"):
        assert ("http://loinc.org", code) in seen, code
    for answer in ("LA9194-7", "LA8982-6", "LA9193-9"):  # low, medium, high risk
        assert ("http://loinc.org", answer) in seen, answer
    assert ("http://snomed.info/sct", "229065009") in seen  # exercise therapy
    statuses = {k for k, path in bound if path == "status"}
    assert statuses >= {"Observation", "QuestionnaireResponse", "ServiceRequest", "CarePlan"}


def test_the_code_checks_can_fail(bundles):
    meanings = fhir_codes.dicom_snomed_meanings()
    bundle = bundles["functional_high_risk"]
    for path, change in (
        ("code", {"code": "91350-9"}),  # the total coded as the subscore: placement
        ("code", {"display": "STarT Back total"}),  # a display §6.2 does not give
        ("status", "done"),  # not an ObservationStatus
    ):
        broken = copy.deepcopy(bundle)
        obs = next(
            e["resource"]
            for e in broken["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"]["coding"][0]["code"] == "91351-7"
        )
        if path == "code":
            obs["code"]["coding"][0].update(change)
        else:
            obs[path] = change
        with pytest.raises(AssertionError):
            fhir_codes.check_codes(broken, meanings)
            fhir_codes.check_required_bindings(broken)
            fhir_codes.check_placement(broken)
    broken = copy.deepcopy(bundle)
    plan = next(
        e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "CarePlan"
    )
    plan["category"][0]["coding"][0]["code"] = "91251008"  # in §6.2, but not exercise therapy
    with pytest.raises(AssertionError):
        fhir_codes.check_codes(broken, meanings)
        fhir_codes.check_placement(broken)


def test_score_observations_equal_the_scored_forms(exports, bundles):
    x, bundle = exports["functional_high_risk"], bundles["functional_high_risk"]
    by_code, panels = {}, {}
    ids = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Observation" and "survey" in json.dumps(r.get("category")):
            by_code[r["code"]["coding"][0]["code"]] = r.get("valueQuantity", {}).get("value")
            members = {m["reference"].removeprefix("urn:uuid:") for m in r.get("hasMember", [])}
            if members:
                panels[r["code"]["coding"][0]["code"]] = {
                    ids[m]["code"]["coding"][0]["code"] for m in members
                }
    for form in x.forms:
        score = score_form(
            parse_form(
                {"instrument": form.instrument, "date": str(form.date), "answers": form.answers}
            )
        )
        if form.instrument == "odi":
            assert by_code["97909-6"] == score.percent
        elif form.instrument == "nrs":
            assert by_code["72514-3"] == score.score
        elif form.instrument == "startback":
            assert by_code["91351-7"] == score.score
            assert by_code["91350-9"] == score.psychosocial
            # the STarT Back panel (LOINC 91349-1, §6.2) holds the total and the subscore
            assert panels["91349-1"] == {"91351-7", "91350-9"}


def test_red_flag_gives_a_flag_with_priority_and_an_escalation(bundles):
    entries = [e["resource"] for e in bundles["red_flag_cauda_equina"]["entry"]]
    flag = next(r for r in entries if r["resourceType"] == "Flag")
    assert flag["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "PH"
    escalation = next(r for r in entries if r["resourceType"] == "ServiceRequest")
    assert escalation["priority"] == "stat"
    assert escalation["reasonReference"][0]["reference"] == f"urn:uuid:{flag['id']}"


@pytest.mark.parametrize("name", NAMES)
def test_export_import_export_gives_the_same_resources(exports, bundles, name, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundles[name]), encoding="utf-8")
    back = read_bundle_file(path)
    assert back == exports[name]
    assert build_bundle(back) == bundles[name]


def test_import_refuses_what_is_not_a_spinestab_bundle(bundles, tmp_path):
    with pytest.raises(InputError, match="not a FHIR Bundle"):
        read_bundle({"resourceType": "Patient"})
    no_patient = copy.deepcopy(bundles["low_risk_self_management"])
    no_patient["entry"] = no_patient["entry"][1:]
    with pytest.raises(InputError, match="one Patient"):
        read_bundle(no_patient)
    foreign = copy.deepcopy(bundles["low_risk_self_management"])
    qr = next(
        e["resource"]
        for e in foreign["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    qr["questionnaire"] = "http://example.org/Questionnaire/phq9"
    with pytest.raises(InputError, match="unknown questionnaire"):
        read_bundle(foreign)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_bundle_file(bad)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 500 + "]" * 500, encoding="utf-8")
    with pytest.raises(InputError, match="nested too deeply"):
        read_bundle_file(deep)
    invalid = copy.deepcopy(bundles["low_risk_self_management"])
    invalid["entry"][0]["resource"]["identifier"] = "p1"  # not a list of Identifier
    with pytest.raises(InputError, match="invalid FHIR R4B Bundle"):
        read_bundle(invalid)
