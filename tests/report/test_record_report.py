"""The letter and the handout of a stored patient: the plan in force and who approved it, a
draft never handed out, a blocked plan's handout saying what to do instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinestab import record as services
from spinestab.care.i18n import Translator
from spinestab.errors import ConflictError
from spinestab.record import Actor, open_record
from spinestab.report.record import (
    handout_from_record,
    inputs_from_record,
    render_stored_handout,
)
from spinestab.settings import Settings

from .conftest import DEMO

ALICE = Actor(username="alice", role="clinician")


@pytest.fixture
def record(database_url, tmp_path):
    opened = open_record(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield opened
    opened.close()


def _patient(record, folder: Path, pseudonym: str) -> None:
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, pseudonym)
        services.save_history_file(uow, ALICE, pseudonym, folder / "history.json")
        for path in sorted(folder.glob("*.json")):
            if path.name not in ("history.json", "instability.json"):
                services.save_form_file(uow, ALICE, pseudonym, path)


def test_draft_then_approved_then_blocked(record):
    _patient(record, DEMO / "low_risk_self_management", "P-1")
    with record.unit_of_work() as uow:
        services.make_plan(uow, ALICE, "P-1")
    with record.unit_of_work() as uow:
        inputs = inputs_from_record(uow, ALICE, "P-1", language="en")
        assert inputs.plan is not None and inputs.plan.status == "draft"
        assert inputs.plan.approved_by is None
        with pytest.raises(ConflictError, match="version 1 is a draft awaiting approval"):
            handout_from_record(uow, ALICE, "P-1")
    with record.unit_of_work() as uow:
        services.approve_plan(uow, ALICE, "P-1", version=1)
    with record.unit_of_work() as uow:
        inputs = inputs_from_record(uow, ALICE, "P-1", language="de")
        assert (inputs.plan.version, inputs.plan.status, inputs.plan.approved_by) == (
            1,
            "active",
            "alice",
        )
        handout = handout_from_record(uow, ALICE, "P-1")
        assert handout.plan is not None and handout.status == "active"
        own_actions = [a["code"] for a in handout.actions]
        assert [ex.id for ex in handout.plan.exercises] == [e for e, _, _ in inputs.plan.exercises]
    # a positive cauda-equina screen blocks the plan: the handout says what to do instead
    screen = json.loads((DEMO / "red_flag_cauda_equina" / "redflags.json").read_text())
    with record.unit_of_work() as uow:
        services.save_form(uow, ALICE, "P-1", screen)
    # the approved version, now blocked: its handout says what the open red flag asks for
    # (the catalogue's patient texts), no longer the actions of its own triage
    with record.unit_of_work() as uow:
        handout = handout_from_record(uow, ALICE, "P-1")
        html = render_stored_handout(handout, language="en", pdf=False).decode("utf-8")
    assert (handout.version, handout.status, handout.plan) == (1, "blocked", None)
    assert [a["code"] for a in handout.actions] == ["red_flag_emergency", "no_exercise_plan"]
    assert handout.date == screen["date"]
    catalogue = Translator("en")
    assert catalogue("action.red_flag_emergency") in html
    assert catalogue("action.no_exercise_plan") in html
    shown = [c for c in own_actions if catalogue.has(f"action.{c}")]
    assert shown and not any(catalogue(f"action.{c}") in html for c in shown)
    with record.unit_of_work() as uow:
        inputs = inputs_from_record(uow, ALICE, "P-1", language="en")
        assert inputs.profile.open_red_flags and inputs.triage.track == "S0"
        made = services.make_plan(uow, ALICE, "P-1")
        assert made.plan.status == "blocked"
    with record.unit_of_work() as uow:
        handout = handout_from_record(uow, ALICE, "P-1")
        assert handout.plan is None and handout.status == "blocked"
        assert any(a["urgency"] == "emergency" for a in handout.actions)
