"""Cervical segments (C2-C7) are judged with the §4.7 thresholds, never the lumbar ones."""

import json

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.instability import assess, landmarks_to_dict, load_threshold_set
from spinestab.instability.phantom import build_spine
from spinestab.instability.thresholds import segment_region

CERVICAL = ("C3", "C4", "C5", "C6", "C7")
SMALL = {"depth_mm": 16.0, "height_mm": 14.0}  # cervical-sized bodies
runner = CliRunner()
LUMBAR = ("L2", "L3", "L4", "L5", "S1")


def _pair(levels, *, translation_mm, depth_mm=40.0, height_mm=27.0, rom_deg=(8, 8, 8, 8)):
    """Flexion and extension films; the second segment translates ``translation_mm``."""
    common = {"levels": levels, "depth_mm": depth_mm, "height_mm": height_mm}
    flex_slip = [0.5, 1.0 + translation_mm, 0.5, 0.5]
    ext_slip = [0.5, 1.0, 0.5, 0.5]
    ext_angle = [6.0, 6.0, 6.0, 6.0]
    flex_angle = [a - r for a, r in zip(ext_angle, rom_deg, strict=True)]
    flex = build_spine(slip_mm=flex_slip, angle_deg=flex_angle, view="flexion", **common)
    ext = build_spine(slip_mm=ext_slip, angle_deg=ext_angle, view="extension", **common)
    return flex, ext


def test_5_mm_cervical_translation_is_unstable_where_the_lumbar_rule_says_borderline():
    # the same geometry (40 mm endplates: 5 mm = 12.5 %), labelled cervical or lumbar
    flex, ext = _pair(CERVICAL, translation_mm=5.0)
    rec = assess(flexion=flex, extension=ext).record("C4-C5")
    assert rec["translation_mm"] == pytest.approx(5.0)
    assert rec["verdict"] == "unstable"
    assert rec["region"] == "cervical" and rec["threshold_set"] == "white-panjabi-cervical"
    assert any("> 3.5 mm" in r and "cervical" in r for r in rec["reasons"])
    assert not any("4.5" in r for r in rec["reasons"])
    flex, ext = _pair(LUMBAR, translation_mm=5.0)
    lumbar = assess(flexion=flex, extension=ext).record("L3-L4")
    assert lumbar["translation_mm"] == pytest.approx(5.0)
    assert lumbar["verdict"] == "borderline"  # 0.5 mm above 4.5 mm, within the 1 mm margin
    assert "region" not in lumbar  # lumbar records unchanged


def test_realistic_cervical_film_and_the_thresholds_named_in_every_verdict():
    flex, ext = _pair(CERVICAL, translation_mm=2.0, depth_mm=16.0, height_mm=14.0)
    report = assess(flexion=flex, extension=ext)
    data = report.to_dict()
    assert data["cervical_thresholds"]["name"] == "white-panjabi-cervical"
    assert data["cervical_thresholds"]["region"] == "cervical"
    for rec in data["levels"]:
        assert rec["threshold_set"] == "white-panjabi-cervical"
        assert {c["id"] for c in rec["criteria"]} <= {
            "wp-c-translation-mm",
            "wp-c-translation-pct",
            "wp-c-relative-rotation",
        }
        assert rec["reasons"], rec["level"]
        assert all(
            "white-panjabi-cervical" in r or "cervical checklist" in r for r in rec["reasons"]
        ), rec["reasons"]
    # 2 mm of a 16 mm endplate is 12.5 %: stable against 3.5 mm / 20 %
    assert report.record("C4-C5")["verdict"] == "stable"
    # 3 mm is within the 1 mm margin of 3.5 mm: borderline (the same margin rule)
    flex, ext = _pair(CERVICAL, translation_mm=3.0, depth_mm=16.0, height_mm=14.0)
    assert assess(flexion=flex, extension=ext).record("C4-C5")["verdict"] == "borderline"
    # a lumbar-only study has no cervical block (output unchanged)
    flex, ext = _pair(LUMBAR, translation_mm=2.0)
    assert "cervical_thresholds" not in assess(flexion=flex, extension=ext).to_dict()


def test_relative_rotation_against_the_adjacent_segments():
    # C4-C5 moves 22 deg, its neighbours 8 deg: 14 deg in excess (> 11)
    flex, ext = _pair(CERVICAL, translation_mm=0.0, rom_deg=(8, 22, 8, 8), **SMALL)
    report = assess(flexion=flex, extension=ext)
    rec = report.record("C4-C5")
    assert rec["relative_rom_deg"] == pytest.approx(14.0)
    assert rec["verdict"] == "unstable"
    assert any("11 deg" in r for r in rec["reasons"])
    # the neighbours move less than C4-C5: no excess
    assert report.record("C3-C4")["relative_rom_deg"] == 0.0
    # 12 deg in excess is within the 2 deg margin: borderline
    flex, ext = _pair(CERVICAL, translation_mm=0.0, rom_deg=(8, 20, 8, 8), **SMALL)
    assert assess(flexion=flex, extension=ext).record("C4-C5")["verdict"] == "borderline"


