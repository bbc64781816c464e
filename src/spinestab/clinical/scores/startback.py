"""Keele STarT Back Screening Tool (CLINICAL_LOGIC.md §2.1): exact scoring on the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinestab.clinical._validate import check_int_in_range, check_known_items
from spinestab.clinical.result import Score
from spinestab.errors import InputError

__all__ = [
    "BOTHERSOME_SCORING_LEVEL",
    "STARTBACK_HIGH_MIN_PSYCHOSOCIAL",
    "STARTBACK_ITEMS",
    "STARTBACK_LOW_MAX_TOTAL",
    "STARTBACK_POSITION",
    "STARTBACK_SOURCE",
    "StartBackItem",
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
