"""Export one patient's whole record to an archive, and restore it (into another store).

The archive is a ZIP file:

- ``manifest.json``: format name and version, the spinestab version and schema revision,
  the pseudonym, the row count of every table and the size of every artifact;
- ``record.json``: every row of the patient in every record table (patient, episodes,
  forms, history versions, studies and their rows, recordings, profiles, triage, plan
  versions, sessions, outcomes, live streams with their prompts and snoozes, image series
  and mask versions, radiographs and landmark versions, files, artifacts, the patient's
  audit trail), with every column (binary columns in base64);
- ``artifacts/<sha256>``: the bytes of every file the record names.

Restoring into a store without that patient gives the same record, field by field (row
ids are new; every reference is mapped). The archive is checked before anything is
written: known member names only, sizes within limits, each artifact's bytes hashing to
its name, the columns of each table as this version has them.

Every table of the store's metadata is either exported (:data:`TABLES`) or named in
:data:`NOT_EXPORTED` with the reason (the web service's accounts, login sessions and work
queue: not part of a patient's record); a test fails on a table in neither.

Long module: export, restore and the archive checks share the table order, the row and
value codec (timestamps, dates) and the limits; split apart they would import each other's
private helpers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Date, DateTime, LargeBinary, select

from spinestab.errors import AlreadyStoredError, InputError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    ensure_artifact_row,
    find_patient,
    now,
    service,
    utc,
)
from spinestab.store import imaging_models as viewer
from spinestab.store.live_models import LivePrompt, LiveSnooze, LiveStream
from spinestab.store.models import (
    Artifact,
    Assessment,
    AuditEvent,
    Base,
    Episode,
    HistoryVersion,
    ImagingStudy,
    InstabilityLevel,
    InstabilityStudy,
    MuscleQualityRow,
    OutcomeValue,
    Patient,
    PlanVersion,
    ProfileSnapshot,
    RecordFile,
    SessionLogRow,
    TriageDecision,
    WearableDay,
    WearablePrompt,
    WearableRecording,
)
from spinestab.store.morphometry_models import MorphometryStudy, MorphometryVertebra

__all__ = [
    "ARCHIVE_FORMAT",
    "ENTITY_TABLES",
    "NOT_EXPORTED",
    "TABLES",
    "ExportOut",
    "RestoreOut",
    "export_record",
    "record_rows",
    "restore_record",
]

ARCHIVE_FORMAT = ("spinestab-record", 1)
#: Largest archive member read into memory (record.json, manifest.json), bytes.
MAX_JSON_BYTES = 512_000_000
#: Largest total uncompressed size of an archive, bytes.
MAX_TOTAL_BYTES = 200_000_000_000
#: Largest compression ratio of one member (zip-bomb guard).
MAX_RATIO = 200
_ARTIFACT_NAME = re.compile(r"^artifacts/([0-9a-f]{64})$")

#: Tables of a patient's record in the order they are restored (references first).
TABLES: tuple[type[Base], ...] = (
    Patient,
    Episode,
    Artifact,
    Assessment,
    HistoryVersion,
    ImagingStudy,
    MuscleQualityRow,
    InstabilityStudy,
    InstabilityLevel,
    MorphometryStudy,
    MorphometryVertebra,
    WearableRecording,
    WearableDay,
    WearablePrompt,
    ProfileSnapshot,
    TriageDecision,
    PlanVersion,
    SessionLogRow,
    OutcomeValue,
    LiveStream,
    LivePrompt,
    LiveSnooze,
    *viewer.VIEWER_TABLES,  # image series, mask versions, radiographs, landmark versions
    RecordFile,
    AuditEvent,
)
#: Tables of the store that are not part of a patient's record, and why (a new table must be
#: exported or named here: tests/record/test_archive.py).
NOT_EXPORTED = {
    "users": "the web service's accounts (password hashes): each store keeps its own",
    "web_sessions": "login sessions of the web service, valid only on the store that made them",
    "login_attempts": "login throttling of the web service, about accounts, not patients",
    "jobs": "the web service's work queue; a job's result is saved in the record's tables",
    "alembic_version": "the schema revision (in the manifest as schema_revision)",
}
#: The table an ``entity`` name refers to (``record_files`` and ``audit_events``).
ENTITY_TABLES = {
    "patient": "patients",
    "record": "patients",
    "episode": "episodes",
    "assessment": "assessments",
    "history": "history_versions",
    "imaging": "imaging_studies",
    "instability": "instability_studies",
    "morphometry": "morphometry_studies",
    "wearable": "wearable_recordings",
    "profile": "profile_snapshots",
    "triage": "triage_decisions",
    "plan": "plan_versions",
    "sessions": "plan_versions",
    "file": "record_files",
    "upload": "record_files",
    "live_stream": "live_streams",
    "live_prompt": "live_prompts",
    "live_snooze": "live_snoozes",
    **viewer.VIEWER_ENTITIES,
}


class ExportOut(BaseModel):
    """What an export wrote."""

    path: str
    pseudonym: str
    rows: dict[str, int]
    artifacts: int
    bytes: int


class RestoreOut(BaseModel):
    """What a restore stored."""

    pseudonym: str
    rows: dict[str, int]
    artifacts: int


# ------------------------------------------------------------------------------ rows
def _value_out(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        stamp = utc(value)
        return stamp.isoformat() if stamp is not None else None
    if isinstance(column.type, Date):
        return value.isoformat()
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def _value_in(column: Any, value: Any, *, source: str) -> Any:
    if value is None:
        return None
    try:
        if isinstance(column.type, DateTime):
            return dt.datetime.fromisoformat(value)
        if isinstance(column.type, Date):
            return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(
            "not a date or time", source=source, item=column.name, value=str(value)[:40]
        ) from None
    if isinstance(column.type, LargeBinary):
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise InputError(
                "not base64 bytes", source=source, item=column.name, value=str(value)[:40]
            ) from None
    return value


#: Columns left out of the archive: the record's revision is a cache key
#: (spinestab.record.revision), not part of the record; a restored record counts anew.
NOT_ARCHIVED = frozenset({("patients", "revision")})


def _row(model: type[Base], obj: Any) -> dict[str, Any]:
    name = model.__tablename__
    return {
        c.name: _value_out(c, getattr(obj, c.key))
        for c in model.__table__.columns
        if (name, c.name) not in NOT_ARCHIVED
    }


def record_rows(uow: UnitOfWork, patient: Patient) -> dict[str, list[dict[str, Any]]]:
    """Every row of the patient's record, by table, every column (ids as stored)."""
    s = uow.session
    pid = patient.id

    def by_patient(model: Any) -> list[Any]:
        return list(s.scalars(select(model).where(model.patient_id == pid).order_by(model.id)))

    studies = by_patient(ImagingStudy)
    instab = by_patient(InstabilityStudy)
    morph = by_patient(MorphometryStudy)
    recordings = by_patient(WearableRecording)
    streams = by_patient(LiveStream)
    files = by_patient(RecordFile)
    forms = by_patient(Assessment)
    rows: dict[str, list[Any]] = {
        "patients": [patient],
        "episodes": by_patient(Episode),
        "assessments": forms,
        "history_versions": by_patient(HistoryVersion),
        "imaging_studies": studies,
        "muscle_quality_rows": [r for st in studies for r in st.rows],
        "instability_studies": instab,
        "instability_levels": [lv for st in instab for lv in st.levels],
        "morphometry_studies": morph,
        "morphometry_vertebrae": [v for st in morph for v in st.vertebrae],
        "wearable_recordings": recordings,
        "wearable_days": [d for rec in recordings for d in rec.days],
        "wearable_prompts": [p for rec in recordings for p in rec.prompts],
        "profile_snapshots": by_patient(ProfileSnapshot),
        "triage_decisions": by_patient(TriageDecision),
        "plan_versions": by_patient(PlanVersion),
        "session_logs": by_patient(SessionLogRow),
        "outcome_values": by_patient(OutcomeValue),
        "live_streams": streams,
        "live_prompts": by_patient(LivePrompt),
        "live_snoozes": by_patient(LiveSnooze),
        **{m.__tablename__: by_patient(m) for m in viewer.VIEWER_TABLES},
        "record_files": files,
        "audit_events": by_patient(AuditEvent),
    }
    hashes = {f.sha256 for f in files} | {a.artifact_sha256 for a in forms if a.artifact_sha256}
    hashes |= viewer.artifact_hashes(rows)
    rows["artifacts"] = [s.get(Artifact, h) for h in sorted(hashes)]
    models = {m.__tablename__: m for m in TABLES}
    return {
        name: [_row(models[name], obj) for obj in objs if obj is not None]
        for name, objs in rows.items()
    }


