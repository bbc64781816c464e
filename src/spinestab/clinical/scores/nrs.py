"""Pain numeric rating scale (CLINICAL_LOGIC.md §2.4): exact scoring on the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from spinestab.clinical._validate import check_int_in_range, check_known_items
from spinestab.clinical.result import Score

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
