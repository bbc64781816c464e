"""Clinical vignettes written from CLINICAL_LOGIC.md §3, §4.5, §5.8, §5.9 and §8.

Each patient folder is written in the real input formats and read through the whole chain
(questionnaires scored by spinestab.clinical); each vignette asserts the track, the actions
and the key reasons that the cited rule demands.
"""

from __future__ import annotations

from spinestab.care import load_patient_dir, load_rules, prescribe, triage

from .conftest import daily_row, slip_level

ODI_40 = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]  # 20/50 = 40 %
ODI_30 = [2, 1, 2, 1, 2, 1, 2, 1, 2, 1]  # 15/50 = 30 %


def run(folder, **kwargs):
    profile = load_patient_dir(folder)
    tri = triage(profile, **kwargs)
    return profile, tri, prescribe(profile, tri, rules=kwargs.get("rules"))


def failed_care(weeks=16, **extra):
    return {
        "age": 58,
        "pain_duration_weeks": 40,
        "active_care_weeks": weeks,
        "previous_response": "non_responder",
        "adherence_pct": 85,
        "concordant_symptoms": True,
        "symptoms": ["neurogenic_claudication"],
    } | extra


# ---- S0: red flags (§3, §8 step 1) ------------------------------------------------------
def test_cauda_equina_is_emergency_and_no_plan(make_patient):
    _, tri, plan = run(
        make_patient(red_flags=["bladder_change", "saddle_numbness"], risk="low", nrs=2)
    )
    assert tri.track == "S0"
    assert not tri.plan_allowed and plan is None
    assert tri.action_codes[0] == "red_flag_emergency"
    assert "no_exercise_plan" in tri.action_codes
    assert "red_flag_cauda_equina" in tri.reason_codes
    reason = next(r for r in tri.reasons if r.code == "red_flag_cauda_equina")
    assert "bladder_change" in reason.text and reason.source and reason.evidence


def test_progressive_weakness_is_same_day_and_no_plan(make_patient):
    _, tri, plan = run(make_patient(red_flags=["progressive_leg_weakness"]))
    assert (tri.track, plan) == ("S0", None)
    assert tri.actions[0].urgency == "same_day"
    assert tri.actions[0].to_dict()["fhir_priority"] == "asap"
    assert "red_flag_neurological_deficit" in tri.reason_codes


def test_cancer_history_is_urgent_and_pauses_programme(make_patient):
    _, tri, plan = run(make_patient(red_flags=["cancer_history"], risk="low"))
    assert (tri.track, plan) == ("S0", None)
    assert tri.actions[0].urgency == "urgent"
    assert "red_flag_spinal_malignancy" in tri.reason_codes


def test_fever_is_same_day_infection(make_patient):
    _, tri, plan = run(make_patient(red_flags=["fever_or_rigors"], risk="high"))
    assert (tri.track, plan) == ("S0", None)
    assert "red_flag_spinal_infection" in tri.reason_codes


def test_axial_spa_criteria_refer_routine_and_programme_continues(make_patient):
    flags = [
        "onset_before_45_over_3_months",
        "onset_before_35",
        "waking_second_half_night",
        "buttock_pain",
        "improves_with_movement",
    ]
    _, tri, plan = run(make_patient(red_flags=flags, risk="low"))
    assert tri.track == "F3"  # NICE NG65: rheumatology referral, programme may continue
    assert plan is not None
    assert "red_flag_routine" in tri.action_codes
    assert "routine_flag_axial_spondyloarthritis" in tri.reason_codes


# ---- S1 / S2: structural (§4.5, §8 step 3) ----------------------------------------------
def test_meyerding_ii_unstable_concordant_after_16_weeks_failed_care_is_s1(make_patient):
    folder = make_patient(
        history=failed_care(16), instability={"levels": [slip_level(verdict="unstable")]}
    )
    _, tri, plan = run(folder)
    assert tri.track == "S1"
    assert tri.action_codes[:2] == ("surgical_consultation", "continue_active_care")
    assert "s1_structural" in tri.reason_codes
    assert plan is not None  # graded active care continues meanwhile


