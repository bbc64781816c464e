"""Uniform checks of option and input values, so that every error reads alike.

In the spirit of MNE-Python's ``_check_option`` and ``_validate_type``: each helper returns
the value when it is acceptable and otherwise raises :class:`~spinestab.errors.InputError`
naming the input, the value found and what was expected.

Examples
--------
>>> check_choice("--units", "g", ("auto", "g", "m/s2"))
'g'
>>> check_choice("--units", "mg", ("auto", "g", "m/s2"))
Traceback (most recent call last):
...
spinestab.errors.InputError: item --units: unknown value (got 'mg'); expected one of auto, g, m/s2
>>> check_range("adherence_pct", 120, 0, 100)
Traceback (most recent call last):
...
spinestab.errors.InputError: item adherence_pct: out of range (got 120); expected 0 to 100
>>> check_type("age", True, int)
Traceback (most recent call last):
...
spinestab.errors.InputError: item age: wrong type (got True); expected int

"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

from spinestab.errors import InputError

__all__ = ["check_choice", "check_range", "check_type", "choices_text", "read_setting"]

T = TypeVar("T")


def choices_text(allowed: Iterable[Any], *, prefix: str = "one of ") -> str:
    """Spell the allowed values: ``"one of a, b, c"``."""
    return prefix + ", ".join(str(a) for a in allowed)


def check_choice(
    name: str,
    value: T,
    allowed: Iterable[T],
    *,
    source: str | None = None,
    message: str = "unknown value",
    expected: str | None = None,
) -> T:
    """Return ``value`` if it is one of ``allowed``; raise :class:`InputError` otherwise.

    Parameters
    ----------
    name : str
        The input's name as the user knows it (an option ``--units``, a key ``sex``).
    value : object
        The value given.
    allowed : iterable
        The accepted values (compared with ``==``; normalise case before calling).
    source : str, optional
        The file the value came from.
    message : str
        What is wrong, e.g. ``"unknown fat method"``.
    expected : str, optional
        The expectation to print (default: ``"one of a, b, c"``).

    """
    options = list(allowed)
    # JSON true is not the number 1: a bool matches only where a bool is allowed
    bool_mismatch = isinstance(value, bool) and not any(isinstance(o, bool) for o in options)
    if value in options and not bool_mismatch:
        return value
    raise InputError(
        message,
        source=source,
        item=name,
        value=value,
        expected=expected if expected is not None else choices_text(options),
    )


def _fmt(number: float) -> str:
    return f"{number:g}"


def check_range(
    name: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    source: str | None = None,
    inclusive: tuple[bool, bool] = (True, True),
    message: str = "out of range",
    expected: str | None = None,
) -> float:
    """Return ``value`` if it lies within ``lo``..``hi``; raise :class:`InputError` otherwise.

    NaN is never within range. Bounds left as None are open.

    Parameters
    ----------
    name : str
        The input's name.
    value : float
        The number given (a bool is refused: JSON ``true`` is no number).
    lo, hi : float, optional
        The bounds.
    source : str, optional
        The file the value came from.
    inclusive : (bool, bool)
        Whether ``lo`` and ``hi`` themselves are accepted.
    message : str
        What is wrong (default ``"out of range"``).
    expected : str, optional
        The expectation to print (default: ``"lo to hi"``, ``">= lo"``, ``"> lo"``, ...).

    """
    check_type(name, value, (int, float), source=source, expected="a number")
    lo_inclusive, hi_inclusive = inclusive
    number = float(value)
    too_low = lo is not None and (number < lo if lo_inclusive else number <= lo)
    too_high = hi is not None and (number > hi if hi_inclusive else number >= hi)
    if not (math.isnan(number) or too_low or too_high):
        return value
    if expected is None:
        if lo is not None and hi is not None and lo_inclusive and hi_inclusive:
            expected = f"{_fmt(lo)} to {_fmt(hi)}"
        else:
            parts = []
            if lo is not None:
                parts.append(f"{'>=' if lo_inclusive else '>'} {_fmt(lo)}")
            if hi is not None:
                parts.append(f"{'<=' if hi_inclusive else '<'} {_fmt(hi)}")
            expected = " and ".join(parts) or "a number"
    raise InputError(message, source=source, item=name, value=value, expected=expected)


def _type_names(types: tuple[type, ...]) -> str:
    names = [t.__name__ for t in types]
    return names[0] if len(names) == 1 else " or ".join(names)


def check_type(
    name: str,
    value: T,
    types: type | tuple[type, ...],
    *,
    source: str | None = None,
    message: str = "wrong type",
    expected: str | None = None,
) -> T:
    """Return ``value`` if it is an instance of ``types``; raise :class:`InputError` otherwise.

    A bool is refused where ``int`` or ``float`` is expected unless ``bool`` is named
    itself (JSON ``true`` is not the number 1).

    Parameters
    ----------
    name : str
        The input's name.
    value : object
        The value given.
    types : type or tuple of type
        The accepted types.
    source : str, optional
        The file the value came from.
    message : str
        What is wrong (default ``"wrong type"``).
    expected : str, optional
        The expectation to print (default: the type names).

    """
    accepted = types if isinstance(types, tuple) else (types,)
    is_bool_mismatch = isinstance(value, bool) and bool not in accepted
    if isinstance(value, accepted) and not is_bool_mismatch:
        return value
    raise InputError(
        message,
        source=source,
        item=name,
        value=value,
        expected=expected if expected is not None else _type_names(accepted),
    )


def read_setting(name: str, *, message: str = "bad setting", expected: str | None = None) -> Any:
    """Return the setting ``name`` (``SPINESTAB_<NAME>``) through the settings object.

    A value the settings refuse is an :class:`InputError` naming the variable, the value
    and what is accepted, never a pydantic traceback.

    Parameters
    ----------
    name : str
        Field of :class:`spinestab.settings.Settings`, e.g. ``"language"``.
    message, expected : str
        What to say when this setting's value is refused.

    """
    from pydantic import ValidationError

    from spinestab.settings import get_settings

    try:
        return getattr(get_settings(), name)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = str(first["loc"][0]) if first["loc"] else name
        if field_name == name:
            raise InputError(
                message, item=name, value=first.get("input"), expected=expected
            ) from None
        # another setting is refused: name its variable
        raise InputError(
            "bad setting",
            item=f"SPINESTAB_{field_name.upper()}",
            value=first.get("input"),
            expected=str(first["msg"]).removeprefix("Input should be "),
        ) from None
