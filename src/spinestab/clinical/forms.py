"""Questionnaire files: read, validate and score.

A questionnaire file is JSON or YAML::

    {"instrument": "startback" | "odi" | "rmdq" | "nrs" | "psfs" | "redflags",
     "date": "YYYY-MM-DD",
     "answers": {...}}

or a FHIR R4 ``QuestionnaireResponse`` (see :mod:`spinestab.clinical.fhir_input`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spinestab.clinical.redflags import screen_red_flags
from spinestab.clinical.result import Score
from spinestab.clinical.scores import (
    score_nrs,
    score_odi,
    score_psfs,
    score_rmdq,
    score_startback,
)
from spinestab.errors import InputError

__all__ = ["INSTRUMENTS", "Form", "load_form", "parse_form", "score_form"]

#: Scoring function per instrument.
INSTRUMENTS: dict[str, Callable[..., Score]] = {
    "startback": score_startback,
    "odi": score_odi,
    "rmdq": score_rmdq,
    "nrs": score_nrs,
    "psfs": score_psfs,
    "redflags": screen_red_flags,
}


@dataclass(frozen=True)
class Form:
    """One filled-in questionnaire.

    Attributes
    ----------
    instrument : str
        Instrument key, one of :data:`INSTRUMENTS`.
    date : datetime.date
        Date the form was filled in (never in the future).
    answers : Any
        The raw answers, in the instrument's format.
    source : str
        Where the form came from (file path), for messages.

    """

    instrument: str
    date: dt.date
    answers: Any
    source: str = "<form>"

    def to_dict(self) -> dict[str, Any]:
        """Return the form in the file format."""
        return {
            "instrument": self.instrument,
            "date": self.date.isoformat(),
            "answers": self.answers,
        }


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputError(
                "duplicated item", item=str(key), value=value, expected="each key once"
            )
        result[key] = value
    return result


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses duplicated keys (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    pairs = []
    for key_node, value_node in node.value:
        pairs.append(
            (
                loader.construct_object(key_node, deep=True),
                loader.construct_object(value_node, deep=True),
            )
        )
    return _reject_duplicate_keys(pairs)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)
# Dates stay strings: they are validated explicitly below.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_not_future(date: dt.date, *, today: dt.date, value: Any) -> dt.date:
    if date > today:
        raise InputError(
            "date is in the future",
            item="date",
            value=value,
            expected=f"a date on or before {today.isoformat()}",
        )
    return date


def _parse_date(value: Any, *, today: dt.date) -> dt.date:
    if not isinstance(value, str) or not _DATE_PATTERN.match(value):
        raise InputError(
            "missing or malformed date", item="date", value=value, expected="a date YYYY-MM-DD"
        )
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(
            "not a calendar date", item="date", value=value, expected="a valid date YYYY-MM-DD"
        ) from None
    return _check_not_future(date, today=today, value=value)


def parse_form(data: Any, *, source: str = "<form>", today: dt.date | None = None) -> Form:
    """Validate a decoded questionnaire document and return a :class:`Form`.

    Parameters
    ----------
    data : Any
        The decoded JSON/YAML document, or a FHIR QuestionnaireResponse dict.
    source : str
        Where it came from, for error messages.
    today : datetime.date, optional
        Reference date for the "not in the future" check (default: today).

    """
    today = today or dt.date.today()
    try:
        if isinstance(data, Mapping) and data.get("resourceType") == "QuestionnaireResponse":
            from spinestab.clinical.fhir_input import form_from_questionnaire_response

            form = form_from_questionnaire_response(data, source=source)
            _check_not_future(form.date, today=today, value=form.date.isoformat())
            return form
        if not isinstance(data, Mapping):
            raise InputError(
                "not a questionnaire document",
                value=type(data).__name__,
                expected='an object {"instrument", "date", "answers"}',
            )
        unknown = [
            k for k in data if k not in ("instrument", "date", "answers", "patient", "notes")
        ]
        if unknown:
            raise InputError(
                "unknown field", item=str(unknown[0]), expected="instrument, date, answers"
            )
        instrument = data.get("instrument")
        if instrument not in INSTRUMENTS:
            raise InputError(
                "unknown instrument",
                item="instrument",
                value=instrument,
                expected="one of " + ", ".join(INSTRUMENTS),
            )
        if "answers" not in data:
            raise InputError("no answers", item="answers", expected="an answers object")
        date = _parse_date(data.get("date"), today=today)
        return Form(instrument, date, data["answers"], source)
    except InputError as exc:
        raise exc.with_source(source) from None


def load_form(path: str | Path, *, today: dt.date | None = None) -> Form:
    """Read and validate a questionnaire file (JSON, YAML or FHIR QuestionnaireResponse).

    Raises
    ------
    InputError
        When the file is unreadable or the form is invalid; the message names the file,
        the item, the value and what was expected.

    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not content
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"unreadable file ({exc.__class__.__name__}: {exc})", source=source
        ) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_UniqueKeyLoader)
        else:
            data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except InputError as exc:
        raise exc.with_source(source) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise InputError(f"not valid {kind}: {exc}", source=source) from None
    return parse_form(data, source=source, today=today)


def score_form(form: Form, **options: Any) -> Score:
    """Score a validated form with its instrument's scoring rules.

    Parameters
    ----------
    form : Form
        The form to score.
    **options
        Passed to the instrument's scoring function (e.g. ``rules=OdiRules(...)``).

    """
    try:
        return INSTRUMENTS[form.instrument](form.answers, date=form.date, **options)
    except InputError as exc:
        raise exc.with_source(form.source) from None
