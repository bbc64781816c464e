"""manifest.jsonl as the commit point: torn lines, orphan files, changed inputs, locks."""

from __future__ import annotations

import fcntl
import json
import shutil

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.cohort import discover, run_cohort
from spinestab.cohort.ledger import Ledger, live_outputs, sweep, write_failed_csv
from spinestab.errors import InputError


def test_torn_last_line_is_cut_and_appending_goes_on(tmp_path):
    good = {"task": "s1/forms", "status": "done", "outputs": ["scores/a.parquet"]}
    (tmp_path / "manifest.jsonl").write_text(json.dumps(good) + '\n{"task": "s2/for')
    ledger = Ledger(tmp_path)
    latest = ledger.open()
    assert list(latest) == ["s1/forms"]
    ledger.append({"task": "s2/forms", "status": "failed", "outputs": [], "error": "x"})
    ledger.close()
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["task"] for line in lines] == ["s1/forms", "s2/forms"]
    write_failed_csv(tmp_path, Ledger(tmp_path).read())
    assert (tmp_path / "failed.csv").read_text().splitlines()[1].startswith("s2/forms,")


def test_sweep_removes_files_no_done_line_names(tmp_path):
    for name in ("a.parquet", "b.parquet", ".c.parquet.1.tmp"):
        (tmp_path / "daily").mkdir(exist_ok=True)
        (tmp_path / "daily" / name).write_bytes(b"x")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "profiles.parquet").write_bytes(b"x")
    latest = {
        "s1/wearable": {"status": "done", "outputs": ["daily/a.parquet"]},
        "s2/wearable": {"status": "failed", "outputs": ["daily/b.parquet"]},
    }
    assert live_outputs(latest) == {"daily/a.parquet"}
    removed = sweep(tmp_path, live_outputs(latest))
    assert sorted(removed) == ["daily/.c.parquet.1.tmp", "daily/b.parquet"]
    assert (tmp_path / "profiles" / "profiles.parquet").exists()  # rebuilt, not swept


@pytest.fixture
def forms_cohort(clean_cohort, tmp_path):
    """The clean cohort's forms only (cheap tasks)."""
    root = tmp_path / "ds"
    root.mkdir()
    shutil.copy(clean_cohort.root / "participants.tsv", root)
    for sub in clean_cohort.subjects[:3]:
        shutil.copytree(clean_cohort.root / sub / "forms", root / sub / "forms")
    return root


def test_resume_reruns_changed_inputs_only_and_keeps_one_copy(forms_cohort, tmp_path):
    out = tmp_path / "out"
    tasks, people = discover(forms_cohort)
    first = run_cohort(tasks, out, participants=people, workers=1)
    assert first.counts.done == 3 and not first.failures
    with pytest.raises(InputError, match="holds a cohort run"):
        run_cohort(tasks, out, participants=people, workers=1)
    nrs = forms_cohort / "sub-002" / "forms" / "nrs.json"
    doc = json.loads(nrs.read_text())
    doc["answers"]["pain"] = 10 - doc["answers"]["pain"] if doc["answers"]["pain"] != 5 else 9
    nrs.write_text(json.dumps(doc))
    old_outputs = set((out / "scores").iterdir())
    args = ["cohort", "run", str(forms_cohort), "--out", str(out), "--resume", "--json"]
    res = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert res.exit_code == 0, res.output
    second = json.loads(res.stdout)
    assert (second["skipped"], second["done"], second["failed"]) == (2, 1, 0)
    assert second["failures"] == [] and second["profiles"] == 3
    import pandas as pd

    scores = pd.read_parquet(out / "scores")
    assert len(scores) == 6 and not scores.duplicated(["subject", "instrument"]).any()
    mine = scores[(scores.subject == "sub-002") & (scores.instrument == "nrs")]
    assert mine.value.item() == doc["answers"]["pain"]
    assert len(set((out / "scores").iterdir()) - old_outputs) == 1  # the old file is gone
    assert len(list((out / "scores").iterdir())) == 3


def test_a_second_run_on_the_same_folder_is_refused_while_one_runs(forms_cohort, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tasks, people = discover(forms_cohort)
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another cohort run"):
            run_cohort(tasks, out, participants=people, workers=1)


def test_a_running_scheduler_takes_the_tasks(forms_cohort, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0", silence_logs=50
    ) as cluster:
        args = ["cohort", "run", str(forms_cohort), "--out", str(tmp_path / "out"), "--json"]
        res = CliRunner().invoke(app, [*args, "--scheduler", cluster.scheduler_address])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["done"] == 3
        res = CliRunner().invoke(
            app, [*args, "--scheduler", cluster.scheduler_address, "--workers", "2"]
        )
        assert res.exit_code == 2 and "--workers or --scheduler" in res.output
