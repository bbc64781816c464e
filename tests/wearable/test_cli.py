"""``spinestab wearable`` end to end on a short scripted recording."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.wearable.synthetic import scripted_recording

DAILY = [
    "date",
    "wear_min",
    "lying_min",
    "sitting_min",
    "standing_min",
    "upright_static_min",
    "walking_min",
    "steps",
    "forward_ge20_min",
    "forward_ge30_min",
    "forward_ge60_min",
    "forward_ge90_min",
    "longest_static_bout_min",
    "static_bouts_over_30min",
    "breaks",
    "prompts",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("w")
    syn = scripted_recording(days=1, fs_hz=25, seed=21)
    np.save(d / "trunk.npy", syn.trunk)
    np.save(d / "thigh.npy", syn.thigh)
    (d / "meta.json").write_text(json.dumps({"fs": 25, "start": "2024-01-01T00:00:00Z"}))
    return d, syn


def test_cli_writes_the_promised_outputs(files):
    pq = pytest.importorskip("pyarrow.parquet")
    d, syn = files
    out = d / "out"
    res = CliRunner().invoke(
        app,
        [
            "wearable",
            "--trunk",
            str(d / "trunk.npy"),
            "--thigh",
            str(d / "thigh.npy"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    t = pq.read_table(out / "per_second.parquet")
    for c in ("time", "posture", "trunk_inclination_deg", "nonwear"):
        assert c in t.column_names
    assert t.num_rows == syn.posture.size
    post = np.asarray(t.column("posture").to_pylist())
    from spinestab.wearable.posture import CLASS_NAMES

    assert (post == np.asarray(CLASS_NAMES)[syn.posture]).mean() >= 0.95
    with open(out / "daily.csv") as f:
        rows = list(csv.DictReader(f))
    assert set(DAILY) <= set(rows[0])
    assert rows[0]["date"] == "2024-01-01"
    with open(out / "prompts.csv") as f:
        prompts = list(csv.DictReader(f))
    assert len(prompts) == int(float(rows[0]["prompts"]))
    assert prompts and all(p["message"].startswith("Time to move") for p in prompts)
    assert (out / "timeline_2024-01-01.png").stat().st_size > 5000


def test_prompt_messages_come_from_the_chosen_language(files):
    d, _ = files
    out = d / "out_de"
    args = ["wearable", "--trunk", str(d / "trunk.npy"), "--no-pictures", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--lang", "de"])
    assert res.exit_code == 0, res.output
    with open(out / "prompts.csv") as f:
        prompts = list(csv.DictReader(f))
    assert prompts and all(p["message"].startswith("Zeit für Bewegung") for p in prompts)
    res = CliRunner().invoke(app, [*args, "--lang", "fr"])
    assert res.exit_code == 2 and "fr" in res.output


def test_cli_bad_input_exit_code_2(tmp_path):
    bad = tmp_path / "two.csv"
    bad.write_text("time,x,y\n1,0,1\n2,0,1\n")
    res = CliRunner().invoke(app, ["wearable", "--trunk", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "three axes" in res.output or "two axes" in res.output
    assert not (tmp_path / "daily.csv").exists()


def test_cli_reads_a_device_file(tmp_path):
    from .conftest import DATA

    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["wearable", "--trunk", str(DATA / "ax6_sample.cwa"), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "wearable_summary.json").read_text())
    assert summary["setup"] == "trunk only"
    assert summary["trunk"]["device"] == "AX6" and summary["trunk"]["units"] == "g"
    assert summary["seconds"] == 105


def test_cli_sit_to_stand_method_option(tmp_path):
    from .conftest import DATA, load_npz

    base = ["wearable", "--trunk", str(DATA / "s2s_input_data.npz"), "--no-pictures"]
    out = tmp_path / "disp"
    res = CliRunner().invoke(app, [*base, "--sit-to-stand", "displacement", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "wearable_summary.json").read_text())
    ref = load_npz(DATA / "s2s_displacement_results.npz")["STS Start"]
    found = np.asarray(summary["sit_to_stand_unix_s"])
    assert summary["sit_to_stand_method"] == "displacement" and found.size == ref.size == 5
    assert np.max(np.abs(found - ref)) <= 0.1
    res = CliRunner().invoke(app, [*base, "--sit-to-stand", "bogus", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "sit-to-stand" in res.output
