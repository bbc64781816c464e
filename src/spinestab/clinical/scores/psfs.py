"""Patient-Specific Functional Scale (CLINICAL_LOGIC.md §2.5): exact scoring on the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from spinestab.clinical._validate import check_int_in_range, check_known_items
from spinestab.clinical.result import Score
from spinestab.errors import InputError

__all__ = [
    "PSFS_MAX_ACTIVITIES",
    "PSFS_MIN_ACTIVITIES",
    "PSFS_SOURCE",
    "score_psfs",
]

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