# ------------------------------------------------------------------------------ export
@service("export", "record")
def export_record(uow: UnitOfWork, actor: Actor, pseudonym: str, out: str | Path) -> ExportOut:
    """Write the patient's whole record and its artifacts to one archive (``out``).

    The export is audited (the event is in the archive). The file is written to a
    temporary sibling and renamed into place, mode 0600 (it holds health data).
    """
    from spinestab import __version__

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    out = Path(out)
    if out.is_dir():
        raise InputError("--out is a folder", source=str(out), expected="a file name (.zip)")
    if out.exists():
        raise InputError(
            "the archive file exists already", source=str(out), expected="a new file name"
        )
    audit(uow, actor, "export", "record", patient.id, patient=patient)
    uow.session.flush()
    rows = record_rows(uow, patient)
    manifest: dict[str, Any] = {
        "format": ARCHIVE_FORMAT[0],
        "format_version": ARCHIVE_FORMAT[1],
        "spinestab_version": __version__,
        "schema_revision": _schema_revision(uow),
        "exported_at": now().isoformat(),
        "pseudonym": patient.pseudonym,
        "rows": {name: len(items) for name, items in rows.items()},
        "artifacts": {a["sha256"]: a["size_bytes"] for a in rows["artifacts"]},
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as exc:
        raise InputError(
            f"cannot write the archive ({exc.__class__.__name__})",
            source=str(out),
            expected="a writable folder",
        ) from None
    tmp = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
            archive.writestr("record.json", json.dumps(rows, ensure_ascii=False))
            for sha in manifest["artifacts"]:
                with uow.files().open(sha) as src, archive.open(f"artifacts/{sha}", "w") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportOut(
        path=str(out),
        pseudonym=patient.pseudonym,
        rows=manifest["rows"],
        artifacts=len(manifest["artifacts"]),
        bytes=out.stat().st_size,
    )


def _schema_revision(uow: UnitOfWork) -> str | None:
    from sqlalchemy import text

    return uow.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


# ------------------------------------------------------------------------------ restore
def _open_archive(path: Path) -> zipfile.ZipFile:
    source = str(path)
    if not path.is_file():
        raise InputError("archive not found", source=source)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"not a record archive ({exc.__class__.__name__})", source=source
        ) from None
    total = 0
    for info in archive.infolist():
        if info.filename not in ("manifest.json", "record.json") and not _ARTIFACT_NAME.match(
            info.filename
        ):
            archive.close()
            raise InputError(
                "unexpected member in the archive",
                source=source,
                item=info.filename[:120],
                expected="manifest.json, record.json and artifacts/<sha256>",
            )
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            archive.close()
            raise InputError(
                "archive member expands too much", source=source, item=info.filename[:120]
            )
    if total > MAX_TOTAL_BYTES:
        archive.close()
        raise InputError("archive too large", source=source, value=f"{total} bytes")
    return archive


