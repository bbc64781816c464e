"""Scores over time against the minimal important change, as SVG geometry for a template.

Pure functions: dates and scores in, coordinates out. The MIC band is drawn around the
first (baseline) score (Ostelo et al. 2008; :data:`spinestab.clinical.MIC_RULES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spinestab.clinical import MIC_RULES

__all__ = ["SCALE_MAX", "score_chart"]

#: Upper end of each instrument's scale (ODI in percent).
SCALE_MAX = {"nrs": 10.0, "odi": 100.0, "rmdq": 24.0, "psfs": 10.0, "startback": 9.0}

WIDTH, HEIGHT, PAD = 320.0, 120.0, 16.0


def score_chart(instrument: str, points: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """Return the geometry of one chart.

    Parameters
    ----------
    instrument : str
        ``nrs``, ``odi`` (percent), ``rmdq``, ``psfs`` or ``startback``.
    points : sequence of (ISO date, score)
        In date order.

    Returns
    -------
    dict
        ``instrument``, ``points`` (x, y, date, score), ``polyline``, ``band`` (y of the
        MIC band edges around the baseline, or None), ``mic`` (the rule), ``width``,
        ``height``, ``change`` (last - baseline) and ``reached`` (the MIC was reached in
        the better direction).

    """
    top = SCALE_MAX.get(instrument, max(v for _, v in points) or 1.0)
    n = len(points)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * min(max(v / top, 0.0), 1.0)

    coords = [
        {"x": round(x(i), 1), "y": round(y(v), 1), "date": d, "score": v}
        for i, (d, v) in enumerate(points)
    ]
    rule = MIC_RULES.get(instrument)
    band = None
    reached = None
    change = points[-1][1] - points[0][1]
    if rule is not None:
        base = points[0][1]
        band = {
            "upper": round(y(base + rule.absolute), 1),
            "lower": round(y(base - rule.absolute), 1),
        }
        better = change if rule.higher_is_better else -change
        reached = n > 1 and better >= rule.absolute
    return {
        "instrument": instrument,
        "points": coords,
        "polyline": " ".join(f"{c['x']},{c['y']}" for c in coords),
        "band": band,
        "mic": rule.absolute if rule else None,
        "mic_source": rule.source if rule else None,
        "width": WIDTH,
        "height": HEIGHT,
        "change": round(change, 2),
        "reached": reached,
    }
