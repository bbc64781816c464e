"""Engine and session factory; Alembic migrations applied at start, under a lock.

SQLite (the default, in the user's data folder) runs in WAL mode with a busy timeout and
``synchronous=NORMAL`` (no fsync per commit; see :data:`SQLITE_SYNCHRONOUS`).
Transactions start with ``BEGIN DEFERRED``; the record's units of work (which read, then
write) start with ``BEGIN IMMEDIATE`` (:data:`IMMEDIATE`), so writers queue for the write
lock instead of failing half-way and never meet a stale snapshot. The database file is
created with mode 0600 and its folder with 0700. PostgreSQL runs the migrations under an
advisory lock; SQLite under a file lock beside the database, so that any number of
processes may start on a new database at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from spinestab.settings import Settings, get_settings

__all__ = [
    "BUSY_TIMEOUT_S",
    "IMMEDIATE",
    "SQLITE_POOL_SIZE",
    "make_engine",
    "migrate",
    "open_store",
    "private_dir",
    "session_scope",
    "sqlite_path",
    "store_session",
]

#: How long an SQLite writer waits for the write lock before giving up (seconds).
BUSY_TIMEOUT_S = 60.0
#: SQLite ``synchronous`` level of every connection (the database runs in WAL mode).
SQLITE_SYNCHRONOUS = "NORMAL"
#: SQLite connections kept open per engine. The web app runs up to 40 requests at once
#: (anyio's worker threads), each with a connection; SQLAlchemy's default of 5 (and 10 more
#: opened and closed again) made a busy server open and close a connection, with its
#: pragmas, for most requests. An idle SQLite connection costs a file handle and its page
#: cache (filled only as pages are read).
SQLITE_POOL_SIZE = 48
#: Key of the PostgreSQL advisory lock held while migrating ("spinestab" in ASCII digits).
_PG_MIGRATION_LOCK = 0x5350494E45


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing, and make it readable by its owner only.

    The mode of a folder that exists already is set to 0700 only when the current user owns
    it (health data: not readable by other local users).
    """
    path = Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o700)
    return path


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; make an existing one 0600."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def sqlite_path(url: str) -> Path | None:
    """Return the file of an SQLite URL, or None (another backend, or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off: SQLAlchemy's "begin" event
    # below emits BEGIN IMMEDIATE itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL with synchronous=NORMAL: a commit is durable against a crash of the process and
    # never corrupts the database; only a power loss can drop the last commits before the
    # next checkpoint (https://www.sqlite.org/pragma.html#pragma_synchronous). Every audited
    # read is a write transaction, and FULL's fsync per commit dominated the web app's
    # record page (35 ms default journal, 10 ms WAL + FULL, 5.5 ms WAL + NORMAL, measured).
    cursor.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
    cursor.close()


#: Execution option that makes an SQLite transaction start with ``BEGIN IMMEDIATE``.
IMMEDIATE = {"spinestab_sqlite_begin": "IMMEDIATE"}


def _sqlite_begin(connection: Any) -> None:
    # DEFERRED by default (WAL: readers never wait); IMMEDIATE for the record's units of
    # work, which read then write: the write lock is taken first, so a writer queues (busy
    # timeout) instead of failing on a snapshot another writer has moved on from
    mode = connection.get_execution_options().get("spinestab_sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``.

    SQLite: the file's folder is created (0700) and the file (0600); foreign keys on, busy
    timeout, ``BEGIN IMMEDIATE``. Every backend: SQL parameters never appear in error
    messages (they may hold answers).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            if not path.parent.exists():
                private_dir(path.parent)
            _private_file(path)
        pool: dict[str, Any] = {}
        if path is not None:  # a file: a queue pool (an in-memory database: one per thread)
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT_S}, **pool
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _upgrade(connection: Any, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    script_location = resources.files("spinestab.store").joinpath("migrations")
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped with spinestab up to ``revision``.

    Several processes may call this at once on a new database: PostgreSQL serialises them
    with an advisory lock, SQLite with a file lock beside the database (``.lock``); the
    first migrates, the others find the schema at ``revision`` and do nothing. SQLite is
    switched to WAL mode under the same lock.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
            try:
                with connection.begin():
                    _upgrade(connection, revision)
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
                connection.commit()
        return
    path = sqlite_path(str(engine.url)) if backend == "sqlite" else None
    lock = (
        _file_lock(path.with_name(path.name + ".lock"))
        if path is not None
        else contextlib.nullcontext()
    )
    with lock:
        if path is not None:
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
            finally:
                raw.close()
        with engine.begin() as connection:
            _upgrade(connection, revision)


def open_store(
    settings: Settings | None = None, *, url: str | None = None
) -> sessionmaker[Session]:
    """Open the store: create the engine, apply migrations, return a session factory.

    Parameters
    ----------
    settings : Settings, optional
        Settings (``SPINESTAB_DATABASE_URL``; default SQLite in the user's data folder).
    url : str, optional
        Database URL that overrides the settings.

    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from spinestab.errors import InputError

    settings = settings or get_settings()
    target = url or settings.resolved_database_url()
    try:
        shown = make_url(target).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "<unparsable URL>"
    engine = None
    try:
        if url is None and sqlite_path(target) is not None:
            private_dir(settings.data_dir)
        engine = make_engine(target)
        migrate(engine)
    except OSError as exc:
        if engine is not None:
            engine.dispose()
        raise InputError(
            f"cannot create the database folder or file ({exc.__class__.__name__})",
            source=shown,
            item="SPINESTAB_DATABASE_URL",
            expected="a writable location (SPINESTAB_DATA_DIR or SPINESTAB_DATABASE_URL)",
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InputError(
            f"not a usable database URL ({exc.__class__.__name__})",
            source=shown,
            item="SPINESTAB_DATABASE_URL",
            expected="e.g. sqlite:///path/spinestab.db or postgresql+psycopg://user@host/db",
        ) from None
    except OperationalError as exc:
        if engine is not None:
            engine.dispose()
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
        raise InputError(
            f"cannot open the database: {first}",
            source=shown,
            item="SPINESTAB_DATABASE_URL",
            expected="a reachable database the user may write to",
        ) from None
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session], *, immediate: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll everything back on any error.

    ``immediate=True`` for a transaction that reads, then writes what it read (claim a
    queued row, check-then-update): on SQLite it begins with ``BEGIN IMMEDIATE`` and so
    queues for the write lock at its start. A ``DEFERRED`` one that read first fails with
    "database is locked" at its first write when another writer committed in between (WAL
    snapshot), whatever the busy timeout.
    """
    session = factory()
    try:
        if immediate:
            session.connection(execution_options=IMMEDIATE)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextlib.contextmanager
def store_session(settings: Settings | None = None, *, url: str | None = None) -> Iterator[Session]:
    """Open the store for one transaction and close its connections afterwards.

    For command-line use: migrations applied, one transaction (all or nothing), engine
    disposed at the end.
    """
    factory = open_store(settings, url=url)
    try:
        with session_scope(factory) as session:
            yield session
    finally:
        factory.kw["bind"].dispose()