def test_same_slip_after_4_weeks_is_s2_monitored(make_patient):
    folder = make_patient(
        history=failed_care(4) | {"previous_response": None},
        instability={"levels": [slip_level(verdict="unstable")]},
    )
    _, tri, plan = run(folder)
    assert tri.track == "S2"
    assert {"monitored_conservative_care", "clinician_loading_limits", "review_12_weeks"} <= set(
        tri.action_codes
    )
    reason = next(r for r in tri.reasons if r.code == "s2_structural")
    assert "not yet failed for 12 weeks" in reason.text
    assert plan.clinician_limits_required


def test_meyerding_ii_stable_concordant_after_failed_care_escalates_to_s1(make_patient):
    # §4.5 S2: reassess at 12 weeks; refer if MIC not reached and symptoms concordant.
    folder = make_patient(history=failed_care(16), instability=[slip_level(verdict="stable")])
    _, tri, _ = run(folder)
    assert tri.track == "S1"
    assert "s2_escalation_failed_care" in tri.reason_codes
    assert "surgical_consultation" in tri.action_codes


def test_failed_care_taken_from_odi_change_when_history_lacks_response(make_patient):
    # ODI 40 % -> 40 %: below MIC (10 points / 30 %), so 16 weeks of care have failed.
    folder = make_patient(
        history=failed_care(16) | {"previous_response": None},
        instability=[slip_level(verdict="unstable")],
        odi=ODI_40,
        odi_baseline=ODI_40,
    )
    _, tri, _ = run(folder)
    assert tri.track == "S1"
    assert tri.findings["previous_response"] == "non_responder"
    # ODI 40 % -> 30 %: 10 points = MIC reached: a responder is not a failure.
    folder = make_patient(
        history=failed_care(16) | {"previous_response": None},
        instability=[slip_level(verdict="unstable")],
        odi=ODI_30,
        odi_baseline=ODI_40,
    )
    _, tri, _ = run(folder)
    assert tri.track == "S2"


def test_high_grade_slip_waits_by_default_and_not_when_configured(make_patient):
    folder = make_patient(
        history=failed_care(6) | {"previous_response": None},
        instability=[slip_level(slip_mm=24.0, grade=3)],
    )
    _, tri, _ = run(folder)
    assert tri.track == "S2"
    rules = load_rules(overrides={"s1_structural_requires_waiting": False})
    _, tri, _ = run(folder, rules=rules)
    assert tri.track == "S1"
    assert any(r.configurable and "s1_structural_requires_waiting" in r.rules for r in tri.reasons)


def test_structural_finding_with_neuro_deficit_is_s1_without_waiting(make_patient):
    folder = make_patient(
        history={"neuro_deficit": True, "active_care_weeks": 2},
        instability=[slip_level(verdict="stable")],
    )
    _, tri, _ = run(folder)
    assert tri.track == "S1"
    assert "s1_neuro_deficit" in tri.reason_codes


def test_degenerative_imaging_does_not_change_the_track(make_patient):
    folder = make_patient(
        risk="low",
        history=failed_care(16),
        instability=[slip_level(slip_mm=1.2, grade=1, verdict="stable")],
    )
    _, tri, _ = run(folder)
    assert tri.track == "F3"
    assert "imaging_not_structural" in tri.reason_codes


# ---- F1 / F2 / F3: functional (§4.5, §8 step 4) -----------------------------------------
def test_high_startback_is_f2_with_psychologically_informed_care(make_patient):
    _, tri, plan = run(make_patient(risk="high"))
    assert tri.track == "F2"
    assert {"motor_control_programme", "psychologically_informed_care"} <= set(tri.action_codes)
    assert "sbst_high" in tri.reason_codes
    assert "psych" in plan.education


