"""`spinestab instability`: the files it writes, the record fields, exit code 2 on bad input."""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.instability import landmarks_to_csv, landmarks_to_dict, read_landmarks
from spinestab.instability.phantom import example_study

runner = CliRunner()
EXAMPLES = Path(str(resources.files("spinestab").joinpath("data/examples/instability")))
MASKS = Path(__file__).parents[1] / "data" / "instability" / "tptbox_ct_L2-L4"
VERT = MASKS / "sub-ct_seg-vert_label-22_msk.nii.gz"
# TotalSegmentator 'total' example (imaging engineer's copy, read only; Apache-2.0)
TS_SEG = Path(__file__).parents[1] / "data" / "imaging" / "totalsegmentator" / "example_seg.nii.gz"
REQUIRED = (
    "level",
    "slip_mm",
    "slip_pct",
    "meyerding_grade",
    "translation_mm",
    "translation_pct",
    "angulation_deg",
    "verdict",
    "reasons",
)


def run(*args):
    return runner.invoke(app, ["instability", *[str(a) for a in args]])


def test_bundled_examples_are_the_documented_study():
    study = example_study()
    for view, ls in study.items():
        for fmt in ("json", "csv"):
            loaded = read_landmarks(EXAMPLES / f"{view}.{fmt}", view=view)
            assert loaded.levels == ls.levels and loaded.pixel_spacing_mm == (0.143, 0.143)
            for level in ls.levels:
                np.testing.assert_array_equal(loaded.vertebrae[level], ls.vertebrae[level])
        assert landmarks_to_csv(ls) == (EXAMPLES / f"{view}.csv").read_text()
        data = json.loads((EXAMPLES / f"{view}.json").read_text())
        data.pop("description")
        assert data == landmarks_to_dict(ls)


