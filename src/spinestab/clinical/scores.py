"""Exact scoring of the back-pain questionnaires, as pure functions on answers.

Every rule cites ``../shared/clinical/CLINICAL_LOGIC.md`` (section and evidence tag:
[V] verified against a source, [R] recalled, [D] design decision) and the primary source.
An incomplete form gives ``complete=False``, names the missing items and has no score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinestab.clinical._validate import check_int_in_range, check_known_items
from spinestab.clinical.result import Score
from spinestab.errors import InputError

__all__ = [
    "ODI_BANDS",
    "STARTBACK_ITEMS",
    "OdiRules",
    "RmdqRules",
    "odi_band",
    "score_nrs",
    "score_odi",
    "score_psfs",
    "score_rmdq",
    "score_startback",
    "startback_risk",
]

# --------------------------------------------------------------------------------------
# Keele STarT Back Screening Tool (CLINICAL_LOGIC.md §2.1)
# Sources: Hill JC et al., Arthritis Rheum 2008;59:632-41 [R]; scoring checked against
# physio-pedia "STarT Back Screening Tool" and the WikiMSK calculator [V].
# --------------------------------------------------------------------------------------

STARTBACK_SOURCE = (
    "Keele STarT Back Screening Tool; Hill JC et al., Arthritis Rheum 2008;59:632-41 [R]; "
    "scoring per physio-pedia and WikiMSK calculator [V] (CLINICAL_LOGIC.md §2.1)"
)


@dataclass(frozen=True)
class StartBackItem:
    """One STarT Back item, identified by its content, not its position."""

    key: str
    content: str
    domain: str
    psychosocial: bool
    levels: int  # number of response levels


#: Items in the current Keele order (q1..q9). The psychosocial subscale is defined by
#: *content* (fear, anxiety, catastrophising, depression, bothersomeness), never by
#: position: other orderings (JOSPT 2012 CPG) list them as 1, 4, 7, 8, 9 [V].
STARTBACK_ITEMS: tuple[StartBackItem, ...] = (
    StartBackItem(
        "leg_pain", "leg pain spreading from the back (last 2 weeks)", "physical", False, 2
    ),
    StartBackItem(
        "shoulder_neck_pain", "shoulder or neck pain (last 2 weeks)", "physical", False, 2
    ),
    StartBackItem(
        "walking", "walking only short distances because of back pain", "physical", False, 2
    ),
    StartBackItem("dressing", "dressing more slowly because of back pain", "physical", False, 2),
    StartBackItem("fear", "belief that physical activity is unsafe", "psychosocial: fear", True, 2),
    StartBackItem("anxiety", "frequent worrying thoughts", "psychosocial: anxiety", True, 2),
    StartBackItem(
        "catastrophising",
        "belief the pain is terrible and will never improve",
        "psychosocial: catastrophising",
        True,
        2,
    ),
    StartBackItem("depression", "loss of enjoyment", "psychosocial: depression", True, 2),
    StartBackItem(
        "bothersomeness",
        "overall bothersomeness in the last 2 weeks",
        "psychosocial: bothersomeness",
        True,
        5,
    ),
)

#: Position key (q1..q9, current Keele order) -> content key.
STARTBACK_POSITION = {f"q{i}": item.key for i, item in enumerate(STARTBACK_ITEMS, start=1)}

#: Bothersomeness: only the top two of five levels ("very much", "extremely") score 1 [V].
BOTHERSOME_SCORING_LEVEL = 3
#: Risk cut-offs [V]: total <= 3 low; else psychosocial >= 4 high; else medium.
STARTBACK_LOW_MAX_TOTAL = 3
STARTBACK_HIGH_MIN_PSYCHOSOCIAL = 4


def startback_risk(total: int, psychosocial: int) -> str:
    """Return the STarT Back risk group for a total and a psychosocial subscale.

    Parameters
    ----------
    total : int
        Total score, 0-9.
    psychosocial : int
        Psychosocial subscale, 0-5.

    Returns
    -------
    str
        ``"low"``, ``"medium"`` or ``"high"`` (CLINICAL_LOGIC.md §2.1 [V]).

    Examples
    --------
    >>> startback_risk(3, 3), startback_risk(4, 3), startback_risk(4, 4)
    ('low', 'medium', 'high')

    """
    if total <= STARTBACK_LOW_MAX_TOTAL:
        return "low"
    if psychosocial >= STARTBACK_HIGH_MIN_PSYCHOSOCIAL:
        return "high"
    return "medium"


def _startback_answers_by_content(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Map answers keyed by position (q1..q9) or by content to content keys."""
    content_keys = [item.key for item in STARTBACK_ITEMS]
    check_known_items(answers, [*STARTBACK_POSITION, *content_keys], instrument="startback")
    by_content: dict[str, Any] = {}
    for key, value in answers.items():
        content = STARTBACK_POSITION.get(key, key)
        if content in by_content:
            raise InputError(
                "duplicated item: the same question is answered twice",
                item=f"{key} ({content})",
                value=value,
                expected="each of the 9 items once, by position q1..q9 or by content",
            )
        by_content[content] = value
    return by_content


