"""ODI 2.1a: hand-computed cases (CLINICAL_LOGIC.md §2.2) and properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinestab.clinical import OdiRules, odi_band, score_odi
from spinestab.errors import InputError


def sections(*values) -> dict:
    return {f"s{i}": v for i, v in enumerate(values, start=1)}


# (section answers, raw sum, denominator, percent, band) computed by hand
HAND_CASES = [
    ((0,) * 10, 0, 50, 0.0, "minimal disability"),
    ((5,) * 10, 50, 50, 100.0, "bed-bound or exaggerating symptoms"),
    ((2,) * 10, 20, 50, 40.0, "moderate disability"),
    ((1,) * 10, 10, 50, 20.0, "minimal disability"),  # 20 % is the top of "minimal"
    ((2, 1, 1, 1, 1, 1, 1, 1, 1, 1), 11, 50, 22.0, "moderate disability"),
    ((3,) * 10, 30, 50, 60.0, "severe disability"),
    ((4, 3, 3, 3, 3, 3, 3, 3, 3, 3), 31, 50, 62.0, "crippled"),
    ((4,) * 10, 40, 50, 80.0, "crippled"),
    ((5, 4, 4, 4, 4, 4, 4, 4, 4, 4), 41, 50, 82.0, "bed-bound or exaggerating symptoms"),
    # one section skipped (sex life): the published example 16/45 = 35.5 %
    ((0, 2, 2, 2, 2, 2, 2, None, 2, 2), 16, 45, 100 * 16 / 45, "moderate disability"),
    # two skipped: denominator 40
    ((3, 3, 3, 3, None, 3, 3, None, 3, 3), 24, 40, 60.0, "severe disability"),
    ((1, 0, 2, 0, 3, 0, 4, 0, 5, 0), 15, 50, 30.0, "moderate disability"),
]


@pytest.mark.parametrize(("values", "total", "maximum", "percent", "band"), HAND_CASES)
def test_hand_computed(values, total, maximum, percent, band):
    result = score_odi(sections(*values))
    assert result.complete
    assert result.score == total
    assert result.max == maximum
    assert result.percent == pytest.approx(percent)
    assert result.band == band


def test_one_skipped_section_named_but_complete():
    result = score_odi(sections(0, 2, 2, 2, 2, 2, 2, None, 2, 2))
    assert result.complete and result.missing == ("s8 (sex life)",)
    assert round(result.percent, 1) == 35.6


def test_three_skipped_sections_are_incomplete():
    result = score_odi(sections(1, None, 1, 1, None, 1, 1, None, 1, 1))
    assert not result.complete
    assert result.score is None and result.percent is None and result.band is None
    assert result.missing == ("s2 (personal care)", "s5 (sitting)", "s8 (sex life)")


def test_absent_sections_count_as_skipped():
    result = score_odi({"s1": 2, "s2": 2, "s3": 2, "s4": 2, "s5": 2, "s6": 2, "s7": 2, "s9": 2})
    assert result.complete and result.max == 40 and result.percent == pytest.approx(40.0)


def test_double_answer_scores_the_higher():
    result = score_odi(sections([2, 4], 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert result.score == 4 and result.percent == pytest.approx(8.0)
    assert any("higher" in note for note in result.notes)


def test_double_answer_can_be_rejected():
    with pytest.raises(InputError, match="more than one"):
        score_odi(sections([2, 4], *(0,) * 9), rules=OdiRules(double_answer="reject"))


def test_min_answered_is_configurable():
    values = sections(1, None, 1, 1, None, 1, 1, None, 1, 1)
    result = score_odi(values, rules=OdiRules(min_answered=7))
    assert result.complete and result.percent == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"s1": 6}, "out of range"),
        ({"s2": -1}, "out of range"),
        ({"s3": "3"}, "wrongly typed"),
        ({"s5": True}, "true/false on a scale"),
        ({"s11": 1}, "unknown item"),
        ({"s4": [2, 2]}, "duplicated"),
    ],
)
def test_bad_answers(patch, fragment):
    with pytest.raises(InputError, match=fragment):
        score_odi(sections(*(1,) * 10) | patch)


def test_band_boundaries():
    assert odi_band(0) == "minimal disability"
    assert odi_band(40.0) == "moderate disability"
    assert odi_band(40.1) == "severe disability"


section_values = st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=10, max_size=10)


@given(section_values)
def test_percent_in_range_or_incomplete(values):
    result = score_odi(sections(*values))
    answered = sum(v is not None for v in values)
    assert result.complete == (answered >= 8)
    if result.complete:
        assert 0.0 <= result.percent <= 100.0
        assert result.max == 5 * answered


@given(section_values, st.integers(0, 9))
def test_answering_worse_never_lowers_disability(values, index):
    if values[index] is None:
        values[index] = 0
    worse = list(values)
    worse[index] = min(values[index] + 1, 5)
    before, after = score_odi(sections(*values)), score_odi(sections(*worse))
    assert before.complete == after.complete
    if before.complete:
        assert after.percent >= before.percent
