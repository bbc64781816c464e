"""The triage as rule steps: each step alone, and the driver with a step added or removed."""

from __future__ import annotations

import datetime as dt

import pytest

from spinestab.care import load_rules, triage
from spinestab.care.profile import (
    ClinicalState,
    History,
    InstabilityFindings,
    LevelFinding,
    RedFlag,
    StabilityProfile,
)
from spinestab.care.triage import (
    TRIAGE_STEPS,
    Action,
    Decision,
    StepResult,
    TriageInput,
    guideline_set,
)
from spinestab.care.triage.functional import functional_track, movement_control
from spinestab.care.triage.red_flags import red_flag_screen, red_flags
from spinestab.care.triage.structural import structural_screen
from spinestab.errors import InputError

RULES = load_rules()


def profile(*, risk="medium", flags=(), history=None, levels=None, screen=True):
    clinical = ClinicalState(
        date=dt.date(2024, 3, 4),
        startback_risk=risk,
        startback_total=4.0,
        startback_psychosocial=2,
        red_flag_screen=screen,
        red_flag_screen_complete=screen,
        red_flags=tuple(flags),
        history=history or History(),
    )
    inst = InstabilityFindings(tuple(levels)) if levels else None
    return StabilityProfile("p", dt.date(2024, 3, 4), clinical, None, inst, None)


def inp(p):
    return TriageInput(p, RULES, "NICE", guideline_set("NICE", chronic=None))


def slip(level="L4-L5", mm=6.0, grade=1, verdict=None):
    return LevelFinding(level, mm, None, grade, None, None, None, verdict)


CES = RedFlag("cauda_equina", "emergency", "ED now", ("saddle_numbness",), "src", "V", True)
SPA = RedFlag("axial_spa", "routine", "rheumatology", ("onset_before_35",), "src", "V", False)


def test_red_flag_step_stops_on_a_blocking_flag_and_passes_a_routine_one():
    result = red_flags(inp(profile(flags=[CES, SPA])), Decision())
    assert result.stop and result.track == "S0"
    assert [a.code for a in result.actions] == [
        "red_flag_emergency",
        "red_flag_routine",
        "no_exercise_plan",
    ]
    assert [r.code for r in result.reasons] == ["red_flag_cauda_equina"]
    result = red_flags(inp(profile(flags=[SPA])), Decision())
    assert not result.stop and result.track is None and not result.reasons


def test_missing_screen_makes_a_draft():
    result = red_flag_screen(inp(profile(screen=False)), Decision())
    assert result.draft and result.actions[0].code == "complete_red_flag_screen"
    assert red_flag_screen(inp(profile()), Decision()) == StepResult()


@pytest.mark.parametrize(
    ("history", "levels", "track", "code"),
    [
        (History(), [slip(grade=3)], None, None),  # high grade, care not failed: S2
        (History(neuro_deficit=True), [slip(grade=3)], "S1", "s1_structural"),
        (History(neuro_deficit=True), [slip(grade=1)], "S1", "s1_neuro_deficit"),
        (History(concordant_symptoms=True), [slip(verdict="borderline")], "S2", "s2_structural"),
        (History(), [slip(mm=1.0, grade=0)], None, "imaging_not_structural"),
    ],
)
def test_structural_step_alone(history, levels, track, code):
    result = structural_screen(inp(profile(history=history, levels=levels)), Decision())
    if track is None and code is None:
        track, code = "S2", "s2_structural"
    assert result.track == track
    assert [r.code for r in result.reasons] == [code]
    assert "structural" in result.findings


def test_structural_step_without_imaging_adds_nothing():
    assert structural_screen(inp(profile()), Decision()) == StepResult()


@pytest.mark.parametrize(
    ("risk", "history", "track"),
    [
        ("high", History(), "F2"),
        ("medium", History(), "F1"),
        ("low", History(), "F3"),
        ("low", History(aberrant_movement=True), "F1"),  # rule low_risk_with_movement_signs
        (None, History(), "F1"),  # rule unknown_risk_track
    ],
)
def test_functional_step_alone(risk, history, track):
    p = profile(risk=risk, history=history)
    assert functional_track(inp(p), Decision()).track == track
    # a track decided earlier (structural) is never overwritten
    assert functional_track(inp(p), Decision(track="S2")).track is None


def test_movement_control_counts_hicks_predictors():
    h = History(age=30, slr_deg=95, aberrant_movement=True, prone_instability_test=None)
    found = movement_control(inp(profile(history=h)), Decision()).findings["movement_control"]
    assert found["hicks_positive"] == ["age_below", "slr_above", "aberrant_movement"]
    assert found["hicks_known"] == 3 and found["movement_signs"]


def test_an_added_step_is_a_local_change():
    def deformity(inp, so_far):
        if so_far.track in ("S1", "S2"):
            return StepResult()
        return StepResult(
            actions=(Action.routine("review_deformity", "review", "Look.", "test", "D"),),
            reasons=(RULES.reason("deformity", "A wedge at L1.", source="test", evidence="D"),),
            findings={"deformity": {"L1": "wedge"}},
            draft=True,
        )

    base = triage(profile())
    index = TRIAGE_STEPS.index(functional_track) + 1
    steps = (*TRIAGE_STEPS[:index], deformity, *TRIAGE_STEPS[index:])
    added = triage(profile(), steps=steps)
    assert added.track == base.track == "F1"
    assert added.draft and not base.draft
    assert added.findings["deformity"] == {"L1": "wedge"}
    assert added.reason_codes == (*base.reason_codes, "deformity")
    i = base.action_codes.index("motor_control_programme")  # the first track action
    assert added.action_codes == (
        *base.action_codes[:i],
        "review_deformity",
        *base.action_codes[i:],
    )


def test_a_stopping_step_blocks_the_plan():
    def stop(inp, so_far):
        return StepResult(track="S0", stop=True)

    result = triage(profile(), steps=(stop, *TRIAGE_STEPS))
    assert result.track == "S0" and not result.plan_allowed and not result.actions


def test_unknown_jurisdiction_is_refused():
    with pytest.raises(InputError, match="unknown jurisdiction"):
        triage(profile(), jurisdiction="WHO")
