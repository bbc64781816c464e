"""The issue's scenarios from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app

from .conftest import DEMO_PATIENTS, form, no_flags, write_json

runner = CliRunner()
FHR = DEMO_PATIENTS / "functional_high_risk"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(*args, fragment=""):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert fragment in result.stderr, result.stderr
    return result


def show(pseudonym):
    return json.loads(ok("record", "show", pseudonym, "--json").stdout)


def test_blocked_patient_cannot_be_progressed(isolated_settings, tmp_path):
    ok("patient", "add", "P1", "--sex", "female", "--birth-year", "1979")
    forms = tmp_path / "forms"
    shutil.copytree(FHR, forms, ignore=shutil.ignore_patterns("sessions.csv"))
    ok("record", "import", "P1", forms)
    made = ok("plan", "--patient", "P1", "--out", tmp_path / "o1")
    assert "version 1" in made.stdout and "draft" in made.stdout
    assert json.loads((tmp_path / "o1" / "plan.json").read_text())["status"] == "draft"
    ok("plan", "approve", "P1", "--version", "1")
    ok("record", "import", "P1", FHR / "sessions.csv")
    # a positive cauda-equina screen: every live plan is blocked at once
    screen = write_json(
        tmp_path / "redflags_2024-04-30.json",
        form("redflags", "2024-04-30", no_flags() | {"bladder_change": True}),
    )
    imported = ok("record", "import", "P1", screen)
    assert "BLOCKED" in imported.stdout
    record = show("P1")
    assert [(p["version"], p["status"]) for p in record["plans"]] == [(1, "blocked")]
    assert record["open_red_flags"][0]["urgency"] == "emergency"
    # the old way round it: a plan file left in a folder; the record refuses it
    refused("progress", "--patient", "P1", "--out", tmp_path / "o2", fragment="no active plan")
    assert not (tmp_path / "o2").exists()
    blocked = ok("plan", "--patient", "P1")
    assert "blocked" in blocked.stdout
    refused("plan", "approve", "P1", "--version", "2", fragment="only a draft")
    assert [p["status"] for p in show("P1")["plans"]] == ["blocked", "blocked"]


def test_import_show_progress_approve(isolated_settings, tmp_path):
    ok("patient", "add", "P2")
    forms = tmp_path / "forms"
    shutil.copytree(FHR, forms, ignore=shutil.ignore_patterns("sessions.csv"))
    out = ok("record", "import", "P2", forms).stdout
    for kind in ("history", "form", "imaging", "wearable"):
        assert kind in out
    again = ok("record", "import", "P2", forms / "odi.json")
    assert "skipped" in again.stdout
    ok("plan", "--patient", "P2")
    ok("plan", "approve", "P2", "--version", "1")
    done = ok(
        "progress", "--patient", "P2", "--sessions", FHR / "sessions.csv", "--out", tmp_path / "p"
    )
    assert "version 2" in done.stdout and "draft" in done.stdout
    assert {"plan.json", "plan_v2.json", "plan_v1.json", "progress.json", "handout.html"} <= {
        p.name for p in (tmp_path / "p").iterdir()
    }
    ok("plan", "approve", "P2", "--version", "2")
    record = show("P2")
    assert {
        "patient",
        "assessments",
        "history",
        "imaging",
        "instability",
        "wearable",
        "plans",
        "sessions",
        "open_red_flags",
    } <= set(record)
    for plan in record["plans"]:
        assert {"version", "status", "track", "approved_by", "approved_at"} <= set(plan)
    assert [(p["version"], p["status"], p["approved_by"]) for p in record["plans"]] == [
        (1, "superseded", "tester"),
        (2, "active", "tester"),
    ]
    assert record["sessions"] and record["imaging"][0]["rows"] and record["wearable"][0]["days"]
    text = ok("record", "show", "P2").stdout
    assert "plan v2" in text and "no open red flag" in text


def test_export_restore_from_the_cli(isolated_settings, tmp_path, monkeypatch):
    ok("patient", "add", "P3")
    ok("record", "import", "P3", FHR / "odi.json", FHR / "history.json", FHR / "daily.csv")
    archive = tmp_path / "p3.zip"
    ok("record", "export", "P3", "--out", archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    refused("record", "restore", archive, fragment="already in the record")
    before = show("P3")
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    ok("record", "restore", archive)
    after = show("P3")
    for timeline in (before, after):
        for key in ("assessments", "wearable"):
            for row in timeline[key]:
                row.pop("id")
                for f in row.get("files", ()):
                    f.pop("id")
    assert before == after


def test_markup_in_a_pseudonym_never_crashes(isolated_settings, tmp_path):
    ok("patient", "add", "[/x]")
    assert "[/x]" in ok("patient", "list").stdout
    assert json.loads(ok("patient", "list", "--json").stdout)[0]["pseudonym"] == "[/x]"
    ok("record", "import", "[/x]", FHR / "odi.json")
    assert "[/x]" in ok("record", "show", "[/x]").stdout
    assert "[/x]" in ok("patient", "show", "[/x]").stdout
    refused("record", "show", "[bold]nobody[/]", fragment="[bold]nobody[/]")


def test_bad_file_stores_nothing_and_names_it(isolated_settings, tmp_path):
    ok("patient", "add", "P4")
    bad = write_json(tmp_path / "nrs.json", form("nrs", "2024-01-02", {"pain": 12}))
    result = refused("record", "import", "P4", FHR / "odi.json", bad, fragment="nrs.json")
    assert "nothing was imported" in result.stderr
    assert show("P4")["assessments"] == []


def test_fhir_entered_in_error_from_the_cli(isolated_settings, tmp_path):
    from .test_services import fhir_odi

    ok("patient", "add", "P5")
    ok("record", "import", "P5", write_json(tmp_path / "qr.json", fhir_odi()))
    ok("record", "import", "P5", write_json(tmp_path / "qr-eie.json", fhir_odi("entered-in-error")))
    (a,) = show("P5")["assessments"]
    assert a["status"] == "retracted"
    stopped = write_json(tmp_path / "qr-stopped.json", fhir_odi("stopped", rid="other"))
    refused("record", "import", "P5", stopped, fragment="incomplete")


def test_data_folder_is_private(isolated_settings):
    ok("patient", "add", "P6")
    data = Path(os.environ["SPINESTAB_DATA_DIR"])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--patient", "ghost"),
        ("plan", "approve", "ghost", "--version", "1"),
        ("progress", "--patient", "ghost"),
        ("record", "export", "ghost", "--out", "x.zip"),
        ("record", "retract", "ghost", "1"),
    ],
)
def test_unknown_or_missing_patient_is_a_clear_error(isolated_settings, args):
    result = run(*args)
    assert result.exit_code == 2 and "error" in result.stderr


def test_a_patient_folder_imports_before_any_plan(isolated_settings, tmp_path):
    """A whole patient folder: its session logs wait for an approved plan, and say so."""
    ok("patient", "add", "P3")
    first = json.loads(ok("record", "import", "P3", FHR, "--json").stdout)
    kinds = {Path(r["file"]).name: (r["kind"], r["stored"]) for r in first}
    assert kinds["sessions.csv"][0] == "sessions"
    assert kinds["sessions.csv"][1].startswith("skipped: no active plan")
    assert kinds["history.json"] == ("history", "history version 1")
    assert show("P3")["sessions"] == []
    # named on its own, the same file is an error (nothing stored)
    refused("record", "import", "P3", FHR / "sessions.csv", fragment="no active plan")
    ok("plan", "--patient", "P3")
    ok("plan", "approve", "P3", "--version", "1")
    again = json.loads(ok("record", "import", "P3", FHR, "--json").stdout)
    rows = len((FHR / "sessions.csv").read_text().strip().splitlines()) - 1
    stored = {Path(r["file"]).name: r["stored"] for r in again}
    assert stored["sessions.csv"] == f"{rows} session row(s) against plan version 1"
    assert all(v.startswith("skipped") for k, v in stored.items() if k != "sessions.csv")
    assert len(show("P3")["sessions"]) == rows


def test_a_history_file_named_otherwise_is_told_by_its_fields(isolated_settings, tmp_path):
    ok("patient", "add", "P4", "--birth-year", "1953")
    history = json.loads((FHR / "history.json").read_text()) | {"age": 71}
    named = write_json(tmp_path / "history_2024-03-04.json", history)
    result = json.loads(ok("record", "import", "P4", named, "--json").stdout)
    assert [(r["kind"], r["stored"]) for r in result] == [("history", "history version 1")]
    assert show("P4")["history"]["data"]["age"] == 71


def test_timeline_names_a_segment_without_a_verdict(isolated_settings, tmp_path):
    # as `spinestab instability` writes a neutral film's cervical segment
    level = {"level": "C5-C6", "slip_mm": -2.3, "meyerding_grade": 0, "verdict": "not_assessable"}
    neck = write_json(tmp_path / "instability.json", {"levels": [level]})
    ok("patient", "add", "P5")
    ok("record", "import", "P5", neck)
    text = ok("record", "show", "P5").stdout
    assert "C5-C6 not assessable" in text and "None" not in text


def test_an_approval_names_a_person(isolated_settings, tmp_path, monkeypatch):
    """No --by and no SPINESTAB_USER: refused (exit 2, nothing stored), never 'cli'."""
    ok("patient", "add", "P5")
    forms = tmp_path / "forms"
    shutil.copytree(FHR, forms, ignore=shutil.ignore_patterns("sessions.csv"))
    ok("record", "import", "P5", forms)
    ok("plan", "--patient", "P5")
    monkeypatch.delenv("SPINESTAB_USER")
    refused("plan", "approve", "P5", "--version", "1", fragment="--by NAME")
    refused("plan", "approve", "P5", "--version", "1", "--by", "  ", fragment="--by")
    plans = show("P5")["plans"]
    assert [(p["status"], p["approved_by"]) for p in plans] == [("draft", None)]
    ok("plan", "approve", "P5", "--version", "1", "--by", "dr_bob")
    monkeypatch.setenv("SPINESTAB_USER", "dr_carol")
    ok("plan", "--patient", "P5")
    ok("plan", "approve", "P5", "--version", "2")
    plans = show("P5")["plans"]
    assert [(p["status"], p["approved_by"]) for p in plans] == [
        ("superseded", "dr_bob"),
        ("active", "dr_carol"),
    ]
