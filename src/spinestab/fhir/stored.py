"""A stored patient's record as :class:`PatientExport`, and a Bundle back into the record.

:func:`export_from_record` takes everything from the record (issue 10): the history and
examination in force; every stored questionnaire over time; each imaging study's
muscle-quality rows (method, segmenter or mask file, DICOM study and series); each
instability study's measures and verdicts per segment (cervical and lumbar); each wearable
recording's days; the open red flags with their actions; the plan in force (or, before any
approval, the latest draft) with who approved it and the triage it was made from. The
record's own files travel with it as DocumentReference attachments (``muscle_quality.csv``,
``summary.json``, QA overlays, ``instability.json`` with its landmarks and picture,
``daily.csv``, ``plan.json``, ``triage.json``...), so that :func:`import_into_record` can
rebuild the record through the record services and export, import, export gives the same
resources.

Not carried: session logs and outcome values, episodes of care (everything lands in the
open episode), earlier history and plan versions, retracted forms, the analyses' input
images and recordings (too large; a received study has no input files, so it cannot be
re-analysed or exported as DICOM SEG), wearable timelines and ``per_second.parquet``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab import __version__
from spinestab.errors import InputError, NotFoundError
from spinestab.fhir.model import (
    DayMovement,
    FormEntry,
    HistoryExport,
    ImagingExport,
    InstabilityExport,
    MuscleMeasure,
    PatientExport,
    PlanExport,
    PlannedActivity,
    RedFlagExport,
    Referral,
    SegmentMeasure,
    SourceDocument,
    TriageExport,
)

__all__ = [
    "StoredImport",
    "export_from_record",
    "import_into_record",
    "with_pseudonym",
]

#: files of a study carried in the Bundle, by record file role (inputs other than landmarks
#: and wearable timelines / per-second tables are not carried)
CARRIED_ROLES = {
    "imaging": ("table", "summary", "output", "qa_picture"),
    "instability": (
        "result",
        "picture",
        "input:landmarks_neutral",
        "input:landmarks_flexion",
        "input:landmarks_extension",
    ),
    "wearable": ("table", "prompts", "summary"),
}
#: the DICOM references of an imaging study, kept with it (a received study has no series)
DICOM_REFS = "dicom_refs.json"
MEDIA = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".png": "image/png",
    ".html": "text/html",
}


def with_pseudonym(obj: Any, pseudonym: str) -> Any:
    """Return ``obj`` (ReportInputs or PatientExport) with the pseudonym put back."""
    from dataclasses import replace

    if hasattr(obj, "pseudonym"):
        return replace(obj, pseudonym=pseudonym)
    return replace(obj, profile=replace(obj.profile, patient=pseudonym))


def _media(name: str) -> str:
    return MEDIA.get(Path(name).suffix.lower(), "application/octet-stream")


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------ export
def export_from_record(
    uow: Any, actor: Any, pseudonym: str, *, language: str | None = None
) -> PatientExport:
    """Collect a stored patient's record into :class:`PatientExport` (an audited read).

    Parameters
    ----------
    uow : spinestab.record.UnitOfWork
        An open unit of work (with its artifact store).
    actor : spinestab.record.Actor
        Who reads (staff).
    pseudonym : str
        The patient.
    language : {"en", "de"}, optional
        Language of the plan's dose texts.

    Raises
    ------
    NotFoundError
        Unknown patient.
    InputError
        Nothing to export (no questionnaire stored).

    """
    from spinestab.record import show_record

    timeline = show_record(uow, actor, pseudonym)
    reader = _RecordReader(uow, timeline)
    forms = reader.forms()
    if not forms:
        raise InputError(
            "no questionnaires stored for this patient",
            value=pseudonym,
            expected="forms saved with `spinestab score --save`, `record import` or the web app",
        )
    plan, triage, plan_docs = reader.plan(actor, language)
    return PatientExport(
        pseudonym=pseudonym,
        forms=forms,
        referrals=tuple(
            Referral(a[0], a[3], a[2], a[4])
            for a in (triage.actions if triage else ())
            if a[1] == "referral"
        ),
        imaging=reader.imaging(),
        instability=reader.instability(),
        movement=reader.movement(),
        plan=plan,
        software_version=__version__,
        sex=timeline.patient.sex,
        birth_year=timeline.patient.birth_year,
        history=(
            HistoryExport(
                timeline.history.recorded_on or timeline.history.created_at.date(),  # type: ignore[union-attr]
                dict(timeline.history.data),
            )
            if timeline.history is not None
            else None
        ),
        red_flags=tuple(
            RedFlagExport(
                condition=f.condition,
                label=f.label,
                urgency=f.urgency,
                action=f.action,
                source=f.source,
                evidence=f.evidence,
                items=tuple(f.items),
                derived_items=tuple(f.derived_items),
                screen_date=f.screen_date,
            )
            for f in timeline.open_red_flags
        ),
        triage=triage,
        documents=(*reader.documents, *plan_docs),
    )


class _RecordReader:
    """Reads one patient's rows and files for the export (study keys are ordinals)."""

    def __init__(self, uow: Any, timeline: Any) -> None:
        self.uow = uow
        self.timeline = timeline
        self.documents: list[SourceDocument] = []

    # -- helpers
    def _bytes(self, sha256: str) -> bytes:
        return self.uow.files().get(sha256)

    def _file(self, files: Sequence[Any], role: str) -> Any:
        return next((f for f in files if f.role == role), None)

    def _carry(self, kind: str, key: str, files: Sequence[Any], day: dt.date) -> None:
        for f in sorted(files, key=lambda f: (f.role, f.name)):
            if f.role in CARRIED_ROLES[kind]:
                self.documents.append(
                    SourceDocument(
                        kind, key, f.role, f.name, _media(f.name), self._bytes(f.sha256), day
                    )
                )

    @staticmethod
    def _day(performed_on: dt.date | None, created_at: dt.datetime | None) -> dt.date:
        if performed_on is not None:
            return performed_on
        return (created_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()

    # -- parts
    def forms(self) -> tuple[FormEntry, ...]:
        from sqlalchemy import select

        from spinestab.store.models import Assessment, Patient

        rows = self.uow.session.scalars(
            select(Assessment)
            .join(Patient, Patient.id == Assessment.patient_id)
            .where(
                Patient.pseudonym == self.timeline.patient.pseudonym, Assessment.status == "stored"
            )
            .order_by(Assessment.date, Assessment.id)
        ).all()
        return tuple(FormEntry(a.instrument, a.date, a.answers) for a in rows)

    def imaging(self) -> tuple[ImagingExport, ...]:
        from spinestab.core.results import MUSCLE_QUALITY_REQUIRED
        from spinestab.dicom_out.sr import read_muscle_quality_csv
        from spinestab.fhir.build import MUSCLE_MEASURES

        out = []
        for n, study in enumerate(self.timeline.imaging, start=1):
            key = f"imaging study {n}"
            table = self._file(study.files, "table")
            if table is None:
                continue
            with self.uow.files().local_path(table.sha256) as path:
                rows = read_muscle_quality_csv(path, required=MUSCLE_QUALITY_REQUIRED)
            measures = tuple(
                MuscleMeasure(r.muscle, r.side, r.level, col, v, r.fat_method)
                for r in rows
                for col in MUSCLE_MEASURES
                if (v := _finite(getattr(r, col))) is not None
            )
            day = self._day(study.performed_on, study.created_at)
            summary = self._summary(study.files)
            refs = self._dicom_refs(study.files)
            given = summary.get("inputs")
            inputs: dict[str, Any] = given if isinstance(given, dict) else {}
            segmenter = inputs.get("segmenter") or None
            mask_file = None
            mask = self._file(study.files, "input:mask")
            if mask is not None:
                mask_file = f"{mask.name} (SHA-256 {mask.sha256})"
            elif isinstance(inputs.get("mask"), str):
                sha = ((summary.get("provenance") or {}).get("input_sha256") or {}).get("mask")
                mask_file = f"{Path(inputs['mask']).name}" + (f" (SHA-256 {sha})" if sha else "")
            out.append(
                ImagingExport(
                    study_id=key,
                    date=day,
                    modality=study.modality or "MR",
                    series_uid=refs.get("series_uid"),
                    measures=measures,
                    mask_author=None,  # the record does not say who drew a supplied mask
                    segmenter=str(segmenter) if segmenter else None,
                    study_uid=refs.get("study_uid"),
                    mask_file=mask_file,
                )
            )
            self._carry("imaging", key, study.files, day)
            if refs and not any(f.name == DICOM_REFS for f in study.files):
                self.documents.append(
                    SourceDocument(
                        "imaging", key, "output", DICOM_REFS, "application/json", _dump(refs), day
                    )
                )
            if study.options:
                self.documents.append(
                    SourceDocument(
                        "imaging",
                        key,
                        "options",
                        "options.json",
                        "application/json",
                        _dump(study.options),
                        day,
                    )
                )
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(out)

    def _summary(self, files: Sequence[Any]) -> dict[str, Any]:
        f = self._file(files, "summary")
        if f is None:
            return {}
        try:
            doc = json.loads(self._bytes(f.sha256))
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def _dicom_refs(self, files: Sequence[Any]) -> dict[str, str]:
        """Study and series UID of the image: a stored DICOM input's header, or kept refs."""
        kept = next((f for f in files if f.name == DICOM_REFS), None)
        if kept is not None:
            doc = json.loads(self._bytes(kept.sha256))
            return {k: str(v) for k, v in doc.items() if k in ("study_uid", "series_uid") and v}
        import pydicom

        for f in files:
            if f.role != "input:image":
                continue
            with self.uow.files().local_path(f.sha256) as path:
                try:
                    ds = pydicom.dcmread(str(path), stop_before_pixels=True)
                except Exception:  # not DICOM (a NIfTI image): no references
                    return {}
            refs = {
                "study_uid": ds.get("StudyInstanceUID"),
                "series_uid": ds.get("SeriesInstanceUID"),
            }
            return {k: str(v) for k, v in refs.items() if v}
        return {}

    def instability(self) -> tuple[InstabilityExport, ...]:
        from spinestab.care.io import read_instability
        from spinestab.fhir.build import SEGMENT_MEASURES

        out = []
        for n, study in enumerate(self.timeline.instability, start=1):
            key = f"instability study {n}"
            result = self._file(study.files, "result")
            if result is None:
                continue
            with self.uow.files().local_path(result.sha256) as path:
                findings = read_instability(path)
                doc = json.loads(Path(path).read_bytes())
            method = "vertebral corner landmarks; " + "; ".join(
                [
                    f"translation {doc.get('translation_method_id') or 'corner'}",
                    f"thresholds {(doc.get('thresholds') or {}).get('name') or 'unknown'}",
                ]
            )
            measures, verdicts = [], []
            for f in findings.all_levels:
                for name in SEGMENT_MEASURES:
                    v = _finite(getattr(f, name, None))
                    if v is not None:
                        measures.append(SegmentMeasure(f.level, name, v, method))
                if f.verdict:
                    verdicts.append((f.level, f.verdict))
            day = self._day(study.performed_on, study.created_at)
            out.append(InstabilityExport(key, day, tuple(measures), tuple(verdicts)))
            self._carry("instability", key, study.files, day)
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(out)

    def movement(self) -> tuple[DayMovement, ...]:
        from spinestab.care.io import read_daily
        from spinestab.fhir.build import DAY_MINUTES

        days = []
        for n, rec in enumerate(self.timeline.wearable, start=1):
            key = f"wearable recording {n}"
            table = self._file(rec.files, "table")
            if table is None:
                continue
            with self.uow.files().local_path(table.sha256) as path:
                rows = read_daily(path)
            days += [
                DayMovement(
                    dt.date.fromisoformat(row["date"]),
                    _finite(row.get("steps")),
                    tuple((col, _finite(row.get(col))) for col in DAY_MINUTES if col in row),
                    recording=key,
                )
                for row in rows
            ]
            self._carry("wearable", key, rec.files, rec.first_date or dt.date(1970, 1, 1))
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(days)

    def plan(
        self, actor: Any, language: str | None
    ) -> tuple[PlanExport | None, TriageExport | None, tuple[SourceDocument, ...]]:
        """Return the plan in force (else the latest draft), its triage and its files."""
        from spinestab.record import get_plan, plan_files

        pseudonym = self.timeline.patient.pseudonym
        chosen = get_plan(self.uow, actor, pseudonym)
        if chosen is None:
            drafts = [p for p in self.timeline.plans if p.status == "draft"]
            if not drafts:
                return None, None, ()
            chosen = get_plan(self.uow, actor, pseudonym, version=drafts[-1].version)
        if chosen is None:  # a version named by the timeline is always there
            return None, None, ()
        files = plan_files(self.uow, actor, pseudonym, version=chosen.version)
        doc = dict(chosen.plan or {})
        created = dt.date.fromisoformat(str(doc.get("created") or doc.get("programme_start")))
        triage = None
        triage_doc = json.loads(files["triage.json"]) if "triage.json" in files else None
        if triage_doc is not None:
            triage = TriageExport(
                date=created,
                track=str(triage_doc.get("track")),
                track_label=str(triage_doc.get("track_label") or ""),
                plan_allowed=bool(triage_doc.get("plan_allowed")),
                reasons=tuple(
                    (
                        str(r.get("code")),
                        str(r.get("text")),
                        f"{r.get('source')} [{r.get('evidence')}]",
                    )
                    for r in triage_doc.get("reasons", ())
                ),
                actions=tuple(
                    (
                        str(a.get("code")),
                        str(a.get("kind")),
                        str(a.get("urgency")),
                        str(a.get("text")),
                        f"{a.get('source')} [{a.get('evidence')}]",
                    )
                    for a in triage_doc.get("actions", ())
                ),
            )
        docs = []
        stored = {k: v for k, v in files.items() if not k.startswith("plan_v")}
        stored["plan.json"] = json.dumps(_stored_plan(doc), indent=2, ensure_ascii=False) + "\n"
        for name in sorted(stored):
            docs.append(
                SourceDocument(
                    "plan",
                    f"plan version {chosen.version}",
                    Path(name).stem,
                    name,
                    _media(name),
                    stored[name].encode("utf-8"),
                    created,
                )
            )
        plan = PlanExport(
            version=chosen.version,
            status=chosen.status,
            track=chosen.track,
            created=created,
            activities=_activities(doc, language),
            goals=_goals(doc),
            approved_by=chosen.approved_by,
            approved_at=chosen.approved_at.isoformat() if chosen.approved_at else None,
        )
        return plan, triage, tuple(docs)


def _stored_plan(doc: dict[str, Any]) -> dict[str, Any]:
    """``plan.json`` as stored (the record keeps the status apart)."""
    return {k: v for k, v in doc.items() if k != "status"}


def _activities(doc: dict[str, Any], language: str | None) -> tuple[PlannedActivity, ...]:
    from spinestab.care.handout import dose_text
    from spinestab.care.i18n import Translator
    from spinestab.care.plan import Plan

    plan = Plan.from_dict(doc | {"status": doc.get("status") or "draft"}, source="record plan")
    t = Translator(language)
    return tuple(
        PlannedActivity(ex.id, f"L{ex.stage}", dose_text(ex.dose, t)) for ex in plan.exercises
    )


def _goals(doc: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    from spinestab.clinical import MIC_RULES

    goals = []
    breaks = doc.get("movement_breaks") or {}
    if breaks.get("interval_min"):
        goals.append(
            (
                "movement-breaks",
                f"a movement break at least every {breaks.get('interval_min')} min of sitting",
            )
        )
    for inst, base in sorted((doc.get("baseline") or {}).items()):
        rule = MIC_RULES.get(inst)
        if rule is None or _finite(base) is None:
            continue
        sign = "+" if rule.higher_is_better else "-"
        goals.append(
            (
                f"mic-{inst}",
                f"{inst.upper()} {sign}{rule.absolute:g} from baseline {float(base):g} "
                f"(MIC, {rule.source})",
            )
        )
    return tuple(goals)


# ------------------------------------------------------------------------------ import
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

    n = 0
    for study in data.imaging:
        files = _write(root / f"imaging-{n}", docs.get(("imaging", study.study_id), []))
        table = _one(files, "table")
        if table is None:
            not_stored.append(f"{study.study_id} (no muscle_quality.csv attached)")
            continue
        _check_imaging(study, table)
        options_path = _one(files, "options")
        options = json.loads(options_path.read_bytes()) if options_path else {}
        save_imaging(
            uow,
            actor,
            name,
            table,
            summary=_one(files, "summary"),
            extra_files=files.get("output", []),
            pictures=files.get("qa_picture", []),
            options=options,
            source=f"FHIR Bundle of {data.pseudonym}: {study.study_id}",
            performed_on=study.date,
        )
        n += 1
    return n


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
        if (v := _finite(getattr(r, col))) is not None
    )
    observed = sorted(
        (m.muscle, m.side, m.level, m.measure, m.value, m.method) for m in study.measures
    )
    if from_table != observed:
        raise InputError(
            "the Observations of an imaging study disagree with its attached muscle_quality.csv",
            item=study.study_id,
            expected="a Bundle as spinestab fhir export wrote it (values not edited)",
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

    n = 0
    for study in data.instability:
        files = _write(root / f"instability-{n}", docs.get(("instability", study.study_id), []))
        result = _one(files, "result")
        if result is None:
            not_stored.append(f"{study.study_id} (no instability.json attached)")
            continue
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
            source=f"FHIR Bundle of {data.pseudonym}: {study.study_id}",
            performed_on=study.date,
        )
        n += 1
    return n


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

    n = 0
    for key in sorted({d.recording for d in data.movement}, key=_ordinal):
        if not key:
            not_stored.append("wearable days of a folder export (no daily.csv attached)")
            continue
        files = _write(root / f"wearable-{n}", docs.get(("wearable", key), []))
        table = _one(files, "table")
        if table is None:
            not_stored.append(f"{key} (no daily.csv attached)")
            continue
        save_wearable(
            uow,
            actor,
            name,
            table,
            prompts=_one(files, "prompts"),
            summary=_one(files, "summary"),
            source=f"FHIR Bundle of {data.pseudonym}: {key}",
        )
        n += 1
    return n


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
