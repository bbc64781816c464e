"""The report's figures (matplotlib, Agg backend) as SVG text.

Scores against the MIC, fat fraction per level with the reference band, and the posture
timeline by day.

Each function takes plain typed values and returns SVG; no file is written.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinestab.errors import require

__all__ = ["ScorePoint", "fat_by_level_svg", "posture_timeline_svg", "scores_svg"]

_SIDE_STYLE = {"right": ("#1f77b4", "o"), "left": ("#d62728", "s"), "none": ("#555555", "^")}


@dataclass(frozen=True)
class ScorePoint:
    """One score of one instrument on one date (percent for ODI)."""

    instrument: str
    date: str
    value: float


def _pyplot() -> Any:
    matplotlib = require("matplotlib", extra="report", feature="report figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    return buf.getvalue()


def scores_svg(
    points: Sequence[ScorePoint],
    mic: Mapping[str, tuple[float, bool]],
    labels: Mapping[str, str],
    *,
    mic_label: str,
) -> str:
    """Scores over time, one panel per instrument, with the MIC band around the baseline.

    Parameters
    ----------
    points : sequence of ScorePoint
        Values by date; the first date of each instrument is its baseline.
    mic : mapping
        instrument -> (absolute MIC, higher is better). The shaded band is baseline ± MIC:
        a later value outside it on the good side is an important improvement.
    labels : mapping
        instrument -> axis label (with units).
    mic_label : str
        Legend text of the band.

    """
    plt = _pyplot()
    instruments = [i for i in labels if any(p.instrument == i for p in points)]
    n = max(len(instruments), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.4), squeeze=False)
    for ax, inst in zip(axes[0], instruments, strict=False):
        series = sorted((p for p in points if p.instrument == inst), key=lambda p: p.date)
        dates = [p.date for p in series]
        values = [p.value for p in series]
        ax.plot(dates, values, marker="o", color="#1f3a5f")
        if inst in mic and values:
            size, _better_up = mic[inst]
            base = values[0]
            ax.axhspan(base - size, base + size, color="#f5b041", alpha=0.25, label=mic_label)
            ax.axhline(base, color="#f5b041", lw=0.8)
        ax.set_title(labels[inst], fontsize=9)
        ax.tick_params(labelsize=7)
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
        ax.grid(alpha=0.3)
    if instruments:
        axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _svg(fig)


def fat_by_level_svg(
    rows: Sequence[Any],
    *,
    muscles: Sequence[str],
    muscle_labels: Mapping[str, str],
    side_labels: Mapping[str, str],
    ylabel: str,
    band_label: str,
) -> str:
    """Fat fraction per level, per muscle and side, with the reference band where one exists.

    ``rows`` are :class:`spinestab.core.results.MuscleRow`; the summary row ``all`` is left
    out. The band is the reference mean ± 1 SD of the row (only rows compared with a
    reference measured the same way carry one).
    """
    plt = _pyplot()
    shown = [m for m in muscles if any(r.muscle == m and r.level != "all" for r in rows)]
    n = max(len(shown), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.5), squeeze=False, sharey=True)
    for ax, muscle in zip(axes[0], shown, strict=False):
        mine = [r for r in rows if r.muscle == muscle and r.level != "all"]
        levels = sorted({r.level for r in mine}, key=_level_key)
        x = {lv: i for i, lv in enumerate(levels)}
        for side in ("right", "left", "none"):
            pts = [(x[r.level], r.fat_fraction_pct) for r in mine if r.side == side]
            pts = [(a, b) for a, b in pts if math.isfinite(b)]
            if not pts:
                continue
            colour, marker = _SIDE_STYLE[side]
            offset = {"right": -0.08, "left": 0.08}.get(side, 0.0)
            ax.plot(
                [a + offset for a, _ in pts],
                [b for _, b in pts],
                marker=marker,
                color=colour,
                label=side_labels.get(side, side),
                lw=1,
            )
        for r in mine:
            if math.isfinite(r.reference_mean_pct) and math.isfinite(r.reference_sd_pct):
                i = x[r.level]
                ax.fill_between(
                    [i - 0.3, i + 0.3],
                    r.reference_mean_pct - r.reference_sd_pct,
                    r.reference_mean_pct + r.reference_sd_pct,
                    color="#7dcea0",
                    alpha=0.35,
                    label=band_label,
                )
        ax.set_xticks(range(len(levels)), levels, fontsize=7)
        ax.set_title(muscle_labels.get(muscle, muscle), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel, fontsize=8)
    handles, names = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    if unique:
        axes[0][0].legend(unique.values(), unique.keys(), fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def posture_timeline_svg(
    days: Sequence[Mapping[str, Any]],
    *,
    columns: Mapping[str, str],
    ylabel: str,
) -> str:
    """Minutes per posture per day as stacked bars (``daily.csv`` rows).

    ``columns`` maps a ``daily.csv`` column (``lying_min``...) to its legend text; blank
    cells (unknown, e.g. sitting on a trunk-only day) are drawn as nothing.
    """
    plt = _pyplot()
    colours = ["#5dade2", "#f5b041", "#58d68d", "#af7ac5", "#85929e"]
    fig, ax = plt.subplots(figsize=(7.0, 2.4))
    dates = [str(d["date"]) for d in days]
    bottom = [0.0] * len(days)
    for (col, label), colour in zip(columns.items(), colours, strict=False):
        values = [_minutes(d.get(col)) for d in days]
        ax.bar(dates, values, bottom=bottom, color=colour, label=label, width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    # room for a week at least: a short recording's bars keep a day's width
    ax.set_xlim(-0.6, max(len(days), 7) - 0.4)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    ax.legend(fontsize=7, ncol=len(columns), loc="upper center", bbox_to_anchor=(0.5, -0.35))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def _minutes(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def _level_key(level: str) -> tuple[int, float, str]:
    from spinestab.core.levels import level_sort_key

    return level_sort_key(level)
