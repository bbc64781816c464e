"""Authentication and session security (OWASP ASVS L2 points the issue names)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from spinestab.service import create_app
from spinestab.service.models import LoginAttempt, User, WebSession
from spinestab.service.security import keyed_hash
from spinestab.store import AuditEvent, session_scope

from .conftest import PASSWORDS, form_json, login, make_settings, seed


def test_login_sets_a_hardened_cookie_and_returns_the_csrf_token(client):
    response = client.post(
        "/api/v1/auth/login", json={"username": "doc", "password": PASSWORDS["doc"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "clinician" and len(body["csrf_token"]) >= 32
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP in tests; see the HTTPS test


def test_cookie_is_secure_with_host_prefix_behind_https(app):
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post(
            "/api/v1/auth/login", json={"username": "doc", "password": PASSWORDS["doc"]}
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-spinestab_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert client.get("/api/v1/patients").status_code == 200


def test_wrong_password_and_unknown_user_are_401_alike(client):
    wrong = client.post("/api/v1/auth/login", json={"username": "doc", "password": "x" * 14})
    unknown = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 14})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_unauthenticated_api_is_401_and_pages_redirect_to_login(client):
    assert client.get("/api/v1/patients").status_code == 401
    page = client.get("/patients?q=x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fpatients%3Fq%3Dx"


def test_new_session_id_at_every_login_and_logout_ends_it(client, app):
    login(client, "doc")
    first = client.cookies.get("spinestab_session")
    csrf = login(client, "doc")
    second = client.cookies.get("spinestab_session")
    assert first and second and first != second
    assert client.post("/api/v1/auth/logout").status_code == 403  # CSRF needed
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("spinestab_session", second)
    assert client.get("/api/v1/patients").status_code == 401
    with session_scope(app.state.spinestab.sessions) as session:
        stored = session.scalars(select(WebSession.id)).all()
    # Only keyed hashes are stored, never the cookie's token.
    assert first not in stored and second not in stored
    assert keyed_hash(app.state.spinestab.secret, first) in stored


def test_csrf_token_required_for_every_api_state_change(client):
    csrf = login(client, "doc")
    assert client.post("/api/v1/patients", json={"pseudonym": "P-C"}).status_code == 403
    bad = client.post(
        "/api/v1/patients", json={"pseudonym": "P-C"}, headers={"X-CSRF-Token": "nope"}
    )
    assert bad.status_code == 403
    other_origin = client.post(
        "/api/v1/patients",
        json={"pseudonym": "P-C"},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert other_origin.status_code == 403
    ok = client.post("/api/v1/patients", json={"pseudonym": "P-C"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_csrf_token_belongs_to_its_session(client, app):
    other = TestClient(app)
    other_csrf = login(other, "doc")
    login(client, "doc")
    response = client.post(
        "/api/v1/patients", json={"pseudonym": "P-C"}, headers={"X-CSRF-Token": other_csrf}
    )
    assert response.status_code == 403


def _expire(app, **values):
    with session_scope(app.state.spinestab.sessions) as session:
        session.execute(update(WebSession).values(**values))


def test_idle_timeout(client, app):
    login(client, "doc")
    _expire(app, last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31))
    assert client.get("/api/v1/patients").status_code == 401
    with session_scope(app.state.spinestab.sessions) as session:
        assert session.scalars(select(WebSession)).all() == []  # deleted, not just refused


def test_activity_keeps_a_session_alive_until_the_absolute_timeout(client, app):
    login(client, "doc")
    _expire(app, last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=29))
    assert client.get("/api/v1/patients").status_code == 200
    _expire(app, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert client.get("/api/v1/patients").status_code == 401


def _attempt(client, username, password, address="testclient"):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_account_locked_after_five_failures_even_for_the_right_password(client, app):
    for _ in range(5):
        assert _attempt(client, "doc", "wrong password!").status_code == 401
    locked = _attempt(client, "doc", PASSWORDS["doc"])
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    # Another account from another address still works.
    other = TestClient(app, client=("10.0.0.9", 5000))
    assert _attempt(other, "adm", PASSWORDS["adm"]).status_code == 200
    # After the lockout has passed, the right password works again.
    with session_scope(app.state.spinestab.sessions) as session:
        session.execute(
            update(LoginAttempt).values(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31))
        )
    assert _attempt(client, "doc", PASSWORDS["doc"]).status_code == 200


def test_address_locked_after_five_failures_across_accounts(app):
    attacker = TestClient(app, client=("10.0.0.66", 4000))
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert _attempt(attacker, name, "guess guess guess").status_code == 401
    assert _attempt(attacker, "pa", PASSWORDS["pa"]).status_code == 429
    elsewhere = TestClient(app, client=("10.0.0.67", 4000))
    assert _attempt(elsewhere, "pa", PASSWORDS["pa"]).status_code == 200


def test_failed_logins_are_audited_without_the_password(client, app):
    _attempt(client, "doc", "Secret-Guess-123")
    with session_scope(app.state.spinestab.sessions) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "login")).all()
    assert [(e.action, e.actor) for e in events] == [("refused", "doc")]
    assert "Secret-Guess" not in repr([e.detail for e in events])


def test_passwords_are_argon2id(app):
    with session_scope(app.state.spinestab.sessions) as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(p in h for h in hashes for p in PASSWORDS.values())


def test_security_headers_on_pages_and_api(client):
    for path in ("/login", "/api/v1/healthz", "/static/app.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    login(client, "doc")
    assert client.get("/api/v1/patients").headers["cache-control"] == "no-store"


def test_pages_carry_no_inline_script(client):
    login(client, "doc")
    for path in ("/login", "/worklist", "/patients", "/patients/P-A"):
        html = client.get(path).text
        assert "<script>" not in html and " on" + "click=" not in html
        for tag in html.split("<script")[1:]:
            assert 'src="/static/' in tag.split(">", 1)[0], path


def test_json_body_over_the_limit_is_413(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, max_json_kb=4))
    seed(app)
    with TestClient(app) as client:
        csrf = login(client, "doc")
        big = form_json("nrs", "2026-01-01", {"pain": 3, "x": "y" * 5000})
        response = client.post(
            "/api/v1/patients/P-A/forms",
            content=big,
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 413


def test_streamed_upload_over_the_limit_is_413(tmp_path, database_url, make_app):
    """A multipart body without Content-Length is counted as it streams: 413, not the
    parser's 400 (found by a spot check against spinestab serve: 700 MiB chunked)."""
    app = make_app(make_settings(tmp_path, database_url, max_upload_mb=1))
    seed(app)
    boundary = "spinestab-test"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        for _ in range(3):
            yield b"a" * (1 << 20)
        yield f"\r\n--{boundary}--\r\n".encode()

    with TestClient(app) as client:
        csrf = login(client, "doc")
        response = client.post(
            "/api/v1/patients/P-A/files?kind=wearable",
            content=body(),
            headers={
                "X-CSRF-Token": csrf,
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert response.status_code == 413, response.text
        assert "limit is 1 MiB" in response.text
        assert client.get("/api/v1/patients/P-A").status_code == 200  # the app goes on


def test_secret_key_created_once_with_mode_0600(tmp_path, database_url, make_app):
    settings = make_settings(tmp_path, database_url)
    first = make_app(settings).state.spinestab
    path = settings.data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) & 0o077 == 0
    second = make_app(settings).state.spinestab
    assert first.secret == second.secret and not first.secret_configured
    os.chmod(path, 0o644)
    with pytest.raises(Exception, match="readable by other users"):
        create_app(settings)


def test_configured_secret_must_be_long(tmp_path, database_url, make_app):
    with pytest.raises(Exception, match="secret key too short"):
        create_app(make_settings(tmp_path, database_url, secret_key="short"))
    state = make_app(make_settings(tmp_path, database_url, secret_key="k" * 40)).state.spinestab
    assert state.secret_configured and not (tmp_path / "data" / "secret_key").exists()


def test_access_log_names_route_templates_not_pseudonyms(client, caplog):
    login(client, "doc")
    with caplog.at_level(logging.INFO, logger="spinestab.service.access"):
        client.get("/api/v1/patients/P-A")
        client.get("/patients/P-A")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/v1/patients/{pseudonym}" in text
    assert "P-A" not in text


def test_logins_at_the_same_moment_all_succeed(app):
    """SQLite: a login read then wrote in one deferred transaction and failed with 'database
    is locked' when another login committed in between (the service benchmark's 50 clients
    logging in at once got 500s)."""
    import threading

    from fastapi.testclient import TestClient

    from spinestab.service.accounts import add_user
    from spinestab.store import session_scope

    state = app.state.spinestab
    with session_scope(state.sessions) as session:
        for i in range(12):
            add_user(
                session,
                f"burst{i:02d}",
                role="clinician",
                password="burst password 1",
                passwords=state.passwords,
            )
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def one(i: int) -> None:
        # One client per user, without its own lifespan: the app starts once (below), as
        # under uvicorn. Twelve lifespans would each dispose the engine on exit while the
        # other threads still hold its connections.
        client = TestClient(app)
        barrier.wait()
        response = client.post(
            "/api/v1/auth/login",
            json={"username": f"burst{i:02d}", "password": "burst password 1"},
        )
        statuses.append(response.status_code)
        assert client.get("/api/v1/auth/me").status_code == 200

    with TestClient(app):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 12
