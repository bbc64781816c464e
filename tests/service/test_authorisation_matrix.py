"""Authorisation matrix generated from the app's route table.

Every route x method x role (anonymous, clinician, admin, patient A, patient B) is called;
the expected answer follows from the route's ``Access`` guard. A route without exactly one
guard, a state change without the CSRF check, or a path parameter without a sample value
fails here, so a new route cannot skip authorisation.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from spinestab.service.routes import route_rows

from .conftest import PASSWORDS, form_json

#: State changes that cannot carry a session's CSRF token: logging in (see routers/auth).
CSRF_EXEMPT = {("POST", "/api/v1/auth/login"), ("POST", "/login")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ROLES = {"doc": "clinician", "adm": "admin", "pa": "patient", "pb": "patient"}
#: Text that only patient P-B's data contains (a form stored for P-B only).
P_B_MARKER = "2026-03-03"


@pytest.fixture
def matrix_app(app):
    """The app with one stored form for P-B (so a leak of P-B's data would show)."""
    with TestClient(app) as client:
        csrf = _login(client, "doc")
        response = client.post(
            "/api/v1/patients/P-B/forms",
            content=form_json("nrs", P_B_MARKER, {"pain": 7}),
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 201, response.text
    return app


def _login(client, username):
    response = client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def _sample_path(path: str, *, viewer: str | None) -> str:
    """Fill path parameters: records of *another* patient than the viewer where one exists."""
    other = "P-A" if viewer == "pb" else "P-B"
    samples = {
        "{pseudonym}": other,
        "{job_id}": "00000000-0000-0000-0000-000000000000",
        "{version}": "1",
        "{code}": "de",
        "{instrument}": "nrs",
        "{study}": "1",
        "{id}": "1",
        "{file_id}": "1",
    }
    for name, value in samples.items():
        path = path.replace(name, value)
    assert "{" not in path, f"add a sample value for the path parameter in {path}"
    return path


def _call(client, method, path, csrf):
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if method in UNSAFE:
        headers["content-type"] = "application/json"
        return client.request(
            method, path, content=json.dumps({}), headers=headers, follow_redirects=False
        )
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_every_route_has_one_guard_and_csrf_on_state_changes(app):
    rows = route_rows(app)
    assert len(rows) >= 20
    for row in rows:
        assert len(row.guards) == 1, f"{row.method} {row.path} needs exactly one Access guard"
        if row.method in UNSAFE and (row.method, row.path) not in CSRF_EXEMPT:
            assert row.csrf_checked, f"{row.method} {row.path} has no CSRF check"
    exempt = {(r.method, r.path) for r in rows if r.method in UNSAFE and not r.csrf_checked}
    assert exempt == CSRF_EXEMPT


def test_matrix(matrix_app):
    rows = [r for r in route_rows(matrix_app) if (r.method, r.path) != ("POST", "/logout")]
    rows += [r for r in route_rows(matrix_app) if (r.method, r.path) == ("POST", "/logout")]
    checked = 0
    for row in rows:
        guard = row.guards[0]
        api = row.path.startswith("/api/")
        # Anonymous.
        with TestClient(matrix_app) as anonymous:
            response = _call(anonymous, row.method, _sample_path(row.path, viewer=None), None)
            where = f"anonymous {row.method} {row.path}"
            if guard.public:
                assert response.status_code not in (401, 403), where
            elif api or row.method in UNSAFE:
                assert response.status_code == 401, where
            else:
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
        for username, role in ROLES.items():
            with TestClient(matrix_app) as client:
                csrf = _login(client, username)
                path = _sample_path(row.path, viewer=username)
                where = f"{username} ({role}) {row.method} {path}"
                allowed = guard.public or role in guard.roles
                if row.method in UNSAFE and (row.method, row.path) not in CSRF_EXEMPT:
                    without = _call(client, row.method, path, None)
                    assert without.status_code in (401, 403), where + " without CSRF"
                    if allowed:
                        assert without.status_code == 403, where + " without CSRF"
                response = _call(client, row.method, path, csrf)
                if allowed:
                    assert response.status_code not in (401, 403), where
                else:
                    assert response.status_code in (403, 404), where
                if role == "patient" or not allowed:
                    # Never another patient's data.
                    assert P_B_MARKER not in response.text or username == "pb", where
                checked += 1
    assert checked >= 4 * len(rows)


def test_patient_sees_only_own_record_through_me_routes(matrix_app):
    me_routes = [
        r
        for r in route_rows(matrix_app)
        if r.method == "GET"
        and (r.path.startswith("/api/v1/me") or r.path in ("/today", "/progress", "/forms"))
    ]
    for row in me_routes:
        with TestClient(matrix_app) as client:
            csrf = _login(client, "pa")
            response = client.get(row.path)
            assert response.status_code == 200, row.path
            # The page carries the session's random CSRF token, which can contain "P-B".
            assert row.path.startswith("/api/") or csrf in response.text, row.path
            text = response.text.replace(csrf, "")
            assert "P-B" not in text and P_B_MARKER not in text, row.path
