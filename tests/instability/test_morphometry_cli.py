"""`spinestab morphometry`: the JSON contract, the pictures, bad input (exit 2, nothing
written), and atomic output folders of both structure commands."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.instability import landmarks_to_csv, landmarks_to_dict
from spinestab.instability.phantom import analytic_vertebrae, to_pixels, transform

runner = CliRunner()
DATA = Path(__file__).parents[1] / "data" / "instability"
CT = DATA / "tptbox_ct_L2-L4" / "sub-ct_seg-vert_label-22_msk.nii.gz"
KEYS = [
    "level",
    "anterior_height_mm",
    "middle_height_mm",
    "posterior_height_mm",
    "wedge_loss_pct",
    "biconcave_loss_pct",
    "crush_loss_pct",
    "height_loss_pct",
    "deformity",
    "genant_grade",
    "flags",
]
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return runner.invoke(app, ["morphometry", *[str(a) for a in args]])


def _film(tmp_path, *, fmt="json", heights=None):
    heights = heights or {
        "T12": (25.0, 25.0, 25.0),
        "L1": (17.5, 21.25, 25.0),  # wedge 30 %: grade 2
        "L2": (25.0, 19.5, 25.0),  # biconcave 22 %: grade 1
        "L3": (25.0, 25.0, 25.0),
    }
    ls = transform(analytic_vertebrae(heights), rotation_deg=170.0, shift=(80.0, 90.0))
    ls = to_pixels(ls, pixel_spacing_mm=(0.12, 0.15))
    path = tmp_path / f"film.{fmt}"
    data = landmarks_to_dict(ls)
    del data["view"]  # a film for morphometry need not say its view
    if fmt == "json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(landmarks_to_csv(ls))
    return path


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_landmark_film_gives_the_contract_and_pictures(tmp_path, fmt):
    out = tmp_path / "out"
    result = run("--landmarks", _film(tmp_path, fmt=fmt), "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "morphometry.json").read_text())
    assert [list(v) for v in data["vertebrae"]] == [KEYS] * 4
    recs = {v["level"]: v for v in data["vertebrae"]}
    assert (recs["L1"]["deformity"], recs["L1"]["genant_grade"]) == ("wedge", 2)
    assert recs["L1"]["anterior_height_mm"] == pytest.approx(17.5, abs=0.01)
    assert recs["L1"]["wedge_loss_pct"] == pytest.approx(30.0, abs=0.01)
    assert (recs["L2"]["deformity"], recs["L2"]["genant_grade"]) == ("biconcave", 1)
    assert (recs["T12"]["deformity"], recs["T12"]["genant_grade"]) == ("none", 0)
    assert data["rules"]["genant"]["evidence"] == "V"
    assert "Genant" in data["rules"]["genant"]["source"]
    assert "does not diagnose" in data["disclaimer"]
    # one picture per graded vertebra
    assert data["pictures"] == {lv: f"morphometry_{lv}.png" for lv in ("T12", "L1", "L2", "L3")}
    for name in data["pictures"].values():
        assert (out / name).read_bytes()[:8] == PNG
    assert "wedge" in result.output and "grade" in result.output


def test_film_without_mid_points_says_biconcave_unknown(tmp_path):
    heights = {"L1": (25.0, None, 25.0), "L2": (19.0, None, 25.0), "L3": (25.0, None, 25.0)}
    out = tmp_path / "out"
    result = run("--landmarks", _film(tmp_path, heights=heights), "--out", out, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rec = data["vertebrae"][1]
    assert rec["biconcave_loss_pct"] is None and rec["middle_height_mm"] is None
    assert "biconcave_unknown" in rec["flags"] and "biconcave_unknown" in data["flag_meanings"]
    assert (rec["deformity"], rec["genant_grade"]) == ("wedge", 1)
    assert data == json.loads((out / "morphometry.json").read_text())


def test_vertebra_mask_gives_grade_0_for_the_normal_body(tmp_path):
    out = tmp_path / "out"
    result = run("--vertebrae", CT, "--vertebrae-labels", "spineps_vert", "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "morphometry.json").read_text())
    recs = {v["level"]: v for v in data["vertebrae"]}
    assert recs["L3"]["genant_grade"] == 0 and recs["L3"]["middle_height_mm"] > 0
    assert recs["L2"]["flags"] == ["endplate_missing"]
    assert data["inputs"]["vertebrae_labels"] == "spineps_vert"
    assert data["pictures"] == {"L3": "morphometry_L3.png"}
    assert data["unit"] == "mm" and data["magnification_known"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "either --landmarks or --vertebrae"),
        (["--landmarks", "FILM", "--vertebrae", CT], "not both"),
        (["--landmarks", "FILM", "--vertebrae-labels", "spineps"], "needs --vertebrae"),
        (["--landmarks", "FILM", "--corners", "linefit"], "needs --vertebrae"),
        (["--vertebrae", CT, "--vertebrae-labels", "nonsense"], "unknown label scheme"),
        (["--vertebrae", CT, "--corners", "nonsense"], "Invalid value for '--corners'"),
        (["--landmarks", "MISSING.json"], "file not found"),
        (["--landmarks", "BAD"], "unknown corner names"),
        (["--landmarks", "FILM", "--rules", "MISSING.yaml"], "rules file not found"),
    ],
)
def test_bad_input_exit_2_and_nothing_written(tmp_path, args, message):
    film = _film(tmp_path)
    bad = tmp_path / "bad.json"
    data = json.loads(film.read_text())
    data["vertebrae"]["L1"]["mid_superiour"] = [1, 2]
    bad.write_text(json.dumps(data))
    swap = {"FILM": film, "BAD": bad, "MISSING.json": tmp_path / "missing.json"}
    swap["MISSING.yaml"] = tmp_path / "missing.yaml"
    out = tmp_path / "out"
    result = run(*[swap.get(a, a) if isinstance(a, str) else a for a in args], "--out", out)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "film.json"]


def test_out_is_a_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("mine")
    result = run("--landmarks", _film(tmp_path), "--out", target)
    assert result.exit_code == 2 and "--out" in result.output
    assert target.read_text() == "mine"


def test_rerun_replaces_the_earlier_files_and_keeps_foreign_ones(tmp_path):
    out = tmp_path / "out"
    assert run("--landmarks", _film(tmp_path), "--out", out).exit_code == 0
    (out / "notes.txt").write_text("mine")
    assert (out / "morphometry_T12.png").is_file()
    heights = {"L1": (25.0, 25.0, 25.0), "L2": (25.0, 25.0, 25.0)}
    assert run("--landmarks", _film(tmp_path, heights=heights), "--out", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "morphometry.json",
        "morphometry_L1.png",
        "morphometry_L2.png",
        "notes.txt",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_no_pictures(tmp_path):
    out = tmp_path / "out"
    assert run("--landmarks", _film(tmp_path), "--out", out, "--no-pictures").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["morphometry.json"]
    assert json.loads((out / "morphometry.json").read_text())["pictures"] == {}


def test_instability_folder_is_replaced_as_a_whole(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["instability", "--mask", str(CT), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "landmarks_neutral.json").is_file()
    (out / "mine.txt").write_text("x")
    film = tmp_path / "neutral.json"
    film.write_text((out / "landmarks_neutral.json").read_text())
    result = runner.invoke(app, ["instability", "--neutral", str(film), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the earlier run's mask-derived landmarks are gone, the user's file stays
    assert sorted(p.name for p in out.iterdir()) == [
        "instability.json",
        "instability.png",
        "mine.txt",
    ]


def test_instability_no_pictures(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["instability", "--mask", str(CT), "--no-pictures", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["instability.json", "landmarks_neutral.json"]
    assert json.loads((out / "instability.json").read_text())["picture"] is None
