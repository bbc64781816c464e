"""``spinestab wearable --out`` is written atomically (issues 16.4 and 10.4).

A folder with an earlier run's pictures never keeps foreign ``timeline_*.png`` beside the
new ones, and a run killed with SIGKILL at any moment never leaves a half-written picture
beside a complete-looking summary: the folder holds either a complete result or no summary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.wearable.synthetic import scripted_recording

SRC = Path(__file__).resolve().parents[2] / "src"
PNG = b"\x89PNG\r\n\x1a\n"


def _npy(tmp_path: Path, name: str, *, days: float, start: str, seed: int) -> list[str]:
    syn = scripted_recording(days=days, fs_hz=25, seed=seed)
    path = tmp_path / f"{name}.npy"
    np.save(path, syn.trunk)
    return ["--trunk", str(path), "--fs", "25", "--start", start, "--units", "g"]


def _check_complete(out: Path) -> set[str]:
    """A folder with a summary holds one run's complete result; return its timeline days."""
    summary = json.loads((out / "wearable_summary.json").read_text())
    days = {p.name[len("timeline_") : -len(".png")] for p in out.glob("timeline_*.png")}
    rows = (out / "daily.csv").read_text().strip().splitlines()[1:]
    assert days == {r.split(",")[0] for r in rows}, "timelines of another run"
    for p in out.glob("timeline_*.png"):
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 1000, p.name
    import pyarrow.parquet as pq

    assert pq.read_metadata(out / "per_second.parquet").num_rows == summary["seconds"]
    assert (out / "prompts.csv").read_text().startswith("time,")
    return days


def test_earlier_pictures_never_stay_beside_new_ones(tmp_path):
    out = tmp_path / "out"
    first = _npy(tmp_path, "a", days=2, start="2023-05-01T00:00", seed=1)
    assert CliRunner().invoke(app, ["wearable", *first, "--out", str(out)]).exit_code == 0
    assert _check_complete(out) == {"2023-05-01", "2023-05-02"}
    (out / "notes.txt").write_text("the user's own file")
    second = _npy(tmp_path, "b", days=0.5, start="2024-01-01T00:00", seed=2)
    res = CliRunner().invoke(app, ["wearable", *second, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _check_complete(out) == {"2024-01-01"}  # the 2023 pictures are gone
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_a_killed_run_never_leaves_a_complete_looking_half_result(tmp_path):
    out = tmp_path / "out"
    first = _npy(tmp_path, "a", days=2, start="2023-05-01T00:00", seed=1)
    assert CliRunner().invoke(app, ["wearable", *first, "--out", str(out)]).exit_code == 0
    (out / "notes.txt").write_text("keep")
    second = _npy(tmp_path, "b", days=1, start="2024-01-01T00:00", seed=2)
    cmd = [
        sys.executable,
        "-c",
        "from spinestab.cli import main; main()",
        "wearable",
        *second,
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(SRC), "SPINESTAB_DATA_DIR": str(tmp_path / "data")}
    outcomes = []
    for delay in (0.2, 0.6, 1.0, 1.5, 2.0, 2.6, 3.2, 4.0, 5.0, 6.5, 8.0):
        with subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as proc:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert (out / "notes.txt").read_text() == "keep"
        if (out / "wearable_summary.json").exists():
            outcomes.append(frozenset(_check_complete(out)))
        else:  # visibly incomplete: no summary; no picture is a 0-byte leftover of a kill
            outcomes.append(frozenset())
            for p in out.glob("timeline_*.png"):
                assert p.read_bytes()[:8] == PNG
    assert frozenset({"2023-05-01", "2023-05-02"}) in outcomes  # killed before the commit
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert _check_complete(out) == {"2024-01-01"}
