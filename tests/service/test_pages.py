"""Pages: the login form, the worklist, the patient list and the record, in both languages."""

from __future__ import annotations

import re

from .conftest import PASSWORDS, demo_form, login


def _page_login(client, username, *, next_="/"):
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    return client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORDS[username],
            "login_token": token,
            "next": next_,
        },
        follow_redirects=False,
    )


def _csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_login_form_signs_in_and_lands_on_the_role_start_page(client):
    response = _page_login(client, "doc")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/worklist"
    assert "Today&#39;s worklist" in client.get("/worklist").text


def test_login_form_refuses_without_its_token_and_never_redirects_offsite(client):
    no_token = client.post(
        "/login",
        data={"username": "doc", "password": PASSWORDS["doc"], "login_token": "x"},
        follow_redirects=False,
    )
    assert no_token.status_code == 403
    assert "spinestab_session" not in no_token.headers.get("set-cookie", "")
    offsite = _page_login(client, "doc", next_="//evil.example/x")
    assert offsite.headers["location"] == "/"


def test_wrong_password_page_says_so_with_401(client):
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    response = client.post(
        "/login", data={"username": "doc", "password": "wrong password 1", "login_token": token}
    )
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text


def test_create_patient_from_the_form_needs_the_csrf_field(client):
    _page_login(client, "doc")
    page = client.get("/patients")
    refused = client.post("/patients", data={"pseudonym": "P-NEW"}, follow_redirects=False)
    assert refused.status_code == 403
    created = client.post(
        "/patients",
        data={
            "pseudonym": "P-NEW",
            "sex": "male",
            "birth_year": "1980",
            "csrf_token": _csrf(page.text),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/patients/P-NEW"
    record = client.get("/patients/P-NEW")
    assert record.status_code == 200 and "born 1980" in record.text
    duplicate = client.post(
        "/patients", data={"pseudonym": "P-NEW", "csrf_token": _csrf(page.text)}
    )
    assert duplicate.status_code == 409 and "patient already exists" in duplicate.text


def test_patient_search_returns_rows_for_htmx(client):
    _page_login(client, "doc")
    rows = client.get("/patients?q=p-b", headers={"HX-Request": "true"})
    assert "<html" not in rows.text
    assert "P-B" in rows.text and "P-A" not in rows.text


def test_record_and_worklist_show_open_red_flags_first(client):
    csrf = login(client, "doc")
    form = demo_form("redflags.json").replace('"cancer_history": false', '"cancer_history": true')
    response = client.post(
        "/api/v1/patients/P-A/forms",
        content=form,
        headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
    )
    assert response.status_code == 201
    urgencies = [a["urgency"] for a in response.json()["actions"]]
    assert "urgent" in urgencies
    record = client.get("/patients/P-A").text
    assert record.index("Open red flags") < record.index("Scores over time")
    assert "history of cancer" in record
    worklist = client.get("/worklist").text
    assert 'href="/patients/P-A"' in worklist.split("New red flags", 1)[1].split("</section>")[0]


def test_scores_over_time_are_drawn_against_the_mic(client):
    csrf = login(client, "doc")
    for date, pain in (("2026-01-05", 7), ("2026-02-05", 4)):
        client.post(
            "/api/v1/patients/P-A/forms",
            json={"instrument": "nrs", "date": date, "answers": {"pain": pain}},
            headers={"X-CSRF-Token": csrf},
        )
    record = client.get("/patients/P-A").text
    assert "baseline ± MIC 2" in record and "MIC reached" in record  # 7 -> 4: 3 >= 2
    assert record.count('class="dot"') == 2


def test_german_pages(client):
    client.get("/lang/de?next=/login")
    assert '<html lang="de">' in client.get("/login").text
    _page_login(client, "doc")
    text = client.get("/worklist").text
    assert "Arbeitsliste für heute" in text and "Abmelden" in text


def test_logout_form_ends_the_session(client):
    _page_login(client, "doc")
    csrf = _csrf(client.get("/worklist").text)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_unknown_page_is_a_404_page(client):
    _page_login(client, "doc")
    response = client.get("/patients/NOPE")
    assert response.status_code == 404 and "Not found" in response.text
