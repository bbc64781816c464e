"""Shared fixtures: database URLs for the store tests (SQLite always, PostgreSQL in CI)."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, settings

# Property tests assert properties, not speed (speed is measured in benchmarks/): on a loaded
# machine Hypothesis's deadline and its "too slow" health check failed tests whose property held.
settings.register_profile("spinestab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("spinestab")

POSTGRES_URL = os.environ.get("SPINESTAB_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("SPINESTAB_REQUIRE_POSTGRES") == "1"


def _postgres_url() -> str:
    """A fresh database on the test server (dropped again by :func:`_drop_postgres`)."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("SPINESTAB_REQUIRE_POSTGRES=1 but SPINESTAB_TEST_POSTGRES_URL is unset")
        pytest.skip("PostgreSQL not configured (set SPINESTAB_TEST_POSTGRES_URL; .ci/run does)")
    from sqlalchemy import create_engine, text

    name = f"spinestab_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str) -> None:
    """Drop a test database made by :func:`_postgres_url`.

    Garbage is collected first, so that a connection the test left open is reported (as a
    ResourceWarning, an error under the "error" filter) in the test that leaked it rather than
    in whichever test happens to run the collector later. Without the drop, every
    PostgreSQL-parametrised test would leave its database behind on the server.
    """
    import gc

    from sqlalchemy import create_engine, text

    gc.collect()
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A new, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url = _postgres_url()
    yield url
    _drop_postgres(url)


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch, database_url):
    """Environment pointing spinestab at a fresh database and data folder."""
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", database_url)
    monkeypatch.setenv("SPINESTAB_USER", "tester")
    return database_url
