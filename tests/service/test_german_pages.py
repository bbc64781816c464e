"""German pages of the demo patients: red-flag actions, score bands, numbers and dates.

Truths: the German actions are those written beside the English in
``clinical/data/redflags.yaml`` (read here from the file); the ODI band and the STarT Back
risk group follow from the demo forms by CLINICAL_LOGIC.md §2.1/§2.2 (hand-checked below);
German writes a decimal comma and dates as DD.MM.YYYY.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from importlib import resources

import pytest
import yaml
from fastapi.testclient import TestClient

TODAY = dt.date(2026, 3, 11)  # a Wednesday: the demo dates are placed against it
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
SKIPPED = re.compile(
    r'<script.*?</script>|<style.*?</style>|<pre class="json">.*?</pre>|<[^>]+>', re.DOTALL
)


def _rules() -> list[dict]:
    text = resources.files("spinestab.clinical").joinpath("data/redflags.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return [rule for c in raw["conditions"].values() for rule in c["rules"]]


def _visible(page: str) -> str:
    """The text a reader sees (no markup, scripts or raw JSON), spaces collapsed."""
    return " ".join(html.unescape(SKIPPED.sub(" ", page)).split())


def _login(client: TestClient, name: str) -> None:
    client.post("/api/v1/auth/login", json={"username": name, "password": f"{name} password 1"})


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The German and English pages of the demo patients, by (language, path)."""
    from spinestab.service.app import create_app

    from .conftest import make_settings, seed_demo_with_accounts

    folder = tmp_path_factory.mktemp("de")
    settings = make_settings(folder, f"sqlite:///{folder / 'store.sqlite3'}")
    app = create_app(settings)
    state = app.state.spinestab
    seed_demo_with_accounts(
        state,
        [("doc", "clinician", None), ("fhr", "patient", "functional_high_risk")],
        today=TODAY,
    )
    paths = [
        "/worklist",
        "/patients/red_flag_cauda_equina",
        "/patients/red_flag_cauda_equina/plans/1",
        "/patients/functional_high_risk",
        "/patients/functional_high_risk/plans/1",
        "/patients/structural_spondylolisthesis",
        "/patients/structural_spondylolisthesis/plans/1",
        "/patients/low_risk_self_management",
    ]
    out: dict[tuple[str, str], str] = {}
    for language in ("de", "en"):
        with TestClient(app) as client:
            client.cookies.set("spinestab_lang", language)
            client.post(
                "/api/v1/auth/login", json={"username": "doc", "password": "doc password 1"}
            )
            for path in paths:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                out[language, path] = response.text
        with TestClient(app) as client:
            client.cookies.set("spinestab_lang", language)
            client.post(
                "/api/v1/auth/login", json={"username": "fhr", "password": "fhr password 1"}
            )
            for path in ("/today", "/progress"):
                out[language, path] = client.get(path).text
    yield out
    state.sessions.kw["bind"].dispose()


def test_every_red_flag_action_has_german_beside_it():
    rules = _rules()
    assert len(rules) == 17
    for rule in rules:
        assert rule.get("action_de"), rule["action"]
        assert rule["action_de"] != rule["action"]
        # the codes, numbers and sources an action names are kept in the translation
        for token in re.findall(
            r"NICE NG\d+|GIRFT/RCR 2023|HLA-B27|IFOMPT 2020|> 200 ml", rule["action"]
        ):
            assert token in rule["action_de"], (token, rule["action_de"])


def test_red_flag_actions_read_in_german_on_the_record_and_the_plan(pages):
    ces = next(r for r in _rules() if "cauda equina" in r["action"])
    german = " ".join(ces["action_de"].split())
    english = " ".join(ces["action"].split())
    for path in ("/patients/red_flag_cauda_equina", "/patients/red_flag_cauda_equina/plans/1"):
        page = _visible(pages["de", path])
        assert german in page, path
        assert english not in page, path
        assert english in _visible(pages["en", path]), path
    # the record's second open flag (a single malignancy feature, routine) too
    single = next(r for r in _rules() if r["action"].startswith("Single malignancy feature"))
    assert " ".join(single["action_de"].split()) in _visible(
        pages["de", "/patients/red_flag_cauda_equina"]
    )


def test_score_bands_and_risk_groups_in_german(pages):
    record = _visible(pages["de", "/patients/red_flag_cauda_equina"])
    # demo ODI: 29 of 45 = 64.4 %: band 61-80 % "crippled" (§2.2), said neutrally in German
    assert "29 (64,4 %) · sehr schwere Beeinträchtigung" in record
    assert "crippled" not in record
    assert "29 (64.4 %) · crippled" in _visible(pages["en", "/patients/red_flag_cauda_equina"])
    # demo STarT Back: total 6, psychosocial <= 3 -> medium (§2.1)
    assert "6 · mittleres Risiko" in record
    assert "7 · hohes Risiko" in _visible(pages["de", "/patients/functional_high_risk"])
    assert "1 · niedriges Risiko" in _visible(pages["de", "/patients/low_risk_self_management"])


def test_german_sentences_write_a_decimal_comma(pages):
    english = _visible(pages["en", "/patients/functional_high_risk/plans/1"])
    german = _visible(pages["de", "/patients/functional_high_risk/plans/1"])
    assert "(age 45, pain for 0.6 years)" in english
    assert "(Alter 45, Schmerz seit 0,6 Jahren)" in german
    assert "0.6 Jahren" not in german


def test_german_pages_write_dates_day_first(pages):
    for (language, path), page in pages.items():
        seen = ISO_DATE.findall(_visible(page))
        if language == "en":
            continue
        assert seen == [], (path, seen[:3])
    # the same day in both: the CES screen as the timeline lists it
    english = _visible(pages["en", "/patients/red_flag_cauda_equina"])
    day = dt.date.fromisoformat(ISO_DATE.findall(english)[0])
    assert day.strftime("%d.%m.%Y") in _visible(pages["de", "/patients/red_flag_cauda_equina"])


def test_the_structural_track_reason_reads_in_german(pages):
    path = "/patients/structural_spondylolisthesis/plans/1"
    english = "S1: dynamic instability at L4-L5 with concordant symptoms, with 16 weeks of"
    assert english in _visible(pages["en", path])
    german = _visible(pages["de", path])
    assert (
        "S1: dynamische Instabilität bei L4-L5 mit passenden Symptomen, nach 16 Wochen"
        " erfolgloser aktiver Behandlung." in german
    )
    assert "Nur auf Englisch" not in german


def test_muscle_names_in_words_on_the_record_page(pages):
    # functional_high_risk's bundled muscle_quality.csv has multifidus and erector_spinae rows
    from spinestab.imaging.labels import MUSCLES

    english = _visible(pages["en", "/patients/functional_high_risk"])
    german = _visible(pages["de", "/patients/functional_high_risk"])
    assert "erector spinae" in english
    assert "Erector spinae" in german and "Multifidus" in german
    for page in (english, german):
        assert not [m for m in MUSCLES if "_" in m and m in page]  # no code such as erector_spinae


def test_a_red_flag_screen_counts_its_actions_in_the_right_number(pages):
    seen = []
    for (language, path), page in pages.items():
        words = ("Maßnahme", "Maßnahmen") if language == "de" else ("action", "actions")
        for n, word in re.findall(rf"(\d+) ({words[0]}|{words[1]})\b", _visible(page)):
            seen.append((language, int(n), word))
            assert word == (words[0] if int(n) == 1 else words[1]), (path, n, word)
    assert seen  # the red-flag patient's screens are listed with their number of actions
