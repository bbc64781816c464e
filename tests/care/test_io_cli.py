"""Reading the other commands' files, bad input, and the plan/progress CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from spinestab.care import (
    demo_patients_dir,
    load_patient_dir,
    load_rules,
    run_demo,
    run_plan,
    run_progress,
)
from spinestab.care.io import read_instability, read_muscle_quality
from spinestab.care.summarise import summarise_muscle
from spinestab.cli import app
from spinestab.errors import InputError

from .conftest import DAILY_COLUMNS, daily_row, slip_level

runner = CliRunner()


def test_instability_layouts_are_all_read(tmp_path):
    entry = slip_level(verdict="unstable-likely")
    for i, doc in enumerate(
        ([entry], {"levels": [entry]}, {"levels": {"L4-L5": entry}}, {"segments": [entry]})
    ):
        path = tmp_path / f"i{i}.json"
        path.write_text(json.dumps(doc))
        found = read_instability(path)
        assert found.levels[0].level == "L4-L5"
        assert found.worst_verdict == "unstable"
        assert found.max_grade == 2


def test_meyerding_roman_numerals(tmp_path):
    path = tmp_path / "i.json"
    path.write_text(json.dumps([slip_level() | {"meyerding_grade": "III"}]))
    assert read_instability(path).max_grade == 3


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ([slip_level() | {"verdict": "wobbly"}], "unknown verdict"),
        ([slip_level() | {"meyerding_grade": 7}], "out of range"),
        ([slip_level() | {"slip_mm": "a lot"}], "not a number"),
        ({"nothing": 1}, "no per-level results"),
    ],
)
def test_bad_instability_is_refused(tmp_path, doc, match):
    path = tmp_path / "instability.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=match):
        read_instability(path)


def test_muscle_table_needs_its_columns(tmp_path):
    path = tmp_path / "muscle_quality.csv"
    path.write_text("muscle,side,level,csa_mean_mm2\nmultifidus,left,L4,800\n")
    with pytest.raises(InputError, match=r"missing column.*fat_fraction_pct"):
        read_muscle_quality(path)
    path.write_text("muscle,side,level,fat_fraction_pct,fat_method\nmultifidus,left,L4,130,dixon\n")
    with pytest.raises(InputError, match="out of range"):
        read_muscle_quality(path)


def test_muscle_table_prefers_symptomatic_levels(tmp_path):
    path = tmp_path / "muscle_quality.csv"
    path.write_text(
        "muscle,side,level,fat_fraction_pct,fat_method\n"
        "multifidus,left,L3,60,dixon\nmultifidus,left,L5,20,dixon\n"
        "multifidus,both,all,40,dixon\n"
    )
    assert summarise_muscle(read_muscle_quality(path)).multifidus_fat_pct == 60
    mq = summarise_muscle(read_muscle_quality(path), symptomatic_levels=["L5"])
    assert mq.multifidus_fat_pct == 20 and mq.multifidus_levels == ("L5",)


def test_bad_daily_and_history_are_refused(make_patient):
    folder = make_patient(daily=[daily_row(1) | {"sitting_min": -5}])
    with pytest.raises(InputError, match="sitting_min"):
        load_patient_dir(folder)
    folder = make_patient(history={"age": 40, "painduration": 3})
    with pytest.raises(InputError, match="unknown history field"):
        load_patient_dir(folder)
    folder = make_patient(daily=[])
    (folder / "daily.csv").write_text(",".join(DAILY_COLUMNS[:-1]) + "\n")
    with pytest.raises(InputError, match="missing column"):
        load_patient_dir(folder)


@pytest.mark.parametrize(("field", "value"), [("slr_deg", 400), ("age", 260)])
def test_implausible_history_measurements_are_refused(make_patient, field, value):
    # black-box finding: an SLR of 400 deg was accepted and fed the Hicks rule
    folder = make_patient(history={field: value})
    with pytest.raises(InputError, match=f"{field}: out of range"):
        load_patient_dir(folder)


def test_unknown_symptomatic_level_is_refused(make_patient):
    # black-box finding: "X9" was kept and silently matched nothing in muscle_quality.csv
    with pytest.raises(InputError, match="unknown level"):
        load_patient_dir(make_patient(history={"symptomatic_levels": ["X9"]}))
    profile = load_patient_dir(make_patient(history={"symptomatic_levels": ["l4-l5", "S1"]}))
    assert profile.clinical.history.symptomatic_levels == ("L4-L5", "S1")


def test_a_file_given_as_patient_folder_is_named_as_such(tmp_path):
    (tmp_path / "odi.json").write_text("{}")
    with pytest.raises(InputError, match="a file was given where a patient folder"):
        load_patient_dir(tmp_path / "odi.json")


def test_folder_without_questionnaires_is_refused(tmp_path):
    (tmp_path / "history.json").write_text("{}")
    with pytest.raises(InputError, match="no questionnaire files"):
        load_patient_dir(tmp_path)


def test_cli_plan_writes_the_contract_files(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "plan",
            str(demo_patients_dir() / "structural_spondylolisthesis"),
            "--out",
            str(out),
            "--lang",
            "de",
        ],
    )
    assert result.exit_code == 0, result.output
    triage_doc = json.loads((out / "triage.json").read_text())
    assert triage_doc["track"] == "S1"
    for item in triage_doc["actions"] + triage_doc["reasons"]:
        assert item["source"] and item["evidence"]
    plan_doc = json.loads((out / "plan.json").read_text())
    assert plan_doc["phases"] and plan_doc["exercises"]
    assert all(
        ex["level"] in ("L0", "L1", "L2", "L3") and ex["dose"] for ex in plan_doc["exercises"]
    )
    profile_doc = json.loads((out / "profile.json").read_text())
    assert profile_doc["instability"]["max_meyerding_grade"] == 2
    assert {m["part"] for m in profile_doc["missing"]} >= {"muscle_quality.csv", "daily.csv"}
    html = (out / "handout.html").read_text()
    assert '<html lang="de">' in html


def test_cli_out_that_is_a_file_exits_2(tmp_path):
    # black-box finding: `plan --out FILE` ended in a FileExistsError traceback
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "nrs.json").write_text(
        '{"instrument": "nrs", "date": "2024-01-01", "answers": {"pain": 3}}'
    )
    (tmp_path / "taken").write_text("")
    for out in ("taken", "taken/sub"):
        result = runner.invoke(app, ["plan", str(folder), "--out", str(tmp_path / out)])
        assert result.exit_code == 2, result.output
        assert "output folder" in result.output or "--out is a file" in result.output


def test_cli_bad_input_exits_2(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "odi.json").write_text(
        '{"instrument": "odi", "date": "2024-01-01", "answers": {"s1": 9}}'
    )
    result = runner.invoke(app, ["plan", str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert not (tmp_path / "o").exists()  # nothing half-written
    result = runner.invoke(
        app,
        [
            "plan",
            str(demo_patients_dir() / "functional_high_risk"),
            "--out",
            str(tmp_path / "o"),
            "--lang",
            "fr",
        ],
    )
    assert result.exit_code == 2


def test_demo_patients_cover_red_flag_structural_and_functional(tmp_path):
    results = run_demo(tmp_path, language="en")
    tracks = {r["patient"]: (r["track"], r["status"]) for r in results}
    assert tracks["red_flag_cauda_equina"] == ("S0", "blocked")
    assert tracks["structural_spondylolisthesis"] == ("S1", "active")
    assert tracks["functional_high_risk"] == ("F2", "active")
    assert tracks["low_risk_self_management"] == ("F3", "active")
    blocked = json.loads((tmp_path / "red_flag_cauda_equina" / "plan.json").read_text())
    assert blocked["exercises"] == [] and blocked["status"] == "blocked"
    progressed = next(r for r in results if "progress" in r)
    assert progressed["patient"] == "functional_high_risk"
    assert progressed["progress"]["version"] == 2
    assert (tmp_path / "functional_high_risk" / "progress" / "plan_v2.json").exists()


def test_wearable_valid_day_flag_is_honoured(make_patient):
    rows = [daily_row(d) | {"valid_day": "False" if d == 3 else "True"} for d in range(1, 5)]
    rows[0] = daily_row(1, wear=200) | {"valid_day": "True"}  # the producer's flag wins
    folder = make_patient(daily=[])
    with (folder / "daily.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*DAILY_COLUMNS, "valid_day"])
        writer.writeheader()
        writer.writerows(rows)
    profile = load_patient_dir(folder)
    assert (profile.movement.days, profile.movement.valid_days) == (4, 3)


def test_cli_progress_writes_next_version_and_keeps_the_old(tmp_path):
    run_plan(demo_patients_dir() / "functional_high_risk", tmp_path, language="en")
    plan = json.loads((tmp_path / "plan.json").read_text())
    start = dt.date.fromisoformat(plan["programme_start"])
    sessions = tmp_path / "sessions.csv"
    with sessions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "date",
                "exercise",
                "done",
                "sets",
                "pain_before",
                "pain_during",
                "pain_next_morning",
                "effort",
                "form_ok",
            ]
        )
        for day in (0, 2, 4):
            for ex in plan["exercises"]:
                if ex["start_week"] == 1:
                    n = len(ex["dose"].get("pyramid", [])) or ex["dose"].get("sets", 1)
                    writer.writerow(
                        [
                            (start + dt.timedelta(days=day)).isoformat(),
                            ex["id"],
                            "yes",
                            n,
                            6,
                            3,
                            5,
                            4,
                            "yes",
                        ]
                    )
    out = tmp_path / "v2"
    result = runner.invoke(
        app,
        ["progress", str(tmp_path / "plan.json"), str(sessions), "--out", str(out), "--lang", "de"],
    )
    assert result.exit_code == 0, result.output
    new = json.loads((out / "plan.json").read_text())
    assert new["version"] == 2 and (out / "plan_v1.json").exists()
    assert (out / "plan_v2.json").exists()
    assert new["history"][0]["version"] == 1
    assert {d["decision"] for d in new["decisions"]} <= {"up", "keep", "down"}
    assert any(d["decision"] == "up" for d in new["decisions"])
    report = json.loads((out / "progress.json").read_text())
    assert report["adherence"]["done_sessions"] == 3
    # a blocked plan cannot be progressed
    run_plan(demo_patients_dir() / "red_flag_cauda_equina", tmp_path / "s0")
    with pytest.raises(InputError, match="blocked"):
        run_progress(tmp_path / "s0" / "plan.json", sessions, tmp_path / "x")


def test_jurisdiction_and_language_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINESTAB_JURISDICTION", "acp")
    monkeypatch.setenv("SPINESTAB_LANGUAGE", "de")
    result = run_plan(demo_patients_dir() / "functional_high_risk", tmp_path)
    assert (result["jurisdiction"], result["language"]) == ("ACP", "de")
    triage_doc = json.loads((tmp_path / "triage.json").read_text())
    assert "acupuncture" in triage_doc["guideline"]["adjunct_options"]
    monkeypatch.setenv("SPINESTAB_JURISDICTION", "WHO")
    with pytest.raises(InputError, match=r"unknown jurisdiction|SPINESTAB_JURISDICTION") as info:
        run_plan(demo_patients_dir() / "functional_high_risk", tmp_path / "x")
    assert "'WHO'" in str(info.value) and "'NICE' or 'ACP'" in str(info.value)
    monkeypatch.setenv("SPINESTAB_JURISDICTION", "nice")
    monkeypatch.setenv("SPINESTAB_LANGUAGE", "FR")
    with pytest.raises(InputError, match=r"no translation catalogue.*'fr'"):
        run_plan(demo_patients_dir() / "functional_high_risk", tmp_path / "y")


def test_cli_progress_with_followup_forms_and_json_sessions(tmp_path):
    run_plan(demo_patients_dir() / "low_risk_self_management", tmp_path, language="en")
    plan = json.loads((tmp_path / "plan.json").read_text())
    start = dt.date.fromisoformat(plan["programme_start"])
    entries = [
        {
            "date": (start + dt.timedelta(days=d)).isoformat(),
            "exercise": "bird_dog",
            "done": True,
            "sets": 3,
            "pain_before": 3,
            "pain_during": 2,
            "pain_next_morning": 2,
            "effort": 4,
            "form_ok": True,
        }
        for d in range(0, 84, 2)
    ]
    sessions = tmp_path / "sessions.json"
    sessions.write_text(json.dumps({"sessions": entries}))
    forms = tmp_path / "forms"
    forms.mkdir()
    # baseline RMDQ 3 (demo); week 12: 0 ticked -> 3 points, but 100 % relative: responder
    (forms / "rmdq.json").write_text(
        json.dumps(
            {
                "instrument": "rmdq",
                "date": (start + dt.timedelta(days=83)).isoformat(),
                "answers": [],
            }
        )
    )
    result = runner.invoke(
        app,
        [
            "progress",
            str(tmp_path / "plan.json"),
            str(sessions),
            "--out",
            str(tmp_path / "v2"),
            "--forms",
            str(forms),
        ],
    )
    assert result.exit_code == 0, result.output
    review = json.loads((tmp_path / "v2" / "progress.json").read_text())["review"]
    assert review["week"] == 12 and review["instrument"] == "rmdq"
    assert review["status"] == "responder"
    assert "relative" in review["change"]["rule"]


@pytest.mark.parametrize(
    ("positive", "urgency"), [(["bladder_change"], "emergency"), (["cancer_history"], "urgent")]
)
def test_cli_progress_with_a_positive_followup_screen_blocks_the_plan(tmp_path, positive, urgency):
    # black-box finding: a follow-up red-flag screen with a cauda equina item in --forms was
    # ignored and the exercises were stepped up (§3: red flags override every other rule)
    run_plan(demo_patients_dir() / "low_risk_self_management", tmp_path, language="de")
    plan = json.loads((tmp_path / "plan.json").read_text())
    start = dt.date.fromisoformat(plan["programme_start"])
    day = (start + dt.timedelta(days=10)).isoformat()
    sessions = tmp_path / "sessions.csv"
    sessions.write_text(
        "date,exercise,done,sets,pain_during,pain_next_morning,effort,form_ok\n"
        + "".join(
            f"{(start + dt.timedelta(days=d)).isoformat()},bird_dog,yes,3,2,2,4,yes\n"
            for d in (1, 3, 5, 8)
        )
    )
    forms = tmp_path / "forms"
    forms.mkdir()
    doc = {"instrument": "redflags", "date": day, "answers": positive}
    (forms / "redflags.json").write_text(json.dumps(doc))
    out = tmp_path / "v2"
    args = ["progress", str(tmp_path / "plan.json"), str(sessions), "--out", str(out)]
    result = runner.invoke(app, [*args, "--forms", str(forms), "--lang", "de"])
    assert result.exit_code == 0, result.output
    new = json.loads((out / "plan.json").read_text())
    assert (new["status"], new["track"], new["exercises"]) == ("blocked", "S0", [])
    assert new["version"] == 2 and (out / "plan_v1.json").exists()
    assert new["actions"][0]["urgency"] == urgency
    assert "no_exercise_plan" in {a["code"] for a in new["actions"]}
    progress_doc = json.loads((out / "progress.json").read_text())
    assert progress_doc["decisions"] == [] and progress_doc["blocked_by"]
    # a blocked version is never progressed further
    again = runner.invoke(
        app, ["progress", str(out / "plan.json"), str(sessions), "--out", str(tmp_path / "v3")]
    )
    assert again.exit_code == 2


def test_cli_progress_bad_sessions_exit_2(tmp_path):
    run_plan(demo_patients_dir() / "low_risk_self_management", tmp_path, language="en")
    sessions = tmp_path / "s.csv"
    sessions.write_text("date,exercise,pain_during\n2024-03-04,bird_dog,11\n")
    result = runner.invoke(
        app, ["progress", str(tmp_path / "plan.json"), str(sessions), "--out", str(tmp_path / "v2")]
    )
    assert result.exit_code == 2
    assert "pain_during" in result.output
    assert not (tmp_path / "v2").exists()


@pytest.mark.parametrize(
    ("line", "item", "fragment"),
    [
        ("chronic_weeks: {value: twelve}", "item chronic_weeks:", "valid integer"),
        ("blocking_urgencies: {value: [soon]}", "item blocking_urgencies.0:", "emergency"),
        ("unknown_risk_track: {value: S1}", "item unknown_risk_track:", "'F1', 'F2' or 'F3'"),
        (
            "movement_break_reduction: {value: 50}",
            "item movement_break_reduction:",
            "less than or equal to 1",
        ),
        ("sessions_per_week: {value: 3.5}", "item sessions_per_week:", "fractional"),
        ("green_max: {value: 7}", "item amber_max:", "at least green_max (7)"),
        ("phase_weeks: {value: [[1, 2], [4, 6], [7, 12]]}", "item phase_weeks:", "week by week"),
        (
            "phase_stages: {value: [[0, 1], [1, 2], [2, 4]]}",
            "item phase_stages.2.1:",
            "less than or equal to 3",
        ),
        ("no_such_rule: {value: 1}", "item no_such_rule:", "unknown care rule"),
    ],
)
def test_a_bad_rule_file_names_the_rule(tmp_path, line, item, fragment):
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  {line}\n")
    with pytest.raises(InputError) as info:
        load_rules(path)
    message = str(info.value)
    assert str(path) in message and item in message and fragment in message


def test_rule_values_are_typed_after_loading(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  chronic_weeks: {value: 10, source: local audit}\n")
    rules = load_rules(path)
    assert rules.values.chronic_weeks == 10 == rules["chronic_weeks"]
    assert rules.values.phase_weeks == ((1, 2), (3, 6), (7, 12))
    with pytest.raises(InputError, match="item hicks_min_positive"):
        load_rules(overrides={"hicks_min_positive": 9})


def test_exercise_stages_keep_the_level_labels_of_plan_json(tmp_path):
    # plan.json keeps "level": "L0".."L3" (its readers) and gives "stage" beside it
    out = tmp_path / "out"
    run_plan(demo_patients_dir() / "functional_high_risk", out)
    doc = json.loads((out / "plan.json").read_text())
    for ex in doc["exercises"]:
        assert ex["level"] == f"L{ex['stage']}"
    # a plan.json written before stages had numbers is still read
    for ex in doc["exercises"]:
        del ex["stage"]
    (out / "old.json").write_text(json.dumps(doc))
    result = run_progress(
        out / "old.json",
        demo_patients_dir() / "functional_high_risk" / "sessions.csv",
        tmp_path / "o2",
    )
    assert result["version"] == 2
    bad = json.loads((out / "plan.json").read_text())
    bad["exercises"][0]["stage"] = 3
    (out / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="stage and level disagree"):
        run_progress(
            out / "bad.json",
            demo_patients_dir() / "functional_high_risk" / "sessions.csv",
            tmp_path / "o3",
        )


def test_the_former_rule_name_phase_levels_is_still_read(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  phase_levels: {value: [[0, 0], [0, 1], [1, 2]]}\n")
    rules = load_rules(path)
    assert rules.values.phase_stages == ((0, 0), (0, 1), (1, 2))
    assert rules.rule("phase_stages").overridden
