"""Second reader: differences per measure against spines built with known differences."""

from __future__ import annotations

import pytest

from spinestab.instability import assess
from spinestab.instability.morphometry import measure_morphometry
from spinestab.instability.phantom import build_spine
from spinestab.instability.readers import (
    MORPHOMETRY_MEASURES,
    compare_readers,
)

LEVELS = ("L1", "L2", "L3", "L4", "L5", "S1")


def _spine(slip_l4: float, angle_l4: float, height=27.0):
    return build_spine(
        levels=LEVELS,
        slip_mm=[0.0, 0.5, 1.0, slip_l4, 1.0],
        angle_deg=[4.0, 6.0, 8.0, angle_l4, 14.0],
        height_mm=height,
    )


def test_known_differences_per_measure():
    first = assess(neutral=_spine(6.0, 9.0)).to_dict()["levels"]
    second = assess(neutral=_spine(7.25, 10.5)).to_dict()["levels"]
    result = compare_readers(first, second)
    by = {(d.level, d.measure): d for d in result.differences}
    assert by[("L4-L5", "slip_mm")].difference == pytest.approx(1.25, abs=0.011)
    assert by[("L4-L5", "segmental_angle_deg")].difference == pytest.approx(1.5, abs=0.011)
    for level in ("L1-L2", "L2-L3", "L3-L4", "L5-S1"):
        assert by[(level, "slip_mm")].difference == pytest.approx(0.0, abs=0.011)
    slip = next(a for a in result.agreement if a.measure == "slip_mm")
    assert slip.n == 5
    assert slip.max_absolute_difference == pytest.approx(1.25, abs=0.011)
    assert slip.mean_absolute_difference == pytest.approx(1.25 / 5, abs=0.011)
    # no flexion/extension: translation is not measured by either reader and not listed
    assert not any(d.measure == "translation_mm" for d in result.differences)
    assert {v["level"] for v in result.verdicts} == {r["level"] for r in first}
    assert result.only_first == () and result.only_second == ()


def test_levels_only_one_reader_placed_are_named():
    first = [{"level": "L4-L5", "slip_mm": 5.0}, {"level": "L5-S1", "slip_mm": 1.0}]
    second = [{"level": "L4-L5", "slip_mm": None}, {"level": "L3-L4", "slip_mm": 2.0}]
    result = compare_readers(first, second, verdict_key=None)
    assert result.only_first == ("L5-S1",) and result.only_second == ("L3-L4",)
    (diff,) = result.differences
    assert diff.first == 5.0 and diff.second is None and diff.difference is None
    assert result.to_dict()["agreement"][0]["n"] == 0


def test_morphometry_heights_between_readers():
    first = measure_morphometry(_spine(6.0, 9.0, height=27.0)).to_dict()["vertebrae"]
    second = measure_morphometry(_spine(6.0, 9.0, height=26.0)).to_dict()["vertebrae"]
    result = compare_readers(
        first, second, measures=MORPHOMETRY_MEASURES, verdict_key="genant_grade"
    )
    posterior = [d for d in result.differences if d.measure == "posterior_height_mm"]
    assert len(posterior) == 5  # S1 has no inferior corners: no heights
    assert all(d.difference == pytest.approx(-1.0, abs=0.011) for d in posterior)
    assert all(v["agree"] for v in result.verdicts)


def test_examples_in_the_docstrings_run():
    import doctest

    from spinestab.instability import radiograph, readers

    for module in (readers, radiograph):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0 and result.attempted > 0, module.__name__
