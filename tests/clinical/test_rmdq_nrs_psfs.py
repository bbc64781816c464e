"""RMDQ, pain NRS and PSFS: hand-computed cases (CLINICAL_LOGIC.md §2.3-2.5)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinestab.clinical import RmdqRules, score_nrs, score_psfs, score_rmdq
from spinestab.errors import InputError

# ---- RMDQ ------------------------------------------------------------------------------

RMDQ_CASES = [
    ([], 0),
    (list(range(1, 25)), 24),
    ([1, 5, 9], 3),
    ([24], 1),
    ([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24], 12),
    ({"ticked": [3, 7], "unanswered": []}, 2),
    ({str(i): i % 3 == 0 for i in range(1, 25)}, 8),
    ({f"q{i}": i <= 5 for i in range(1, 25)}, 5),
    (["q1", "q2"], 2),
    (list(range(1, 20)), 19),
]


@pytest.mark.parametrize(("answers", "expected"), RMDQ_CASES)
def test_rmdq_hand_computed(answers, expected):
    result = score_rmdq(answers)
    assert result.complete and result.score == expected and result.max == 24


def test_rmdq_unanswered_items_make_it_incomplete():
    result = score_rmdq({"ticked": [1, 2], "unanswered": [7, 3]})
    assert not result.complete and result.score is None
    assert result.missing == ("item 3", "item 7")


def test_rmdq_item_dict_with_absent_items_is_incomplete():
    result = score_rmdq({str(i): True for i in range(1, 23)})
    assert not result.complete and result.missing == ("item 23", "item 24")


def test_rmdq_prorating_is_opt_in():
    # 11 of 22 answered items ticked, 2 unanswered: 11 * 24 / 22 = 12
    answers = {"ticked": list(range(1, 12)), "unanswered": [23, 24]}
    result = score_rmdq(answers, rules=RmdqRules(max_prorated_missing=2))
    assert result.complete and result.score == pytest.approx(12.0)
    assert result.details["prorated"]


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        ([3, 3], "duplicated"),
        ([25], "out of range"),
        ([0], "out of range"),
        (["x"], "wrongly typed"),
        ({"1": "yes"}, "wrongly typed"),
        ("1,2", "wrong shape"),
        ({"ticked": [1], "unanswered": [1]}, "both ticked and unanswered"),
    ],
)
def test_rmdq_bad_answers(answers, fragment):
    with pytest.raises(InputError, match=fragment):
        score_rmdq(answers)


@given(st.sets(st.integers(1, 24)), st.integers(1, 24))
def test_rmdq_ticking_more_never_lowers(ticked, extra):
    assert score_rmdq(sorted(ticked | {extra})).score >= score_rmdq(sorted(ticked)).score


# ---- NRS -------------------------------------------------------------------------------


@pytest.mark.parametrize("pain", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
def test_nrs_values(pain):
    result = score_nrs({"pain": pain})
    assert result.complete and result.score == pain and result.max == 10


def test_nrs_keeps_leg_pain_and_average():
    result = score_nrs({"pain": 4, "leg_pain": 7, "average_7d": 5})
    assert result.details == {"leg_pain": 7, "average_7d": 5}


def test_nrs_missing_pain_is_incomplete():
    result = score_nrs({"pain": None, "leg_pain": 3})
    assert not result.complete and result.missing == ("pain",) and result.score is None


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        ({"pain": 11}, "out of range"),
        ({"pain": -1}, "out of range"),
        ({"pain": 5.5}, "wrongly typed"),
        ({"pain": "5"}, "wrongly typed"),
        ({"pain": 3, "mood": 2}, "unknown item"),
    ],
)
def test_nrs_bad(answers, fragment):
    with pytest.raises(InputError, match=fragment):
        score_nrs(answers)


# ---- PSFS ------------------------------------------------------------------------------


def acts(*scores):
    return {"activities": [{"name": f"activity {i}", "score": s} for i, s in enumerate(scores)]}


PSFS_CASES = [
    ((3, 4, 5), 4.0),
    ((0, 0, 0), 0.0),
    ((10, 10, 10), 10.0),
    ((1, 2, 4), 7 / 3),
    ((2, 4, 6, 8), 5.0),
    ((1, 2, 3, 4, 10), 4.0),
    ((7, 8, 9), 8.0),
    ((0, 5, 10), 5.0),
    ((3, 3, 4, 4), 3.5),
    ((9, 0, 0, 0, 0), 1.8),
]


@pytest.mark.parametrize(("scores", "mean"), PSFS_CASES)
def test_psfs_mean(scores, mean):
    result = score_psfs(acts(*scores))
    assert result.complete and result.score == pytest.approx(mean)


def test_psfs_fewer_than_three_is_incomplete():
    result = score_psfs(acts(5, 6))
    assert not result.complete and result.missing == ("activity 3",) and result.score is None


def test_psfs_unrated_activity_is_incomplete():
    result = score_psfs(acts(5, None, 7))
    assert not result.complete and result.missing == ("activity 2 (activity 1) score",)


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        (acts(1, 2, 3, 4, 5, 6), "too many"),
        (acts(1, 2, 11), "out of range"),
        (
            {
                "activities": [
                    {"name": "a", "score": 1},
                    {"name": "A", "score": 2},
                    {"name": "b", "score": 3},
                ]
            },
            "duplicated activity",
        ),
        (
            {"activities": [{"score": 1}, {"name": "b", "score": 2}, {"name": "c", "score": 3}]},
            "without a name",
        ),
        ({"activities": "walking"}, "wrongly typed"),
    ],
)
def test_psfs_bad(answers, fragment):
    with pytest.raises(InputError, match=fragment):
        score_psfs(answers)
