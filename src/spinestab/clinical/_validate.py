"""Uniform validation helpers for questionnaire answers: every error reads alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spinestab.errors import InputError

__all__ = ["check_int_in_range", "check_known_items", "is_int_like"]


def is_int_like(value: Any) -> bool:
    """Return True for an ``int`` (or a ``bool``), never for a float or a string."""
    return isinstance(value, int)


def check_int_in_range(value: Any, *, item: str, low: int, high: int) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``; raise otherwise.

    Booleans are accepted as 0/1 (JSON ``true``/``false`` for yes/no items).
    """
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
    """Raise for the first key that is not one of ``known``."""
    known_list = list(known)
    for key in keys:
        if key not in known_list:
            shown = ", ".join(known_list[:12]) + (", ..." if len(known_list) > 12 else "")
            raise InputError(
                f"unknown item for {instrument}", item=str(key), expected=f"one of {shown}"
            )
