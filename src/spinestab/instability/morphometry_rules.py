"""Genant grade bands and morphometry sources, loaded from data (``morphometry.yaml``).

The bundled file lives beside this module; a user file with the same layout can be given
(``spinestab morphometry --rules FILE``). Every band and definition carries its source and
evidence tag (``CLINICAL_LOGIC.md`` §4.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.core.levels import level_index, normalise_level
from spinestab.core.safe_load import parse_yaml
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.instability._cited import evidence_tag, non_negative, required_text

__all__ = ["GradeBand", "MorphometryRules", "load_morphometry_rules"]

_BUNDLED = "spinestab/instability/morphometry.yaml"


@dataclass(frozen=True)
class GradeBand:
    """One Genant band: a height loss ``op value`` (in %) gives at least ``grade``."""

    grade: int
    name: str
    op: str
    value: float

    def met(self, loss_pct: float) -> bool:
        """Whether a loss (in %) reaches this band (compared at 1e-6 precision)."""
        loss = round(float(loss_pct), 6)
        return loss > self.value if self.op == ">" else loss >= self.value


@dataclass(frozen=True)
class MorphometryRules:
    """Genant bands, the levels they were described on, and the cited definitions."""

    bands: tuple[GradeBand, ...]
    source: str
    evidence: str
    boundaries_evidence: str
    levels: tuple[str, str]
    levels_source: str
    loss_source: str
    loss_evidence: str
    type_source: str
    type_evidence: str
    file: str = _BUNDLED

    def grade(self, loss_pct: float | None) -> int | None:
        """Genant grade 0-3 of a height loss in % (None when the loss is unknown)."""
        if loss_pct is None:
            return None
        met = [band.grade for band in self.bands if band.met(loss_pct)]
        return max(met, default=0)

    def in_genant_levels(self, level: str) -> bool:
        """Whether ``level`` lies within the levels the grades were described on."""
        lo, hi = (level_index(lv) for lv in self.levels)
        return lo <= level_index(level) <= hi

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for the output file)."""
        return {
            "file": self.file,
            "genant": {
                "grades": [
                    {"grade": b.grade, "name": b.name, "op": b.op, "value_pct": b.value}
                    for b in self.bands
                ],
                "source": self.source,
                "evidence": self.evidence,
                "boundaries_evidence": self.boundaries_evidence,
                "levels": f"{self.levels[0]}-{self.levels[1]}",
                "levels_source": self.levels_source,
            },
            "losses": {"source": self.loss_source, "evidence": self.loss_evidence},
            "types": {"source": self.type_source, "evidence": self.type_evidence},
        }


def _band(data: Any, *, source: str, item: str) -> GradeBand:
    if not isinstance(data, Mapping):
        raise InputError("a grade band must be a mapping", source=source, item=item, value=data)
    raw_grade: Any = data.get("grade")
    grade = check_choice(
        item,
        raw_grade,
        (1, 2, 3),
        source=source,
        message="unknown Genant grade",
        expected="1, 2 or 3",
    )
    op = check_choice(
        item,
        data.get("op"),
        (">", ">="),
        source=source,
        message="unknown comparison",
        expected='">" or ">="',
    )
    value = non_negative(data.get("value"), source=source, item=f"{item}.value")
    if value > 100:
        raise InputError(
            "a height loss is at most 100 %",
            source=source,
            item=f"{item}.value",
            value=value,
            expected="a percentage 0-100",
        )
    return GradeBand(int(grade), str(data.get("name", f"grade {grade}")), str(op), value)


def _bands(raw: Any, *, source: str) -> tuple[GradeBand, ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError(
            "no grade bands", source=source, item="genant.grades", expected="a list of bands"
        )
    bands = tuple(_band(b, source=source, item=f"genant.grades[{i}]") for i, b in enumerate(raw))
    ordered = sorted(bands, key=lambda b: b.grade)
    if [b.grade for b in ordered] != list(range(1, len(ordered) + 1)):
        raise InputError(
            "grade bands must be 1, 2, 3 once each",
            source=source,
            item="genant.grades",
            value=[b.grade for b in bands],
            expected="grades 1..n without gaps or repeats",
        )
    values = [b.value for b in ordered]
    if values != sorted(values) or len(set(values)) != len(values):
        raise InputError(
            "grade band limits must rise with the grade",
            source=source,
            item="genant.grades",
            value=values,
            expected="e.g. 20, 25, 40",
        )
    return tuple(ordered)


def _read(path: Path | None) -> tuple[dict[str, Any], str]:
    import yaml

    if path is None:
        text = (
            resources.files("spinestab.instability")
            .joinpath("morphometry.yaml")
            .read_text(encoding="utf-8")
        )
        source = _BUNDLED
    else:
        source = str(path)
        if not path.is_file():
            raise InputError("rules file not found", source=source, expected="a YAML file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("rules file is not UTF-8 text", source=source) from None
    try:
        doc = parse_yaml(text, source=source)  # bounded: aliases, nesting, duplicate keys
    except InputError as exc:  # the limit or syntax error, under this file's own heading
        raise InputError(
            f"cannot parse rules file: {exc.message}",
            source=source,
            item=exc.item,
            value=exc.value,
            expected=exc.expected,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"cannot parse rules file: {exc}", source=source) from None
    for key in ("genant", "losses", "types"):
        if not isinstance(doc, Mapping) or not isinstance(doc.get(key), Mapping):
            raise InputError(
                f"{key} block missing",
                source=source,
                item=key,
                expected="the layout of spinestab/instability/morphometry.yaml",
            )
    return dict(doc), source


def load_morphometry_rules(path: str | Path | None = None) -> MorphometryRules:
    """Load the Genant bands and sources (bundled ``morphometry.yaml`` or a user file).

    Raises
    ------
    InputError
        A missing block, a band without a valid grade, comparison or limit, limits that do
        not rise with the grade, or a definition without source or evidence tag.

    """
    doc, source = _read(Path(path) if path is not None else None)
    genant, losses, types = doc["genant"], doc["losses"], doc["types"]
    levels = genant.get("levels") or {}
    span = (
        normalise_level(levels.get("from", "T4"), source=source),
        normalise_level(levels.get("to", "L4"), source=source),
    )
    return MorphometryRules(
        bands=_bands(genant.get("grades"), source=source),
        source=required_text(genant, "source", source=source, item="genant"),
        evidence=evidence_tag(genant, source=source, item="genant"),
        boundaries_evidence=str(genant.get("boundaries_evidence", "D")).strip("[] "),
        levels=span,
        levels_source=str(genant.get("levels_source", "")).strip(),
        loss_source=required_text(losses, "source", source=source, item="losses"),
        loss_evidence=evidence_tag(losses, source=source, item="losses"),
        type_source=required_text(types, "source", source=source, item="types"),
        type_evidence=evidence_tag(types, source=source, item="types"),
        file=source,
    )
