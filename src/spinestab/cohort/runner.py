"""Run a cohort's tasks on Dask (``dask.distributed``), resumably.

A :class:`~dask.distributed.LocalCluster` of worker processes by default (one thread each,
a memory limit per worker), or the scheduler at an address (``tcp://host:8786``) that any
Dask deployment gives (dask-jobqueue on a batch queue, dask-kubernetes, ``dask scheduler``
by hand). The workers write the tables into the run folder, so on a cluster the dataset and
the run folder must be on a file system every worker sees under the same path.

Tasks are handed to the scheduler through a bounded window (a few per worker thread), so a
run of 100,000 subjects holds only that many futures at once; every finished task's record
is appended to ``manifest.jsonl`` as it arrives (:mod:`spinestab.cohort.ledger`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spinestab
from spinestab.cohort.dataset import Participant, TaskSpec
from spinestab.cohort.ledger import (
    Ledger,
    live_outputs,
    sweep,
    utc_now,
    write_failed_csv,
    write_text_atomic,
)
from spinestab.cohort.profiles import build_profiles
from spinestab.cohort.tasks import run_task
from spinestab.core.outdir import make_out_dir
from spinestab.errors import InputError, require

__all__ = ["RunCounts", "RunSummary", "run_cohort"]

log = logging.getLogger(__name__)


@dataclass
class RunCounts:
    """Where a run stands (passed to the progress callback after every task).

    Attributes
    ----------
    total : int
        Tasks in the cohort.
    done, failed : int
        Tasks finished in this run, and those of them that failed.
    skipped : int
        Tasks done by an earlier run with unchanged inputs (``resume``).
    last : dict or None
        The record of the task that just finished.

    """

    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    last: dict[str, Any] | None = None

    @property
    def finished(self) -> int:
        """Tasks accounted for: done, failed or skipped."""
        return self.done + self.failed + self.skipped


@dataclass
class RunSummary:
    """What a run did.

    Attributes
    ----------
    out_dir : Path
    counts : RunCounts
    seconds : float
        Wall time of the run (cluster start included).
    workers : int
        Worker threads the run had.
    failures : list of (str, str)
        ``(task id, error)`` of every task failed at the end of the run, this run or before.
    profiles : int
        Rows of ``profiles/``.

    """

    out_dir: Path
    counts: RunCounts
    seconds: float
    workers: int
    failures: list[tuple[str, str]] = field(default_factory=list)
    profiles: int = 0


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` so that two runs never write one folder at once."""
    with open(out_dir / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                "another cohort run is writing this folder", source=str(out_dir)
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _client(
    *, workers: int | None, memory_limit: str | None, scheduler: str | None, dashboard: str | None
) -> Iterator[Any]:
    """Connect to the scheduler at ``scheduler``, or start a LocalCluster, and yield a client."""
    distributed = require("distributed", extra="cohort", feature="spinestab cohort run")
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler ({exc.__class__.__name__}: {exc})",
                item="--scheduler",
                value=scheduler,
                expected="the address of a running scheduler, e.g. tcp://host:8786",
            ) from None
        with client:
            yield client
        return
    import os

    import dask

    n = workers or os.cpu_count() or 1
    settings = {
        # one task on a worker at a time (no task queued behind the running one): a subject
        # that crashes its worker then takes no other subject's task down with it
        "distributed.scheduler.worker-saturation": 1.0,
        # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 for their workers, which turns off
        # glibc's adaptive mmap threshold: every large NumPy temporary is then mapped and
        # zeroed anew, and a one-day wearable task took 5.8 s instead of 2.6 s (measured)
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    }
    with dask.config.set(settings):
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            # the scheduler serves HTTP even without a dashboard, on :8787 unless told: a
            # random loopback port keeps runs of several users on one machine apart
            dashboard_address=dashboard or "127.0.0.1:0",
            silence_logs=logging.CRITICAL,  # shutdown races; task failures are in the manifest
        )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _canonical(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def _unchanged(spec: TaskSpec, rec: Mapping[str, Any], out_dir: Path) -> bool:
    """Tell whether a done record still holds: same settings, files (size, mtime), outputs."""
    import os

    if rec.get("status") != "done" or rec.get("spinestab_version") != spinestab.__version__:
        return False
    if _canonical(rec.get("settings") or {}) != _canonical(spec.settings):
        return False
    recorded = [(i["role"], i["path"], i.get("size"), i.get("mtime_ns")) for i in rec["inputs"]]
    now = []
    for role, path in spec.inputs:
        try:
            st = os.stat(path)
        except OSError:
            return False
        now.append((role, path, st.st_size, st.st_mtime_ns))
    if sorted(recorded) != sorted(now):
        return False
    return all((out_dir / p).exists() for p in rec.get("outputs", []))


def _crash_record(spec: TaskSpec, exc: BaseException) -> dict[str, Any]:
    """Build the record of a task whose worker died or whose result could not come back."""
    what = exc.__class__.__name__
    hint = (
        "the worker running it died (over its memory limit, or a crash) on every try"
        if what == "KilledWorker"
        else "the task could not run"
    )
    return {
        "task": spec.task_id,
        "subject": spec.subject,
        "session": spec.session,
        "kind": spec.kind,
        "status": "failed",
        "inputs": [{"role": r, "path": p} for r, p in spec.inputs],
        "settings": spec.settings,
        "outputs": [],
        "rows": {},
        "error": f"{hint} ({what}: {exc})",
        "spinestab_version": spinestab.__version__,
    }


def run_cohort(
    tasks: Sequence[TaskSpec],
    out_dir: str | Path,
    *,
    participants: Mapping[str, Participant] | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    dashboard: str | None = None,
    progress: Callable[[RunCounts], None] | None = None,
    task_function: Callable[..., dict[str, Any]] = run_task,
    window: int | None = None,
) -> RunSummary:
    """Run every task on Dask and write the tables, ``manifest.jsonl`` and ``failed.csv``.

    Parameters
    ----------
    tasks : sequence of TaskSpec
        From :func:`~spinestab.cohort.dataset.discover`.
    out_dir : path-like
        The run folder (created if missing).
    participants : mapping, optional
        Subject data joined into ``profiles/``.
    workers : int, optional, keyword-only
        Worker processes of the LocalCluster (default: one per CPU core).
    memory_limit : str, optional, keyword-only
        Memory limit per worker (Dask's syntax, ``"4GiB"``; default ``"auto"``: the
        machine's memory shared out). Dask restarts a worker that exceeds it; a task that
        kills its worker on every try is recorded as failed.
    scheduler : str, optional, keyword-only
        Address of a running Dask scheduler instead of a LocalCluster.
    resume : bool, keyword-only
        Continue the run in ``out_dir``: tasks done with unchanged inputs and settings are
        skipped, the rest (failed, new, changed, never finished) run.
    dashboard : str, optional, keyword-only
        Address for the Dask dashboard of the LocalCluster (e.g. ``":8787"``; off by default).
    progress : callable, optional, keyword-only
        Called with :class:`RunCounts` after every task.
    task_function : callable, keyword-only
        What runs per task (default :func:`~spinestab.cohort.tasks.run_task`).
    window : int, optional, keyword-only
        Tasks handed to the scheduler at once (default 4 per worker thread, at least 8).

    Returns
    -------
    RunSummary

    Raises
    ------
    InputError
        The folder holds a run and ``resume`` is not set; another run writes it; the
        scheduler cannot be reached.

    """
    t0 = time.perf_counter()
    make_out_dir(Path(out_dir))
    out = Path(out_dir).resolve()  # workers elsewhere need a whole path
    run_id = uuid.uuid4().hex[:12]
    with _locked(out):
        ledger = Ledger(out)
        if ledger.path.exists() and ledger.path.stat().st_size and not resume:
            raise InputError(
                "the folder holds a cohort run (manifest.jsonl)",
                source=str(out),
                expected="--resume to continue it, or another --out",
            )
        latest = ledger.open()
        try:
            sweep(out, live_outputs(latest))
            counts = RunCounts(total=len(tasks))
            todo: list[tuple[TaskSpec, dict[str, Any] | None]] = []
            for spec in tasks:
                prev = latest.get(spec.task_id)
                if resume and prev is not None and _unchanged(spec, prev, out):
                    counts.skipped += 1
                    continue
                done_before = prev if prev is not None and prev.get("status") == "done" else None
                todo.append((spec, done_before))

            def commit(record: dict[str, Any]) -> None:
                record |= {"finished": utc_now(), "run": run_id}
                ledger.append(record)
                latest[record["task"]] = record
                if record.get("status") == "done":
                    counts.done += 1
                else:
                    counts.failed += 1
                counts.last = record
                if progress is not None:
                    progress(counts)

            if progress is not None:
                progress(counts)
            runnable = []
            for spec, prev in todo:
                if spec.problem:  # known before running: recorded without a worker
                    commit(run_task(spec, str(out)))
                else:
                    runnable.append((spec, prev))
            nthreads = 0
            if runnable:
                with _client(
                    workers=workers,
                    memory_limit=memory_limit,
                    scheduler=scheduler,
                    dashboard=dashboard,
                ) as client:
                    nthreads = sum(client.nthreads().values()) or 1
                    _drive(client, runnable, out, run_id, task_function, commit, window, nthreads)
        finally:
            ledger.close()
        sweep(out, live_outputs(latest))
        write_failed_csv(out, latest)
        people = dict(participants or {})
        n_profiles = build_profiles(out, people)
        failures = sorted(
            (r["task"], r.get("error") or "") for r in latest.values() if r["status"] != "done"
        )
        summary = RunSummary(out, counts, time.perf_counter() - t0, nthreads, failures, n_profiles)
        write_text_atomic(
            out / "run.json",
            json.dumps(
                {
                    "run": run_id,
                    "finished": utc_now(),
                    "seconds": round(summary.seconds, 3),
                    "worker_threads": nthreads,
                    "scheduler": scheduler or "LocalCluster",
                    "total": counts.total,
                    "done": counts.done,
                    "failed": counts.failed,
                    "skipped": counts.skipped,
                    "failed_at_end": len(failures),
                    "profiles": n_profiles,
                    "spinestab_version": spinestab.__version__,
                },
                indent=2,
            )
            + "\n",
        )
    return summary


def _drive(
    client: Any,
    runnable: list[tuple[TaskSpec, dict[str, Any] | None]],
    out: Path,
    run_id: str,
    task_function: Callable[..., dict[str, Any]],
    commit: Callable[[dict[str, Any]], None],
    window: int | None,
    nthreads: int,
) -> None:
    """Keep up to ``window`` tasks on the cluster; commit each record as it arrives."""
    from dask.distributed import as_completed

    size = window or max(8, 4 * nthreads)
    pending = enumerate(runnable)
    specs: dict[str, TaskSpec] = {}

    def submit() -> Any:
        item = next(pending, None)
        if item is None:
            return None
        number, (spec, prev) = item
        key = f"spinestab-{spec.kind}-{run_id}-{number}"
        specs[key] = spec
        return client.submit(task_function, spec, str(out), prev, key=key, pure=False)

    first = [f for f in (submit() for _ in range(size)) if f is not None]
    # results come back with the completions (no round trip per task) and in batches
    queue = as_completed(first, with_results=True, raise_errors=False)
    for batch in queue.batches():
        for future, result in batch:
            spec = specs.pop(future.key)
            if future.status == "finished":
                record = result
            else:  # the worker died or the result could not come back
                exc = result if isinstance(result, BaseException) else future.exception()
                record = _crash_record(spec, exc)
            future.release()
            commit(record)
            nxt = submit()
            if nxt is not None:
                queue.add(nxt)
