"""Fixtures for the web app: an app on a fresh store (SQLite and PostgreSQL), accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spinestab.record import Actor, UnitOfWork, create_patient
from spinestab.service import create_app
from spinestab.service.accounts import add_user
from spinestab.service.settings import ServiceSettings
from spinestab.store import session_scope

DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo"

PASSWORDS = {
    "doc": "clinician pass 1",
    "adm": "administrator 1",
    "pa": "patient a password",
    "pb": "patient b password",
}


def make_settings(tmp_path: Path, database_url: str, **overrides) -> ServiceSettings:
    values = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "job_workers": 1,
        "live_sse_seconds": 1.0,  # a prompts event stream ends (the matrix calls it too)
        "live_poll_seconds": 0.2,
    }
    return ServiceSettings(**(values | overrides))


def seed(app) -> None:
    state = app.state.spinestab
    with session_scope(state.sessions) as session:
        for pseudonym in ("P-A", "P-B"):
            create_patient(
                UnitOfWork(session),
                Actor(username="seed", role="clinician"),
                pseudonym,
                sex="female",
                birth_year=1970,
            )
        session.flush()
        for username, role, patient in (
            ("doc", "clinician", None),
            ("adm", "admin", None),
            ("pa", "patient", "P-A"),
            ("pb", "patient", "P-B"),
        ):
            add_user(
                session,
                username,
                role=role,
                password=PASSWORDS[username],
                patient=patient,
                passwords=state.passwords,
                actor="seed",
            )


@pytest.fixture
def service_settings(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    return make_settings(tmp_path, database_url)


@pytest.fixture
def make_app():
    """create_app, with every engine disposed after the test."""
    made = []

    def _make(settings, **kwargs):
        made.append(create_app(settings, **kwargs))
        return made[-1]

    yield _make
    for application in made:
        application.state.spinestab.sessions.kw["bind"].dispose()


@pytest.fixture
def app(service_settings, make_app):
    application = make_app(service_settings)
    seed(application)
    return application


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str | None = None) -> str:
    """Log in through the API; return the CSRF token (the cookie stays in the client)."""
    response = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password or PASSWORDS[username]},
    )
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def demo_form(name: str) -> str:
    return (DEMO / name).read_text(encoding="utf-8")


def form_json(instrument: str, date: str, answers) -> str:
    return json.dumps({"instrument": instrument, "date": date, "answers": answers})
