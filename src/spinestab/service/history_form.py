"""The history and examination form: the ``history.json`` fields as form fields and back.

Pure functions. The fields and their vocabularies come from the care layer's history
contract (:func:`spinestab.care.io.read_history` checks every value, as ``spinestab plan``
does); this module only turns typed text into JSON values and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinestab.errors import InputError

__all__ = ["check_history", "fields_from_history", "history_fields", "history_from_fields"]

#: The symptoms the history names (``symptoms`` in ``history.json``).
SYMPTOMS = (
    "mechanical_back_pain",
    "axial_pain",
    "leg_pain",
    "radiculopathy",
    "neurogenic_claudication",
)
#: Yes / no / not examined findings.
FINDINGS = (
    "aberrant_movement",
    "prone_instability_test",
    "neuro_deficit",
    "concordant_symptoms",
    "slip_progression",
    "surgical_candidate",
)
#: Numbers: (key, smallest, largest or None, step).
NUMBERS = (
    ("age", 0, 120, 1),
    ("pain_duration_weeks", 0, None, 1),
    ("active_care_weeks", 0, None, 1),
    ("adherence_pct", 0, 100, 1),
    ("slr_deg", 0, 180, 1),
)
#: Lists typed as text, comma separated (vertebral levels).
LEVEL_LISTS = ("symptomatic_levels", "known_old_deformities")


def history_fields() -> dict[str, Any]:
    """Return the form's fields, by group (for the template)."""
    from spinestab.care.profile import KNOWN_CONDITIONS

    return {
        "numbers": [{"key": k, "low": lo, "high": hi, "step": st} for k, lo, hi, st in NUMBERS],
        "findings": list(FINDINGS),
        "symptoms": list(SYMPTOMS),
        "conditions": list(KNOWN_CONDITIONS),
        "levels": list(LEVEL_LISTS),
        "responses": ["responder", "non_responder"],
    }


def _number(key: str, text: str) -> int | float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise InputError(
            "not a number", source="history", item=key, value=text[:40], expected="a number"
        ) from None
    if key == "age":
        if not value.is_integer():
            raise InputError("not a whole number", source="history", item=key, value=text[:40])
        return int(value)
    return int(value) if value.is_integer() else value


def history_from_fields(
    fields: Mapping[str, str], lists: Mapping[str, list[Any]] | None = None
) -> dict[str, Any]:
    """Return the ``history.json`` document of the typed form (blank fields left out).

    Raises
    ------
    InputError
        For a number that is not one (the record checks everything else).

    """
    lists = lists or {}
    out: dict[str, Any] = {}
    for key, *_ in NUMBERS:
        text = str(fields.get(key, "")).strip()
        if text:
            out[key] = _number(key, text)
    response = str(fields.get("previous_response", "")).strip()
    if response:
        out["previous_response"] = response
    for key in FINDINGS:
        value = str(fields.get(key, "")).strip()
        if value in ("yes", "no"):
            out[key] = value == "yes"
    for key in ("symptoms", "conditions"):
        chosen = [str(v) for v in lists.get(key, ()) if str(v).strip()]
        if chosen:
            out[key] = chosen
    for key in LEVEL_LISTS:
        text = str(fields.get(key, "")).strip()
        if text:
            out[key] = [p.strip().upper() for p in text.replace(";", ",").split(",") if p.strip()]
    notes = str(fields.get("notes", "")).strip()
    if notes:
        out["notes"] = notes[:2000]
    return out


def fields_from_history(history: Mapping[str, Any]) -> dict[str, Any]:
    """Return the form's values for a stored history (the inverse of the above)."""
    values: dict[str, Any] = {}
    for key, *_ in NUMBERS:
        if history.get(key) is not None:
            values[key] = str(history[key])
    if history.get("previous_response"):
        values["previous_response"] = history["previous_response"]
    for key in FINDINGS:
        if isinstance(history.get(key), bool):
            values[key] = "yes" if history[key] else "no"
    for key in ("symptoms", "conditions"):
        values[key] = list(history.get(key) or ())
    for key in LEVEL_LISTS:
        if history.get(key):
            values[key] = ", ".join(str(v) for v in history[key])
    if history.get("notes"):
        values["notes"] = str(history["notes"])
    return values


def check_history(document: Mapping[str, Any]) -> dict[str, Any]:
    """Check a history document as ``spinestab plan`` reads it; return what it says.

    Raises
    ------
    InputError
        With the message of the history reader (field, value, what was expected).

    """
    from spinestab.care.config import load_rules
    from spinestab.care.io import read_history

    history = read_history(document, source="history")
    weeks = history.pain_duration_weeks
    chronic_weeks = load_rules()["chronic_weeks"]  # ACP 2017: chronic > 12 weeks [V]
    return {
        "fields": len(document),
        "age": history.age,
        "pain_duration_weeks": weeks,
        "chronic": weeks is not None and weeks > chronic_weeks,
        "chronic_weeks": chronic_weeks,
    }