def score_startback(answers: Mapping[str, Any], *, date: dt.date | None = None) -> Score:
    """Score the 9-item Keele STarT Back Screening Tool.

    Parameters
    ----------
    answers : mapping
        ``q1``..``q9`` in the current Keele order (or the content keys of
        :data:`STARTBACK_ITEMS`). ``q1``-``q8``: 0 disagree / 1 agree; ``q9``: 0-4 for
        "not at all", "slightly", "moderately", "very much", "extremely". ``None`` marks an
        unanswered item.
    date : datetime.date, optional
        Assessment date.

    Returns
    -------
    Score
        Total (0-9), psychosocial subscale (0-5) and risk group. All 9 items are required
        (no official imputation exists; CLINICAL_LOGIC.md §2.1 [D]).

    """
    by_content = _startback_answers_by_content(answers)
    item_scores: dict[str, int] = {}
    missing: list[str] = []
    for position, item in enumerate(STARTBACK_ITEMS, start=1):
        label = f"q{position}"
        value = by_content.get(item.key)
        if value is None:
            missing.append(f"{label} ({item.key})")
            continue
        level = check_int_in_range(
            value,
            item=f"{label} ({item.key})",
            low=0,
            high=item.levels - 1,
            allow_bool=item.levels == 2,
        )
        if item.levels == 5:
            item_scores[item.key] = int(level >= BOTHERSOME_SCORING_LEVEL)
        else:
            item_scores[item.key] = level
    if missing:
        return Score(
            "startback",
            date,
            None,
            9,
            False,
            tuple(missing),
            source=STARTBACK_SOURCE,
            notes=("all 9 items are needed; no risk group without them",),
        )
    total = sum(item_scores.values())
    psychosocial = sum(item_scores[item.key] for item in STARTBACK_ITEMS if item.psychosocial)
    return Score(
        "startback",
        date,
        total,
        9,
        True,
        risk=startback_risk(total, psychosocial),
        psychosocial=psychosocial,
        source=STARTBACK_SOURCE,
        details={"item_scores": item_scores, "psychosocial_max": 5},
    )


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
    if isinstance(answers, list | tuple):
        ticked = _rmdq_ticked_list(answers, item="ticked")
        unanswered: list[int] = []
    elif isinstance(answers, Mapping) and set(answers) <= {"ticked", "unanswered"}:
        ticked = _rmdq_ticked_list(answers.get("ticked") or [], item="ticked")
        unanswered = _rmdq_ticked_list(answers.get("unanswered") or [], item="unanswered")
        both = sorted(set(ticked) & set(unanswered))
        if both:
            raise InputError(
                "item both ticked and unanswered",
                item=str(both[0]),
                expected="each item in one list only",
            )
    elif isinstance(answers, Mapping):
        ticked, unanswered, seen = [], [], set()
        for key, value in answers.items():
            number = _rmdq_item_number(key, item=str(key))
            if number in seen:
                raise InputError("duplicated item", item=str(key), expected="each item once")
            seen.add(number)
            if value is None:
                unanswered.append(number)
            elif isinstance(value, bool) or value in (0, 1):
                if value:
                    ticked.append(number)
            else:
                raise InputError(
                    "wrongly typed answer",
                    item=str(key),
                    value=value,
                    expected="true/false (or 1/0)",
                )
        unanswered += [n for n in range(1, RMDQ_ITEMS + 1) if n not in seen]
    else:
        raise InputError(
            "RMDQ answers have the wrong shape",
            value=type(answers).__name__,
            expected="a list of ticked item numbers 1-24",
        )
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


# --------------------------------------------------------------------------------------
# Pain NRS (CLINICAL_LOGIC.md §2.4): 11-point 0-10 scale [R].
# --------------------------------------------------------------------------------------