def test_low_startback_is_f3_light_self_management(make_patient):
    _, tri, plan = run(make_patient(risk="low", nrs=2))
    assert tri.track == "F3"
    assert "self_management" in tri.action_codes
    assert "motor_control_programme" not in tri.action_codes
    assert "sbst_low" in tri.reason_codes
    ids = [ex.id for ex in plan.exercises]
    assert "multifidus_activation" not in ids
    home = [ex for ex in plan.exercises if ex.id in ("curl_up", "bird_dog", "front_plank")]
    assert all(ex.stage == 1 for ex in home)  # standard stage, not the motor-control start
    assert plan.education[0] == "self_management"


def test_medium_startback_is_f1(make_patient):
    _, tri, plan = run(make_patient(risk="medium"))
    assert tri.track == "F1"
    assert "motor_control_programme" in tri.action_codes
    assert plan.exercises[0].id == "multifidus_activation"


def test_low_risk_with_movement_control_signs_is_f1(make_patient):
    folder = make_patient(
        risk="low", history={"aberrant_movement": True, "prone_instability_test": True}
    )
    _, tri, _ = run(folder)
    assert tri.track == "F1"
    assert {"movement_control_signs", "low_risk_movement_signs"} <= set(tri.reason_codes)


def test_severe_multifidus_fat_without_instability_is_functional_with_adjusted_emphasis(
    make_patient,
):
    folder = make_patient(
        risk="medium", multifidus_fat=62.0, instability=[slip_level(slip_mm=0.5, grade=0)]
    )
    profile, tri, plan = run(folder)
    assert profile.muscle.multifidus_fat_pct == 62.0  # psoas 80 % ignored
    assert tri.track == "F1"
    assert "fi_not_structural" in tri.reason_codes
    assert plan.emphasis["fi_grade"] == 2 and plan.emphasis["extensor_emphasis"]
    assert {"fi_extensor_emphasis", "fi_grade2"} <= {r.code for r in plan.reasons}
    assert plan.phases[2]["weeks"] == [10, 16]  # longer phases
    assert all(ex.stage == 0 for ex in plan.exercises if ex.id != "walking")
    slow = plan.exercise("slow_lowering")
    assert slow.emphasis and slow.start_week == plan.phases[1]["weeks"][0]
    assert "fi_expectation" in plan.education
    assert "neurostimulation_assessment" not in tri.action_codes  # FI alone never suffices


def test_moderate_fat_gives_extra_extensor_set(make_patient):
    _, _, plain = run(make_patient(risk="medium"))
    _, _, fat = run(make_patient(risk="medium", multifidus_fat=30.0))
    assert fat.emphasis["fi_grade"] == 1
    assert fat.exercise("glute_bridge").dose.sets == plain.exercise("glute_bridge").dose.sets + 1
    assert fat.exercise("dead_bug").dose == plain.exercise("dead_bug").dose  # not an extensor


def test_neurostimulation_referral_only_when_all_criteria_met(make_patient):
    history = {
        "pain_duration_weeks": 52,
        "active_care_weeks": 16,
        "adherence_pct": 90,
        "previous_response": "non_responder",
        "prone_instability_test": True,
        "surgical_candidate": False,
    }
    odi_44 = [3, 2, 2, 2, 2, 2, 2, 2, 2, 3]  # 22/50 = 44 %
    _, tri, plan = run(
        make_patient(risk="medium", nrs=7, odi=odi_44, history=history, multifidus_fat=30.0)
    )
    assert "neurostimulation_assessment" in tri.action_codes
    assert "neurostimulation_criteria" in tri.reason_codes
    assert any(a["code"] == "neurostimulation_assessment" for a in plan.actions)
    _, tri, _ = run(
        make_patient(risk="medium", nrs=5, odi=odi_44, history=history, multifidus_fat=30.0)
    )
    assert "neurostimulation_assessment" not in tri.action_codes
    assert "NRS >= 6" in tri.findings["neurostimulation"]["not_met"]


def test_movement_break_goal_from_own_static_bouts(make_patient):
    days = [daily_row(d, bouts=8, longest=80) for d in range(19, 25)] + [
        daily_row(25, wear=300, bouts=20, longest=300)
    ]  # short wear day: not valid
    _, _, plan = run(make_patient(risk="medium", daily=days))
    mb = plan.movement_breaks
    assert mb["from_own_data"] and mb["valid_days"] == 6
    assert mb["baseline_bouts_over_30min_per_day"] == 8
    assert mb["target_bouts_over_30min_per_day"] == 4  # halved (rule movement_break_reduction)
    assert mb["interval_min"] == 40  # half of the 80-min longest bout, within 30-45
    assert plan.exercise("movement_breaks").dose.interval_min == 40


