"""Tables that hold both sensors side by side (HARTH / HAR70+ layout: back_x ... thigh_z).

HARTH (Logacjov et al. 2021, Sensors 21:7853) and HAR70+ ship one CSV per subject with the
columns ``timestamp, back_x, back_y, back_z, thigh_x, thigh_y, thigh_z, label``, times as
``2020-11-02 12:12:30.649`` and both Axivity AX3 sensors mounted with x pointing down
(x reads about -1 g when upright; ntnu-ai-lab/harth-ml-experiments, adult_walking_speed/01.csv).
The truth here is the scripted recording's per-second posture.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.wearable.io import read_recording, table_locations
from spinestab.wearable.posture import CLASS_NAMES
from spinestab.wearable.synthetic import scripted_recording

FS = 25
T0, T1 = 9 * 3600, 11 * 3600  # 09:00-11:00 of the scripted day: sitting, standing, walking


def _harth_frame(a: np.ndarray) -> np.ndarray:
    """Segment frame (x up) to HARTH's (x down): a 180 degree turn about z."""
    return np.column_stack([-a[:, 0], -a[:, 1], a[:, 2]])


@pytest.fixture(scope="module")
def harth(tmp_path_factory):
    syn = scripted_recording(days=1, fs_hz=FS, seed=5, rotate=False)
    sl = slice(T0 * FS, T1 * FS)
    trunk, thigh = _harth_frame(syn.trunk[sl]), _harth_frame(syn.thigh[sl])
    ms = int(syn.start_unix_s) * 1000 + np.arange(T0 * FS, T1 * FS) * (1000 // FS)
    t = pd.to_datetime(ms, unit="ms")  # whole milliseconds, as HARTH writes them
    df = pd.DataFrame(
        {
            "timestamp": t.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3],
            **{f"back_{k}": trunk[:, i] for i, k in enumerate("xyz")},
            **{f"thigh_{k}": thigh[:, i] for i, k in enumerate("xyz")},
            "label": 6,
        }
    )
    d = tmp_path_factory.mktemp("harth")
    df.to_csv(d / "S001.csv", index=False, float_format="%.6f")
    df.drop(columns=[f"back_{k}" for k in "xyz"]).to_csv(d / "thigh_only.csv", index=False)
    df.to_parquet(d / "S001.parquet")
    df.to_csv(d / "S001.CSV.GZ", index=False, float_format="%.6f", compression="gzip")
    truth = np.asarray(CLASS_NAMES)[syn.posture[T0:T1]]
    return d, trunk, thigh, truth


def test_each_location_reads_its_own_columns(harth):
    d, trunk, thigh, _ = harth
    for name in ("S001.csv", "S001.parquet", "S001.CSV.GZ"):
        rt = read_recording(d / name, location="trunk")
        rh = read_recording(d / name, location="thigh")
        assert rt.fs_hz == FS and rt.units == "g"
        n = min(rt.n_samples, trunk.shape[0])
        assert n >= trunk.shape[0] - 1
        np.testing.assert_allclose(rt.read(0, n), trunk[:n], atol=2e-6)
        np.testing.assert_allclose(rh.read(0, n), thigh[:n], atol=2e-6)
        # the HARTH clock string is the recording's clock
        assert rt.start_unix_s == pytest.approx(1704067200.0 + T0, abs=1e-3)


def test_locations_listed_and_ambiguity_refused(harth):
    d, *_ = harth
    assert table_locations(d / "S001.csv") == ["thigh", "trunk"]
    assert table_locations(d / "S001.parquet") == ["thigh", "trunk"]
    assert table_locations(d / "S001.CSV.GZ") == ["thigh", "trunk"]
    assert table_locations(d / "thigh_only.csv") == ["thigh"]
    with pytest.raises(InputError, match="several sensors"):
        read_recording(d / "S001.csv")
    # a thigh-only table given as the trunk: a swapped file is an error, not a trunk
    with pytest.raises(InputError, match="no trunk acceleration"):
        read_recording(d / "thigh_only.csv", location="trunk")
    # one sensor and no location asked: that sensor
    assert read_recording(d / "thigh_only.csv").n_samples > 0
    with pytest.raises(InputError, match="unknown sensor location"):
        read_recording(d / "S001.csv", location="wrist")


@pytest.mark.parametrize(
    ("names", "location"),
    [
        (["Lower Back X", "Lower Back Y", "Lower Back Z"], "trunk"),
        (["lumbarAccX", "lumbarAccY", "lumbarAccZ"], "trunk"),
        (["thigh acc x [g]", "thigh acc y [g]", "thigh acc z [g]"], "thigh"),
    ],
)
def test_location_words_in_other_spellings(tmp_path, names, location):
    p = tmp_path / "r.csv"
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.01, (500, 3)) + np.array([0.0, 0.0, 1.0])
    pd.DataFrame(
        {"time": 1.7e9 + np.arange(500) / 50, **dict(zip(names, a.T, strict=True))}
    ).to_csv(p, index=False)
    assert table_locations(p) == [location]
    np.testing.assert_allclose(read_recording(p).read(0, 500), a, atol=1e-5)


def test_cli_one_harth_file_gives_trunk_and_thigh(harth, tmp_path):
    d, _, _, truth = harth
    res = CliRunner().invoke(
        app, ["wearable", "--trunk", str(d / "S001.csv"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "thigh: read from the thigh columns" in res.output
    post = pd.read_parquet(tmp_path / "o" / "per_second.parquet")["posture"].to_numpy()
    n = min(post.size, truth.size)
    # sitting and standing told apart: only a thigh sensor makes that possible
    assert {"sitting", "standing"} <= set(truth[:n]) and "upright_static" not in set(post)
    assert (post[:n] == truth[:n]).mean() >= 0.95
