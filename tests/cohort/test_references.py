"""spinestab cohort references: bands a later spinestab mri reads as its reference table."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.imaging.reference import load_reference_table


@pytest.fixture(scope="module")
def bands(bids_run, tmp_path_factory):
    out, _ = bids_run
    target = tmp_path_factory.mktemp("bands") / "bands.csv"
    args = ["--out", str(target), "--age-bands", "0,120", "--min-count", "2"]
    res = CliRunner().invoke(app, ["cohort", "references", str(out), *args])
    assert res.exit_code == 0, res.output
    return out, target, res.output


def test_bands_are_the_mean_and_sd_of_the_cohorts_sides(bands):
    out, target, _ = bands
    table = pd.read_csv(target)
    levels = pd.read_parquet(out / "per_level")
    assert len(table) > 0
    for band in table.itertuples():
        mine = levels[
            (levels.muscle == band.muscle) & (levels.level == band.level) & (levels.sex == band.sex)
        ]
        assert band.count == mine.subject.nunique() >= 2 and band.n_values == len(mine)
        ff = mine.fat_fraction_pct.to_numpy()
        assert band.mean_pct == pytest.approx(ff.mean(), abs=1e-4)
        assert band.sd_pct == pytest.approx(np.std(ff, ddof=1), abs=1e-4)
        assert band.csa_max_mean_mm2 == pytest.approx(mine.csa_max_mm2.mean(), abs=0.01)
        assert band.method == "dixon" and band.age_min == 0 and band.age_max == 119.999
        assert "spinestab cohort" in band.source and f"{band.count} subjects" in band.source
    assert len(load_reference_table(target)) == len(table)  # the mri reader takes it whole


def test_the_next_patient_is_compared_with_the_cohort(bands, clean_cohort, tmp_path):
    _, target, _ = bands
    table = pd.read_csv(target)
    band = table[(table.muscle == "multifidus") & (table.level == "L4")].iloc[0]
    sub = next(
        s for s in clean_cohort.subjects if clean_cohort.sex[s] == band.sex and s != "sub-002"
    )
    root = clean_cohort.root
    anat, masks = root / sub / "anat", root / "derivatives" / "musclemap" / sub / "anat"
    res = CliRunner().invoke(
        app,
        ["mri", "--water", str(anat / f"{sub}_water.nii.gz"),
         "--fat", str(anat / f"{sub}_fat.nii.gz"), "--mask", str(masks / f"{sub}_dseg.nii.gz"),
         "--vertebrae", str(masks / f"{sub}_desc-vertebrae_dseg.nii.gz"),
         "--sex", band.sex, "--age", "47", "--reference-table", str(target), "--no-qa",
         "--out", str(tmp_path / "mri")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    with (tmp_path / "mri" / "muscle_quality.csv").open() as fh:
        rows = {(r["muscle"], r["side"], r["level"]): r for r in csv.DictReader(fh)}
    for side in ("left", "right"):
        row = rows[("multifidus", side, "L4")]
        ff = float(row["fat_fraction_pct"])
        assert float(row["reference_mean_pct"]) == pytest.approx(band.mean_pct)
        assert float(row["reference_sd_pct"]) == pytest.approx(band.sd_pct)
        assert float(row["reference_z"]) == pytest.approx((ff - band.mean_pct) / band.sd_pct)
        assert "spinestab cohort" in row["reference_note"]


def test_a_run_without_mri_or_with_bad_bands_is_bad_input(bids_run, tmp_path):
    out, _ = bids_run
    res = CliRunner().invoke(app, ["cohort", "references", str(tmp_path)])
    assert res.exit_code == 2 and "no per_level" in res.output
    res = CliRunner().invoke(app, ["cohort", "references", str(out), "--age-bands", "40,20"])
    assert res.exit_code == 2 and "increasing" in res.output
    res = CliRunner().invoke(
        app, ["cohort", "references", str(out), "--out", str(tmp_path / "b.csv")]
    )
    assert res.exit_code == 0  # default: bands of >= 20 subjects; this cohort has none
    assert "under --min-count 20" in res.output
    assert pd.read_csv(tmp_path / "b.csv").empty


def test_references_and_run_json(bids_run, broken_cohort, tmp_path):
    import json
    import shutil

    out, _ = bids_run
    target = tmp_path / "b.csv"
    args = ["--out", str(target), "--age-bands", "0,120", "--min-count", "2", "--json"]
    res = CliRunner().invoke(app, ["cohort", "references", str(out), *args])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["out"] == str(target) and data["bands"] == len(pd.read_csv(target))
    # resumed in a copy: the tasks done before are skipped, the failed ones fail again
    run_dir = tmp_path / "run"
    shutil.copytree(out, run_dir)
    latest = {}
    for line in (run_dir / "manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        latest[rec["task"]] = rec["status"]
    failed = sorted(t for t, status in latest.items() if status != "done")
    assert failed
    args = ["cohort", "run", str(broken_cohort), "--out", str(run_dir), "--resume", "--json"]
    res = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert res.exit_code == 3, res.output  # some tasks failed
    data = json.loads(res.stdout)
    assert data["skipped"] == len(latest) - len(failed) and data["done"] == 0
    assert data["failed"] == len(failed) == len(data["failures"])
    assert sorted(f["task"] for f in data["failures"]) == failed
