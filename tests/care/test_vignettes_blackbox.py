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
