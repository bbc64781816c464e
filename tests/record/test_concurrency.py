"""Real processes at once: first start on a new database, one form saved by 8 writers,
8 writers of different rows, and SIGKILL during a large import (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from spinestab.record import create_patient, open_record
from spinestab.settings import Settings
from spinestab.store.models import Assessment

from .conftest import CLINICIAN, DEMO_PATIENTS, form

WRITERS = 8
CTX = multiprocessing.get_context("fork")


def _settings(url: str, data_dir: str) -> Settings:
    return Settings(data_dir=Path(data_dir), database_url=url)


def _first_start(url, data_dir, barrier, results):
    barrier.wait(timeout=60)
    try:
        open_record(_settings(url, data_dir)).close()
        results.put("ok")
    except BaseException as exc:  # reported to the parent
        results.put(f"{type(exc).__name__}: {exc}")


def _save_form(url, data_dir, path, barrier, results):
    from spinestab.errors import AlreadyStoredError
    from spinestab.record import Actor, save_form_file

    record = open_record(_settings(url, data_dir))
    try:
        barrier.wait(timeout=60)
        try:
            with record.unit_of_work() as uow:
                save_form_file(uow, Actor(username="w", role="clinician"), "P1", path)
            results.put("stored")
        except AlreadyStoredError:
            results.put("already stored")
        except BaseException as exc:
            results.put(f"{type(exc).__name__}: {exc}")
    finally:
        record.close()


def _save_many(url, data_dir, writer, count, barrier, results):
    from spinestab.record import Actor, save_form

    record = open_record(_settings(url, data_dir))
    try:
        barrier.wait(timeout=60)
        stored = 0
        for i in range(count):
            day = f"2024-{1 + writer:02d}-{1 + i:02d}"
            with record.unit_of_work() as uow:
                save_form(
                    uow,
                    Actor(username=f"w{writer}", role="clinician"),
                    "P1",
                    form("nrs", day, {"pain": i % 11}),
                )
            stored += 1
        results.put(stored)
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        record.close()


def _run(target, args_of) -> list:
    barrier = CTX.Barrier(WRITERS)
    results = CTX.Queue()
    procs = [
        CTX.Process(target=target, args=(*args_of(i), barrier, results)) for i in range(WRITERS)
    ]
    for p in procs:
        p.start()
    out = [results.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return out


def test_eight_processes_first_start_a_new_database(database_url, tmp_path):
    out = _run(_first_start, lambda i: (database_url, str(tmp_path / "data")))
    assert out == ["ok"] * WRITERS
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "spinestab.store:migrations")
    heads = list(ScriptDirectory.from_config(config).get_heads())
    record = open_record(_settings(database_url, str(tmp_path / "data")))
    try:
        with record.unit_of_work() as uow:
            versions = uow.session.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == heads  # the one head, whatever its name
    finally:
        record.close()


def test_eight_concurrent_saves_of_one_form_store_exactly_one(database_url, tmp_path):
    settings = _settings(database_url, str(tmp_path / "data"))
    with open_record(settings) as record, record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    path = DEMO_PATIENTS / "functional_high_risk" / "odi.json"
    out = _run(_save_form, lambda i: (database_url, str(tmp_path / "data"), str(path)))
    assert sorted(out) == ["already stored"] * (WRITERS - 1) + ["stored"]
    with open_record(settings) as record, record.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Assessment)) == 1


def test_eight_writers_of_different_rows_lose_none(database_url, tmp_path):
    settings = _settings(database_url, str(tmp_path / "data"))
    with open_record(settings) as record, record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    per_writer = 6
    out = _run(_save_many, lambda i: (database_url, str(tmp_path / "data"), i, per_writer))
    assert out == [per_writer] * WRITERS
    with open_record(settings) as record, record.unit_of_work() as uow:
        stored = uow.session.scalar(select(func.count()).select_from(Assessment))
    assert stored == WRITERS * per_writer


def _big_import_folder(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        day = f"20{10 + i // 300}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}"
        (folder / f"nrs_{i:04d}.json").write_text(
            json.dumps(form("nrs", day, {"pain": i % 11})), encoding="utf-8"
        )
    return folder


@pytest.mark.slow
def test_sigkill_during_a_large_import_leaves_all_or_nothing(database_url, tmp_path):
    """SIGKILL at several moments of one large import: each time the record holds either
    none or all of its forms, the database is whole, and the import then succeeds."""
    data = tmp_path / "data"
    settings = _settings(database_url, str(data))
    n = 240
    folder = _big_import_folder(tmp_path / "forms", n)
    with open_record(settings) as record, record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    env = os.environ | {
        "SPINESTAB_DATA_DIR": str(data),
        "SPINESTAB_DATABASE_URL": database_url,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    command = [sys.executable, "-c", "from spinestab.cli import main; main()"]
    command += ["record", "import", "P1", str(folder)]
    found = []
    for delay in (1.0, 2.0, 3.5):
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with open_record(settings) as record, record.unit_of_work() as uow:
            count = uow.session.scalar(select(func.count()).select_from(Assessment))
            if database_url.startswith("sqlite"):
                assert uow.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        found.append(count)
        assert count in (0, n)
        if count == n:
            break
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    with open_record(settings) as record, record.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Assessment)) == n
    assert done.returncode == 0 or "already stored" in done.stdout, done.stderr
