"""Red-flag screen (CLINICAL_LOGIC.md §3): each answer -> condition -> action."""

import pytest

from spinestab.clinical import load_red_flag_rules, screen_red_flags
from spinestab.errors import InputError

ALL_NO = dict.fromkeys(load_red_flag_rules().items, False)


def screen(*positive):
    return screen_red_flags(ALL_NO | dict.fromkeys(positive, True))


def test_all_no_gives_no_action():
    result = screen()
    assert result.complete and result.actions == () and result.score == 0


@pytest.mark.parametrize(
    "item",
    [
        "bladder_change",
        "bowel_incontinence",
        "saddle_numbness",
        "sexual_dysfunction",
        "bilateral_sciatica",
        "bilateral_leg_weakness",
    ],
)
def test_every_cauda_equina_item_is_an_emergency(item):
    result = screen(item)
    first = result.actions[0]
    assert first.condition == "cauda_equina" and first.urgency == "emergency"
    assert first.blocks_exercise and first.fhir_priority == "stat"
    assert "emergency department" in first.action and item in first.items


def test_cancer_with_neuro_signs_is_mscc_emergency():
    result = screen("cancer_history", "progressive_leg_weakness")
    conditions = {a.condition: a.urgency for a in result.actions}
    assert conditions["spinal_malignancy"] == "emergency"
    assert conditions["neurological_deficit"] == "same_day"
    assert result.actions[0].urgency == "emergency"


def test_cancer_history_alone_is_urgent():
    (action,) = screen("cancer_history").actions
    assert action.urgency == "urgent" and action.fhir_priority == "urgent"
    assert "MRI" in action.action


def test_fever_is_same_day_infection():
    (action,) = screen("fever_or_rigors").actions
    assert action.condition == "spinal_infection" and action.urgency == "same_day"


def test_major_trauma_goes_to_the_emergency_department():
    (action,) = screen("major_trauma").actions
    assert action.urgency == "emergency" and action.condition == "vertebral_fracture"


def test_suspected_osteoporotic_fracture_is_urgent():
    (action,) = screen("minor_trauma_osteoporosis").actions
    assert action.urgency == "urgent" and "X-ray" in action.action


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [(4, "refer to rheumatology"), (3, "HLA-B27"), (2, None)],
)
def test_axial_spa_counts(criteria, expected):
    extra = ["onset_before_35", "buttock_pain", "psoriasis", "enthesitis", "improves_with_movement"]
    result = screen("onset_before_45_over_3_months", *extra[:criteria])
    if expected is None:
        assert result.actions == ()
    else:
        (action,) = result.actions
        assert action.urgency == "routine" and expected in action.action
        assert not action.blocks_exercise


def test_spa_criteria_need_the_entry_criterion():
    assert screen("onset_before_35", "buttock_pain", "psoriasis", "enthesitis").actions == ()


def test_positive_answer_acts_even_when_form_is_incomplete():
    result = screen_red_flags({"saddle_numbness": True})
    assert not result.complete and "bladder_change" in result.missing
    assert result.actions[0].urgency == "emergency"


def test_list_of_positive_items():
    result = screen_red_flags(["fever_or_rigors"])
    assert result.complete and result.actions[0].urgency == "same_day"


def test_actions_sorted_most_urgent_first():
    result = screen("psoriasis", "fever_or_rigors", "cancer_history", "saddle_numbness")
    urgencies = [a.urgency for a in result.actions]
    assert urgencies[0] == "emergency"
    order = ["emergency", "same_day", "urgent", "routine"]
    assert urgencies == sorted(urgencies, key=order.index)


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        ({"headache": True}, "unknown red-flag item"),
        ({"fever_or_rigors": "yes"}, "wrongly typed"),
        (["fever_or_rigors", "fever_or_rigors"], "duplicated"),
        ("fever", "wrong shape"),
    ],
)
def test_bad_red_flag_answers(answers, fragment):
    with pytest.raises(InputError, match=fragment):
        screen_red_flags(answers)


def test_every_action_names_source_and_evidence():
    rules = load_red_flag_rules()
    for condition in rules.conditions:
        assert "CLINICAL_LOGIC.md §3" in condition.source
        for rule in condition.rules:
            assert rule.evidence in {"V", "R", "D"}