def test_jurisdiction_decides_acupuncture(make_patient):
    folder = make_patient(risk="medium", history={"pain_duration_weeks": 30})
    _, nice, _ = run(folder, jurisdiction="NICE")
    _, acp, _ = run(folder, jurisdiction="ACP")
    assert "acupuncture" in nice.guideline["not_offered"]
    assert "acupuncture" in acp.guideline["adjunct_options"]
    assert "acupuncture" not in acp.guideline["not_offered"]
    for tri in (nice, acp):
        assert {"tens", "traction", "belts_corsets", "bed_rest"} <= set(
            tri.guideline["not_offered"]
        )


def test_missing_red_flag_screen_gives_a_draft(make_patient):
    profile, tri, plan = run(make_patient(red_flags=None, risk="medium"))
    assert "complete_red_flag_screen" in tri.action_codes
    assert plan.status == "draft"
    assert any(m.part == "red-flag screen" for m in profile.missing)


def test_pregnancy_removes_supine_exercises(make_patient):
    _, _, plan = run(make_patient(history={"conditions": ["pregnancy"]}))
    ids = {ex.id for ex in plan.exercises}
    assert not ids & {"curl_up", "glute_bridge", "dead_bug"}
    assert {"side_bridge", "bird_dog", "front_plank"} <= ids


def test_every_reason_and_action_has_source_and_evidence(make_patient):
    folder = make_patient(
        risk="high",
        history=failed_care(16),
        instability=[slip_level(verdict="unstable")],
        multifidus_fat=30.0,
    )
    _, tri, plan = run(folder)
    data = tri.to_dict()
    for item in data["reasons"] + data["actions"]:
        assert item["source"] and item["evidence"]
        assert set(item["evidence"].split("/")) <= {"V", "R", "D"}
    assert data["configurable_rules_used"]
    assert all(r.source and r.evidence for r in plan.reasons)


# ---- with the real instability.json of spinestab.instability (issue 5) -------------------
def _real_instability(slip_flexion_mm, slip_extension_mm):
    from spinestab.instability import assess
    from spinestab.instability.phantom import build_spine

    neutral = build_spine(slip_mm=[0, 0, 0, 12, 0], view="neutral")
    flexion = build_spine(slip_mm=[0, 0, 0, slip_flexion_mm, 0], angle_deg=[2] * 5, view="flexion")
    extension = build_spine(
        slip_mm=[0, 0, 0, slip_extension_mm, 0], angle_deg=[10] * 5, view="extension"
    )
    return assess(neutral=neutral, flexion=flexion, extension=extension).to_dict()


def test_real_instability_report_unstable_l4_l5_after_failed_care_is_s1(make_patient):
    report = _real_instability(18, 11)  # 7 mm translation > 4.5 mm (White & Panjabi)
    assert next(lv for lv in report["levels"] if lv["level"] == "L4-L5")["verdict"] == "unstable"
    profile, tri, _ = run(make_patient(history=failed_care(16), instability=report))
    assert profile.instability.max_grade == 2
    assert tri.track == "S1"
    assert tri.findings["structural"]["unstable_levels"] == ["L4-L5"]
    _, tri, _ = run(
        make_patient(history=failed_care(4) | {"previous_response": None}, instability=report)
    )
    assert tri.track == "S2"


def test_real_instability_report_not_assessable_is_tolerated(make_patient):
    report = _real_instability(12, 12)
    report["levels"][0].update(verdict="not_assessable", dynamic_verdict="not_assessable")
    profile, tri, _ = run(make_patient(history=failed_care(16), instability=report))
    assert profile.instability.levels[0].verdict is None
    assert tri.track == "S1"  # the static grade II slip with concordant failed care
