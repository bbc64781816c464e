"""The latest study is the one performed last, not the one stored last.

Importing an older MRI, radiograph study or morphometry film after a newer one must not
let the older one's numbers count (profile muscle rows, instability segments, vertebrae).
Truth: the performed dates the test gives each study.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from types import SimpleNamespace

from spinestab.record import make_plan, save_imaging, save_instability, save_morphometry
from spinestab.record._latest import newest_performed_first
from spinestab.record.morphometry import latest_morphometry
from spinestab.record.patients import find_patient

from .conftest import CLINICIAN, DEMO_PATIENTS, write_json
from .test_morphometry import NORMAL_FILM, WEDGE_FILM, _acute_patient, morphometry_file

FHR = DEMO_PATIENTS / "functional_high_risk"
FEB, JAN = dt.date(2026, 2, 2), dt.date(2026, 1, 12)


def _demo_table(name, path, change):
    """Write the demo's CSV ``name`` to ``path``, each row passed through ``change``
    (which edits it in place, or returns False to leave it out)."""
    with (FHR / name).open(newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames
        rows = [r for r in reader if change(r) is not False]
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _table(path, fat):
    """The demo's L4/L5 muscle_quality.csv rows with the multifidus fat replaced by ``fat``."""

    def change(row):
        if row["level"] not in ("L4", "L5"):
            return False
        if row["muscle"] == "multifidus":
            row["fat_fraction_pct"] = str(fat)
        return True

    return _demo_table("muscle_quality.csv", path, change)


def test_an_older_mri_imported_later_does_not_count(record, tmp_path):
    _acute_patient(record, weeks=30)
    with record.unit_of_work() as uow:
        new = save_imaging(
            uow, CLINICIAN, "P1", _table(tmp_path / "feb" / "m.csv", 20.0), performed_on=FEB
        )
        old = save_imaging(
            uow, CLINICIAN, "P1", _table(tmp_path / "jan" / "m.csv", 60.0), performed_on=JAN
        )
        made = make_plan(uow, CLINICIAN, "P1")
    assert old.id > new.id  # stored after the newer study
    muscle = json.loads(made.documents["profile.json"])["muscle"]
    assert {r["fat_fraction_pct"] for r in muscle["rows"] if r["muscle"] == "multifidus"} == {20.0}
    assert {r["imaging_study"] for r in muscle["rows"]} == {new.id}
    assert made.inputs["imaging_studies"] == [new.id]


def test_an_older_instability_study_imported_later_does_not_count(record, tmp_path):
    struct = DEMO_PATIENTS / "structural_spondylolisthesis" / "instability.json"
    stable = write_json(
        tmp_path / "old.json",
        {"levels": [{"level": "L4-L5", "slip_mm": 1.0, "meyerding_grade": 0, "verdict": "stable"}]},
    )
    _acute_patient(record, weeks=30)
    with record.unit_of_work() as uow:
        new = save_instability(uow, CLINICIAN, "P1", struct, performed_on=FEB)
        save_instability(uow, CLINICIAN, "P1", stable, performed_on=JAN)
        made = make_plan(uow, CLINICIAN, "P1")
    profile = json.loads(made.documents["profile.json"])["instability"]
    # the February study's L4-L5: Meyerding grade 2, unstable (demo instability.json)
    assert (profile["worst_verdict"], profile["max_meyerding_grade"]) == ("unstable", 2)
    assert made.inputs["instability_studies"] == [new.id]


def test_an_older_morphometry_film_imported_later_does_not_close_a_deformity(record, tmp_path):
    _acute_patient(record, weeks=2)
    with record.unit_of_work() as uow:
        wedge = save_morphometry(
            uow, CLINICIAN, "P1", morphometry_file(tmp_path, WEDGE_FILM), performed_on=FEB
        )
        normal = save_morphometry(
            uow, CLINICIAN, "P1", morphometry_file(tmp_path, NORMAL_FILM, "old"), performed_on=JAN
        )
        patient = find_patient(uow, "P1")
        assert latest_morphometry(uow, patient).id == wedge.id
        made = make_plan(uow, CLINICIAN, "P1")
    assert normal.id > wedge.id
    deformities = json.loads(made.documents["profile.json"])["deformities"]["deformities"]
    # the February film's L1 wedge (grade 2) and L2 biconcave (grade 1) stay in force
    assert [d["level"] for d in deformities] == ["L1", "L2"]
    assert made.inputs["morphometry_studies"] == [wedge.id]


def test_stored_order_breaks_ties_and_stands_in_for_an_unknown_date():
    stored = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    rows = [
        SimpleNamespace(id=1, performed_on=FEB, created_at=stored),
        SimpleNamespace(id=2, performed_on=JAN, created_at=stored),
        SimpleNamespace(id=3, performed_on=FEB, created_at=stored),  # same day: stored later
        SimpleNamespace(id=4, performed_on=None, created_at=stored),  # no date: the day stored
        SimpleNamespace(id=5, performed_on=None, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    ]
    assert [r.id for r in newest_performed_first(rows)] == [4, 3, 1, 2, 5]


def _daily(path, shift_days, steps_factor):
    """The demo's daily.csv with its dates moved by ``shift_days`` and its steps scaled."""

    def change(row):
        day = dt.date.fromisoformat(row["date"]) + dt.timedelta(days=shift_days)
        row["date"] = day.isoformat()
        row["steps"] = str(round(int(row["steps"]) * steps_factor))

    return _demo_table("daily.csv", path, change)


def test_an_older_wearable_recording_imported_later_does_not_count(record, tmp_path):
    from spinestab.record import save_wearable, show_record
    from spinestab.service.records import _json
    from spinestab.service.summaries import movement_summary

    _acute_patient(record, weeks=30)
    with record.unit_of_work() as uow:
        new = save_wearable(uow, CLINICIAN, "P1", _daily(tmp_path / "new" / "daily.csv", 0, 1.0))
        old = save_wearable(uow, CLINICIAN, "P1", _daily(tmp_path / "old" / "daily.csv", -28, 2.0))
        made = make_plan(uow, CLINICIAN, "P1")
        timeline = _json(show_record(uow, CLINICIAN, "P1"))
    assert old.id > new.id and old.last_date < new.last_date  # stored later, recorded earlier
    assert made.inputs["wearable_recording"] == new.id
    # the patient's movement page shows the days recorded last
    shown = movement_summary(timeline, None)
    assert shown["recording"]["last_date"] == new.last_date.isoformat()
    assert [d["steps"] for d in shown["days"]] == [float(d["steps"]) for d in new.days]
