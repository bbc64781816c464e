"""Two readers, one film set: the difference per measure, so measurement error is in the open.

Two clinicians who place the corners on the same films rarely agree to the pixel: manual
measurement error between observers is about 1-3 mm and 2-5 deg (``CLINICAL_LOGIC.md`` §4.3
[R]). This module compares the results the analysis gives for each reader's landmarks
(``instability.json`` and ``morphometry.json`` content), measure by measure; it
judges nothing. A verdict that differs between the readers is listed as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INSTABILITY_MEASURES",
    "MORPHOMETRY_MEASURES",
    "MeasureAgreement",
    "ReaderComparison",
    "ReaderDifference",
    "compare_readers",
]

#: Per-segment measures of ``instability.json`` compared between readers, with their units.
INSTABILITY_MEASURES: tuple[tuple[str, str], ...] = (
    ("slip_mm", "mm"),
    ("slip_pct", "%"),
    ("translation_mm", "mm"),
    ("translation_pct", "%"),
    ("angulation_deg", "deg"),
    ("segmental_angle_deg", "deg"),
    ("disc_height_anterior_mm", "mm"),
    ("disc_height_posterior_mm", "mm"),
)
#: Per-vertebra measures of ``morphometry.json`` compared between readers.
MORPHOMETRY_MEASURES: tuple[tuple[str, str], ...] = (
    ("anterior_height_mm", "mm"),
    ("middle_height_mm", "mm"),
    ("posterior_height_mm", "mm"),
    ("height_loss_pct", "%"),
)


@dataclass(frozen=True)
class ReaderDifference:
    """One measure of one level by both readers.

    ``difference`` is second minus first; None where either reader's value is missing.
    """

    level: str
    measure: str
    unit: str
    first: float | None
    second: float | None

    @property
    def difference(self) -> float | None:
        """Second reader minus first reader."""
        if self.first is None or self.second is None:
            return None
        return self.second - self.first

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        diff = self.difference
        return {
            "level": self.level,
            "measure": self.measure,
            "unit": self.unit,
            "first": self.first,
            "second": self.second,
            "difference": None if diff is None else round(diff, 3),
        }


@dataclass(frozen=True)
class MeasureAgreement:
    """Summary of one measure over every level both readers measured."""

    measure: str
    unit: str
    n: int
    mean_difference: float | None
    mean_absolute_difference: float | None
    max_absolute_difference: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {
            "measure": self.measure,
            "unit": self.unit,
            "n": self.n,
            "mean_difference": r(self.mean_difference),
            "mean_absolute_difference": r(self.mean_absolute_difference),
            "max_absolute_difference": r(self.max_absolute_difference),
        }


@dataclass(frozen=True)
class ReaderComparison:
    """Both readers' values per level and measure, the summary per measure, verdicts."""

    differences: tuple[ReaderDifference, ...]
    agreement: tuple[MeasureAgreement, ...]
    verdicts: tuple[dict[str, Any], ...]
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "differences": [d.to_dict() for d in self.differences],
            "agreement": [a.to_dict() for a in self.agreement],
            "verdicts": [dict(v) for v in self.verdicts],
            "only_first": list(self.only_first),
            "only_second": list(self.only_second),
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _by_level(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(r["level"]): r for r in rows if isinstance(r, Mapping) and "level" in r}


def _agreement(measure: str, unit: str, diffs: list[ReaderDifference]) -> MeasureAgreement:
    values = [d.difference for d in diffs if d.difference is not None]
    if not values:
        return MeasureAgreement(measure, unit, 0, None, None, None)
    absolute = [abs(v) for v in values]
    return MeasureAgreement(
        measure,
        unit,
        len(values),
        sum(values) / len(values),
        sum(absolute) / len(absolute),
        max(absolute),
    )


def compare_readers(
    first: Sequence[Mapping[str, Any]],
    second: Sequence[Mapping[str, Any]],
    *,
    measures: Sequence[tuple[str, str]] = INSTABILITY_MEASURES,
    verdict_key: str | None = "verdict",
) -> ReaderComparison:
    """Compare two readers' per-level rows measure by measure.

    Parameters
    ----------
    first, second : sequence of mapping
        Rows with a ``level`` key: ``instability.json``'s ``levels`` or
        ``morphometry.json``'s ``vertebrae``.
    measures : sequence of (name, unit)
        The measures to compare (:data:`INSTABILITY_MEASURES` or
        :data:`MORPHOMETRY_MEASURES`).
    verdict_key : str or None
        The key of the categorical result to list side by side (``verdict`` or
        ``genant_grade``); None for none.

    Returns
    -------
    ReaderComparison

    Examples
    --------
    >>> a = [{"level": "L4-L5", "slip_mm": 6.0, "verdict": "stable"}]
    >>> b = [{"level": "L4-L5", "slip_mm": 6.5, "verdict": "stable"}]
    >>> compare_readers(a, b, measures=[("slip_mm", "mm")]).differences[0].difference
    0.5

    """
    a, b = _by_level(first), _by_level(second)
    levels = [lv for lv in a if lv in b]
    differences: list[ReaderDifference] = []
    per_measure: dict[str, list[ReaderDifference]] = {m: [] for m, _ in measures}
    for level in levels:
        for measure, unit in measures:
            diff = ReaderDifference(
                level, measure, unit, _number(a[level].get(measure)), _number(b[level].get(measure))
            )
            if diff.first is None and diff.second is None:
                continue
            differences.append(diff)
            per_measure[measure].append(diff)
    verdicts = []
    if verdict_key is not None:
        for level in levels:
            va, vb = a[level].get(verdict_key), b[level].get(verdict_key)
            verdicts.append({"level": level, "first": va, "second": vb, "agree": va == vb})
    return ReaderComparison(
        differences=tuple(differences),
        agreement=tuple(_agreement(m, u, per_measure[m]) for m, u in measures),
        verdicts=tuple(verdicts),
        only_first=tuple(lv for lv in a if lv not in b),
        only_second=tuple(lv for lv in b if lv not in a),
    )
