"""Export and restore: restore(export(r)) == r, field by field, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zipfile

import pytest

from spinestab.errors import AlreadyStoredError, InputError
from spinestab.record import (
    approve_plan,
    make_plan,
    progress_plan,
    retract_assessment,
    save_form,
    save_instability,
    save_morphometry,
    save_sessions_file,
    show_record,
)
from spinestab.record.archive import ENTITY_TABLES, TABLES, export_record, restore_record

from .conftest import CLINICIAN, DEMO_PATIENTS, form
from .test_morphometry import WEDGE_FILM, morphometry_file
from .test_services import FHR, fhir_odi, seed_fhr

STRUCT = DEMO_PATIENTS / "structural_spondylolisthesis"


def normalise(rows: dict) -> dict:
    """Replace every row id and every reference by the row's rank in its table."""
    models = {m.__tablename__: m for m in TABLES}
    rank = {
        name: {row["id"]: i for i, row in enumerate(sorted(items, key=lambda r: r["id"]))}
        for name, items in rows.items()
        if "id" in models[name].__table__.c
    }
    out = {}
    for name, items in rows.items():
        table = models[name].__table__
        normal = []
        for row in sorted(items, key=lambda r: r.get("id", r.get("sha256"))):
            row = dict(row)
            for column in table.columns:
                value = row.get(column.name)
                if column.name == "id":
                    row["id"] = rank[name][value]
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    if value is not None and target != "artifacts":
                        row[column.name] = rank[target][value]
            if name in ("record_files", "audit_events") and row.get("entity_id") is not None:
                row["entity_id"] = rank[ENTITY_TABLES[row["entity"]]][row["entity_id"]]
            if name == "audit_events" and row.get("patient_id") is not None:
                row["patient_id"] = rank["patients"][row["patient_id"]]
            normal.append(row)
        out[name] = normal
    return out


def archive_rows(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("record.json"))


def full_record(record, tmp_path):
    seed_fhr(record)
    morphometry = morphometry_file(tmp_path, WEDGE_FILM)
    with record.unit_of_work() as uow:
        save_morphometry(uow, CLINICIAN, "P1", morphometry)
        save_instability(
            uow,
            CLINICIAN,
            "P1",
            STRUCT / "instability.json",
            landmarks={"neutral": STRUCT / "landmarks" / "neutral.json"}
            if (STRUCT / "landmarks" / "neutral.json").exists()
            else None,
        )
        make_plan(uow, CLINICIAN, "P1")
        approve_plan(uow, CLINICIAN, "P1", version=1)
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
        progress_plan(uow, CLINICIAN, "P1")
        stored = save_form(uow, CLINICIAN, "P1", fhir_odi(rid="x"))
        retract_assessment(uow, CLINICIAN, "P1", stored.assessment.id)
        save_form(uow, CLINICIAN, "P1", form("nrs", "2024-05-01", {"pain": 2}))
        show_record(uow, CLINICIAN, "P1")  # an audited read, part of the trail


def test_restore_of_export_is_the_same_record(record, other_record, tmp_path):
    full_record(record, tmp_path)
    first = tmp_path / "p1.zip"
    with record.unit_of_work() as uow:
        result = export_record(uow, CLINICIAN, "P1", first)
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    assert result.artifacts >= 6 and result.rows["session_logs"] > 0
    assert result.rows["morphometry_studies"] == 1 and result.rows["morphometry_vertebrae"] == 4
    with other_record.unit_of_work() as uow:
        restored = restore_record(uow, CLINICIAN, first)
    assert restored.rows == result.rows
    second = tmp_path / "again.zip"
    with other_record.unit_of_work() as uow:
        export_record(uow, CLINICIAN, "P1", second)
    a, b = archive_rows(first), archive_rows(second)
    # the restored store adds its own restore and export events to the trail
    added = b["audit_events"][len(a["audit_events"]) :]
    assert [(e["action"], e["entity"]) for e in added] == [
        ("restore", "record"),
        ("export", "record"),
    ]
    b["audit_events"] = b["audit_events"][: len(a["audit_events"])]
    assert normalise(a) == normalise(b)
    # and every artifact came along, byte for byte
    with zipfile.ZipFile(first) as x, zipfile.ZipFile(second) as y:
        names = sorted(n for n in x.namelist() if n.startswith("artifacts/"))
        assert names == sorted(n for n in y.namelist() if n.startswith("artifacts/"))
        assert all(x.read(n) == y.read(n) for n in names)
    # the timeline reads the same, too (ids of the rows aside)
    with record.unit_of_work() as uow:
        before = show_record(uow, CLINICIAN, "P1").model_dump(mode="json")
    with other_record.unit_of_work() as uow:
        after = show_record(uow, CLINICIAN, "P1").model_dump(mode="json")
    for shown in (before, after):
        for a_ in shown["assessments"]:
            a_.pop("id")
        for kind in ("imaging", "instability", "morphometry", "wearable"):
            for study in shown[kind]:
                study.pop("id")
                for f in study["files"]:
                    f.pop("id")
    assert before == after


def test_restore_refusals(record, other_record, tmp_path):
    full_record(record, tmp_path)
    path = tmp_path / "p1.zip"
    with record.unit_of_work() as uow:
        export_record(uow, CLINICIAN, "P1", path)
    with pytest.raises(AlreadyStoredError), record.unit_of_work() as uow:
        restore_record(uow, CLINICIAN, path)
    with pytest.raises(InputError, match="exists already"), record.unit_of_work() as uow:
        export_record(uow, CLINICIAN, "P1", path)
    # a damaged artifact: bytes that do not hash to the name
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(damaged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("artifacts/") and not dst.namelist().count("x"):
                data = data + b"!"
            dst.writestr(name, data)
    bad_member = tmp_path / "evil.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad_member, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("../../etc/passwd", "x")
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    for archive, fragment in (
        (damaged, "damaged"),
        (bad_member, "unexpected member"),
        (not_zip, "not a record archive"),
        (tmp_path / "none.zip", "not found"),
    ):
        with pytest.raises(InputError, match=fragment), other_record.unit_of_work() as uow:
            restore_record(uow, CLINICIAN, archive)
    with other_record.unit_of_work() as uow:
        from spinestab.record import list_patients

        assert list_patients(uow, CLINICIAN) == []
