"""The letter and the handout of a stored patient, from the record (issue 10).

:func:`inputs_from_record` builds :class:`ReportInputs` from what the record holds for the
open episode, exactly as ``spinestab plan --patient`` reads it
(:func:`spinestab.record.profile.build_profile`): every stored questionnaire (scores over
time), the history in force, the latest imaging study with its QA overlays, the latest
instability study with its picture, the latest wearable recording's days; the triage is
made now from that profile, and the plan is the version in force with who approved it.

:func:`handout_from_record` prints the patient handout of the plan in force (an approved
plan, or the blocked version that says what to do instead); a draft is never handed out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab.errors import ConflictError, InputError
from spinestab.report.clinician import ImagingPart, InstabilityPart, PlanInForce, ReportInputs

__all__ = [
    "HandoutInputs",
    "handout_from_record",
    "inputs_from_record",
    "render_stored_handout",
]


def _by_id(items: Any, wanted: int | None) -> tuple[int, Any] | tuple[None, None]:
    for n, item in enumerate(items, start=1):
        if item.id == wanted:
            return n, item
    return None, None


def _label(t: Any, kind: str, n: int | None, study: Any) -> str:
    """Name a study: its number in the record and when it was taken (else stored)."""
    if study.performed_on is not None:
        return t(f"study.{kind}_taken", n=n, date=study.performed_on.isoformat())
    stored = study.created_at.astimezone(dt.UTC).date().isoformat() if study.created_at else "–"
    return t(f"study.{kind}_stored", n=n, date=stored)


def _imaging_part(t: Any, files: Any, timeline: Any, used: Mapping[str, Any]) -> ImagingPart | None:
    """Return the muscle part from the studies the profile used.

    Each muscle, side and level's row comes from the newest of the episode's MRI studies
    holding it (the profile's rule, :func:`spinestab.record.profile.build_profile`), named
    by its study where there are several; one QA overlay per level, from the study its rows
    come from.
    """
    from spinestab.core.results import MUSCLE_QUALITY_REQUIRED
    from spinestab.dicom_out.sr import read_muscle_quality_csv

    ids = list(used.get("imaging_studies") or [])
    if not ids and used.get("imaging_study") is not None:
        ids = [used["imaging_study"]]
    rows: dict[tuple[str, str, str], Any] = {}
    row_studies: dict[tuple[str, str, str], str] = {}
    qa: dict[str, bytes] = {}
    labels, made_by = [], []
    for study_id in ids:  # newest first, as the profile lists them
        n, study = _by_id(timeline.imaging, study_id)
        if study is None:
            continue
        table = next((f for f in study.files if f.role == "table"), None)
        if table is None:
            continue
        with files.local_path(table.sha256) as path:
            found = read_muscle_quality_csv(path, required=MUSCLE_QUALITY_REQUIRED)
        label = _label(t, "imaging", n, study)
        levels = set()
        for row in found:
            key = (row.muscle, row.side, row.level)
            if key not in rows:
                rows[key], row_studies[key] = row, label
                levels.add(row.level)
        for f in study.files:
            level = Path(f.name).stem.removeprefix("qa_")
            if f.role == "qa_picture" and level in levels and level not in qa:
                qa[level] = files.get(f.sha256)
        labels.append(label)
        if made := _mask_made_by(t, study.options or {}):
            made_by.append(f"{label}: {made}" if len(ids) > 1 else made)
    if not rows:
        return None
    return ImagingPart(
        rows=tuple(rows.values()),
        qa_pictures=qa,
        study="; ".join(labels),
        made_by="; ".join(made_by),
        row_studies=row_studies if len(labels) > 1 else {},
    )


def _mask_made_by(t: Any, options: Mapping[str, Any]) -> str:
    """Say which mask version a viewer analysis measured, who made it, who named the levels."""
    from spinestab.fhir.carried import mask_trace

    trace, levels_by = mask_trace(options)
    parts = []
    if trace is not None:
        key = "provenance.mask_by" if trace.author else "provenance.mask"
        parts.append(
            t(
                key,
                version=trace.version,
                series=trace.series,
                method=trace.method,
                who=trace.author,
            )
        )
    if levels_by:
        parts.append(t("provenance.levels_by", who=levels_by))
    return "; ".join(parts)


def _landmarks_made_by(t: Any, options: Mapping[str, Any]) -> str:
    """Say who placed the landmarks of a landmark-tool instability study."""
    from spinestab.fhir.carried import landmark_traces

    reader, _ = landmark_traces(options)
    return t("provenance.landmarks_by", who=reader) if reader else ""


def inputs_from_record(
    uow: Any,
    actor: Any,
    pseudonym: str,
    *,
    language: str | None = None,
    jurisdiction: str | None = None,
    date: dt.date | None = None,
) -> ReportInputs:
    """Build :class:`ReportInputs` for a stored patient (an audited read of the record).

    Parameters
    ----------
    uow : spinestab.record.UnitOfWork
        An open unit of work with its artifact store.
    actor : spinestab.record.Actor
        Who reads (staff).
    pseudonym : str
        The patient.
    language : {"en", "de"}, optional
        Language of the dose texts.
    jurisdiction : {"NICE", "ACP"}, optional
        Guideline set of the triage (default: the setting).
    date : datetime.date, optional
        Date of the letter (default today).

    Raises
    ------
    NotFoundError
        Unknown patient.
    InputError
        No questionnaire stored for the open episode of care.

    """
    from spinestab.care import load_rules, triage
    from spinestab.care.io import read_daily
    from spinestab.care.pipeline import _resolve_jurisdiction
    from spinestab.core.i18n import Translator, resolve_language
    from spinestab.record import show_record
    from spinestab.record.profile import build_profile
    from spinestab.store import get_patient

    language = resolve_language(language)
    t = Translator("report", language)
    timeline = show_record(uow, actor, pseudonym)  # audited; refuses unknown patients
    patient = get_patient(uow.session, pseudonym)
    if patient is None:  # show_record refused it already
        raise InputError("unknown patient", value=pseudonym)
    rules = load_rules()
    profile, used = build_profile(uow, actor, patient, rules=rules)
    tri = triage(profile, rules=rules, jurisdiction=_resolve_jurisdiction(jurisdiction))
    files = uow.files()

    imaging = _imaging_part(t, files, timeline, used)
    instability = None
    n, inst = _by_id(timeline.instability, used.get("instability_study"))
    if inst is not None:
        picture = next((f for f in inst.files if f.role == "picture"), None)
        instability = InstabilityPart(
            picture=files.get(picture.sha256) if picture else None,
            threshold_set=inst.thresholds or "",
            study=_label(t, "instability", n, inst),
            made_by=_landmarks_made_by(t, inst.options or {}),
        )
    daily: tuple[Any, ...] = ()
    n, rec = _by_id(timeline.wearable, used.get("wearable_recording"))
    if rec is not None:
        table = next(f for f in rec.files if f.role == "table")
        with files.local_path(table.sha256) as path:
            daily = tuple(read_daily(path))
    return ReportInputs(
        profile=profile,
        triage=tri,
        plan=_plan_in_force(uow, actor, pseudonym, timeline, language),
        imaging=imaging,
        instability=instability,
        daily=daily,
        date=date or dt.date.today(),
    )


def _plan_in_force(
    uow: Any, actor: Any, pseudonym: str, timeline: Any, language: str
) -> PlanInForce | None:
    """Return the plan in force; else the latest draft, shown as awaiting approval."""
    from spinestab.care.handout import dose_text
    from spinestab.care.i18n import Translator
    from spinestab.care.plan import Plan
    from spinestab.record import get_plan

    plan = get_plan(uow, actor, pseudonym)
    if plan is None:
        drafts = [p for p in timeline.plans if p.status == "draft"]
        if not drafts:
            return None
        plan = get_plan(uow, actor, pseudonym, version=drafts[-1].version)
    if plan is None:  # a version named by the timeline is always there
        return None
    doc = dict(plan.plan or {})
    exercises: tuple[tuple[str, str, str], ...] = ()
    if doc.get("exercises"):
        t = Translator(language)
        made = Plan.from_dict(doc, source=f"plan version {plan.version}")
        exercises = tuple((ex.id, f"L{ex.stage}", dose_text(ex.dose, t)) for ex in made.exercises)
    return PlanInForce(
        version=plan.version,
        status=plan.status,
        track=plan.track,
        approved_by=plan.approved_by,
        approved_at=plan.approved_at.strftime("%Y-%m-%d %H:%M UTC") if plan.approved_at else None,
        exercises=exercises,
    )


@dataclass(frozen=True)
class HandoutInputs:
    """What the handout of the plan in force shows (arguments of ``render_handout``)."""

    patient: str
    date: str
    track: str
    actions: tuple[dict[str, Any], ...]
    plan: Any  # spinestab.care.plan.Plan or None (blocked: what to do instead)
    version: int
    status: str


def handout_from_record(uow: Any, actor: Any, pseudonym: str) -> HandoutInputs:
    """Return the handout of the plan in force (audited read).

    Raises
    ------
    ConflictError
        No plan in force: none made yet, or only a draft awaiting a clinician's approval.

    """
    from spinestab.care.plan import Plan
    from spinestab.record import get_plan, show_record

    timeline = show_record(uow, actor, pseudonym)
    plan = get_plan(uow, actor, pseudonym)
    if plan is None:
        drafts = [p.version for p in timeline.plans if p.status == "draft"]
        state = (
            f"version {drafts[-1]} is a draft awaiting approval "
            f"(spinestab plan approve {pseudonym} --version {drafts[-1]})"
            if drafts
            else "no plan has been made (spinestab plan --patient)"
        )
        raise ConflictError(
            f"no plan in force to hand out: {state}",
            item="plan",
            expected="an approved plan (or a blocked one, which says what to do instead)",
        )
    doc = dict(plan.plan or {})
    actions = tuple(dict(a) for a in doc.get("actions") or () if isinstance(a, dict))
    made = None
    if plan.status == "active":
        made = Plan.from_dict(doc, source=f"plan version {plan.version}")
    made_on = plan.created_at.astimezone(dt.UTC).date().isoformat() if plan.created_at else ""
    date = str(doc.get("created") or doc.get("programme_start") or made_on)
    if plan.status == "blocked" and timeline.open_red_flags:
        actions, date = _red_flag_actions(timeline.open_red_flags, date)
    if not date:
        raise InputError("the plan has no date", item=f"plan version {plan.version}")
    return HandoutInputs(
        patient=pseudonym,
        date=date,
        track=plan.track,
        actions=actions,
        plan=made,
        version=plan.version,
        status=plan.status,
    )


def _red_flag_actions(flags: Any, date: str) -> tuple[tuple[dict[str, Any], ...], str]:
    """Return the handout's actions and date for a plan blocked by the record's open red flags.

    A plan approved before the screen keeps the actions of its own triage in ``plan.json``
    (exercise within limits, ...); once blocked, the handout says what the triage says for
    an open red flag instead (``red_flag_<urgency>`` for each flag and, for a blocking one,
    ``no_exercise_plan``: :func:`spinestab.care.triage.red_flags.red_flags`), dated by the
    latest screen.
    """
    actions = [{"code": f"red_flag_{f.urgency}", "urgency": f.urgency} for f in flags]
    blocking = [f for f in flags if f.blocking]
    if blocking:
        actions.append({"code": "no_exercise_plan", "urgency": blocking[0].urgency})
    dates = [f.screen_date.isoformat() for f in flags if f.screen_date is not None]
    return tuple(actions), max([date, *dates])


def render_stored_handout(handout: HandoutInputs, *, language: str | None, pdf: bool) -> bytes:
    """Render the handout of the plan in force as an A4 PDF or as the self-contained HTML page.

    Parameters
    ----------
    handout : HandoutInputs
        From :func:`handout_from_record`.
    language : {"en", "de"}, optional
        The handout's language (default: the configured one).
    pdf : bool
        PDF (WeasyPrint) when true, else the HTML of ``handout.html``.

    """
    from spinestab.care.handout import render_handout
    from spinestab.report.handout import render_handout_pdf

    args: dict[str, Any] = {
        "patient": handout.patient,
        "date": handout.date,
        "track": handout.track,
        "actions": list(handout.actions),
        "plan": handout.plan,
        "language": language,
    }
    if pdf:
        return render_handout_pdf(**args)
    return render_handout(**args).encode("utf-8")
