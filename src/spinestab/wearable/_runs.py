"""Runs of True in boolean arrays, and masks from intervals (shared by the posture rules)."""

from __future__ import annotations

import numpy as np

__all__ = ["cover", "runs"]


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return start and stop (exclusive) indices of the True runs of a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(m[1:] != m[:-1])
    return d[0::2], d[1::2]


def cover(starts: np.ndarray, stops: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n``, True on the disjoint intervals ``[start, stop)``."""
    d = np.zeros(n + 1, np.int32)
    np.add.at(d, starts, 1)
    np.add.at(d, stops, -1)
    return np.cumsum(d[:n], dtype=np.int32) > 0
