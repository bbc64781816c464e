"""Patient pages and /api/v1/me: a patient reaches only their own record."""

from __future__ import annotations

import pytest

from .conftest import demo_form, form_json, login


@pytest.fixture
def pa(client):
    client.headers["X-CSRF-Token"] = login(client, "pa")
    return client


def _stored(app, pseudonym):
    from spinestab.record import Actor
    from spinestab.service import records

    reader = Actor(username="test", role="clinician")
    return records.timeline(app.state.spinestab.record, reader, pseudonym)["assessments"]


def test_patient_starts_on_today_without_a_plan(pa):
    start = pa.get("/", follow_redirects=False)
    assert start.headers["location"] == "/today"
    page = pa.get("/today").text
    assert "Your plan is not ready yet" in page
    assert pa.get("/patients").status_code == 403
    assert pa.get("/api/v1/patients/P-A").status_code == 403


def test_patient_form_goes_into_their_own_record_only(pa, app):
    response = pa.post(
        "/forms/nrs", data={"date": "2026-04-01", "item.pain": "5"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/progress?saved=nrs"
    assert [(a["instrument"], a["score"]["score"]) for a in _stored(app, "P-A")] == [("nrs", 5)]
    assert _stored(app, "P-B") == []
    progress = pa.get("/progress?saved=nrs").text
    assert "Your answers are saved" in progress and 'class="dot"' in progress
    # the chart says the score and the date in words, not only as a dot
    assert '<text class="val"' in progress and ">5</text>" in progress
    assert ">2026-04-01</text>" in progress


def test_score_chart_labels_the_baseline_and_the_latest_score(pa):
    for date, pain in (("2026-04-01", "7"), ("2026-04-15", "6"), ("2026-05-01", "3")):
        saved = pa.post("/forms/nrs", data={"date": date, "item.pain": pain})
        assert saved.status_code == 200, saved.text
    page = pa.get("/progress").text
    chart = page.split('<figure class="chart">')[1].split("</figure>")[0]
    values = [v.split(">")[-1] for v in chart.split("</text>")[:-1]]
    # first and last scores above their dots, first and last dates below the axis
    assert values == ["7", "3", "2026-04-01", "2026-05-01"]


def test_me_forms_api(pa, app):
    created = pa.post(
        "/api/v1/me/forms",
        content=form_json("nrs", "2026-04-02", {"pain": 3}),
        headers={"content-type": "application/json"},
    )
    assert created.status_code == 201 and created.json()["score"] == 3
    bad = pa.post(
        "/api/v1/me/forms",
        content=form_json("nrs", "2026-04-02", {"pain": 30}),
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 422 and "pain" in bad.json()["detail"]
    assert [a["score"]["score"] for a in _stored(app, "P-A")] == [3]


def test_a_blocking_red_flag_stops_the_exercise_page(pa):
    form = demo_form("redflags.json").replace('"saddle_numbness": false', '"saddle_numbness": true')
    response = pa.post(
        "/api/v1/me/forms", content=form, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201
    today = pa.get("/today").text
    assert "Please do not exercise now" in today and "emergency department" in today


def test_patient_forms_page_lists_follow_up_questionnaires(pa):
    page = pa.get("/forms").text
    for instrument in ("redflags", "nrs", "odi", "psfs"):
        assert f'href="/forms/{instrument}"' in page
    form = pa.get("/forms/odi").text
    assert 'action="/forms/odi"' in form and "/patients/" not in form
