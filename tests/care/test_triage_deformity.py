"""Vertebral deformities (§4.6) and cervical findings (§4.7) in the profile, triage and plan."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from spinestab.care import load_rules, prescribe, triage
from spinestab.care.exercises import load_library
from spinestab.care.folder import load_patient_dir
from spinestab.care.io import read_history, read_instability, read_morphometry
from spinestab.care.plan.steps import PLAN_STEPS, PlanDraft, PlanInput, no_loaded_flexion
from spinestab.care.profile import (
    ClinicalState,
    DeformityFindings,
    History,
    InstabilityFindings,
    LevelFinding,
    StabilityProfile,
    VertebralDeformity,
)
from spinestab.care.triage import TriageInput, guideline_set
from spinestab.care.triage.deformity import cervical_findings, vertebral_deformity
from spinestab.errors import InputError
from spinestab.instability import assess
from spinestab.instability.morphometry import measure_morphometry
from spinestab.instability.phantom import analytic_vertebrae, build_spine

RULES = load_rules()
WEDGE = VertebralDeformity("L1", "wedge", 2, 30.0, ("crush_unknown",))


def profile(*, weeks=None, known=(), deformities=(WEDGE,), levels=None, cervical=()):
    clinical = ClinicalState(
        date=dt.date(2024, 3, 4),
        startback_risk="medium",
        startback_total=4.0,
        startback_psychosocial=2,
        red_flag_screen=True,
        red_flag_screen_complete=True,
        history=History(pain_duration_weeks=weeks, known_old_deformities=tuple(known)),
    )
    inst = InstabilityFindings(tuple(levels or ()), tuple(cervical)) if levels or cervical else None
    found = DeformityFindings(tuple(deformities), ("T12", "L1", "L2")) if deformities else None
    return StabilityProfile("p", dt.date(2024, 3, 4), clinical, None, inst, None, deformities=found)


def inp(p):
    return TriageInput(p, RULES, "NICE", guideline_set("NICE", chronic=None))


def test_new_deformity_with_acute_pain_raises_the_fracture_red_flag():
    tri = triage(profile(weeks=2))
    assert tri.track == "S0" and not tri.plan_allowed
    assert tri.action_codes[:2] == ("suspected_vertebral_fracture", "no_exercise_plan")
    action = tri.actions[0]
    assert action.urgency == "urgent" and action.kind == "escalation"
    assert "for a clinician to confirm" in action.text and "L1" in action.text
    assert "red_flag_vertebral_fracture" in tri.reason_codes
    assert tri.findings["vertebral_deformities"][0]["known_old"] is False


def test_acute_pain_boundary_is_the_acute_weeks_rule():
    assert RULES["acute_weeks"] == 4
    assert triage(profile(weeks=3.9)).track == "S0"
    tri = triage(profile(weeks=4))  # not under 4 weeks: subacute
    assert tri.track != "S0" and tri.draft
    assert "confirm_vertebral_deformity" in tri.action_codes


def test_new_deformity_without_acute_pain_or_duration_is_confirmed_first():
    for weeks in (None, 20):
        tri = triage(profile(weeks=weeks))
        assert tri.plan_allowed and tri.draft
        action = next(a for a in tri.actions if a.code == "confirm_vertebral_deformity")
        assert action.urgency == "routine"
        if weeks is None:
            assert "duration is unknown" in action.text
        plan = prescribe(profile(weeks=weeks), tri, rules=RULES)
        assert "no_loaded_flexion" in [r.code for r in plan.reasons]


def test_known_old_deformity_adapts_the_plan_instead_of_blocking():
    p = profile(weeks=2, known=("L1",))  # acute pain, but the deformity is known and old
    tri = triage(p)
    assert tri.track != "S0" and tri.plan_allowed and not tri.draft
    assert "suspected_vertebral_fracture" not in tri.action_codes
    assert "vertebral_deformity_known_old" in tri.reason_codes
    plan = prescribe(p, tri, rules=RULES)
    reason = next(r for r in plan.reasons if r.code == "no_loaded_flexion")
    assert "L1" in reason.text
    loaded = [e for e in plan.exercises if e.id not in ("walking", "movement_breaks")]
    assert loaded and all(any("no loaded flexion" in n for n in e.clinician_notes) for e in loaded)


def test_loaded_flexion_exercises_are_left_out():
    lib = load_library()
    flexing = replace(lib["curl_up"], loaded_flexion=True)
    library = replace(lib, exercises={**lib.exercises, "curl_up": flexing})
    p = profile(weeks=30, known=("L1",))
    tri = triage(p)
    draft = PlanDraft().add(
        PLAN_STEPS[3](  # home_exercises
            PlanInput(p, tri, RULES, library, dt.date(2024, 3, 4)), PlanDraft()
        )
    )
    assert "curl_up" in [e.id for e in draft.exercises]
    part = no_loaded_flexion(PlanInput(p, tri, RULES, library, dt.date(2024, 3, 4)), draft)
    assert "curl_up" not in [e.id for e in part.changes["exercises"]]
    assert "left out: curl_up" in part.reasons[0].text
    # without a deformity nothing changes
    tri0 = triage(profile(deformities=()))
    unchanged = no_loaded_flexion(PlanInput(p, tri0, RULES, library, dt.date(2024, 3, 4)), draft)
    assert unchanged.changes == {} and unchanged.reasons == ()


def test_no_deformity_adds_nothing_and_the_minimum_grade_is_a_rule():
    result = vertebral_deformity(inp(profile(deformities=())), None)
    assert result.actions == () and result.reasons == () and result.findings == {}
    mild = replace(WEDGE, genant_grade=1)
    assert triage(profile(weeks=2, deformities=(mild,))).track == "S0"
    strict = load_rules(overrides={"deformity_min_grade": 2})
    tri = triage(profile(weeks=2, deformities=(mild,)), rules=strict)
    assert tri.track != "S0" and "vertebral_deformities" not in tri.findings


def test_cervical_findings_are_referred_and_never_structural():
    c45 = LevelFinding(
        "C4-C5", 5.0, 31.0, 2, 5.0, 31.0, 8.0, "unstable", listhesis="anterolisthesis"
    )
    tri = triage(profile(deformities=(), cervical=(c45,)))
    assert tri.track not in ("S0", "S1", "S2")  # a cervical segment never makes a lumbar track
    action = next(a for a in tri.actions if a.code == "refer_cervical_finding")
    assert action.kind == "referral" and "C4-C5" in action.text and "unstable" in action.text
    assert "structural" not in tri.findings
    assert tri.findings["cervical"][0]["level"] == "C4-C5"
    # stable cervical segments: reported only
    stable = replace(c45, verdict="stable", meyerding_grade=0, listhesis="none")
    result = cervical_findings(inp(profile(deformities=(), cervical=(stable,))), None)
    assert result.actions == () and result.reasons[0].code == "cervical_measured"


def test_instability_json_keeps_cervical_segments_apart(tmp_path):
    flex = build_spine(
        levels=("C3", "C4", "C5", "C6"),
        depth_mm=16,
        height_mm=14,
        slip_mm=[0, 6, 0],
        angle_deg=[-2, -2, -2],
        view="flexion",
    )
    ext = build_spine(
        levels=("C3", "C4", "C5", "C6"),
        depth_mm=16,
        height_mm=14,
        slip_mm=[0, 0, 0],
        angle_deg=[6, 6, 6],
        view="extension",
    )
    path = tmp_path / "instability.json"
    path.write_text(json.dumps(assess(flexion=flex, extension=ext).to_dict()))
    found = read_instability(path)
    assert found.levels == () and [f.level for f in found.cervical] == ["C3-C4", "C4-C5", "C5-C6"]
    assert found.cervical[1].verdict == "unstable"
    assert found.all_levels == found.cervical  # shown and exported (report, FHIR), not judged
    assert found.to_dict()["cervical_levels"][1]["level"] == "C4-C5"


DEMO = Path(str(resources.files("spinestab").joinpath("data/demo_patients")))


def test_patient_folder_with_morphometry_json(tmp_path):
    # the low-risk demo patient (2 weeks of pain), with a film showing a new L1 wedge
    folder = tmp_path / "p1"
    shutil.copytree(DEMO / "low_risk_self_management", folder)
    base = load_patient_dir(folder)
    assert base.deformities is None and "deformities" not in base.to_dict()
    heights = {"T12": (25, 25, 25), "L1": (17, 21, 25), "L2": (25, 25, 25)}
    report = measure_morphometry(analytic_vertebrae(heights))
    (folder / "morphometry.json").write_text(json.dumps(report.to_dict()))
    p = load_patient_dir(folder)  # morphometry.json is not read as a questionnaire
    assert [d.level for d in p.deformities.deformities] == ["L1"]
    assert p.deformities.deformities[0].deformity == "wedge"
    assert p.deformities.graded_levels == ("T12", "L1", "L2")
    assert p.to_dict()["deformities"]["deformities"][0]["genant_grade"] == 2
    assert triage(base).track == "F3"
    assert triage(p).track == "S0"  # acute pain: the suspected-fracture red flag
    history = json.loads((folder / "history.json").read_text())
    (folder / "history.json").write_text(json.dumps({**history, "known_old_deformities": ["L1"]}))
    known = triage(load_patient_dir(folder))
    assert known.track == "F3" and "vertebral_deformity_known_old" in known.reason_codes


def test_readers_validate(tmp_path):
    assert read_history(
        {"known_old_deformities": ["l1", "vertebrae_T12"]}
    ).known_old_deformities == (
        "L1",
        "T12",
    )
    with pytest.raises(InputError, match="unknown vertebral level"):
        read_history({"known_old_deformities": ["X9"]})
    assert "known_old_deformities" not in History().to_dict()
    path = tmp_path / "morphometry.json"
    for bad, match in (
        ({"vertebrae": []}, "no vertebrae"),
        ({"vertebrae": [{"level": "L1", "genant_grade": 4}]}, "not a Genant grade"),
        ({"vertebrae": [{"level": "L1", "genant_grade": 2, "deformity": "none"}]}, "deformity"),
        ({"vertebrae": [{"genant_grade": 0}]}, "level"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(InputError, match=match):
            read_morphometry(path)
    path.write_text(
        json.dumps(
            {
                "vertebrae": [
                    {"level": "L1", "genant_grade": None},
                    {"level": "L2", "genant_grade": 0},
                ]
            }
        )
    )
    found = read_morphometry(path)
    assert found.deformities == () and found.graded_levels == ("L2",)
