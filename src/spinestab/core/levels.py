"""The vertebral level vocabulary: names, cranio-caudal order, parsing and motion segments.

This is the one place that knows which vertebral levels exist and in which order; imaging,
instability and care import it. A *level* is a vertebra (``"L4"``); a *segment* is the
motion segment (or disc) between two vertebrae (``"L4-L5"``).

Examples
--------
>>> normalise_level("vertebrae_l4")
'L4'
>>> sorted(["S1", "L5", "T12", "L1"], key=vertebra_order)
['T12', 'L1', 'L5', 'S1']
>>> adjacent("L5", "S1"), adjacent("L4", "S1"), segment_name("L4", "L5")
(True, False, 'L4-L5')
>>> parse_segment("l4-L5")
('L4', 'L5')

"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from spinestab.errors import InputError

__all__ = [
    "MOBILE_LEVELS",
    "TRANSITIONAL",
    "VERTEBRAE",
    "adjacent",
    "describe_levels",
    "level_index",
    "level_sort_key",
    "normal_sequence",
    "normalise_level",
    "parse_segment",
    "segment_name",
    "vertebra_order",
]

#: Every vertebra name spinestab knows, cranial to caudal. T13 and L6 are the transitional
#: levels of the SPINEPS/TPTBox scheme (``TPTBox/core/vert_constants.py``); S1..S5 are the
#: sacral segments that segmenters label.
VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 14)),
    *(f"L{i}" for i in range(1, 7)),
    *(f"S{i}" for i in range(1, 6)),
)
#: The vertebrae that bound a motion segment: C1 to S1 (the sacrum below S1 is fused).
MOBILE_LEVELS: tuple[str, ...] = VERTEBRAE[: VERTEBRAE.index("S1") + 1]
#: Transitional levels, present only in some spines (TPTBox ``T13``, ``L6``).
TRANSITIONAL = frozenset({"T13", "L6"})

_INDEX = {name: i for i, name in enumerate(VERTEBRAE)}
_PATTERN = re.compile(r"^\s*(?:vertebrae?_)?([CTLS])\s*(\d{1,2})\s*$", re.IGNORECASE)
_REGION_RANK = {"C": 0, "T": 1, "L": 2, "S": 3}


def describe_levels(levels: Sequence[str]) -> str:
    """Spell a run of levels region by region, e.g. ``"C1-C7, T1-T13, L1-L6, S1"``."""
    parts: list[str] = []
    for region in "CTLS":
        mine = [lv for lv in levels if lv.startswith(region)]
        if mine:
            parts.append(mine[0] if len(mine) == 1 else f"{mine[0]}-{mine[-1]}")
    return ", ".join(parts)


def normalise_level(
    name: object, *, source: str | None = None, allowed: Sequence[str] = MOBILE_LEVELS
) -> str:
    """Return the canonical level name (``"L4"``) for ``"l4"``, ``"vertebrae_L4"`` and the like.

    Parameters
    ----------
    name : object
        The level as written in a file or option.
    source : str, optional
        Where the name came from, for the error message.
    allowed : sequence of str
        The levels accepted (default: :data:`MOBILE_LEVELS`, C1 to S1).

    Raises
    ------
    InputError
        If the name is not one of ``allowed``.

    """
    match = _PATTERN.match(str(name))
    canonical = f"{match.group(1).upper()}{int(match.group(2))}" if match else None
    if canonical is None or canonical not in allowed:
        raise InputError(
            "unknown vertebral level",
            source=source,
            item="level",
            value=name,
            expected=f"a level such as L1..L5, S1, T12 ({describe_levels(allowed)})",
        )
    return canonical


def vertebra_order(name: str) -> int:
    """Cranio-caudal rank of a canonical vertebra name (C1 = 0; larger is more caudal).

    Raises
    ------
    InputError
        For a name that is not in :data:`VERTEBRAE`.

    """
    try:
        return _INDEX[name]
    except KeyError:
        raise InputError(
            "unknown vertebra", value=name, expected="C1..C7, T1..T13, L1..L6, S1..S5"
        ) from None


def level_index(name: str) -> int:
    """Position of a canonical level in :data:`VERTEBRAE` (C1 = 0); KeyError if unknown."""
    return _INDEX[name]


def level_sort_key(level: str) -> tuple[int, float, str]:
    """Sort key for level names in cranio-caudal order that accepts any text.

    Vertebrae (``C``, ``T``, ``L``, ``S`` and a number) sort by region and number; other
    names (``all``, ``unassigned``) sort after them, alphabetically.
    """
    region = _REGION_RANK.get(level[:1], 4)
    try:
        number = float(level[1:])
    except ValueError:
        return (region if region < 4 else 5, 0.0, level)
    return (region, number, level)


def segment_name(upper: str, lower: str) -> str:
    """Name of the motion segment between two levels, e.g. ``"L4-L5"``."""
    return f"{upper}-{lower}"


def parse_segment(text: str, *, allowed: Sequence[str] = MOBILE_LEVELS) -> tuple[str, ...] | None:
    """Split ``"L4-L5"`` (or a single ``"L4"``) into canonical levels; None when not levels.

    Upper or lower case is accepted; the parts must be names in ``allowed``.
    """
    parts = [p.strip().upper() for p in str(text).split("-")]
    if not 1 <= len(parts) <= 2 or any(p not in allowed for p in parts):
        return None
    return tuple(parts)


def adjacent(upper: str, lower: str, present: Iterable[str] = frozenset()) -> bool:
    """Whether ``upper`` and ``lower`` form a motion segment.

    They do when every level between them in :data:`VERTEBRAE` is a transitional level
    (T13, L6) that is not ``present``, e.g. L5-S1 in a spine without L6.
    """
    i, j = _INDEX[upper], _INDEX[lower]
    if j <= i:
        return False
    seen = set(present)
    return all(b in TRANSITIONAL and b not in seen for b in VERTEBRAE[i + 1 : j])


def normal_sequence(names: Iterable[str]) -> list[str]:
    """All vertebrae, cranial to caudal; T13 and L6 only when one of ``names`` is one."""
    variants = {n for n in names if n in TRANSITIONAL}
    return [v for v in VERTEBRAE if v not in TRANSITIONAL or v in variants]
