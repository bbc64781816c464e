"""The shared vertebral level vocabulary (spinestab.core.levels)."""

from __future__ import annotations

import pytest

from spinestab.core import levels
from spinestab.errors import InputError


def test_vocabulary_counts_regions_as_anatomy_does():
    # 7 cervical, 12 thoracic (+ transitional T13), 5 lumbar (+ transitional L6), 5 sacral
    by_region = {r: [v for v in levels.VERTEBRAE if v[0] == r] for r in "CTLS"}
    assert [len(by_region[r]) for r in "CTLS"] == [7, 13, 6, 5]
    assert levels.VERTEBRAE.index("T12") < levels.VERTEBRAE.index("T13")
    assert levels.VERTEBRAE.index("T13") < levels.VERTEBRAE.index("L1")
    assert levels.VERTEBRAE.index("L6") + 1 == levels.VERTEBRAE.index("S1")
    assert levels.MOBILE_LEVELS[-1] == "S1" and levels.MOBILE_LEVELS[0] == "C1"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("l4", "L4"), (" L 5 ", "L5"), ("vertebrae_T12", "T12"), ("vertebra_s1", "S1")],
)
def test_normalise_level_accepts_common_spellings(text, canonical):
    assert levels.normalise_level(text) == canonical


@pytest.mark.parametrize("text", ["X9", "L7", "S2", "", "L4-L5", "T14"])
def test_normalise_level_refuses_what_is_not_a_mobile_level(text):
    with pytest.raises(InputError, match="unknown vertebral level") as info:
        levels.normalise_level(text, source="landmarks.json")
    assert "C1-C7, T1-T13, L1-L6, S1" in str(info.value)
    assert "landmarks.json" in str(info.value)


def test_normalise_level_with_the_sacrum_allowed():
    assert levels.normalise_level("s3", allowed=levels.VERTEBRAE) == "S3"


def test_order_and_sort_key():
    assert sorted(["S1", "L5", "T12", "C7"], key=levels.vertebra_order) == ["C7", "T12", "L5", "S1"]
    mixed = ["all", "L4", "unassigned", "T12", "L3"]
    assert sorted(mixed, key=levels.level_sort_key) == ["T12", "L3", "L4", "all", "unassigned"]
    with pytest.raises(InputError, match="unknown vertebra"):
        levels.vertebra_order("L55")


def test_adjacent_skips_only_absent_transitional_levels():
    assert levels.adjacent("L4", "L5")
    assert levels.adjacent("L5", "S1")  # no L6 in this spine
    assert not levels.adjacent("L5", "S1", present={"L5", "L6", "S1"})
    assert levels.adjacent("T12", "L1") and not levels.adjacent("T11", "L1")
    assert not levels.adjacent("L5", "L4")
    assert levels.segment_name("L5", "S1") == "L5-S1"


def test_parse_segment_and_normal_sequence():
    assert levels.parse_segment("l4 - l5") == ("L4", "L5")
    assert levels.parse_segment("S1") == ("S1",)
    assert levels.parse_segment("L4-L5-S1") is None
    assert levels.parse_segment("L9") is None
    seq = levels.normal_sequence(["L4"])
    assert "L6" not in seq and "T13" not in seq and seq.index("L5") + 1 == seq.index("S1")
    assert "L6" in levels.normal_sequence(["L6"])


def test_the_domains_use_the_shared_vocabulary():
    from spinestab.imaging import labels
    from spinestab.instability import landmark_parse, measures

    assert labels.VERTEBRAE is levels.VERTEBRAE
    assert landmark_parse.normalise_level is levels.normalise_level
    assert measures.adjacent is levels.adjacent
