"""The FHIR Bundle of a stored patient: everything from the record, valid, and exact round trips
(export -> import into an empty record -> export) on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
import csv
import json

import pytest

pytest.importorskip("fhir.resources")

import fhir_codes
from fhir.resources.R4B import get_fhir_model_class
from fhir_fixtures import *  # noqa: F403 (the fixtures)
from fhir_fixtures import ALICE, DEMO

from spinestab import record as services
from spinestab.errors import AlreadyStoredError, InputError
from spinestab.fhir import build_bundle, read_bundle
from spinestab.fhir.stored import export_from_record, import_into_record

BOB = services.Actor(username="bob", role="clinician")


def _bundle(record, pseudonym="P-full"):
    with record.unit_of_work() as uow:
        return build_bundle(export_from_record(uow, ALICE, pseudonym, language="en"))


def _of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _code(res):
    return res["code"]["coding"][0]["code"]


def _timeline(record, pseudonym="P-full"):
    with record.unit_of_work() as uow:
        return services.show_record(uow, ALICE, pseudonym)


def _document(bundle, kind_role, name):
    for ref in _of(bundle, "DocumentReference"):
        att = ref["content"][0]["attachment"]
        if ref["type"]["coding"][0]["code"] == kind_role and att["title"] == name:
            return base64.b64decode(att["data"])
    raise AssertionError(f"no {kind_role} {name}")


def test_the_bundle_holds_what_the_record_holds(record, full_patient, mri_study):
    import pydicom

    bundle = _bundle(record)
    timeline = _timeline(record)
    # forms over time (the follow-up ODI too) and the history
    qrs = _of(bundle, "QuestionnaireResponse")
    assert len(qrs) == len(timeline.assessments) + 1
    history = next(q for q in qrs if q["questionnaire"].endswith("/history"))
    assert history["authored"] == timeline.history.recorded_on.isoformat()
    stored = json.loads((DEMO / "functional_high_risk" / "history.json").read_text())
    items = {i["linkId"]: i for i in history["item"]}
    assert set(items) == set(stored)
    assert json.loads(items["symptomatic_levels"]["answer"][0]["valueString"]) == ["L4", "L5"]
    assert items["age"]["answer"] == [{"valueInteger": stored["age"]}]
    odi = sorted(
        (o["effectiveDateTime"], o["valueQuantity"]["value"])
        for o in _of(bundle, "Observation")
        if _code(o) == "97909-6"
    )
    expected = sorted(
        (str(a.date), a.score["percent"]) for a in timeline.assessments if a.instrument == "odi"
    )
    assert odi == expected and len(odi) == 2
    # sex and birth year as Observations; the Patient holds the pseudonym only
    (patient,) = _of(bundle, "Patient")
    assert set(patient) == {"resourceType", "id", "identifier", "active"}
    facts = {_code(o): o for o in _of(bundle, "Observation") if _code(o).startswith("patient-")}
    assert facts["patient-sex"]["valueString"] == "female"
    assert facts["patient-birth-year"]["valueInteger"] == 1979
    # MRI: every muscle-quality value of the stored table, method and level as components
    with (mri_study["out"] / "muscle_quality.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["fat_fraction_pct"]]  # blank: not measured
    fat = {
        (
            o["bodySite"]["text"],
            o["component"][0]["valueCodeableConcept"]["coding"][0]["code"],
            o["component"][1]["valueCodeableConcept"]["text"],
        ): o
        for o in _of(bundle, "Observation")
        if _code(o) == "muscle-fat-fraction"
    }
    sides = {"right": "24028007", "left": "7771000"}
    assert len(fat) == len(rows)
    for row in rows:
        obs = fat[(row["muscle"], sides[row["side"]], row["level"])]
        assert obs["valueQuantity"]["value"] == pytest.approx(float(row["fat_fraction_pct"]))
        assert obs["component"][2]["valueString"] == row["fat_method"]
    assert (
        _document(bundle, "imaging:table", "muscle_quality.csv")
        == (mri_study["out"] / "muscle_quality.csv").read_bytes()
    )
    qa = {
        json.dumps(r["content"][0]["attachment"]["title"])
        for r in _of(bundle, "DocumentReference")
        if r["type"]["coding"][0]["code"] == "imaging:qa_picture"
    }
    assert {'"qa_L3.png"', '"qa_L4.png"', '"qa_L5.png"'} <= qa
    # the DICOM study and series the analysis ran on
    first = sorted(mri_study["series"].iterdir())[0]
    ds = pydicom.dcmread(first, stop_before_pixels=True)
    mri = next(s for s in _of(bundle, "ImagingStudy") if s.get("modality"))
    assert mri["series"][0]["uid"] == ds.SeriesInstanceUID
    assert mri["identifier"][0]["value"] == f"urn:oid:{ds.StudyInstanceUID}"
    # instability: lumbar and cervical segments, with their verdicts
    segments = {
        o["bodySite"]["text"]
        for o in _of(bundle, "Observation")
        if _code(o) == "segment-translation-mm"
    }
    assert {"L4-L5", "C4-C5"} <= segments
    verdicts = {
        o["bodySite"]["text"]: o["valueCodeableConcept"]["coding"][0]["display"]
        for o in _of(bundle, "Observation")
        if _code(o) == "segment-stability-verdict"
    }
    assert verdicts["L4-L5"] == "unstable" and verdicts["C4-C5"] == "unstable"
    # wearable days: steps equal daily.csv
    with (DEMO / "functional_high_risk" / "daily.csv").open(newline="") as fh:
        daily = {r["date"]: float(r["steps"]) for r in csv.DictReader(fh)}
    steps = {
        o["effectivePeriod"]["start"]: o["valueQuantity"]["value"]
        for o in _of(bundle, "Observation")
        if _code(o) == "41950-7"
    }
    assert steps == daily
    # the plan in force, who approved it, and the triage it was made from
    (plan,) = _of(bundle, "CarePlan")
    version = timeline.plans[-1]
    assert plan["status"] == "active" and plan["author"]["display"] == "alice"
    assert version.approved_at.isoformat() in plan["note"][0]["text"]
    (impression,) = _of(bundle, "ClinicalImpression")
    assert impression["summary"].startswith(f"Track {version.track}")
    assert all(f["basis"] for f in impression["finding"])  # every reason with its source
    stored_plan = json.loads(_document(bundle, "plan:plan", "plan.json"))
    assert stored_plan["version"] == version.version
    # Provenance: software, methods, and the mask file with its hash
    whole, *per_study = _of(bundle, "Provenance")
    assert "t1w_n4_otsu2" in whole["activity"]["text"]
    assert len(per_study) == 3  # one per analysis: the MRI and two instability studies
    mri = per_study[0]
    (report,) = (r for r in _of(bundle, "DiagnosticReport") if "muscle" in _code(r))
    assert [t["reference"] for t in mri["target"]] == [
        f"urn:uuid:{report['id']}",
        *(r["reference"] for r in report["result"]),
    ]
    assert "sub-0001_axial_lumbar_mri_dseg.nii.gz (SHA-256 " in mri["entity"][0]["what"]["display"]
    # a mask given as a file names no author (the record does not know who drew it)
    assert {a["type"]["coding"][0]["code"] for a in mri["agent"]} == {"performer"}


def test_record_bundle_is_valid_r4b_and_matches_the_json_schema(
    record, full_patient, schema_validator
):
    schema, validator = schema_validator
    bundle = _bundle(record)
    # R4B models, HL7's schema, every code against CLINICAL_LOGIC §6.2 and FHIR's bindings
    fhir_codes.check_bundle(bundle, validator)
    for kind in {e["resource"]["resourceType"] for e in bundle["entry"]}:
        props = {p for p in schema["definitions"][kind]["properties"] if not p.startswith("_")}
        model = get_fhir_model_class(kind)
        fields = {f.alias or n for n, f in model.model_fields.items()} - {"fhir_comments"}
        assert props - {"resourceType"} == {f for f in fields if not f.startswith("_")}, kind


def test_export_import_export_gives_the_same_resources(record, other_record, full_patient):
    first = _bundle(record)
    data = read_bundle(json.loads(json.dumps(first)))
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, data)
    assert done.patient_created and done.forms == 6 and done.history
    assert (done.imaging, done.instability, done.wearable) == (1, 2, 1)
    assert done.plan == "version 1 active" and not done.not_stored
    assert _bundle(other_record) == first
    # the rebuilt record holds the same rows (not only the same Bundle)
    a, b = _timeline(record), _timeline(other_record)
    assert [x.rows for x in a.imaging] == [x.rows for x in b.imaging]
    assert [x.levels for x in a.instability] == [x.levels for x in b.instability]
    assert [x.days for x in a.wearable] == [x.days for x in b.wearable]
    assert a.history.data == b.history.data
    assert [(x.instrument, x.date, x.score) for x in a.assessments] == [
        (x.instrument, x.date, x.score) for x in b.assessments
    ]
    pa, pb = a.plans[-1], b.plans[-1]
    assert (pa.version, pa.status, pa.track, pa.approved_by, pa.approved_at) == (
        pb.version,
        pb.status,
        pb.track,
        pb.approved_by,
        pb.approved_at,
    )
    # imported by bob, approval as received
    assert b.imaging[0].created_by == "bob" and "approval received" in pb.status_reason
    with other_record.unit_of_work() as uow, pytest.raises(AlreadyStoredError):
        import_into_record(uow, BOB, data)


def test_a_study_without_its_file_is_named_and_the_next_is_stored(
    record, other_record, full_patient
):
    """The first of two instability studies lost its instability.json: it is named in
    not_stored and the second is still stored (both once wrote into one scratch folder)."""
    import dataclasses

    data = read_bundle(json.loads(json.dumps(_bundle(record))))
    first, _ = data.instability
    kept = tuple(
        d
        for d in data.documents
        if not (d.kind == "instability" and d.study == first.study_id and d.role == "result")
    )
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, dataclasses.replace(data, documents=kept))
    assert done.instability == 1
    assert done.not_stored == (f"{first.study_id} (no instability.json attached)",)
    (stored,) = _timeline(other_record).instability
    assert [x.levels for x in _timeline(record).instability][1] == stored.levels


def test_an_edited_value_is_refused_and_nothing_is_stored(record, other_record, full_patient):
    bundle = _bundle(record)
    edited = copy.deepcopy(bundle)
    obs = next(o for o in _of(edited, "Observation") if _code(o) == "muscle-fat-fraction")
    obs["valueQuantity"]["value"] += 1.0
    data = read_bundle(edited)
    refused = pytest.raises(InputError, match=r"disagree with its attached muscle_quality\.csv")
    with refused, other_record.unit_of_work() as uow:
        import_into_record(uow, BOB, data)
    with other_record.unit_of_work() as uow, pytest.raises(InputError, match="unknown patient"):
        services.get_patient(uow, BOB, "P-full")
    tampered = copy.deepcopy(bundle)
    ref = _of(tampered, "DocumentReference")[0]
    ref["content"][0]["attachment"]["data"] = base64.b64encode(b"other bytes").decode()
    with pytest.raises(InputError, match="size or SHA-1"):
        read_bundle(tampered)


def test_open_red_flags_come_from_the_record_with_history_derived_items(record, tmp_path):
    """Age 71 in the history, long-term corticosteroids on the form ("age over 70" left
    unticked): the record's open flag is urgent and names the item taken from the history."""
    from spinestab.clinical import load_red_flag_rules

    answers = dict.fromkeys(load_red_flag_rules().items, False)
    answers["long_term_corticosteroids"] = True
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, "P-old")
        services.save_history(uow, ALICE, "P-old", {"age": 71, "pain_duration_weeks": 20})
        services.save_form(
            uow,
            ALICE,
            "P-old",
            {"instrument": "redflags", "date": "2024-05-02", "answers": answers},
        )
        open_flags = services.show_record(uow, ALICE, "P-old").open_red_flags
    bundle = _bundle(record, "P-old")
    flags = _of(bundle, "Flag")
    assert [f["code"]["coding"][0]["code"] for f in flags] == [
        f"red-flag-{f.condition}" for f in open_flags
    ]
    fracture = next(f for f in open_flags if "age_over_70" in f.derived_items)
    flag = next(
        f for f in flags if f["code"]["coding"][0]["code"] == f"red-flag-{fracture.condition}"
    )
    assert flag["code"]["text"] == fracture.action
    escalation = next(
        s
        for s in _of(bundle, "ServiceRequest")
        if s["reasonReference"][0]["reference"] == f"urn:uuid:{flag['id']}"
    )
    assert (
        escalation["priority"]
        == {"urgent": "urgent", "same_day": "asap", "emergency": "stat"}[fracture.urgency]
    )
    assert "from the history: age_over_70" in escalation["note"][1]["text"]
    assert not _of(bundle, "CarePlan")  # no plan was made


