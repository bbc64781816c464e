"""``history.json``: history and examination, validated field by field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinestab.care.profile import KNOWN_CONDITIONS, History
from spinestab.core.levels import normalise_level, parse_segment
from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import InputError

__all__ = ["read_history"]

_HISTORY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "age": int,
    "pain_duration_weeks": (int, float),
    "active_care_weeks": (int, float),
    "adherence_pct": (int, float),
    "previous_response": str,
    "aberrant_movement": bool,
    "prone_instability_test": bool,
    "slr_deg": (int, float),
    "neuro_deficit": bool,
    "concordant_symptoms": bool,
    "symptoms": list,
    "slip_progression": bool,
    "conditions": list,
    "symptomatic_levels": list,
    "surgical_candidate": bool,
    "known_old_deformities": list,
}
_SYMPTOMS = (
    "neurogenic_claudication",
    "radiculopathy",
    "mechanical_back_pain",
    "axial_pain",
    "leg_pain",
)


#: How each history field type is named in messages.
_KIND_TEXT = {int: "a whole number", bool: "true or false", str: "text", list: "a list"}
#: Plausible ranges of history numbers: bounds of the measurement itself, not clinical
#: thresholds (a straight-leg raise is a hip-flexion angle, at most 180 deg; an age in years
#: at most 120; adherence a percentage).
_HISTORY_RANGES: dict[str, tuple[float, float | None]] = {
    "age": (0, 120),
    "pain_duration_weeks": (0, None),
    "active_care_weeks": (0, None),
    "adherence_pct": (0, 100),
    "slr_deg": (0, 180),
}
_RESPONSES = ("responder", "non_responder")


def _history_value(key: str, value: Any, *, source: str) -> Any:
    """Check one history field's type, range and vocabulary; return the value."""
    check_choice(key, key, _HISTORY_FIELDS, source=source, message="unknown history field")
    kind = _HISTORY_FIELDS[key]
    expected = "a number" if isinstance(kind, tuple) else _KIND_TEXT[kind]
    check_type(key, value, kind, source=source, message="wrongly typed value", expected=expected)
    if key in _HISTORY_RANGES:
        lo, hi = _HISTORY_RANGES[key]
        check_range(key, value, lo, hi, source=source)
    if key == "previous_response":
        check_choice(
            key,
            value,
            _RESPONSES,
            source=source,
            message="unknown response status",
            expected="responder or non_responder",
        )
    for name, allowed in (("conditions", KNOWN_CONDITIONS), ("symptoms", _SYMPTOMS)):
        if key == name:
            for entry in value:
                check_choice(
                    key,
                    entry,
                    allowed,
                    source=source,
                    message="unknown entry",
                    expected="any of " + ", ".join(allowed),
                )
    return value


def _symptomatic_level(level: Any, *, source: str) -> str:
    text = str(level).upper()
    if parse_segment(text) is None:
        raise InputError(
            "unknown level",
            source=source,
            item="symptomatic_levels",
            value=text,
            expected="vertebral levels such as L4, L5 or a segment L4-L5",
        )
    return text


def read_history(data: Mapping[str, Any], *, source: str = "history.json") -> History:
    """Validate a history document (``history.json``) and return a :class:`History`.

    Unknown keys are refused so that a typo never silently drops a finding; every value
    is checked for its type, its plausible range and its vocabulary.
    """
    if not isinstance(data, Mapping):
        raise InputError(
            "not a history object",
            source=source,
            value=type(data).__name__,
            expected="a JSON object",
        )
    values = {
        key: _history_value(key, value, source=source)
        for key, value in data.items()
        if key not in ("patient", "notes", "sex")
        and (value is not None or key not in _HISTORY_FIELDS)
    }
    for key in ("conditions", "symptoms"):
        values[key] = tuple(values.get(key, ()))
    values["symptomatic_levels"] = tuple(
        _symptomatic_level(v, source=source) for v in values.get("symptomatic_levels", ())
    )
    values["known_old_deformities"] = tuple(
        normalise_level(v, source=source) for v in values.get("known_old_deformities", ())
    )
    return History(**values)
