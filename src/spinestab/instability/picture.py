"""Lateral overlay picture: corners, endplate lines and the measures, one panel per view."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import require
from spinestab.instability.assess import InstabilityReport
from spinestab.instability.landmarks import AI, AS, PI, PS
from spinestab.instability.measures import SegmentGeometry, ViewResult

__all__ = ["draw_overlay"]

log = logging.getLogger(__name__)

_VERDICT_COLOURS = {
    "stable": "#2e7d32",
    "borderline": "#ef6c00",
    "unstable": "#c62828",
    "not_assessable": "#616161",
}


def _fmt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def _draw_bodies(ax: Any, view: ViewResult) -> None:
    """Outlines (mask-derived), corners, endplates and level names of one view."""
    bad = {q.level for q in view.issues if q.severity == "error"}
    for outline in view.outlines.values():  # mask-derived: the body on its slice
        ax.plot(outline[:, 0], outline[:, 1], "s", ms=2.5, mec="none", color="#9e9e9e", alpha=0.25)
    for level, arr in view.coords.items():
        colour = "#c62828" if level in bad else "#1565c0"
        ring = arr[[AS, PS, PI, AI, AS]]
        ax.plot(ring[:, 0], ring[:, 1], "-", color=colour, lw=0.8, alpha=0.6)
        for rows, style in (((PS, AS), "-"), ((PI, AI), "--")):
            seg = arr[list(rows)]
            if not np.isnan(seg).any():
                ax.plot(seg[:, 0], seg[:, 1], style, color=colour, lw=2.0)
        valid = arr[~np.isnan(arr).any(axis=1)]
        ax.plot(valid[:, 0], valid[:, 1], "o", color=colour, ms=3)
        centre = valid.mean(axis=0)
        ax.annotate(
            level, centre, ha="center", va="center", fontsize=9, weight="bold", color=colour
        )


def _segment_label(
    name: str, seg: SegmentGeometry, rec: dict[str, Any], views: dict[str, ViewResult]
) -> tuple[list[str], str]:
    """Lines and colour of one segment's label on the panel of view ``name``."""
    lines = [
        f"{seg.name}: slip {_fmt(seg.slip_pct, '%')}",
        f"angle {_fmt(seg.angle_deg, ' deg')}",
    ]
    colour = "#424242"
    if name == "extension" and "flexion" in views:
        lines.append(
            f"dT {_fmt(rec.get('translation_pct'), '%')}, "
            f"dA {_fmt(rec.get('angulation_deg'), ' deg')}"
        )
    if name == "extension" or (name == "neutral" and "flexion" not in views):
        verdict = rec.get("verdict", "not_assessable")
        lines.append(verdict)
        colour = _VERDICT_COLOURS.get(verdict, colour)
    if seg.withheld:
        return [f"{seg.name}: withheld"], "#c62828"
    return lines, colour


def _label_segments(
    ax: Any, name: str, view: ViewResult, records: dict[str, Any], views: dict[str, ViewResult]
) -> None:
    for seg_name, seg in view.segments.items():
        upper, lower = view.coords.get(seg.upper), view.coords.get(seg.lower)
        if upper is None or lower is None:
            continue
        pts = np.vstack([upper[[PI, AI]], lower[[PS, AS]]])
        pts = pts[~np.isnan(pts).any(axis=1)]
        if not len(pts):
            continue
        lines, colour = _segment_label(name, seg, records.get(seg_name, {}), views)
        ax.annotate(
            "\n".join(lines),
            pts.mean(axis=0),
            xytext=(12, 0),
            textcoords="offset points",
            fontsize=7,
            color=colour,
            va="center",
            bbox={"boxstyle": "round", "fc": "white", "ec": colour, "alpha": 0.8},
        )


def _orient(ax: Any, view: ViewResult) -> None:
    """Cranial up and anterior to the right, whatever the image orientation."""
    if view.cranial is None:
        return
    if view.cranial[1] < 0:
        ax.invert_yaxis()
    anterior = [a[AS] - a[PS] for a in view.coords.values() if not np.isnan(a[AS]).any()]
    if anterior and float(np.mean(anterior, axis=0)[0]) < 0:
        ax.invert_xaxis()


def _title(report: InstabilityReport) -> str:
    cervical = report.cervical_thresholds
    return (
        f"spinestab instability: thresholds {report.thresholds.name} "
        f"[{report.thresholds.evidence}]"
        + (f", cervical {cervical.name} [{cervical.evidence}]" if cervical is not None else "")
        + "; anterior right, cranial up; "
        + ("% preferred (magnification unknown)" if not report.magnification_known else "mm")
    )


def draw_overlay(report: InstabilityReport, path: str | Path, *, dpi: int = 120) -> Path:
    """Write a PNG with the corners, endplates and per-segment measures of every view.

    The picture is drawn with cranial up and anterior to the right whatever the image
    orientation. Segment labels show slip %, segmental angle and, on the extension panel,
    translation % and angulation with the verdict colour.

    Parameters
    ----------
    report : InstabilityReport
        Output of :func:`~spinestab.instability.assess`.
    path : str or Path
        PNG file to write.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The written file.

    """
    matplotlib = require("matplotlib", extra="imaging", feature="Drawing the overlay picture")
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    views = report.views
    fig = Figure(figsize=(5.2 * len(views), 7.0), dpi=dpi)
    records = {rec["level"]: rec for rec in report.levels}
    for k, (name, view) in enumerate(views.items()):
        ax = fig.add_subplot(1, len(views), k + 1)
        ax.set_aspect("equal")
        ax.set_title(f"{name} ({view.unit})", fontsize=10)
        _draw_bodies(ax, view)
        _label_segments(ax, name, view, records, views)
        _orient(ax, view)
        if view.lordosis_deg is not None:
            ax.text(
                0.02,
                0.02,
                f"lordosis L1-S1 {view.lordosis_deg:.1f} deg",
                transform=ax.transAxes,
                fontsize=8,
            )
        ax.margins(0.25)
        ax.tick_params(labelsize=7)
    fig.suptitle(_title(report), fontsize=9)
    fig.text(
        0.01,
        0.005,
        f"Supports decisions; does not diagnose. Slip/translation method: "
        f"{report.translation_method}.",
        fontsize=7,
        color="#616161",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    path = Path(path)
    fig.savefig(path, format="png")
    log.info("wrote %s", path)
    return path
