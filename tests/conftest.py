"""Shared fixtures: database URLs for the store tests (SQLite always, PostgreSQL in CI)."""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get("SPINESTAB_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("SPINESTAB_REQUIRE_POSTGRES") == "1"


def _postgres_url() -> str:
    """A fresh schema-isolated database URL on the test server."""
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A new, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return _postgres_url()


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch, database_url):
    """Environment pointing spinestab at a fresh database and data folder."""
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPINESTAB_DATABASE_URL", database_url)
    monkeypatch.setenv("SPINESTAB_USER", "tester")
    return database_url
