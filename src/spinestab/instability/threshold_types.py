"""The types of the instability thresholds: rules, the measurement margin, a threshold set.

Loading them from data (``thresholds.yaml`` or a user file) is
:mod:`spinestab.instability.thresholds`. Each set judges one region
(:func:`segment_region`): ``lumbar`` sets every segment without a cervical vertebra,
``cervical`` sets C2-C3 to C6-C7 (``CLINICAL_LOGIC.md`` §4.7).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "DYNAMIC_MEASURES",
    "EVIDENCE_TAGS",
    "OPS",
    "REGIONS",
    "STATIC_MEASURES",
    "VERDICTS",
    "Margin",
    "Rule",
    "ThresholdSet",
    "segment_region",
]

DYNAMIC_MEASURES = ("translation_mm", "translation_pct", "angulation_deg", "relative_rom_deg")
STATIC_MEASURES = ("slip_mm", "slip_pct", "relative_angulation_deg")
VERDICTS = ("unstable", "borderline")
OPS = (">", ">=")
EVIDENCE_TAGS = ("V", "R", "D")
#: Regions a threshold set can judge.
REGIONS = ("lumbar", "cervical")
_LOWER_CERVICAL = frozenset(f"C{i}" for i in range(2, 8))


def segment_region(segment: str) -> str | None:
    """Region whose threshold sets judge a motion segment, or None when none does.

    ``cervical`` for C2-C3 to C6-C7 (``CLINICAL_LOGIC.md`` §4.7 covers C2-C7); ``lumbar``
    for every segment without a cervical vertebra (lumbar, thoracic and the junctions, as
    the lumbar sets have always judged them); None for C1-C2 (atlanto-axial) and C7-T1,
    which no bundled criterion covers and to which lumbar thresholds are never applied.

    Examples
    --------
    >>> segment_region("C5-C6"), segment_region("L4-L5"), segment_region("C7-T1")
    ('cervical', 'lumbar', None)

    """
    upper, lower = segment.split("-")
    if upper in _LOWER_CERVICAL and lower in _LOWER_CERVICAL:
        return "cervical"
    if upper.startswith("C") or lower.startswith("C"):
        return None
    return "lumbar"


@dataclass(frozen=True)
class Rule:
    """One criterion: ``measure op value`` gives ``verdict``.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"wp-translation-mm"``.
    measure : str
        One of :data:`DYNAMIC_MEASURES` or :data:`STATIC_MEASURES` (absolute values).
    op : {">", ">="}
        Comparison.
    value : float or dict of str to float
        The limit, or limits per motion segment (segments not listed are not judged).
    verdict : {"unstable", "borderline"}
        What meeting the rule means.
    source : str
        Citation.
    evidence : {"V", "R", "D"}
        Evidence tag from ``CLINICAL_LOGIC.md``.
    group : str or None
        Ties an mm rule to its % twin (magnification handling).

    """

    id: str
    measure: str
    op: str
    value: float | dict[str, float]
    verdict: str
    source: str
    evidence: str
    group: str | None = None

    @property
    def dynamic(self) -> bool:
        """Whether the rule needs a flexion + extension pair."""
        return self.measure in DYNAMIC_MEASURES

    def limit(self, segment: str) -> float | None:
        """Return the limit at ``segment`` (None when the rule does not judge it)."""
        if isinstance(self.value, dict):
            return self.value.get(segment)
        return self.value

    def met(self, value: float, segment: str) -> bool | None:
        """Whether ``|value|`` meets the rule at ``segment`` (None: not judged here)."""
        limit = self.limit(segment)
        if limit is None:
            return None
        # compare at 1e-6 precision so that a value printed as the limit is not "above" it
        magnitude = round(abs(value), 6)
        return magnitude > limit if self.op == ">" else magnitude >= limit

    def describe(self, segment: str) -> str:
        """Short text such as ``"> 4.5 mm"``."""
        limit = self.limit(segment)
        unit = {"mm": " mm", "pct": " %", "deg": " deg"}[self.measure.rsplit("_", 1)[1]]
        return f"{self.op} {limit:g}{unit}" if limit is not None else "no limit here"


@dataclass(frozen=True)
class Margin:
    """Measurement margin around ``unstable`` limits (``CLINICAL_LOGIC.md`` §4.3).

    §4.3 [D]: manual measurement error is about 1-3 mm and 2-5 deg between observers [R];
    values within that margin of a threshold are treated as ``borderline``. A rule whose
    verdict is ``unstable`` then gives ``borderline`` when ``|value - limit| <= margin``
    (``sides="both"``) or ``limit - margin <= value`` and the rule is not met
    (``sides="below"``).

    Attributes
    ----------
    mm, deg : float or None
        Margins for mm and degree measures; None: no margin for that unit.
    pct : float, "from_mm" or None
        Margin for % measures. CLINICAL_LOGIC.md gives none; ``"from_mm"`` converts ``mm``
        with the segment's endplate depth (``100 * mm / depth_mm``) [D]; None: no margin.
    sides : {"both", "below"}
        Whether values just above the limit are borderline too.
    source, evidence : str
        Citation and evidence tag of the margin rule.

    """

    mm: float | None
    deg: float | None
    pct: float | str | None
    sides: str
    source: str
    evidence: str

    def for_unit(self, unit: str, *, depth_mm: float | None) -> tuple[float | None, str]:
        """Return the margin for a measure unit (``mm``, ``deg``, ``pct``) and a note."""
        if unit == "mm":
            return self.mm, "" if self.mm else "no mm margin configured"
        if unit == "deg":
            return self.deg, "" if self.deg else "no degree margin configured"
        if self.pct == "from_mm":
            if not self.mm:
                return None, "no mm margin to convert to %"
            if depth_mm is None or depth_mm <= 0:
                return None, "no % margin: the endplate depth in mm is not known (no mm scale)"
            return (
                100.0 * self.mm / depth_mm,
                f"{self.mm:g} mm of the {depth_mm:.1f} mm endplate depth [D]",
            )
        if self.pct is None:
            return None, "no % margin: CLINICAL_LOGIC.md §4.3 gives none"
        return float(self.pct), ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "mm": self.mm,
            "deg": self.deg,
            "pct": self.pct,
            "sides": self.sides,
            "applies_to": "rules with verdict unstable",
            "source": self.source,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class ThresholdSet:
    """A named, cited set of rules plus the shared listhesis and quality settings."""

    name: str
    title: str
    source: str
    evidence: str
    note: str
    rules: tuple[Rule, ...]
    listhesis_min_mm: float
    listhesis_min_pct: float
    listhesis_source: str
    min_rom_deg: float
    min_rom_source: str
    margin: Margin | None = None
    region: str = "lumbar"

    def without_margin(self) -> ThresholdSet:
        """Return the same set with the measurement-margin rule switched off."""
        return replace(self, margin=None)

    def judges(self, segment: str) -> bool:
        """Whether this set judges ``segment`` (its region is the segment's region)."""
        return segment_region(segment) == self.region

    def has_pct_twin(self, rule: Rule) -> bool:
        """Whether an mm rule has a % rule in the same group and with the same verdict."""
        return rule.group is not None and any(
            r.group == rule.group and r.verdict == rule.verdict and r.measure.endswith("_pct")
            for r in self.rules
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for the output file; ``region`` given when not lumbar)."""
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "evidence": self.evidence,
            "note": self.note,
            "rules": [
                {
                    "id": r.id,
                    "measure": r.measure,
                    "op": r.op,
                    "value": r.value,
                    "verdict": r.verdict,
                    "group": r.group,
                    "source": r.source,
                    "evidence": r.evidence,
                }
                for r in self.rules
            ],
            "listhesis": {
                "min_mm": self.listhesis_min_mm,
                "min_pct": self.listhesis_min_pct,
                "source": self.listhesis_source,
            },
            "min_rom_deg": {"value": self.min_rom_deg, "source": self.min_rom_source},
            "measurement_margin": self.margin.to_dict() if self.margin else None,
        }
        if self.region != "lumbar":
            out["region"] = self.region
        return out
