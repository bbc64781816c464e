"""plan/progress output folders: written whole, never mixing two runs' files (issue 10)."""

from __future__ import annotations

import json
import shutil

import pytest

from spinestab.care import demo_patients_dir, run_plan, run_progress
from spinestab.errors import InputError


def test_a_blocked_plan_replaces_the_earlier_plan_versions(tmp_path):
    patient = tmp_path / "patient"
    shutil.copytree(demo_patients_dir() / "functional_high_risk", patient)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_plan(patient, out)["status"] != "blocked"
    assert (out / "plan_v1.json").is_file()
    # a positive cauda-equina screen, then plan again into the same folder
    screen = json.loads((patient / "redflags.json").read_text())
    screen["answers"]["saddle_numbness"] = True
    (patient / "redflags.json").write_text(json.dumps(screen))
    result = run_plan(patient, out)
    assert result["status"] == "blocked" and result["track"] == "S0"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["handout.html", "notes.txt", "plan.json", "profile.json", "triage.json"]
    assert (out / "notes.txt").read_text() == "mine"  # the user's own file is kept
    with pytest.raises(InputError, match="blocked"):
        run_progress(out / "plan.json", patient / "sessions.csv", tmp_path / "o2")
    assert not (tmp_path / "o2").exists()


def test_a_file_as_out_fails_before_any_work(tmp_path):
    target = tmp_path / "out"
    target.write_text("x")
    with pytest.raises(InputError, match="--out is a file"):
        run_plan(tmp_path / "no_such_patient", target)
    assert target.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
