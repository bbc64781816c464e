"""History, plans, approval and the patient's own plan, sessions and movement over the API.

The truths: the demo patient's files (history.json, forms, sessions.csv, daily.csv), the
plan the record stores (``spinestab plan --patient`` makes the same from the same files),
and the red-flag rule (a positive cauda-equina screen blocks at once).
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinestab.record import Actor

from .conftest import login

JSON = {"content-type": "application/json"}
DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"
FHR = DEMO / "functional_high_risk"


@pytest.fixture
def doc(client):
    client.headers["X-CSRF-Token"] = login(client, "doc")
    return client


@pytest.fixture
def pa(app):
    with TestClient(app) as client:
        client.headers["X-CSRF-Token"] = login(client, "pa")
        yield client


def _post(client, path, body):
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, content=text, headers=JSON)


def _intake(doc, pseudonym="P-A", folder=FHR):
    """History and every form of a demo patient, through the API."""
    history = json.loads((folder / "history.json").read_text())
    assert _post(doc, f"/api/v1/patients/{pseudonym}/history", history).status_code == 201
    for name in ("redflags", "nrs", "odi", "psfs", "startback"):
        path = folder / f"{name}.json"
        if path.exists():
            response = _post(doc, f"/api/v1/patients/{pseudonym}/forms", path.read_text())
            assert response.status_code == 201, response.text


def _sessions(rows):
    """sessions.csv rows as the JSON the progress format takes."""
    out = []
    for r in rows:
        out.append(
            {
                "date": r["date"],
                "exercise": r["exercise"],
                "done": r["done"] == "yes",
                "sets": int(r["sets"]),
                "pain_before": int(r["pain_before"]),
                "pain_during": int(r["pain_during"]),
                "pain_next_morning": int(r["pain_next_morning"]),
                "effort": int(r["effort"]),
                "form_ok": r["form_ok"] == "yes",
            }
        )
    return out


def test_history_is_stored_as_versions_and_bad_history_is_refused(doc):
    history = json.loads((FHR / "history.json").read_text())
    first = _post(doc, "/api/v1/patients/P-A/history", history)
    assert first.status_code == 201 and first.json()["version"] == 1
    assert first.json()["data"] == history
    again = _post(doc, "/api/v1/patients/P-A/history", history)
    assert again.status_code == 409 and "already stored" in again.json()["detail"]
    typo = _post(doc, "/api/v1/patients/P-A/history", {"agee": 40})
    assert typo.status_code == 422 and "unknown history field" in typo.json()["detail"]
    out_of_range = _post(doc, "/api/v1/patients/P-A/history", {"age": 300})
    assert out_of_range.status_code == 422
    assert _post(doc, "/api/v1/patients/P-404/history", history).status_code == 404
    record = doc.get("/api/v1/patients/P-A").json()
    assert record["history"]["data"] == history and record["history_versions"] == 1


def test_plan_made_approved_and_served_to_the_patient(doc, pa, app):
    assert pa.get("/api/v1/me/plan").json()["status"] == "none"
    assert pa.get("/api/v1/me/plan").json()["exercises"] == []
    _intake(doc)
    assert doc.get("/api/v1/patients/P-A/plans/current").status_code == 404
    made = doc.post("/api/v1/patients/P-A/plans")
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["version"], body["status"]) == (1, "draft")
    assert body["track"] == body["plan"]["track"]
    # a draft is not the patient's plan
    assert pa.get("/api/v1/me/plan").json()["status"] == "none"
    approved = doc.post("/api/v1/patients/P-A/plans/1/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert approved.json()["approved_by"] == "doc"
    current = doc.get("/api/v1/patients/P-A/plans/current").json()
    mine = pa.get("/api/v1/me/plan").json()
    assert mine["status"] == "active" and mine["version"] == 1
    assert mine["exercises"] and mine["exercises"] == current["plan"]["exercises"]
    # the same as the record's own plan.json of that version
    with app.state.spinestab.record.unit_of_work() as uow:
        from spinestab.record import plan_files

        files = plan_files(uow, Actor(username="t", role="clinician"), "P-A", version=1)
    assert mine == json.loads(files["plan.json"])
    # approving again is a conflict; the other patient's plan is not there
    assert doc.post("/api/v1/patients/P-A/plans/1/approve").status_code == 409
    assert doc.post("/api/v1/patients/P-A/plans/7/approve").status_code == 404
    assert doc.get("/api/v1/patients/P-B/plans/current").status_code == 404


def test_sessions_logged_by_the_patient_then_a_progression_approved(doc, pa):
    _intake(doc)
    doc.post("/api/v1/patients/P-A/plans")
    doc.post("/api/v1/patients/P-A/plans/1/approve")
    plan = pa.get("/api/v1/me/plan").json()
    with (FHR / "sessions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = {ex["id"] for ex in plan["exercises"]}
    rows = [r for r in rows if r["exercise"] in ids]
    start = plan["programme_start"]
    first = [r for r in rows if r["date"] == start] or rows[:4]
    logged = _post(pa, "/api/v1/me/sessions", _sessions(first))
    assert logged.status_code == 201, logged.text
    assert logged.json() == {
        "plan_version": 1,
        "stored": len(first),
        "already_stored": 0,
        "outcomes_stored": 0,
    }
    assert _post(pa, "/api/v1/me/sessions", _sessions(first)).status_code == 409
    bad = _post(pa, "/api/v1/me/sessions", [{"date": start, "exercise": "flying", "done": True}])
    assert bad.status_code == 422 and "not in the active plan" in bad.json()["detail"]
    record = doc.get("/api/v1/patients/P-A").json()
    assert len(record["sessions"]) == len(first)
    assert {s["created_by"] for s in record["sessions"]} == {"pa"}
    proposal = doc.post("/api/v1/patients/P-A/plans/progress")
    assert proposal.status_code == 201, proposal.text
    assert proposal.json()["status"] == "draft" and proposal.json()["version"] == 2
    # the patient keeps version 1 until the clinician approves version 2
    assert pa.get("/api/v1/me/plan").json()["version"] == 1
    assert doc.post("/api/v1/patients/P-A/plans/2/approve").status_code == 200
    assert pa.get("/api/v1/me/plan").json()["version"] == 2
    versions = {p["version"]: p["status"] for p in doc.get("/api/v1/patients/P-A").json()["plans"]}
    assert versions == {1: "superseded", 2: "active"}
    # the review page words each decision: the exercise's name, the stage and the dose
    # before and after (truth: the two versions' plan.json and the care catalogue's words)
    page = doc.get("/patients/P-A/plans/2")
    assert page.status_code == 200
    changes = page.text.split('id="changes-h"')[1].split("</ul>")[0]
    decisions = doc.get("/api/v1/patients/P-A/plans/2").json()["plan"]["decisions"]
    assert decisions
    rows = changes.split("<li>")[1:]
    assert len(rows) == len(decisions)
    labels = {"keep": "unchanged", "level": "next stage", "dose": "dose up"}
    for d, row in zip(decisions, rows, strict=True):
        assert f"<strong>{d['exercise']}</strong>" not in row  # a name, not the id
        kind = "keep" if d["decision"] == "keep" or d["change"] == "none" else d["change"]
        if d["decision"] != "down":
            assert f">{labels.get(kind, labels['dose'])}</span>" in row
        assert f"Stage {d['to']['stage']}" in row
        dose = d["to"]["dose"]
        if dose.get("type") == "hold":
            assert f"Hold {dose['hold_s']} seconds" in row
        elif dose.get("type") == "reps":
            assert f"{dose['reps']} repetitions" in row
        for reason in d["reasons"]:
            assert reason in html.unescape(row)


def test_a_red_flag_from_the_patient_blocks_the_plan_at_once(doc, pa):
    _intake(doc)
    doc.post("/api/v1/patients/P-A/plans")
    doc.post("/api/v1/patients/P-A/plans/1/approve")
    assert pa.get("/api/v1/me/plan").json()["status"] == "active"
    screen = {
        "instrument": "redflags",
        "date": "2026-06-01",
        "answers": {"saddle_numbness": True, "bladder_change": True},
    }
    saved = _post(pa, "/api/v1/me/forms", screen)
    assert saved.status_code == 201, saved.text
    assert saved.json()["blocked_plans"] == [1]
    mine = pa.get("/api/v1/me/plan").json()
    assert mine["status"] == "blocked" and mine["exercises"] == []
    assert any(a["urgency"] == "emergency" for a in mine["actions"])
    assert all(a["text"] for a in mine["actions"])
    # nothing can be logged or progressed against a blocked plan
    assert _post(pa, "/api/v1/me/sessions", []).status_code == 409
    assert doc.post("/api/v1/patients/P-A/plans/progress").status_code == 409
    # a new plan is made blocked and cannot be approved
    remade = doc.post("/api/v1/patients/P-A/plans").json()
    assert remade["status"] == "blocked"
    assert doc.post(f"/api/v1/patients/P-A/plans/{remade['version']}/approve").status_code == 409


def test_movement_summary_is_the_stored_daily_table(doc, pa, app):
    _intake(doc)
    doc.post("/api/v1/patients/P-A/plans")
    doc.post("/api/v1/patients/P-A/plans/1/approve")
    from spinestab.record import save_wearable

    with app.state.spinestab.record.unit_of_work() as uow:
        save_wearable(uow, Actor(username="t", role="clinician"), "P-A", FHR / "daily.csv")
    movement = pa.get("/api/v1/me/movement")
    assert movement.status_code == 200
    body = movement.json()
    with (FHR / "daily.csv").open(newline="") as handle:
        daily = list(csv.DictReader(handle))
    assert [d["date"] for d in body["days"]] == [d["date"] for d in daily]
    assert [d["steps"] for d in body["days"]] == [float(d["steps"]) for d in daily]
    plan = pa.get("/api/v1/me/plan").json()
    assert body["goals"]["walking"] == plan["walking"]
    assert body["goals"]["movement_breaks"] == plan["movement_breaks"]
    assert body["adherence"]["done_sessions"] == 0


def test_worklist_lists_drafts_red_flags_and_silence(doc):
    _intake(doc)
    doc.post("/api/v1/patients/P-A/plans")
    page = doc.get("/worklist")
    assert page.status_code == 200
    section = page.text.split('id="wl-approve"', 1)[1].split("</section>", 1)[0]
    assert "P-A" in section
    doc.post("/api/v1/patients/P-A/plans/1/approve")
    page = doc.get("/worklist?days=1")
    section = page.text.split('id="wl-approve"', 1)[1].split("</section>", 1)[0]
    assert "P-A" not in section
    # the demo programme started in 2024: no session since, so it stopped logging
    stopped = page.text.split('id="wl-stopped"', 1)[1].split("</section>", 1)[0]
    assert "P-A" in stopped
    due = page.text.split('id="wl-due"', 1)[1].split("</section>", 1)[0]
    assert "P-A" in due  # week 6 began long ago without a follow-up ODI
