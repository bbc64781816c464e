"""The web app in Debian's Chromium, driven by Playwright against a real ``spinestab serve``.

Journeys and an accessibility check (axe-core, vendored in ``vendor/axe-core``) with no
serious or critical violation on the main pages. Screenshots at phone (390x844) and desktop
(1366x900) size go to ``SPINESTAB_SCREENSHOT_DIR`` when set (for looking at them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
CLINICIAN = ("doc", "clinician pass 1")
PATIENT = ("pat", "patient password 1")


@pytest.fixture(scope="module")
def server(start_serve):
    """A real ``spinestab serve`` on a free loopback port, with two accounts and a patient."""

    def seed(serve):
        serve.run("patient", "add", "P-ANNA", "--sex", "female", "--birth-year", "1971")
        serve.run(
            "user", "add", CLINICIAN[0], "--role", "clinician", "--password-stdin",
            stdin=CLINICIAN[1],
        )  # fmt: skip
        serve.run(
            "user", "add", PATIENT[0], "--role", "patient", "--patient", "P-ANNA",
            "--password-stdin", stdin=PATIENT[1],
        )  # fmt: skip

    return start_serve("serve", seed=seed).base


def _shot(page, name):
    folder = os.environ.get("SPINESTAB_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


class Console:
    """Collect console errors (a CSP violation shows up here)."""

    def __init__(self, page):
        self.errors = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def _login(page, base, username, password):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_clinician_journey(playwright_browser, server, viewport):
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=viewport)
    page = context.new_page()
    console = Console(page)
    size = "phone" if viewport is PHONE else "desktop"
    _login(page, server, *CLINICIAN)
    page.wait_for_url(f"{server}/worklist")
    assert page.locator("h1").inner_text() == "Today's worklist"
    _shot(page, f"clinician-worklist-{size}")
    page.click("nav >> text=Patients")
    page.wait_for_url(f"{server}/patients")
    pseudonym = f"P-NEW-{size}"
    page.fill("#pseudonym", pseudonym)
    page.select_option("#sex", "male")
    page.fill("#birth_year", "1980")
    page.click("text=Create and open")
    page.wait_for_url(f"{server}/patients/{pseudonym}")
    assert pseudonym in page.locator("h1").inner_text()
    # Intake: the NRS, scored in the side panel as it is typed, then saved.
    page.click("text=Pain (NRS 0-10)")
    page.fill("#item-pain", "7")
    expect(page.locator("#result")).to_contain_text("7 / 10")
    page.fill("#item-leg_pain", "3")
    _shot(page, f"clinician-intake-nrs-{size}")
    page.click("text=Save to the record")
    page.wait_for_url(f"{server}/patients/{pseudonym}?saved=nrs")
    expect(page.locator("[role=status]")).to_contain_text("Saved to the record.")
    # The red-flag screen: a positive item shows its action before saving.
    page.click(".actions >> text=Red-flag screen")
    page.check("input[name='item.saddle_numbness'][value='1']")
    expect(page.locator("#result")).to_contain_text("Emergency")
    _shot(page, f"clinician-intake-redflags-{size}")
    page.click("text=Save to the record")
    page.wait_for_url(f"{server}/patients/{pseudonym}?saved=redflags")
    flags = page.locator("#flags")
    expect(flags).to_contain_text("Open red flags")
    _shot(page, f"clinician-record-{size}")
    # Search swaps the rows without a page load (HTMX).
    page.goto(f"{server}/patients")
    page.fill("#q", "anna")
    rows = page.locator("#patient-rows tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("P-ANNA")
    _shot(page, f"clinician-patients-{size}")
    assert console.errors == []
    context.close()


def test_language_switch_and_logout(playwright_browser, server):
    context = playwright_browser.new_context(viewport=PHONE)
    page = context.new_page()
    _login(page, server, *CLINICIAN)
    page.wait_for_url(f"{server}/worklist")
    page.click("text=Deutsch")
    assert page.locator("h1").inner_text() == "Arbeitsliste für heute"
    assert page.locator("html").get_attribute("lang") == "de"
    page.click("text=Abmelden")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/worklist")
    assert page.url.startswith(f"{server}/login?next=")
    context.close()


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


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_main_pages_have_no_serious_accessibility_violations(playwright_browser, server, viewport):
    # bypass_csp only lets the test inject axe; the pages themselves are unchanged.
    context = playwright_browser.new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server}/login")
    found = {"/login": _axe(page)}
    _login(page, server, *CLINICIAN)
    page.wait_for_url(f"{server}/worklist")
    for path in (
        "/worklist",
        "/patients",
        "/patients/P-ANNA",
        "/patients/P-ANNA/forms/startback",
        "/patients/P-ANNA/forms/rmdq",
        "/patients/P-ANNA/forms/psfs",
    ):
        page.goto(f"{server}{path}")
        found[path] = _axe(page)
    assert found == {path: [] for path in found}
    context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_patient_follow_up_form_on_a_phone(playwright_browser, server, viewport):
    from playwright.sync_api import expect

    size = "phone" if viewport is PHONE else "desktop"
    context = playwright_browser.new_context(viewport=viewport)
    page = context.new_page()
    console = Console(page)
    _login(page, server, *PATIENT)
    page.wait_for_url(f"{server}/today")
    expect(page.locator("h1")).to_have_text("Today")
    _shot(page, f"patient-today-{size}")
    page.click("main a.button[href='/forms']")
    page.click("text=Pain (NRS 0-10)")
    pain = "4" if viewport is PHONE else "5"  # one form per run: the record refuses copies
    page.fill("#item-pain", pain)
    expect(page.locator("#result")).to_contain_text(f"{pain} / 10")
    _shot(page, f"patient-form-{size}")
    page.click("text=Send my answers")
    page.wait_for_url(f"{server}/progress?saved=nrs")
    expect(page.locator("[role=status]")).to_contain_text("Your answers are saved")
    _shot(page, f"patient-progress-{size}")
    assert console.errors == []
    context.close()


def test_patient_pages_have_no_serious_accessibility_violations(playwright_browser, server):
    context = playwright_browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    _login(page, server, *PATIENT)
    page.wait_for_url(f"{server}/today")
    found = {}
    for path in ("/today", "/forms", "/forms/redflags", "/progress"):
        page.goto(f"{server}{path}")
        found[path] = _axe(page)
    assert found == {path: [] for path in found}
    context.close()
