"""A Bundle's :class:`~spinestab.fhir.model.PatientExport` back into the record (import side).

Every part goes through the record services: the patient, the history, every questionnaire,
each imaging, instability and wearable study with its attached files, and the plan with its
approval as received (:func:`spinestab.record.received.receive_plan`). See
:mod:`spinestab.fhir.stored`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from spinestab.errors import InputError, NotFoundError
from spinestab.fhir.carried import (
    daily_movement,
    finite,
    instability_values,
    landmark_traces,
    mask_trace,
    options_as_received,
)
from spinestab.fhir.model import (
    DayMovement,
    ImagingExport,
    InstabilityExport,
    MorphometryExport,
    PatientExport,
    SourceDocument,
)
from spinestab.fhir.wearable import SPANS_OPTION, sensors_from_summary, summary_of

__all__ = ["StoredImport", "import_into_record"]

_AS_EXPORTED = "a Bundle as spinestab fhir export wrote it (values not edited)"


@dataclass(frozen=True)
class StoredImport:
    """What :func:`import_into_record` stored, and what the record did not take."""

    pseudonym: str
    patient_created: bool
    forms: int
    history: bool = False
    imaging: int = 0
    instability: int = 0
    wearable: int = 0
    morphometry: int = 0
    plan: str | None = None
    not_stored: tuple[str, ...] = ()


def import_into_record(
    uow: Any, actor: Any, data: PatientExport, *, pseudonym: str | None = None
) -> StoredImport:
    """Rebuild a patient's record from a Bundle's :class:`PatientExport` (the caller's transaction).

    Every part goes through the record services, validated as when it was first saved:
    the patient (created when new), the history, every questionnaire, each imaging,
    instability and wearable study with its files, and the plan with its approval
    (:func:`spinestab.record.received.receive_plan`). Red flags, scores, risk and
    referrals follow from the forms. A part already stored is an error and the caller's
    transaction stores nothing. A study the Bundle describes without its files (a Bundle
    not made by spinestab 0.1 from a record) is named in ``not_stored``.
    """
    from spinestab.record import create_patient, get_patient, save_form, save_history

    name = pseudonym or data.pseudonym
    created = False
    try:
        get_patient(uow, actor, name)
    except NotFoundError:
        create_patient(uow, actor, name, sex=data.sex, birth_year=data.birth_year)
        created = True
    if data.history is not None:
        save_history(
            uow,
            actor,
            name,
            data.history.data,
            source=f"FHIR Bundle of {data.pseudonym}: history",
            recorded_on=data.history.recorded_on,
        )
    for n, form in enumerate(data.forms, start=1):
        save_form(
            uow,
            actor,
            name,
            {"instrument": form.instrument, "date": form.date.isoformat(), "answers": form.answers},
            source=f"Bundle form {n} ({form.instrument} {form.date.isoformat()})",
        )
    docs: dict[tuple[str, str], list[SourceDocument]] = {}
    for d in data.documents:
        docs.setdefault((d.kind, d.study), []).append(d)
    not_stored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="spinestab-fhir-import-") as tmp:
        root = Path(tmp)
        counts = {
            "imaging": _import_imaging(uow, actor, name, data, docs, root, not_stored),
            "instability": _import_instability(uow, actor, name, data, docs, root, not_stored),
            "wearable": _import_wearable(uow, actor, name, data, docs, root, not_stored),
            "morphometry": _import_morphometry(uow, actor, name, data, docs, root, not_stored),
        }
        plan = _import_plan(uow, actor, name, data, docs, not_stored)
    return StoredImport(
        name,
        created,
        len(data.forms),
        history=data.history is not None,
        imaging=counts["imaging"],
        instability=counts["instability"],
        wearable=counts["wearable"],
        morphometry=counts["morphometry"],
        plan=plan,
        not_stored=tuple(not_stored),
    )


def _write(folder: Path, documents: Sequence[SourceDocument]) -> dict[str, list[Path]]:
    """Write a study's documents into its own folder; return paths by role."""
    folder.mkdir(parents=True, mode=0o700)
    out: dict[str, list[Path]] = {}
    for d in documents:
        safe = Path(d.name).name
        if not safe or safe in (".", ".."):
            raise InputError("attachment without a usable file name", value=d.name)
        sub = folder / d.role.replace(":", "_")
        sub.mkdir(exist_ok=True, mode=0o700)
        path = sub / safe
        path.write_bytes(d.data)
        out.setdefault(d.role, []).append(path)
    return out


def _one(files: dict[str, list[Path]], role: str) -> Path | None:
    found = files.get(role) or []
    return found[0] if found else None


def _import_studies(
    kind: str,
    studies: Sequence[tuple[str, Any]],
    docs: dict[tuple[str, str], list[SourceDocument]],
    root: Path,
    not_stored: list[str],
    *,
    main: tuple[str, str],
    store: Callable[[Any, Path, dict[str, list[Path]]], None],
) -> int:
    """Store each study whose main file is attached; name the others in ``not_stored``.

    ``studies`` are ``(key, study)`` pairs (the key names the study's documents); ``main``
    is the role of the file a study cannot be stored without and its file name for the
    message; ``store(study, main_file, files)`` checks and saves one study. Each study's
    documents are written into a scratch folder of its own. Returns how many were stored.
    """
    role, file_name = main
    stored = 0
    for i, (key, study) in enumerate(studies):
        files = _write(root / f"{kind}-{i}", docs.get((kind, key), []))
        found = _one(files, role)
        if found is None:
            not_stored.append(f"{key} (no {file_name} attached)")
            continue
        store(study, found, files)
        stored += 1
    return stored


def _import_imaging(
    uow: Any,
    actor: Any,
    name: str,
    data: PatientExport,
    docs: dict[tuple[str, str], list[SourceDocument]],
    root: Path,
    not_stored: list[str],
) -> int:
    from spinestab.record import save_imaging

    def store(study: ImagingExport, table: Path, files: dict[str, list[Path]]) -> None:
        _check_imaging(study, table)
        options = _options(files)
        _check_mask_trace(study, options)
        save_imaging(
            uow,
            actor,
            name,
            table,
            summary=_one(files, "summary"),
            extra_files=files.get("output", []),
            pictures=files.get("qa_picture", []),
            options=options_as_received(options, origin=f"FHIR Bundle of {data.pseudonym}"),
            source=f"FHIR Bundle of {data.pseudonym}: {study.study_id}",
            performed_on=study.date,
        )

    studies = [(study.study_id, study) for study in data.imaging]
    return _import_studies(
        "imaging",
        studies,
        docs,
        root,
        not_stored,
        main=("table", "muscle_quality.csv"),
        store=store,
    )


def _check_imaging(study: ImagingExport, table: Path) -> None:
    """Refuse an attached table that does not give exactly the Bundle's Observations."""
    from spinestab.core.results import MUSCLE_QUALITY_REQUIRED
    from spinestab.dicom_out.sr import read_muscle_quality_csv
    from spinestab.fhir.build import MUSCLE_MEASURES

    rows = read_muscle_quality_csv(table, required=MUSCLE_QUALITY_REQUIRED)
    from_table = sorted(
        (r.muscle, r.side, r.level, col, v, r.fat_method)
        for r in rows
        for col in MUSCLE_MEASURES
        if (v := finite(getattr(r, col))) is not None
    )
    observed = sorted(
        (m.muscle, m.side, m.level, m.measure, m.value, m.method) for m in study.measures
    )
    if from_table != observed:
        raise InputError(
            "the Observations of an imaging study disagree with its attached muscle_quality.csv",
            item=study.study_id,
            expected=_AS_EXPORTED,
        )


def _import_instability(
    uow: Any,
    actor: Any,
    name: str,
    data: PatientExport,
    docs: dict[tuple[str, str], list[SourceDocument]],
    root: Path,
    not_stored: list[str],
) -> int:
    from spinestab.record import save_instability

    def store(study: InstabilityExport, result: Path, files: dict[str, list[Path]]) -> None:
        _check_instability(study, result)
        options = _options(files)
        _check_landmark_traces(study, options)
        landmarks = {
            role.removeprefix("input:landmarks_"): paths[0]
            for role, paths in files.items()
            if role.startswith("input:landmarks_")
        }
        save_instability(
            uow,
            actor,
            name,
            result,
            landmarks=landmarks,
            pictures=files.get("picture", []),
            options=options,
            source=f"FHIR Bundle of {data.pseudonym}: {study.study_id}",
            performed_on=study.date,
        )

    studies = [(study.study_id, study) for study in data.instability]
    return _import_studies(
        "instability",
        studies,
        docs,
        root,
        not_stored,
        main=("result", "instability.json"),
        store=store,
    )


def _options(files: dict[str, list[Path]]) -> dict[str, Any]:
    """Return a study's attached ``options.json`` (an object), or ``{}`` when none."""
    path = _one(files, "options")
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise InputError("an attached options.json is not a JSON object", expected=_AS_EXPORTED)
    return doc


def _check_mask_trace(study: ImagingExport, options: dict[str, Any]) -> None:
    """Refuse a Provenance whose mask version, method or author are not the options' own."""
    trace, levels_by = mask_trace(options)
    given = (study.mask_version, study.mask_author, study.levels_by)
    if given != (trace, trace.author if trace else None, levels_by):
        raise InputError(
            "the Provenance of an imaging study disagrees with its attached options.json "
            "(mask version, its method and author, who named the levels)",
            item=study.study_id,
            expected=_AS_EXPORTED,
        )


def _check_landmark_traces(study: InstabilityExport, options: dict[str, Any]) -> None:
    """Refuse a Provenance whose reader or landmark versions are not the options' own."""
    if (study.landmarks_author, study.landmarks) != landmark_traces(options):
        raise InputError(
            "the Provenance of an instability study disagrees with its attached options.json "
            "(the reader and the landmark versions)",
            item=study.study_id,
            expected=_AS_EXPORTED,
        )


def _check_instability(study: InstabilityExport, result: Path) -> None:
    """Refuse an attached ``instability.json`` that does not give the Bundle's Observations."""
    measures, verdicts = instability_values(result)
    if sorted(measures, key=repr) != sorted(study.measures, key=repr) or sorted(verdicts) != sorted(
        study.verdicts
    ):
        raise InputError(
            "the Observations of an instability study disagree with its attached instability.json",
            item=study.study_id,
            expected=_AS_EXPORTED,
        )


def _check_days(key: str, days: Sequence[DayMovement], table: Path) -> None:
    """Refuse an attached ``daily.csv`` that does not give the Bundle's day Observations."""
    from_table = daily_movement(table, recording=key)
    days = [replace(d, period=None) for d in days]  # the spans are not in daily.csv
    if sorted(from_table, key=repr) != sorted(days, key=repr):
        raise InputError(
            "the day Observations of a wearable recording disagree with its attached daily.csv",
            item=key,
            expected=_AS_EXPORTED,
        )


def _import_wearable(
    uow: Any,
    actor: Any,
    name: str,
    data: PatientExport,
    docs: dict[tuple[str, str], list[SourceDocument]],
    root: Path,
    not_stored: list[str],
) -> int:
    from spinestab.record import save_wearable

    def store(key: str, table: Path, files: dict[str, list[Path]]) -> None:
        days = [d for d in data.movement if d.recording == key]
        _check_days(key, days, table)
        summary = _one(files, "summary")
        _check_sensors(key, data, summary)
        spans = {d.date.isoformat(): list(d.period) for d in days if d.period}
        save_wearable(
            uow,
            actor,
            name,
            table,
            prompts=_one(files, "prompts"),
            summary=summary,
            options={SPANS_OPTION: spans} if spans else None,
            source=f"FHIR Bundle of {data.pseudonym}: {key}",
        )

    keys = sorted({d.recording for d in data.movement}, key=_ordinal)
    if "" in keys:
        not_stored.append("wearable days of a folder export (no daily.csv attached)")
    recordings = [(key, key) for key in keys if key]
    return _import_studies(
        "wearable", recordings, docs, root, not_stored, main=("table", "daily.csv"), store=store
    )


def _check_sensors(key: str, data: PatientExport, summary: Path | None) -> None:
    """Refuse sensor Devices that are not those of the attached ``wearable_summary.json``."""
    given = [s for s in data.sensors if s.recording == key]
    kept = sensors_from_summary(summary_of(summary), recording=key) if summary else []
    if given != kept:
        raise InputError(
            "the Devices of a wearable recording disagree with its attached "
            "wearable_summary.json (its sensors)",
            item=key,
            expected=_AS_EXPORTED,
        )


def _import_morphometry(
    uow: Any,
    actor: Any,
    name: str,
    data: PatientExport,
    docs: dict[tuple[str, str], list[SourceDocument]],
    root: Path,
    not_stored: list[str],
) -> int:
    from spinestab.fhir.morphometry import vertebrae_of_file
    from spinestab.record import save_morphometry
    from spinestab.store.morphometry_models import MorphometryStudy

    def store(study: MorphometryExport, result: Path, files: dict[str, list[Path]]) -> None:
        if sorted(vertebrae_of_file(result), key=repr) != sorted(study.vertebrae, key=repr):
            raise InputError(
                "the Observations of a morphometry study disagree with its attached "
                "morphometry.json",
                item=study.study_id,
                expected=_AS_EXPORTED,
            )
        saved = save_morphometry(
            uow,
            actor,
            name,
            result,
            pictures=files.get("picture", []),
            source=f"FHIR Bundle of {data.pseudonym}: {study.study_id}",
        )
        # the date the study was taken, as received (save_morphometry takes none)
        uow.session.get(MorphometryStudy, saved.id).performed_on = study.date

    studies = [(study.study_id, study) for study in data.morphometry]
    return _import_studies(
        "morphometry",
        studies,
        docs,
        root,
        not_stored,
        main=("result", "morphometry.json"),
        store=store,
    )


def _ordinal(key: str) -> tuple[int, str]:
    tail = key.rsplit(" ", 1)[-1]
    return (int(tail) if tail.isdigit() else 0, key)


def _import_plan(
    uow: Any,
    actor: Any,
    name: str,
    data: PatientExport,
    docs: dict[tuple[str, str], list[SourceDocument]],
    not_stored: list[str],
) -> str | None:
    from spinestab.record.received import ReceivedPlan, receive_plan

    plan = data.plan
    if plan is None:
        return None
    files = {d.name: d.data for d in docs.get(("plan", f"plan version {plan.version}"), [])}
    if "plan.json" not in files:
        not_stored.append(f"plan version {plan.version} (no plan.json attached)")
        return None

    def doc(file: str) -> Any:
        return json.loads(files[file]) if file in files else None

    made = receive_plan(
        uow,
        actor,
        name,
        ReceivedPlan(
            document=doc("plan.json"),
            status=plan.status,
            approved_by=plan.approved_by,
            approved_at=plan.approved_at,
            handout_html=files["handout.html"].decode("utf-8") if "handout.html" in files else None,
            profile=doc("profile.json"),
            triage=doc("triage.json"),
            source=f"FHIR Bundle of {data.pseudonym}",
        ),
    )
    return f"version {made.version} {made.status}"
