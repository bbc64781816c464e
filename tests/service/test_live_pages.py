"""The patient's "keep moving" page (issue 13.3): why prompts are on or off, snooze."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .conftest import login
from .live_helpers import _batches, _post, approve_demo_plan, scripted_stream


@pytest.fixture
def day():
    return scripted_stream()


def _listed(page: str) -> int:
    """Prompts listed on the page (server-rendered)."""
    listed = page.split('id="prompt-list"')[1].split("</ul>")[0]
    return listed.count("</time> · Time to keep moving: get up and move for 1 min.</li>")


def _page_login(client, username):
    login(client, username)
    return client.get("/moving")


def test_without_an_approved_plan_the_page_says_there_are_no_prompts(app):
    with TestClient(app) as client:
        page = _page_login(client, "pb")
        assert page.status_code == 200
        assert "No prompts" in page.text and "not approved a plan yet" in page.text
        assert "sit up straight" not in page.text.lower()
        assert 'action="/moving/snooze"' not in page.text  # nothing to snooze


def test_with_a_plan_the_page_shows_its_goal_and_snooze_works(app, tmp_path, day):
    approve_demo_plan(app, "P-A", "low_risk_self_management", tmp_path)
    x, t0 = day
    with TestClient(app) as client:
        page = _page_login(client, "pa")
        assert "Prompts are on" in page.text
        assert "move for 1 min after 30 min of sitting or standing still" in page.text
        assert "No prompts between 22:00 and 07:00" in page.text
        assert 'src="/static/moving.js"' in page.text and "<script>" not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        # without the form's CSRF field: refused
        r = client.post("/moving/snooze", data={"minutes": "15"}, follow_redirects=False)
        assert r.status_code == 403
        r = client.post(
            "/moving/snooze", data={"minutes": "15", "csrf_token": csrf}, follow_redirects=False
        )
        assert r.status_code == 303
        page = client.get(r.headers["location"])
        assert "Prompts are snoozed until" in page.text
        # prompts while snoozed are kept, not listed; after the snooze ends they are
        api_csrf = login(client, "pa")
        for b in _batches(x, t0, seconds=1800)[:2]:
            assert _post(client, api_csrf, b).status_code == 200
        page = client.get("/moving")
        assert _listed(page.text) == 0
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/moving/snooze", data={"minutes": "0", "csrf_token": csrf})
        assert r.status_code == 200 and "Prompts are snoozed" not in r.text
        for b in _batches(x, t0, seconds=1800)[2:]:
            assert _post(client, api_csrf, b).status_code == 200
        assert _listed(client.get("/moving").text) >= 1
        german = client.get("/moving", headers={"accept-language": "de"})
        assert "Zeit, in Bewegung zu bleiben" in german.text


def test_a_blocked_plan_says_why(app, tmp_path):
    approve_demo_plan(app, "P-A", "red_flag_cauda_equina", tmp_path)
    with TestClient(app) as client:
        page = _page_login(client, "pa")
        assert "No prompts" in page.text and "warning sign" in page.text
