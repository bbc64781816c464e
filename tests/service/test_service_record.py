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


def _nrs(day: int, pain: int = 3) -> dict:
    return {"instrument": "nrs", "date": f"2026-02-{day:02d}", "answers": {"pain": pain}}


def _held_while_submitting(record, calls):
    """Run ``calls`` in threads while the turn is held, so that they queue up together."""
    turn = turns.sqlite_turn(record.engine)
    assert turn is not None
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with turn:  # the writer waits for the turn while every call is handed over
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(record._write_group._waiting) < len(calls) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # (the first call may be with the writer already)
    for thread in threads:
        thread.join(30)
    return [results[i] for i in range(len(calls))]


def test_concurrent_form_submits_share_a_transaction_and_each_gets_its_own_answer(record):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("grouped writes are for SQLite's one write lock")
    from sqlalchemy import event

    with record.unit_of_work() as uow:
        create_patient(uow, DOC, "P-GROUP", sex="male", birth_year=1980)
    commits: list[int] = []
    event.listen(record.engine, "commit", lambda _connection: commits.append(1))
    calls = [
        (lambda day=day: records.save_form(record, DOC, "P-GROUP", _nrs(day, day % 11)))
        for day in range(1, 13)
    ]
    answers = _held_while_submitting(record, calls)
    assert all(isinstance(a, dict) for a in answers), answers
    assert [a["score"] for a in answers] == [day % 11 for day in range(1, 13)]
    assert len({a["id"] for a in answers}) == 12  # each caller its own stored row
    assert 1 <= len(commits) < 12  # shared transactions, not one per form
    stored = records.timeline(record, DOC, "P-GROUP")["assessments"]
    assert sorted(a["date"] for a in stored) == [f"2026-02-{d:02d}" for d in range(1, 13)]
    assert sorted(a["id"] for a in stored) == sorted(a["id"] for a in answers)


def test_a_refused_form_in_a_shared_transaction_fails_only_its_caller(record):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("grouped writes are for SQLite's one write lock")
    from sqlalchemy import select

    from spinestab.errors import AlreadyStoredError, InputError, NotFoundError
    from spinestab.store.models import AuditEvent

    with record.unit_of_work() as uow:
        create_patient(uow, DOC, "P-MIXED", sex="female", birth_year=1975)
    first = records.save_form(record, DOC, "P-MIXED", _nrs(1))
    bad = {"instrument": "nrs", "date": "2026-02-02", "answers": {"pain": 12}}  # 0-10
    calls = [
        lambda: records.save_form(record, DOC, "P-MIXED", _nrs(3)),
        lambda: records.save_form(record, DOC, "P-MIXED", _nrs(1)),  # stored before
        lambda: records.save_form(record, DOC, "P-MIXED", bad),
        lambda: records.save_form(record, DOC, "P-NOBODY", _nrs(4)),
        lambda: records.save_form(record, DOC, "P-MIXED", _nrs(5)),
    ]
    answers = _held_while_submitting(record, calls)
    assert isinstance(answers[0], dict) and isinstance(answers[4], dict)
    assert isinstance(answers[1], AlreadyStoredError)
    assert isinstance(answers[2], InputError) and "pain" in str(answers[2])
    assert isinstance(answers[3], NotFoundError)
    stored = records.timeline(record, DOC, "P-MIXED")["assessments"]
    assert sorted(a["date"] for a in stored) == ["2026-02-01", "2026-02-03", "2026-02-05"]
    assert first["id"] in {a["id"] for a in stored}
    with record.engine.connect() as connection:
        refused = (
            connection.execute(select(AuditEvent.reason).where(AuditEvent.outcome == "refused"))
            .scalars()
            .all()
        )
    assert len(refused) == 3  # each refusal audited once
    assert sum("NotFoundError" in reason for reason in refused) == 1


def test_an_error_in_a_shared_transaction_runs_the_others_again_alone(record):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("grouped writes are for SQLite's one write lock")
    with record.unit_of_work() as uow:
        create_patient(uow, DOC, "P-RETRY", sex="male", birth_year=1966)

    def broken(uow):  # not a refusal: the shared transaction fails with it
        save_form(uow, DOC, "P-RETRY", _nrs(9), source="test")
        raise RuntimeError("a bug in one call")

    calls = [
        lambda: records.save_form(record, DOC, "P-RETRY", _nrs(7)),
        lambda: record.write(broken),
        lambda: records.save_form(record, DOC, "P-RETRY", _nrs(8)),
    ]
    answers = _held_while_submitting(record, calls)
    assert isinstance(answers[0], dict) and isinstance(answers[2], dict)
    assert isinstance(answers[1], RuntimeError)
    stored = records.timeline(record, DOC, "P-RETRY")["assessments"]
    assert sorted(a["date"] for a in stored) == ["2026-02-07", "2026-02-08"]  # not the 9th


