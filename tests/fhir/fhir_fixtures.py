"""Fixtures (imported by the test modules): the FHIR JSON schema validator, a record on SQLite
and PostgreSQL, and a patient with forms, history, MRI (a real image as a DICOM series),
radiographs (lumbar and cervical), wearable days and an approved plan, made through the
record services."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from spinestab.record import Actor, open_record
from spinestab.settings import Settings

__all__ = ["full_patient", "mri_study", "other_record", "record", "schema_validator"]

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients"
SCHEMA = ROOT / "tests" / "data" / "fhir" / "fhir-r4b-4.3.0.schema.json.gz"
MUSCLEMAP = ROOT / "tests" / "data" / "imaging" / "musclemap"
ALICE = Actor(username="alice", role="clinician")
#: level ranges of the MuscleMap image (its slices, bottom up)
LEVELS = "level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n"
CERVICAL = ("C3", "C4", "C5", "C6", "C7")


@pytest.fixture(scope="session")
def schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    with gzip.open(SCHEMA, "rt", encoding="utf-8") as fh:
        schema = json.load(fh)
    return schema, jsonschema.Draft6Validator(schema)


@pytest.fixture
def record(database_url, tmp_path):
    opened = open_record(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield opened
    opened.close()


@pytest.fixture
def other_record(request, tmp_path):
    """A second, empty record on the same backend as ``record`` (the import target)."""
    from conftest import _postgres_url

    backend = request.node.callspec.params["database_url"]
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}" if backend == "sqlite" else _postgres_url()
    opened = open_record(Settings(data_dir=tmp_path / "other-data", database_url=url))
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def mri_study(tmp_path_factory):
    """The MuscleMap image written as a DICOM series, analysed with QA overlays per level."""
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io import read_nifti
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import LevelInputs, analyse_mri

    root = tmp_path_factory.mktemp("mri")
    write_synthetic_series(
        read_nifti(MUSCLEMAP / "sub-0001_axial_lumbar_mri.nii.gz"), root / "series", patient_id="x"
    )
    (root / "levels.csv").write_text(LEVELS, encoding="utf-8")
    mask = MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
    options = MriOptions(labels="musclemap")
    result = analyse_mri(
        root / "series", mask, options=options, levels=LevelInputs(levels_table=root / "levels.csv")
    )
    write_mri_outputs(result, root / "out")
    return {"series": root / "series", "mask": mask, "out": root / "out", "options": options}


def cervical_study(folder: Path) -> Path:
    """A cervical flexion-extension study (phantom films; C4-C5 translates 5 mm)."""
    from spinestab.instability import assess, landmarks_to_dict
    from spinestab.instability.phantom import build_spine

    common = {"levels": CERVICAL, "depth_mm": 16.0, "height_mm": 14.0}
    flex = build_spine(slip_mm=[0.5, 6.0, 0.5, 0.5], angle_deg=[-2.0] * 4, view="flexion", **common)
    ext = build_spine(slip_mm=[0.5, 1.0, 0.5, 0.5], angle_deg=[6.0] * 4, view="extension", **common)
    folder.mkdir(parents=True)
    for ls in (flex, ext):
        (folder / f"{ls.view}.json").write_text(json.dumps(landmarks_to_dict(ls)))
    report = assess(flexion=flex, extension=ext)
    (folder / "instability.json").write_text(json.dumps(report.to_dict()), encoding="utf-8")
    return folder


def follow_up_odi(folder: Path) -> Path:
    """A second ODI six weeks later (a lower score): scores over time."""
    doc = json.loads((DEMO / "functional_high_risk" / "odi.json").read_text(encoding="utf-8"))
    doc["date"] = "2024-04-15"
    doc["answers"] = {
        k: max(0, v - 1) if isinstance(v, int) else v for k, v in doc["answers"].items()
    }
    path = folder / "odi_followup.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def full_patient(record, mri_study, tmp_path):
    """P-full: forms (ODI twice), history, MRI, lumbar and cervical films, wearable days, an
    approved plan; every part saved through the record services."""
    from spinestab import record as services

    demo = DEMO / "functional_high_risk"
    spondy = DEMO / "structural_spondylolisthesis"
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, "P-full", sex="female", birth_year=1979)
        services.save_history_file(uow, ALICE, "P-full", demo / "history.json")
        for name in ("startback", "odi", "nrs", "psfs", "redflags"):
            services.save_form_file(uow, ALICE, "P-full", demo / f"{name}.json")
        services.save_form_file(uow, ALICE, "P-full", follow_up_odi(tmp_path))
        services.save_imaging_folder(
            uow,
            ALICE,
            "P-full",
            mri_study["out"],
            inputs={"image": mri_study["series"], "mask": mri_study["mask"]},
            options={"labels": "musclemap"},
        )
        marks = spondy / "landmarks"
        services.save_instability(
            uow,
            ALICE,
            "P-full",
            spondy / "instability.json",
            landmarks={v: marks / f"{v}.json" for v in ("neutral", "flexion", "extension")},
            pictures=[spondy / "instability.png"],
        )
        neck = cervical_study(tmp_path / "neck")
        services.save_instability(
            uow,
            ALICE,
            "P-full",
            neck / "instability.json",
            landmarks={v: neck / f"{v}.json" for v in ("flexion", "extension")},
        )
        services.save_wearable(uow, ALICE, "P-full", demo / "daily.csv")
    with record.unit_of_work() as uow:
        made = services.make_plan(uow, ALICE, "P-full")
    with record.unit_of_work() as uow:
        services.approve_plan(uow, ALICE, "P-full", version=made.plan.version)
    return "P-full"
