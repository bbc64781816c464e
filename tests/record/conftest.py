"""Fixtures: an opened record on SQLite and PostgreSQL, actors, demo files."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from spinestab.record import Actor, open_record
from spinestab.settings import Settings

DEMO = Path(str(resources.files("spinestab").joinpath("data/demo")))
DEMO_PATIENTS = Path(str(resources.files("spinestab").joinpath("data/demo_patients")))
CLINICIAN = Actor(username="alice", role="clinician")


@pytest.fixture
def record(database_url, tmp_path):
    """A new, empty record (database + artifact folder), closed after the test."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    opened = open_record(settings)
    yield opened
    opened.close()


@pytest.fixture
def clinician():
    return CLINICIAN


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def form(instrument: str, date: str, answers) -> dict:
    return {"instrument": instrument, "date": date, "answers": answers}


#: red-flag answers: every item "no" (the bundled item list)
def no_flags() -> dict:
    from spinestab.clinical import load_red_flag_rules

    return dict.fromkeys(load_red_flag_rules().items, False)


@pytest.fixture
def other_record(request, tmp_path):
    """A second, empty record on the same backend as ``record`` (restore target)."""
    from conftest import _drop_postgres, _postgres_url

    backend = request.node.callspec.params["database_url"]
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}" if backend == "sqlite" else _postgres_url()
    opened = open_record(Settings(data_dir=tmp_path / "other-data", database_url=url))
    yield opened
    opened.close()
    if backend != "sqlite":
        _drop_postgres(url)
