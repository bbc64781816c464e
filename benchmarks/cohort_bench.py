"""Cohort benchmark: wall time on 1 and 2 Dask workers, overhead per task, memory per worker.

One command: ``python -m benchmarks cohort`` (options below). A synthetic cohort
(``spinestab.cohort.synthetic``: per subject a Dixon phantom MRI of L3-L5 with known fat
(``imaging.phantom``) and its masks, a one-day scripted trunk recording, a thigh recording
for every second subject, two questionnaires) is generated once into
``benchmarks/results/cohort_data``.

Printed side by side, each the best of ``--repeat`` runs:

* ``spinestab cohort`` (LocalCluster start included) on 1 and on 2 workers;
* the peers a research engineer would otherwise write: the same task function in a plain
  Python loop, and in a ``concurrent.futures.ProcessPoolExecutor`` of 2 processes (neither
  resumable nor failure-proof);
* overhead per task: the slope of the wall time of no-op tasks (10 vs ``--noop`` tasks);
* peak resident memory per worker (from ``manifest.jsonl``) and the machine's load average
  before and after each run (the machine is shared: figures move with it).

Then a worked estimate for a 100,000-subject wearable cohort on N workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "results" / "cohort_data"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _dataset(args: argparse.Namespace) -> Path:
    from spinestab.cohort.synthetic import write_synthetic_cohort

    root = DATA / f"{args.subjects}x{args.hours:g}h_{args.fs}hz_{args.format}_mri"
    if not (root / "manifest.csv").exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        print(f"generating {args.subjects} subjects ({args.hours:g} h at {args.fs} Hz) in {root}")
        write_synthetic_cohort(
            root,
            subjects=args.subjects,
            hours=args.hours,
            fs_hz=args.fs,
            recording_format=args.format,
            mri=True,
            seed=7,
        )
        print(f"  generated in {time.perf_counter() - t0:.0f} s")
    return root


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _cohort_run(tasks, people, workers: int, task_function=None) -> tuple[float, list[dict]]:
    from spinestab.cohort import run_cohort
    from spinestab.cohort.tasks import run_task

    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp:
        t0 = time.perf_counter()
        summary = run_cohort(
            tasks,
            Path(tmp) / "out",
            participants=people,
            workers=workers,
            task_function=task_function or run_task,
        )
        wall = time.perf_counter() - t0
        assert not summary.failures, summary.failures[:3]
        return wall, _manifest(Path(tmp) / "out")


def _loop(tasks) -> float:
    from spinestab.cohort.tasks import run_task

    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp:
        t0 = time.perf_counter()
        for spec in tasks:
            rec = run_task(spec, tmp)
            assert rec["status"] == "done", rec["error"]
        return time.perf_counter() - t0


def _pool(tasks, workers: int) -> float:
    from spinestab.cohort.tasks import run_task

    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp:
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            recs = list(pool.map(run_task, tasks, [tmp] * len(tasks)))
        assert all(r["status"] == "done" for r in recs)
        return time.perf_counter() - t0


_ONE_TASK = """
import json, sys
from spinestab.cohort.dataset import TaskSpec
from spinestab.cohort.tasks import run_task
spec = TaskSpec("sub-long", None, "wearable", inputs=(("trunk", sys.argv[1]),))
rec = run_task(spec, sys.argv[2])
print(json.dumps({k: rec[k] for k in ("status", "error", "seconds", "peak_memory_mb")}))
"""


def _long_task(days: int) -> dict:
    """One wearable task on a ``days``-day 100 Hz trunk recording, in a fresh process."""
    import subprocess
    import sys

    from benchmarks.wearable_gen import generate

    folder = DATA / f"long_{days}d_100hz"
    trunk = folder / f"trunk_{days}d_100hz.npy"
    if not trunk.exists():
        print(f"generating a {days}-day 100 Hz recording in {folder}")
        generate(days, folder, fs=100)
    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp:
        before = _load()
        res = subprocess.run(
            [sys.executable, "-c", _ONE_TASK, str(trunk), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert rec["status"] == "done", rec["error"]
    print(
        f"  one {days}-day 100 Hz trunk task: {rec['seconds']:.1f} s, peak "
        f"{rec['peak_memory_mb']:.0f} MB   load {before} -> {_load()}"
    )
    return rec


def _cpu_job(seconds: float) -> float:
    """Sort random arrays for about ``seconds`` of one core; return the work done."""
    import numpy as np

    rng = np.random.default_rng(0)
    t0 = time.process_time()
    done = 0.0
    while time.process_time() - t0 < seconds:
        done += float(np.sort(rng.random(500_000))[0]) + 1
    return done


def _machine_parallelism() -> float:
    """Throughput of two plain CPU-bound processes over one, now (2.0 on 2 idle cores)."""
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_cpu_job, [0.2, 0.2]))  # start both processes
        t0 = time.perf_counter()
        one = pool.submit(_cpu_job, 3.0).result()
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        two = sum(pool.map(_cpu_job, [3.0, 3.0]))
        t_two = time.perf_counter() - t0
    return (two / t_two) / (one / t_one)


def _best(label: str, fn, repeat: int) -> tuple[float, object]:
    times, extra = [], None
    for i in range(repeat):
        before = _load()
        result = fn()
        wall, extra = result if isinstance(result, tuple) else (result, None)
        times.append(wall)
        print(f"  {label:<34} run {i + 1}: {wall:7.1f} s   load {before} -> {_load()}")
    return min(times), extra


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks cohort")
    ap.add_argument("--subjects", type=int, default=48)
    ap.add_argument("--hours", type=float, default=24.0, help="recording length per subject")
    ap.add_argument("--fs", type=int, default=25, help="sampling rate (Hz)")
    ap.add_argument("--format", choices=("npz", "csv"), default="npz")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--noop", type=int, default=1000, help="no-op tasks for the overhead")
    ap.add_argument("--no-peers", action="store_true", help="skip the loop and process pool")
    ap.add_argument(
        "--long-days",
        type=int,
        default=0,
        help="also time one wearable task on an N-day 100 Hz recording (the estimate uses it)",
    )
    args = ap.parse_args(argv)

    from spinestab.cohort import discover
    from spinestab.cohort.dataset import TaskSpec
    from spinestab.cohort.tasks import noop_task

    root = _dataset(args)
    tasks, people = discover(root)
    print(
        f"{len(tasks)} tasks ({', '.join(sorted({t.kind for t in tasks}))}) of "
        f"{len(people)} subjects; {os.cpu_count()} CPU cores; load {_load()}"
    )
    machine = [_machine_parallelism()]
    print(f"  two plain processes do {machine[0]:.2f}x the work of one (now, load {_load()})")
    rows: dict[str, float] = {}
    memory: dict[int, float] = {}
    per_task: dict[int, dict[str, float]] = {}
    for workers in (1, 2):
        wall, records = _best(
            f"spinestab cohort, {workers} worker(s)",
            lambda w=workers: _cohort_run(tasks, people, w),
            args.repeat,
        )
        rows[f"spinestab cohort, {workers} worker(s)"] = wall
        by_pid: dict[int, float] = {}
        for r in records:
            by_pid[r["pid"]] = max(by_pid.get(r["pid"], 0.0), r["peak_memory_mb"])
        memory[workers] = max(by_pid.values())
        per_task[workers] = {
            kind: statistics.median(r["seconds"] for r in records if r["kind"] == kind)
            for kind in sorted({r["kind"] for r in records})
        }
    if not args.no_peers:
        rows["plain loop (no Dask)"], _ = _best("plain loop", lambda: _loop(tasks), args.repeat)
        rows["ProcessPoolExecutor(2)"], _ = _best(
            "ProcessPoolExecutor(2)", lambda: _pool(tasks, 2), args.repeat
        )
    noop = [TaskSpec(f"sub-{i:06d}", None, "forms") for i in range(args.noop)]
    t_few, _ = _best("no-op x 10, 2 workers", lambda: _cohort_run(noop[:10], {}, 2, noop_task), 1)
    t_many, _ = _best(
        f"no-op x {args.noop}, 2 workers",
        lambda: _cohort_run(noop, {}, 2, noop_task),
        args.repeat,
    )
    overhead = (t_many - t_few) / (args.noop - 10)

    machine.append(_machine_parallelism())
    print(f"  two plain processes do {machine[1]:.2f}x the work of one (now, load {_load()})")
    print("\nwall time (best of runs; cluster start included)")
    base = rows["spinestab cohort, 1 worker(s)"]
    for label, wall in rows.items():
        print(f"  {label:<34} {wall:7.1f} s   {base / wall:5.2f}x vs 1 worker")
    speedup = base / rows["spinestab cohort, 2 worker(s)"]
    print(
        f"  speed-up 1 -> 2 workers: {speedup:.2f}x (goal >= 1.8x on 2 cores); the machine "
        f"gave two plain processes {min(machine):.2f}-{max(machine):.2f}x at the time"
    )
    print(f"overhead per task (no-op slope, 2 workers): {overhead * 1000:.1f} ms")
    print(f"cluster start + end, 10 no-op tasks: {t_few:.1f} s")
    for w, mb in memory.items():
        print(f"peak resident memory per worker ({w} worker(s)): {mb:.0f} MB")
    for w, kinds_s in per_task.items():
        text = ", ".join(f"{k} {s:.2f} s" for k, s in kinds_s.items())
        print(f"median task time on {w} worker(s): {text}")

    estimates = [(f"{args.hours:g} h at {args.fs} Hz", per_task[1].get("wearable"))]
    if args.long_days:
        long = _long_task(args.long_days)
        estimates.append((f"{args.long_days} days at 100 Hz", long["seconds"]))
    for what, seconds in estimates:
        if not seconds:
            continue
        per = seconds + overhead
        print(
            f"\nestimate, 100,000 wearable subjects x {what} ({seconds:.2f} s per task "
            f"+ {overhead * 1000:.0f} ms overhead; cluster start left out):"
        )
        for n in (2, 16, 64, 256):
            print(f"  {n:>4} workers: {100_000 * per / n / 3600:8.1f} h")
    return 0
