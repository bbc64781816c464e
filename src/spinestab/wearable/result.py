"""The typed result of the wearable pipeline (:func:`~spinestab.wearable.pipeline.analyse`).

Kept apart from the pipeline so that writers (:mod:`~spinestab.wearable.outputs`) and
pictures (:mod:`~spinestab.wearable.plots`) depend on the result, not on the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WearableResult"]


@dataclass(frozen=True)
class WearableResult:
    """Everything the pipeline found.

    Attributes
    ----------
    start_unix_s : float
        Time of second 0.
    posture : (S,) int8 ndarray
        Posture codes (:data:`~spinestab.wearable.posture.CLASS_NAMES`).
    trunk_inclination_deg, trunk_forward_deg, trunk_lateral_deg : (S,) float32 ndarrays
        Trunk angles from the upright reference.
    thigh_inclination_deg : (S,) float32 ndarray or None
        Thigh angle from its walking reference.
    steps : (S,) float32 ndarray
        Steps per second.
    nonwear, missing, clipped, idle_sleep : (S,) bool ndarrays
        Flags per second (``idle_sleep``: filled in by an ActiGraph in idle sleep).
    prompts_unix_s : (P,) float64 ndarray
        Prompt times.
    daily : dict of str to ndarray
        The daily table.
    info : dict
        Orientation, calibration, reader notes and set-up.

    """

    start_unix_s: float
    posture: np.ndarray
    trunk_inclination_deg: np.ndarray
    trunk_forward_deg: np.ndarray
    trunk_lateral_deg: np.ndarray
    thigh_inclination_deg: np.ndarray | None
    steps: np.ndarray
    nonwear: np.ndarray
    missing: np.ndarray
    clipped: np.ndarray
    idle_sleep: np.ndarray
    prompts_unix_s: np.ndarray
    daily: dict[str, np.ndarray]
    info: dict[str, object]
