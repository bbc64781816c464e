"""Vignettes found by black-box testing (CLINICAL_LOGIC.md §4.5 and §8 step 3)."""

from __future__ import annotations

from spinestab.care import load_patient_dir, load_rules, prescribe, triage

from .conftest import slip_level


def run(folder, **kwargs):
    profile = load_patient_dir(folder)
    tri = triage(profile, **kwargs)
    return tri, prescribe(profile, tri, rules=kwargs.get("rules"))


UNDOCUMENTED_16 = {"active_care_weeks": 16, "concordant_symptoms": True}


def test_meyerding_iii_after_16_weeks_with_undocumented_response_is_s1(make_patient):
    # §8 step 3: S1 if Meyerding >= III ... and (active_care_weeks >= 12 or deficit).
    # No previous_response and one form per instrument: the weeks alone count.
    folder = make_patient(history=UNDOCUMENTED_16, instability=[slip_level(slip_mm=24, grade=3)])
    tri, plan = run(folder)
    assert tri.track == "S1"
    assert "surgical_consultation" in tri.action_codes
    reason = next(r for r in tri.reasons if r.code == "s1_structural")
    assert "not documented" in reason.text and "unknown_response_counts_as_failed" in reason.rules
    assert plan is not None  # active care continues meanwhile (§4.5 S1)


def test_dynamic_instability_concordant_after_16_weeks_undocumented_is_s1(make_patient):
    folder = make_patient(
        history=UNDOCUMENTED_16, instability=[slip_level(grade=1, verdict="unstable")]
    )
    assert run(folder)[0].track == "S1"


def test_undocumented_response_rule_can_be_switched_off(make_patient):
    folder = make_patient(history=UNDOCUMENTED_16, instability=[slip_level(slip_mm=24, grade=3)])
    rules = load_rules(overrides={"unknown_response_counts_as_failed": False})
    tri, _ = run(folder, rules=rules)
    assert tri.track == "S2"


def test_documented_responder_stays_s2_with_a_clear_reason(make_patient):
    folder = make_patient(
        history=UNDOCUMENTED_16 | {"previous_response": "responder"},
        instability=[slip_level(slip_mm=24, grade=3)],
    )
    tri, _ = run(folder)
    assert tri.track == "S2"
    reason = next(r for r in tri.reasons if r.code == "s2_structural")
    assert "reached the MIC" in reason.text and "not yet failed" not in reason.text


def test_low_grade_stable_slip_undocumented_response_is_not_escalated(make_patient):
    # §4.5 S2 escalation needs "MIC not reached": an undocumented response does not prove it.
    folder = make_patient(history=UNDOCUMENTED_16, instability=[slip_level(verdict="stable")])
    assert run(folder)[0].track == "S2"


def _write_screen(folder, name, date, positive):
    import json

    doc = {"instrument": "redflags", "date": date, "answers": list(positive)}
    (folder / name).write_text(json.dumps(doc), encoding="utf-8")


def test_earlier_positive_screen_keeps_the_plan_a_draft_and_is_named(make_patient):
    # Latest screen negative, an earlier one positive for cauda equina: not silently dropped.
    folder = make_patient(risk="low")
    _write_screen(folder, "redflags_old.json", "2020-01-01", ["saddle_numbness"])
    tri, plan = run(folder)
    assert plan is not None and plan.status == "draft"
    assert tri.track != "S0"  # the latest screen decides the track
    assert tri.draft and "confirm_earlier_red_flag" in tri.action_codes
    reason = next(r for r in tri.reasons if r.code == "earlier_red_flag")
    assert "cauda_equina" in reason.text and "2020-01-01" in reason.text


def test_two_screens_on_one_date_name_both_files(make_patient):
    import pytest

    from spinestab.errors import InputError

    folder = make_patient(risk="low")
    screens = sorted(p.name for p in folder.iterdir() if "red" in p.name)
    date = __import__("json").loads((folder / screens[0]).read_text())["date"]
    _write_screen(folder, "zz_second_screen.json", date, [])
    with pytest.raises(InputError, match=f"also in {screens[0]}"):
        load_patient_dir(folder)


def test_six_months_of_pain_is_26_weeks_for_the_neurostimulation_rule(make_patient):
    # §5.8: chronic LBP >= 6 months. Black-box finding: 26 weeks / 4.345 = 5.98 months failed.
    history = {
        "active_care_weeks": 16,
        "adherence_pct": 90,
        "previous_response": "non_responder",
        "prone_instability_test": True,
        "surgical_candidate": False,
    }
    odi_44 = [3, 2, 2, 2, 2, 2, 2, 2, 2, 3]  # 22/50 = 44 %
    for weeks, eligible in ((26, True), (25, False)):
        folder = make_patient(
            risk="medium", nrs=7, odi=odi_44, history=history | {"pain_duration_weeks": weeks}
        )
        tri, _ = run(folder)
        assert tri.findings["neurostimulation"]["eligible"] is eligible, weeks
        assert ("neurostimulation_assessment" in tri.action_codes) is eligible
