"""Writing the output folders of ``spinestab instability`` and ``spinestab morphometry``.

Both are written atomically with :func:`spinestab.core.outdir.atomic_out_dir`: into a
temporary sibling folder first, then put in place with the JSON file (which names the
other files) last; the files of an earlier run in the same folder are replaced as a whole
and nothing else in it is touched.

``spinestab instability``: ``instability.json``, ``instability.png`` and, for corners
derived from a mask, ``landmarks_neutral.json``. ``spinestab morphometry``:
``morphometry.json`` and ``morphometry_<level>.png`` per graded vertebra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spinestab.core.outdir import atomic_out_dir
from spinestab.instability.assess import InstabilityReport
from spinestab.instability.landmark_io import landmarks_to_dict
from spinestab.instability.landmarks import LandmarkSet
from spinestab.instability.morphometry import MorphometryReport

__all__ = [
    "INSTABILITY_FILES",
    "MORPHOMETRY_FILES",
    "write_instability_outputs",
    "write_morphometry_outputs",
]

#: the names ``spinestab instability`` writes (an earlier run's are replaced)
INSTABILITY_FILES = ("instability.json", "instability.png", "landmarks_neutral.json")
#: the names ``spinestab morphometry`` writes
MORPHOMETRY_FILES = ("morphometry.json", "morphometry_*.png")


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_instability_outputs(
    report: InstabilityReport,
    out_dir: str | Path,
    *,
    mask_landmarks: LandmarkSet | None = None,
    pictures: bool = True,
) -> dict[str, Any]:
    """Write the ``spinestab instability`` folder; return the ``instability.json`` content.

    Parameters
    ----------
    report : InstabilityReport
        The result of :func:`~spinestab.instability.assess`.
    out_dir : path-like
        The output folder (created if missing).
    mask_landmarks : LandmarkSet, optional
        Corners derived from a mask, written as ``landmarks_neutral.json``.
    pictures : bool
        Draw ``instability.png`` (``picture`` is null without it).

    """
    from spinestab.instability.picture import draw_overlay

    with atomic_out_dir(out_dir, owned=INSTABILITY_FILES, manifest="instability.json") as tmp:
        data = report.to_dict()
        data["picture"] = draw_overlay(report, tmp / "instability.png").name if pictures else None
        if mask_landmarks is not None:
            (tmp / "landmarks_neutral.json").write_text(
                _json_text(landmarks_to_dict(mask_landmarks)), encoding="utf-8"
            )
            data["landmarks_file"] = "landmarks_neutral.json"
        (tmp / "instability.json").write_text(_json_text(data), encoding="utf-8")
    return data


def write_morphometry_outputs(
    report: MorphometryReport,
    out_dir: str | Path,
    *,
    inputs: dict[str, Any] | None = None,
    pictures: bool = True,
) -> dict[str, Any]:
    """Write the ``spinestab morphometry`` folder; return the ``morphometry.json`` content.

    Parameters
    ----------
    report : MorphometryReport
        The result of :func:`~spinestab.instability.morphometry.measure_morphometry`.
    out_dir : path-like
        The output folder (created if missing).
    inputs : dict, optional
        What was measured (file names, label scheme), written as ``inputs``.
    pictures : bool
        Draw ``morphometry_<level>.png`` for every graded vertebra.

    """
    from spinestab.instability.morphometry_picture import draw_vertebra

    with atomic_out_dir(out_dir, owned=MORPHOMETRY_FILES, manifest="morphometry.json") as tmp:
        data = report.to_dict()
        if inputs:
            data["inputs"] = inputs
        drawn = {}
        if pictures:
            for rec in report.graded:
                name = f"morphometry_{rec.level}.png"
                draw_vertebra(rec, tmp / name, outline=report.outlines.get(rec.level))
                drawn[rec.level] = name
        data["pictures"] = drawn
        (tmp / "morphometry.json").write_text(_json_text(data), encoding="utf-8")
    return data