def test_dynamic_study_writes_json_and_picture(tmp_path):
    out = tmp_path / "out"
    result = run(
        "--neutral",
        EXAMPLES / "neutral.json",
        "--flexion",
        EXAMPLES / "flexion.csv",
        "--extension",
        EXAMPLES / "extension.csv",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "instability.json").read_text())
    png = (out / "instability.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert data["schema"] == "spinestab.instability/1" and data["picture"] == "instability.png"
    assert [r["level"] for r in data["levels"]] == ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
    for rec in data["levels"]:
        assert all(key in rec for key in REQUIRED)
    rec = next(r for r in data["levels"] if r["level"] == "L4-L5")
    # truth of the example (before 0.1 px rounding): 6 mm / 14.3 %, translation 4.5 mm / 10.7 %
    assert rec["slip_mm"] == pytest.approx(6.0, abs=0.1)
    assert rec["slip_pct"] == pytest.approx(100 * 6 / 42, abs=0.2)
    assert rec["translation_pct"] == pytest.approx(100 * 4.5 / 42, abs=0.2)
    assert rec["angulation_deg"] == pytest.approx(11.0, abs=0.2)
    assert rec["meyerding_grade"] == 1 and rec["verdict"] == "borderline"
    assert data["magnification_known"] is False and data["preferred_measures"] == "pct"
    assert data["lordosis"]["by_view"]["neutral"] == pytest.approx(50.5, abs=0.3)
    assert "L4-L5" in result.output and "borderline" in result.output


def test_thresholds_option_changes_the_verdict(tmp_path):
    result = run(
        "--flexion",
        EXAMPLES / "flexion.json",
        "--extension",
        EXAMPLES / "extension.json",
        "--thresholds",
        "nordsten",
        "--out",
        tmp_path,
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rec = next(r for r in data["levels"] if r["level"] == "L4-L5")
    assert rec["verdict"] == "unstable" and data["thresholds"]["name"] == "nordsten"
    assert rec["static_verdict"] is None


def test_mask_input(tmp_path):
    pytest.importorskip("nibabel")
    result = run("--mask", VERT, "--labels", "spineps", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "instability.json").read_text())
    assert [r["level"] for r in data["levels"]] == ["L2-L3", "L3-L4"]
    assert data["magnification_known"] is True and data["preferred_measures"] == "mm"
    assert (tmp_path / "landmarks_neutral.json").is_file()
    # the derived corners can be fed back as a neutral landmark file: same measures
    again = run("--neutral", tmp_path / "landmarks_neutral.json", "--out", tmp_path / "b")
    assert again.exit_code == 0, again.output
    data_b = json.loads((tmp_path / "b" / "instability.json").read_text())
    for a, b in zip(data["levels"], data_b["levels"], strict=True):
        assert a["slip_mm"] == b["slip_mm"] and a["segmental_angle_deg"] == b["segmental_angle_deg"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "no input given"),
        (["--flexion", "{ex}/flexion.json"], "needs both --flexion and --extension"),
        (["--extension", "{ex}/extension.json"], "needs both --flexion and --extension"),
        (["--neutral", "{ex}/neutral.json", "--mask", "{vert}"], "either --neutral or --mask"),
        (["--neutral", "{ex}/flexion.json"], "flexion view but was given as neutral"),
        (["--neutral", "{ex}/nope.json"], "file not found"),
        (["--neutral", "{ex}/README.md"], "unsupported landmark file type"),
        (["--neutral", "{ex}/neutral.json", "--thresholds", "bogus"], "unknown threshold set"),
        (["--mask", "{vert}", "--labels", "weird"], "unknown label scheme"),
        (["--mask", "{vert}", "--labels", "totalsegmentator"], "no vertebra of the label scheme"),
        (["--neutral", "{ex}/neutral.json", "--subreg", "{vert}"], "--subreg needs --mask"),
        (["--neutral", "{ex}/neutral.json", "--labels", "tptbox"], "--labels needs --mask"),
        (["--neutral", "{ex}/neutral.json", "--corners", "extremes"], "--corners needs --mask"),
        (["--mask", "{vert}", "--corners", "hull"], "Invalid value for '--corners'"),
        (
            ["--neutral", "{ex}/neutral.json", "--translation-method", "taillard"],
            "Invalid value for '--translation-method'",
        ),
    ],
)
def test_bad_input_exit_2_and_nothing_written(tmp_path, args, words):
    out = tmp_path / "out"
    args = [a.format(ex=EXAMPLES, vert=VERT) for a in args]
    result = run(*args, "--out", out)
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not (out / "instability.json").exists()


