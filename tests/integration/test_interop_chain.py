"""One patient with forms, MRI (a real image as a DICOM series), radiographs, wearable data and
a plan: the letter, the handout, the FHIR Bundle and the DICOM SEG/SR, one command each."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients"
MM = ROOT / "tests" / "data" / "imaging" / "musclemap"
LEVELS = "level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n"


def _pango() -> bool:
    try:
        import weasyprint  # noqa: F401
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _pango(), reason="WeasyPrint needs Pango")
def test_every_output_for_one_patient(tmp_path):
    from pypdf import PdfReader

    from spinestab.dicom_out import read_measurement_report
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io import read_nifti
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import LevelInputs, analyse_mri

    patient = tmp_path / "p-full"
    shutil.copytree(DEMO / "functional_high_risk", patient)  # forms, daily.csv, sessions
    (patient / "muscle_quality.csv").unlink()  # measured below on a real image instead
    for name in ("instability.json", "instability.png"):
        shutil.copy(DEMO / "structural_spondylolisthesis" / name, patient / name)
    series = tmp_path / "dicom"
    write_synthetic_series(
        read_nifti(MM / "sub-0001_axial_lumbar_mri.nii.gz"), series, patient_id="p-full"
    )
    table = tmp_path / "levels.csv"
    table.write_text(LEVELS, encoding="utf-8")
    mask = MM / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
    result = analyse_mri(
        series, mask, options=MriOptions(labels="musclemap"), levels=LevelInputs(levels_table=table)
    )
    mri_out = tmp_path / "mri"
    write_mri_outputs(result, mri_out)
    shutil.copy(mri_out / "muscle_quality.csv", patient / "muscle_quality.csv")
    runner = CliRunner()

    def run(*args):
        res = runner.invoke(app, [str(a) for a in args])
        assert res.exit_code == 0, res.output
        return res

    run(
        "report",
        patient,
        "--out",
        tmp_path / "letter.pdf",
        "--imaging",
        mri_out,
        "--date",
        "2024-03-10",
    )
    run("report", patient, "--out", tmp_path / "handout.pdf", "--handout", "--lang", "de")
    run("fhir", "export", patient, "--out", tmp_path / "bundle.json")
    run(
        "dicom",
        "export",
        "--series",
        series,
        "--mask",
        mask,
        "--muscle-quality",
        mri_out / "muscle_quality.csv",
        "--out",
        tmp_path / "pacs",
        "--segmenter",
        "MuscleMap",
    )
    letter = PdfReader(io.BytesIO((tmp_path / "letter.pdf").read_bytes()))
    text = " ".join(page.extract_text() for page in letter.pages)
    for level in ("L3", "L4", "L5"):
        assert f"Level {level} (patient right on the left)" in text  # one QA overlay per level
    assert "L4-L5" in text and "unstable" in text  # instability measures
    assert "Version 1 (active), track" in text  # plan in force
    assert "steps/day" in text  # movement summary
    handout = PdfReader(io.BytesIO((tmp_path / "handout.pdf").read_bytes()))
    assert "Ihr Übungsplan" in handout.pages[0].extract_text()
    bundle = json.loads((tmp_path / "bundle.json").read_text(encoding="utf-8"))
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"ImagingStudy", "DiagnosticReport", "CarePlan", "Goal", "Provenance"} <= kinds
    imaging = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ImagingStudy"
    ]
    assert len(imaging) == 2  # the muscle analysis and the instability study
    groups = read_measurement_report(tmp_path / "pacs" / "muscle_sr.dcm")
    assert len(groups) == len(result.rows) == 32
