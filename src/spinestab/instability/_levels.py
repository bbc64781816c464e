"""Vertebral level names for instability: the shared vocabulary of :mod:`spinestab.core.levels`.

Instability measures motion segments, so it accepts the vertebrae from C1 to S1
(:data:`~spinestab.core.levels.MOBILE_LEVELS`).
"""

from __future__ import annotations

from spinestab.core.levels import (
    MOBILE_LEVELS,
    TRANSITIONAL,
    adjacent,
    level_index,
    normalise_level,
    segment_name,
)

__all__ = [
    "LEVEL_ORDER",
    "TRANSITIONAL",
    "adjacent",
    "level_index",
    "normalise_level",
    "segment_name",
]

#: Cranial-to-caudal order of the vertebral levels instability accepts (C1 to S1).
LEVEL_ORDER: tuple[str, ...] = MOBILE_LEVELS
