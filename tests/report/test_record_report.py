"""The letter and the handout of a stored patient: the plan in force and who approved it, a
draft never handed out, a blocked plan's handout saying what to do instead."""

from __future__ import annotations

import datetime as dt
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


def test_muscle_table_takes_each_level_from_the_newest_mri_holding_it(record, tmp_path):
    """Two MRIs of different levels: the letter's table is the profile's (latest result per
    muscle, side and level across the episode's studies), each row naming its study."""
    import csv
    import html as html_module
    import re

    from spinestab.report import render_report_html

    _patient(record, DEMO / "functional_high_risk", "P-2mri")
    first = DEMO / "functional_high_risk" / "muscle_quality.csv"  # L3, L4, L5
    with first.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # a later MRI of L2 and L3 only (L3 remeasured: 40 %, L2 new: 30 %)
    later = [dict(r, fat_fraction_pct="40.0") for r in rows if r["level"] == "L3"]
    later += [dict(r, level="L2", fat_fraction_pct="30.0") for r in rows if r["level"] == "L3"]
    second = tmp_path / "muscle_quality.csv"
    with second.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(later)
    with record.unit_of_work() as uow:
        services.save_imaging(uow, ALICE, "P-2mri", first, performed_on=dt.date(2024, 1, 10))
        services.save_imaging(uow, ALICE, "P-2mri", second, performed_on=dt.date(2024, 3, 1))
    with record.unit_of_work() as uow:
        inputs = inputs_from_record(uow, ALICE, "P-2mri", language="en")
    got = {(r.muscle, r.side, r.level): r.fat_fraction_pct for r in inputs.imaging.rows}
    expected = {(r["muscle"], r["side"], r["level"]): float(r["fat_fraction_pct"]) for r in rows}
    expected |= {(r["muscle"], r["side"], r["level"]): float(r["fat_fraction_pct"]) for r in later}
    assert got == expected  # L2 and L3 from the later MRI, L4 and L5 from the first
    # the same rows as the profile's muscle findings, from the same studies
    profile_rows = {
        (r["muscle"], r["side"], r["level"]): r["imaging_study"] for r in inputs.profile.muscle.rows
    }
    with record.unit_of_work() as uow:
        ids = [s.id for s in services.show_record(uow, ALICE, "P-2mri").imaging]
    labels = {
        ids[0]: "imaging study 1, taken 2024-01-10",
        ids[1]: "imaging study 2, taken 2024-03-01",
    }
    for key, study in profile_rows.items():
        assert inputs.imaging.row_studies[key] == labels[study], key
    page = html_module.unescape(re.sub(r"<[^>]+>", " ", render_report_html(inputs)))
    page = re.sub(r"\s+", " ", page)
    assert "Multifidus left L2 8.20 5.41 30.0 dixon – – imaging study 2, taken 2024-03-01" in page
    assert "Multifidus right L5 7.00 2.87 59.0 dixon – – imaging study 1, taken 2024-01-10" in page
    assert "Fat method: dixon · imaging study 2" in page  # no stray full stop after the method
