"""The profile reads each muscle, side and level's latest MRI result across the episode's
studies (a later MRI of other levels no longer hides an earlier one), and names its study."""

from __future__ import annotations

import csv
import json
import shutil

from typer.testing import CliRunner

from spinestab.cli import app

from .conftest import DEMO_PATIENTS

FHR = DEMO_PATIENTS / "functional_high_risk"  # symptomatic levels L4 and L5
runner = CliRunner()


def ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _table(folder, rows, *, fat=None):
    """Write the demo's muscle_quality.csv rows of ``rows``' levels (fat replaced by ``fat``)."""
    with (FHR / "muscle_quality.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        columns, kept = reader.fieldnames, [r for r in reader if r["level"] in rows]
    for row in kept:
        if fat is not None and row["muscle"] == "multifidus":
            row["fat_fraction_pct"] = str(fat[row["side"]])
    folder.mkdir()
    with (folder / "muscle_quality.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept)
    return folder / "muscle_quality.csv"


def _study_ids(pseudonym):
    shown = json.loads(ok("record", "show", pseudonym, "--json").stdout)
    return [study["id"] for study in shown["imaging"]]


def test_two_mris_of_different_levels_both_count(isolated_settings, tmp_path):
    ok("patient", "add", "P-MRI")
    forms = tmp_path / "forms"
    shutil.copytree(FHR, forms, ignore=shutil.ignore_patterns("sessions.csv", "muscle_quality.csv"))
    ok("record", "import", "P-MRI", forms)
    # the symptomatic levels first (multifidus fat up to 59 % at L5), then an MRI of L3 only
    ok("record", "import", "P-MRI", _table(tmp_path / "a", {"L4", "L5"}))
    ok("record", "import", "P-MRI", _table(tmp_path / "b", {"L3"}))
    first, second = _study_ids("P-MRI")
    ok("plan", "--patient", "P-MRI", "--out", tmp_path / "o1")
    muscle = json.loads((tmp_path / "o1" / "profile.json").read_text())["muscle"]
    assert muscle["multifidus_levels"] == ["L4", "L5"]
    assert muscle["multifidus_fat_pct"] == 59.0
    assert muscle["note"] is None  # the symptomatic levels were measured
    assert {(r["level"], r["side"], r["imaging_study"]) for r in muscle["rows"]} == {
        (level, side, first) for level in ("L4", "L5") for side in ("left", "right")
    }
    # the erector spinae was measured at L3 to L5 over the two studies
    assert muscle["other_muscles"]["erector_spinae"]["levels"] == ["L4", "L5"]
    assert muscle["other_muscles"]["erector_spinae"]["imaging_studies"] == [first]
    # a third MRI re-measures L5: its numbers replace the first study's L5, L4 stays
    ok("record", "import", "P-MRI", _table(tmp_path / "c", {"L5"}, fat={"left": 40, "right": 41}))
    third = _study_ids("P-MRI")[-1]
    ok("plan", "--patient", "P-MRI", "--out", tmp_path / "o2")
    muscle = json.loads((tmp_path / "o2" / "profile.json").read_text())["muscle"]
    assert muscle["multifidus_fat_pct"] == 51.0  # L4 right, first study
    by_level = {
        (r["level"], r["side"]): (r["fat_fraction_pct"], r["imaging_study"]) for r in muscle["rows"]
    }
    assert by_level == {
        ("L4", "left"): (48.0, first),
        ("L4", "right"): (51.0, first),
        ("L5", "left"): (40.0, third),
        ("L5", "right"): (41.0, third),
    }
    assert second not in {r["imaging_study"] for r in muscle["rows"]}
    stored = json.loads(ok("plan", "--patient", "P-MRI", "--json").stdout)
    assert stored["inputs"]["imaging_studies"] == [third, second, first]
