"""Results made by the analyses (or elsewhere) saved into the record.

- Imaging: ``muscle_quality.csv`` (required; validated by
  :func:`spinestab.care.io.read_muscle_quality`, the care contract), with ``summary.json``,
  ``per_slice.csv`` and the QA pictures of ``spinestab mri`` where present.
- Instability: ``instability.json`` (validated by :func:`spinestab.care.io.read_instability`)
  with the landmark files per view and the overlay picture.
- Wearable: ``daily.csv`` (validated by :func:`spinestab.care.io.read_daily`) with
  ``prompts.csv``, ``wearable_summary.json``, ``per_second.parquet`` and the timelines.

Every file goes into the artifact store; the tables also become rows (muscle x side x level,
motion segment, day, prompt) so that reports and cohorts can query them. A study is stored
once: its content hash (result table plus input files plus options) is unique per patient.
Input files given as ``inputs`` (role -> file or folder) are stored too, so every number
can be traced to the bytes it came from.

Long module: the three kinds of result share the file checks, the content hash and the
storing of files; to be split by kind when next changed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from spinestab.errors import AlreadyStoredError, InputError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    canonical_hash,
    current_episode,
    find_patient,
    now,
    service,
    store_file,
    utc,
)
from spinestab.record.forms import read_document
from spinestab.record.schemas import FileOut, ImagingOut, InstabilityOut, WearableOut
from spinestab.store.artifacts import sha256_file
from spinestab.store.models import (
    ImagingStudy,
    InstabilityLevel,
    InstabilityStudy,
    MuscleQualityRow,
    RecordFile,
    WearableDay,
    WearablePrompt,
    WearableRecording,
)

__all__ = [
    "MAX_TABLE_BYTES",
    "files_of",
    "imaging_out",
    "instability_out",
    "save_imaging",
    "save_imaging_folder",
    "save_instability",
    "save_instability_folder",
    "save_wearable",
    "save_wearable_folder",
    "wearable_out",
]

#: Largest result table or JSON read into rows (bytes); input files have no limit here.
MAX_TABLE_BYTES = 64_000_000
#: Most files taken from one input folder (a DICOM series).
MAX_INPUT_FILES = 5000


def _checked_file(path: Path, *, what: str, limit: int | None = MAX_TABLE_BYTES) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"a folder was given where {what} is expected", source=str(path))
    if not path.is_file():
        raise InputError("file not found", source=str(path), expected=what)
    if limit is not None and path.stat().st_size > limit:
        raise InputError(
            "file too large",
            source=str(path),
            value=f"{path.stat().st_size} bytes",
            expected=f"{what} of at most {limit} bytes",
        )
    return path


def _json_file(path: Path, *, what: str) -> Any:
    path = _checked_file(path, what=what)
    return read_document(path.read_bytes(), source=str(path), max_bytes=MAX_TABLE_BYTES)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _input_files(inputs: Mapping[str, str | Path]) -> list[tuple[str, str, Path]]:
    """(role, name, path) of every input file; a folder gives all its files (sorted)."""
    out = []
    for role, given in inputs.items():
        if given is None:
            continue
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if len(files) > MAX_INPUT_FILES:
                raise InputError(
                    "too many files in an input folder",
                    source=str(path),
                    value=len(files),
                    expected=f"at most {MAX_INPUT_FILES}",
                )
            out += [(role, str(p.relative_to(path)), p) for p in files]
        elif path.is_file():
            out.append((role, path.name, path))
        else:
            raise InputError("input file not found", source=str(path), item=role)
    return out


def _content_hash(
    kind: str, primary: Path, inputs: list[tuple[str, str, Path]], options: Any
) -> str:
    return canonical_hash(
        {
            "kind": kind,
            "result": sha256_file(primary).sha256,
            "inputs": sorted([role, name, sha256_file(p).sha256] for role, name, p in inputs),
            "options": options,
        }
    )


def files_of(uow: UnitOfWork, entity: str, entity_id: int) -> list[FileOut]:
    """Return the files of one record entity."""
    rows = uow.session.scalars(
        select(RecordFile)
        .where(RecordFile.entity == entity, RecordFile.entity_id == entity_id)
        .order_by(RecordFile.id)
    )
    return [FileOut(id=r.id, role=r.role, name=r.name, sha256=r.sha256) for r in rows]


def _store_all(
    uow: UnitOfWork,
    actor: Actor,
    patient: Any,
    entity: str,
    entity_id: int,
    named: Sequence[tuple[str, str, Path]],
) -> None:
    for role, name, path in named:
        store_file(
            uow, actor, patient, path, entity=entity, entity_id=entity_id, role=role, name=name
        )


def _insert_unique(uow: UnitOfWork, row: Any, *, what: str, source: str) -> None:
    try:
        with uow.session.begin_nested():
            uow.session.add(row)
            uow.session.flush()
    except IntegrityError:
        raise AlreadyStoredError(
            f"this {what} is already stored for the patient", source=source
        ) from None


def _refuse_copy(
    uow: UnitOfWork, model: Any, patient_id: int, digest: str, what: str, source: str
) -> None:
    existing = uow.session.scalar(
        select(model.id).where(model.patient_id == patient_id, model.content_hash == digest)
    )
    if existing is not None:
        raise AlreadyStoredError(
            f"this {what} is already stored for the patient ({what} {existing})",
            source=source,
            expected="a result not yet stored (same result, inputs and options)",
        )


# ------------------------------------------------------------------------------ imaging
def imaging_out(
    uow: UnitOfWork, row: ImagingStudy, *, files: list[FileOut] | None = None
) -> ImagingOut:
    """Return the typed view of an imaging study."""
    return ImagingOut(
        id=row.id,
        performed_on=row.performed_on,
        modality=row.modality,
        fat_method=row.fat_method,
        options=row.options,
        source=row.source,
        rows=[r.values for r in row.rows],
        files=files if files is not None else files_of(uow, "imaging", row.id),
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


@service("create", "imaging")
def save_imaging(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    table: str | Path,
    *,
    summary: str | Path | None = None,
    extra_files: Sequence[str | Path] = (),
    pictures: Sequence[str | Path] = (),
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "import",
    performed_on: dt.date | None = None,
) -> ImagingOut:
    """Save a muscle-quality table (``muscle_quality.csv``) and what came with it.

    Parameters
    ----------
    uow : UnitOfWork
        The transaction.
    actor : Actor
        Who acts (a clinician).
    pseudonym : str
        The patient.
    table : path
        ``muscle_quality.csv`` of ``spinestab mri`` (or made elsewhere in that format).
    summary : path, optional
        ``summary.json`` of ``spinestab mri`` (modality, geometry, inputs, flags).
    extra_files : paths
        Other result files kept with the study (e.g. ``per_slice.csv``).
    pictures : paths
        QA pictures (``qa_<level>.png``).
    inputs : mapping, optional
        Input files or folders by role (``image``, ``mask``, ``water``, ``fat``...).
    options : mapping, optional
        The analysis options (as the command line gave them).
    source : str
        How the study came in (``spinestab mri`` or ``import``).
    performed_on : datetime.date, optional
        When the images were taken, where known (a FHIR Bundle's ImagingStudy.started).

    """
    from spinestab.care.io import read_muscle_quality

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    table = _checked_file(Path(table), what="muscle_quality.csv")
    read_muscle_quality(table)  # the care contract: columns, numbers, ranges
    rows = _csv_rows(table)
    summary_doc = _json_file(Path(summary), what="summary.json") if summary else None
    if summary_doc is not None and not isinstance(summary_doc, Mapping):
        raise InputError("summary.json is not an object", source=str(summary))
    named_inputs = _input_files(inputs or {})
    opts = dict(options or {})
    digest = _content_hash("imaging", table, named_inputs, opts)
    _refuse_copy(uow, ImagingStudy, patient.id, digest, "imaging study", str(table))
    episode = current_episode(uow, actor, patient)
    methods = sorted({r.get("fat_method", "") for r in rows if r.get("fat_method")})
    modality = None
    if summary_doc and isinstance(summary_doc.get("modality"), Mapping):
        modality = str(summary_doc["modality"].get("value") or "")[:16] or None
    study = ImagingStudy(
        patient_id=patient.id,
        episode_id=episode.id,
        performed_on=performed_on,
        modality=modality,
        fat_method=", ".join(methods)[:128] or None,
        options=opts,
        summary=summary_doc,
        content_hash=digest,
        source=source,
        created_at=now(),
        created_by=actor.username,
    )
    study.rows = [
        MuscleQualityRow(
            row_index=i,
            muscle=row.get("muscle", "")[:64],
            side=row.get("side", "")[:16],
            level=row.get("level", "")[:32],
            fat_fraction_pct=_float(row.get("fat_fraction_pct")),
            fat_method=(row.get("fat_method") or None),
            csa_max_mm2=_float(row.get("csa_max_mm2")),
            grade=(row.get("grade") or None),
            values=row,
        )
        for i, row in enumerate(rows)
    ]
    _insert_unique(uow, study, what="imaging study", source=str(table))
    outputs = [("table", "muscle_quality.csv", table)]
    if summary:
        outputs.append(("summary", "summary.json", Path(summary)))
    outputs += [
        ("output", Path(p).name, _checked_file(Path(p), what="a result file")) for p in extra_files
    ]
    outputs += [
        ("qa_picture", Path(p).name, _checked_file(Path(p), what="a QA picture")) for p in pictures
    ]
    _store_all(uow, actor, patient, "imaging", study.id, outputs)
    _store_all(
        uow, actor, patient, "imaging", study.id, [(f"input:{r}", n, p) for r, n, p in named_inputs]
    )
    audit(
        uow,
        actor,
        "create",
        "imaging",
        study.id,
        patient=patient,
        detail={"rows": len(rows), "source": source},
    )
    return imaging_out(uow, study)


@service("create", "imaging")
def save_imaging_folder(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: str | Path,
    *,
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "spinestab mri",
    performed_on: dt.date | None = None,
) -> ImagingOut:
    """Save the output folder of ``spinestab mri`` (``muscle_quality.csv`` and the rest).

    ``performed_on``: when the images were taken, where known (orders the studies).
    """
    folder = Path(folder)
    summary = folder / "summary.json"
    per_slice = folder / "per_slice.csv"
    return save_imaging(
        uow,
        actor,
        pseudonym,
        folder / "muscle_quality.csv",
        summary=summary if summary.is_file() else None,
        extra_files=[per_slice] if per_slice.is_file() else [],
        pictures=sorted(folder.glob("qa_*.png")),
        inputs=inputs,
        options=options,
        source=source,
        performed_on=performed_on,
    )


# ------------------------------------------------------------------------------ instability
def instability_out(
    uow: UnitOfWork, row: InstabilityStudy, *, files: list[FileOut] | None = None
) -> InstabilityOut:
    """Return the typed view of an instability study."""
    return InstabilityOut(
        id=row.id,
        performed_on=row.performed_on,
        thresholds=row.thresholds,
        options=row.options,
        source=row.source,
        levels=[lv.values for lv in row.levels],
        files=files if files is not None else files_of(uow, "instability", row.id),
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def _landmark_docs(landmarks: Mapping[str, str | Path]) -> dict[str, Any]:
    from spinestab.instability import landmarks_to_dict, read_landmarks

    docs = {}
    for view, path in landmarks.items():
        if path is None:
            continue
        docs[view] = landmarks_to_dict(read_landmarks(Path(path), view=view))
    return docs


@service("create", "instability")
def save_instability(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    result: str | Path,
    *,
    landmarks: Mapping[str, str | Path] | None = None,
    pictures: Sequence[str | Path] = (),
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "import",
    performed_on: dt.date | None = None,
) -> InstabilityOut:
    """Save ``instability.json`` with its landmark files (view -> file) and picture.

    The landmark files are read with :func:`spinestab.instability.read_landmarks` and kept
    in the landmark JSON schema, besides the files themselves. ``performed_on``: when the
    films were taken, where known.
    """
    from spinestab.care.io import read_instability

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    result = _checked_file(Path(result), what="instability.json")
    findings = read_instability(result)
    document = _json_file(result, what="instability.json")
    landmark_docs = _landmark_docs(landmarks or {})
    named_inputs = _input_files({f"landmarks_{v}": p for v, p in (landmarks or {}).items()})
    named_inputs += _input_files(inputs or {})
    opts = dict(options or {})
    digest = _content_hash("instability", result, named_inputs, opts)
    _refuse_copy(uow, InstabilityStudy, patient.id, digest, "instability study", str(result))
    episode = current_episode(uow, actor, patient)
    thresholds = document.get("thresholds") if isinstance(document, Mapping) else None
    if isinstance(thresholds, Mapping):
        thresholds = thresholds.get("name")
    study = InstabilityStudy(
        patient_id=patient.id,
        episode_id=episode.id,
        performed_on=performed_on,
        thresholds=str(thresholds)[:128] if thresholds else None,
        landmarks=landmark_docs or None,
        options=opts,
        result=document if isinstance(document, Mapping) else {"levels": document},
        content_hash=digest,
        source=source,
        created_at=now(),
        created_by=actor.username,
    )
    study.levels = [
        InstabilityLevel(
            row_index=i,
            level=level.level[:32],
            slip_mm=level.slip_mm,
            slip_pct=level.slip_pct,
            meyerding_grade=level.meyerding_grade,
            translation_mm=level.translation_mm,
            angulation_deg=level.angulation_deg,
            verdict=level.verdict_reported or level.verdict,
            values=_jsonable(
                asdict(level)
                | _named_thresholds(document, level.level, cervical=level in findings.cervical)
            ),
        )
        # every measured segment, the cervical ones too (reported and referred, §4.7)
        for i, level in enumerate(findings.all_levels)
    ]
    _insert_unique(uow, study, what="instability study", source=str(result))
    outputs = [("result", "instability.json", result)]
    outputs += [
        ("picture", Path(p).name, _checked_file(Path(p), what="a picture")) for p in pictures
    ]
    _store_all(uow, actor, patient, "instability", study.id, outputs)
    _store_all(
        uow,
        actor,
        patient,
        "instability",
        study.id,
        [(f"input:{r}", n, p) for r, n, p in named_inputs],
    )
    audit(
        uow,
        actor,
        "create",
        "instability",
        study.id,
        patient=patient,
        detail={"levels": len(study.levels), "source": source},
    )
    return instability_out(uow, study)


def _named_thresholds(document: Any, level: str, *, cervical: bool) -> dict[str, Any]:
    """Return a segment's region and the threshold set that judged it.

    As ``instability.json`` names them for the segment; else its ``thresholds`` (lumbar) or
    ``cervical_thresholds`` (cervical) set's name.
    """
    named: dict[str, Any] = {"region": "cervical" if cervical else "lumbar"}
    if not isinstance(document, Mapping):
        return named
    whole = document.get("cervical_thresholds" if cervical else "thresholds")
    if isinstance(whole, Mapping) and isinstance(whole.get("name"), str):
        named["threshold_set"] = whole["name"][:64]
    entries = document.get("levels")
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, Mapping) and entry.get("level") == level:
            named |= {
                key: entry[key][:64]
                for key in ("region", "threshold_set")
                if isinstance(entry.get(key), str)
            }
    return named


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@service("create", "instability")
def save_instability_folder(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: str | Path,
    *,
    landmarks: Mapping[str, str | Path] | None = None,
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "spinestab instability",
) -> InstabilityOut:
    """Save the output folder of ``spinestab instability``."""
    folder = Path(folder)
    marks = dict(landmarks or {})
    derived = folder / "landmarks_neutral.json"
    if "neutral" not in marks and derived.is_file():
        marks["neutral"] = derived
    return save_instability(
        uow,
        actor,
        pseudonym,
        folder / "instability.json",
        landmarks=marks,
        pictures=[p for p in [folder / "instability.png"] if p.is_file()],
        inputs=inputs,
        options=options,
        source=source,
    )


# ------------------------------------------------------------------------------ wearable
def wearable_out(
    uow: UnitOfWork, row: WearableRecording, *, files: list[FileOut] | None = None
) -> WearableOut:
    """Return the typed view of a wearable recording."""
    return WearableOut(
        id=row.id,
        first_date=row.first_date,
        last_date=row.last_date,
        setup=row.setup,
        options=row.options,
        source=row.source,
        days=[d.values for d in row.days],
        prompts=len(row.prompts),
        files=files if files is not None else files_of(uow, "wearable", row.id),
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


@service("create", "wearable")
def save_wearable(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    daily: str | Path,
    *,
    prompts: str | Path | None = None,
    summary: str | Path | None = None,
    extra_files: Sequence[str | Path] = (),
    pictures: Sequence[str | Path] = (),
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "import",
) -> WearableOut:
    """Save a wearable result: ``daily.csv`` and what came with it.

    Parameters
    ----------
    uow : UnitOfWork
        The transaction.
    actor : Actor
        Who acts (a clinician).
    pseudonym : str
        The patient.
    daily : path
        ``daily.csv`` of ``spinestab wearable`` (validated as ``spinestab plan`` reads it).
    prompts : path, optional
        ``prompts.csv``.
    summary : path, optional
        ``wearable_summary.json``.
    extra_files : paths
        E.g. ``per_second.parquet``.
    pictures : paths
        ``timeline_<date>.png``.
    inputs : mapping, optional
        The recording files by role (``trunk``, ``thigh``).
    options : mapping, optional
        The analysis options.
    source : str
        How the recording came in (``spinestab wearable`` or ``import``).

    """
    from spinestab.care.io import read_daily

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    daily = _checked_file(Path(daily), what="daily.csv")
    days = read_daily(daily)
    prompt_rows = _csv_rows(_checked_file(Path(prompts), what="prompts.csv")) if prompts else []
    if prompts and prompt_rows and "time" not in prompt_rows[0]:
        raise InputError("prompts.csv has no time column", source=str(prompts))
    summary_doc = _json_file(Path(summary), what="wearable_summary.json") if summary else None
    named_inputs = _input_files(inputs or {})
    opts = dict(options or {})
    digest = _content_hash("wearable", daily, named_inputs, opts)
    _refuse_copy(uow, WearableRecording, patient.id, digest, "wearable recording", str(daily))
    episode = current_episode(uow, actor, patient)
    dates = sorted(dt.date.fromisoformat(d["date"]) for d in days)
    setup = summary_doc.get("setup") if isinstance(summary_doc, Mapping) else None
    recording = WearableRecording(
        patient_id=patient.id,
        episode_id=episode.id,
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
        setup=str(setup)[:64] if setup else None,
        options=opts,
        summary=summary_doc if isinstance(summary_doc, Mapping) else None,
        content_hash=digest,
        source=source,
        created_at=now(),
        created_by=actor.username,
    )
    recording.days = [
        WearableDay(
            date=dt.date.fromisoformat(d["date"]),
            valid_day=d.get("valid_day"),
            wear_min=d.get("wear_min"),
            steps=d.get("steps"),
            values=_jsonable(d),
        )
        for d in days
    ]
    recording.prompts = [
        WearablePrompt(row_index=i, time=row.get("time", "")[:40], values=row)
        for i, row in enumerate(prompt_rows)
    ]
    _insert_unique(uow, recording, what="wearable recording", source=str(daily))
    outputs = [("table", "daily.csv", daily)]
    if prompts:
        outputs.append(("prompts", "prompts.csv", Path(prompts)))
    if summary:
        outputs.append(("summary", "wearable_summary.json", Path(summary)))
    outputs += [
        ("output", Path(p).name, _checked_file(Path(p), what="a result file", limit=None))
        for p in extra_files
    ]
    outputs += [
        ("timeline", Path(p).name, _checked_file(Path(p), what="a picture")) for p in pictures
    ]
    _store_all(uow, actor, patient, "wearable", recording.id, outputs)
    _store_all(
        uow,
        actor,
        patient,
        "wearable",
        recording.id,
        [(f"input:{r}", n, p) for r, n, p in named_inputs],
    )
    audit(
        uow,
        actor,
        "create",
        "wearable",
        recording.id,
        patient=patient,
        detail={"days": len(days), "prompts": len(prompt_rows), "source": source},
    )
    return wearable_out(uow, recording)


@service("create", "wearable")
def save_wearable_folder(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: str | Path,
    *,
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "spinestab wearable",
) -> WearableOut:
    """Save the output folder of ``spinestab wearable``."""
    folder = Path(folder)

    def have(name: str) -> Path | None:
        return folder / name if (folder / name).is_file() else None

    return save_wearable(
        uow,
        actor,
        pseudonym,
        folder / "daily.csv",
        prompts=have("prompts.csv"),
        summary=have("wearable_summary.json"),
        extra_files=[p for p in [have("per_second.parquet")] if p is not None],
        pictures=sorted(folder.glob("timeline_*.png")),
        inputs=inputs,
        options=options,
        source=source,
    )
