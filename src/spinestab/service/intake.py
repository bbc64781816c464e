"""Intake forms on pages: which fields each instrument has, and page fields -> answers.

The fields come from the clinical package (STarT Back items by content, ODI sections, the
red-flag items of the rule file), so a page never lists an item the scoring does not know.
The mapping only reshapes what was typed into the ``score`` file format; checking and
scoring stay in :mod:`spinestab.clinical` (through the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinestab.errors import InputError

__all__ = ["INSTRUMENT_ORDER", "Field", "answers_from_fields", "intake_fields"]

INSTRUMENT_ORDER = ("redflags", "startback", "odi", "rmdq", "nrs", "psfs")
PSFS_ROWS = 5


@dataclass(frozen=True)
class Field:
    """One item of an intake form.

    Attributes
    ----------
    key : str
        Item key in the ``score`` format (``q1``, ``s3``, ``pain``, ``cancer_history``).
    label_key : str
        Catalogue key of the item's label on the page.
    kind : str
        ``choice`` (radio options), ``tick`` (checkbox), ``number`` or ``activity``.
    options : tuple of (value, label key)
        For ``choice``.
    low, high : int
        Range for ``number``.
    required : bool
        The scoring needs it (for the page's hint only; the scoring decides).

    """

    key: str
    label_key: str
    kind: str
    options: tuple[tuple[str, str], ...] = ()
    low: int = 0
    high: int = 10
    required: bool = True


def intake_fields(instrument: str) -> list[Field]:
    """Return the fields of one instrument's intake form.

    Raises
    ------
    InputError
        For an instrument without an intake form.

    """
    from spinestab.clinical import load_red_flag_rules
    from spinestab.clinical.scores import ODI_SECTIONS, RMDQ_ITEMS, STARTBACK_ITEMS

    yes_no = (("1", "answer.yes"), ("0", "answer.no"))
    if instrument == "startback":
        fields = [
            Field(f"q{i}", f"startback.{item.key}", "choice", yes_no)
            for i, item in enumerate(STARTBACK_ITEMS[:-1], start=1)
        ]
        bother = tuple((str(v), f"startback.bother.{v}") for v in range(5))
        return [*fields, Field("q9", "startback.bothersomeness", "choice", bother)]
    if instrument == "odi":
        levels = tuple((str(v), f"odi.level.{v}") for v in range(6))
        return [
            Field(f"s{i}", f"odi.{name.replace(' ', '_')}", "choice", levels, required=False)
            for i, name in enumerate(ODI_SECTIONS, start=1)
        ]
    if instrument == "rmdq":
        return [
            Field(str(i), "rmdq.statement", "tick", required=False)
            for i in range(1, RMDQ_ITEMS + 1)
        ]
    if instrument == "nrs":
        return [
            Field("pain", "nrs.pain", "number"),
            Field("leg_pain", "nrs.leg_pain", "number", required=False),
            Field("average_7d", "nrs.average_7d", "number", required=False),
            Field("worst_7d", "nrs.worst_7d", "number", required=False),
        ]
    if instrument == "psfs":
        return [
            Field(f"activity{i}", "psfs.activity", "activity", required=i <= 3)
            for i in range(1, PSFS_ROWS + 1)
        ]
    if instrument == "redflags":
        items = load_red_flag_rules().items
        return [Field(key, f"redflags.{key}", "choice", yes_no) for key in items]
    raise InputError(
        "no intake form for this instrument",
        item="instrument",
        value=instrument,
        expected=", ".join(INSTRUMENT_ORDER),
    )


def _int_or_text(value: str) -> Any:
    """Typed digits become an int; anything else goes to the scoring as typed (and fails)."""
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) <= 6 else text


def answers_from_fields(instrument: str, fields: Mapping[str, str]) -> Any:
    """Turn submitted page fields (``item.<key>`` names) into the ``score`` answers format.

    Empty fields are left out (unanswered); red-flag and STarT Back answers become
    booleans and integers, RMDQ ticks a list of item numbers, PSFS rows activities.
    """
    spec = intake_fields(instrument)
    if instrument == "rmdq":
        return [int(f.key) for f in spec if fields.get(f"item.{f.key}") == "1"]
    if instrument == "psfs":
        activities = []
        for f in spec:
            name = fields.get(f"item.{f.key}.name", "").strip()
            score = fields.get(f"item.{f.key}.score", "").strip()
            if name or score:
                activities.append({"name": name, "score": _int_or_text(score) if score else None})
        return {"activities": activities}
    answers: dict[str, Any] = {}
    for f in spec:
        value = fields.get(f"item.{f.key}", "")
        if value == "":
            continue
        if instrument == "redflags":
            answers[f.key] = value == "1" if value in ("0", "1") else value
        else:
            answers[f.key] = _int_or_text(value)
    return answers
