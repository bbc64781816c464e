"""Vertebral morphometry in the FHIR Bundle (CLINICAL_LOGIC §6.1 Imaging row): an
ImagingStudy, a DiagnosticReport and one Observation per vertebra, valid R4B, and exact round
trips (export -> import -> export) on SQLite and PostgreSQL.

The film: analytic vertebrae of known heights (Ha, Hm, Hp in mm), L1 a 30 % wedge (Genant
grade 2: 25-40 %), L2 a 22 % biconcave loss (grade 1: 20-25 %), T12 and L3 normal; rotated and
in anisotropic pixels, measured by ``spinestab morphometry``.
"""

from __future__ import annotations

import base64
import copy
import json

import pytest

pytest.importorskip("fhir.resources")

import fhir_codes
from fhir_fixtures import *  # noqa: F403 (the fixtures)
from fhir_fixtures import ALICE, DEMO

from spinestab import record as services
from spinestab.dicom_out.codes import VERTEBRA_CODES
from spinestab.errors import InputError
from spinestab.fhir import build_bundle, read_bundle
from spinestab.fhir.stored import export_from_record, import_into_record

BOB = services.Actor(username="bob", role="clinician")
WEDGE_FILM = {
    "T12": (25.0, 25.0, 25.0),
    "L1": (17.5, 21.25, 25.0),
    "L2": (25.0, 19.5, 25.0),
    "L3": (25.0, 25.0, 25.0),
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """``spinestab morphometry`` of the analytic film (its output folder)."""
    from typer.testing import CliRunner

    from spinestab.cli import app
    from spinestab.instability import landmarks_to_dict
    from spinestab.instability.phantom import analytic_vertebrae, to_pixels, transform

    root = tmp_path_factory.mktemp("morpho")
    ls = transform(analytic_vertebrae(WEDGE_FILM), rotation_deg=170.0, shift=(80.0, 90.0))
    data = landmarks_to_dict(to_pixels(ls, pixel_spacing_mm=(0.12, 0.15)))
    del data["view"]
    (root / "film.json").write_text(json.dumps(data), encoding="utf-8")
    res = CliRunner().invoke(
        app, ["morphometry", "--landmarks", str(root / "film.json"), "--out", str(root / "out")]
    )
    assert res.exit_code == 0, res.output
    return root / "out"


@pytest.fixture
def shaped(record, measured):
    demo = DEMO / "functional_high_risk"
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, "P-shape")
        for name in ("startback", "odi"):
            services.save_form_file(uow, ALICE, "P-shape", demo / f"{name}.json")
        services.save_morphometry_folder(uow, ALICE, "P-shape", measured)
    return "P-shape"


def _bundle(record):
    with record.unit_of_work() as uow:
        return build_bundle(export_from_record(uow, ALICE, "P-shape", language="en"))


def _of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _vertebrae(bundle):
    return {
        o["bodySite"]["text"]: o
        for o in _of(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == "vertebral-morphometry"
    }


def _component(obs, code):
    (comp,) = [x for x in obs["component"] if x["code"]["coding"][0]["code"] == code]
    return comp


def test_each_vertebra_is_an_observation_of_the_study(record, shaped):
    bundle = _bundle(record)
    vertebrae = _vertebrae(bundle)
    assert sorted(vertebrae) == sorted(WEDGE_FILM)
    (report,) = [
        r
        for r in _of(bundle, "DiagnosticReport")
        if r["code"]["coding"][0]["code"] == "vertebral-morphometry-analysis"
    ]
    assert sorted(r["reference"] for r in report["result"]) == sorted(
        f"urn:uuid:{o['id']}" for o in vertebrae.values()
    )
    study = report["imagingStudy"][0]["reference"]
    for level, (ha, hm, hp) in WEDGE_FILM.items():
        obs = vertebrae[level]
        assert obs["derivedFrom"] == [{"reference": study}]
        spec = VERTEBRA_CODES[level]  # SNOMED CT vertebra of DICOM PS3.16
        assert obs["bodySite"]["coding"][0]["code"] == spec.value
        for code, known in (
            ("vertebra-anterior-height", ha),
            ("vertebra-middle-height", hm),
            ("vertebra-posterior-height", hp),
        ):
            q = _component(obs, code)["valueQuantity"]
            assert q["code"] == "mm" and q["value"] == pytest.approx(known, abs=0.05), level
    # the known deformities (Genant 1993 bands): L1 wedge 30 % grade 2, L2 biconcave 22 % 1
    l1, l2 = vertebrae["L1"], vertebrae["L2"]
    assert (
        l1["valueInteger"] == 2
        and _component(l1, "vertebral-deformity-type")["valueString"] == "wedge"
    )
    assert _component(l1, "vertebra-wedge-loss")["valueQuantity"]["value"] == pytest.approx(
        30.0, abs=0.2
    )
    assert l2["valueInteger"] == 1
    assert _component(l2, "vertebra-biconcave-loss")["valueQuantity"]["value"] == pytest.approx(
        22.0, abs=0.2
    )
    assert vertebrae["L3"]["valueInteger"] == 0


def test_morphometry_bundle_is_valid_r4b_and_matches_the_schema(record, shaped, schema_validator):
    _, validator = schema_validator
    bundle = _bundle(record)
    fhir_codes.check_bundle(bundle, validator)


def test_export_import_export_keeps_the_morphometry(record, other_record, shaped):
    first = _bundle(record)
    text = json.dumps(first, indent=2, ensure_ascii=False)
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, read_bundle(json.loads(text)))
    assert done.morphometry == 1 and not done.not_stored
    assert json.dumps(_bundle(other_record), indent=2, ensure_ascii=False) == text
    with record.unit_of_work() as uow:
        (a,) = services.show_record(uow, ALICE, "P-shape").morphometry
    with other_record.unit_of_work() as uow:
        (b,) = services.show_record(uow, ALICE, "P-shape").morphometry
    assert a.vertebrae == b.vertebrae  # the rebuilt record holds the same rows
    assert b.performed_on == a.created_at.date()  # the date the study was stored first


def test_an_edited_vertebra_is_refused_and_nothing_stored(record, other_record, shaped):
    bundle = copy.deepcopy(_bundle(record))
    obs = _vertebrae(bundle)["L1"]
    obs["valueInteger"] = 0  # the attached morphometry.json says grade 2
    refused = pytest.raises(InputError, match="morphometry study disagree")
    with refused, other_record.unit_of_work() as uow:
        import_into_record(uow, BOB, read_bundle(bundle))
    with other_record.unit_of_work() as uow:
        assert not services.list_patients(uow, ALICE)
    # the file travels as it was stored
    (doc,) = [
        r
        for r in _of(bundle, "DocumentReference")
        if r["type"]["coding"][0]["code"] == "morphometry:result"
    ]
    attached = json.loads(base64.b64decode(doc["content"][0]["attachment"]["data"]))
    assert {v["level"]: v["genant_grade"] for v in attached["vertebrae"]}["L1"] == 2
