"""Engine and session factory; Alembic migrations applied at start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from spinestab.settings import Settings, get_settings

__all__ = ["make_engine", "migrate", "open_store", "session_scope", "store_session"]


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; an SQLite file's folder is created if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped with spinestab up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    script_location = resources.files("spinestab.store").joinpath("migrations")
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


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
    try:
        engine = make_engine(target)
        migrate(engine)
    except OSError as exc:
        raise InputError(
            f"cannot create the database folder ({exc.__class__.__name__})",
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
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
        raise InputError(
            f"cannot open the database: {first}",
            source=shown,
            item="SPINESTAB_DATABASE_URL",
            expected="a reachable database the user may write to",
        ) from None
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll everything back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
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