def _read_json(archive: zipfile.ZipFile, name: str, source: str) -> Any:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InputError(f"{name} missing from the archive", source=source) from None
    if info.file_size > MAX_JSON_BYTES:
        raise InputError(f"{name} too large", source=source, value=f"{info.file_size} bytes")
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{name} unreadable ({exc.__class__.__name__})", source=source) from None


def _check_tables(rows: Any, source: str) -> dict[str, list[dict[str, Any]]]:
    models = {m.__tablename__: m for m in TABLES}
    if not isinstance(rows, dict) or set(rows) - set(models):
        raise InputError(
            "record.json holds unknown tables",
            source=source,
            value=sorted(set(rows) - set(models)) if isinstance(rows, dict) else None,
        )
    for name, items in rows.items():
        columns = {c.name for c in models[name].__table__.columns}
        if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
            raise InputError("table is not a list of rows", source=source, item=name)
        for item in items:
            unknown = set(item) - columns
            if unknown:
                raise InputError(
                    "unknown column",
                    source=source,
                    item=f"{name}.{sorted(unknown)[0]}",
                    expected="an archive of this spinestab version",
                )
    if len(rows.get("patients", ())) != 1:
        raise InputError("the archive must hold exactly one patient", source=source)
    return rows


@service("restore", "record")
def restore_record(uow: UnitOfWork, actor: Actor, path: str | Path) -> RestoreOut:
    """Restore a patient's record from an archive of :func:`export_record`.

    Refused (nothing written): a damaged or foreign archive, an artifact whose bytes do not
    hash to its name, a pseudonym already in this store (:class:`AlreadyStoredError`).
    """
    from spinestab.store.artifacts import sha256_file

    authorize(actor, "", patient_may=False)
    path = Path(path)
    source = str(path)
    with _open_archive(path) as archive:
        manifest = _read_json(archive, "manifest.json", source)
        if (
            not isinstance(manifest, dict)
            or (
                manifest.get("format"),
                manifest.get("format_version"),
            )
            != ARCHIVE_FORMAT
        ):
            raise InputError(
                "not a spinestab record archive (format)",
                source=source,
                expected=f"{ARCHIVE_FORMAT[0]} version {ARCHIVE_FORMAT[1]}",
            )
        rows = _check_tables(_read_json(archive, "record.json", source), source)
        pseudonym = rows["patients"][0].get("pseudonym")
        if not isinstance(pseudonym, str) or not pseudonym:
            raise InputError(
                "the archive's patient has no pseudonym", source=source, item="patients"
            )
        exists = uow.session.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym))
        if exists is not None:
            raise AlreadyStoredError(
                "this patient is already in the record",
                source=source,
                item="pseudonym",
                value=pseudonym,
                expected="a store without this patient",
            )
        wanted = {a["sha256"]: a for a in rows.get("artifacts", [])}
        present = {
            m.group(1) for n in archive.namelist() if (m := _ARTIFACT_NAME.match(n)) is not None
        }
        missing = sorted(set(wanted) - present)
        if missing:
            raise InputError("artifact missing from the archive", source=source, item=missing[0])
        for sha in sorted(wanted):
            with tempfile.TemporaryDirectory(prefix="spinestab-restore-") as tmp:
                staged = Path(tmp) / "artifact"
                with archive.open(f"artifacts/{sha}") as src, staged.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                if sha256_file(staged).sha256 != sha:
                    raise InputError(
                        "artifact damaged: its bytes do not hash to its name",
                        source=source,
                        item=sha,
                    )
                uow.files().put(staged)
    counts = _insert_rows(uow, rows, source)
    patient = find_patient(uow, pseudonym)
    audit(
        uow,
        actor,
        "restore",
        "record",
        patient.id,
        patient=patient,
        detail={"archive": path.name, "exported_at": manifest.get("exported_at")},
    )
    return RestoreOut(pseudonym=pseudonym, rows=counts, artifacts=len(wanted))


