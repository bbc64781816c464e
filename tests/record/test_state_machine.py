"""A Hypothesis state machine over the record (SQLite and PostgreSQL).

Patients, forms, red-flag screens (blocking, routine, negative), histories (acute or not,
deformities known old or not), vertebral morphometries (a wedge and a biconcave deformity, or
normal bodies), plans, approvals, sessions, progressions and retractions in any order.
Invariants after every step:

- no ``active`` or ``draft`` plan while a blocking red flag is open; at most one active plan;
- every write audited: every stored form, history version and plan version has its
  ``create`` event, every plan's status is the ``to`` of its latest status event, and every
  refusal the machine saw is in the trail as ``refused``;

and at the end of every run: restore(export(r)) == r, field by field, for every patient.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from spinestab.errors import InputError
from spinestab.record import (
    Actor,
    approve_plan,
    create_patient,
    make_plan,
    open_record,
    progress_plan,
    retract_assessment,
    save_form,
    save_history,
    save_morphometry,
    save_session_rows,
)
from spinestab.record.archive import export_record, record_rows, restore_record
from spinestab.record.safety import open_red_flags
from spinestab.settings import Settings
from spinestab.store.models import (
    Assessment,
    AuditEvent,
    HistoryVersion,
    Patient,
    PlanVersion,
)
from spinestab.store.morphometry_models import MorphometryStudy

from .conftest import no_flags
from .test_archive import normalise
from .test_morphometry import NORMAL_FILM, WEDGE_FILM, morphometry_file

CLINICIAN = Actor(username="clin", role="clinician")
#: mostly patient A (made at the start), sometimes B (made by a rule, or refused)
PATIENTS = ("A", "A", "A", "B")
BASE = dt.date(2024, 1, 1)
#: red-flag screens: negative, routine only, blocking (emergency), blocking (urgent)
SCREENS = {
    "none": {},
    "routine": {"age_over_70": True},
    "emergency": {"saddle_numbness": True},
    "urgent": {"cancer_history": True},
}
_FILMS: dict[str, Path] = {}


def morphometry(kind: str) -> Path:
    """``morphometry.json`` of a film with deformities (``wedge``) or without (``normal``)."""
    if kind not in _FILMS:
        folder = Path(tempfile.mkdtemp(prefix="spinestab-sm-films-"))
        _FILMS[kind] = morphometry_file(folder, WEDGE_FILM if kind == "wedge" else NORMAL_FILM)
    return _FILMS[kind]


class RecordMachine(RuleBasedStateMachine):
    """Drives the record services; the database is the state, checked by the invariants."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="spinestab-sm-"))
        if self.backend == "sqlite":
            url = f"sqlite:///{self.tmp / 'db.sqlite3'}"
        else:
            from conftest import _postgres_url

            url = _postgres_url()
        self.url = url
        self.record = open_record(Settings(data_dir=self.tmp / "data", database_url=url))
        self.refusals = 0
        self.day = itertools.count(1)

    # ------------------------------------------------------------------ helpers
    def call(self, fn, *args, **kwargs):
        try:
            with self.record.unit_of_work() as uow:
                return fn(uow, CLINICIAN, *args, **kwargs)
        except InputError:
            self.refusals += 1
            return None

    def next_date(self) -> str:
        return (BASE + dt.timedelta(days=next(self.day))).isoformat()

    # ------------------------------------------------------------------ rules
    @initialize(approve=st.booleans())
    def first_patient(self, approve):
        """Patient A with an NRS, a negative complete screen and plan version 1."""
        self.call(create_patient, "A", birth_year=1950)
        nrs = {"instrument": "nrs", "date": self.next_date(), "answers": {"pain": 5}}
        self.call(save_form, "A", nrs)
        screen = {"instrument": "redflags", "date": self.next_date(), "answers": no_flags()}
        self.call(save_form, "A", screen)
        self.call(make_plan, "A")
        if approve:
            self.call(approve_plan, "A", version=1)

    @rule(name=st.sampled_from(("A", "B")))
    def add_patient(self, name):
        self.call(create_patient, name, birth_year=1950)

    @rule(
        name=st.sampled_from(PATIENTS),
        kind=st.sampled_from(
            ("nrs", "nrs_same_day", "startback", "none", "routine", "emergency", "urgent")
        ),
        value=st.integers(0, 10),
    )
    def form(self, name, kind, value):
        """A questionnaire: NRS (sometimes on a date already used), STarT Back, or a
        red-flag screen (negative, routine only, emergency, urgent)."""
        if kind.startswith("nrs"):
            date = BASE.isoformat() if kind == "nrs_same_day" else self.next_date()
            doc = {"instrument": "nrs", "date": date, "answers": {"pain": value}}
        elif kind == "startback":
            answers = {f"q{i}": value % 2 for i in range(1, 9)} | {"q9": 2}
            doc = {"instrument": "startback", "date": self.next_date(), "answers": answers}
        else:
            answers = no_flags() | SCREENS[kind]
            doc = {"instrument": "redflags", "date": self.next_date(), "answers": answers}
        self.call(save_form, name, doc)

    @rule(
        name=st.sampled_from(PATIENTS),
        age=st.integers(20, 80),
        weeks=st.sampled_from((2, 20)),
        known_old=st.booleans(),
    )
    def history(self, name, age, weeks, known_old):
        """A history: pain acute (2 weeks) or not; the film's deformities known old or not."""
        data = {"age": age, "pain_duration_weeks": weeks}
        if known_old:
            data["known_old_deformities"] = ["L1", "L2"]
        self.call(save_history, name, data)

    @rule(name=st.sampled_from(PATIENTS), kind=st.sampled_from(("wedge", "normal")))
    def morphometry(self, name, kind):
        """A vertebral morphometry (a new deformity with acute pain blocks live plans)."""
        self.call(save_morphometry, name, morphometry(kind))

    @rule(name=st.sampled_from(PATIENTS))
    def plan(self, name):
        self.call(make_plan, name)

    @rule(name=st.sampled_from(PATIENTS), version=st.integers(1, 6))
    def approve(self, name, version):
        self.call(approve_plan, name, version=version)

    @rule(name=st.sampled_from(PATIENTS), pain=st.integers(0, 8))
    def sessions(self, name, pain):
        with self.record.unit_of_work() as uow:
            active = uow.session.scalars(
                select(PlanVersion)
                .join(Patient, Patient.id == PlanVersion.patient_id)
                .where(Patient.pseudonym == name, PlanVersion.status == "active")
            ).one_or_none()
            exercises = [e["id"] for e in active.data["exercises"]] if active else ["walking"]
        date = self.next_date()
        rows = [
            {"date": date, "exercise": ex, "done": True, "sets": 2, "pain_during": pain}
            for ex in exercises[:3]
        ]
        self.call(save_session_rows, name, rows)

    @rule(name=st.sampled_from(PATIENTS))
    def progress(self, name):
        self.call(progress_plan, name)

    @rule(name=st.sampled_from(PATIENTS), pick=st.integers(0, 20))
    def retract(self, name, pick):
        with self.record.unit_of_work() as uow:
            ids = uow.session.scalars(
                select(Assessment.id)
                .join(Patient, Patient.id == Assessment.patient_id)
                .where(Patient.pseudonym == name)
                .order_by(Assessment.id)
            ).all()
        self.call(retract_assessment, name, ids[pick % len(ids)] if ids else 10_000)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def no_live_plan_while_a_blocking_flag_is_open(self):
        with self.record.unit_of_work() as uow:
            for patient in uow.session.scalars(select(Patient)):
                statuses = uow.session.scalars(
                    select(PlanVersion.status).where(PlanVersion.patient_id == patient.id)
                ).all()
                assert statuses.count("active") <= 1
                if any(f.blocking for f in open_red_flags(uow, patient)):
                    assert not {"active", "draft"} & set(statuses), statuses

    @invariant()
    def every_write_audited(self):
        with self.record.unit_of_work() as uow:
            s = uow.session
            events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            created = {(e.entity, e.entity_id) for e in events if e.action == "create"}
            for entity, model in (
                ("assessment", Assessment),
                ("history", HistoryVersion),
                ("plan", PlanVersion),
                ("patient", Patient),
                ("morphometry", MorphometryStudy),
            ):
                for row_id in s.scalars(select(model.id)):
                    assert (entity, row_id) in created, (entity, row_id)
            for plan in s.scalars(select(PlanVersion)):
                moves = [
                    e.detail["to"]
                    for e in events
                    if e.entity == "plan" and e.entity_id == plan.id and e.action == "update"
                ]
                first = "blocked" if not moves and plan.status == "blocked" else "draft"
                assert (moves[-1] if moves else first) == plan.status
            assert sum(e.outcome == "refused" for e in events) == self.refusals

    def teardown(self):
        try:
            self.check_export_restore()
        finally:
            self.record.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self.backend != "sqlite":
                from conftest import _drop_postgres

                _drop_postgres(self.url)

    def check_export_restore(self):
        with self.record.unit_of_work() as uow:
            names = uow.session.scalars(select(Patient.pseudonym).order_by(Patient.id)).all()
        for name in names[:1]:  # patient A: the one the rules mostly act on
            target = open_record(
                Settings(
                    data_dir=self.tmp / f"restore-{name}",
                    database_url=f"sqlite:///{self.tmp / f'restore-{name}.sqlite3'}",
                )
            )
            try:
                path = self.tmp / f"{name}.zip"
                with self.record.unit_of_work() as uow:
                    export_record(uow, CLINICIAN, name, path)
                with target.unit_of_work() as uow:
                    restore_record(uow, CLINICIAN, path)
                with zipfile.ZipFile(path) as archive:
                    import json

                    original = json.loads(archive.read("record.json"))
                with target.unit_of_work() as uow:
                    patient = uow.session.scalars(select(Patient)).one()
                    restored = record_rows(uow, patient)
                restored["audit_events"] = restored["audit_events"][:-1]  # the restore event
                assert normalise(original) == normalise(restored)
            finally:
                target.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_record_state_machine(backend):
    if backend == "postgresql":
        from conftest import _postgres_url

        _postgres_url()  # skips (or fails in CI) without a server

    class Machine(RecordMachine):
        pass

    Machine.backend = backend
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=40 if backend == "sqlite" else 10,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
