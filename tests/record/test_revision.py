"""The record's revision (``patients.revision``, spinestab.record.revision).

The truths: a write unit of work that changes a patient's record moves that patient's
revision on, and only theirs; in the same transaction (a rolled-back write moves nothing);
reads and their audit rows move nothing; a write whose patient is not known moves every
patient's on; a read sees the revision of the snapshot it reads.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from spinestab.record import create_patient, record_revision, save_form, show_record
from spinestab.store.models import Patient

from .conftest import CLINICIAN, form


def revisions(record) -> dict[str, int]:
    with record.read_unit_of_work() as uow:
        return dict(uow.session.execute(select(Patient.pseudonym, Patient.revision)).all())


@pytest.fixture
def two(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "R-1", sex="female", birth_year=1970)
        create_patient(uow, CLINICIAN, "R-2", sex="male", birth_year=1980)
    return record


def test_a_write_moves_its_patients_revision_only(two):
    start = revisions(two)
    with two.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "R-1", form("nrs", "2026-01-05", {"pain": 5}), source="t")
    after = revisions(two)
    assert after["R-1"] == start["R-1"] + 1 and after["R-2"] == start["R-2"]
    with two.read_unit_of_work() as uow:
        assert record_revision(uow, CLINICIAN, "R-1")[1] == after["R-1"]


def test_reads_and_their_audit_rows_move_nothing(two):
    start = revisions(two)
    for _ in range(3):
        with two.read_unit_of_work() as uow:
            show_record(uow, CLINICIAN, "R-1")
    assert revisions(two) == start


def test_a_rolled_back_write_moves_nothing(two):
    start = revisions(two)
    with pytest.raises(RuntimeError), two.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "R-2", form("nrs", "2026-01-06", {"pain": 4}), source="t")
        raise RuntimeError("fails after the write")
    assert revisions(two) == start
    with two.read_unit_of_work() as uow:
        assert all(
            a.date.isoformat() != "2026-01-06"
            for a in show_record(uow, CLINICIAN, "R-2").assessments
        )


def test_a_write_naming_no_patient_moves_every_revision(two):
    start = revisions(two)
    with two.unit_of_work() as uow:  # a statement, no patient locked: whose it is is unknown
        uow.session.execute(update(Patient).where(Patient.pseudonym == "R-2").values(sex="female"))
    after = revisions(two)
    assert all(after[p] == start[p] + 1 for p in start)


def test_a_read_sees_its_snapshots_revision(two):
    with two.read_unit_of_work() as uow:
        _, seen = record_revision(uow, CLINICIAN, "R-1")
        timeline = show_record(uow, CLINICIAN, "R-1")
    assert seen == revisions(two)["R-1"] and timeline.patient.pseudonym == "R-1"