NRS_SOURCE = "Pain numeric rating scale 0-10, LOINC 72514-3 [V] (CLINICAL_LOGIC.md §2.4)"
NRS_OPTIONAL = ("leg_pain", "average_7d", "worst_7d")


def score_nrs(answers: Mapping[str, Any], *, date: dt.date | None = None) -> Score:
    """Score a pain numeric rating scale.

    Parameters
    ----------
    answers : mapping
        ``{"pain": 0-10}`` (back pain now); optional ``leg_pain``, ``average_7d``,
        ``worst_7d`` (each 0-10) are kept in ``details``.
    date : datetime.date, optional
        Assessment date.

    """
    check_known_items(answers, ("pain", *NRS_OPTIONAL), instrument="nrs")
    details = {
        key: check_int_in_range(answers[key], item=key, low=0, high=10)
        for key in NRS_OPTIONAL
        if answers.get(key) is not None
    }
    if answers.get("pain") is None:
        return Score("nrs", date, None, 10, False, ("pain",), source=NRS_SOURCE, details=details)
    pain = check_int_in_range(answers["pain"], item="pain", low=0, high=10)
    return Score("nrs", date, pain, 10, True, source=NRS_SOURCE, details=details)


# --------------------------------------------------------------------------------------
# Patient-Specific Functional Scale (CLINICAL_LOGIC.md §2.5)
# Stratford P et al., Physiotherapy Canada 1995;47:258-63 [V]: mean of 3 (up to 5)
# activities, each 0 (unable) to 10 (pre-problem level).
# --------------------------------------------------------------------------------------

PSFS_SOURCE = (
    "Patient-Specific Functional Scale; Stratford P et al., Physiother Can "
    "1995;47:258-63 [V] (CLINICAL_LOGIC.md §2.5)"
)
PSFS_MIN_ACTIVITIES = 3
PSFS_MAX_ACTIVITIES = 5


def score_psfs(answers: Mapping[str, Any], *, date: dt.date | None = None) -> Score:
    """Score the Patient-Specific Functional Scale.

    Parameters
    ----------
    answers : mapping
        ``{"activities": [{"name": str, "score": 0-10}, ...]}`` with 3 to 5 activities.
    date : datetime.date, optional
        Assessment date.

    Returns
    -------
    Score
        Mean activity score (0-10; higher is better).

    """
    check_known_items(answers, ("activities",), instrument="psfs")
    activities = answers.get("activities")
    if activities is None:
        activities = []
    if not isinstance(activities, list):
        raise InputError(
            "wrongly typed answer",
            item="activities",
            value=activities,
            expected="a list of {name, score} objects",
        )
    if len(activities) > PSFS_MAX_ACTIVITIES:
        raise InputError(
            "too many activities",
            item="activities",
            value=len(activities),
            expected=f"{PSFS_MIN_ACTIVITIES} to {PSFS_MAX_ACTIVITIES}",
        )
    scores: list[int] = []
    names: list[str] = []
    missing: list[str] = []
    for index, activity in enumerate(activities, start=1):
        label = f"activity {index}"
        if not isinstance(activity, Mapping):
            raise InputError(
                "wrongly typed answer",
                item=label,
                value=activity,
                expected="an object {name, score}",
            )
        check_known_items(activity, ("name", "score"), instrument=f"psfs {label}")
        name = activity.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(
                "activity without a name",
                item=label,
                value=name,
                expected="the activity's name as text",
            )
        if name.strip().lower() in (n.lower() for n in names):
            raise InputError(
                "duplicated activity", item=label, value=name, expected="distinct activities"
            )
        names.append(name.strip())
        if activity.get("score") is None:
            missing.append(f"{label} ({name}) score")
            continue
        scores.append(
            check_int_in_range(activity["score"], item=f"{label} ({name})", low=0, high=10)
        )
    missing += [f"activity {i}" for i in range(len(activities) + 1, PSFS_MIN_ACTIVITIES + 1)]
    details = {"activities": names, "activity_scores": scores}
    if missing:
        return Score(
            "psfs",
            date,
            None,
            10,
            False,
            tuple(missing),
            source=PSFS_SOURCE,
            notes=(f"{PSFS_MIN_ACTIVITIES} to {PSFS_MAX_ACTIVITIES} rated activities are needed",),
            details=details,
        )
    return Score(
        "psfs", date, sum(scores) / len(scores), 10, True, source=PSFS_SOURCE, details=details
    )