def test_bad_landmarks_in_file_exit_2(tmp_path):
    data = json.loads((EXAMPLES / "neutral.json").read_text())
    data["vertebrae"]["L4"]["anterior_superior"] = ["x", 1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = run("--neutral", path, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "L4.anterior_superior" in result.output and "not a number" in result.output


def test_quality_problems_are_reported_not_fatal(tmp_path):
    data = json.loads((EXAMPLES / "neutral.json").read_text())
    l3 = data["vertebrae"]["L3"]
    l3["anterior_superior"], l3["posterior_superior"] = (
        l3["posterior_superior"],
        l3["anterior_superior"],
    )
    path = tmp_path / "swapped.json"
    path.write_text(json.dumps(data))
    result = run("--neutral", path, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    out = json.loads((tmp_path / "o" / "instability.json").read_text())
    rec = next(r for r in out["levels"] if r["level"] == "L2-L3")
    assert rec["slip_mm"] is None and rec["verdict"] == "not_assessable"
    assert any(q["check"] == "corner_order" and q["level"] == "L3" for q in rec["quality"])
    # the reason names the level, the check and what is wrong
    assert any("L3" in r and "corner_order" in r and "swapped" in r for r in rec["reasons"])
    assert "quality" in result.output


def test_pixels_declared_as_mm_are_caught(tmp_path):
    # a frequent slip: pixel coordinates with "units": "mm" -> 250-300 "mm" endplates
    data = json.loads((EXAMPLES / "neutral.json").read_text())
    data["units"] = "mm"
    data.pop("pixel_spacing_mm")
    path = tmp_path / "wrong_units.json"
    path.write_text(json.dumps(data))
    result = run("--neutral", path, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    out = json.loads((tmp_path / "o" / "instability.json").read_text())
    assert all(rec["verdict"] == "not_assessable" for rec in out["levels"])
    assert all(rec["slip_mm"] is None for rec in out["levels"])
    msgs = [q["message"] for q in out["quality"] if q["check"] == "endplate_length"]
    assert msgs and all("check units, pixel spacing" in m for m in msgs)


def test_translation_method_and_margin_options(tmp_path):
    views = ["--flexion", EXAMPLES / "flexion.json", "--extension", EXAMPLES / "extension.json"]
    outs = {}
    for name, extra in (
        ("corner", []),
        ("wall", ["--translation-method", "posterior-wall"]),
        ("nomargin", ["--thresholds", "nordsten", "--no-margin"]),
        ("margin", ["--thresholds", "nordsten"]),
    ):
        result = run(*views, *extra, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        outs[name] = json.loads((tmp_path / name / "instability.json").read_text())
    assert outs["corner"]["translation_method_id"] == "corner"
    assert outs["wall"]["translation_method_id"] == "posterior-wall"
    assert "Morgan-King" in outs["wall"]["translation_method"]
    # the methods differ where the segment angle changes between flexion and extension
    a = {r["level"]: r["translation_mm"] for r in outs["corner"]["levels"]}
    b = {r["level"]: r["translation_mm"] for r in outs["wall"]["levels"]}
    assert a["L4-L5"] != pytest.approx(b["L4-L5"], abs=0.1)
    assert outs["nomargin"]["thresholds"]["measurement_margin"] is None
    assert outs["margin"]["thresholds"]["measurement_margin"]["mm"] == 1.0
    for data in outs.values():
        for rec in data["levels"]:
            assert rec["verdict"] in ("stable", "borderline", "unstable", "not_assessable")


@pytest.mark.skipif(not TS_SEG.is_file(), reason="TotalSegmentator example not available")
def test_wrong_label_scheme_is_caught(tmp_path):
    pytest.importorskip("nibabel")
    # TotalSegmentator organ labels 1-25 read as SPINEPS vertebrae: out of anatomical order
    out = tmp_path / "o"
    result = run("--mask", TS_SEG, "--labels", "spineps", "--out", out)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "not in anatomical order" in text and "example_seg.nii.gz" in text
    assert "--labels" in text and "below" in text
    assert not out.exists()
    ok = run("--mask", TS_SEG, "--labels", "totalsegmentator", "--out", out)
    assert ok.exit_code == 0, ok.output
    data = json.loads((out / "instability.json").read_text())
    assert [r["level"] for r in data["levels"]] == ["T12-L1", "L1-L2"]


def test_bad_coordinates_show_the_value(tmp_path):
    data = json.loads((EXAMPLES / "neutral.json").read_text())
    text = json.dumps(data).replace(
        json.dumps(data["vertebrae"]["L4"]["anterior_inferior"]), "[NaN, 2.0]", 1
    )
    path = tmp_path / "nan.json"
    path.write_text(text)
    result = run("--neutral", path, "--out", tmp_path / "o")
    assert result.exit_code == 2
    msg = " ".join(result.output.split())
    assert "nan.json" in msg and "L4.anterior_inferior" in msg and "not finite" in msg
    assert "(nan, 2.0)" in msg and "two finite numbers (x, y)" in msg
    assert not (tmp_path / "o").exists()


def test_out_below_a_file_exits_2(tmp_path):
    # black-box finding: --out inside a file ended in a NotADirectoryError traceback
    (tmp_path / "taken").write_text("")
    result = run("--neutral", EXAMPLES / "neutral.json", "--out", tmp_path / "taken" / "sub")
    assert result.exit_code == 2, result.output
    assert "cannot create the output folder" in " ".join(result.output.split())