def test_import_refuses_a_taken_plan_version_and_keeps_nothing(record, other_record, full_patient):
    data = read_bundle(_bundle(record))
    with other_record.unit_of_work() as uow:
        services.create_patient(uow, BOB, "P-full")
        services.save_form_file(uow, BOB, "P-full", DEMO / "low_risk_self_management" / "nrs.json")
    with other_record.unit_of_work() as uow:
        made = services.make_plan(uow, BOB, "P-full")
    assert made.plan.version == 1
    refused = pytest.raises(InputError, match="plan version 1 exists already")
    with refused, other_record.unit_of_work() as uow:
        import_into_record(uow, BOB, data)
    assert len(_timeline(other_record).assessments) == 1  # nothing of the Bundle kept


def _edit_translation(bundle):
    obs = next(o for o in _of(bundle, "Observation") if _code(o) == "segment-translation-mm")
    obs["valueQuantity"]["value"] += 2.0


def _edit_verdict(bundle):
    obs = next(
        o
        for o in _of(bundle, "Observation")
        if _code(o) == "segment-stability-verdict"
        and o["valueCodeableConcept"]["coding"][0]["display"] == "unstable"
    )
    obs["valueCodeableConcept"]["coding"][0]["display"] = "stable"


def _edit_steps(bundle):
    obs = next(o for o in _of(bundle, "Observation") if _code(o) == "41950-7")
    obs["valueQuantity"]["value"] += 1000


