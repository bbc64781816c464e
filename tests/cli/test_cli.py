"""The CLI: score, patient and demo, with exit codes and nothing written on bad input."""

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

runner = CliRunner()
DEMO = Path(str(resources.files("spinestab").joinpath("data/demo")))


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_score_json_fields():
    result = run(
        "score", DEMO / "startback.json", DEMO / "odi.json", DEMO / "redflags.json", "--json"
    )
    assert result.exit_code == 0, result.output
    sb, odi, flags = json.loads(result.stdout)
    assert sb["instrument"] == "startback" and sb["risk"] == "medium" and sb["psychosocial"] == 3
    assert sb["score"] == 6 and sb["max"] == 9 and sb["complete"] and sb["missing"] == []
    # demo ODI: 3+1+3+2+3+2+2+2+2 = 20 of 45 (sex life skipped)
    assert odi["score"] == 20 and odi["max"] == 45
    assert odi["percent"] == pytest.approx(100 * 20 / 45) and odi["band"] == "severe disability"
    assert isinstance(flags["actions"], list)


def test_score_single_file_prints_one_object():
    result = run("score", DEMO / "nrs.json", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["score"] == 6


def test_score_table_output():
    result = run("score", DEMO / "psfs.json")
    assert result.exit_code == 0 and "psfs" in result.stdout and "3.00" in result.stdout


def test_bad_input_exit_2_and_nothing_saved(tmp_path, isolated_settings):
    assert run("patient", "add", "P1", "--sex", "male", "--birth-year", "1980").exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"instrument": "nrs", "date": "2026-01-01", "answers": {"pain": 12}}')
    result = run("score", DEMO / "odi.json", bad, "--save", "P1")
    assert result.exit_code == 2
    assert "bad.json" in result.stderr and "pain" in result.stderr and "12" in result.stderr
    shown = json.loads(run("patient", "show", "P1", "--json").stdout)
    assert shown["assessments"] == []


def test_save_and_show(isolated_settings):
    run("patient", "add", "P2")
    result = run("score", DEMO / "odi.json", DEMO / "startback.json", "--save", "P2", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(run("patient", "show", "P2", "--json").stdout)
    assert sorted(a["instrument"] for a in shown["assessments"]) == ["odi", "startback"]
    listed = json.loads(run("patient", "list", "--json").stdout)
    assert listed == [{"pseudonym": "P2", "sex": None, "birth_year": None, "assessments": 2}]


def test_score_patient_is_save(isolated_settings):
    # --patient, as on mri, instability, wearable, plan and progress, saves like --save
    run("patient", "add", "P3")
    result = run("score", DEMO / "nrs.json", "--patient", "P3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["instrument"] == "nrs"  # stdout: the JSON alone
    shown = json.loads(run("patient", "show", "P3", "--json").stdout)
    assert [a["instrument"] for a in shown["assessments"]] == ["nrs"]


def test_save_to_unknown_patient_is_refused(isolated_settings):
    result = run("score", DEMO / "odi.json", "--save", "nobody")
    assert result.exit_code == 2 and "unknown patient" in result.stderr


def test_unknown_patient_show(isolated_settings):
    assert run("patient", "show", "ghost").exit_code == 2


def test_demo_creates_patient_once(isolated_settings):
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "demo-001" in first.stdout and "Still missing" in first.stdout
    # the whole chain ran for the bundled demo patients: the red-flag one is blocked
    out = Path(isolated_settings_dir()) / "demo"
    assert (out / "red_flag_cauda_equina" / "triage.json").exists()
    triage = json.loads((out / "red_flag_cauda_equina" / "triage.json").read_text())
    assert triage["track"] == "S0"
    plan = json.loads((out / "red_flag_cauda_equina" / "plan.json").read_text())
    assert plan["exercises"] == [] and plan["status"] == "blocked"
    assert (out / "low_risk_self_management" / "handout.html").exists()
    assert run("demo").exit_code == 0
    shown = json.loads(run("patient", "show", "demo-001", "--json").stdout)
    assert len(shown["assessments"]) == 6


def isolated_settings_dir():
    import os

    return os.environ["SPINESTAB_DATA_DIR"]


def test_missing_file_exit_2(tmp_path):
    result = run("score", tmp_path / "none.json")
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_error_text_is_not_read_as_markup(tmp_path):
    bad = tmp_path / "nrs.json"
    bad.write_text('{"instrument": "nrs", "date": "2026-01-01", "answers": {"pain": [1, 2]}}')
    result = run("score", bad)
    assert result.exit_code == 2 and "[1, 2]" in result.stderr
