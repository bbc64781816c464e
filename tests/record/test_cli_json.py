"""``--json`` on the record's commands: stdout holds one JSON document (nothing else), and
what it says equals what the record and the files hold afterwards."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from collections import Counter

from typer.testing import CliRunner

from spinestab.cli import app

from .conftest import DEMO_PATIENTS

runner = CliRunner()
FHR = DEMO_PATIENTS / "functional_high_risk"
LANDMARKS = DEMO_PATIENTS / "structural_spondylolisthesis" / "landmarks"


def run_json(*args):
    result = runner.invoke(app, [str(a) for a in args] + ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def timeline(pseudonym):
    return run_json("record", "show", pseudonym)[0]


def test_a_record_journey_in_json(isolated_settings, tmp_path):
    added, _ = run_json("patient", "add", "P1", "--sex", "FEMALE", "--birth-year", "1979")
    assert added == {"pseudonym": "P1", "sex": "female", "birth_year": 1979}
    forms = tmp_path / "forms"
    shutil.copytree(FHR, forms, ignore=shutil.ignore_patterns("sessions.csv"))
    imported, _ = run_json("record", "import", "P1", forms)
    assert sorted(row["file"] for row in imported) == sorted(str(p) for p in forms.iterdir())
    kinds = [row["kind"] for row in imported]
    record = timeline("P1")
    assert kinds.count("form") == len(record["assessments"]) == 5
    assert kinds.count("imaging") == len(record["imaging"]) == 1
    assert kinds.count("wearable") == len(record["wearable"]) == 1

    made, _ = run_json("plan", "--patient", "P1", "--out", tmp_path / "o1")
    plan_json = json.loads((tmp_path / "o1" / "plan.json").read_text())
    assert (made["version"], made["status"]) == (1, "draft") == (1, plan_json["status"])
    assert made["track"] == timeline("P1")["plans"][0]["track"]
    assert sorted(made["files"]) == sorted(str(p) for p in (tmp_path / "o1").iterdir())

    approved, _ = run_json("plan", "approve", "P1", "--version", "1")
    assert (approved["version"], approved["status"], approved["approved_by"]) == (
        1,
        "active",
        "tester",  # SPINESTAB_USER
    )
    assert "plan" not in approved

    with (FHR / "sessions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    progressed, _ = run_json(
        "progress", "--patient", "P1", "--sessions", FHR / "sessions.csv", "--out", tmp_path / "o2"
    )
    assert progressed["sessions"]["stored"] == len(rows) == len(timeline("P1")["sessions"])
    assert (progressed["version"], progressed["status"], progressed["previous_version"]) == (
        2,
        "draft",
        1,
    )
    assert sorted(progressed["files"]) == sorted(str(p) for p in (tmp_path / "o2").iterdir())
    written = json.loads((tmp_path / "o2" / "plan.json").read_text())
    assert progressed["decisions"] == dict(Counter(d["decision"] for d in written["decisions"]))

    form_id = record["assessments"][0]["id"]
    retracted, _ = run_json("record", "retract", "P1", form_id, "--reason", "wrong patient")
    assert retracted["assessment"]["id"] == form_id
    after = {a["id"]: a["status"] for a in timeline("P1")["assessments"]}
    assert retracted["assessment"]["status"] == after[form_id] == "retracted"

    archive = tmp_path / "p1.zip"
    exported, _ = run_json("record", "export", "P1", "--out", archive)
    assert exported["path"] == str(archive) and exported["bytes"] == archive.stat().st_size
    with zipfile.ZipFile(archive) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        assert exported["rows"] == manifest["rows"]
        artifacts = [n for n in zipped.namelist() if n.startswith("artifacts/")]
    assert exported["artifacts"] == len(artifacts)


def test_restore_in_json(isolated_settings, tmp_path, monkeypatch):
    run_json("patient", "add", "P2")
    run_json("record", "import", "P2", FHR / "odi.json", FHR / "history.json")
    archive = tmp_path / "p2.zip"
    exported, _ = run_json("record", "export", "P2", "--out", archive)
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    restored, _ = run_json("record", "restore", archive)
    assert restored["pseudonym"] == "P2"
    assert restored["artifacts"] == exported["artifacts"]
    assert sum(restored["rows"].values()) > 0
    assert len(timeline("P2")["assessments"]) == 1


def test_analysis_with_patient_prints_only_its_json(isolated_settings, tmp_path):
    run_json("patient", "add", "P3")
    views = ("--neutral", LANDMARKS / "neutral.json", "--flexion", LANDMARKS / "flexion.json")
    views += ("--extension", LANDMARKS / "extension.json")
    data, stderr = run_json("instability", *views, "--patient", "P3", "--out", tmp_path / "i")
    assert data == json.loads((tmp_path / "i" / "instability.json").read_text())
    assert "saved into the record of P3" in stderr
    (study,) = timeline("P3")["instability"]
    assert [lv["level"] for lv in study["levels"]] == [lv["level"] for lv in data["levels"]]
