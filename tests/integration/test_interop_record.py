"""Done-when of issue 14 on the record: one patient with forms, MRI (a real image as a DICOM
series), radiographs, wearable data and an approved plan, made with the CLI; then one command
each gives the letter, the handout, the FHIR Bundle and the DICOM SEG/SR, and the round trips
are exact."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients"
MM = ROOT / "tests" / "data" / "imaging" / "musclemap"
LEVELS = "level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n"
A4 = (595.28, 841.89)
runner = CliRunner()


def _pango() -> bool:
    try:
        import weasyprint  # noqa: F401
    except OSError:
        return False
    return True


def ok(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def use_record(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(folder))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{folder / 'record.sqlite3'}")
    monkeypatch.setenv("SPINESTAB_USER", "dr_alice")


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io import read_nifti

    root = tmp_path_factory.mktemp("series")
    write_synthetic_series(
        read_nifti(MM / "sub-0001_axial_lumbar_mri.nii.gz"), root / "dicom", patient_id="P-7"
    )
    (root / "levels.csv").write_text(LEVELS, encoding="utf-8")
    return root


def make_patient(series: Path) -> int:
    """P-7 through the CLI: forms, history, wearable days, MRI, films, an approved plan."""
    demo = DEMO / "functional_high_risk"
    ok("patient", "add", "P-7", "--sex", "female", "--birth-year", "1979")
    names = ("history.json", "startback.json", "odi.json", "nrs.json", "psfs.json")
    ok("record", "import", "P-7", *(demo / n for n in names), demo / "redflags.json")
    ok("record", "import", "P-7", demo / "daily.csv")
    mask = MM / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
    ok(
        "mri", "--image", series / "dicom", "--mask", mask, "--labels", "musclemap",
        "--levels-table", series / "levels.csv", "--patient", "P-7",
    )  # fmt: skip
    marks = DEMO / "structural_spondylolisthesis" / "landmarks"
    ok(
        "instability", "--neutral", marks / "neutral.json", "--flexion", marks / "flexion.json",
        "--extension", marks / "extension.json", "--patient", "P-7",
    )  # fmt: skip
    ok("plan", "--patient", "P-7")
    ok("plan", "approve", "P-7", "--version", "1")
    timeline = json.loads(ok("record", "show", "P-7", "--json").stdout)
    return timeline["imaging"][0]["id"]


def pdf_text(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages]


def check_pages(path: Path, *, words: tuple[str, str], footer: str) -> list[str]:
    """A4, the pseudonym and date and "page n of N" on every page, every font embedded."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(path.read_bytes()))
    pages = pdf_text(path)
    for i, (page, text) in enumerate(zip(reader.pages, pages, strict=True), start=1):
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(A4, abs=0.5)
        assert f"{words[0]} {i} {words[1]} {len(pages)}" in text
        assert footer in text
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(re.search(r"\byes\s+(yes|no)\s+(yes|no)\s+\d+", f) for f in fonts), fonts
    return pages


@pytest.mark.skipif(not _pango(), reason="WeasyPrint needs Pango")
@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils missing")
def test_letter_handout_bundle_and_dicom_of_a_stored_patient(tmp_path, monkeypatch, series):
    import highdicom as hd
    import numpy as np

    from spinestab.dicom_out import read_measurement_report
    from spinestab.imaging.io import read_volume

    use_record(monkeypatch, tmp_path / "a")
    study_id = make_patient(series)
    timeline = json.loads(ok("record", "show", "P-7", "--json").stdout)

    # the letter (en, de) and the handout (de) from the record
    ok("report", "P-7", "--out", tmp_path / "letter.pdf", "--date", "2024-03-10")
    pages = check_pages(tmp_path / "letter.pdf", words=("Page", "of"), footer="P-7 · 2024-03-10")
    text = " ".join(pages)
    order = ["Open red flags", "Triage track", "Reasons, with sources", "Scores over time"]
    order += ["Muscle quality per level", "Structural instability", "Posture timeline"]
    order += ["Plan in force", "What is missing"]
    at = [text.find(h) for h in order]
    assert all(i >= 0 for i in at) and at == sorted(at), dict(zip(order, at, strict=True))
    for level in ("L3", "L4", "L5"):
        assert f"Level {level} (patient right on the left)" in text  # one QA overlay per level
    assert "L4-L5" in text and "unstable" in text
    assert "Version 1 (active), track" in text and "approved by dr_alice" in text
    assert "steps/day" in text and "t1w_n4_otsu2" in text
    ok("report", "P-7", "--out", tmp_path / "brief.pdf", "--lang", "de", "--date", "2024-03-10")
    check_pages(tmp_path / "brief.pdf", words=("Seite", "von"), footer="P-7 · 2024-03-10")
    ok("report", "P-7", "--out", tmp_path / "handout.pdf", "--handout", "--lang", "de")
    handout = check_pages(
        tmp_path / "handout.pdf", words=("Seite", "von"), footer="P-7 · 2024-03-04"
    )
    assert "Ihr Übungsplan" in handout[0]

    # the FHIR Bundle; imported into an empty record and exported again: the same resources
    ok("fhir", "export", "P-7", "--out", tmp_path / "b1.json")
    use_record(monkeypatch, tmp_path / "b")
    done = ok("fhir", "import", tmp_path / "b1.json")
    assert "P-7: new patient, 5 forms, the history, 1 imaging studies" in done.stdout
    assert "plan version 1 active stored" in done.stdout
    ok("fhir", "export", "P-7", "--out", tmp_path / "b2.json")
    first = json.loads((tmp_path / "b1.json").read_text(encoding="utf-8"))
    assert json.loads((tmp_path / "b2.json").read_text(encoding="utf-8")) == first
    # the received study has no input series: no DICOM from the copy, said clearly
    other = runner.invoke(
        app, ["dicom", "export", "P-7", "--study", "1", "--out", str(tmp_path / "no")]
    )
    assert other.exit_code == 2 and "no input image" in other.output

    # DICOM SEG and SR of the stored study, read back equal to the stored rows and mask
    use_record(monkeypatch, tmp_path / "a")
    pacs = tmp_path / "pacs"
    refused = runner.invoke(
        app, ["dicom", "export", "P-7", "--study", str(study_id), "--out", str(pacs)]
    )
    assert refused.exit_code == 2 and "how the mask was made" in refused.output
    assert not pacs.exists()
    ok("dicom", "export", "P-7", "--study", study_id, "--out", pacs, "--segmenter", "MuscleMap")
    rows = timeline["imaging"][0]["rows"]  # muscle_quality.csv as the record keeps it
    groups = {g.tracking_id: g for g in read_measurement_report(pacs / "muscle_sr.dcm")}
    assert len(groups) == len(rows) == 32
    columns = ("csa_max_mm2", "csa_mean_mm2", "lean_csa_mean_mm2", "fat_fraction_pct", "volume_ml")
    for row in rows:
        group = groups[f"{row['muscle']} {row['side']} {row['level']}"]
        assert group.values == {c: float(row[c]) for c in columns if row[c] != ""}
    seg = hd.seg.segread(pacs / "muscle_seg.dcm")
    mask = read_volume(MM / "sub-0001_axial_lumbar_mri_dseg.nii.gz", as_labels=True)
    assert int(seg.number_of_segments) == len(np.unique(mask.data[mask.data > 0]))
