"""A live prompt reaches the patient's page over server-sent events, in Debian's Chromium.

A real ``spinestab serve``; the patient has the bundled low-risk demo patient's record and
its approved plan (a 30-min movement-break interval). The page ``/moving`` is open in the
browser while the patient's sensor stream (the API, another session of the same patient)
sends 40 min of mostly sitting: the prompt the stream gets must appear on the page without
a reload. Screenshots (phone and desktop) go to ``SPINESTAB_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import httpx
import pytest

from .live_helpers import DEMO, FS, STAND_S, _batches, scripted_stream
from .test_browser import DESKTOP, PHONE, Console, _axe, _login, _shot

pytestmark = pytest.mark.browser

PATIENT = ("lena", "patient password 7")


@pytest.fixture(scope="module")
def live_server(start_serve):
    """``spinestab serve`` with patient P-LIVE: demo record, approved plan, an account."""

    def seed(serve):
        serve.run("patient", "add", "P-LIVE", "--sex", "female", "--birth-year", "1990")
        serve.run("record", "import", "P-LIVE", str(DEMO / "low_risk_self_management"))
        serve.run("plan", "--patient", "P-LIVE")
        serve.run("plan", "approve", "P-LIVE", "--version", "1")
        serve.run(
            "user", "add", PATIENT[0], "--role", "patient", "--patient", "P-LIVE",
            "--password-stdin", stdin=PATIENT[1],
        )  # fmt: skip

    env = {
        "SPINESTAB_USER": "doc",
        "SPINESTAB_LIVE_POLL_SECONDS": "30",  # the page must get the prompt by the nudge
    }
    return start_serve("live", env=env, seed=seed).base


def _stream_until_a_prompt(base: str, *, stream: str) -> dict:
    """Send the patient's stream (binary batches) until a batch answers with a prompt."""
    from spinestab.wearable.stream_batch import batch_to_bytes

    x, t0 = scripted_stream()
    with httpx.Client(base_url=base, timeout=60) as api:
        login = api.post(
            "/api/v1/auth/login", json={"username": PATIENT[0], "password": PATIENT[1]}
        )
        assert login.status_code == 200, login.text
        headers = {
            "X-CSRF-Token": login.json()["csrf_token"],
            "content-type": "application/octet-stream",
        }
        for batch in _batches(x, t0, seconds=300):
            response = api.post(
                "/api/v1/me/stream",
                content=batch_to_bytes(batch, counts_per_unit=1000.0),
                params={"stream": stream, "units": "m/s2", "standing_s": STAND_S},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            sent = [p for p in response.json()["prompts"] if p["status"] == "sent"]
            if sent:
                return sent[0]
    raise AssertionError(f"no prompt in {x.shape[0] / FS:.0f} s of the stream")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_prompt_reaches_the_open_page_over_server_sent_events(
    playwright_browser,
    live_server,
    viewport,
):
    from playwright.sync_api import expect

    size = "phone" if viewport is PHONE else "desktop"
    context = playwright_browser.new_context(viewport=viewport)
    page = context.new_page()
    console = Console(page)
    _login(page, live_server, *PATIENT)
    page.wait_for_url(f"{live_server}/today")
    page.click("text=Keep moving")
    page.wait_for_url(f"{live_server}/moving")
    expect(page.locator("h2#moving-why")).to_have_text("Prompts are on")
    expect(page.locator("#prompt-now")).to_be_hidden()
    _shot(page, f"patient-moving-before-{size}")
    page.wait_for_selector("#prompt-list[data-connected]", state="attached")
    prompt = _stream_until_a_prompt(live_server, stream=f"browser-{size}")
    # no reload: the event stream brings it (the poll is 30 s; the nudge is immediate)
    banner = page.locator("#prompt-now")
    expect(banner).to_be_visible(timeout=10_000)
    expect(banner).to_have_text("Time to keep moving: get up and move for 1 min.")
    first = page.locator("#prompt-list li.new").first
    expect(first).to_contain_text("Time to keep moving")
    assert first.locator("time").get_attribute("datetime") == prompt["due_at"]
    assert "sit up straight" not in page.content().lower()
    _shot(page, f"patient-moving-prompt-{size}")
    assert console.errors == []
    context.close()


def test_the_moving_page_has_no_serious_accessibility_violations(
    playwright_browser,
    live_server,
):
    context = playwright_browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    _login(page, live_server, *PATIENT)
    page.wait_for_url(f"{live_server}/today")
    page.goto(f"{live_server}/moving")
    assert _axe(page) == []
    context.close()
