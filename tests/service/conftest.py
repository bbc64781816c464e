"""Fixtures for the web app: an app on a fresh store (SQLite and PostgreSQL), accounts;
for the browser tests, Debian's Chromium and a real ``spinestab serve``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from spinestab.record import Actor, UnitOfWork, create_patient
from spinestab.service import create_app
from spinestab.service.accounts import add_user
from spinestab.service.settings import ServiceSettings
from spinestab.store import session_scope

DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo"

PASSWORDS = {
    "doc": "clinician pass 1",
    "adm": "administrator 1",
    "pa": "patient a password",
    "pb": "patient b password",
}


def make_settings(tmp_path: Path, database_url: str, **overrides) -> ServiceSettings:
    values = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "job_workers": 1,
        "live_sse_seconds": 1.0,  # a prompts event stream ends (the matrix calls it too)
        "live_poll_seconds": 0.2,
    }
    return ServiceSettings(**(values | overrides))


def seed(app) -> None:
    state = app.state.spinestab
    with session_scope(state.sessions) as session:
        for pseudonym in ("P-A", "P-B"):
            create_patient(
                UnitOfWork(session),
                Actor(username="seed", role="clinician"),
                pseudonym,
                sex="female",
                birth_year=1970,
            )
        session.flush()
        for username, role, patient in (
            ("doc", "clinician", None),
            ("adm", "admin", None),
            ("pa", "patient", "P-A"),
            ("pb", "patient", "P-B"),
        ):
            add_user(
                session,
                username,
                role=role,
                password=PASSWORDS[username],
                patient=patient,
                passwords=state.passwords,
                actor="seed",
            )


def seed_demo_with_accounts(state, accounts, *, today=None) -> None:
    """Seed the bundled demo patients and add accounts ``(name, role, pseudonym)``.

    Each account's password is ``"<name> password 1"``; ``today`` places the demo's dates.
    """
    from spinestab.record.demo import seed_demo

    seed_demo(state.record, **({"today": today} if today is not None else {}))
    with session_scope(state.sessions) as session:
        for name, role, patient in accounts:
            add_user(
                session,
                name,
                role=role,
                password=f"{name} password 1",
                patient=patient,
                passwords=state.passwords,
            )


@pytest.fixture
def service_settings(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    return make_settings(tmp_path, database_url)


@pytest.fixture
def make_app():
    """create_app, with every engine disposed after the test."""
    made = []

    def _make(settings, **kwargs):
        made.append(create_app(settings, **kwargs))
        return made[-1]

    yield _make
    for application in made:
        application.state.spinestab.sessions.kw["bind"].dispose()


@pytest.fixture
def app(service_settings, make_app):
    application = make_app(service_settings)
    seed(application)
    return application


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str | None = None) -> str:
    """Log in through the API; return the CSRF token (the cookie stays in the client)."""
    response = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password or PASSWORDS[username]},
    )
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def demo_form(name: str) -> str:
    return (DEMO / name).read_text(encoding="utf-8")


def form_json(instrument: str, date: str, answers) -> str:
    return json.dumps({"instrument": instrument, "date": date, "answers": answers})


# ------------------------------------------------------------------ browser tests
CHROMIUM = "/usr/bin/chromium"
#: Flags of every browser test's Chromium (no network beyond loopback, no first-run work).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


@contextlib.contextmanager
def chromium(*flags: str) -> Iterator[object]:
    """Debian's headless Chromium through Playwright (never a downloaded browser).

    Skips the test where Chromium or Playwright is missing, and fails it in CI.
    """
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium, see .ci/run)")
        pytest.skip("Chromium not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the playwright package is required in CI (pip install -e '.[dev]')")
        pytest.skip("playwright not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *flags]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def playwright_browser():
    """Chromium without a GPU (the pages' tests; the viewer's use SwiftShader's WebGL2)."""
    with chromium("--disable-gpu") as browser:
        yield browser


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """``spinestab serve`` on a free port with its own data folder, and the CLI beside it.

    ``env`` adds to (or overrides) the environment of both; ``seed(serve)`` runs CLI
    commands (``serve.run(...)``) before the server starts.
    """

    def __init__(
        self,
        folder: Path,
        *,
        env: dict[str, str] | None = None,
        seed: Callable[[Serve], None] | None = None,
    ) -> None:
        self.folder = folder
        self.env = (
            os.environ.copy()
            | {
                "SPINESTAB_DATA_DIR": str(folder / "data"),
                "SPINESTAB_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite3'}",
                "SPINESTAB_ARGON2_TIME_COST": "1",
                "SPINESTAB_ARGON2_MEMORY_KIB": "1024",
                "SPINESTAB_USER": "seed",
            }
            | (env or {})
        )
        self.cli = [sys.executable, "-c", "from spinestab.cli import main; main()"]
        if seed is not None:
            seed(self)
        port = free_port()
        self.log = (folder / "serve.log").open("w")
        self.process = subprocess.Popen(
            [*self.cli, "serve", "--port", str(port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}"
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, (self.folder / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run ``spinestab ARGS`` on the server's store; return its output (it must succeed)."""
        done = subprocess.run(
            [*self.cli, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def start_serve(tmp_path_factory):
    """Start a :class:`Serve`: ``start_serve(name, env=..., seed=...)``; all stopped at the end."""
    started: list[Serve] = []

    def start(name: str, **options: object) -> Serve:
        started.append(Serve(tmp_path_factory.mktemp(name), **options))  # type: ignore[arg-type]
        return started[-1]

    yield start
    for serve in started:
        serve.stop()
