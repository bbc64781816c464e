"""Adherence to a home programme: planned sessions done over planned sessions due.

One definition for every place that reports adherence (the progression rule's
``adherence`` in ``plan.json``, the weeks-of-care findings read from the record for triage,
the patient's and clinician's pages):

* a **planned session** is an exercise day of the plan (its ``exercise_days`` weekdays,
  CLINICAL_LOGIC.md §5.2 "sessions a week") from the first day counted on;
* a planned session is **due** once its day has begun and either ended or been done: the
  last day counted (today, or the day a new plan version is made) counts only when done;
* a planned session is **done** when a session exercise was logged as done that day;
* adherence is done / due, so it cannot pass 100 %; a session done on a day the plan has
  none is an **extra session**, counted apart and not in the share.

CLINICAL_LOGIC.md gives no formula for adherence: it is what the 12-week review checks
first in a non-responder (§8 step 6, "check adherence/dose") and what clinicians ask to
see (§7, "adherence and engagement data"). Counting against the prescribed days is a
design decision [D]: a session moved to another day is shown as extra, not as making up
the missed one, so neither the share nor the count can exceed what was planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Adherence", "planned_adherence"]


@dataclass(frozen=True)
class Adherence:
    """Planned sessions done against planned sessions due, extras apart.

    Attributes
    ----------
    done_sessions : int
        Planned sessions (exercise days) done.
    planned_sessions : int
        Planned sessions due.
    extra_sessions : int
        Days with a session done that are not exercise days of the plan.
    pct : int or None
        ``done_sessions / planned_sessions`` in whole percent; None while none is due.

    """

    done_sessions: int
    planned_sessions: int
    extra_sessions: int
    pct: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict (the keys ``plan.json`` and the pages use)."""
        return asdict(self)


def planned_adherence(
    session_days: Iterable[dt.date],
    *,
    start: dt.date,
    through: dt.date,
    exercise_days: Collection[int],
) -> Adherence:
    """Count planned sessions due and done from ``start`` to ``through`` (both included).

    Parameters
    ----------
    session_days : iterable of datetime.date
        Days with a session exercise done (repeats are fine; days outside the range are
        ignored).
    start : datetime.date
        First day counted (the programme start, or the day after the last plan version).
    through : datetime.date
        Last day counted; its planned session is due only when done (the day may not be
        over yet).
    exercise_days : collection of int
        The plan's exercise weekdays (Monday = 0).

    Returns
    -------
    Adherence

    Examples
    --------
    Monday, Wednesday and Friday planned; over two weeks from Monday 2024-03-04 to Sunday
    2024-03-17, six planned sessions are due. Three of them done, and three sessions on
    Tuesdays and a Saturday, make 3 of 6 (50 %) with 3 extra sessions:

    >>> days = [dt.date(2024, 3, d) for d in (4, 5, 6, 9, 12, 13)]
    >>> a = planned_adherence(
    ...     days, start=dt.date(2024, 3, 4), through=dt.date(2024, 3, 17), exercise_days=(0, 2, 4)
    ... )
    >>> (a.done_sessions, a.planned_sessions, a.extra_sessions, a.pct)
    (3, 6, 3, 50)

    """
    weekdays = {int(d) for d in exercise_days}
    done_days = {d for d in session_days if start <= d <= through}
    planned = [
        day
        for k in range(max(0, (through - start).days + 1))
        if (day := start + dt.timedelta(days=k)).weekday() in weekdays
    ]
    due = [d for d in planned if d < through or d in done_days]
    done = sum(1 for d in due if d in done_days)
    return Adherence(
        done_sessions=done,
        planned_sessions=len(due),
        extra_sessions=sum(1 for d in done_days if d.weekday() not in weekdays),
        pct=round(100.0 * done / len(due)) if due else None,
    )
