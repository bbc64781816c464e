"""Reads in a read transaction, audited afterwards (``Record.read_unit_of_work``).

The truths: a read gives what the same read in a write unit of work gives (the old path);
every read and every refused read leaves its audit row; no read is handed out when its
audit row cannot be written; a read does not wait for SQLite's write lock (another writer
holds it meanwhile) and its audit row still arrives; a read unit of work cannot change the
record; the timeline takes the same number of queries however many studies it holds.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, insert, select

from spinestab.errors import NotFoundError, RefusedError
from spinestab.record import (
    Actor,
    approve_plan,
    create_patient,
    list_uploads,
    make_plan,
    progress_plan,
    save_form,
    save_imaging,
    save_sessions_file,
    show_record,
)
from spinestab.store.models import AuditEvent, Patient

from .conftest import CLINICIAN
from .test_services import FHR, seed_fhr


def audit_rows(record) -> list[tuple]:
    with record.unit_of_work() as uow:
        return [
            (e.actor, e.action, e.entity, e.outcome, e.patient_id)
            for e in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_a_read_gives_what_the_write_transaction_gave(record):
    seed_fhr(record)
    with record.unit_of_work() as uow:
        make_plan(uow, CLINICIAN, "P1")
        approve_plan(uow, CLINICIAN, "P1", version=1)
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
        progress_plan(uow, CLINICIAN, "P1")  # version 2 names its previous version
        save_imaging(uow, CLINICIAN, "P1", FHR / "muscle_quality.csv", options={"repeat": 1})
    with record.unit_of_work() as uow:
        expected = show_record(uow, CLINICIAN, "P1").model_dump(mode="json")
        expected_uploads = [u.model_dump(mode="json") for u in list_uploads(uow, CLINICIAN, "P1")]
    with record.read_unit_of_work() as uow:
        got = show_record(uow, CLINICIAN, "P1").model_dump(mode="json")
        got_uploads = [u.model_dump(mode="json") for u in list_uploads(uow, CLINICIAN, "P1")]
    assert got == expected
    assert got_uploads == expected_uploads
    assert [p["previous_version"] for p in got["plans"]] == [None, 1]
    assert len(got["imaging"]) == 2 and got["imaging"][0]["files"]
    assert got["wearable"][0]["days"] and got["assessments"] and got["sessions"]


def test_every_read_and_refused_read_is_audited(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", sex="male", birth_year=1970)
        pid = uow.session.scalar(select(Patient.id).where(Patient.pseudonym == "P1"))
    before = len(audit_rows(record))
    with record.read_unit_of_work() as uow:
        show_record(uow, CLINICIAN, "P1")
        list_uploads(uow, CLINICIAN, "P1")
    rows = audit_rows(record)[before:]
    assert rows == [
        ("alice", "read", "record", "ok", pid),
        ("alice", "read", "upload", "ok", pid),
    ]
    other = Actor(username="pat", role="patient", patient="P2")
    with pytest.raises(RefusedError), record.read_unit_of_work() as uow:
        show_record(uow, other, "P1")
    with pytest.raises(NotFoundError), record.read_unit_of_work() as uow:
        show_record(uow, CLINICIAN, "P-NONE")
    refused = audit_rows(record)[before + 2 :]
    assert refused == [
        ("pat", "read", "record", "refused", pid),
        ("alice", "read", "record", "refused", None),
    ]


def test_no_read_is_handed_out_when_its_audit_row_cannot_be_written(record, monkeypatch):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", sex="male", birth_year=1970)
    before = len(audit_rows(record))

    def broken(rows):
        raise OSError("disk full")

    monkeypatch.setattr(record, "write_audit_rows", broken)
    got = []
    with pytest.raises(OSError), record.read_unit_of_work() as uow:
        got.append(show_record(uow, CLINICIAN, "P1"))
    # the block's result exists inside the block only; the caller's `with` raised
    monkeypatch.undo()
    assert len(audit_rows(record)) == before


def test_a_read_unit_of_work_cannot_change_the_record(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", sex="male", birth_year=1970)
    form = {"instrument": "nrs", "date": "2026-01-05", "answers": {"pain": 3}}
    with pytest.raises(RuntimeError, match="read unit of work"), record.read_unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", form, source="test")
    with record.read_unit_of_work() as uow:
        assert show_record(uow, CLINICIAN, "P1").assessments == []


def test_a_read_does_not_wait_for_the_write_lock(record, tmp_path):
    if record.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one write lock")
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", sex="male", birth_year=1970)
    before = len(audit_rows(record))
    writer = record.factory()  # BEGIN IMMEDIATE: another writer holds the lock
    writer.execute(
        insert(AuditEvent).values(actor="writer", action="create", entity="test", outcome="ok")
    )
    read_done = threading.Event()
    result: dict = {}

    def read() -> None:
        with record.read_unit_of_work() as uow:
            result["timeline"] = show_record(uow, CLINICIAN, "P1")
            read_done.set()  # the whole read ran while the writer held the lock
        result["audited"] = True

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert read_done.wait(20), "the read waited for the write lock"
        assert "audited" not in result  # its audit row waits for the lock, as it must
    finally:
        writer.commit()
        writer.close()
        reader.join(30)
    assert result["audited"] and result["timeline"].patient.pseudonym == "P1"
    rows = audit_rows(record)[before:]
    assert [r[:3] for r in rows] == [("writer", "create", "test"), ("alice", "read", "record")]


def _count_selects(record, pseudonym: str) -> int:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(record.engine, "before_cursor_execute", count)
    try:
        with record.read_unit_of_work() as uow:
            show_record(uow, CLINICIAN, pseudonym)
    finally:
        event.remove(record.engine, "before_cursor_execute", count)
    return len(statements)


def test_the_timeline_takes_the_same_queries_however_many_studies(record):
    seed_fhr(record, "P1")
    seed_fhr(record, "P2")
    with record.unit_of_work() as uow:
        for i in range(4):
            save_imaging(uow, CLINICIAN, "P2", FHR / "muscle_quality.csv", options={"repeat": i})
        make_plan(uow, CLINICIAN, "P2")
        make_plan(uow, CLINICIAN, "P2")
    assert _count_selects(record, "P2") == _count_selects(record, "P1")
    with record.read_unit_of_work() as uow:
        assert len(show_record(uow, CLINICIAN, "P2").imaging) == 5


def test_audit_rows_keep_their_detail(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", sex="male", birth_year=1970)
    with record.read_unit_of_work() as uow:
        list_uploads(uow, CLINICIAN, "P1")
    with record.unit_of_work() as uow:
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (last.action, last.entity, last.detail) == ("read", "upload", {"count": 0})
        assert last.at is not None and last.role == "clinician"
