"""The plan as steps: steps alone, and the driver with an added step."""

from __future__ import annotations

import datetime as dt

from spinestab.care import load_rules, prescribe, triage
from spinestab.care.exercises import load_library
from spinestab.care.plan import PLAN_STEPS, PlanDraft, PlanInput, PlanPart
from spinestab.care.plan.steps import fat_emphasis, home_exercises, phases, slow_lowering
from spinestab.care.profile import ClinicalState, History, MuscleFindings, StabilityProfile

RULES = load_rules()
LIB = load_library()


def profile(*, fat=None, conditions=(), risk="medium"):
    clinical = ClinicalState(
        date=dt.date(2024, 3, 4),
        startback_risk=risk,
        startback_total=4.0,
        startback_psychosocial=2,
        red_flag_screen=True,
        red_flag_screen_complete=True,
        history=History(conditions=tuple(conditions)),
    )
    muscle = None if fat is None else MuscleFindings(fat, ("L4",), "dixon", None)
    return StabilityProfile("p", dt.date(2024, 3, 4), clinical, muscle, None, None)


def inp(p):
    return PlanInput(p, triage(p, rules=RULES), RULES, LIB, dt.date(2024, 3, 4))


def run(p, *steps):
    draft = PlanDraft()
    for step in steps:
        draft = draft.add(step(inp(p), draft))
    return draft


def test_fat_grade_2_lengthens_the_phases_and_starts_slow_lowering_early():
    plain = run(profile(fat=5.0), fat_emphasis, phases, slow_lowering)
    fat = run(profile(fat=60.0), fat_emphasis, phases, slow_lowering)
    assert (plain.fat.grade, fat.fat.grade) == (0, 2)
    # rules phase_weeks [[1,2],[3,6],[7,12]] and phase_weeks_fi2 [[1,3],[4,9],[10,16]]
    assert [p["weeks"] for p in plain.phases] == [[1, 2], [3, 6], [7, 12]]
    assert [p["weeks"] for p in fat.phases] == [[1, 3], [4, 9], [10, 16]]
    # slow lowering: phase 3 without emphasis, phase 2 with it
    assert plain.exercises[-1].start_week == 7 and fat.exercises[-1].start_week == 4
    assert fat.emphasis["extensor_emphasis"] and "fi_grade2" in [r.code for r in fat.reasons]


def test_supine_exercises_are_left_out_in_pregnancy():
    draft = run(profile(conditions=["pregnancy"]), fat_emphasis, phases, home_exercises)
    supine = {e.id for e in LIB.exercises.values() if e.supine} & {
        "curl_up",
        "side_bridge",
        "bird_dog",
        "glute_bridge",
        "dead_bug",
        "front_plank",
    }
    assert supine and not supine & {e.id for e in draft.exercises}
    assert {f"pregnancy_{i}" for i in supine} == {r.code for r in draft.reasons} - {"phases"}


def test_an_added_plan_step_is_a_local_change():
    def extra_education(inp, so_far):
        return PlanPart(changes={"education": (*so_far.education, "sleep")})

    p = profile()
    tri = triage(p, rules=RULES)
    base = prescribe(p, tri, rules=RULES)
    added = prescribe(p, tri, rules=RULES, steps=(*PLAN_STEPS, extra_education))
    assert added.education == (*base.education, "sleep")
    assert added.to_dict() | {"education": None} == base.to_dict() | {"education": None}
