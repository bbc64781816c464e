"""A request whose session is refreshed while another writer commits (SQLite, WAL).

Live streams write to the database many times a second. A request's transaction that read
the session and then wrote its refreshed ``last_seen_at`` failed with "database is locked"
(500) whenever another writer committed in between: 51 of 1,563 requests under the live
endpoint benchmark. The refresh is now written in a transaction of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from spinestab.service import accounts

from .conftest import login


def test_a_session_refresh_survives_a_concurrent_commit(app, monkeypatch, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the stale snapshot is SQLite's (PostgreSQL waits for the row lock)")
    state = app.state.spinestab
    state.session_policy = dataclasses.replace(
        state.session_policy, touch_every=dt.timedelta(0)
    )  # every request refreshes
    other = state.sessions.kw["bind"]
    original = accounts._read_session
    commits = []

    def read_then_another_writer_commits(connection, session_id):
        found = original(connection, session_id)  # read; last_seen_at to be written next
        with other.connect() as conn:  # e.g. a live step of another patient
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor, action, entity, outcome) "
                    "VALUES (CURRENT_TIMESTAMP, 'other', 'create', 'x', 'ok')"
                )
            )
            conn.commit()
        commits.append(1)
        return found

    with TestClient(app) as client:
        login(client, "pa")
        monkeypatch.setattr(accounts, "_read_session", read_then_another_writer_commits)
        for _ in range(3):
            response = client.get("/api/v1/me/stream")
            assert response.status_code == 200, response.text
    assert len(commits) == 3
