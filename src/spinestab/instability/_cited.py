"""Checks of cited data values (threshold and rule files): numbers, texts, evidence tags."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from spinestab.errors import InputError
from spinestab.instability.threshold_types import EVIDENCE_TAGS

__all__ = ["evidence_tag", "non_negative", "required_text"]


def non_negative(value: Any, *, source: str, item: str) -> float:
    """Return a finite number >= 0, or raise an :class:`InputError` naming the item."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(
            "not a finite number", source=source, item=item, value=value, expected="a number"
        )
    if value < 0:
        raise InputError(
            "must not be negative", source=source, item=item, value=value, expected="a number >= 0"
        )
    return float(value)


def required_text(data: Mapping[str, Any], key: str, *, source: str, item: str) -> str:
    """Return the non-empty text ``data[key]`` (a source must be cited)."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"{key} missing",
            source=source,
            item=f"{item}.{key}",
            value=value,
            expected="a non-empty text (every threshold must cite its source)",
        )
    return value.strip()


def evidence_tag(data: Mapping[str, Any], *, source: str, item: str) -> str:
    """Return the evidence tag of a block (``V``, ``R`` or ``D``; brackets stripped)."""
    evidence = str(data.get("evidence", "")).strip("[] ")
    if evidence not in EVIDENCE_TAGS:
        raise InputError(
            "evidence tag missing or unknown",
            source=source,
            item=item,
            value=data.get("evidence"),
            expected="V, R or D",
        )
    return evidence
