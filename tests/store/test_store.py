"""The store on SQLite and PostgreSQL: migrations, the 0001 -> 0003 data migration, file
modes, WAL, the artifact store, and clear errors for unusable databases."""

import datetime as dt
import io
import json
import os
import stat

import pytest
from sqlalchemy import inspect, text

from spinestab.errors import InputError, NotFoundError
from spinestab.store import FileArtifactStore, make_engine, migrate, open_store

RECORD_TABLES = {
    "patients",
    "episodes",
    "assessments",
    "history_versions",
    "imaging_studies",
    "muscle_quality_rows",
    "instability_studies",
    "instability_levels",
    "morphometry_studies",
    "morphometry_vertebrae",
    "wearable_recordings",
    "wearable_days",
    "wearable_prompts",
    "profile_snapshots",
    "triage_decisions",
    "plan_versions",
    "session_logs",
    "outcome_values",
    "artifacts",
    "record_files",
    "audit_events",
    "alembic_version",
}


@pytest.fixture
def store():
    """open_store, with every engine disposed after the test."""
    factories = []

    def _open(url):
        factories.append(open_store(url=url))
        return factories[-1]

    yield _open
    for factory in factories:
        factory.kw["bind"].dispose()


def test_migrations_create_every_table_and_one_head(database_url, store):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    factory = store(database_url)
    assert set(inspect(factory.kw["bind"]).get_table_names()) >= RECORD_TABLES
    store(database_url)  # a second start is a no-op
    config = Config()
    config.set_main_option("script_location", "spinestab.store:migrations")
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_the_migrations(database_url, store):
    """The ORM metadata and the migrated schema agree (autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import spinestab.service.models  # noqa: F401  (the web app's tables, migration 0002_service)
    from spinestab.store.models import Base

    engine = store(database_url).kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    relevant = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert relevant == []


def test_0001_database_is_migrated_and_duplicates_kept_marked(database_url):
    """A database written before 0003 (forms stored twice by the old check-then-insert)."""
    engine = make_engine(database_url)
    try:
        migrate(engine, "0001")
        answers = {f"s{i}": 2 for i in range(1, 11)}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO patients (id, pseudonym) VALUES (1, 'P1')"))
            for _ in range(3):
                conn.execute(
                    text(
                        "INSERT INTO assessments (patient_id, instrument, date, answers, scores)"
                        " VALUES (1, 'odi', :d, :a, :s)"
                    ),
                    {"d": dt.date(2024, 1, 2), "a": json.dumps(answers), "s": "{}"},
                )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, content_hash, episode_id FROM assessments ORDER BY id")
            ).all()
        assert [r[0] for r in rows] == ["stored", "duplicate", "duplicate"]
        assert len({r[1] for r in rows}) == 1 and all(r[2] is not None for r in rows)
        from spinestab.record.forms import form_hash

        assert rows[0][1] == form_hash("odi", dt.date(2024, 1, 2), answers)
    finally:
        engine.dispose()


def test_data_folder_and_files_are_private(tmp_path, monkeypatch):
    from spinestab.record import open_record
    from spinestab.settings import Settings

    monkeypatch.setattr(os, "umask", os.umask)  # keep the process umask as it is
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)
        record = open_record(Settings(data_dir=data))
        try:
            ref = record.artifacts.put(b"health data")
            with record.artifacts.local_path(ref.sha256) as path:
                artifact = path
        finally:
            record.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "spinestab.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600
    assert stat.S_IMODE(artifact.parent.stat().st_mode) == 0o700
    for extra in ("-wal", "-shm"):
        wal = data / f"spinestab.sqlite3{extra}"
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path, store):
    factory = store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with factory() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_keeps_a_connection_per_request_thread_open(tmp_path):
    # the web app's 40 request threads each hold a connection: a busy server reuses them
    # (SQLAlchemy's default pool kept 5 and opened and closed the others every time)
    from sqlalchemy import event

    from spinestab.store.db import SQLITE_POOL_SIZE

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    opened: list[object] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    try:
        for _ in range(3):  # three bursts of 40 requests at once
            held = [engine.connect() for _ in range(40)]
            for connection in held:
                connection.close()
        assert len(opened) == 40 <= SQLITE_POOL_SIZE
    finally:
        engine.dispose()


def test_artifact_store(tmp_path):
    store = FileArtifactStore(tmp_path / "artifacts")
    data = os.urandom(3 * (1 << 20) + 7)  # more than one read chunk
    ref = store.put(data)
    assert ref.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert ref.size_bytes == len(data)
    assert store.exists(ref.sha256) and store.get(ref.sha256) == data
    assert store.put(io.BytesIO(data)) == ref  # the same bytes are stored once
    src = tmp_path / "file.bin"
    src.write_bytes(data)
    assert store.put(src) == ref
    assert list(store.stored()) == [ref.sha256]
    with store.open(ref.sha256) as handle:
        assert handle.read(5) == data[:5]
    assert store.verify(ref.sha256)
    assert store.orphans([]) == [ref.sha256] and store.orphans([ref.sha256]) == []
    assert not list((tmp_path / "artifacts").glob(".put-*"))  # no temporary files left
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    with pytest.raises(InputError, match="SHA-256"):
        store.exists("../../etc/passwd")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("foo://", "not a usable database URL"),
        ("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "cannot open the database"),
    ],
)
def test_unusable_database_url_is_a_clear_error(url, fragment):
    # black-box finding: an unreachable or unknown database ended in a SQLAlchemy traceback
    if url.startswith("postgresql"):
        pytest.importorskip("psycopg")
    with pytest.raises(InputError, match=fragment) as info:
        open_store(url=url)
    assert "secret" not in str(info.value)  # the password is never shown


def test_database_errors_never_reach_the_user(database_url, store, capsys):
    """SQL parameters are hidden, and the CLI prints the error's class name only (the
    database's own message can quote the values)."""
    import typer

    from spinestab.cli._common import exit_on_bad_input

    factory = store(database_url)
    with pytest.raises(typer.Exit), exit_on_bad_input(), factory() as session:
        for _ in range(2):
            session.execute(
                text("INSERT INTO patients (pseudonym) VALUES (:p)"), {"p": "secret-answer"}
            )
    err = capsys.readouterr().err
    assert "IntegrityError" in err and "nothing was written" in err
    assert "secret-answer" not in err and "INSERT" not in err
