"""Structural instability and spinal geometry from corner landmarks and vertebra masks.

Public API::

    read_landmarks(path, view=...)        -> LandmarkSet       (JSON or CSV)
    corners_from_masks(path, labels=...)  -> LandmarkSet       (NIfTI vertebra masks)
    assess(neutral=..., flexion=..., extension=..., thresholds=...) -> InstabilityReport
    load_threshold_set(name)              -> ThresholdSet
    draw_overlay(report, path)            -> Path              (PNG, matplotlib Agg)

Criteria and sources: ``CLINICAL_LOGIC.md`` §4 (threshold data in ``thresholds.yaml``).
"""

from spinestab.instability.assess import InstabilityReport, assess
from spinestab.instability.landmark_io import landmarks_to_csv, landmarks_to_dict, read_landmarks
from spinestab.instability.landmark_parse import landmarks_from_dict
from spinestab.instability.landmarks import CORNERS, MIDPOINTS, LandmarkSet
from spinestab.instability.quality import QualityIssue
from spinestab.instability.thresholds import ThresholdSet, available_sets, load_threshold_set

__all__ = [
    "CORNERS",
    "MIDPOINTS",
    "InstabilityReport",
    "LandmarkSet",
    "QualityIssue",
    "ThresholdSet",
    "assess",
    "available_sets",
    "corners_from_masks",
    "draw_overlay",
    "landmarks_from_dict",
    "landmarks_to_csv",
    "landmarks_to_dict",
    "load_threshold_set",
    "read_landmarks",
]


def __getattr__(name: str):  # lazy: these need the imaging extra
    if name == "corners_from_masks":
        from spinestab.instability.masks import corners_from_masks

        return corners_from_masks
    if name == "draw_overlay":
        from spinestab.instability.picture import draw_overlay

        return draw_overlay
    raise AttributeError(name)
