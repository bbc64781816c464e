"""Segmentation backends behind one interface.

``MasksFromFiles`` reads existing masks. ``TotalSegmentator``, ``MuscleMap`` and ``SPINEPS``
call the real tools (installed separately) with weights from a local folder, usage
statistics off and never a download at run time. Every backend takes a ``runner`` (by
default :func:`subprocess.run`) so the wiring is testable without the tools.
"""

from spinestab.imaging.segment.base import (
    Runner,
    SegmentationBackend,
    SegmentationError,
    SegmentationResult,
    get_backend,
)
from spinestab.imaging.segment.files import MasksFromFiles
from spinestab.imaging.segment.tools import MuscleMap, Spineps, TotalSegmentator

__all__ = [
    "MasksFromFiles",
    "MuscleMap",
    "Runner",
    "SegmentationBackend",
    "SegmentationError",
    "SegmentationResult",
    "Spineps",
    "TotalSegmentator",
    "get_backend",
]
