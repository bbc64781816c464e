"""Change against the minimal important change (Ostelo 2008; CLINICAL_LOGIC.md §2.6)."""

import pytest

from spinestab.clinical import assess_change, compare_scores, score_odi, score_startback
from spinestab.errors import InputError


@pytest.mark.parametrize(
    ("instrument", "before", "after", "status", "rule"),
    [
        ("odi", 40, 30, "improved", "absolute"),  # -10 points
        ("odi", 20, 14, "improved", "relative"),  # -6 points = -30 %
        ("odi", 20, 15, "unchanged", "below"),  # -5 points = -25 %
        ("odi", 30, 41, "worse", "absolute"),
        ("nrs", 5, 3, "improved", "absolute"),  # -2
        ("nrs", 5, 4, "unchanged", "below"),  # -1 = -20 %
        ("nrs", 3, 2, "improved", "relative"),  # -1 = -33 %
        ("nrs", 4, 6, "worse", "absolute"),
        ("rmdq", 10, 6, "improved", "relative"),  # -4 points = -40 %
        ("rmdq", 20, 16, "unchanged", "below"),  # -4 = -20 %
        ("rmdq", 12, 7, "improved", "absolute"),
        ("psfs", 3, 5, "improved", "absolute"),  # higher is better
        ("psfs", 5, 4, "unchanged", "below"),
        ("psfs", 6, 3, "worse", "absolute"),
    ],
)
def test_change_status(instrument, before, after, status, rule):
    change = assess_change(instrument, before, after)
    assert change.status == status
    assert rule in change.rule
    assert change.delta == pytest.approx(after - before)


def test_zero_baseline_has_no_relative_change():
    change = assess_change("nrs", 0, 1)
    assert change.relative is None and change.status == "unchanged"


def test_compare_odi_uses_percent():
    before = score_odi({f"s{i}": 3 for i in range(1, 11)})  # 60 %
    after = score_odi({f"s{i}": 2 for i in range(1, 11)})  # 40 %
    change = compare_scores(before, after)
    assert change.status == "improved" and change.delta == pytest.approx(-20.0)


def test_compare_startback_by_risk_group():
    high = score_startback({f"q{i}": 1 for i in range(1, 9)} | {"q9": 4})
    low = score_startback({f"q{i}": 0 for i in range(1, 9)} | {"q9": 0})
    assert compare_scores(high, low).status == "improved"
    assert compare_scores(low, high).status == "worse"


def test_incomplete_or_mismatched_cannot_be_compared():
    incomplete = score_odi({"s1": 1})
    complete = score_odi({f"s{i}": 1 for i in range(1, 11)})
    with pytest.raises(InputError, match="incomplete"):
        compare_scores(incomplete, complete)
    with pytest.raises(InputError, match="different instruments"):
        compare_scores(complete, score_startback({f"q{i}": 0 for i in range(1, 10)}))
    with pytest.raises(InputError, match="no minimal important change"):
        assess_change("startback", 1, 2)
