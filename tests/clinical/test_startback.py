"""STarT Back: hand-computed cases (CLINICAL_LOGIC.md §2.1) and properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinestab.clinical import score_startback, startback_risk
from spinestab.errors import InputError


def answers(*agree: int, q9: int = 0) -> dict:
    """Items 1-8 agreed as listed, the rest disagreed; q9 as given."""
    result = {f"q{i}": int(i in agree) for i in range(1, 9)}
    result["q9"] = q9
    return result


# (agreed items, q9 level, hand-computed total, psychosocial, risk)
HAND_CASES = [
    ((), 0, 0, 0, "low"),
    ((1, 2, 3, 4, 5, 6, 7, 8), 4, 9, 5, "high"),
    ((1, 2, 3), 0, 3, 0, "low"),  # total-3 boundary
    ((5, 6, 7), 0, 3, 3, "low"),  # total 3 stays low even with psychosocial 3
    ((5, 6), 3, 3, 3, "low"),  # q9 "very much" scores 1; total 3 -> low
    ((1, 5, 6, 7), 0, 4, 3, "medium"),  # just above the boundary, psychosocial 3
    ((5, 6, 7, 8), 0, 4, 4, "high"),  # psychosocial 4 -> high
    ((1, 2, 3, 4), 2, 4, 0, "medium"),  # q9 "moderately" does not score
    ((1, 2, 3), 3, 4, 1, "medium"),  # q9 "very much" scores
    ((1, 2, 3), 4, 4, 1, "medium"),  # q9 "extremely" scores
    ((1, 2, 5, 6, 7), 4, 6, 4, "high"),
    ((1, 2, 3, 4, 5, 6), 1, 6, 2, "medium"),
    ((3, 4, 5, 6, 7), 0, 5, 3, "medium"),
]


@pytest.mark.parametrize(("agree", "q9", "total", "psychosocial", "risk"), HAND_CASES)
def test_hand_computed(agree, q9, total, psychosocial, risk):
    result = score_startback(answers(*agree, q9=q9))
    assert result.complete
    assert result.score == total
    assert result.psychosocial == psychosocial
    assert result.risk == risk


def test_items_identified_by_content_not_position():
    by_content = {
        "leg_pain": 0,
        "shoulder_neck_pain": 1,
        "walking": 0,
        "dressing": 0,
        "fear": 1,
        "anxiety": 1,
        "catastrophising": 1,
        "depression": 1,
        "bothersomeness": 0,
    }
    result = score_startback(by_content)
    # psychosocial = fear + anxiety + catastrophising + depression = 4, total 5 -> high
    assert (result.score, result.psychosocial, result.risk) == (5, 4, "high")
    # The JOSPT ordering would call items 1, 4, 7, 8, 9 psychosocial; by content, the
    # shoulder/neck item (q2) is physical and must not count.
    assert result.details["item_scores"]["shoulder_neck_pain"] == 1


def test_missing_item_is_incomplete_and_named():
    partial = answers(1, 2, 3, 4, 5)
    del partial["q7"]
    partial["q9"] = None
    result = score_startback(partial)
    assert not result.complete
    assert result.score is None and result.risk is None
    assert result.missing == ("q7 (catastrophising)", "q9 (bothersomeness)")


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"q1": 2}, "out of range"),
        ({"q9": 5}, "out of range"),
        ({"q3": "yes"}, "wrongly typed"),
        ({"q4": 0.5}, "wrongly typed"),
        ({"q10": 1}, "unknown item"),
        ({"fear": 1}, "duplicated item"),  # q5 already answers "fear"
    ],
)
def test_bad_answers(patch, fragment):
    with pytest.raises(InputError, match=fragment):
        score_startback(answers(1) | patch)


def test_yes_no_items_accept_booleans_but_q9_does_not():
    as_bools = {f"q{i}": i in (1, 5, 6, 7, 8) for i in range(1, 9)} | {"q9": 0}
    assert score_startback(as_bools).score == 5
    with pytest.raises(InputError, match="true/false on a scale"):
        score_startback(as_bools | {"q9": True})


def test_risk_rule_table():
    assert [startback_risk(t, p) for t, p in [(3, 3), (4, 3), (4, 4), (9, 5), (0, 0)]] == [
        "low",
        "medium",
        "high",
        "high",
        "low",
    ]


item_values = st.fixed_dictionaries(
    {f"q{i}": st.integers(0, 1) for i in range(1, 9)} | {"q9": st.integers(0, 4)}
)


@given(item_values)
def test_ranges(values):
    result = score_startback(values)
    assert 0 <= result.score <= 9
    assert 0 <= result.psychosocial <= 5
    assert result.psychosocial <= result.score
    assert result.risk == startback_risk(result.score, result.psychosocial)


@given(item_values, st.integers(1, 9))
def test_answering_worse_never_lowers_score_or_risk(values, item):
    key = f"q{item}"
    worse = dict(values)
    worse[key] = min(values[key] + 1, 4 if item == 9 else 1)
    order = ["low", "medium", "high"]
    before, after = score_startback(values), score_startback(worse)
    assert after.score >= before.score
    assert after.psychosocial >= before.psychosocial
    assert order.index(after.risk) >= order.index(before.risk)
