"""Facts entered twice: red-flag items derived from the history take the safer answer, and
the plan reads weeks of care, adherence and response from the record (naming the source)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from spinestab.care.derived_flags import derive_red_flag_items
from spinestab.care.profile import History
from spinestab.care.sessions import SessionLog
from spinestab.cli import app
from spinestab.record import (
    approve_plan,
    create_patient,
    make_plan,
    save_form,
    save_history,
    save_sessions,
    save_sessions_file,
)

from .conftest import CLINICIAN, DEMO_PATIENTS, form, no_flags, write_json

runner = CliRunner()
FHR = DEMO_PATIENTS / "functional_high_risk"
NRS = form("nrs", "2024-02-01", {"pain": 5})
STEROIDS = no_flags() | {"long_term_corticosteroids": True}


def folder_plan(tmp_path, history, screen):
    """``spinestab plan`` on a folder with an NRS form, a history and a red-flag screen."""
    folder = tmp_path / "p"
    folder.mkdir(parents=True)
    write_json(folder / "nrs.json", NRS)
    write_json(folder / "history.json", history)
    write_json(folder / "redflags.json", form("redflags", "2024-02-01", screen))
    result = runner.invoke(app, ["plan", str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "o" / "triage.json").read_text())


def codes(triage):
    return [a["code"] for a in triage["actions"]]


@pytest.mark.parametrize(
    ("age", "track", "urgency"),
    [(71, "S0", "urgent"), (70, "F1", "routine")],  # the rule is "over 70" (> 70)
)
def test_age_in_history_with_steroids_on_the_form(tmp_path, age, track, urgency):
    # issue 10: history age 71, form ticks corticosteroids but not "age over 70"
    triage = folder_plan(tmp_path, {"age": age, "pain_duration_weeks": 20}, STEROIDS)
    fracture = [
        f for f in triage["findings"]["red_flags"] if f["condition"] == "vertebral_fracture"
    ]
    assert [f["urgency"] for f in fracture] == [urgency]
    assert triage["track"] == track if track == "S0" else triage["track"] != "S0"
    assert ("confirm_derived_red_flag_items" in codes(triage)) == (age > 70)
    if age > 70:
        (action,) = [a for a in triage["actions"] if a["code"] == "confirm_derived_red_flag_items"]
        assert "age_over_70 from age 71 (form: no)" in action["text"]


def test_long_pain_from_a_young_age_completes_the_axspa_criteria(tmp_path):
    # issue 10: age 39, 9 years of pain, onset items unanswered; three other criteria ticked
    screen = no_flags() | {
        "onset_before_45_over_3_months": None,
        "onset_before_35": None,
        "waking_second_half_night": True,
        "buttock_pain": True,
        "improves_with_movement": True,
    }
    triage = folder_plan(tmp_path, {"age": 39, "pain_duration_weeks": 9 * 52}, screen)
    axspa = [
        f for f in triage["findings"]["red_flags"] if f["condition"] == "axial_spondyloarthritis"
    ]
    assert len(axspa) == 1 and "rheumatology" in axspa[0]["action"]
    # onset at 30: before 35 and before 45 over 3 months, plus three criteria = four
    assert set(axspa[0]["items"]) >= {"onset_before_35", "onset_before_45_over_3_months"}
    found = triage["findings"]["derived_red_flag_items"]
    assert {d["item"] for d in found} == {"onset_before_35", "onset_before_45_over_3_months"}
    assert all(d["form_answer"] is None for d in found)
    # the same patient with a short history of pain: no referral
    short = folder_plan(tmp_path / "b", {"age": 39, "pain_duration_weeks": 2}, screen)
    assert not [
        f for f in short["findings"]["red_flags"] if f["condition"] == "axial_spondyloarthritis"
    ]


@pytest.mark.parametrize(
    ("history", "uncertain", "items"),
    [
        (History(age=71), 0, {"age_over_70"}),
        (History(age=70), 0, set()),
        (History(age=70), 1, set()),  # 69-70: never over 70
        (History(age=71), 1, {"age_over_70"}),  # 70-71: may be over 70 (the safer bound)
        (History(age=51, pain_duration_weeks=4), 0, {"age_over_50_new_pain"}),
        (History(age=51, pain_duration_weeks=30), 0, set()),  # not new
        # 19-20 (birth year): may be under 20; the pain began before 35 either way
        (History(age=20, pain_duration_weeks=4), 1, {"age_over_50_new_pain", "onset_before_35"}),
        (History(age=20, pain_duration_weeks=4), 0, {"onset_before_35"}),
        (History(age=44, pain_duration_weeks=14), 0, {"onset_before_45_over_3_months"}),
        (History(age=44, pain_duration_weeks=13), 0, set()),  # not over 3 months
        (
            History(age=36, pain_duration_weeks=60),
            0,
            {"onset_before_45_over_3_months", "onset_before_35"},
        ),
        (History(pain_duration_weeks=600), 0, set()),  # no age: nothing derived
    ],
)
def test_derivation_thresholds(history, uncertain, items):
    derived = derive_red_flag_items(history, age_uncertainty_years=uncertain)
    assert {d.item for d in derived} == items
    assert all(d.source and d.evidence in ("V", "R", "D") for d in derived)


def test_record_blocks_plans_when_a_history_makes_a_flag_urgent(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_form(uow, CLINICIAN, "P1", NRS)
        saved = save_form(uow, CLINICIAN, "P1", form("redflags", "2024-02-01", STEROIDS))
        assert [f.urgency for f in saved.open_red_flags] == ["routine"]
        made = make_plan(uow, CLINICIAN, "P1")
        assert made.plan.status == "draft"
        # the history comes later and says 72: the fracture screen becomes urgent at once
        save_history(uow, CLINICIAN, "P1", {"age": 72, "pain_duration_weeks": 20})
        again = make_plan(uow, CLINICIAN, "P1")
    assert again.plan.status == "blocked" and again.plan.track == "S0"
    triage = json.loads(again.documents["triage.json"])
    assert "confirm_derived_red_flag_items" in codes(triage)
    with record.unit_of_work() as uow:
        from spinestab.record import show_record

        timeline = show_record(uow, CLINICIAN, "P1")
    assert [p.status for p in timeline.plans] == ["blocked", "blocked"]
    (flag,) = [f for f in timeline.open_red_flags if f.condition == "vertebral_fracture"]
    assert flag.urgency == "urgent" and flag.derived_items == ["age_over_70"]


def test_age_from_the_birth_year_where_the_history_has_none(record):
    year = dt.date.today().year
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1", birth_year=year - 71)
        save_form(uow, CLINICIAN, "P1", NRS)
        saved = save_form(uow, CLINICIAN, "P1", form("redflags", "2024-02-01", STEROIDS))
    assert [f.urgency for f in saved.open_red_flags] == ["urgent"]
    assert saved.open_red_flags[0].derived_items == ["age_over_70"]
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P2", birth_year=year - 70)  # 69 or 70: never over 70
        saved = save_form(uow, CLINICIAN, "P2", form("redflags", "2024-02-01", STEROIDS))
    assert [f.urgency for f in saved.open_red_flags] == ["routine"]


def test_plan_reads_care_adherence_and_response_from_the_record(record):
    history = json.loads((FHR / "history.json").read_text()) | {
        "active_care_weeks": 40,
        "adherence_pct": 10,
        "previous_response": "responder",
    }
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_history(uow, CLINICIAN, "P1", history)
        for name in ("nrs.json", "odi.json", "redflags.json", "startback.json"):
            from spinestab.record import save_form_file

            save_form_file(uow, CLINICIAN, "P1", FHR / name)
        first = make_plan(uow, CLINICIAN, "P1")
        approve_plan(uow, CLINICIAN, "P1", version=1)
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
        # a follow-up ODI: two complete ODI forms now decide the response
        odi = json.loads((FHR / "odi.json").read_text())
        save_form(uow, CLINICIAN, "P1", odi | {"date": "2024-04-15"})
        second = make_plan(uow, CLINICIAN, "P1")
    before = json.loads(first.documents["triage.json"])["findings"]
    after = json.loads(second.documents["triage.json"])["findings"]
    # before any session, the history's values are used and named as such
    assert before["active_care_weeks"] == 40
    assert before["active_care_weeks_from"] == "history.json active_care_weeks"
    assert before["previous_response_from"] == "history.json previous_response"
    # after: from the record (hand count: sessions.csv, plan start to the last session)
    import csv

    rows = list(csv.DictReader((FHR / "sessions.csv").read_text().splitlines()))
    last = max(dt.date.fromisoformat(r["date"]) for r in rows)
    start = dt.date.fromisoformat(first.plan.plan["programme_start"])
    assert after["active_care_weeks"] == round(((last - start).days + 1) / 7, 1)
    assert after["active_care_weeks_from"].startswith("record: session logs")
    # hand count (care.adherence): exercise days Mon, Wed, Fri; sessions.csv runs from Monday
    # 2024-03-04 to Sunday 2024-03-17 with the core exercises on Mon 4, Wed 6, Fri 8, Mon 11,
    # Wed 13, Fri 15 only: 6 planned sessions due, 6 done, none on other days
    assert first.plan.plan["exercise_days"] == [0, 2, 4]
    assert after["adherence_pct"] == 100
    assert after["adherence_from"].startswith("record: 6 of 6 planned sessions done")
    assert "0 extra sessions" in after["adherence_from"]
    assert after["previous_response_from"].startswith("odi change")
    assert second.inputs["sources"]["previous_response"].startswith("record: odi forms")
    # sessions on days the plan has none (Tue 5, Sat 9, Sun 10 March) are extra, not planned
    # sessions done: the old count said 9 session days of 6 planned (capped to 100 %)
    with record.unit_of_work() as uow:
        extra = [SessionLog(dt.date(2024, 3, d), "curl_up", True) for d in (5, 9, 10)]
        save_sessions(uow, CLINICIAN, "P1", extra)
        third = make_plan(uow, CLINICIAN, "P1")
    findings = json.loads(third.documents["triage.json"])["findings"]
    assert findings["adherence_pct"] == 100
    assert findings["adherence_from"].startswith("record: 6 of 6 planned sessions done")
    assert "3 extra sessions" in findings["adherence_from"]
