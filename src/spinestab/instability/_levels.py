"""Vertebral level names: parsing, anatomical order and motion segments."""

from __future__ import annotations

import re

from spinestab.errors import InputError

__all__ = ["LEVEL_ORDER", "adjacent", "level_index", "normalise_level", "segment_name"]

#: Cranial-to-caudal order of the vertebral levels we accept. T13 and L6 are the
#: transitional levels of the SPINEPS/TPTBox scheme (``TPTBox/core/vert_constants.py``).
LEVEL_ORDER: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 14)),
    *(f"L{i}" for i in range(1, 7)),
    "S1",
)
_INDEX = {name: i for i, name in enumerate(LEVEL_ORDER)}
_PATTERN = re.compile(r"^\s*(?:vertebrae?_)?([CTLS])\s*(\d{1,2})\s*$", re.IGNORECASE)


def normalise_level(name: object, *, source: str | None = None) -> str:
    """Return the canonical level name (``"L4"``) for ``"l4"``, ``"vertebrae_L4"`` and the like.

    Raises
    ------
    InputError
        If the name is not a known vertebral level.

    """
    match = _PATTERN.match(str(name))
    canonical = f"{match.group(1).upper()}{int(match.group(2))}" if match else None
    if canonical not in _INDEX:
        raise InputError(
            "unknown vertebral level",
            source=source,
            item="level",
            value=name,
            expected="a level such as L1..L5, S1, T12 (C1-C7, T1-T13, L1-L6, S1)",
        )
    return canonical


def level_index(name: str) -> int:
    """Position of a canonical level in the cranial-to-caudal order (C1 = 0)."""
    return _INDEX[name]


def segment_name(upper: str, lower: str) -> str:
    """Name of the motion segment between two levels, e.g. ``"L4-L5"``."""
    return f"{upper}-{lower}"


#: Transitional levels, present only in some spines (TPTBox ``T13``, ``L6``).
TRANSITIONAL = frozenset({"T13", "L6"})


def adjacent(upper: str, lower: str, present: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether ``upper`` and ``lower`` form a motion segment.

    They do when every level between them in :data:`LEVEL_ORDER` is a transitional level
    (T13, L6) that is not present, e.g. L5-S1 in a spine without L6.
    """
    i, j = _INDEX[upper], _INDEX[lower]
    if j <= i:
        return False
    between = LEVEL_ORDER[i + 1 : j]
    return all(b in TRANSITIONAL and b not in present for b in between)
