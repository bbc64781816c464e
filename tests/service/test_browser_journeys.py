"""Both journeys of issue 11 in Debian's Chromium (Playwright) against a real ``spinestab serve``.

Clinician: log in, create a patient, fill the intake (history, red-flag screen, NRS, ODI,
STarT Back), upload the bundled MuscleMap MRI and mask and a wearable file (with the upload
progress bar), start the analyses and wait for the jobs, see the results with their
pictures, build the plan and approve it. Patient: log in, see the plan, log two sessions,
see the next version once the clinician approves it. axe-core on every new page, phone and
desktop size; screenshots go to ``SPINESTAB_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from .test_browser import AXE, DESKTOP, PHONE, Console, _login, _shot

pytestmark = pytest.mark.browser

TESTS = Path(__file__).resolve().parents[1]
MM_IMAGE = TESTS / "data" / "imaging" / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = TESTS / "data" / "imaging" / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
CWA = TESTS / "data" / "wearable" / "ax6_sample.cwa"
CLINICIAN = ("anna", "clinician pass 22")
PATIENT = ("p-journey", "patient pass 2222")
PSEUDONYM = "P-JOURNEY"
#: The intake is dated a week back, so the programme started a week ago.
START = dt.date.today() - dt.timedelta(days=7)


@pytest.fixture(scope="module")
def serve(start_serve):
    def seed(server):
        server.run(
            "user", "add", CLINICIAN[0], "--role", "clinician", "--password-stdin",
            stdin=CLINICIAN[1],
        )  # fmt: skip

    return start_serve("journeys", env={"SPINESTAB_JOB_WORKERS": "2"}, seed=seed)


def _axe(page):
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _save_form(page, base, instrument, fill):
    from playwright.sync_api import expect

    page.goto(f"{base}/patients/{PSEUDONYM}/forms/{instrument}")
    page.fill("#date", START.isoformat())
    fill(page)
    expect(page.locator("#result")).not_to_contain_text("expected", timeout=10_000)
    page.click("text=Save to the record")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}?saved={instrument}")


def _all_no(page):
    for radio in page.locator("input[type=radio][value='0']").all():
        radio.check()


def _nrs(page):
    page.fill("#item-pain", "6")
    page.fill("#item-leg_pain", "2")


def _odi(page):
    for section in range(1, 11):
        page.check(f"input[name='item.s{section}'][value='2']")


def _startback(page):
    for item in range(1, 9):
        page.check(f"input[name='item.q{item}'][value='{1 if item in (1, 5) else 0}']")
    page.check("input[name='item.q9'][value='2']")


def _upload(page, kind, path):
    from playwright.sync_api import expect

    page.select_option("#upload-kind", kind)
    page.set_input_files("#upload-file", str(path))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#uploads")).to_contain_text(path.name, timeout=30_000)


def _tick(page, name):
    page.locator("#uploads label.tick", has_text=name).locator("input").check()


def test_journeys(playwright_browser, serve):
    browser = playwright_browser
    from playwright.sync_api import expect

    base = serve.base
    shots = {}
    # ---------------------------------------------------------------- the clinician
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console(page)
    _login(page, base, *CLINICIAN)
    page.wait_for_url(f"{base}/worklist")
    page.click("nav >> text=Patients")
    page.fill("#pseudonym", PSEUDONYM)
    page.select_option("#sex", "female")
    page.fill("#birth_year", str(dt.date.today().year - 48))
    page.click("text=Create and open")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}")
    # history, checked as typed
    page.click("#intake >> text=History")
    page.fill("#h-age", "48")
    page.fill("#h-pain_duration_weeks", "20")
    expect(page.locator("#result")).to_contain_text("chronic (more than 12 weeks)", timeout=10_000)
    page.check("input[name='aberrant_movement'][value='yes']")
    page.check("input[name='symptoms'][value='mechanical_back_pain']")
    page.fill("#h-symptomatic_levels", "L4, L5")
    shots["clinician-history"] = page.url
    page.click("text=Save to the record")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}?saved=history")
    # the questionnaires (a complete red-flag screen, all no)
    _save_form(page, base, "redflags", _all_no)
    _save_form(page, base, "nrs", _nrs)
    _save_form(page, base, "odi", _odi)
    _save_form(page, base, "startback", _startback)
    # uploads with progress, then the analyses as jobs
    _upload(page, "mri", MM_IMAGE)
    _upload(page, "mask", MM_MASK)
    _upload(page, "wearable", CWA)
    _tick(page, MM_IMAGE.name)
    _tick(page, MM_MASK.name)
    page.select_option("#analysis-kind", "mri")
    page.select_option("#analysis-labels", "musclemap")
    page.click("text=Start the analysis")
    expect(page.locator("#jobs li")).to_have_count(1, timeout=10_000)
    _tick(page, CWA.name)
    page.select_option("#analysis-kind", "wearable")
    page.select_option("#analysis-labels", "")
    page.click("text=Start the analysis")
    expect(page.locator("#jobs li")).to_have_count(2, timeout=10_000)
    _shot(page, "clinician-jobs-running-desktop")
    # the jobs list polls itself until both are done
    expect(page.locator("#jobs .job-succeeded")).to_have_count(2, timeout=240_000)
    expect(page.locator("#jobs .job-failed")).to_have_count(0)
    page.click("#jobs >> text=Saved: see the muscle quality results")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}?notice=record.job_done#results")
    results = page.locator("#results")
    expect(results).to_contain_text("Muscle quality (MRI)")
    expect(results).to_contain_text("multifidus")
    expect(results).to_contain_text("13.58")  # max CSA, right multifidus (MuscleMap MANIFEST)
    expect(results).to_contain_text("Movement (wearable)")
    pictures = results.locator("img")
    assert pictures.count() >= 2
    for i in range(pictures.count()):
        pictures.nth(i).scroll_into_view_if_needed()
        expect(pictures.nth(i)).to_have_js_property("complete", True)
        assert pictures.nth(i).evaluate("img => img.naturalWidth") > 0
    # build the plan and approve it
    page.click("text=Make a plan from the record")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}/plans/1")
    expect(page.locator("h1")).to_contain_text("awaiting approval")
    expect(page.locator("main")).to_contain_text("Reasons and sources")
    shots["clinician-plan-review"] = page.url
    page.click("text=Approve this plan")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}/plans/1?approved=1")
    expect(page.locator("[role=status]")).to_contain_text("Approved")
    expect(page.locator("h1")).to_contain_text("active")
    shots["clinician-record"] = f"{base}/patients/{PSEUDONYM}"
    shots["clinician-worklist"] = f"{base}/worklist"
    assert console.errors == []
    # ---------------------------------------------------------------- the patient
    serve.run(
        "user",
        "add",
        PATIENT[0],
        "--role",
        "patient",
        "--patient",
        PSEUDONYM,
        "--password-stdin",
        stdin=PATIENT[1],
    )
    patient_context = browser.new_context(viewport=PHONE)
    phone = patient_context.new_page()
    patient_console = Console(phone)
    _login(phone, base, *PATIENT)
    phone.wait_for_url(f"{base}/today")
    expect(phone.locator("main")).to_contain_text("Your plan (version 1)")
    expect(phone.locator("main")).to_contain_text("Safety notes")
    # two sessions on the plan's exercise days (Mon/Wed/Fri, rule sessions_per_week 3)
    plan_days = [
        START + dt.timedelta(days=k)
        for k in range(8)
        if (START + dt.timedelta(days=k)).weekday() in (0, 2, 4)
    ]
    for day, pain in ((plan_days[0], "2"), (plan_days[1], "3")):
        phone.fill("#log-date", day.isoformat())
        rows = phone.locator("fieldset.log-row")
        assert rows.count() >= 1
        for i in range(rows.count()):
            row = rows.nth(i)
            row.locator("input[name^='done.']").check()
            row.locator("input[name^='pain_during.']").fill(pain)
            row.locator("input[name^='effort.']").fill("4")
        phone.fill("#log-morning", "2")
        phone.click("text=Save the session")
        phone.wait_for_url(f"{base}/today?logged=*")
        expect(phone.locator("[role=status]")).to_contain_text("Saved")
    expect(phone.locator("main")).to_contain_text("Planned sessions done: 2 of")
    _shot(phone, "patient-today-logged-phone")
    shots["patient-today"] = f"{base}/today"
    shots["patient-progress"] = f"{base}/progress"
    # the clinician proposes the next step and approves it
    page.goto(f"{base}/patients/{PSEUDONYM}")
    page.click("text=Propose the next step from the sessions")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}/plans/2")
    expect(page.locator("main")).to_contain_text("Changes from version 1")
    shots["clinician-progression"] = page.url
    page.click("text=Approve this plan")
    page.wait_for_url(f"{base}/patients/{PSEUDONYM}/plans/2?approved=1")
    # the patient sees version 2
    phone.goto(f"{base}/today")
    expect(phone.locator("main")).to_contain_text("Your plan (version 2)")
    assert patient_console.errors == [] and console.errors == []
    # ---------------------------------------------------------------- screenshots, axe
    for name, url in shots.items():
        ctx = page if name.startswith("clinician") else phone
        ctx.goto(url)
        _shot(ctx, f"{name}-{'desktop' if ctx is page else 'phone'}")
    context.close()
    patient_context.close()
    for viewport, size in ((PHONE, "phone"), (DESKTOP, "desktop")):
        for who, urls in (
            (CLINICIAN, [u for n, u in shots.items() if n.startswith("clinician")]),
            (PATIENT, [u for n, u in shots.items() if n.startswith("patient")]),
        ):
            ctx = browser.new_context(viewport=viewport, bypass_csp=True)
            tab = ctx.new_page()
            _login(tab, base, *who)
            tab.wait_for_url(f"{base}/*")
            found = {}
            for url in (
                [*urls, f"{base}/patients/{PSEUDONYM}/history"] if who is CLINICIAN else urls
            ):
                tab.goto(url)
                found[url] = _axe(tab)
                role = "clinician" if who is CLINICIAN else "patient"
                _shot(tab, f"axe-{role}-{url.rsplit('/', 1)[-1]}-{size}")
            assert found == {u: [] for u in found}, found
            ctx.close()
