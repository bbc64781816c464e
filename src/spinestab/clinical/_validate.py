"""Uniform validation helpers for questionnaire answers: every error reads alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spinestab.errors import InputError

__all__ = ["check_int_in_range", "check_known_items", "is_int_like"]


def is_int_like(value: Any) -> bool:
    """Return True for an ``int`` (or a ``bool``), never for a float or a string."""
    return isinstance(value, int)


def check_int_in_range(
    value: Any, *, item: str, low: int, high: int, allow_bool: bool = False
) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``; raise otherwise.

    Booleans (JSON ``true``/``false``) are accepted as 1/0 only where ``allow_bool`` says
    the item is a yes/no item; on a scale they are a typing error.
    """
    if isinstance(value, bool) and not allow_bool:
        raise InputError(
            "wrongly typed answer: true/false on a scale",
            item=item,
            value=value,
            expected=f"an integer from {low} to {high}",
        )
    if not is_int_like(value):
        raise InputError(
            "wrongly typed answer",
            item=item,
            value=value,
            expected=f"an integer from {low} to {high}",
        )
    number = int(value)
    if not low <= number <= high:
        raise InputError("answer out of range", item=item, value=value, expected=f"{low} to {high}")
    return number


def check_known_items(keys: Iterable[str], known: Iterable[str], *, instrument: str) -> None:
    """Raise for the first key that is not one of ``known`` (or when ``keys`` is no object)."""
    known_list = list(known)
    if not isinstance(keys, Mapping):
        # A list or a number where an object belongs: say so, instead of reading list
        # entries as item names ("unknown item 2").
        shown = ", ".join(known_list[:12]) + (", ..." if len(known_list) > 12 else "")
        raise InputError(
            f"answers for {instrument} are not an object",
            item="answers",
            value=type(keys).__name__,
            expected=f"an object with the keys {shown}",
        )
    for key in keys:
        if key not in known_list:
            shown = ", ".join(known_list[:12]) + (", ..." if len(known_list) > 12 else "")
            raise InputError(
                f"unknown item for {instrument}", item=str(key), expected=f"one of {shown}"
            )