def test_effort_rule_applies_to_cervical_segments():
    flex, ext = _pair(CERVICAL, translation_mm=0.0, rom_deg=(3, 3, 3, 3))
    rec = assess(flexion=flex, extension=ext).record("C4-C5")
    assert rec["verdict"] == "not_assessable"
    assert any("too little effort" in r for r in rec["reasons"])


def test_junctions_and_atlanto_axial_segment_are_not_judged():
    levels = ("C1", "C2", "C3")
    flex, ext = _pair((*levels, "C4", "C5"), translation_mm=6.0, depth_mm=16, height_mm=14)
    report = assess(flexion=flex, extension=ext)
    rec = report.record("C1-C2")
    assert rec["verdict"] == "not_assessable" and rec["threshold_set"] is None
    assert rec["criteria"] == [] and "no criteria for C1-C2" in rec["reasons"][-1]
    flex, ext = _pair(("C7", "T1", "T2", "T3", "T4"), translation_mm=6.0)
    report = assess(flexion=flex, extension=ext)
    rec = report.record("C7-T1")
    assert rec["verdict"] == "not_assessable" and rec["region"] == "none"
    assert "lumbar thresholds are never applied" in rec["reasons"][-1]
    assert report.record("T1-T2")["verdict"] == "unstable"  # lumbar set, as before
    assert "region" not in report.record("T1-T2")
    assert segment_region("T12-L1") == "lumbar"


def test_region_of_a_set_is_checked():
    with pytest.raises(InputError, match="--cervical-thresholds"):
        load_threshold_set("white-panjabi-cervical")
    flex, ext = _pair(CERVICAL, translation_mm=5.0)
    with pytest.raises(InputError, match="judges lumbar segments"):
        assess(flexion=flex, extension=ext, cervical_thresholds=load_threshold_set("slip"))
    # the resting cervical set on a neutral film
    neutral = build_spine(levels=CERVICAL, depth_mm=16, height_mm=14, slip_mm=[0, 5.0, 0, 0])
    rec = assess(neutral=neutral, cervical_thresholds="white-panjabi-cervical-resting").record(
        "C4-C5"
    )
    assert rec["static_verdict"] == "unstable" and rec["slip_mm"] == pytest.approx(5.0)
    # --no-margin switches the margin off for both regions
    flex, ext = _pair(CERVICAL, translation_mm=3.0, depth_mm=16.0, height_mm=14.0)
    bare = load_threshold_set(None, margin=False)
    assert assess(flexion=flex, extension=ext, thresholds=bare).record("C4-C5")["verdict"] == (
        "stable"
    )


def run_cli(*args):
    return runner.invoke(app, list(args))


def test_cli_cervical_study(tmp_path):
    flex, ext = _pair(CERVICAL, translation_mm=5.0, depth_mm=16.0, height_mm=14.0)
    paths = {}
    for ls in (flex, ext):
        paths[ls.view] = tmp_path / f"{ls.view}.json"
        paths[ls.view].write_text(json.dumps(landmarks_to_dict(ls)))
    out = tmp_path / "out"
    result = run_cli(
        "instability",
        "--flexion",
        str(paths["flexion"]),
        "--extension",
        str(paths["extension"]),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "instability.json").read_text())
    assert data["cervical_thresholds"]["name"] == "white-panjabi-cervical"
    rec = next(r for r in data["levels"] if r["level"] == "C4-C5")
    assert rec["verdict"] == "unstable"
    assert "white-panjabi-cervical" in result.output
    bad = run_cli(
        "instability",
        "--flexion",
        str(paths["flexion"]),
        "--extension",
        str(paths["extension"]),
        "--thresholds",
        "white-panjabi-cervical",
        "--out",
        str(tmp_path / "o2"),
    )
    assert bad.exit_code == 2 and "--cervical-thresholds" in bad.output
    ok = run_cli(
        "instability",
        "--flexion",
        str(paths["flexion"]),
        "--extension",
        str(paths["extension"]),
        "--cervical-thresholds",
        "white-panjabi-cervical-resting",
        "--out",
        str(tmp_path / "o3"),
    )
    assert ok.exit_code == 0, ok.output
