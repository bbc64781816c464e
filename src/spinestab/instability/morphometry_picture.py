"""Picture of one vertebra's six-point morphometry: its outline, points and heights drawn."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from spinestab.errors import require
from spinestab.instability.landmarks import AI, AS, PI, PS
from spinestab.instability.morphometry import VertebraMorphometry

__all__ = ["body_frame", "draw_vertebra"]

log = logging.getLogger(__name__)

_GRADE_COLOURS = {0: "#2e7d32", 1: "#ef6c00", 2: "#d84315", 3: "#b71c1c"}
_MS, _MI = 4, 5  # rows of the mid-points in VertebraMorphometry.points


def body_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin and axes (rows: anterior, cranial) of a body from its corners.

    The anterior axis is the mean endplate direction (posterior to anterior); the cranial
    axis is perpendicular to it, on the side of the superior endplate. Drawing in this
    frame shows every body upright, anterior to the right, whatever the film's rotation or
    mirroring.

    Parameters
    ----------
    points : (>=4, 2) ndarray
        AS, PS, PI, AI first.

    Returns
    -------
    origin : (2,) ndarray
        The posterior-inferior corner.
    axes : (2, 2) ndarray
        Unit vectors, anterior then cranial.

    """
    ant = (points[AS] - points[PS]) + (points[AI] - points[PI])
    u = ant / np.linalg.norm(ant)
    up = (points[AS] + points[PS]) / 2 - (points[AI] + points[PI]) / 2
    v = up - (up @ u) * u
    return points[PI], np.stack([u, v / np.linalg.norm(v)])


def _label(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f} %"


def draw_vertebra(
    rec: VertebraMorphometry,
    path: str | Path,
    *,
    outline: np.ndarray | None = None,
    dpi: int = 110,
) -> Path:
    """Write a PNG of one graded vertebra: outline, six points, Ha/Hm/Hp and the losses.

    Parameters
    ----------
    rec : VertebraMorphometry
        A measured vertebra (its ``points`` and ``heights`` are used).
    path : str or Path
        PNG file to write.
    outline : (N, 2) ndarray, optional
        The body's outline points (mask-derived), in the same frame as ``rec.points``.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The written file.

    """
    matplotlib = require("matplotlib", extra="imaging", feature="Drawing morphometry pictures")
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    origin, axes = body_frame(rec.points)
    local = (rec.points - origin) @ axes.T
    colour = _GRADE_COLOURS.get(rec.genant_grade or 0, "#424242")
    unit = "mm" if rec.unit == "mm" else "px"
    fig = Figure(figsize=(4.6, 5.2), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    if outline is not None and len(outline):
        ol = (outline - origin) @ axes.T
        ax.plot(ol[:, 0], ol[:, 1], "s", ms=2.0, mec="none", color="#9e9e9e", alpha=0.3)
    ring = local[[AS, PS, PI, AI, AS]]
    ax.plot(ring[:, 0], ring[:, 1], "-", color="#1565c0", lw=1.0, alpha=0.7)
    ax.plot(local[:4, 0], local[:4, 1], "o", color="#1565c0", ms=4)
    heights = [
        ("Ha", (AS, AI), rec.heights[0], 1.0, "left"),
        ("Hm", (_MS, _MI), rec.heights[1], 1.0, "left"),
        ("Hp", (PS, PI), rec.heights[2], -1.0, "right"),
    ]
    for name, (top, bottom), value, side, align in heights:
        seg = local[[top, bottom]]
        if np.isnan(seg).any():
            continue
        ax.plot(seg[:, 0], seg[:, 1], "-", color=colour, lw=2.2)
        ax.plot(seg[:, 0], seg[:, 1], "^", color=colour, ms=5)
        mid = seg.mean(axis=0)
        ax.annotate(
            f"{name} {_label(value, unit)}",
            mid,
            xytext=(8 * side, 0),
            textcoords="offset points",
            ha=align,
            va="center",
            fontsize=8,
            color=colour,
            bbox={"boxstyle": "round", "fc": "white", "ec": colour, "alpha": 0.85},
        )
    grade = "not graded" if rec.genant_grade is None else f"Genant grade {rec.genant_grade}"
    ax.set_title(
        f"{rec.level}: {rec.deformity or 'n/a'}, {grade} (height loss {_pct(rec.height_loss_pct)})",
        fontsize=9,
        color=colour,
    )
    ax.text(
        0.02,
        0.02,
        f"wedge {_pct(rec.wedge_loss_pct)}, biconcave {_pct(rec.biconcave_loss_pct)}, "
        f"crush {_pct(rec.crush_loss_pct)}"
        + (f"\nflags: {', '.join(rec.flags)}" if rec.flags else ""),
        transform=ax.transAxes,
        fontsize=6.5,
        va="bottom",
        wrap=True,
    )
    ax.margins(0.35)
    ax.tick_params(labelsize=6)
    fig.text(
        0.01,
        0.005,
        "anterior right, cranial up. A finding for a clinician to confirm; not a diagnosis.",
        fontsize=6,
        color="#616161",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = Path(path)
    fig.savefig(path, format="png")
    log.info("wrote %s", path)
    return path
