"""``--patient`` on mri, instability and wearable: the result saved into the record, with or
without --out, equal to the files the command writes; unknown patients refused before work."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

from .conftest import DEMO_PATIENTS

runner = CliRunner()
TESTS = Path(__file__).resolve().parents[1]
MUSCLEMAP = TESTS / "data" / "imaging" / "musclemap"
LANDMARKS = DEMO_PATIENTS / "structural_spondylolisthesis" / "landmarks"
CWA = TESTS / "data" / "wearable" / "ax6_sample.cwa"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def timeline(pseudonym):
    return json.loads(ok("record", "show", pseudonym, "--json").stdout)


def artifact(sha256: str) -> bytes:
    import os

    root = Path(os.environ["SPINESTAB_DATA_DIR"]) / "artifacts"
    return (root / sha256[:2] / sha256[2:4] / sha256).read_bytes()


def test_mri_with_patient_and_out_stores_what_it_writes(isolated_settings, tmp_path):
    ok("patient", "add", "P1")
    out = tmp_path / "mri"
    image = MUSCLEMAP / "sub-0001_axial_lumbar_mri.nii.gz"
    mask = MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
    args = ("mri", "--image", image, "--mask", mask, "--labels", "musclemap", "--no-qa")
    done = ok(*args, "--out", out, "--patient", "P1")
    assert "saved into the record of P1" in done.stdout
    (study,) = timeline("P1")["imaging"]
    with (out / "muscle_quality.csv").open(newline="") as handle:
        assert study["rows"] == list(csv.DictReader(handle))
    files = {f["role"]: f for f in study["files"]}
    assert artifact(files["table"]["sha256"]) == (out / "muscle_quality.csv").read_bytes()
    assert artifact(files["input:image"]["sha256"]) == image.read_bytes()
    assert artifact(files["input:mask"]["sha256"]) == mask.read_bytes()
    assert study["options"]["labels"] == "musclemap"
    again = ok(*args, "--patient", "P1")  # no --out: a temporary folder; same result
    assert "not stored again" in again.stdout
    assert len(timeline("P1")["imaging"]) == 1


def test_instability_with_patient_only(isolated_settings, tmp_path):
    ok("patient", "add", "P2")
    done = ok(
        "instability",
        "--neutral",
        LANDMARKS / "neutral.json",
        "--flexion",
        LANDMARKS / "flexion.json",
        "--extension",
        LANDMARKS / "extension.json",
        "--patient",
        "P2",
    )
    assert "saved into the record of P2" in done.stdout and "wrote" not in done.stdout
    (study,) = timeline("P2")["instability"]
    assert study["levels"] and all("verdict" in lv for lv in study["levels"])
    # each segment keeps the region and the threshold set that judged it
    assert {(lv["region"], lv["threshold_set"]) for lv in study["levels"]} == {
        ("lumbar", "white-panjabi")
    }
    roles = {f["role"] for f in study["files"]}
    assert {"result", "picture", "input:landmarks_neutral", "input:landmarks_flexion"} <= roles
    # the stored landmarks equal the files read back
    from spinestab.instability import landmarks_to_dict, read_landmarks
    from spinestab.record import Actor, open_record
    from spinestab.settings import get_settings
    from spinestab.store.models import InstabilityStudy

    with open_record(get_settings()) as record, record.unit_of_work() as uow:
        row = uow.session.query(InstabilityStudy).one()
        for view in ("neutral", "flexion", "extension"):
            expected = landmarks_to_dict(read_landmarks(LANDMARKS / f"{view}.json", view=view))
            assert row.landmarks[view] == json.loads(json.dumps(expected))
    assert Actor  # (imported for the reader)


def test_wearable_with_patient(isolated_settings, tmp_path):
    ok("patient", "add", "P3")
    out = tmp_path / "w"
    ok("wearable", "--trunk", CWA, "--no-pictures", "--out", out, "--patient", "P3")
    (rec,) = timeline("P3")["wearable"]
    daily = list(csv.DictReader(io.StringIO((out / "daily.csv").read_text())))
    assert [d["date"] for d in rec["days"]] == [d["date"] for d in daily]
    roles = {f["role"] for f in rec["files"]}
    assert {"table", "summary", "prompts", "output", "input:trunk"} <= roles
    # the output folder imported into another patient: the same files (inputs aside)
    ok("patient", "add", "P4")
    ok("record", "import", "P4", out)
    (imported,) = timeline("P4")["wearable"]
    assert imported["days"] == rec["days"] and imported["prompts"] == rec["prompts"]
    assert {(f["role"], f["sha256"]) for f in imported["files"]} == {
        (f["role"], f["sha256"]) for f in rec["files"] if not f["role"].startswith("input:")
    }


def test_record_import_of_an_output_folder_keeps_its_pictures(isolated_settings, tmp_path):
    out = tmp_path / "inst"
    views = [(f"--{v}", LANDMARKS / f"{v}.json") for v in ("neutral", "flexion", "extension")]
    ok("instability", *[x for pair in views for x in pair], "--out", out)
    ok("patient", "add", "P6")
    ok("record", "import", "P6", out / "instability.json")
    (study,) = timeline("P6")["instability"]
    files = {f["role"]: f["sha256"] for f in study["files"]}
    assert set(files) == {"result", "picture"}
    assert artifact(files["picture"]) == (out / "instability.png").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ("instability", "--neutral", LANDMARKS / "neutral.json"),
        ("wearable", "--trunk", CWA),
    ],
)
def test_unknown_patient_refused_before_the_work(isolated_settings, tmp_path, args):
    result = run(*args, "--patient", "ghost", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "unknown patient" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["mri", "instability", "wearable"])
def test_neither_out_nor_patient(command, tmp_path):
    result = run(command)
    assert result.exit_code == 2


def test_wearable_out_never_mixes_two_runs(tmp_path):
    # issue 10: --out into a folder with an earlier run's pictures kept foreign timelines
    out = tmp_path / "w"
    out.mkdir()
    (out / "timeline_1999-01-01.png").write_bytes(b"an earlier run's picture")
    (out / "notes.txt").write_text("the user's own file")
    ok("wearable", "--trunk", CWA, "--out", out)
    summary = json.loads((out / "wearable_summary.json").read_text())
    days = {p.name for p in out.glob("timeline_*.png")}
    assert "timeline_1999-01-01.png" not in days and days  # only this run's days
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert summary["setup"] == "trunk only"
    assert not list(tmp_path.glob(".w.*"))  # no temporary folder left
