"""End to end: the real outputs of ``spinestab mri``, ``instability`` and ``wearable`` read by
``spinestab plan``.

Every producer runs on real data bundled in ``tests/data`` (MuscleMap lumbar MRI pair,
TotalSegmentator CT with its label map, TPTBox CT L2-L4 vertebra masks, a mobgap lower-back
lab recording); the ActiGraph ``small.gt3x`` (GPL) is read from ``../shared`` and its test
skips where that is absent. The truth each test compares with is the producer's own file,
read here independently with :mod:`csv` / :mod:`json`, or a geometry constructed here.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.care import demo_patients_dir
from spinestab.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
MUSCLEMAP = DATA / "imaging" / "musclemap"
TOTALSEG = DATA / "imaging" / "totalsegmentator"
TPTBOX = DATA / "instability" / "tptbox_ct_L2-L4"
MOBGAP = DATA / "wearable" / "mobgap_lowerback.npz"
SHARED_GT3X = ROOT.parent / "shared" / "data" / "wearable" / "device_samples/pygt3x/small.gt3x"
#: Questionnaires of a bundled demo patient (STarT Back high risk, NRS, ODI, red flags all no).
FORMS = ("startback.json", "nrs.json", "odi.json", "redflags.json")
FORMS_FROM = demo_patients_dir() / "functional_high_risk"

runner = CliRunner()


def cli(*args: str | Path) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def fnum(text: str) -> float | None:
    return None if text.strip() in ("", "nan") else float(text)


def make_patient(
    folder: Path, history: dict[str, Any] | None = None, **files: Path
) -> dict[str, Any]:
    """Write a patient folder (demo questionnaires + the given files), run ``spinestab plan``."""
    folder.mkdir(parents=True)
    for name in FORMS:
        shutil.copy(FORMS_FROM / name, folder / name)
    if history is not None:
        (folder / "history.json").write_text(json.dumps(history))
    for name, path in files.items():
        shutil.copy(path, folder / f"{name}{path.suffix}")
    out = folder.parent / f"{folder.name}_out"
    cli("plan", folder, "--out", out)
    return {
        name: json.loads((out / f"{name}.json").read_text())
        for name in ("profile", "triage", "plan")
    } | {"out": out}


FAILED_CARE = {
    "age": 58,
    "pain_duration_weeks": 40,
    "active_care_weeks": 16,
    "adherence_pct": 85,
    "previous_response": "non_responder",
    "concordant_symptoms": True,
    "neuro_deficit": False,
    "symptoms": ["mechanical_back_pain"],
}


# ---------------------------------------------------------------------------- producers
@pytest.fixture(scope="module")
def mri_musclemap(tmp_path_factory) -> Path:
    """``spinestab mri`` on the real MuscleMap pair with a slice table.

    The image has no vertebra mask; by eye its 20 axial slices (4.4 mm, stored caudal ->
    cranial) run from about L5/S1 to L2/L3 (shared MANIFEST). The table below is that
    estimate, only there to give the rows level names as the command writes them.
    """
    out = tmp_path_factory.mktemp("mri_mm")
    table = out / "levels.csv"
    table.write_text("level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n")
    cli(
        "mri",
        "--image",
        MUSCLEMAP / "sub-0001_axial_lumbar_mri.nii.gz",
        "--mask",
        MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz",
        "--labels",
        "musclemap",
        "--levels-table",
        table,
        "--derive-autochthon",
        "--out",
        out / "run",
    )
    return out / "run" / "muscle_quality.csv"


@pytest.fixture(scope="module")
def mri_ct(tmp_path_factory) -> Path:
    """``spinestab mri`` on the real TotalSegmentator CT; levels from its vertebra labels."""
    out = tmp_path_factory.mktemp("mri_ct")
    cli(
        "mri",
        "--image",
        TOTALSEG / "example_ct_sm.nii.gz",
        "--mask",
        TOTALSEG / "example_seg.nii.gz",
        "--labels",
        "totalseg_total",
        "--out",
        out,
    )
    return out / "muscle_quality.csv"


@pytest.fixture(scope="module")
def instability_masks(tmp_path_factory) -> Path:
    """``spinestab instability`` on the real TPTBox CT L2-L4 vertebra masks (neutral only)."""
    out = tmp_path_factory.mktemp("inst")
    cli(
        "instability",
        "--mask",
        TPTBOX / "sub-ct_seg-vert_label-22_msk.nii.gz",
        "--labels",
        "tptbox",
        "--out",
        out,
    )
    return out


def _shift_level(doc: dict[str, Any], level: str, lower: str, by_mm: float, view: str) -> dict:
    """Move every corner of ``level`` by ``by_mm`` along the superior endplate of ``lower``."""
    doc = json.loads(json.dumps(doc))
    low = doc["vertebrae"][lower]
    ps, as_ = np.array(low["posterior_superior"]), np.array(low["anterior_superior"])
    unit = (as_ - ps) / np.linalg.norm(as_ - ps)
    for name, point in doc["vertebrae"][level].items():
        if point is not None:
            doc["vertebrae"][level][name] = (np.array(point) + by_mm * unit).tolist()
    doc["view"] = view
    return doc


@pytest.fixture(scope="module")
def instability_dynamic(tmp_path_factory, instability_masks) -> tuple[Path, float]:
    """Flexion/extension made from the real corners: L2 moved +4 / -3 mm over L3."""
    out = tmp_path_factory.mktemp("inst_dyn")
    neutral = json.loads((instability_masks / "landmarks_neutral.json").read_text())
    for view, shift in (("flexion", 4.0), ("extension", -3.0)):
        doc = _shift_level(neutral, "L2", "L3", shift, view)
        (out / f"{view}.json").write_text(json.dumps(doc))
    cli(
        "instability",
        "--neutral",
        instability_masks / "landmarks_neutral.json",
        "--flexion",
        out / "flexion.json",
        "--extension",
        out / "extension.json",
        "--out",
        out / "run",
    )
    return out / "run" / "instability.json", 7.0


@pytest.fixture(scope="module")
def wearable_mobgap(tmp_path_factory) -> Path:
    """``spinestab wearable`` on a real mobgap lower-back lab recording (MS001, 227 s)."""
    out = tmp_path_factory.mktemp("wear")
    acc = np.load(MOBGAP)["MS001_Test11_Trial1_acc"]
    with (out / "ms001.csv").open("w") as handle:
        handle.write("x,y,z\n")
        np.savetxt(handle, acc, delimiter=",", fmt="%.6f")
    cli(
        "wearable",
        "--trunk",
        out / "ms001.csv",
        "--fs",
        "100",
        "--start",
        "2024-03-04T10:00:00",
        "--no-pictures",
        "--out",
        out / "run",
    )
    return out / "run" / "daily.csv"


# ---------------------------------------------------------------------------- muscle
def test_multifidus_fat_in_profile_is_the_mri_table_value(mri_musclemap, tmp_path):
    rows = csv_rows(mri_musclemap)
    mf = [r for r in rows if r["muscle"] == "multifidus" and r["level"] in ("L4", "L5")]
    assert len(mf) == 4 and {r["side"] for r in mf} == {"left", "right"}
    expected = max(float(r["fat_fraction_pct"]) for r in mf)
    res = make_patient(
        tmp_path / "p", {"symptomatic_levels": ["L4-L5"]}, muscle_quality=mri_musclemap
    )
    muscle = res["profile"]["muscle"]
    assert muscle["multifidus_fat_pct"] == expected
    assert muscle["multifidus_levels"] == ["L4", "L5"]
    assert muscle["fat_method"] == mf[0]["fat_method"] == "t1w_n4_otsu2"
    assert "not PDFF" in muscle["fat_method_note"]
    # asymmetry of the levels considered, as written by spinestab mri
    assert muscle["multifidus_asymmetry_pct"] == max(abs(float(r["asymmetry_pct"])) for r in mf)
    # every multifidus row used keeps side, level, grade, scheme and flags as written
    by_key = {(r["level"], r["side"]): r for r in mf}
    assert len(muscle["rows"]) == 4
    for row in muscle["rows"]:
        src = by_key[(row["level"], row["side"])]
        assert row["fat_fraction_pct"] == float(src["fat_fraction_pct"])
        assert row["grade"] == src["grade"] and row["grade_scheme"] == src["grade_scheme"]
        assert row["flags"] == (src["flags"] or None)
    # other muscles are shown, not dropped: the derived autochthon rows of the same table
    auto = [r for r in rows if r["muscle"] == "autochthon" and r["level"] in ("L4", "L5")]
    assert muscle["other_muscles"]["autochthon"]["fat_pct"] == max(
        float(r["fat_fraction_pct"]) for r in auto
    )
    # the plan's emphasis uses that value; §5.9 3-grade 10/50 % cut-offs (rules.yaml)
    emphasis = res["plan"]["emphasis"]
    assert emphasis["multifidus_fat_pct"] == expected
    assert emphasis["fi_grade"] == (0 if expected < 10 else 1 if expected <= 50 else 2)
    assert emphasis["extensor_emphasis"] is (expected >= 10)
    reasons = {r["code"] for r in res["triage"]["reasons"]}
    assert "fi_not_structural" in reasons


def test_without_symptomatic_levels_every_level_but_not_the_summary_row(mri_musclemap, tmp_path):
    rows = csv_rows(mri_musclemap)
    per_level = [r for r in rows if r["muscle"] == "multifidus" and r["level"] != "all"]
    assert {r["level"] for r in per_level} == {"L3", "L4", "L5"}
    res = make_patient(tmp_path / "p", None, muscle_quality=mri_musclemap)
    muscle = res["profile"]["muscle"]
    assert muscle["multifidus_levels"] == ["L3", "L4", "L5"]
    assert muscle["multifidus_fat_pct"] == max(float(r["fat_fraction_pct"]) for r in per_level)


def test_whole_scan_rows_are_the_fallback(mri_musclemap, tmp_path):
    # the command's own 'all' rows only (as it writes them when no levels are known)
    rows = [r for r in csv_rows(mri_musclemap) if r["level"] == "all"]
    table = tmp_path / "muscle_quality.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    res = make_patient(tmp_path / "p", {"symptomatic_levels": ["L4"]}, muscle_quality=table)
    muscle = res["profile"]["muscle"]
    assert muscle["multifidus_levels"] == ["all"]
    assert muscle["multifidus_fat_pct"] == max(
        float(r["fat_fraction_pct"]) for r in rows if r["muscle"] == "multifidus"
    )
    assert "not in the table" in muscle["note"]


def test_ct_autochthon_is_shown_but_never_taken_for_multifidus(mri_ct, tmp_path):
    rows = csv_rows(mri_ct)
    assert {r["muscle"] for r in rows} == {"autochthon", "psoas"}
    levels = [r["level"] for r in rows if r["muscle"] == "autochthon" and r["side"] == "left"]
    assert levels == ["T11", "T12", "L1", "L2", "all"]
    res = make_patient(tmp_path / "p", {"symptomatic_levels": ["L4", "L5"]}, muscle_quality=mri_ct)
    muscle = res["profile"]["muscle"]
    assert muscle["multifidus_fat_pct"] is None
    auto = muscle["other_muscles"]["autochthon"]
    assert auto["levels"] == ["T11", "T12", "L1", "L2"]
    assert auto["fat_pct"] == max(
        float(r["fat_fraction_pct"])
        for r in rows
        if r["muscle"] == "autochthon" and r["level"] != "all"
    )
    assert auto["fat_method"] == "ct_hu[-190..-30]"
    # psoas is absent at T11/T12: its empty cells are skipped, not read as 0 or refused
    psoas = [r for r in rows if r["muscle"] == "psoas" and r["level"] != "all"]
    assert any(fnum(r["fat_fraction_pct"]) is None for r in psoas)
    assert muscle["other_muscles"]["psoas"]["fat_pct"] == max(
        v for v in map(fnum, (r["fat_fraction_pct"] for r in psoas)) if v is not None
    )
    missing = {m["part"]: m["limits"] for m in res["profile"]["missing"]}
    assert "autochthon" in missing["multifidus fat fraction"]
    assert res["plan"]["emphasis"]["fi_grade"] is None
    assert res["plan"]["emphasis"]["extensor_emphasis"] is False


# ---------------------------------------------------------------------------- instability
def test_neutral_mask_study_gives_measures_but_no_structural_track(instability_masks, tmp_path):
    report = json.loads((instability_masks / "instability.json").read_text())
    res = make_patient(
        tmp_path / "p", FAILED_CARE, instability=instability_masks / "instability.json"
    )
    levels = res["profile"]["instability"]["levels"]
    assert [lv["level"] for lv in levels] == [lv["level"] for lv in report["levels"]]
    assert [lv["level"] for lv in levels] == ["L2-L3", "L3-L4"]
    for mine, theirs in zip(levels, report["levels"], strict=True):
        for key in ("slip_mm", "slip_pct", "meyerding_grade", "listhesis"):
            assert mine[key] == theirs[key]
        assert theirs["verdict"] == "not_assessable"  # neutral view only, white-panjabi
        assert mine["verdict"] is None and mine["verdict_reported"] == "not_assessable"
        assert mine["reasons"] == theirs["reasons"]
    # the structural screen follows the tool's grades: a slip is a level with grade >= 1
    slips = [lv["level"] for lv in report["levels"] if (lv["meyerding_grade"] or 0) >= 1]
    structural = res["triage"]["findings"]["structural"]
    assert structural["slip_levels"] == slips
    assert structural["max_meyerding_grade"] == max(
        lv["meyerding_grade"] for lv in report["levels"]
    )
    assert structural["unstable_levels"] == [] and structural["borderline_levels"] == []
    assert structural["structural_finding"] is bool(slips)
    if slips:  # concordant symptoms after 16 weeks of failed care: §4.5 S2 says refer
        assert res["triage"]["track"] == "S1"
    else:
        assert res["triage"]["track"] not in ("S1", "S2")
        assert "imaging_not_structural" in {r["code"] for r in res["triage"]["reasons"]}


def test_grade_zero_from_the_tool_is_no_slip_even_above_3_mm(instability_masks, tmp_path):
    # the tool's grade 0 / listhesis none is its judgement (e.g. < 8 % on an uncorrected
    # film): the care reader must not turn the mm value into a slip
    report = json.loads((instability_masks / "instability.json").read_text())
    report["levels"] = report["levels"][:1]
    report["levels"][0].update(slip_mm=3.4, slip_pct=7.0, meyerding_grade=0, listhesis="none")
    path = tmp_path / "instability.json"
    path.write_text(json.dumps(report))
    res = make_patient(tmp_path / "p", FAILED_CARE, instability=path)
    assert res["triage"]["findings"]["structural"]["slip_levels"] == []


def test_triage_follows_the_dynamic_verdicts(instability_dynamic, tmp_path):
    path, translation = instability_dynamic
    report = json.loads(path.read_text())
    l2l3 = next(lv for lv in report["levels"] if lv["level"] == "L2-L3")
    assert math.isclose(l2l3["translation_mm"], translation, abs_tol=0.01)
    assert l2l3["verdict"] == "unstable"  # > 4.5 mm (+ 1 mm margin), White & Panjabi
    res = make_patient(tmp_path / "s1", FAILED_CARE, instability=path)
    profile_levels = {lv["level"]: lv for lv in res["profile"]["instability"]["levels"]}
    for lv in report["levels"]:
        mine = profile_levels[lv["level"]]
        assert mine["verdict_reported"] == lv["verdict"]
        assert mine["verdict"] == (None if lv["verdict"] == "not_assessable" else lv["verdict"])
        assert mine["translation_mm"] == lv["translation_mm"]
        assert mine["angulation_deg"] == lv["angulation_deg"]
    unstable = [lv["level"] for lv in report["levels"] if lv["verdict"] == "unstable"]
    assert res["profile"]["instability"]["worst_verdict"] == "unstable"
    assert res["triage"]["findings"]["structural"]["unstable_levels"] == unstable == ["L2-L3"]
    assert res["triage"]["track"] == "S1"  # unstable + concordant + 16 weeks failed care
    early = FAILED_CARE | {"active_care_weeks": 4, "previous_response": None}
    assert make_patient(tmp_path / "s2", early, instability=path)["triage"]["track"] == "S2"
    discordant = FAILED_CARE | {"concordant_symptoms": False}
    assert make_patient(tmp_path / "s2b", discordant, instability=path)["triage"]["track"] == "S2"


# ---------------------------------------------------------------------------- movement
def test_short_lab_recording_is_read_but_not_a_valid_day(wearable_mobgap, tmp_path):
    rows = csv_rows(wearable_mobgap)
    assert len(rows) == 1 and rows[0]["valid_day"] == "false"
    assert float(rows[0]["wear_min"]) < 10
    res = make_patient(tmp_path / "p", None, daily=wearable_mobgap)
    move = res["profile"]["movement"]
    assert move["days"] == 1 and move["valid_days"] == 0
    assert move["first_date"] == rows[0]["date"] == "2024-03-04"
    assert move["walking_min"] is None  # no valid day, nothing averaged
    missing = {m["part"] for m in res["profile"]["missing"]}
    assert "valid wear days" in missing and "daily.csv" not in missing
    breaks = res["plan"]["movement_breaks"]
    assert breaks["from_own_data"] is False and "no valid wear day" in breaks["rule"]


def test_movement_break_goal_from_real_static_bouts(tmp_path):
    if not SHARED_GT3X.is_file():
        pytest.skip("../shared not present (small.gt3x is GPL, not copied)")
    cli("wearable", "--trunk", SHARED_GT3X, "--no-pictures", "--out", tmp_path / "wear")
    daily = tmp_path / "wear" / "daily.csv"
    rows = csv_rows(daily)
    valid = [r for r in rows if r["valid_day"] == "true"]
    assert valid and len(valid) < len(rows)  # 13.6 h over two dates: one valid day
    longest = statistics.median(float(r["longest_static_bout_min"]) for r in valid)
    bouts = statistics.fmean(float(r["static_bouts_over_30min"]) for r in valid)
    assert longest > 30 and bouts >= 1
    res = make_patient(tmp_path / "p", None, daily=daily)
    move = res["profile"]["movement"]
    assert move["valid_days"] == len(valid) and move["days"] == len(rows)
    assert move["longest_static_bout_min"] == longest
    assert move["static_bouts_over_30min"] == bouts
    assert move["walking_min"] == statistics.fmean(float(r["walking_min"]) for r in valid)
    # trunk only: sitting/standing are upright_static, so the file leaves them blank (unknown)
    assert all(r["sitting_min"] == r["standing_min"] == "" for r in rows)
    assert all(float(r["upright_static_min"]) > 0 for r in valid)
    assert move["sitting_min"] is None and move["notes"]
    breaks = res["plan"]["movement_breaks"]
    assert breaks["from_own_data"] is True
    # rules.yaml: half the median longest bout, rounded to 5 min, within 30-45 min; goal:
    # bouts > 30 min halved (movement_break_reduction 0.5)
    assert breaks["interval_min"] == min(45, max(30, 5 * round(longest / 2 / 5)))
    assert breaks["baseline_longest_static_bout_min"] == round(longest, 1)
    assert breaks["target_bouts_over_30min_per_day"] == int(bouts * 0.5)


# ---------------------------------------------------------------------------- all parts
def test_whole_chain_uses_every_part(mri_musclemap, instability_dynamic, wearable_mobgap, tmp_path):
    path, _ = instability_dynamic
    history = FAILED_CARE | {"symptomatic_levels": ["L4", "L5"]}
    res = make_patient(
        tmp_path / "p",
        history,
        muscle_quality=mri_musclemap,
        instability=path,
        daily=wearable_mobgap,
    )
    profile = res["profile"]
    assert profile["muscle"]["multifidus_fat_pct"] is not None
    assert profile["instability"]["worst_verdict"] == "unstable"
    assert profile["movement"]["days"] == 1
    missing = {m["part"] for m in profile["missing"]}
    assert not missing & {"muscle_quality.csv", "instability.json", "daily.csv"}
    # the structural finding comes from instability.json, never from the multifidus fat
    assert res["triage"]["track"] == "S1"
    assert res["plan"]["emphasis"]["multifidus_fat_pct"] == profile["muscle"]["multifidus_fat_pct"]
    assert (res["out"] / "handout.html").is_file()


# ---------------------------------------------------------------------------- demo data
def test_demo_instability_json_is_what_the_tool_gives(tmp_path, monkeypatch):
    folder = demo_patients_dir() / "structural_spondylolisthesis"
    work = tmp_path / "demo"
    shutil.copytree(folder / "landmarks", work / "landmarks")
    monkeypatch.chdir(work)  # relative paths, as in landmarks/README.md
    cli(
        "instability",
        "--neutral",
        "landmarks/neutral.json",
        "--flexion",
        "landmarks/flexion.json",
        "--extension",
        "landmarks/extension.json",
        "--out",
        ".",
    )
    fresh = json.loads((work / "instability.json").read_text())
    stored = json.loads((folder / "instability.json").read_text())
    keys = ("level", "slip_mm", "slip_pct", "listhesis", "meyerding_grade", "translation_mm")
    keys += ("translation_pct", "angulation_deg", "verdict", "dynamic_verdict", "reasons")
    assert [{k: lv[k] for k in keys} for lv in fresh["levels"]] == [
        {k: lv[k] for k in keys} for lv in stored["levels"]
    ], "stale demo instability.json: regenerate it (landmarks/README.md)"
    assert fresh["inputs"] == stored["inputs"]
    # the vignette: Meyerding II at L4-L5 that translates > 4.5 mm; no other slip
    grades = {lv["level"]: lv["meyerding_grade"] for lv in stored["levels"]}
    assert grades.pop("L4-L5") == 2 and set(grades.values()) == {0}
    out = tmp_path / "out"
    cli("plan", folder, "--out", out)
    triage = json.loads((out / "triage.json").read_text())
    assert triage["track"] == "S1"
    structural = triage["findings"]["structural"]
    assert structural["unstable_levels"] == ["L4-L5"] and structural["slip_levels"] == ["L4-L5"]
    assert "s1_structural" in {r["code"] for r in triage["reasons"]}


def test_posture_minutes_partition_wear_time_and_a_unit_slip_is_refused(wearable_mobgap, tmp_path):
    # the care reader's plausibility check rests on this property of spinestab wearable
    row = csv_rows(wearable_mobgap)[0]
    postures = ("lying", "sitting", "standing", "upright_static", "moving", "walking")
    postures += ("running", "stairs")
    # trunk only: sitting and standing are blank (unknown split, inside upright_static)
    assert row["sitting_min"] == row["standing_min"] == ""
    total = sum(float(row[f"{p}_min"] or 0) for p in postures)
    assert math.isclose(total, float(row["wear_min"]), abs_tol=0.01)
    # the same file with wear time in hours is refused, not summarised
    rows = csv_rows(wearable_mobgap)
    rows[0]["wear_min"] = str(float(rows[0]["wear_min"]) / 60)
    bad = tmp_path / "daily.csv"
    with bad.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folder = tmp_path / "p"
    folder.mkdir()
    for name in FORMS:
        shutil.copy(FORMS_FROM / name, folder / name)
    shutil.copy(bad, folder / "daily.csv")
    result = runner.invoke(app, ["plan", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "more than the wear time" in result.output
    assert not (tmp_path / "out").exists()


def test_resting_film_verdict_is_not_taken_for_dynamic_instability(tmp_path):
    # white-panjabi-resting judges the neutral film: the overall 'verdict' is then a
    # resting-film verdict, which §8 (S1: dynamic instability) must not read as dynamic
    landmarks = demo_patients_dir() / "structural_spondylolisthesis" / "landmarks"
    out = tmp_path / "rest"
    cli(
        "instability",
        "--neutral",
        landmarks / "neutral.json",
        "--thresholds",
        "white-panjabi-resting",
        "--out",
        out,
    )
    report = json.loads((out / "instability.json").read_text())
    l4l5 = next(lv for lv in report["levels"] if lv["level"] == "L4-L5")
    assert l4l5["verdict"] == l4l5["static_verdict"] == "unstable"  # 11.2 mm > 4.5 mm
    assert l4l5["dynamic_verdict"] is None
    res = make_patient(tmp_path / "p", FAILED_CARE, instability=out / "instability.json")
    mine = next(lv for lv in res["profile"]["instability"]["levels"] if lv["level"] == "L4-L5")
    assert mine["verdict"] is None and mine["static_verdict"] == "unstable"
    assert mine["verdict_reported"] == "unstable"
    structural = res["triage"]["findings"]["structural"]
    assert structural["unstable_levels"] == []
    assert structural["resting_film_unstable_levels"] == ["L4-L5"]
    assert structural["slip_levels"] == ["L4-L5"]
    codes = {r["code"] for r in res["triage"]["reasons"]}
    assert "resting_film_criteria" in codes and "s1_structural" not in codes
    # grade II slip, concordant, 16 weeks failed care: referred on §4.5's S2 review rule
    assert res["triage"]["track"] == "S1" and "s2_escalation_failed_care" in codes


def test_commands_writing_into_the_patient_folder_itself(tmp_path):
    # the natural workflow: every command with --out PATIENT_DIR, then spinestab plan
    folder = tmp_path / "patient"
    folder.mkdir()
    for name in FORMS:
        shutil.copy(FORMS_FROM / name, folder / name)
    (folder / "history.json").write_text(json.dumps(FAILED_CARE))
    cli(
        "mri",
        "--image",
        TOTALSEG / "example_ct_sm.nii.gz",
        "--mask",
        TOTALSEG / "example_seg.nii.gz",
        "--labels",
        "totalseg_total",
        "--out",
        folder,
    )
    mask = TPTBOX / "sub-ct_seg-vert_label-22_msk.nii.gz"
    cli("instability", "--mask", mask, "--labels", "tptbox", "--out", folder)
    acc = np.load(MOBGAP)["HA001_Test5_Trial1_acc"]
    with (tmp_path / "walk.csv").open("w") as handle:
        handle.write("x,y,z\n")
        np.savetxt(handle, acc, delimiter=",", fmt="%.6f")
    cli(
        "wearable",
        "--trunk",
        tmp_path / "walk.csv",
        "--fs",
        "100",
        "--start",
        "2024-03-04T09:00:00",
        "--no-pictures",
        "--out",
        folder,
    )
    # both summaries (mri's, wearable's: no overwrite) and landmarks_neutral.json sit beside
    # the forms
    assert (folder / "summary.json").is_file() and (folder / "wearable_summary.json").is_file()
    assert (folder / "landmarks_neutral.json").is_file()
    cli("plan", folder, "--out", tmp_path / "out")
    profile = json.loads((tmp_path / "out" / "profile.json").read_text())
    assert len(profile["clinical"]["scores"]) == len(FORMS)
    assert profile["muscle"]["other_muscles"]["autochthon"]["fat_pct"] is not None
    assert [lv["level"] for lv in profile["instability"]["levels"]] == ["L2-L3", "L3-L4"]
    assert profile["movement"]["days"] == 1


def test_withheld_segments_are_named_as_missing(instability_masks, tmp_path):
    # real corners with two of L3's swapped: the tool withholds both segments of L3
    doc = json.loads((instability_masks / "landmarks_neutral.json").read_text())
    l3 = doc["vertebrae"]["L3"]
    l3["anterior_superior"], l3["posterior_superior"] = (
        l3["posterior_superior"],
        l3["anterior_superior"],
    )
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    cli("instability", "--neutral", tmp_path / "bad.json", "--out", tmp_path / "inst")
    report = json.loads((tmp_path / "inst" / "instability.json").read_text())
    assert any(q["severity"] == "error" and q["level"] == "L3" for q in report["quality"])
    withheld = [lv["level"] for lv in report["levels"] if lv["meyerding_grade"] is None]
    assert withheld == ["L2-L3", "L3-L4"]
    res = make_patient(tmp_path / "p", FAILED_CARE, instability=tmp_path / "inst/instability.json")
    missing = {m["part"] for m in res["profile"]["missing"]}
    assert "instability measures at L2-L3, L3-L4" in missing
    assert res["triage"]["findings"]["structural"]["structural_finding"] is False


def test_pdff_table_with_slightly_negative_means_is_read(tmp_path):
    # a PDFF map on the real MuscleMap mask grid with known values: multifidus 12 % (left,
    # label 2) and 14 % (right, label 1), psoas -0.8 % mean with noise (PDFF noise may be
    # negative; spinestab mri keeps it so means stay unbiased)
    nib = pytest.importorskip("nibabel")
    mask = nib.load(MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz")
    lab = np.asarray(mask.dataobj)
    ff = np.full(lab.shape, 8.0, dtype=np.float32)
    ff[lab == 1], ff[lab == 2] = 14.0, 12.0
    psoas = np.isin(lab, (5, 6))
    ff[psoas] = -0.8 + np.random.default_rng(1).normal(0, 0.5, psoas.sum())
    nib.save(nib.Nifti1Image(ff, mask.affine, mask.header), tmp_path / "pdff.nii.gz")
    cli(
        "mri",
        "--ff",
        tmp_path / "pdff.nii.gz",
        "--mask",
        MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz",
        "--labels",
        "musclemap",
        "--out",
        tmp_path / "mri",
    )
    rows = csv_rows(tmp_path / "mri" / "muscle_quality.csv")
    assert all(float(r["fat_fraction_pct"]) < 0 for r in rows if r["muscle"] == "psoas")
    res = make_patient(tmp_path / "p", None, muscle_quality=tmp_path / "mri/muscle_quality.csv")
    muscle = res["profile"]["muscle"]
    assert muscle["multifidus_fat_pct"] == pytest.approx(14.0, abs=1e-4)
    assert muscle["fat_method"] == "pdff" and "quantitative" in muscle["fat_method_note"]
    assert muscle["other_muscles"]["psoas"]["fat_pct"] < 0
    assert res["plan"]["emphasis"]["fi_grade"] == 1  # 10-50 % (§5.9, 3-grade 10/50)
