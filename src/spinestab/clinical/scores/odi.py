"""Oswestry Disability Index v2.1a (CLINICAL_LOGIC.md §2.2): exact scoring on the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinestab.clinical._validate import check_int_in_range, check_known_items
from spinestab.clinical.result import Score
from spinestab.errors import InputError

__all__ = [
    "ODI_BANDS",
    "ODI_SECTIONS",
    "ODI_SOURCE",
    "OdiRules",
    "odi_band",
    "score_odi",
]

# --------------------------------------------------------------------------------------
# Oswestry Disability Index v2.1a (CLINICAL_LOGIC.md §2.2)
# Fairbank JCT, Pynsent PB, Spine 2000;25:2940-52 [R]; scoring per RehabMeasures [V].
# --------------------------------------------------------------------------------------

ODI_SOURCE = (
    "Oswestry Disability Index 2.1a; Fairbank & Pynsent, Spine 2000;25:2940-52 [R]; "
    "denominator 5 x answered sections [V] (CLINICAL_LOGIC.md §2.2)"
)
ODI_SECTIONS = (
    "pain intensity",
    "personal care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex life",
    "social life",
    "travelling",
)

#: Original developer bands, upper bounds in percent [V] (asir-journal table 1).
ODI_BANDS: tuple[tuple[float, str], ...] = (
    (20.0, "minimal disability"),
    (40.0, "moderate disability"),
    (60.0, "severe disability"),
    (80.0, "crippled"),
    (100.0, "bed-bound or exaggerating symptoms"),
)


@dataclass(frozen=True)
class OdiRules:
    """Configurable ODI rules.

    Attributes
    ----------
    min_answered : int
        Fewest answered sections for a valid score. Default 8 of 10: a local convention
        that many implementations use (CLINICAL_LOGIC.md §2.2 [R]/[D]).
    double_answer : {"higher", "reject"}
        Two statements ticked in one section: score the higher one (Fairbank's advice [R])
        or reject the form.

    """

    min_answered: int = 8
    double_answer: str = "higher"


def odi_band(percent: float) -> str:
    """Return the ODI interpretation band for a percentage (0-100).

    Examples
    --------
    >>> odi_band(20.0), odi_band(20.5), odi_band(100.0)
    ('minimal disability', 'moderate disability', 'bed-bound or exaggerating symptoms')

    """
    for upper, band in ODI_BANDS:
        if percent <= upper:
            return band
    raise ValueError(f"ODI percent out of range: {percent}")


def score_odi(
    answers: Mapping[str, Any], *, date: dt.date | None = None, rules: OdiRules | None = None
) -> Score:
    """Score the Oswestry Disability Index 2.1a.

    Parameters
    ----------
    answers : mapping
        ``s1``..``s10`` with 0-5, or ``None`` for a skipped section. A list of two values
        means two statements were ticked in one section.
    date : datetime.date, optional
        Assessment date.
    rules : OdiRules, optional
        Missing-section and double-answer rules.

    Returns
    -------
    Score
        ``score`` is the raw sum, ``max`` is 5 x answered sections, ``percent`` is
        100 x sum / (5 x answered) and ``band`` the interpretation band.

    Examples
    --------
    >>> s = score_odi({f"s{i}": 2 for i in range(1, 11)} | {"s8": None, "s1": 0})
    >>> s.score, s.max, round(s.percent, 2)
    (16, 45, 35.56)

    """
    rules = rules or OdiRules()
    keys = [f"s{i}" for i in range(1, 11)]
    check_known_items(answers, keys, instrument="odi")
    section_scores: dict[str, int] = {}
    missing: list[str] = []
    notes: list[str] = []
    for key, topic in zip(keys, ODI_SECTIONS, strict=True):
        value = answers.get(key)
        label = f"{key} ({topic})"
        if value is None:
            missing.append(label)
            continue
        if isinstance(value, list | tuple):
            if not value:
                missing.append(label)
                continue
            ticked = [check_int_in_range(v, item=label, low=0, high=5) for v in value]
            if len(set(ticked)) != len(ticked):
                raise InputError(
                    "duplicated answer within a section",
                    item=label,
                    value=value,
                    expected="distinct statements",
                )
            if len(ticked) > 1 and rules.double_answer == "reject":
                raise InputError(
                    "more than one statement ticked",
                    item=label,
                    value=value,
                    expected="one answer 0-5",
                )
            if len(ticked) > 1:
                notes.append(
                    f"{label}: {len(ticked)} statements ticked, the higher one "
                    f"({max(ticked)}) scored (Fairbank advice [R])"
                )
            section_scores[key] = max(ticked)
        else:
            section_scores[key] = check_int_in_range(value, item=label, low=0, high=5)
    answered = len(section_scores)
    if missing:
        notes.append(f"{len(missing)} section(s) skipped: denominator 5 x {answered}")
    if answered < rules.min_answered:
        notes.append(
            f"only {answered} of 10 sections answered; at least {rules.min_answered} needed"
        )
        return Score(
            "odi", date, None, None, False, tuple(missing), notes=tuple(notes), source=ODI_SOURCE
        )
    total = sum(section_scores.values())
    maximum = 5 * answered
    percent = 100.0 * total / maximum
    return Score(
        "odi",
        date,
        total,
        maximum,
        True,
        tuple(missing),
        percent=percent,
        band=odi_band(percent),
        notes=tuple(notes),
        source=ODI_SOURCE,
        details={"section_scores": section_scores, "answered": answered},
    )