def test_edited_instability_and_wearable_values_are_refused_and_nothing_is_stored(
    record, other_record, full_patient
):
    """The record stores the attached files: an Observation edited in the Bundle would be
    dropped silently, so the import refuses it (each edit alone) and keeps nothing."""
    bundle = _bundle(record)
    edits = (
        (_edit_translation, r"instability study disagree with its attached instability\.json"),
        (_edit_verdict, r"instability study disagree with its attached instability\.json"),
        (_edit_steps, r"wearable recording disagree with its attached daily\.csv"),
    )
    for edit, message in edits:
        edited = copy.deepcopy(bundle)
        edit(edited)
        data = read_bundle(edited)
        with pytest.raises(InputError, match=message), other_record.unit_of_work() as uow:
            import_into_record(uow, BOB, data)
        with other_record.unit_of_work() as uow, pytest.raises(InputError, match="unknown"):
            services.get_patient(uow, BOB, "P-full")
    # the unedited Bundle passes the same checks
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, read_bundle(bundle))
    assert (done.instability, done.wearable) == (2, 1)


def test_a_retracted_form_or_a_contradictory_plan_status_is_refused(record, full_patient):
    """A Bundle carries completed forms only (a retraction is never scored), and a CarePlan
    whose FHIR status says otherwise than its plan status is not taken for either."""
    bundle = _bundle(record)
    for status in ("entered-in-error", "in-progress", "stopped"):
        edited = copy.deepcopy(bundle)
        qr = next(
            q for q in _of(edited, "QuestionnaireResponse") if q["questionnaire"].endswith("/odi")
        )
        qr["status"] = status
        with pytest.raises(InputError, match="not a completed form") as refused:
            read_bundle(edited)
        assert refused.value.value == status
    edited = copy.deepcopy(bundle)
    (care_plan,) = _of(edited, "CarePlan")
    assert care_plan["status"] == "active"
    care_plan["status"] = "revoked"
    with pytest.raises(InputError, match="CarePlan's status disagrees with its plan status"):
        read_bundle(edited)
