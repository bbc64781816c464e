"""German pages carry no English rule text unmarked.

Rule texts (triage reasons and actions, a progression's reasons, a plan's status reason,
what a profile is missing, red-flag labels and actions) are stored in English. On a German
page each is either translated from the service catalogue or shown in English inside
``<span lang="en">`` with the visible "Nur auf Englisch" badge. The check takes every
English rule text the record holds for the demo patients and looks for it in the page with
the marked parts (and the raw profile JSON view) cut out.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from spinestab.core.i18n import catalogue
from spinestab.record import get_plan
from spinestab.record.demo import DEMO_CLINICIAN
from spinestab.service.i18n import rule_text
from spinestab.service.records import timeline

MARKED = re.compile(
    r'<span lang="en">.*?</span> <span class="badge untranslated">Nur auf Englisch[^<]*</span>',
    re.DOTALL,
)
RAW_JSON = re.compile(r'<pre class="json">.*?</pre>', re.DOTALL)


def test_patterns_and_translations_agree():
    """Every rule key exists in both languages with the same placeholders."""
    en, de = catalogue("service", "en"), catalogue("service", "de")
    keys = [k for k in en if k.startswith("rule.")]
    assert len(keys) > 80
    for key in keys:
        assert key in de, key
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", de[key]))


def test_rule_text_translates_values_and_marks_prose():
    said = rule_text(
        "STarT Back high risk (total 7, psychosocial 5).",
        language="de",
        kind="reason",
        code="sbst_high",
    )
    assert not said.english
    assert said.text == "STarT Back: hohes Risiko (Gesamtwert 7, psychosozial 5)."
    # a nested list of failed criteria, each translated
    said = rule_text("2024-03-05: sets 2 < 3, effort not logged", language="de", kind="progress")
    assert said.text == "05.03.2024: Sätze 2 < 3, Anstrengung nicht protokolliert"
    # a value that is English prose is never mixed into a German sentence
    said = rule_text(
        "Earlier positive red-flag screen (a new pain); the latest screen (2024-03-04) is "
        "negative for it.",
        language="de",
        kind="reason",
        code="earlier_red_flag",
    )
    assert said.english
    # one criterion unknown: the whole reason stays English, marked
    assert rule_text("2024-03-05: sets 2 < 3, felt odd", language="de", kind="progress").english
    assert rule_text("anything", language="en", kind="reason").text == "anything"


def _rule_texts(record, pseudonym: str) -> list[str]:
    """Every English rule text of the patient's record that a page may show."""
    texts: list[str] = []
    shown = timeline(record, DEMO_CLINICIAN, pseudonym)
    for flag in shown["open_red_flags"]:
        texts += [flag["label"], flag["action"]]
    with record.unit_of_work() as uow:
        for p in shown["plans"]:
            plan = get_plan(uow, DEMO_CLINICIAN, pseudonym, version=p["version"])
            assert plan is not None and plan.plan is not None
            texts.append(plan.status_reason or "")
            for d in plan.plan.get("decisions", ()):
                texts += d.get("reasons") or []
    return [t for t in texts if t]


def _triage_texts(page_files: dict[str, str]) -> list[str]:
    triage = json.loads(page_files["triage.json"])
    profile = json.loads(page_files["profile.json"])
    texts = [r["text"] for r in triage["reasons"]] + [a["text"] for a in triage["actions"]]
    texts.append(triage["track_label"])
    for m in profile.get("missing", ()):
        texts += [m["part"], m["limits"]]
    return texts


def _unmarked(html: str, texts: list[str]) -> list[str]:
    rest = RAW_JSON.sub("", MARKED.sub("", html))
    # a file name (instability.json) reads the same in German
    words = [t for t in texts if not re.fullmatch(r"[\w.]+\.(json|csv)", t)]
    return [t for t in words if str(escape(t)) in rest]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_german_pages_carry_no_unmarked_english_rule_text(service_settings, make_app):
    from spinestab.record import plan_files

    app = make_app(service_settings)
    state = app.state.spinestab
    from .conftest import seed_demo_with_accounts

    seed_demo_with_accounts(
        state, [("doc", "clinician", None), ("ces", "patient", "red_flag_cauda_equina")]
    )
    pages = {
        "functional_high_risk": [1, 2],  # v2: the progression draft with its reasons
        "red_flag_cauda_equina": [1],  # blocked by the red flag
        "structural_spondylolisthesis": [1],
        "low_risk_self_management": [1],
    }
    marked_total = 0
    with TestClient(app) as client:
        client.cookies.set("spinestab_lang", "de")
        client.post("/api/v1/auth/login", json={"username": "doc", "password": "doc password 1"})
        for pseudonym, versions in pages.items():
            texts = _rule_texts(state.record, pseudonym)
            record_page = client.get(f"/patients/{pseudonym}")
            assert record_page.status_code == 200
            assert _unmarked(record_page.text, texts) == [], pseudonym
            for version in versions:
                with state.record.unit_of_work() as uow:
                    files = plan_files(uow, DEMO_CLINICIAN, pseudonym, version=version)
                page = client.get(f"/patients/{pseudonym}/plans/{version}")
                assert page.status_code == 200 and 'lang="de"' in page.text
                wanted = texts + _triage_texts(files)
                assert _unmarked(page.text, wanted) == [], (pseudonym, version)
                marked_total += len(MARKED.findall(page.text))
        # translated, not merely marked: the usual reasons read in German
        fhr = client.get("/patients/functional_high_risk/plans/2").text
        assert "STarT Back: hohes Risiko (Gesamtwert 7, psychosozial 5)." in fhr
        assert "Kriterien in den letzten 2 Einheiten erfüllt" in fhr
        assert "Progression wartet auf Freigabe" in fhr
        blocked = client.get("/patients/red_flag_cauda_equina/plans/1").text
        assert "offene Red Flag: kein Übungsplan" in blocked
        assert "Offene Red Flag (Notfall): cauda_equina" in blocked
        worklist = client.get("/worklist").text
        assert _unmarked(worklist, _rule_texts(state.record, "red_flag_cauda_equina")) == []
        assert "Cauda-equina-Syndrom (CES)" in worklist
        client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": client.cookies.get("x", "")})
    # the demo patients' plan pages now read wholly in German (red-flag actions from
    # redflags.yaml's action_de, the S1 reason from its pattern); marking is tested above
    assert marked_total == 0
    with TestClient(app) as patient:
        patient.cookies.set("spinestab_lang", "de")
        patient.post("/api/v1/auth/login", json={"username": "ces", "password": "ces password 1"})
        today = patient.get("/today").text
        blocked_plan = patient.get("/api/v1/me/plan").json()
        assert blocked_plan["status"] == "blocked"
        english = _rule_texts(state.record, "red_flag_cauda_equina")
        assert _unmarked(today, english) == []
        assert "Gehen Sie jetzt in die Notaufnahme. Üben Sie nicht." in today
        # the API gives the patient the same words as the page, in their language
        said = [a["text"] for a in blocked_plan["actions"]]
        assert "Gehen Sie jetzt in die Notaufnahme. Üben Sie nicht." in said
        assert not set(said) & set(english)
