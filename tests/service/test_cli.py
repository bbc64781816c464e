"""``spinestab user add`` and ``spinestab serve`` (start-up checks and a real server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from spinestab.cli import app as cli

runner = CliRunner()


@pytest.fixture
def env(isolated_settings, monkeypatch):
    monkeypatch.setenv("SPINESTAB_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("SPINESTAB_ARGON2_TIME_COST", "1")
    assert runner.invoke(cli, ["patient", "add", "P-1"]).exit_code == 0
    return isolated_settings


def test_user_add_reads_the_password_from_stdin_only(env):
    result = runner.invoke(
        cli,
        ["user", "add", "anna", "--role", "clinician", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "added clinician account anna" in result.output
    no_stdin = runner.invoke(cli, ["user", "add", "bob", "--role", "clinician"])
    assert no_stdin.exit_code == 2 and "standard input" in no_stdin.output
    listed = runner.invoke(cli, ["user", "list"])
    assert "anna" in listed.output and "bob" not in listed.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "patient"], "a long enough password", "needs the patient's pseudonym"),
        (["--role", "patient", "--patient", "P-404"], "a long enough password", "unknown patient"),
        (["--role", "clinician", "--patient", "P-1"], "a long enough password", "only a patient"),
        (["--role", "nurse"], "a long enough password", "Invalid value for '--role'"),
        (["--role", "clinician"], "short", "password length"),
    ],
)
def test_user_add_bad_input_is_a_clear_error(env, args, stdin, message):
    result = runner.invoke(cli, ["user", "add", "zed", *args, "--password-stdin"], input=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert "zed" not in runner.invoke(cli, ["user", "list"]).output


def test_patient_account_is_tied_to_its_pseudonym(env):
    result = runner.invoke(
        cli,
        ["user", "add", "pat", "--role", "patient", "--patient", "P-1", "--password-stdin"],
        input="a long enough password",
    )
    assert result.exit_code == 0, result.output
    assert "P-1" in runner.invoke(cli, ["user", "list"]).output


def test_production_refuses_without_secret_and_with_demo_accounts(env, monkeypatch):
    result = runner.invoke(cli, ["serve", "--production", "--port", "1"])
    assert result.exit_code == 2
    assert "no secret configured" in result.output
    monkeypatch.setenv("SPINESTAB_SECRET_KEY", "s" * 48)
    from spinestab.service.accounts import add_user
    from spinestab.service.security import Passwords
    from spinestab.service.settings import ServiceSettings
    from spinestab.store import store_session

    with store_session(ServiceSettings()) as session:
        add_user(
            session,
            "demo-clinician",
            role="clinician",
            password="demo password 1",
            passwords=Passwords(time_cost=1, memory_kib=1024),
            is_demo=True,
        )
    result = runner.invoke(cli, ["serve", "--production", "--port", "1"])
    assert result.exit_code == 2
    assert "demo accounts exist (demo-clinician)" in result.output
    assert "no secret" not in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_on_a_real_port(env, tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from spinestab.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        assert response.json()["status"] == "ok"
        openapi = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").json()
        assert "/api/v1/auth/login" in openapi["paths"]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output
    assert "P-1" not in output


def test_serve_demo_creates_demo_accounts_that_log_in(env, tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from spinestab.cli import main; main()",
            "serve",
            "--demo",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            login = client.post(
                "/api/v1/auth/login",
                json={"username": "demo-patient", "password": "demo-patient-pass"},
            )
            assert login.status_code == 200 and login.json()["patient"] == "demo-001"
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "log in as demo-clinician with password demo-clinician-pass" in output
    # each account on one line (no wrap at the pipe's 80 columns): easy to copy
    wanted = "log in as demo-patient with password demo-patient-pass  (patient of demo-001)"
    assert wanted in [line.strip() for line in output.splitlines()]
    refused = runner.invoke(cli, ["serve", "--production", "--demo"])
    assert refused.exit_code == 2 and "exclude each other" in refused.output


def test_demo_patient_with_a_plan_sees_it(app):
    """``make run``: after ``spinestab demo`` seeded the record, the demo account of the
    patient with an approved plan logs in and gets that plan (exercises included)."""
    from fastapi.testclient import TestClient

    from spinestab.record.demo import seed_demo
    from spinestab.service.demo import seed_demo_accounts
    from spinestab.store import session_scope

    state = app.state.spinestab
    seed_demo(state.record)
    with session_scope(state.sessions) as session:
        names = [a.username for a in seed_demo_accounts(session, passwords=state.passwords)]
    assert names == ["demo-clinician", "demo-patient", "demo-patient-plan"]
    with TestClient(app) as client:
        answer = client.post(
            "/api/v1/auth/login",
            json={"username": "demo-patient-plan", "password": "demo-patient-plan-pass"},
        )
        assert answer.status_code == 200 and answer.json()["patient"] == "functional_high_risk"
        plan = client.get("/api/v1/me/plan").json()
        assert plan["status"] == "active" and plan["exercises"]
        assert client.get("/today").status_code == 200
