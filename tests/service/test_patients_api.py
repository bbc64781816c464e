"""The clinician API on the record: patients and forms (scores checked by hand)."""

from __future__ import annotations

import json

import pytest

from .conftest import demo_form, form_json, login

JSON = {"content-type": "application/json"}


@pytest.fixture
def doc(client):
    csrf = login(client, "doc")
    client.headers["X-CSRF-Token"] = csrf
    return client


def _post_form(client, pseudonym, text):
    return client.post(f"/api/v1/patients/{pseudonym}/forms", content=text, headers=JSON)


def test_create_list_and_show_patients(doc):
    created = doc.post(
        "/api/v1/patients", json={"pseudonym": "P-77", "sex": "male", "birth_year": 1961}
    )
    assert created.status_code == 201
    assert created.json() == {"pseudonym": "P-77", "sex": "male", "birth_year": 1961}
    assert [p["pseudonym"] for p in doc.get("/api/v1/patients").json()] == ["P-77", "P-A", "P-B"]
    assert [p["pseudonym"] for p in doc.get("/api/v1/patients?q=77").json()] == ["P-77"]
    record = doc.get("/api/v1/patients/P-77").json()
    for key in (
        "patient",
        "assessments",
        "history",
        "imaging",
        "instability",
        "wearable",
        "plans",
        "sessions",
        "open_red_flags",
    ):
        assert key in record
    assert record["patient"]["birth_year"] == 1961
    assert doc.get("/api/v1/patients/P-404").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"pseudonym": "P-A"}, 409, "patient already exists"),
        ({"pseudonym": "P-9", "birth_year": 1800}, 422, "implausible birth year"),
        ({"pseudonym": "P-9", "sex": "robot"}, 422, "sex"),
        ({"sex": "male"}, 422, "pseudonym"),
    ],
)
def test_bad_patients_are_refused(doc, body, status, message):
    response = doc.post("/api/v1/patients", json=body)
    assert response.status_code == status
    assert message in json.dumps(response.json())
    assert "P-9" not in {p["pseudonym"] for p in doc.get("/api/v1/patients").json()}


def test_form_is_scored_as_the_cli_scores_it(doc):
    # ODI demo: sections 3,1,3,2,3,2,2,-,2,2 -> 20 of 45 (9 answered) = 44.4 % (hand count).
    response = _post_form(doc, "P-A", demo_form("odi.json"))
    assert response.status_code == 201
    body = response.json()
    assert (body["instrument"], body["score"], body["max"]) == ("odi", 20, 45)
    assert body["percent"] == pytest.approx(100 * 20 / 45)
    stored = doc.get("/api/v1/patients/P-A").json()["assessments"]
    assert [(a["instrument"], a["score"]["score"]) for a in stored] == [("odi", 20)]


def test_fhir_questionnaire_response_is_accepted(doc):
    items = [{"linkId": f"s{i}", "answer": [{"valueInteger": 2}]} for i in range(1, 11)]
    qr = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/97908-8",
        "authored": "2026-03-04T10:00:00+01:00",
        "item": items,
    }
    response = _post_form(doc, "P-A", json.dumps(qr))
    assert response.status_code == 201
    assert response.json()["percent"] == pytest.approx(40.0)  # 20 / 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (form_json("odi", "2026-01-01", {"s1": 9}), "s1"),
        (form_json("nope", "2026-01-01", {}), "unknown instrument"),
        (form_json("nrs", "2999-01-01", {"pain": 3}), "future"),
        ('{"instrument": "nrs", "instrument": "odi"}', "duplicated item"),
        ("[" * 200 + "]" * 200, "nested too deeply"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_forms_get_the_cli_message_and_store_nothing(doc, text, message):
    response = _post_form(doc, "P-A", text)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert doc.get("/api/v1/patients/P-A").json()["assessments"] == []


def test_the_same_form_twice_is_refused(doc):
    assert _post_form(doc, "P-A", demo_form("nrs.json")).status_code == 201
    again = _post_form(doc, "P-A", demo_form("nrs.json"))
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert len(doc.get("/api/v1/patients/P-A").json()["assessments"]) == 1


def test_forms_for_an_unknown_patient_are_404(doc):
    assert _post_form(doc, "P-404", demo_form("nrs.json")).status_code == 404


def test_every_read_of_a_record_is_audited(doc, app):
    from sqlalchemy import select

    from spinestab.store import AuditEvent, session_scope

    doc.get("/api/v1/patients/P-A")
    doc.get("/patients/P-A")
    with session_scope(app.state.spinestab.sessions) as session:
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.entity == "record")
        ).all()
    assert [e.actor for e in reads] == ["doc", "doc"]
