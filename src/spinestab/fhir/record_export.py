"""A stored patient's record as :class:`~spinestab.fhir.model.PatientExport` (export side).

Everything comes from the record: the history in force, every stored questionnaire, each
imaging study's rows (method, segmenter or mask file, DICOM study and series), each
instability study's measures and verdicts (cervical and lumbar), each wearable recording's
days, the open red flags with their actions, and the plan in force (or the latest draft) with
its approval and triage. The record's own files travel as :class:`SourceDocument` so that
:mod:`spinestab.fhir.record_import` can rebuild the record. See :mod:`spinestab.fhir.stored`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spinestab import __version__
from spinestab.errors import InputError
from spinestab.fhir.carried import (
    daily_movement,
    finite,
    instability_values,
    landmark_traces,
    mask_trace,
    options_as_sent,
)
from spinestab.fhir.model import (
    DayMovement,
    FormEntry,
    HistoryExport,
    ImagingExport,
    InstabilityExport,
    MorphometryExport,
    MuscleMeasure,
    PatientExport,
    PlanExport,
    PlannedActivity,
    RedFlagExport,
    Referral,
    SourceDocument,
    TriageExport,
)

__all__ = [
    "CARRIED_ROLES",
    "DICOM_REFS",
    "daily_movement",
    "export_from_record",
    "finite",
    "instability_values",
]

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
    "morphometry": ("result", "picture"),
}
#: the DICOM references of an imaging study, kept with it (a received study has no series)
DICOM_REFS = "dicom_refs.json"
MEDIA = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".png": "image/png",
    ".html": "text/html",
}


def _media(name: str) -> str:
    return MEDIA.get(Path(name).suffix.lower(), "application/octet-stream")


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


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
        morphometry=reader.morphometry(),
        movement=reader.movement(),
        sensors=tuple(reader.sensors),
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
        self.sensors: list[Any] = []  # WearableSensor of every recording, filled by movement()

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
                if (v := finite(getattr(r, col))) is not None
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
            # the viewer's analyses name their mask version and its author; a mask given
            # as a file (spinestab mri --patient) names no author
            trace, levels_by = mask_trace(study.options or {})
            out.append(
                ImagingExport(
                    study_id=key,
                    date=day,
                    modality=study.modality or "MR",
                    series_uid=refs.get("series_uid"),
                    measures=measures,
                    mask_author=trace.author if trace else None,
                    segmenter=str(segmenter) if segmenter else None,
                    study_uid=refs.get("study_uid"),
                    mask_file=mask_file,
                    mask_version=trace,
                    levels_by=levels_by,
                )
            )
            self._carry("imaging", key, study.files, day)
            if refs and not any(f.name == DICOM_REFS for f in study.files):
                self.documents.append(
                    SourceDocument(
                        "imaging", key, "output", DICOM_REFS, "application/json", _dump(refs), day
                    )
                )
            self._options_document("imaging", key, study.options, day)
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(out)

    def _options_document(
        self, kind: str, key: str, options: dict[str, Any] | None, day: dt.date
    ) -> None:
        """Carry a study's analysis options as sent (``options.json``), where it has any."""
        if options:
            self.documents.append(
                SourceDocument(
                    kind,
                    key,
                    "options",
                    "options.json",
                    "application/json",
                    _dump(options_as_sent(options)),
                    day,
                )
            )

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
        out = []
        for n, study in enumerate(self.timeline.instability, start=1):
            key = f"instability study {n}"
            result = self._file(study.files, "result")
            if result is None:
                continue
            with self.uow.files().local_path(result.sha256) as path:
                measures, verdicts = instability_values(path)
            day = self._day(study.performed_on, study.created_at)
            reader, traces = landmark_traces(study.options or {})
            out.append(
                InstabilityExport(
                    key, day, measures, verdicts, landmarks_author=reader, landmarks=traces
                )
            )
            self._carry("instability", key, study.files, day)
            self._options_document("instability", key, study.options, day)
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(out)

    def morphometry(self) -> tuple[MorphometryExport, ...]:
        """Each stored morphometry study: its vertebrae, ``morphometry.json`` and pictures."""
        from spinestab.fhir.morphometry import vertebrae_of_record

        out = []
        for n, study in enumerate(self.timeline.morphometry, start=1):
            key = f"morphometry study {n}"
            day = self._day(study.performed_on, study.created_at)
            out.append(MorphometryExport(key, day, vertebrae_of_record(study.vertebrae)))
            self._carry("morphometry", key, study.files, day)
        self.documents.sort(key=lambda d: (d.kind, d.study, d.role, d.name))
        return tuple(out)

    def movement(self) -> tuple[DayMovement, ...]:
        """Each recording's days with their covered spans; its sensors in ``self.sensors``."""
        from spinestab.fhir.wearable import recording_days

        days: list[DayMovement] = []
        for n, rec in enumerate(self.timeline.wearable, start=1):
            key = f"wearable recording {n}"
            if self._file(rec.files, "table") is None:
                continue
            found, sensors = recording_days(self.uow.files(), rec, key)
            days += found
            self.sensors += sensors
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
        if rule is None or finite(base) is None:
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
