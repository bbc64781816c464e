"""The record page and the patient's Today page, rendered from a record built over the API.

Checked against what the record holds: the plan versions and their states, the triage's
reasons with sources, the exercises of the approved plan (names from the care catalogue),
the session rows stored from the log form, the worklist's red pain.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .conftest import login

JSON = {"content-type": "application/json"}
DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"
FHR = DEMO / "functional_high_risk"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def doc(client):
    client.headers["X-CSRF-Token"] = login(client, "doc")
    return client


def _planned(doc, *, start: dt.date | None = None, approve: bool = True) -> None:
    history = json.loads((FHR / "history.json").read_text())
    doc.post("/api/v1/patients/P-A/history", content=json.dumps(history), headers=JSON)
    for name in ("redflags", "nrs", "odi", "psfs", "startback"):
        text = (FHR / f"{name}.json").read_text()
        if start is not None:  # the forms (and so the programme start) dated to ``start``
            doc_ = json.loads(text)
            doc_["date"] = start.isoformat()
            text = json.dumps(doc_)
        assert doc.post("/api/v1/patients/P-A/forms", content=text, headers=JSON).status_code == 201
    assert doc.post("/api/v1/patients/P-A/plans").status_code == 201
    if approve:
        assert doc.post("/api/v1/patients/P-A/plans/1/approve").status_code == 200


def test_record_page_shows_plans_and_the_review_page_approves(doc):
    _planned(doc, approve=False)
    page = doc.get("/patients/P-A")
    assert page.status_code == 200
    plans = page.text.split('id="plans-h"', 1)[1].split("</section>", 1)[0]
    assert "/patients/P-A/plans/1" in plans and "awaiting approval" in plans
    review = doc.get("/patients/P-A/plans/1")
    assert review.status_code == 200
    triage = doc.get("/api/v1/patients/P-A/plans/1").json()
    track = triage["track"]
    assert f"track-{track}" in review.text
    # every triage reason with its source
    files = review.text
    assert "Reasons and sources" in files and "CLINICAL_LOGIC.md" in files
    # the exercises with pictures (data URIs of the library's figures)
    assert files.count('src="data:image/svg+xml;base64,') >= len(
        [e for e in triage["plan"]["exercises"] if e["id"] not in ("walking", "movement_breaks")]
    )
    approved = doc.post(
        "/patients/P-A/plans/1/approve",
        data={"csrf_token": _csrf(review.text)},
        follow_redirects=False,
    )
    assert approved.status_code == 303 and approved.headers["location"].endswith("?approved=1")
    assert doc.get("/api/v1/patients/P-A/plans/current").json()["status"] == "active"
    handout = doc.get("/patients/P-A/plans/1/handout")
    assert handout.status_code == 200 and "<html" in handout.text.lower()
    assert "script-src" not in handout.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in handout.headers["content-security-policy"]


def test_plan_refused_is_said_on_the_record_page(doc):
    page = doc.get("/patients/P-A")
    refused = doc.post("/patients/P-A/plans", data={"csrf_token": _csrf(page.text)})
    assert refused.status_code == 422 and "no questionnaires stored" in refused.text


def test_history_form_checks_and_saves_a_version(doc):
    page = doc.get("/patients/P-A/history")
    assert page.status_code == 200
    token = _csrf(page.text)
    check = doc.post(
        "/patients/P-A/history/check",
        data={"age": "abc", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert check.status_code == 200 and "not a number" in check.text
    ok = doc.post(
        "/patients/P-A/history/check",
        data={"age": "45", "pain_duration_weeks": "30", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert "chronic (more than 12 weeks)" in ok.text
    saved = doc.post(
        "/patients/P-A/history",
        data={
            "age": "45",
            "pain_duration_weeks": "30",
            "aberrant_movement": "yes",
            "prone_instability_test": "no",
            "symptoms": ["mechanical_back_pain", "leg_pain"],
            "symptomatic_levels": "l4, L5",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    history = doc.get("/api/v1/patients/P-A").json()["history"]["data"]
    assert history == {
        "age": 45,
        "pain_duration_weeks": 30,
        "aberrant_movement": True,
        "prone_instability_test": False,
        "symptoms": ["mechanical_back_pain", "leg_pain"],
        "symptomatic_levels": ["L4", "L5"],
    }
    again = doc.get("/patients/P-A/history")
    assert 'value="45"' in again.text and "version 1" in again.text


def test_upload_and_analysis_from_the_page(doc):
    page = doc.get("/patients/P-A")
    token = _csrf(page.text)
    cwa = Path(__file__).resolve().parents[1] / "data" / "wearable" / "ax6_sample.cwa"
    uploaded = doc.post(
        "/patients/P-A/files",
        data={"kind": "wearable", "csrf_token": token},
        files={"file": ("ax6_sample.cwa", cwa.read_bytes(), "application/octet-stream")},
        headers={"HX-Request": "true"},
    )
    assert uploaded.status_code == 200 and "ax6_sample.cwa" in uploaded.text
    file_id = re.search(r'name="file" value="(\d+)"', uploaded.text).group(1)
    wrong = doc.post(
        "/patients/P-A/files",
        data={"kind": "mri", "csrf_token": token},
        files={"file": ("x.nii.gz", b"not an image", "application/octet-stream")},
        headers={"HX-Request": "true"},
    )
    assert "not a mri file" in wrong.text
    started = doc.post(
        "/patients/P-A/analyses",
        data={"kind": "wearable", "file": file_id, "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert started.status_code == 200 and "Movement (wearable)" in started.text
    jobs = doc.get("/patients/P-A/jobs")
    assert jobs.status_code == 200 and 'id="jobs"' in jobs.text


def _latest_day(plan: dict, *, session: bool, on_or_before: dt.date) -> dt.date:
    """The last day on or before ``on_or_before`` that is (or is not) an exercise day."""
    days = {d["weekday"] for d in plan["schedule"] if bool(d["session"]) == session}
    return next(
        day
        for day in (on_or_before - dt.timedelta(days=k) for k in range(7))
        if day.weekday() in days
    )


def test_patient_today_shows_exercises_and_logs_a_session(doc, app, monkeypatch):
    from spinestab.service.pages import patient as patient_pages

    today = dt.date.today()
    _planned(doc, start=today - dt.timedelta(days=today.weekday()))  # a Monday: week 1
    plan = doc.get("/api/v1/patients/P-A/plans/current").json()["plan"]
    assert dt.date.fromisoformat(plan["programme_start"]).weekday() == 0
    # the page on an exercise day of this week (the real weekday may be a rest day)
    day = _latest_day(plan, session=True, on_or_before=today)
    monkeypatch.setattr(patient_pages, "_today", lambda: day)
    with TestClient(app) as pa:
        login(pa, "pa")
        page = pa.get("/today")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "Safety notes" in text and "Log your session" in text
        assert "Today is an exercise day." in text
        assert "Time for today's exercises." in text  # nothing logged yet
        from spinestab.care.i18n import Translator

        t = Translator("en")
        entry = next(d for d in plan["schedule"] if d["weekday"] == day.weekday())
        for exercise in entry["exercises"]:
            assert t(f"ex.{exercise}.name") in text
        logged_ids = re.findall(r'name="exercise" value="([^"]+)"', page.text)
        first = logged_ids[0]
        saved = pa.post(
            "/today/sessions",
            data={
                "date": day.isoformat(),
                "exercise": logged_ids,
                f"done.{first}": "1",
                f"sets.{first}": "2",
                f"pain_during.{first}": "7",
                f"effort.{first}": "5",
                "csrf_token": _csrf(page.text),
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303 and saved.headers["location"].startswith("/today?logged=")
        assert "Time for today's exercises." not in html.unescape(pa.get("/today").text)
        # a rest day asks for no session
        rest = _latest_day(plan, session=False, on_or_before=day + dt.timedelta(days=6))
        monkeypatch.setattr(patient_pages, "_today", lambda: rest)
        text = html.unescape(pa.get("/today").text)
        assert "Today is a rest day." in text and "Time for today's exercises." not in text
    sessions = doc.get("/api/v1/patients/P-A").json()["sessions"]
    rows = [(s["exercise"], s["done"], s["sets"], s["pain_during"], s["effort"]) for s in sessions]
    assert (first, True, 2, 7, 5) in rows
    # pain 7 during is in the red zone (> 5): on the worklist
    worklist = doc.get("/worklist").text
    pain = worklist.split('id="wl-pain"', 1)[1].split("</section>", 1)[0]
    assert "P-A" in pain


def test_blocked_patient_sees_actions_not_exercises(doc, app):
    _planned(doc)
    with TestClient(app) as pa:
        pa.headers["X-CSRF-Token"] = login(pa, "pa")
        screen = {
            "instrument": "redflags",
            "date": "2026-06-01",
            "answers": {"saddle_numbness": True},
        }
        assert pa.post("/api/v1/me/forms", json=screen).status_code == 201
        page = pa.get("/today")
        assert "Log your session" not in page.text and "exercise" in page.text.lower()
        assert "urgency-emergency" in page.text or "urgency-same_day" in page.text
