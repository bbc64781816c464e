"""Questionnaire files: read, validate and score.

A questionnaire file is JSON or YAML::

    {"instrument": "startback" | "odi" | "rmdq" | "nrs" | "psfs" | "redflags",
     "date": "YYYY-MM-DD",
     "answers": {...}}

or a FHIR R4 ``QuestionnaireResponse`` (see :mod:`spinestab.clinical.fhir_input`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab.clinical.redflags import screen_red_flags
from spinestab.clinical.result import Score
from spinestab.clinical.scores import (
    score_nrs,
    score_odi,
    score_psfs,
    score_rmdq,
    score_startback,
)
from spinestab.core.safe_load import load_document
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["INSTRUMENTS", "RETRACTED", "Form", "load_form", "parse_form", "score_form"]

#: Status of a FHIR QuestionnaireResponse that retracts an earlier one.
RETRACTED = "entered-in-error"

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
    status : str
        ``completed`` (a file of the spinestab format, or a FHIR response ``completed``),
        ``amended``, or ``entered-in-error``: a FHIR retraction request, which is parsed so
        that the record can retract the stored response it names, and is never scored
        (:func:`score_form` refuses it). FHIR ``in-progress`` and ``stopped`` responses
        are refused when parsed (incomplete).
    response_id : str or None
        The FHIR resource ``id`` (else the ``identifier`` value) where given: which stored
        response a retraction or an amendment is about.

    """

    instrument: str
    date: dt.date
    answers: Any
    source: str = "<form>"
    status: str = "completed"
    response_id: str | None = None

    @property
    def is_retraction(self) -> bool:
        """Whether this is a retraction request (FHIR ``entered-in-error``), never scored."""
        return self.status == RETRACTED

    def to_dict(self) -> dict[str, Any]:
        """Return the form in the file format."""
        return {
            "instrument": self.instrument,
            "date": self.date.isoformat(),
            "answers": self.answers,
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
        instrument = str(
            check_choice(
                "instrument", data.get("instrument"), INSTRUMENTS, message="unknown instrument"
            )
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
    # bounded: over 1 MB, YAML aliases, deep nesting and huge integers are refused before
    # parsing completes; a key given twice is refused, never one of the two dropped
    data = load_document(path)
    return parse_form(data, source=source, today=today)


def score_form(form: Form, **options: Any) -> Score:
    """Score a validated form with its instrument's scoring rules.

    Parameters
    ----------
    form : Form
        The form to score.
    **options
        Passed to the instrument's scoring function (e.g. ``rules=OdiRules(...)``).

    Raises
    ------
    InputError
        For invalid answers, and for a retraction request (FHIR ``entered-in-error``),
        which is never scored.

    """
    if form.is_retraction:
        raise InputError(
            "a retraction (FHIR status entered-in-error) is never scored",
            source=form.source,
            item="status",
            value=form.status,
            expected="a completed form; a retraction is acted on by the patient record "
            "(spinestab record import), which retracts the stored response",
        )
    try:
        return INSTRUMENTS[form.instrument](form.answers, date=form.date, **options)
    except InputError as exc:
        raise exc.with_source(form.source) from None
