"""GET /api/v1/patients/{pseudonym}/fhir and .../report on the stored record."""

from __future__ import annotations

import re
from pathlib import Path

from spinestab.clinical import load_form, score_form

from .conftest import login

FORMS = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"
FOLDER = FORMS / "functional_high_risk"
NAMES = ("startback.json", "odi.json", "nrs.json", "psfs.json", "redflags.json")


def _store_forms(client, csrf, pseudonym="P-A"):
    for name in NAMES:
        response = client.post(
            f"/api/v1/patients/{pseudonym}/forms",
            content=(FOLDER / name).read_text(encoding="utf-8"),
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 201, response.text


def test_fhir_bundle_of_the_stored_forms(client):
    csrf = login(client, "doc")
    _store_forms(client, csrf)
    response = client.get("/api/v1/patients/P-A/fhir")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    resources = [e["resource"] for e in bundle["entry"]]
    patient = resources[0]
    assert patient["identifier"] == [{"system": "urn:spinestab:pseudonym", "value": "P-A"}]
    assert sum(r["resourceType"] == "QuestionnaireResponse" for r in resources) == len(NAMES)
    values = {
        r["code"]["coding"][0]["code"]: r["valueQuantity"]["value"]
        for r in resources
        if r["resourceType"] == "Observation" and "valueQuantity" in r
    }
    odi = score_form(load_form(FOLDER / "odi.json"))
    startback = score_form(load_form(FOLDER / "startback.json"))
    assert values["97909-6"] == odi.percent
    assert values["91351-7"] == startback.score
    # from the record: no plan has been made for P-A, so the Bundle holds none
    assert not any(r["resourceType"] == "CarePlan" for r in resources)


def test_report_download_pdf_and_html(client):
    csrf = login(client, "doc")
    _store_forms(client, csrf)
    response = client.get("/api/v1/patients/P-A/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    response = client.get("/api/v1/patients/P-A/report?format=html&lang=de")
    assert response.status_code == 200
    assert "P-A" in response.text and "Offene Warnzeichen" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    # nothing the policy would block: every picture is a data URI, no script, no link
    assert re.findall(r'src="(?!data:)', response.text) == []
    assert "<script" not in response.text and "<link" not in response.text


def test_unknown_patient_and_no_forms(client):
    login(client, "doc")
    assert client.get("/api/v1/patients/nobody/fhir").status_code == 404
    assert client.get("/api/v1/patients/nobody/report").status_code == 404
    response = client.get("/api/v1/patients/P-A/fhir")  # no forms stored yet
    assert response.status_code == 422
    assert "no questionnaires" in response.json()["detail"]


def test_a_patient_cannot_export(client):
    login(client, "pa")
    assert client.get("/api/v1/patients/P-A/fhir").status_code in (403, 404)
    assert client.get("/api/v1/patients/P-A/report").status_code in (403, 404)


def test_record_page_links_the_downloads(client):
    csrf = login(client, "doc")
    _store_forms(client, csrf)
    page = client.get("/patients/P-A")
    assert page.status_code == 200, page.text
    for href in ("/api/v1/patients/P-A/report?lang=en", "/api/v1/patients/P-A/fhir"):
        assert f'href="{href}"' in page.text
        assert client.get(href).status_code == 200


def test_handout_of_the_plan_in_force_as_pdf_and_html(client):
    import io

    from pypdf import PdfReader

    csrf = login(client, "doc")
    _store_forms(client, csrf)
    none_yet = client.get("/api/v1/patients/P-A/handout")
    assert none_yet.status_code == 409 and "no plan has been made" in none_yet.json()["detail"]
    headers = {"X-CSRF-Token": csrf}
    made = client.post("/api/v1/patients/P-A/plans", headers=headers)
    assert made.status_code == 201, made.text
    version = made.json()["version"]
    draft = client.get("/api/v1/patients/P-A/handout")
    assert draft.status_code == 409 and "draft awaiting approval" in draft.json()["detail"]
    link = 'href="/api/v1/patients/P-A/handout?lang=en"'
    assert link not in client.get("/patients/P-A").text  # a draft is not handed out
    approved = client.post(f"/api/v1/patients/P-A/plans/{version}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    assert link in client.get("/patients/P-A").text
    plan = client.get("/api/v1/patients/P-A/plans/current").json()
    from spinestab.care.i18n import Translator

    names = [Translator("en")(f"ex.{e['id']}.name") for e in plan["plan"]["exercises"]]
    assert names and not any(n.startswith("ex.") for n in names)

    response = client.get("/api/v1/patients/P-A/handout?lang=de")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="handout_P-A_de.pdf"'
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages]
    assert "Ihr Übungsplan" in pages[0]
    assert all(f"Seite {i} von {len(pages)}" in t for i, t in enumerate(pages, start=1))
    html = client.get("/api/v1/patients/P-A/handout?format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert all(n in html.text for n in names)  # the exercises of the plan in force
