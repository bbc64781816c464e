"""Adherence: planned sessions done / planned sessions due; extra sessions apart.

Hand-computed case: a plan starting Monday 2025-03-03 with exercise days Mon/Wed/Fri,
seen on Thursday 2025-03-13 (day 11). Planned days so far: 3, 5, 7, 10, 12 March (the
Thursday itself is no exercise day). Sessions: Mon 3, Tue 4 (extra), Wed 5, Sat 8 (extra),
Sun 9 (extra), Wed 12; Fri 7 and Mon 10 missed. Done 3 of 5 due = 60 %; 3 extra sessions.
The old count (every session day against planned days) said 6 of 5.
"""

from __future__ import annotations

import datetime as dt

from spinestab.service.summaries import adherence

PLAN = {
    "programme_start": "2025-03-03",
    "exercise_days": [0, 2, 4],
    "exercises": [
        {"id": "bird_dog", "daily": False},
        {"id": "multifidus_activation", "daily": True},
        {"id": "walking", "daily": True},
    ],
}


def _done(date: str, exercise: str = "bird_dog", done: bool = True) -> dict:
    return {"date": date, "exercise": exercise, "done": done}


SESSIONS = [
    _done("2025-03-03"),
    _done("2025-03-04"),
    _done("2025-03-05"),
    _done("2025-03-07", done=False),  # logged, not done
    _done("2025-03-08"),
    _done("2025-03-09"),
    _done("2025-03-10", "multifidus_activation"),  # a daily exercise is no session
    _done("2025-03-12"),
    _done("2025-03-12"),  # two rows of one day: one session
    _done("2025-02-28"),  # before the start
    _done("2025-03-14"),  # after "today"
]


def test_hand_computed_case():
    got = adherence(SESSIONS, PLAN, today=dt.date(2025, 3, 13))
    assert got == {
        "done_sessions": 3,
        "planned_sessions": 5,
        "pct": 60,
        "extra_sessions": 3,
        "since": "2025-03-03",
    }


def test_never_above_100_with_sessions_every_day():
    every_day = [_done((dt.date(2025, 3, 3) + dt.timedelta(days=k)).isoformat()) for k in range(14)]
    got = adherence(every_day, PLAN, today=dt.date(2025, 3, 17))
    # planned Mon/Wed/Fri of two weeks = 6, all done; the 8 other days are extra
    assert (got["done_sessions"], got["planned_sessions"], got["pct"]) == (6, 6, 100)
    assert got["extra_sessions"] == 8


def test_todays_session_is_due_only_once_done():
    wednesday = dt.date(2025, 3, 5)
    before = adherence([_done("2025-03-03")], PLAN, today=wednesday)
    assert (before["done_sessions"], before["planned_sessions"], before["pct"]) == (1, 1, 100)
    after = adherence([_done("2025-03-03"), _done("2025-03-05")], PLAN, today=wednesday)
    assert (after["done_sessions"], after["planned_sessions"], after["pct"]) == (2, 2, 100)
    # the day after, a missed Wednesday is due and not done
    missed = adherence([_done("2025-03-03")], PLAN, today=wednesday + dt.timedelta(days=1))
    assert (missed["done_sessions"], missed["planned_sessions"], missed["pct"]) == (1, 2, 50)


def test_nothing_due_before_the_start_or_on_the_first_morning():
    got = adherence([], PLAN, today=dt.date(2025, 3, 3))
    assert got["planned_sessions"] == 0 and got["pct"] is None
    assert adherence([], PLAN, today=dt.date(2025, 3, 1))["planned_sessions"] == 0
