"""spinestab report / fhir / dicom from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _pango() -> bool:
    try:
        import weasyprint  # noqa: F401
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _pango(), reason="WeasyPrint needs Pango")
@pytest.mark.parametrize("handout", [False, True])
def test_report_pdf_and_html(tmp_path, handout):
    extra = ["--handout"] if handout else []
    pdf, html = tmp_path / "r.pdf", tmp_path / "r.html"
    res = run("report", DEMO / "structural_spondylolisthesis", "--out", pdf, "--lang", "de", *extra)
    assert res.exit_code == 0, res.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    res = run("report", DEMO / "structural_spondylolisthesis", "--out", html, *extra)
    assert res.exit_code == 0, res.output
    assert "<html" in html.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.pdf"]  # no temp left


def test_report_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 's.db'}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = run("report", DEMO / "functional_high_risk", "--out", out_dir / "r.docx")
    assert res.exit_code == 2 and "unknown report format" in res.output
    res = run("report", "nobody", "--out", out_dir / "r.html")
    assert res.exit_code == 2 and "unknown patient" in res.output
    res = run("report", DEMO / "functional_high_risk", "--out", out_dir / "r.html", "--date", "3/4")
    assert res.exit_code == 2 and "not a date" in res.output
    assert list(out_dir.iterdir()) == []


def test_report_and_fhir_of_a_stored_patient(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 's.db'}")
    folder = DEMO / "functional_high_risk"
    assert run("patient", "add", "p-17").exit_code == 0
    forms = [folder / n for n in ("startback.json", "odi.json", "nrs.json", "redflags.json")]
    res = run("score", *forms, "--save", "p-17")
    assert res.exit_code == 0, res.output
    res = run("fhir", "export", "p-17", "--out", tmp_path / "b.json")
    assert res.exit_code == 0, res.output
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] == "p-17"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("QuestionnaireResponse") == 4
    res = run("report", "p-17", "--out", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<strong>p-17</strong>" in html


def test_fhir_export_then_import(tmp_path):
    out = tmp_path / "bundle.json"
    res = run("fhir", "export", DEMO / "functional_high_risk", "--out", out)
    assert res.exit_code == 0, res.output
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    res = run("fhir", "import", out, "--check")
    assert res.exit_code == 0, res.output
    assert "functional_high_risk: 5 forms" in res.output
    out.write_text('{"resourceType": "Bundle", "type": "collection", "entry": []}')
    res = run("fhir", "import", out, "--check")
    assert res.exit_code == 2 and "one Patient" in res.output


def test_dicom_export(mr_study_cli, tmp_path):
    series, table, mask = mr_study_cli
    out = tmp_path / "pacs"
    res = run(
        "dicom",
        "export",
        "--series",
        series,
        "--mask",
        mask,
        "--muscle-quality",
        table,
        "--out",
        out,
        "--segmenter",
        "MuscleMap",
        "--author",
        "Doe^Jane",
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["muscle_seg.dcm", "muscle_sr.dcm"]
    res = run(
        "dicom",
        "export",
        "--series",
        series,
        "--mask",
        mask,
        "--muscle-quality",
        table,
        "--out",
        tmp_path / "other",
    )
    assert res.exit_code == 2 and "algorithm" in res.output
    assert not (tmp_path / "other").exists()


def test_dicom_export_json_names_what_it_wrote(mr_study_cli, tmp_path):
    import pydicom

    series, table, mask = mr_study_cli
    out = tmp_path / "pacs"
    res = run(
        "dicom", "export", "--series", series, "--mask", mask, "--muscle-quality", table,
        "--out", out, "--manual", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["files"] == [str(out / "muscle_seg.dcm"), str(out / "muscle_sr.dcm")]
    seg = pydicom.dcmread(out / "muscle_seg.dcm")
    assert data["segments"] == len(seg.SegmentSequence)
    assert data["series_uid"] == seg.ReferencedSeriesSequence[0].SeriesInstanceUID


@pytest.fixture(scope="module")
def mr_study_cli(tmp_path_factory):
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io import read_nifti
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import analyse_mri

    data = ROOT / "tests" / "data" / "imaging" / "musclemap"
    root = tmp_path_factory.mktemp("cli_mr")
    write_synthetic_series(
        read_nifti(data / "sub-0001_axial_lumbar_mri.nii.gz"), root / "series", patient_id="p1"
    )
    mask = data / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
    result = analyse_mri(root / "series", mask, options=MriOptions(labels="musclemap", qa=False))
    write_mri_outputs(result, root / "mri")
    return root / "series", root / "mri" / "muscle_quality.csv", mask


def _use_store(monkeypatch, folder):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(folder))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{folder / 's.db'}")


def test_record_export_import_export_gives_the_same_bundle(tmp_path, monkeypatch):
    folder = DEMO / "structural_spondylolisthesis"
    _use_store(monkeypatch, tmp_path / "a")
    assert run("patient", "add", "p-9").exit_code == 0
    forms = sorted(
        p for p in folder.glob("*.json") if p.name not in ("history.json", "instability.json")
    )
    assert run("score", *forms, "--save", "p-9").exit_code == 0
    assert run("fhir", "export", "p-9", "--out", tmp_path / "b1.json").exit_code == 0
    _use_store(monkeypatch, tmp_path / "b")  # an empty record elsewhere
    res = run("fhir", "import", tmp_path / "b1.json")
    assert res.exit_code == 0, res.output
    assert f"p-9: new patient, {len(forms)} forms stored" in res.output
    assert run("fhir", "export", "p-9", "--out", tmp_path / "b2.json").exit_code == 0
    first = json.loads((tmp_path / "b1.json").read_text(encoding="utf-8"))
    second = json.loads((tmp_path / "b2.json").read_text(encoding="utf-8"))
    assert second == first
    res = run("fhir", "import", tmp_path / "b1.json")  # again: every form is already stored
    assert res.exit_code == 2 and "already stored" in res.output


def test_out_files_of_the_wrong_kind_are_refused_and_nothing_is_written(tmp_path, mr_study_cli):
    """fhir export writes .json only; report/handout .pdf or .html; dicom export a folder."""
    folder = DEMO / "functional_high_risk"
    out = tmp_path / "out"
    out.mkdir()
    for name in ("x.txt", "x.xml", "x.json.txt", "x"):
        res = run("fhir", "export", folder, "--out", out / name)
        assert res.exit_code == 2, (name, res.output)
        assert "a FHIR Bundle is JSON" in res.output and "FILE.json" in res.output
    for extra in ([], ["--handout"]):
        for name in ("x.txt", "x.docx", "x.json"):
            res = run("report", folder, "--out", out / name, *extra)
            assert res.exit_code == 2 and "unknown report format" in res.output, res.output
    series, table, mask = mr_study_cli
    for name in ("seg.dcm", "x.json"):
        res = run(
            "dicom", "export", "--series", series, "--mask", mask, "--muscle-quality", table,
            "--out", out / name, "--manual",
        )  # fmt: skip
        assert res.exit_code == 2 and "not a file" in res.output, res.output
    assert list(out.iterdir()) == []
    res = run("fhir", "export", folder, "--out", out / "B.JSON")  # the suffix in any case
    assert res.exit_code == 0, res.output
    assert json.loads((out / "B.JSON").read_text(encoding="utf-8"))["type"] == "collection"
