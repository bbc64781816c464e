"""spinestab cohort run: failures named, the rest done; same results whatever the way in."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from spinestab.cli.cohort import EXIT_TASKS_FAILED
from spinestab.cohort import discover, run_cohort

from .conftest import BROKEN, read_table

TABLES = (
    "daily",
    "scores",
    "muscle_quality",
    "per_level",
    "profiles",
    "parts/wearable",
    "parts/forms",
    "parts/mri",
)
N_TASKS = 19  # 6 subjects x (mri, wearable, forms) + sub-007's wearable


def _manifest(out):
    lines = (out / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_failures_are_named_and_the_rest_is_done(bids_run, clean_cohort):
    out, res = bids_run
    assert res.exit_code == EXIT_TASKS_FAILED, res.output
    with (out / "failed.csv").open() as fh:
        failed = {row["task"]: row for row in csv.DictReader(fh)}
    assert set(failed) == set(BROKEN)
    for task, (file_name, reason) in BROKEN.items():
        assert file_name in failed[task]["error"] and reason in failed[task]["error"]
        assert task in res.output
    assert "6 item(s) unanswered" in failed["sub-004/forms"]["error"]
    assert "s5 (sitting)" in failed["sub-004/forms"]["error"]
    records = _manifest(out)
    assert len(records) == N_TASKS
    done = {r["task"] for r in records if r["status"] == "done"}
    assert len(done) == N_TASKS - 3 and not done & set(BROKEN)
    for r in records:  # every line names its inputs' hashes, time and memory
        assert r["seconds"] >= 0 and r["peak_memory_mb"] > 0
        if r["status"] == "done":
            assert all(len(i["sha256"]) == 64 for i in r["inputs"])
            assert all((out / p).is_file() for p in r["outputs"])
        else:
            assert r["error"]


def test_scores_and_days_are_those_of_the_subjects(bids_run, clean_cohort):
    out, _ = bids_run
    scores = read_table(out, "scores")
    for sub in clean_cohort.subjects:
        mine = scores[scores.subject == sub].set_index("instrument")
        if sub == "sub-004":  # its forms task failed: none of its forms is in the table
            assert mine.empty
            continue
        assert mine.loc["odi", "value"] == pytest.approx(clean_cohort.odi_pct[sub])
        assert mine.loc["nrs", "value"] == clean_cohort.nrs[sub]
        assert mine.loc["odi", "method"].startswith("Oswestry")
    daily = read_table(out, "daily")
    assert sorted(daily.subject.unique()) == list(clean_cohort.subjects)
    assert not daily.duplicated(["subject", "session", "date"]).any()
    assert daily.session.isna().all()  # no sessions in this tree
    assert set(daily.columns) >= {"subject", "session", "date", "valid_day", "method"}
    # an hour per subject: one day each, worn the whole hour, not a valid wear day
    assert np.allclose(daily.wear_min, 60.0, atol=0.1) and not daily.valid_day.any()
    setups = dict(zip(daily.subject, daily.method, strict=True))
    for sub in clean_cohort.subjects:
        assert setups[sub] == ("trunk+thigh" if clean_cohort.thigh[sub] else "trunk only")
    levels = read_table(out, "per_level")
    assert set(levels.subject) == set(clean_cohort.subjects) - {"sub-002"}  # its NIfTI is cut
    for row in levels.itertuples():  # Dixon phantoms: fat known voxel by voxel
        truth = clean_cohort.fat_pct[row.subject][(row.muscle, row.side, row.level)]
        assert abs(row.fat_fraction_pct - truth) < 1.0, row
        assert row.method == "dixon" and row.level_names == "named"
        assert row.sex == clean_cohort.sex[row.subject] and row.age == clean_cohort.age[row.subject]
    whole = read_table(out, "muscle_quality")
    assert set(whole.level) == {"all"} and len(whole) == 5 * 8  # 4 muscles x 2 sides
    profiles = read_table(out, "profiles")
    assert list(profiles.subject) == list(clean_cohort.subjects)
    for row in profiles.itertuples():
        assert row.sex == clean_cohort.sex[row.subject] and row.age == clean_cohort.age[row.subject]
        if row.subject == "sub-004":
            assert pd.isna(row.odi_pct)  # unknown, not 0
        else:
            assert row.odi_pct == pytest.approx(clean_cohort.odi_pct[row.subject])


def test_manifest_csv_on_one_worker_gives_the_same_tables(bids_run, broken_cohort, tmp_path):
    out_bids, _ = bids_run
    tasks, people = discover(broken_cohort / "manifest.csv")
    summary = run_cohort(tasks, tmp_path / "out", participants=people, workers=1)
    assert summary.workers == 1
    assert {t for t, _ in summary.failures} == set(BROKEN)
    for table in TABLES:
        pd.testing.assert_frame_equal(
            read_table(out_bids, table), read_table(tmp_path / "out", table)
        )


def test_killed_run_resumed_does_every_task_once(bids_run, broken_cohort, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ)
    cmd = [
        sys.executable,
        "-c",
        "from spinestab.cli import main; main()",
        "cohort",
        "run",
        str(broken_cohort),
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        lines = manifest.read_text().count("\n") if manifest.exists() else 0
        if lines >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-way
    proc.wait()
    proc.stderr.close()
    assert not (out / "run.json").exists()
    before = manifest.read_text().count("\n")
    assert 3 <= before < N_TASKS
    tasks, people = discover(broken_cohort)
    summary = run_cohort(tasks, out, participants=people, workers=2, resume=True)
    done_before = sum(1 for r in _manifest(out)[:before] if r["status"] == "done")
    assert summary.counts.skipped == done_before
    assert summary.counts.done + summary.counts.failed + summary.counts.skipped == N_TASKS
    latest = {r["task"]: r for r in _manifest(out)}
    assert len(latest) == N_TASKS
    assert {t for t, r in latest.items() if r["status"] != "done"} == set(BROKEN)
    out_bids, _ = bids_run
    for table in TABLES:
        pd.testing.assert_frame_equal(read_table(out_bids, table), read_table(out, table))
    listed = {p for r in latest.values() for p in r["outputs"]}
    on_disk = {f"{t}/{p.name}" for t in TABLES if t != "profiles" for p in (out / t).iterdir()}
    assert on_disk == listed  # nothing written twice, nothing left over
