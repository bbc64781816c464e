"""The demo's dates are relative to the day it is seeded (``make run`` shows a current week).

The bundled files carry fixed dates (the demo patients' baseline 2024-03-04, a Monday;
demo-001's intake 2026-11-02). Seeding on a frozen "today" must place them whole weeks
later: the programme start 35-41 days before today (week 6), demo-001's forms 1-7 days
before, every weekday kept (the plan's exercise days are weekdays).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinestab.record import get_plan
from spinestab.record.demo import DEMO_CLINICIAN, demo_shift, seed_demo, shift_dates
from spinestab.service.demo import seed_demo_accounts
from spinestab.service.records import timeline
from spinestab.store import session_scope

BUNDLED = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data"


def test_shift_is_whole_weeks_into_the_window():
    # hand-computed: 2026-12-06 (a Sunday) - 2024-03-04 (a Monday) = 1007 days;
    # (1007 - 35) // 7 = 138 weeks; 2024-03-04 + 966 days = 2026-10-26 (a Monday, 41 days back)
    shift = demo_shift(dt.date(2024, 3, 4), dt.date(2026, 12, 6), days_ago=35)
    assert shift == dt.timedelta(weeks=138)
    assert dt.date(2024, 3, 4) + shift == dt.date(2026, 10, 26)
    # a seeding day on a Monday puts the start exactly 35 days back
    monday = dt.date(2027, 1, 4)
    start = dt.date(2024, 3, 4) + demo_shift(dt.date(2024, 3, 4), monday, days_ago=35)
    assert (monday - start).days == 35
    # a clock behind the bundled dates moves them back, still by whole weeks
    assert demo_shift(dt.date(2024, 3, 4), dt.date(2020, 1, 1), days_ago=35).days % 7 == 0


def test_shift_dates_moves_iso_dates_only():
    week = dt.timedelta(weeks=1)
    text = '{"date": "2024-03-04", "note": "v2024-13-45 x", "at": "2024-02-29T10:00:00"}'
    assert shift_dates(text, week) == (
        '{"date": "2024-03-11", "note": "v2024-13-45 x", "at": "2024-03-07T10:00:00"}'
    )
    assert shift_dates("nrs_2023-11-13.json", week) == "nrs_2023-11-20.json"
    assert shift_dates("12024-03-04", week) == "12024-03-04"  # not a date on its own


def _plan_in_force(record) -> dict:
    with record.unit_of_work() as uow:
        plan = get_plan(uow, DEMO_CLINICIAN, "functional_high_risk")
    assert plan is not None and plan.status == "active" and plan.plan is not None
    return plan.plan


@pytest.fixture
def demo_app(service_settings, make_app):
    return make_app(service_settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seeded_demo_is_placed_against_the_seeding_day(demo_app):
    today = dt.date(2025, 5, 14)  # a Wednesday, far from the bundled dates (none in the future)
    record = demo_app.state.spinestab.record
    seed_demo(record, today=today)
    fhr = timeline(record, DEMO_CLINICIAN, "functional_high_risk")
    intake = timeline(record, DEMO_CLINICIAN, "demo-001")
    structural = timeline(record, DEMO_CLINICIAN, "structural_spondylolisthesis")
    start = dt.date.fromisoformat(_plan_in_force(record)["programme_start"])
    assert 35 <= (today - start).days <= 41
    assert start.weekday() == dt.date(2024, 3, 4).weekday()
    shift = start - dt.date(2024, 3, 4)
    # every session keeps its bundled date + the same shift (so its weekday)
    with (BUNDLED / "demo_patients" / "functional_high_risk" / "sessions.csv").open() as f:
        bundled = sorted({r["date"] for r in csv.DictReader(f)})
    stored = sorted({str(s["date"]) for s in fhr["sessions"]})
    assert stored == [(dt.date.fromisoformat(d) + shift).isoformat() for d in bundled]
    assert all(dt.date.fromisoformat(d) < today for d in stored)
    # forms and the wearable days moved the same way
    assert {a["date"][:10] for a in fhr["assessments"]} == {start.isoformat()}
    with (BUNDLED / "demo_patients" / "functional_high_risk" / "daily.csv").open() as f:
        days = [r["date"] for r in csv.DictReader(f)]
    wearable = fhr["wearable"][-1]
    assert wearable["first_date"] == (dt.date.fromisoformat(days[0]) + shift).isoformat()
    assert wearable["last_date"] == (dt.date.fromisoformat(days[-1]) + shift).isoformat()
    # the earlier follow-up of the structural patient (2023-11-13) moved by the same weeks
    assert (dt.date(2023, 11, 13) + shift).isoformat() in {
        a["date"][:10] for a in structural["assessments"]
    }
    # demo-001's intake: 1-7 days old, weekday kept
    dates = {dt.date.fromisoformat(a["date"][:10]) for a in intake["assessments"]}
    assert len(dates) == 1
    (intake_day,) = dates
    assert 1 <= (today - intake_day).days <= 7
    assert intake_day.weekday() == dt.date(2026, 11, 2).weekday()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_patient_today_shows_week_6_the_review_due_and_adherence(demo_app):
    """``make run`` today: the demo patient with a plan is in week 6, its review is due,
    and adherence counts the two weeks logged against the exercise days due since."""
    state = demo_app.state.spinestab
    today = dt.date.today()
    seed_demo(state.record, today=today)
    with session_scope(state.sessions) as session:
        seed_demo_accounts(session, passwords=state.passwords)
    plan = _plan_in_force(state.record)
    start = dt.date.fromisoformat(plan["programme_start"])
    # hand count: exercise days Mon/Wed/Fri; sessions logged on every one of them in the
    # first two weeks (6), none after; due = exercise days before today since the start
    weekdays = set(plan["exercise_days"])
    assert weekdays == {0, 2, 4}
    due = sum(
        1
        for k in range((today - start).days)
        if (start + dt.timedelta(days=k)).weekday() in weekdays
    )
    with TestClient(demo_app) as client:
        login = client.post(
            "/api/v1/auth/login",
            json={"username": "demo-patient-plan", "password": "demo-patient-plan-pass"},
        )
        assert login.status_code == 200
        page = client.get("/today", headers={"accept-language": "en"}).text
        assert "(week 6)" in page
        assert "Your week-6 check" in page
        assert f"Planned sessions done: 6 of {due} due ({round(600 / due)} %)." in page
        assert "week 144" not in page