def _insert_rows(
    uow: UnitOfWork, rows: dict[str, list[dict[str, Any]]], source: str
) -> dict[str, int]:
    """Insert the rows table by table with new ids, mapping every reference."""
    ids: dict[str, dict[Any, Any]] = {}
    counts = {}
    for model in TABLES:
        name = model.__tablename__
        table = model.__table__
        items = rows.get(name, [])
        counts[name] = len(items)
        if model is Artifact:
            for item in items:
                ensure_artifact_row(
                    uow,
                    item["sha256"],
                    int(item["size_bytes"]),
                    item.get("media_type"),
                    _value_in(table.c.created_at, item.get("created_at"), source=source),
                )
            continue
        mapping: dict[Any, Any] = {}
        ids[name] = mapping
        for item in items:
            values = {}
            for column in table.columns:
                if column.name not in item or column.primary_key:
                    continue
                value = _value_in(column, item[column.name], source=source)
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    if target == "artifacts" or value is None:
                        break
                    if value not in ids.get(target, {}):
                        raise InputError(
                            "reference to a row not in the archive",
                            source=source,
                            item=f"{name}.{column.name}",
                        )
                    value = ids[target][value]
                values[column.key] = value
            if name in ("record_files", "audit_events"):
                values["entity_id"] = _entity_id(ids, item)
            if name == "audit_events" and item.get("patient_id") is not None:
                values["patient_id"] = ids["patients"].get(item["patient_id"])
            obj: Any = model(**values)
            uow.session.add(obj)
            uow.session.flush()
            mapping[item["id"]] = obj.id
    return counts


def _entity_id(ids: dict[str, dict[Any, Any]], item: dict[str, Any]) -> Any:
    table = ENTITY_TABLES.get(str(item.get("entity")))
    old = item.get("entity_id")
    if old is None or table is None:
        return None
    return ids.get(table, {}).get(old)
