"""The web app's record: on SQLite, the process's units of work take turns.

The truths: every concurrent save is stored exactly once and none fails with "database is
locked"; a turn held too long (beyond SQLite's busy timeout) does not block the others,
which fall back to waiting on SQLite itself.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from spinestab.record import Actor, create_patient, save_form
from spinestab.service import records, turns

DOC = Actor(username="doc", role="clinician")


@pytest.fixture
def record(app):
    return app.state.spinestab.record


def test_concurrent_units_of_work_all_succeed_once_each(record):
    assert isinstance(record, turns.ServiceRecord)
    with record.unit_of_work() as uow:
        create_patient(uow, DOC, "P-TURNS", sex="male", birth_year=1980)

    def save(i: int) -> str:
        form = {"instrument": "nrs", "date": f"2026-01-{i + 1:02d}", "answers": {"pain": i % 11}}
        with record.unit_of_work() as uow:
            save_form(uow, DOC, "P-TURNS", form, source="test")
        # a read in its own unit of work (audited: a write too) between the saves
        return records.timeline(record, DOC, "P-TURNS")["patient"]["pseudonym"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(save, range(24)))
    assert done == ["P-TURNS"] * 24
    stored = records.timeline(record, DOC, "P-TURNS")["assessments"]
    assert sorted(a["date"] for a in stored) == [f"2026-01-{i + 1:02d}" for i in range(24)]
    turn = turns.sqlite_turn(record.engine)
    if record.engine.dialect.name == "sqlite":
        assert turn is not None and turn.acquire(blocking=False)  # released by every one
        turn.release()
    else:
        assert turn is None  # PostgreSQL: no turns, its own row locks


def test_a_turn_held_too_long_falls_back_to_sqlite_waiting(record, monkeypatch):
    turn = turns.sqlite_turn(record.engine)
    if turn is None:
        pytest.skip("turns are for SQLite only")
    monkeypatch.setattr("spinestab.store.db.BUSY_TIMEOUT_S", 0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # holds the turn, but no transaction
        with turn:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with record.unit_of_work() as uow:
            create_patient(uow, DOC, "P-LATE", sex="female", birth_year=1990)
        assert holder.is_alive()  # done while the turn was still held, not after it
    finally:
        release.set()
        holder.join(30)
    assert records.timeline(record, DOC, "P-LATE")["patient"]["pseudonym"] == "P-LATE"


def test_reads_that_end_together_commit_their_audit_rows_together(record):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("group commit is for SQLite's one write lock")
    from sqlalchemy import event, func, select

    from spinestab.store.models import AuditEvent

    commits: list[int] = []
    event.listen(record.engine, "commit", lambda _connection: commits.append(1))
    turn = turns.sqlite_turn(record.engine)
    assert turn is not None

    def row(i: int) -> dict:
        return {"actor": f"reader{i}", "role": "clinician", "action": "read", "entity": "t",
                "entity_id": i, "patient_id": None, "outcome": "ok", "reason": None,
                "detail": None}  # fmt: skip

    def read(i: int) -> int:
        record.write_audit_rows([row(i), row(i)])
        # returned: this read's rows are committed (seen by a new connection)
        with record.engine.connect() as connection:
            query = select(func.count()).where(AuditEvent.actor == f"reader{i}")
            return int(connection.execute(query).scalar_one())

    with ThreadPoolExecutor(max_workers=16) as pool:
        with turn:  # the writer waits for the turn while all 16 reads hand their rows over
            futures = [pool.submit(read, i) for i in range(16)]
            deadline = time.monotonic() + 10
            while len(record._audit_group._waiting) < 15 and time.monotonic() < deadline:
                time.sleep(0.01)  # (the first read's rows may be with the writer already)
        seen = [f.result(timeout=30) for f in futures]
    assert seen == [2] * 16
    assert 1 <= len(commits) < 16  # shared transactions, not one per read


def test_a_failed_group_commit_fails_exactly_the_callers_whose_rows_fail():
    written: list[str] = []
    gate = threading.Event()

    def write(rows: list[dict]) -> None:  # all or nothing, as one transaction
        gate.wait(5)
        if any(r["who"] == "bad" for r in rows):
            raise ValueError("cannot write a bad row")
        written.extend(r["who"] for r in rows)

    group = turns.GroupCommit(write)
    results: dict[str, str] = {}

    def call(who: str) -> None:
        try:
            group.commit([{"who": who}])
            results[who] = "ok"
        except ValueError:
            results[who] = "failed"

    callers = [threading.Thread(target=call, args=(w,)) for w in ("a", "b", "bad", "c", "d")]
    for caller in callers:
        caller.start()
    gate.set()
    for caller in callers:
        caller.join(10)
    assert results == {"a": "ok", "b": "ok", "bad": "failed", "c": "ok", "d": "ok"}
    assert sorted(written) == ["a", "b", "c", "d"]
