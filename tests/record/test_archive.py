"""Export and restore: restore(export(r)) == r, field by field, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zipfile

import pytest

from spinestab.errors import AlreadyStoredError, InputError
from spinestab.record import (
    Actor,
    approve_plan,
    make_plan,
    progress_plan,
    retract_assessment,
    save_form,
    save_instability,
    save_morphometry,
    save_sessions_file,
    save_wearable,
    show_record,
)
from spinestab.record.archive import (
    ENTITY_TABLES,
    NOT_EXPORTED,
    TABLES,
    export_record,
    restore_record,
)
from spinestab.record.live import RecordStreamStore, snooze_prompts
from spinestab.record.uploads import read_file, save_upload
from spinestab.store.imaging_models import VIEWER_TABLES
from spinestab.wearable.config import PromptConfig
from spinestab.wearable.engine import EnginePrompt
from spinestab.wearable.live_store import PromptPolicy, StoredStream, StreamKey

from .conftest import CLINICIAN, DEMO_PATIENTS, form, write_json
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
        outcomes = {
            "sessions": [],
            "outcomes": [{"date": "2024-03-25", "instrument": "odi", "value": 30}],
        }
        save_sessions_file(uow, CLINICIAN, "P1", write_json(tmp_path / "outcomes.json", outcomes))
        prompts = tmp_path / "prompts.csv"
        prompts.write_text(
            "time,posture,local_time,reason,message\n"
            "2024-03-04T10:30:00+00:00,sitting,10:30,static_limit,Time to move\n"
        )
        save_wearable(
            uow,
            CLINICIAN,
            "P1",
            FHR / "daily.csv",
            prompts=prompts,
            options={"static_limit_min": 20},
        )
        progress_plan(uow, CLINICIAN, "P1")
        stored = save_form(uow, CLINICIAN, "P1", fhir_odi(rid="x"))
        retract_assessment(uow, CLINICIAN, "P1", stored.assessment.id)
        save_form(uow, CLINICIAN, "P1", form("nrs", "2024-05-01", {"pain": 2}))
        upload = save_upload(uow, CLINICIAN, "P1", b"lateral film", kind="radiograph", name="x.dcm")
        read_file(uow, CLINICIAN, "P1", upload.id)
        show_record(uow, CLINICIAN, "P1")  # an audited read, part of the trail
    live_stream(record)


def live_stream(record, pseudonym="P1"):
    """A live stream with two prompts (one stored while snoozed), as the hub saves them."""
    key = StreamKey(pseudonym, "wrist")
    policy = PromptPolicy(PromptConfig(), "plan", 1)
    store = RecordStreamStore(record.factory)
    state = bytes(range(256)) * 3  # the engine's state: any bytes, NUL included
    for seq, snoozed in ((0, False), (1, True)):
        if snoozed:
            with record.unit_of_work() as uow:
                snooze_prompts(
                    uow,
                    Actor(username=pseudonym, role="patient", patient=pseudonym),
                    pseudonym,
                    minutes=30,
                )
        with store.transaction([key]) as step:
            step.load(key)
            step.save(
                key,
                StoredStream(
                    25, "g", 1.7e9, 1.0, seq + 1, 1.7e9 + 3600 * (seq + 1), state, seq + 1
                ),
                [EnginePrompt(key.engine_id, 1.7e9 + 1800 * (seq + 1), 1800 * (seq + 1), 0)],
                seq=seq,
                policy=policy,
                actor=pseudonym,
            )


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
    # the round trip covers every table of the archive, each with rows (the viewer's tables:
    # their own round trip with masks and films in tests/service/test_imaging_archive.py)
    viewer_tables = {m.__tablename__ for m in VIEWER_TABLES}
    assert [n for n, count in result.rows.items() if count == 0 and n not in viewer_tables] == []
    assert set(result.rows) == {m.__tablename__ for m in TABLES}
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
    # every reference of the trail and of the files names a table of the archive
    referenced = {
        r["entity"] for t in ("audit_events", "record_files") for r in a[t] if r["entity_id"]
    }
    assert referenced <= set(ENTITY_TABLES), referenced - set(ENTITY_TABLES)
    assert {"live_stream", "live_prompt", "live_snooze", "file", "upload"} <= referenced
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


def test_every_table_of_the_store_is_exported_or_named(record):
    """A table a migration adds is in the archive, or NOT_EXPORTED says why it is not."""
    from sqlalchemy import inspect

    tables = set(inspect(record.engine).get_table_names())
    exported = {m.__tablename__ for m in TABLES}
    assert tables - exported - set(NOT_EXPORTED) == set()
    assert exported <= tables and not exported & set(NOT_EXPORTED)
    assert {"live_streams", "live_prompts", "live_snoozes"} <= exported


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