def test_a_failed_shared_commit_audits_each_refusal_once(record, monkeypatch):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("grouped writes are for SQLite's one write lock")
    import contextlib

    from sqlalchemy import select

    from spinestab.errors import InputError
    from spinestab.store.models import AuditEvent

    with record.unit_of_work() as uow:
        create_patient(uow, DOC, "P-DISK", sex="female", birth_year=1970)
    shared_unit_of_work = record.unit_of_work
    failed: list[int] = []

    @contextlib.contextmanager
    def failing_once(*, single_call=False, **options):
        with shared_unit_of_work(single_call=single_call, **options) as uow:
            yield uow
            if not single_call and not failed:  # the shared transaction, before its commit
                failed.append(1)
                raise OSError("disk I/O error")

    monkeypatch.setattr(record, "unit_of_work", failing_once)
    bad = {"instrument": "nrs", "date": "2026-02-02", "answers": {"pain": 12}}
    calls = [
        lambda: records.save_form(record, DOC, "P-DISK", _nrs(1)),
        lambda: records.save_form(record, DOC, "P-DISK", _nrs(3)),
        lambda: records.save_form(record, DOC, "P-DISK", bad),
        lambda: records.save_form(record, DOC, "P-DISK", _nrs(4)),
    ]
    answers = _held_while_submitting(record, calls)
    assert failed == [1]  # a shared transaction failed, its calls were run again alone
    assert isinstance(answers[2], InputError)
    assert all(isinstance(answers[i], dict) for i in (0, 1, 3)), answers
    stored = records.timeline(record, DOC, "P-DISK")["assessments"]
    assert sorted(a["date"] for a in stored) == ["2026-02-01", "2026-02-03", "2026-02-04"]
    with record.engine.connect() as connection:
        refused = connection.execute(
            select(AuditEvent.id).where(AuditEvent.outcome == "refused")
        ).all()
    assert len(refused) == 1  # audited by the call run alone, not also by the failed group


def _slow_group(monkeypatch):
    """A group commit whose first batch takes longer than its callers' WAIT_S (0.3 s)."""
    monkeypatch.setattr(turns.GroupCommit, "WAIT_S", 0.3)
    begun, gate = threading.Event(), threading.Event()
    written: list[str] = []

    def write(rows: list[dict]) -> None:
        begun.set()
        gate.wait(10)  # held until the test opens the gate
        written.extend(r["who"] for r in rows)

    return turns.GroupCommit(write), begun, gate, written


def test_a_caller_that_waits_too_long_takes_back_only_work_not_begun(monkeypatch):
    group, begun, gate, written = _slow_group(monkeypatch)
    outcome: dict[str, str] = {}

    def call(who: str) -> None:
        try:
            group.commit([{"who": who}])
            outcome[who] = "committed"
        except RuntimeError as exc:
            outcome[who] = str(exc)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert begun.wait(10)
    second = threading.Thread(target=call, args=("second",))
    second.start()
    second.join(10)  # not begun after WAIT_S: given up
    assert "nothing done" in outcome["second"]
    gate.set()
    first.join(10)
    assert outcome["first"] == "committed"  # begun: waited for past WAIT_S, not failed
    time.sleep(0.2)
    assert written == ["first"]  # the given-up rows were never written


def test_an_awaiting_caller_takes_back_only_work_not_begun(monkeypatch):
    import asyncio

    group, begun, gate, written = _slow_group(monkeypatch)

    async def both() -> tuple[object, object]:
        first = asyncio.ensure_future(group.submit_async([{"who": "first"}]))
        while not begun.is_set():
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(group.submit_async([{"who": "second"}]))
        late = await asyncio.gather(second, return_exceptions=True)  # gave up after 0.3 s
        gate.set()
        return await first, late[0]

    first, second = asyncio.run(both())
    assert first is None  # begun: awaited past WAIT_S, committed
    assert isinstance(second, RuntimeError) and "nothing done" in str(second)
    time.sleep(0.2)
    assert written == ["first"]
