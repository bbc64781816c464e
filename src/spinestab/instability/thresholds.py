"""Threshold sets for instability verdicts, loaded from data with their sources.

The bundled sets live in ``thresholds.yaml`` beside this module (White & Panjabi lumbar and
lower cervical [R], NORDSTEN-DS [V], SLIP [V]); a user file with the same layout can be
given instead. Each rule names its measure, comparison, limit, verdict, source and evidence
tag (the types are in :mod:`~spinestab.instability.threshold_types`). Each set judges one
region (:func:`segment_region`): ``lumbar`` sets every segment
without a cervical vertebra, ``cervical`` sets C2-C3 to C6-C7 (``CLINICAL_LOGIC.md`` §4.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.core.safe_load import parse_json, parse_yaml
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.instability._cited import evidence_tag, non_negative, required_text
from spinestab.instability.threshold_types import (
    DYNAMIC_MEASURES,
    OPS,
    REGIONS,
    STATIC_MEASURES,
    VERDICTS,
    Margin,
    Rule,
    ThresholdSet,
    segment_region,
)

__all__ = [
    "DYNAMIC_MEASURES",
    "REGIONS",
    "STATIC_MEASURES",
    "Margin",
    "Rule",
    "ThresholdSet",
    "available_sets",
    "load_threshold_set",
    "segment_region",
]


def _rule(data: Any, *, source: str, item: str) -> Rule:
    if not isinstance(data, Mapping):
        raise InputError("a rule must be a mapping", source=source, item=item, value=data)
    rid = required_text(data, "id", source=source, item=item)
    item = f"{item} ({rid})"
    measures = DYNAMIC_MEASURES + STATIC_MEASURES
    measure = check_choice(
        item,
        data.get("measure"),
        measures,
        source=source,
        message="unknown measure",
        expected=", ".join(measures),
    )
    op = check_choice(
        item,
        data.get("op"),
        OPS,
        source=source,
        message="unknown comparison",
        expected='">" or ">="',
    )
    verdict = check_choice(
        item,
        data.get("verdict"),
        VERDICTS,
        source=source,
        message="unknown verdict",
        expected='"unstable" or "borderline"',
    )
    evidence = evidence_tag(data, source=source, item=item)
    raw = data.get("value")
    value: float | dict[str, float]
    if isinstance(raw, Mapping):
        from spinestab.core.levels import normalise_level

        value = {}
        for seg, v in raw.items():
            parts = str(seg).split("-")
            if len(parts) != 2:
                raise InputError(
                    "segment name must be UPPER-LOWER",
                    source=source,
                    item=item,
                    value=seg,
                    expected="e.g. L4-L5",
                )
            name = "-".join(normalise_level(p, source=source) for p in parts)
            value[name] = non_negative(v, source=source, item=f"{item}.{seg}")
        if not value:
            raise InputError("empty per-segment limits", source=source, item=item)
    else:
        value = non_negative(raw, source=source, item=f"{item}.value")
    group = data.get("group")
    return Rule(
        id=rid,
        measure=str(measure),
        op=str(op),
        value=value,
        verdict=str(verdict),
        source=required_text(data, "source", source=source, item=item),
        evidence=evidence,
        group=str(group) if group is not None else None,
    )


def _optional_number(value: Any, *, source: str, item: str) -> float | None:
    if value is None:
        return None
    return non_negative(value, source=source, item=item) or None


def _margin(data: Any, *, source: str, item: str) -> Margin | None:
    """Parse a ``measurement_margin`` block (None, ``off`` or ``false`` switch it off)."""
    if data is None or data is False or (isinstance(data, str) and data.lower() == "off"):
        return None
    if not isinstance(data, Mapping):
        raise InputError(
            "measurement_margin must be a mapping or off",
            source=source,
            item=item,
            value=data,
            expected="{mm: 1.0, deg: 2.0, pct: from_mm, sides: both, evidence: D, source: ...}",
        )
    if data.get("enabled", True) is False:
        return None
    pct_raw = data.get("pct")
    pct: float | str | None
    if isinstance(pct_raw, str):
        if pct_raw.strip().lower() not in ("from_mm", "from-mm"):
            raise InputError(
                "unknown % margin",
                source=source,
                item=f"{item}.pct",
                value=pct_raw,
                expected="a number, from_mm or null",
            )
        pct = "from_mm"
    else:
        pct = _optional_number(pct_raw, source=source, item=f"{item}.pct")
    sides = str(data.get("sides", "both")).strip().lower()
    if sides not in ("both", "below"):  # the value as written is named, not the lower-cased one
        check_choice(
            f"{item}.sides",
            data.get("sides"),
            (),
            source=source,
            message="unknown margin sides",
            expected="both or below",
        )
    evidence = evidence_tag(data, source=source, item=item)
    margin = Margin(
        mm=_optional_number(data.get("mm"), source=source, item=f"{item}.mm"),
        deg=_optional_number(data.get("deg"), source=source, item=f"{item}.deg"),
        pct=pct,
        sides=sides,
        source=required_text(data, "source", source=source, item=item),
        evidence=evidence,
    )
    if margin.mm is None and margin.deg is None and margin.pct in (None, "from_mm"):
        return None
    return margin


def _load_document(path: Path | None) -> tuple[dict[str, Any], str]:
    if path is None:
        text = (
            resources.files("spinestab.instability")
            .joinpath("thresholds.yaml")
            .read_text(encoding="utf-8")
        )
        source = "spinestab/instability/thresholds.yaml"
    else:
        source = str(path)
        if not path.is_file():
            raise InputError(
                "threshold file not found", source=source, expected="a YAML or JSON threshold file"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("threshold file is not UTF-8 text", source=source) from None
    import yaml

    try:
        # bounded (core.safe_load): nesting, huge integers, YAML aliases, duplicate keys
        parse = parse_json if source.lower().endswith(".json") else parse_yaml
        doc = parse(text, source=source)
    except InputError as exc:  # the limit or syntax error, under this file's own heading
        raise InputError(
            f"cannot parse threshold file: {exc.message}",
            source=source,
            item=exc.item,
            value=exc.value,
            expected=exc.expected,
        ) from None
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"cannot parse threshold file: {exc}", source=source) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sets"), dict) or not doc["sets"]:
        raise InputError(
            "threshold file has no sets",
            source=source,
            item="sets",
            expected="a mapping 'sets: {name: {title, source, evidence, rules}}'",
        )
    return doc, source


def available_sets(region: str | None = None) -> list[str]:
    """Names of the bundled threshold sets (of one region, when given)."""
    doc, _ = _load_document(None)
    return [
        name
        for name, data in doc["sets"].items()
        if region is None or (isinstance(data, Mapping) and data.get("region", "lumbar") == region)
    ]


_ALIASES = {
    "wp": "white-panjabi",
    "white-and-panjabi": "white-panjabi",
    "nordsten-ds": "nordsten",
    "wp-cervical": "white-panjabi-cervical",
    "cervical": "white-panjabi-cervical",
}


def _set_key(doc: Mapping[str, Any], name: str | None, *, region: str, source: str) -> str:
    """Return the set to load: ``name`` (aliases resolved), else the region's default."""
    sets = doc["sets"]
    option = "--cervical-thresholds" if region == "cervical" else "--thresholds"
    if name is None:
        default_key = "cervical_default" if region == "cervical" else "default"
        name = doc.get(default_key) or (next(iter(sets)) if len(sets) == 1 else None)
        if name is None:
            raise InputError(
                f"threshold file has several sets and no {default_key}",
                source=source,
                item=default_key,
                expected=", ".join(sets),
            )
    key = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    key = _ALIASES.get(key, key)
    if key not in sets:
        raise InputError(
            "unknown threshold set",
            source=source,
            item=option,
            value=name,
            expected=", ".join(sets),
        )
    return key


