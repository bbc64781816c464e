"""Background jobs: the worker pool runs registered job functions and records the outcome."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from spinestab.errors import InputError
from spinestab.service.jobs import (
    WorkerPool,
    claim_job,
    recover_interrupted,
    run_job,
    submit_job,
)
from spinestab.service.models import Job
from spinestab.store import session_scope

from .conftest import login, make_settings, seed


def _square(context, params):
    context.progress(0.5, "half way")
    return {"square": params["x"] ** 2}


def _bad_input(context, params):
    raise InputError("mask does not fit the image", source="mask.nii.gz", item="shape")


def _crash(context, params):
    raise RuntimeError("secret answers 1 2 3")


REGISTRY = {"square": _square, "bad": _bad_input, "crash": _crash}


def _submit(sessions, kind, params=None):
    with session_scope(sessions) as session:
        return submit_job(
            session, kind=kind, params=params or {}, actor="doc", patient="P-A", registry=REGISTRY
        ).id


def _wait(client, job_id, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/jobs/{job_id}").json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_pool_runs_jobs_and_reports_result_errors_and_progress(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url), registry=REGISTRY)
    seed(app)
    sessions = app.state.spinestab.sessions
    with TestClient(app) as client:
        login(client, "doc")
        ok, bad, crash = (_submit(sessions, k, {"x": 7}) for k in ("square", "bad", "crash"))
        app.state.spinestab.pool.notify()
        done = _wait(client, ok)
        assert done["status"] == "succeeded" and done["result"] == {"square": 49}
        assert done["progress"] == 1.0 and done["message"] == "half way"
        assert done["finished_at"] >= done["started_at"] >= done["created_at"][:19]
        failed = _wait(client, bad)
        assert failed["status"] == "failed" and failed["result"] is None
        assert failed["errors"] == ["mask.nii.gz, item shape: mask does not fit the image"]
        crashed = _wait(client, crash)
        assert crashed["status"] == "failed"
        assert "RuntimeError" in crashed["errors"][0] and "secret" not in crashed["errors"][0]
        assert client.get("/api/v1/jobs/nope").status_code == 404


def test_unknown_kind_is_refused(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url), registry=REGISTRY)
    try:
        with session_scope(app.state.spinestab.sessions) as session:
            submit_job(session, kind="nope", params={}, actor="x", patient=None, registry=REGISTRY)
    except InputError as exc:
        assert "unknown analysis kind" in str(exc) and "square" in str(exc)
    else:
        raise AssertionError("no error")


def test_a_job_is_claimed_once_by_concurrent_workers(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, job_workers=0), registry=REGISTRY)
    sessions = app.state.spinestab.sessions
    ids = {_submit(sessions, "square", {"x": i}) for i in range(6)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            job_id = claim_job(sessions, worker=name)
            if job_id is None:
                return
            with lock:
                claimed.append(job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)  # each exactly once


def test_same_job_function_runs_outside_the_server(tmp_path, database_url, make_app):
    """run_job needs only a session factory: another process or Dask can call it."""
    app = make_app(make_settings(tmp_path, database_url, job_workers=0), registry=REGISTRY)
    sessions = app.state.spinestab.sessions
    job_id = _submit(sessions, "square", {"x": 3})
    assert claim_job(sessions, worker="elsewhere") == job_id
    assert run_job(sessions, job_id, registry=REGISTRY, settings=None) == "succeeded"
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        assert (job.status, job.result, job.worker) == ("succeeded", {"square": 9}, "elsewhere")


def test_jobs_left_running_by_a_stop_are_failed_at_start(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, job_workers=0), registry=REGISTRY)
    sessions = app.state.spinestab.sessions
    job_id = _submit(sessions, "square", {"x": 2})
    assert claim_job(sessions, worker="killed") == job_id
    assert recover_interrupted(sessions) == 1
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        assert job.status == "failed" and "interrupted" in job.error


def test_pool_stops_cleanly(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, job_workers=0), registry=REGISTRY)
    pool = WorkerPool(app.state.spinestab.sessions, registry=REGISTRY, settings=None, size=2)
    pool.start()
    job_id = _submit(app.state.spinestab.sessions, "square", {"x": 5})
    pool.notify()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with session_scope(app.state.spinestab.sessions) as session:
            if session.get(Job, job_id).status == "succeeded":
                break
        time.sleep(0.05)
    pool.stop()
    with session_scope(app.state.spinestab.sessions) as session:
        assert session.get(Job, job_id).status == "succeeded"
