"""The uniform value checks (spinestab.core.validation)."""

from __future__ import annotations

import math

import pytest

from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import InputError


def test_check_choice_returns_the_value_or_names_input_value_and_choices():
    assert check_choice("--pool", "label", ("label", "all")) == "label"
    with pytest.raises(InputError) as info:
        check_choice("--pool", "any", ("label", "all"), source="cli", message="unknown pool")
    err = info.value
    assert (err.item, err.value, err.expected, err.source) == (
        "--pool",
        "any",
        "one of label, all",
        "cli",
    )
    assert str(err) == "cli, item --pool: unknown pool (got 'any'); expected one of label, all"


def test_check_choice_refuses_a_bool_for_a_number():
    assert check_choice("classes", 2, (2, 3)) == 2
    with pytest.raises(InputError):
        check_choice("classes", True, (1, 2))
    assert check_choice("flag", True, (True, False)) is True


@pytest.mark.parametrize(
    ("value", "lo", "hi", "kwargs", "expected"),
    [
        (101, 0, 100, {}, "0 to 100"),
        (-1, 0, None, {}, ">= 0"),
        (0, 0, None, {"inclusive": (False, True)}, "> 0"),
        (5, None, 4, {}, "<= 4"),
        (4, 0, 4, {"inclusive": (True, False)}, ">= 0 and < 4"),
        (math.nan, 0, 1, {}, "0 to 1"),
    ],
)
def test_check_range_refuses_outside_values(value, lo, hi, kwargs, expected):
    with pytest.raises(InputError, match="out of range") as info:
        check_range("x", value, lo, hi, **kwargs)
    assert info.value.expected == expected
    assert info.value.item == "x"


def test_check_range_accepts_bounds_and_refuses_non_numbers():
    assert check_range("x", 0, 0, 100) == 0
    assert check_range("x", 100.0, 0, 100) == 100.0
    with pytest.raises(InputError, match="wrong type"):
        check_range("x", "5", 0, 10)
    with pytest.raises(InputError, match="wrong type"):
        check_range("x", True, 0, 10)


def test_check_type():
    assert check_type("age", 40, int) == 40
    assert check_type("weeks", 4.5, (int, float)) == 4.5
    with pytest.raises(InputError) as info:
        check_type("age", "40", int)
    assert info.value.expected == "int"
    with pytest.raises(InputError) as info:
        check_type("weeks", False, (int, float))
    assert info.value.expected == "int or float"
    assert check_type("flag", False, bool) is False
