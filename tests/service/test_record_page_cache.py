"""The record page kept by the record's revision: never stale, audited at every showing.

The truth for "not stale": after each kind of write the page shows what was written (the
form's date, the history's version, the upload's name, the plan and its approval, the
patient's own session and follow-up form, a red flag, a finished job's result, a write by
another process such as the CLI), on SQLite and PostgreSQL. The truth for the audit: the
rows a showing from the kept page writes are those the read that made it wrote, for the
user who asks. The truth for the per-request parts: each user sees their own name and CSRF
token in a page made for another.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import spinestab.record as record_services
from spinestab.record import Actor, open_record, save_form
from spinestab.service.accounts import add_user
from spinestab.store import session_scope
from spinestab.store.models import AuditEvent, Patient

from .conftest import login

JSON = {"content-type": "application/json"}
TESTS = Path(__file__).resolve().parents[1]
DEMO = TESTS.parent / "src" / "spinestab" / "data" / "demo_patients" / "functional_high_risk"


@pytest.fixture
def doc(client):
    client.headers["X-CSRF-Token"] = login(client, "doc")
    return client


@pytest.fixture
def reads(monkeypatch):
    """Count the record page's full reads (a kept page is shown without one)."""
    calls = []
    original = record_services.show_record

    def counted(*args, **kwargs):
        calls.append(args[2])
        return original(*args, **kwargs)

    monkeypatch.setattr(record_services, "show_record", counted)
    return calls


def _post(client, path, body):
    return client.post(path, content=json.dumps(body), headers=JSON)


def _page(client) -> str:
    response = client.get("/patients/P-A")
    assert response.status_code == 200
    return response.text


def _revision(app) -> int:
    with session_scope(app.state.spinestab.sessions) as session:
        return session.scalar(select(Patient.revision).where(Patient.pseudonym == "P-A"))


