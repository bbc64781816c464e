"""Intake pages: every instrument's form, scored as typed, stored only when saved."""

from __future__ import annotations

import html
import re

import pytest

from spinestab.service.intake import INSTRUMENT_ORDER, answers_from_fields, intake_fields

from .conftest import login


@pytest.fixture
def doc(client):
    csrf = login(client, "doc")
    client.headers["X-CSRF-Token"] = csrf
    return client


def test_every_instrument_has_a_form_page(doc):
    for instrument in INSTRUMENT_ORDER:
        page = doc.get(f"/patients/P-A/forms/{instrument}")
        assert page.status_code == 200, instrument
        names = set(re.findall(r'name="(item\.[^"]+)"', page.text))
        expected = {f"item.{f.key}" for f in intake_fields(instrument)}
        if instrument == "psfs":
            expected = {f"{n}.{part}" for n in expected for part in ("name", "score")}
        assert names == expected, instrument
    assert doc.get("/patients/P-A/forms/sf36").status_code == 404


def test_red_flag_form_lists_every_item_of_the_rule_file(doc):
    from spinestab.clinical import load_red_flag_rules

    page = doc.get("/patients/P-A/forms/redflags").text
    for key in load_red_flag_rules().items:
        assert f'name="item.{key}"' in page


def test_check_scores_startback_as_typed_without_storing(doc):
    # Hand count: agree with q1, q3, q5, q6 (2 physical + 2 psychosocial), q9 "very much"
    # (scores 1): total 5, psychosocial 3 -> medium risk (total >= 4, psychosocial <= 3).
    fields = {"date": "2026-05-01"} | {f"item.q{i}": "0" for i in range(1, 9)}
    fields |= {"item.q1": "1", "item.q3": "1", "item.q5": "1", "item.q6": "1", "item.q9": "3"}
    partial = doc.post("/patients/P-A/forms/startback/check", data=fields)
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "5 / 9" in partial.text and "medium" in partial.text
    half = doc.post(
        "/patients/P-A/forms/startback/check", data={"date": "2026-05-01", "item.q1": "1"}
    )
    assert "8 questions not answered yet" in half.text  # q2-q9: counted, not listed
    assert doc.get("/api/v1/patients/P-A").json()["assessments"] == []


def test_check_names_the_questions_still_missing_in_words(doc):
    from spinestab.service.i18n import messages

    t = messages("en")
    labels = {f.key: t(f.label_key) for f in intake_fields("startback")}
    fields = {"date": "2026-05-01"} | {f"item.q{i}": "0" for i in range(1, 8)}
    text = doc.post("/patients/P-A/forms/startback/check", data=fields).text
    missing = html.unescape(re.search(r"Missing: ([^<]*)</p>", text).group(1))
    assert missing.split("; ") == [labels["q8"], labels["q9"]]
    assert "q8 (" not in text and labels["q8"] != "q8"
    # a blank red-flag screen: too many to list, counted
    everything = doc.post("/patients/P-A/forms/redflags/check", data={"date": "2026-05-01"}).text
    n = len(intake_fields("redflags"))
    assert f"{n} questions not answered yet" in everything


def test_save_stores_and_returns_to_the_record(doc):
    fields = {"date": "2026-05-01", "item.pain": "6", "item.leg_pain": "2"}
    saved = doc.post("/patients/P-A/forms/nrs", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/patients/P-A?saved=nrs"
    stored = doc.get("/api/v1/patients/P-A").json()["assessments"]
    assert [(a["instrument"], a["score"]["score"], a["date"]) for a in stored] == [
        ("nrs", 6, "2026-05-01")
    ]
    assert "Saved to the record." in doc.get(saved.headers["location"]).text


def test_bad_input_is_shown_with_the_form_and_nothing_stored(doc):
    response = doc.post("/patients/P-A/forms/nrs", data={"date": "2026-05-01", "item.pain": "14"})
    assert response.status_code == 422
    assert "pain" in response.text and 'value="14"' in response.text  # typed value kept
    assert doc.get("/api/v1/patients/P-A").json()["assessments"] == []


def test_red_flag_form_shows_the_action_as_typed(doc):
    fields = {"date": "2026-05-01", "item.saddle_numbness": "1", "item.cancer_history": "0"}
    partial = doc.post("/patients/P-A/forms/redflags/check", data=fields).text
    assert "Emergency" in partial and "cauda equina" in partial.lower()


def test_rmdq_and_psfs_fields_map_to_the_score_format():
    assert answers_from_fields("rmdq", {"item.3": "1", "item.24": "1", "item.5": ""}) == [3, 24]
    psfs = answers_from_fields(
        "psfs",
        {"item.activity1.name": "sitting", "item.activity1.score": "4", "item.activity2.name": ""},
    )
    assert psfs == {"activities": [{"name": "sitting", "score": 4}]}
    assert answers_from_fields("redflags", {"item.age_over_70": "1", "item.psoriasis": "0"}) == {
        "age_over_70": True,
        "psoriasis": False,
    }


def test_intake_form_needs_csrf(client):
    login(client, "doc")
    response = client.post("/patients/P-A/forms/nrs", data={"date": "2026-05-01", "item.pain": "3"})
    assert response.status_code == 403
