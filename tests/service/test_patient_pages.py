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


# What a patient is told after positive red-flag answers (the urgencies and whether the
# exercises stop are those of src/spinestab/clinical/data/redflags.yaml, from
# CLINICAL_LOGIC.md §3: any CES item -> emergency, blocks; a history of cancer alone ->
# urgent, blocks; a single malignancy feature such as unremitting night pain -> routine).
CLINICIAN_WORDS = ("MRI", "GIRFT", "safety-net card", "referral", "pathway", "cauda equina")


def test_patient_form_check_gives_the_patient_words_not_the_clinicians(pa):
    ces = {"date": "2026-05-01", "item.saddle_numbness": "1"}
    partial = pa.post("/forms/redflags/check", data=ces).text
    assert "Go to the emergency department now." in partial
    assert "Do not do your exercises until you have been checked." in partial
    assert not [w for w in CLINICIAN_WORDS if w.lower() in partial.lower()]
    cancer = pa.post(
        "/forms/redflags/check", data={"date": "2026-05-01", "item.cancer_history": "1"}
    )
    assert "check by a doctor within a week" in cancer.text
    assert "Do not do your exercises" in cancer.text
    assert "NICE" not in cancer.text and "2-week-wait" not in cancer.text
    night = {"date": "2026-05-01", "item.night_pain_unremitting": "1"}
    routine = pa.post("/forms/redflags/check", data=night).text
    assert "at your next appointment" in routine and "carry on with your exercises" in routine
    assert "IFOMPT" not in routine


def test_clinician_form_check_keeps_the_clinical_action(client):
    client.headers["X-CSRF-Token"] = login(client, "doc")
    ces = {"date": "2026-05-01", "item.saddle_numbness": "1"}
    partial = client.post("/patients/P-A/forms/redflags/check", data=ces).text
    # the catalogue's clinician action (redflags.yaml), with the imaging standard it names
    assert "Emergency MRI (GIRFT/RCR 2023" in partial and "safety-net card" in partial
    assert "Do not do your exercises until you have been checked." not in partial


def test_me_forms_api_answers_red_flags_in_the_patients_words(pa):
    screen = form_json("redflags", "2026-05-01", {"saddle_numbness": True, "cancer_history": True})
    saved = pa.post(
        "/api/v1/me/forms", content=screen, headers={"content-type": "application/json"}
    )
    assert saved.status_code == 201, saved.text
    body = saved.json()
    texts = [a["action"] for a in body["actions"] + body["open_red_flags"]]
    assert texts and not [t for t in texts for w in CLINICIAN_WORDS if w in t]
    by_urgency = {a["urgency"]: a["action"] for a in body["actions"]}
    assert by_urgency["emergency"].startswith("Go to the emergency department now.")
    assert body["blocked_plans"] == [] and all(a["blocks_exercise"] for a in body["actions"])
    german = pa.post(
        "/api/v1/me/forms",
        content=form_json("redflags", "2026-05-02", {"fever_or_rigors": True}),
        headers={"content-type": "application/json", "accept-language": "de"},
    )
    action = german.json()["actions"][0]
    assert action["urgency"] == "same_day"
    assert action["action"].startswith("Holen Sie sich heute ärztliche Hilfe")
    assert "Notaufnahme" in action["action"]


def test_saving_a_blocking_red_flag_form_leads_to_what_to_do(pa):
    ces = {"date": "2026-05-01", "item.saddle_numbness": "1"}
    saved = pa.post("/forms/redflags", data=ces, follow_redirects=False)
    assert saved.headers["location"] == "/today?saved=redflags"
    today = pa.get(saved.headers["location"]).text
    assert "Your answers are saved" in today and "emergency department" in today
    assert not [w for w in CLINICIAN_WORDS if w.lower() in today.lower()]
    plan = pa.get("/api/v1/me/plan").json()
    assert plan["status"] == "blocked"
    assert [a["urgency"] for a in plan["actions"]] == ["emergency"]
    assert not [w for w in CLINICIAN_WORDS if w in plan["actions"][0]["text"]]
    assert "emergency department" in plan["actions"][0]["text"]
