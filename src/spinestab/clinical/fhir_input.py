"""Read a FHIR R4 ``QuestionnaireResponse`` (fhir.resources, R4B models) as a :class:`Form`.

Conventions (documented in the README):

- The instrument is named by ``QuestionnaireResponse.questionnaire``: a canonical URL whose
  last path segment is the instrument key (``.../Questionnaire/odi``), or that contains the
  LOINC panel code (STarT Back 91349-1, ODI 97908-8, pain NRS 72514-3; CLINICAL_LOGIC.md §6.2).
- The date is ``authored``.
- Items use the file format's keys as ``linkId``: ``q1``..``q9`` (STarT Back), ``s1``..``s10``
  (ODI; a section without an answer is skipped, two answers are a double tick), ``1``..``24``
  with ``valueBoolean`` (RMDQ), ``pain`` (NRS), red-flag item keys with ``valueBoolean``. PSFS:
  one item per activity, ``text`` = the activity and ``valueInteger`` = its rating; a
  calculated mean item (linkId ``mean``, ``psfs_mean``, ``average``, ``score`` or ``total``)
  is skipped and the mean recomputed. A linkId given twice, and a PSFS activity with two
  ratings, are errors (never one answer dropped).
- ``status``: ``completed`` and ``amended`` are read; ``in-progress`` and ``stopped`` are
  refused as incomplete; ``entered-in-error`` is read as a retraction request
  (``Form.status``; the patient record retracts the stored response it names, by ``id`` or
  ``identifier``), which is never scored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from spinestab.errors import InputError, require

__all__ = ["form_from_questionnaire_response"]

#: LOINC panel codes that identify an instrument (CLINICAL_LOGIC.md §6.2 [V]).
LOINC_PANELS = {"91349-1": "startback", "97908-8": "odi", "72514-3": "nrs"}
#: linkIds of a PSFS calculated (mean) item, which is not an activity.
_PSFS_CALCULATED = frozenset({"mean", "psfs_mean", "psfs-mean", "average", "score", "total"})
#: linkIds of calculated score items (SDC ``calculatedExpression``, CLINICAL_LOGIC.md §6.1);
#: none of them is an answer key of any instrument, so they are skipped and recomputed.
_CALCULATED = _PSFS_CALCULATED | {
    "total_score",
    "odi_score",
    "odi_percent",
    "percent",
    "psychosocial",
    "psychosocial_score",
    "risk",
    "risk_group",
}
_INSTRUMENT_KEYS = ("startback", "odi", "rmdq", "nrs", "psfs", "redflags")
#: QuestionnaireResponse statuses of a form not filled in to the end (FHIR R4 value set
#: questionnaire-answers-status): refused as incomplete.
_INCOMPLETE_STATUSES = frozenset({"in-progress", "stopped"})


def _instrument_from_canonical(canonical: str | None) -> str:
    if canonical:
        for code, instrument in LOINC_PANELS.items():
            if code in canonical:
                return instrument
        last = canonical.rstrip("/").split("|")[0].rsplit("/", 1)[-1].lower()
        if last in _INSTRUMENT_KEYS:
            return last
    raise InputError(
        "cannot tell the instrument",
        item="questionnaire",
        value=canonical,
        expected="a canonical ending in one of "
        + ", ".join(_INSTRUMENT_KEYS)
        + " or containing a LOINC panel code",
    )


def _answer_value(answer: Any) -> Any:
    for name in ("valueInteger", "valueBoolean", "valueDecimal", "valueString"):
        value = getattr(answer, name, None)
        if value is not None:
            return value
    coding = getattr(answer, "valueCoding", None)
    if coding is not None and coding.code is not None:
        code = str(coding.code)
        return int(code) if code.lstrip("-").isdigit() else code
    raise InputError(
        "unsupported answer type",
        expected="valueInteger, valueBoolean, valueDecimal, valueString or valueCoding",
    )


def _flatten(items: list[Any] | None) -> list[Any]:
    """Return every answered or leaf item, also those nested in groups or under answers.

    FHIR R4 nests items in two ways: a group's ``item`` and a question's
    ``answer[].item`` (follow-up questions). Both are walked; a question that has an
    answer is kept even when it also carries nested items.
    """
    flat = []
    for item in items or []:
        if item.answer or not item.item:
            flat.append(item)
        for answer in item.answer or []:
            flat.extend(_flatten(answer.item))
        flat.extend(_flatten(item.item))
    return flat


def form_from_questionnaire_response(data: Mapping[str, Any], *, source: str) -> Any:
    """Convert a QuestionnaireResponse dict into a :class:`~spinestab.clinical.forms.Form`.

    Parameters
    ----------
    data : mapping
        The decoded JSON of a FHIR R4 QuestionnaireResponse.
    source : str
        Where it came from, for messages.

    """
    from spinestab.clinical.forms import Form

    require("fhir.resources", extra="fhir", feature="Reading FHIR QuestionnaireResponse")
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
    from pydantic import ValidationError

    try:
        response = QuestionnaireResponse.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            "invalid FHIR QuestionnaireResponse: " + first["msg"],
            item=".".join(str(p) for p in first["loc"]),
        ) from None
    status = _check_status(str(response.status))  # a required element of R4B
    instrument = _instrument_from_canonical(response.questionnaire)
    authored = response.authored
    if authored is None:
        raise InputError("no date", item="authored", expected="the date the form was filled")
    date = authored.date() if isinstance(authored, dt.datetime) else authored
    if not isinstance(date, dt.date):
        date = dt.date.fromisoformat(str(authored)[:10])
    items = _flatten(response.item)
    answers = _psfs_answers(items) if instrument == "psfs" else _item_answers(items)
    return Form(instrument, date, answers, source, status, _response_id(response))


def _check_status(status: str | None) -> str:
    """Refuse an unfinished response; pass ``completed``, ``amended`` and a retraction."""
    if status is None:  # the R4B model requires it; never scored without one
        raise InputError("no status", item="status", expected="completed or amended")
    if status in _INCOMPLETE_STATUSES:
        raise InputError(
            f"incomplete questionnaire response (status {status})",
            item="status",
            value=status,
            expected="completed or amended (entered-in-error retracts a stored response)",
        )
    return status


def _response_id(response: Any) -> str | None:
    if response.id:
        return str(response.id)
    identifier = response.identifier
    return str(identifier.value) if identifier is not None and identifier.value else None


def _check_once(seen: set[str], link_id: str) -> None:
    """Refuse a linkId given twice: one of the answers would otherwise be dropped."""
    if link_id in seen:
        raise InputError("duplicated item", item=link_id, expected="each linkId once")
    seen.add(link_id)


def _psfs_answers(items: list[Any]) -> dict[str, Any]:
    """PSFS: one activity per item (``text`` = the activity), exactly one rating each."""
    activities = []
    seen: set[str] = set()
    for item in items:
        if str(item.linkId).strip().lower() in _PSFS_CALCULATED:
            # CLINICAL_LOGIC.md §6.1/§2.5: the mean is a calculated item, not an activity;
            # it is recomputed from the ratings.
            continue
        _check_once(seen, item.linkId)
        values = [_answer_value(a) for a in item.answer or []]
        if len(values) > 1:
            raise InputError(
                "repeated answers to one activity",
                item=item.linkId,
                value=values,
                expected="one rating (0-10) per activity",
            )
        activities.append(
            {"name": item.text or item.linkId, "score": values[0] if values else None}
        )
    return {"activities": activities}


def _item_answers(items: list[Any]) -> dict[str, Any]:
    """Other instruments: ``{linkId: value}``; several answers stay a list (ODI double tick)."""
    answers: dict[str, Any] = {}
    seen: set[str] = set()
    for item in items:
        if str(item.linkId).strip().lower() in _CALCULATED:
            continue  # a calculated score item (SDC calculatedExpression), recomputed here
        _check_once(seen, item.linkId)
        values = [_answer_value(a) for a in item.answer or []]
        answers[item.linkId] = values[0] if len(values) == 1 else (values or None)
    return answers
