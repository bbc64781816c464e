"""A task whose worker process dies is recorded as failed; the run goes on."""

from __future__ import annotations

import os

import dask
import distributed  # noqa: F401  (its config defaults load before dask.config.set below)

from spinestab.cohort import run_cohort
from spinestab.cohort.dataset import TaskSpec
from spinestab.cohort.tasks import noop_task


def crash_on_sub_2(spec, out_dir, previous=None):
    """A no-op task, except for sub-2: its worker process exits at once (a crash)."""
    if spec.subject == "sub-2":
        os._exit(1)
    return noop_task(spec, out_dir, previous)


def test_a_dead_worker_fails_its_task_only(tmp_path):
    tasks = [TaskSpec(f"sub-{i}", None, "forms") for i in range(4)]
    # a task is tried twice (Dask's default is 4 times); no other task runs beside it
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        summary = run_cohort(tasks, tmp_path / "out", workers=1, task_function=crash_on_sub_2)
    assert summary.counts.done == 3 and summary.counts.failed == 1
    assert [t for t, _ in summary.failures] == ["sub-2/forms"]
    error = summary.failures[0][1]
    assert "worker running it died" in error and "KilledWorker" in error
    failed = (tmp_path / "out" / "failed.csv").read_text().splitlines()
    assert len(failed) == 2 and failed[1].startswith("sub-2/forms,")
