"""Store round-trips on SQLite and PostgreSQL; one transaction per import; audit trail."""

import datetime as dt

import pytest
from sqlalchemy import inspect, select

from spinestab.clinical import Form, score_form
from spinestab.errors import InputError
from spinestab.store import (
    Assessment,
    AuditEvent,
    add_assessments,
    add_patient,
    get_patient,
    list_patients,
    session_scope,
)


@pytest.fixture
def store():
    """open_store, with every engine disposed after the test."""
    from spinestab.store import open_store

    factories = []

    def _open(url):
        factories.append(open_store(url=url))
        return factories[-1]

    yield _open
    for factory in factories:
        factory.kw["bind"].dispose()


def odi_form(value=2):
    return Form("odi", dt.date(2026, 5, 1), {f"s{i}": value for i in range(1, 11)}, "odi.json")


def test_migrations_create_the_tables(database_url, store):
    factory = store(database_url)
    tables = set(inspect(factory.kw["bind"]).get_table_names())
    assert {"patients", "assessments", "audit_events", "alembic_version"} <= tables
    store(database_url)  # a second start is a no-op


def test_round_trip(database_url, store):
    factory = store(database_url)
    with session_scope(factory) as session:
        add_patient(session, "P-001", sex="female", birth_year=1971, actor="alice")
        form = odi_form()
        add_assessments(session, "P-001", [(form, score_form(form))], actor="alice")
    with session_scope(factory) as session:
        patient = get_patient(session, "P-001")
        assert (patient.sex, patient.birth_year) == ("female", 1971)
        (assessment,) = patient.assessments
        assert assessment.instrument == "odi" and assessment.date == dt.date(2026, 5, 1)
        assert assessment.answers == {f"s{i}": 2 for i in range(1, 11)}
        assert assessment.scores["percent"] == pytest.approx(40.0)
        assert assessment.scores["band"] == "moderate disability"
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.actor, e.action, e.entity) for e in events] == [
            ("alice", "create", "patient"),
            ("alice", "create", "assessment"),
        ]
        assert [p.pseudonym for p in list_patients(session)] == ["P-001"]


def test_failing_import_leaves_nothing_behind(database_url, store):
    factory = store(database_url)
    with session_scope(factory) as session:
        add_patient(session, "P-002")
    form = odi_form()
    with pytest.raises(InputError), session_scope(factory) as session:
        add_assessments(session, "P-002", [(form, score_form(form))])
        add_assessments(session, "P-unknown", [(form, score_form(form))])
    with session_scope(factory) as session:
        assert session.scalars(select(Assessment)).all() == []
        assert [e.entity for e in session.scalars(select(AuditEvent))] == ["patient"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sex": "x"}, "unknown sex"),
        ({"birth_year": 1700}, "implausible birth year"),
        ({"pseudonym": ""}, "invalid pseudonym"),
    ],
)
def test_bad_patient(database_url, store, kwargs, fragment):
    factory = store(database_url)
    kwargs = dict(kwargs)
    pseudonym = kwargs.pop("pseudonym", "P-003")
    with pytest.raises(InputError, match=fragment), session_scope(factory) as session:
        add_patient(session, pseudonym, **kwargs)


def test_duplicate_patient_refused(database_url, store):
    factory = store(database_url)
    with session_scope(factory) as session:
        add_patient(session, "P-004")
    with pytest.raises(InputError, match="already exists"), session_scope(factory) as session:
        add_patient(session, "P-004")


def test_same_form_saved_twice_is_refused(database_url, store):
    # black-box finding: `spinestab score F --save P` twice stored F twice (counted twice)
    factory = store(database_url)
    with session_scope(factory) as session:
        add_patient(session, "P-dup")
        form = odi_form()
        add_assessments(session, "P-dup", [(form, score_form(form))])
    with pytest.raises(InputError, match="already saved"), session_scope(factory) as session:
        add_assessments(session, "P-dup", [(form, score_form(form))])
    with pytest.raises(InputError, match="already saved"), session_scope(factory) as session:
        other = odi_form(3)
        add_assessments(session, "P-dup", [(other, score_form(other)), (other, score_form(other))])
    with session_scope(factory) as session:
        (saved,) = get_patient(session, "P-dup").assessments
        assert saved.answers == form.answers  # the failed imports left nothing behind
        corrected = odi_form(1)  # another form on the same date is still accepted
        add_assessments(session, "P-dup", [(corrected, score_form(corrected))])


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("foo://", "not a usable database URL"),
        ("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "cannot open the database"),
    ],
)
def test_unusable_database_url_is_a_clear_error(url, fragment):
    # black-box finding: an unreachable or unknown database ended in a SQLAlchemy traceback
    from spinestab.store import open_store

    if url.startswith("postgresql"):
        pytest.importorskip("psycopg")
    with pytest.raises(InputError, match=fragment) as info:
        open_store(url=url)
    assert "secret" not in str(info.value)  # the password is never shown
