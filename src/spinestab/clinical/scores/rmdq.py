"""Roland-Morris Disability Questionnaire (CLINICAL_LOGIC.md §2.3): exact scoring on the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinestab.clinical._validate import check_int_in_range
from spinestab.clinical.result import Score
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = [
    "RMDQ_ITEMS",
    "RMDQ_SOURCE",
    "RmdqRules",
    "score_rmdq",
]

# --------------------------------------------------------------------------------------
# Roland-Morris Disability Questionnaire (CLINICAL_LOGIC.md §2.3)
# Roland & Fairbank, Spine 2000;25:3115-24: count of endorsed statements, 0-24 [R].
# --------------------------------------------------------------------------------------

RMDQ_SOURCE = (
    "Roland-Morris Disability Questionnaire (24 items); Roland & Fairbank, "
    "Spine 2000;25:3115-24 [R] (CLINICAL_LOGIC.md §2.3)"
)
RMDQ_ITEMS = 24


@dataclass(frozen=True)
class RmdqRules:
    """Configurable RMDQ rules.

    Attributes
    ----------
    max_prorated_missing : int
        Unanswered items that may be pro-rated to 24. Default 0: an incomplete form has no
        score. CLINICAL_LOGIC.md §2.3 proposes 2 [D]; no official rule exists [R].

    """

    max_prorated_missing: int = 0


def _rmdq_item_number(value: Any, *, item: str) -> int:
    if isinstance(value, str) and value.removeprefix("q").isdigit():
        value = int(value.removeprefix("q"))
    return check_int_in_range(value, item=item, low=1, high=RMDQ_ITEMS)


def _rmdq_ticked_list(values: Sequence[Any], *, item: str) -> list[int]:
    if not isinstance(values, list | tuple):
        raise InputError(
            "wrongly typed answer: not a list",
            item=item,
            value=values,
            expected="a list of item numbers 1-24, e.g. [1, 5, 12]",
        )
    numbers = [_rmdq_item_number(v, item=item) for v in values]
    seen: set[int] = set()
    for number in numbers:
        if number in seen:
            raise InputError(
                "duplicated item: ticked twice",
                item=f"{item} {number}",
                expected="each item number once",
            )
        seen.add(number)
    return numbers


def _rmdq_lists(answers: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """``{"ticked": [...], "unanswered": [...]}``: two disjoint lists of item numbers."""
    ticked = _rmdq_ticked_list(answers.get("ticked") or [], item="ticked")
    unanswered = _rmdq_ticked_list(answers.get("unanswered") or [], item="unanswered")
    both = sorted(set(ticked) & set(unanswered))
    if both:
        raise InputError(
            "item both ticked and unanswered",
            item=str(both[0]),
            expected="each item in one list only",
        )
    return ticked, unanswered


def _rmdq_per_item(answers: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """One entry per item (``true``/``false``/``null``); absent items are unanswered."""
    ticked, unanswered, seen = [], [], set()
    for key, value in answers.items():
        number = _rmdq_item_number(key, item=str(key))
        if number in seen:
            raise InputError("duplicated item", item=str(key), expected="each item once")
        seen.add(number)
        if value is None:
            unanswered.append(number)
            continue
        if not isinstance(value, bool):
            check_choice(
                str(key),
                value,
                (0, 1),
                message="wrongly typed answer",
                expected="true/false (or 1/0)",
            )
        if value:
            ticked.append(number)
    unanswered += [n for n in range(1, RMDQ_ITEMS + 1) if n not in seen]
    return ticked, unanswered


def _rmdq_answers(answers: Any) -> tuple[list[int], list[int]]:
    """Ticked and unanswered item numbers from any of the three accepted shapes."""
    if isinstance(answers, list | tuple):
        return _rmdq_ticked_list(answers, item="ticked"), []
    if isinstance(answers, Mapping) and set(answers) <= {"ticked", "unanswered"}:
        return _rmdq_lists(answers)
    if isinstance(answers, Mapping):
        return _rmdq_per_item(answers)
    raise InputError(
        "RMDQ answers have the wrong shape",
        value=type(answers).__name__,
        expected="a list of ticked item numbers 1-24",
    )


def score_rmdq(
    answers: Any, *, date: dt.date | None = None, rules: RmdqRules | None = None
) -> Score:
    """Score the 24-item Roland-Morris Disability Questionnaire.

    Parameters
    ----------
    answers : list or mapping
        The list of ticked item numbers (1-24; every other item counts as "no"), or
        ``{"ticked": [...], "unanswered": [...]}``, or one entry per item
        ``{"1": true, "2": false, ...}`` (``q1``.. accepted) where absent or ``null``
        items are unanswered.
    date : datetime.date, optional
        Assessment date.
    rules : RmdqRules, optional
        Pro-rating rule for unanswered items.

    Returns
    -------
    Score
        Count of endorsed statements, 0-24.

    """
    rules = rules or RmdqRules()
    ticked, unanswered = _rmdq_answers(answers)
    missing = tuple(f"item {n}" for n in sorted(unanswered))
    count = len(ticked)
    if not unanswered:
        return Score(
            "rmdq",
            date,
            count,
            RMDQ_ITEMS,
            True,
            source=RMDQ_SOURCE,
            details={"ticked": sorted(ticked)},
        )
    if len(unanswered) <= rules.max_prorated_missing:
        prorated = count * RMDQ_ITEMS / (RMDQ_ITEMS - len(unanswered))
        return Score(
            "rmdq",
            date,
            prorated,
            RMDQ_ITEMS,
            True,
            missing,
            source=RMDQ_SOURCE,
            notes=(
                f"{len(unanswered)} item(s) unanswered; pro-rated to 24 "
                "(CLINICAL_LOGIC.md §2.3 [D])",
            ),
            details={"ticked": sorted(ticked), "prorated": True},
        )
    return Score(
        "rmdq",
        date,
        None,
        RMDQ_ITEMS,
        False,
        missing,
        source=RMDQ_SOURCE,
        notes=(f"{len(unanswered)} item(s) unanswered; no score",),
    )