def _wait(client, job_id, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("job did not finish")


def test_the_page_is_kept_and_changes_after_every_kind_of_write(app, doc, reads, tmp_path):
    first = _page(doc)
    again = _page(doc)
    assert again == first and reads == ["P-A"]  # shown again from the kept page
    seen = [first]

    def changed(marker: str) -> str:
        page = _page(doc)
        assert marker in page and marker not in seen[-1], marker
        seen.append(page)
        assert _page(doc) == page  # and kept again at the new revision
        return page

    revision = _revision(app)
    # a clinician's form
    nrs = {"instrument": "nrs", "date": "2026-03-03", "answers": {"pain": 3}}
    assert _post(doc, "/api/v1/patients/P-A/forms", nrs).status_code == 201
    changed("2026-03-03")
    assert _revision(app) > revision
    # the history
    history = json.loads((DEMO / "history.json").read_text())
    assert _post(doc, "/api/v1/patients/P-A/history", history).status_code == 201
    changed("History version 1 of")
    # an upload
    cwa = TESTS / "data" / "wearable" / "ax6_sample.cwa"
    uploaded = doc.post(
        "/api/v1/patients/P-A/files",
        data={"kind": "wearable"},
        files={"file": ("ax6_sample.cwa", cwa.read_bytes(), "application/octet-stream")},
    )
    assert uploaded.status_code == 201
    changed("ax6_sample.cwa")
    # a job finishing: its result is written by the worker thread through the record
    started = _post(
        doc,
        "/api/v1/patients/P-A/analyses",
        {"kind": "wearable", "files": [uploaded.json()["id"]], "options": {}},
    )
    assert started.status_code == 202
    job = _wait(doc, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    changed('id="wea-')
    # a plan made, then approved
    for name in ("redflags", "odi", "psfs", "startback"):
        if (DEMO / f"{name}.json").exists():
            response = doc.post(
                "/api/v1/patients/P-A/forms",
                content=(DEMO / f"{name}.json").read_text(),
                headers=JSON,
            )
            assert response.status_code == 201, response.text
    before_plan = _page(doc)
    assert doc.post("/api/v1/patients/P-A/plans").status_code == 201
    made = _page(doc)
    assert made != before_plan and "/patients/P-A/plans/1" in made
    seen.append(made)
    assert doc.post("/api/v1/patients/P-A/plans/1/approve").status_code == 200
    approved = _page(doc)
    assert approved != made
    seen.append(approved)
    # the patient's own session and follow-up form
    with TestClient(app) as pa:
        pa.headers["X-CSRF-Token"] = login(pa, "pa")
        plan = pa.get("/api/v1/me/plan").json()
        exercise = plan["exercises"][0]["id"]
        session = [{"date": "2026-04-02", "exercise": exercise, "done": True, "sets": 2}]
        assert _post(pa, "/api/v1/me/sessions", session).status_code == 201
        changed("2026-04-02")
        follow_up = {"instrument": "nrs", "date": "2026-04-09", "answers": {"pain": 2}}
        assert _post(pa, "/api/v1/me/forms", follow_up).status_code == 201
        changed("2026-04-09")
        # a red flag the patient reports
        screen = {
            "instrument": "redflags",
            "date": "2026-04-10",
            "answers": {"saddle_numbness": True},
        }
        assert _post(pa, "/api/v1/me/forms", screen).status_code == 201
        flagged = changed("2026-04-10")
        flags = flagged.split('id="flags"', 1)[1].split("</section>", 1)[0]
        assert "urgency" in flags or "saddle" in flags.lower(), flags[:2000]
    # a write by another process (the CLI, a job worker elsewhere) on the same database
    url = app.state.spinestab.settings.database_url
    with open_record(url=url) as other, other.unit_of_work() as uow:
        clinician = Actor(username="cli", role="clinician")
        form = {"instrument": "nrs", "date": "2026-05-05", "answers": {"pain": 1}}
        save_form(uow, clinician, "P-A", form, source="cli")
    changed("2026-05-05")
    # each page was read once per revision (the pages around the plan's forms aside)
    assert len(reads) <= len(seen) + 2


def _read_rows(app, username):
    with session_scope(app.state.spinestab.sessions) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor == username, AuditEvent.action == "read")
            .order_by(AuditEvent.id)
        ).all()
        return [(r.entity, r.entity_id, r.patient_id, r.detail, r.role, r.outcome) for r in rows]


def test_every_showing_is_audited_as_the_read_it_shows(app, client, reads):
    state = app.state.spinestab
    with session_scope(state.sessions) as session:
        add_user(
            session,
            "doc2",
            role="clinician",
            password="second clinician",
            passwords=state.passwords,
        )
    doc_token = login(client, "doc")
    made = client.get("/patients/P-A").text  # made by doc's read
    with TestClient(app) as other:
        other_token = login(other, "doc2", "second clinician")
        shown = other.get("/patients/P-A").text  # shown from the kept page
        assert reads == ["P-A"]
        # doc2's rows are doc's, row for row, in doc2's name
        assert _read_rows(app, "doc2") == _read_rows(app, "doc")
        assert len(_read_rows(app, "doc")) == 2  # the record and its uploads
        # each user's own name and CSRF token; nothing of the other's
        assert "(doc2)" in shown and "(doc)" not in shown
        assert other_token in shown and doc_token not in shown
        assert doc_token in made and other_token not in made
        mine = shown.replace("(doc2)", "").replace(other_token, "")
        assert mine == made.replace("(doc)", "").replace(doc_token, "")
        # a refused showing is audited as refused and shows nothing
        assert other.get("/patients/P-404").status_code == 404
    with session_scope(state.sessions) as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.actor == "doc2", AuditEvent.outcome == "refused")
        ).all()
        assert [(r.action, r.entity) for r in refused] == [("read", "record")]


def test_a_page_with_a_notice_is_never_kept(app, doc, reads):
    notice = doc.get("/patients/P-A?notice=record.uploaded")
    assert notice.status_code == 200
    plain = _page(doc)
    assert plain != notice.text
    assert _page(doc) == plain
    assert reads == ["P-A", "P-A"]  # the notice's page was read, not kept; the plain one once