def _region(data: Mapping[str, Any], *, key: str, wanted: str, source: str) -> str:
    region = str(data.get("region", "lumbar")).strip().lower()
    if region not in REGIONS:
        check_choice(
            f"{key}.region",
            data.get("region"),
            (),
            source=source,
            message="unknown region",
            expected=" or ".join(REGIONS),
        )
    if region != wanted:
        option = "--cervical-thresholds" if region == "cervical" else "--thresholds"
        raise InputError(
            f"threshold set {key} judges {region} segments, not {wanted} ones",
            source=source,
            item=key,
            expected=f"a {wanted} set here; give {key} as {option}",
        )
    return region


def _rules(data: Mapping[str, Any], *, key: str, source: str) -> tuple[Rule, ...]:
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise InputError(
            "threshold set has no rules",
            source=source,
            item=f"{key}.rules",
            expected="a list of rules",
        )
    rules = tuple(
        _rule(r, source=source, item=f"{key}.rules[{i}]") for i, r in enumerate(rules_raw)
    )
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise InputError(
            "rule ids repeat", source=source, item=key, value=ids, expected="unique ids"
        )
    return rules


def load_threshold_set(
    name: str | None = None,
    *,
    path: str | Path | None = None,
    margin: bool = True,
    region: str = "lumbar",
) -> ThresholdSet:
    """Load a threshold set by name from the bundled data or from a YAML/JSON file.

    Parameters
    ----------
    name : str, optional
        Set name (``white-panjabi``, ``nordsten``, ``slip``, ``white-panjabi-cervical``...);
        None for the file's default of the region (``default``, ``cervical_default``).
        A name that is the path of an existing ``.yaml``/``.yml``/``.json`` file loads that
        file's default (or only) set.
    path : str or Path, optional
        A user threshold file with the layout of the bundled ``thresholds.yaml``.
    margin : bool
        Apply the file's ``measurement_margin`` (``CLINICAL_LOGIC.md`` §4.3 borderline
        rule; a set may override it with its own block, or ``measurement_margin: off``).
    region : {"lumbar", "cervical"}
        The region the set must judge; a set of another region is refused, so that lumbar
        thresholds are never applied to cervical segments or the reverse.

    Raises
    ------
    InputError
        Unknown name, a set of another region, or a set without sources, evidence tags or
        valid rules.

    """
    if region not in REGIONS:
        check_choice("region", region, REGIONS, message="unknown region")
    if path is None and name and Path(name).suffix.lower() in (".yaml", ".yml", ".json"):
        path, name = name, None
    doc, source = _load_document(Path(path) if path is not None else None)
    key = _set_key(doc, name, region=region, source=source)
    data = doc["sets"][key]
    if not isinstance(data, Mapping):
        raise InputError("a threshold set must be a mapping", source=source, item=key)
    lis = doc.get("listhesis") or {}
    qual = (doc.get("quality") or {}).get("min_rom_deg") or {}
    own_margin = "measurement_margin" in data
    return ThresholdSet(
        name=key,
        title=required_text(data, "title", source=source, item=key),
        source=required_text(data, "source", source=source, item=key),
        evidence=evidence_tag(data, source=source, item=key),
        note=str(data.get("note", "")).strip(),
        rules=_rules(data, key=key, source=source),
        listhesis_min_mm=non_negative(
            lis.get("min_mm", 3.0), source=source, item="listhesis.min_mm"
        ),
        listhesis_min_pct=non_negative(
            lis.get("min_pct", 8.0), source=source, item="listhesis.min_pct"
        ),
        listhesis_source=str(lis.get("source", "spinestab/instability/thresholds.yaml [D]")),
        min_rom_deg=non_negative(qual.get("value", 5.0), source=source, item="quality.min_rom_deg"),
        min_rom_source=str(qual.get("source", "CLINICAL_LOGIC.md §4.3 [R]")),
        margin=(
            _margin(
                data["measurement_margin"] if own_margin else doc.get("measurement_margin"),
                source=source,
                item=f"{key}.measurement_margin" if own_margin else "measurement_margin",
            )
            if margin
            else None
        ),
        region=_region(data, key=key, wanted=region, source=source),
    )
