"""Hypothesis: no profile with an open emergency or urgent red flag ever yields a plan."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from spinestab.care import load_rules, prescribe, triage
from spinestab.care.profile import (
    KNOWN_CONDITIONS,
    ClinicalState,
    History,
    InstabilityFindings,
    LevelFinding,
    MuscleFindings,
    RedFlag,
    StabilityProfile,
)
from spinestab.care.triage import Triage

URGENCIES = ("emergency", "same_day", "urgent", "routine")

red_flag = st.builds(
    RedFlag,
    condition=st.sampled_from(["cauda_equina", "spinal_infection", "x"]),
    urgency=st.sampled_from(URGENCIES),
    action=st.just("act"),
    items=st.just(("item",)),
    source=st.just("src"),
    evidence=st.sampled_from("VRD"),
    blocks_exercise=st.booleans(),
)
blocking_flag = red_flag.filter(lambda f: f.urgency != "routine")
maybe_bool = st.one_of(st.none(), st.booleans())
history = st.builds(
    History,
    age=st.one_of(st.none(), st.integers(16, 95)),
    pain_duration_weeks=st.one_of(st.none(), st.floats(0, 500)),
    active_care_weeks=st.one_of(st.none(), st.floats(0, 100)),
    adherence_pct=st.one_of(st.none(), st.floats(0, 100)),
    previous_response=st.sampled_from([None, "responder", "non_responder"]),
    aberrant_movement=maybe_bool,
    prone_instability_test=maybe_bool,
    slr_deg=st.one_of(st.none(), st.floats(0, 120)),
    neuro_deficit=maybe_bool,
    concordant_symptoms=maybe_bool,
    slip_progression=maybe_bool,
    conditions=st.lists(st.sampled_from(KNOWN_CONDITIONS), unique=True).map(tuple),
    surgical_candidate=maybe_bool,
)
level = st.builds(
    LevelFinding,
    level=st.sampled_from(["L3-L4", "L4-L5", "L5-S1"]),
    slip_mm=st.one_of(st.none(), st.floats(0, 40)),
    slip_pct=st.one_of(st.none(), st.floats(0, 100)),
    meyerding_grade=st.one_of(st.none(), st.integers(0, 5)),
    translation_mm=st.none(),
    translation_pct=st.none(),
    angulation_deg=st.none(),
    verdict=st.sampled_from([None, "stable", "borderline", "unstable"]),
)


@st.composite
def profiles(draw, flags):
    clinical = ClinicalState(
        date=dt.date(2024, 3, 4),
        startback_risk=draw(st.sampled_from([None, "low", "medium", "high"])),
        startback_total=4.0,
        startback_psychosocial=2,
        odi_pct=draw(st.one_of(st.none(), st.floats(0, 100))),
        nrs=draw(
            st.one_of(st.none(), st.integers(0, 10)).map(lambda v: None if v is None else float(v))
        ),
        red_flag_screen=True,
        red_flag_screen_complete=draw(st.booleans()),
        red_flags=tuple(draw(flags)),
        history=draw(history),
    )
    muscle = draw(
        st.one_of(
            st.none(),
            st.builds(
                MuscleFindings,
                multifidus_fat_pct=st.floats(0, 100),
                multifidus_levels=st.just(("L4",)),
                fat_method=st.just("dixon"),
                multifidus_asymmetry_pct=st.none(),
            ),
        )
    )
    inst = draw(
        st.one_of(
            st.none(),
            st.lists(level, min_size=1, max_size=3).map(lambda lv: InstabilityFindings(tuple(lv))),
        )
    )
    return StabilityProfile("p", dt.date(2024, 3, 4), clinical, muscle, inst, None)


RULES = load_rules()


@settings(max_examples=300, deadline=None)
@given(
    profiles(
        st.lists(red_flag, max_size=3).flatmap(
            lambda others: st.lists(blocking_flag, min_size=1, max_size=2).map(lambda b: b + others)
        )
    ),
    st.sampled_from(["NICE", "ACP"]),
)
def test_open_emergency_or_urgent_flag_never_yields_a_plan(profile, jurisdiction):
    tri = triage(profile, rules=RULES, jurisdiction=jurisdiction)
    assert tri.track == "S0"
    assert not tri.plan_allowed
    assert prescribe(profile, tri, rules=RULES) is None
    # even a forged "allowed" triage cannot produce a plan for this profile
    forged = Triage("F3", True, (), (), jurisdiction, tri.guideline)
    assert prescribe(profile, forged, rules=RULES) is None


@settings(max_examples=200, deadline=None)
@given(
    profiles(
        st.lists(
            red_flag.filter(lambda f: f.urgency == "routine" and not f.blocks_exercise), max_size=2
        )
    )
)
def test_without_blocking_flags_every_profile_gets_a_complete_plan(profile):
    tri = triage(profile, rules=RULES)
    assert tri.track != "S0"
    plan = prescribe(profile, tri, rules=RULES)
    assert plan is not None
    ids = {ex.id for ex in plan.exercises}
    supine = {"curl_up", "glute_bridge", "dead_bug"}
    expected = {
        "side_bridge",
        "bird_dog",
        "front_plank",
        "walking",
        "movement_breaks",
        "slow_lowering",
    }
    if "pregnancy" not in profile.clinical.history.conditions:
        expected |= supine
    assert expected <= ids
    assert all(0 <= ex.stage <= 3 for ex in plan.exercises)
    assert not set(plan.not_offered) & ids  # no passive modality is ever prescribed
