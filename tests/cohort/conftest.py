"""Fixtures of the cohort tests: a small synthetic cohort with three broken subjects.

Built once per session (tiny: 1-hour recordings at 25 Hz); each test copies what it changes.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

WEARABLE_DATA = Path(__file__).resolve().parents[1] / "data" / "wearable"

#: The three broken tasks of the "broken" cohort and what their error must name.
BROKEN = {
    "sub-002/mri": ("sub-002_water.nii.gz", "cannot read NIfTI"),
    "sub-004/forms": ("odi.json", "incomplete odi form"),
    "sub-007/wearable": ("sub-007_task-daily_tracksys-trunk_motion.cwa", "cut short"),
}


@pytest.fixture(scope="session")
def clean_cohort(tmp_path_factory):
    """Six subjects: a Dixon phantom, trunk (+ thigh every second one), two forms each."""
    from spinestab.cohort.synthetic import write_synthetic_cohort

    return write_synthetic_cohort(
        tmp_path_factory.mktemp("cohort") / "ds", subjects=6, hours=1.0, fs_hz=25, mri=True, seed=3
    )


def break_cohort(root: Path) -> None:
    """Add the faults of BROKEN to a copy of the clean cohort (tree and manifest alike)."""
    water = root / "sub-002" / "anat" / "sub-002_water.nii.gz"
    water.write_bytes(water.read_bytes()[:20000])  # a copy cut short
    odi = root / "sub-004" / "forms" / "odi.json"
    doc = json.loads(odi.read_text())
    for section in ("s5", "s6", "s7", "s8", "s9", "s10"):  # half of the form left empty
        doc["answers"][section] = None
    odi.write_text(json.dumps(doc))
    # a seventh subject whose trunk file (a real AX3 recording) was cut mid-block
    motion = root / "sub-007" / "motion"
    motion.mkdir(parents=True)
    raw = (WEARABLE_DATA / "ax3_sample.cwa").read_bytes()
    cwa = motion / "sub-007_task-daily_tracksys-trunk_motion.cwa"
    cwa.write_bytes(raw[: 512 * 60 + 200])
    with (root / "participants.tsv").open("a") as fh:
        fh.write("sub-007\tF\t41\n")
    with (root / "manifest.csv").open("a", newline="") as fh:
        csv.writer(fh).writerow(["sub-007", "wearable", str(cwa.relative_to(root)), ""])


@pytest.fixture(scope="session")
def broken_cohort(clean_cohort, tmp_path_factory):
    """The clean cohort plus a corrupt NIfTI (sub-002), a half-filled ODI (sub-004) and a
    truncated CWA (sub-007)."""
    root = tmp_path_factory.mktemp("broken") / "ds"
    shutil.copytree(clean_cohort.root, root)
    break_cohort(root)
    return root


def read_table(out: Path, table: str):
    """A table of a run, sorted so that runs can be compared row for row."""
    import pandas as pd

    df = pd.read_parquet(out / table)
    keys = [
        c
        for c in ("subject", "session", "date", "instrument", "file", "muscle", "side", "level")
        if c in df.columns
    ]
    return df.sort_values(keys, na_position="first").reset_index(drop=True)


@pytest.fixture(scope="session")
def bids_run(broken_cohort, tmp_path_factory):
    """The broken cohort run from its BIDS tree by the CLI on 2 workers: (folder, result)."""
    from typer.testing import CliRunner

    from spinestab.cli import app

    out = tmp_path_factory.mktemp("run") / "out"
    res = CliRunner().invoke(
        app, ["cohort", "run", str(broken_cohort), "--out", str(out), "--workers", "2"]
    )
    return out, res
