"""Profile, triage and plan versions made from the record; approval and progression.

- :func:`make_plan`: the profile is built from what the record holds for the open episode
  (forms, latest history, latest imaging, instability and wearable results), triaged, and
  a new plan version is stored: ``draft`` (awaiting a clinician's approval) or ``blocked``
  (a blocking red flag is open). Older drafts are superseded by it.
- :func:`approve_plan`: a clinician makes a draft the active plan; the earlier active
  version becomes ``superseded``. Who approved, and when, is stored.
- :func:`progress_plan`: the next version from the sessions logged against the current
  active plan (and the follow-up scores), stored as a draft. Anything but the current
  active plan is refused.

Plan content never changes once stored; only the status moves on (audited).

Long module: making, approving and progressing a plan share the version and status
helpers; the profile built from the record is :mod:`spinestab.record.profile`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from spinestab.errors import ConflictError, NotFoundError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    current_episode,
    find_patient,
    now,
    service,
    utc,
)
from spinestab.record.profile import build_profile
from spinestab.record.safety import enforce_red_flags, open_red_flags
from spinestab.record.schemas import PlanMade, PlanOut
from spinestab.store.models import (
    Assessment,
    OutcomeValue,
    Patient,
    PlanVersion,
    ProfileSnapshot,
    SessionLogRow,
    TriageDecision,
)

__all__ = [
    "approve_plan",
    "build_profile",
    "current_plan",
    "get_plan",
    "make_plan",
    "plan_files",
    "plan_out",
    "progress_plan",
]


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def plan_out(
    uow: UnitOfWork,
    row: PlanVersion,
    *,
    with_plan: bool = False,
    versions: Mapping[int, int] | None = None,
) -> PlanOut:
    """Return the typed view of a plan version (``plan``: its ``plan.json``, record status).

    ``versions`` (plan id -> version of the patient's plans) saves a query per plan.
    """
    if not row.previous_id:
        previous = None
    elif versions is not None and row.previous_id in versions:
        previous = versions[row.previous_id]
    else:
        previous = uow.session.scalar(
            select(PlanVersion.version).where(PlanVersion.id == row.previous_id)
        )
    return PlanOut(
        version=row.version,
        status=row.status,
        track=row.track,
        approved_by=row.approved_by,
        approved_at=utc(row.approved_at),
        created_at=utc(row.created_at),
        created_by=row.created_by,
        previous_version=previous,
        status_reason=row.status_reason,
        plan=(row.data | {"status": row.status}) if with_plan else None,
    )


# ------------------------------------------------------------------------------ plan
def add_profile(
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    *,
    episode_id: int,
    as_of: dt.date | None,
    data: dict[str, Any],
    inputs: dict[str, Any],
) -> ProfileSnapshot:
    """Store the profile a plan version is made from (``profile.json``), audited."""
    snapshot = ProfileSnapshot(episode_id=episode_id, as_of=as_of, data=data, inputs=inputs)
    return _add_audited(uow, actor, patient, snapshot, "profile")


def add_triage(
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    *,
    profile_id: int,
    track: str,
    plan_allowed: bool,
    data: dict[str, Any],
) -> TriageDecision:
    """Store the triage decision made from a stored profile (``triage.json``), audited."""
    decision = TriageDecision(
        profile_id=profile_id, track=track, plan_allowed=plan_allowed, data=data
    )
    return _add_audited(uow, actor, patient, decision, "triage", detail={"track": track})


def add_plan_version(
    uow: UnitOfWork, actor: Actor, patient: Patient, *, detail: dict[str, Any], **columns: Any
) -> PlanVersion:
    """Store a new plan version (the :class:`PlanVersion` ``columns``), audited with ``detail``.

    Every plan version enters the record here: made, progressed or received.
    """
    return _add_audited(uow, actor, patient, PlanVersion(**columns), "plan", detail=detail)


Row = TypeVar("Row", ProfileSnapshot, TriageDecision, PlanVersion)


def _add_audited(
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    row: Row,
    entity: str,
    *,
    detail: dict[str, Any] | None = None,
) -> Row:
    """Add a new row of the patient (who made it and when), audited as ``create ENTITY``."""
    row.patient_id = patient.id
    row.created_at = now()
    row.created_by = actor.username
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "create", entity, row.id, patient=patient, detail=detail)
    return row


def _next_version(uow: UnitOfWork, patient: Patient) -> int:
    return (
        uow.session.scalar(
            select(func.max(PlanVersion.version)).where(PlanVersion.patient_id == patient.id)
        )
        or 0
    ) + 1


def _set_status(
    uow: UnitOfWork, actor: Actor, patient: Patient, row: PlanVersion, status: str, reason: str
) -> None:
    old = row.status
    row.status = status
    row.status_reason = reason
    row.status_changed_at = now()
    row.status_changed_by = actor.username
    uow.session.flush()
    audit(
        uow,
        actor,
        "update",
        "plan",
        row.id,
        patient=patient,
        detail={"version": row.version, "from": old, "to": status},
    )


def _supersede_drafts(uow: UnitOfWork, actor: Actor, patient: Patient, by: int) -> list[int]:
    drafts = uow.session.scalars(
        select(PlanVersion)
        .where(PlanVersion.patient_id == patient.id, PlanVersion.status == "draft")
        .order_by(PlanVersion.version)
    ).all()
    for row in drafts:
        _set_status(uow, actor, patient, row, "superseded", f"replaced by version {by}")
    return [row.version for row in drafts]


@service("create", "plan")
def make_plan(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    *,
    language: str | None = None,
    jurisdiction: str | None = None,
    rules_path: str | Path | None = None,
    start: dt.date | None = None,
) -> PlanMade:
    """Profile, triage and a new plan version (``draft`` or ``blocked``) from the record.

    Parameters
    ----------
    uow : UnitOfWork
        The transaction.
    actor : Actor
        Who acts (a clinician).
    pseudonym : str
        The patient.
    language : {"en", "de"}, optional
        Handout language (default: ``SPINESTAB_LANGUAGE``).
    jurisdiction : {"NICE", "ACP"}, optional
        Guideline set (default: ``SPINESTAB_JURISDICTION``).
    rules_path : path, optional
        Care rule overrides (YAML).
    start : datetime.date, optional
        Programme start (default: the latest questionnaire date).

    Returns
    -------
    PlanMade
        The stored version and the documents of ``spinestab plan --out`` (``profile.json``,
        ``triage.json``, ``plan.json``, ``plan_v<N>.json``, ``handout.html``).

    """
    from spinestab.care.config import load_rules
    from spinestab.care.i18n import resolve_language
    from spinestab.care.pipeline import _resolve_jurisdiction, plan_documents

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    language = resolve_language(language)
    jurisdiction = _resolve_jurisdiction(jurisdiction)
    rules = load_rules(rules_path)
    profile, inputs = build_profile(uow, actor, patient, rules=rules)
    tri, plan_doc, documents = plan_documents(
        profile, rules=rules, language=language, jurisdiction=jurisdiction, start=start
    )
    episode = current_episode(uow, actor, patient)
    blocking = [f for f in open_red_flags(uow, patient) if f.blocking]
    version = _next_version(uow, patient)
    status = "blocked" if (plan_doc.get("status") == "blocked" or blocking) else "draft"
    plan_doc = dict(plan_doc) | {"version": version}
    snapshot = add_profile(
        uow,
        actor,
        patient,
        episode_id=episode.id,
        as_of=profile.date,
        data=json.loads(documents["profile.json"]),
        inputs=inputs,
    )
    decision = add_triage(
        uow,
        actor,
        patient,
        profile_id=snapshot.id,
        track=tri.track,
        plan_allowed=tri.plan_allowed,
        data=tri.to_dict(),
    )
    superseded = [] if status == "blocked" else _supersede_drafts(uow, actor, patient, version)
    row = add_plan_version(
        uow,
        actor,
        patient,
        detail={"version": version, "status": status, "track": tri.track},
        episode_id=episode.id,
        version=version,
        status=status,
        track=tri.track,
        data=plan_doc,
        handout_html=documents["handout.html"],
        profile_id=snapshot.id,
        triage_id=decision.id,
        status_reason=(
            "open red flag: no exercise plan" if status == "blocked" else "awaiting approval"
        ),
    )
    if status == "blocked":
        enforce_red_flags(uow, actor, patient)
    documents = {k: v for k, v in documents.items() if not k.startswith("plan_v")}
    documents["plan.json"] = _dump(plan_doc | {"status": status})
    documents[f"plan_v{version}.json"] = documents["plan.json"]
    return PlanMade(
        plan=plan_out(uow, row, with_plan=True),
        documents=documents,
        superseded_drafts=superseded,
        inputs=inputs,
    )


def _plan_row(uow: UnitOfWork, patient: Patient, version: int) -> PlanVersion:
    row = uow.session.scalars(
        select(PlanVersion).where(
            PlanVersion.patient_id == patient.id, PlanVersion.version == version
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError("no such plan version", item="version", value=version)
    return row


@service("update", "plan")
def approve_plan(uow: UnitOfWork, actor: Actor, pseudonym: str, *, version: int) -> PlanOut:
    """Approve a draft (clinicians only): it becomes the active plan, the old one superseded.

    RefusedError: a patient or unknown user (:class:`RefusedError`); a version that is not a draft
    (blocked, active or superseded), a plan made without a complete red-flag screen, or an
    open blocking red flag (:class:`ConflictError`).
    """
    if actor.role not in ("clinician", "admin"):
        from spinestab.errors import RefusedError

        raise RefusedError(
            "only a clinician may approve a plan", item=actor.role, expected="clinician"
        )
    patient = find_patient(uow, pseudonym, lock=True)
    row = _plan_row(uow, patient, version)
    if row.status != "draft":
        raise ConflictError(
            f"plan version {version} is {row.status}: only a draft can be approved",
            item="version",
            value=version,
            expected="the version number of a draft (see 'spinestab record show')",
        )
    if any(f.blocking for f in open_red_flags(uow, patient)):
        raise ConflictError(
            "a blocking red flag is open: no plan can be approved", item="red flags"
        )
    codes = [a.get("code") for a in row.data.get("actions", ()) if isinstance(a, dict)]
    if "complete_red_flag_screen" in codes:
        raise ConflictError(
            "this plan was made without a complete red-flag screen",
            item="version",
            value=version,
            expected="a complete red-flag screen saved, then a new plan made",
        )
    active = uow.session.scalars(
        select(PlanVersion).where(
            PlanVersion.patient_id == patient.id, PlanVersion.status == "active"
        )
    ).one_or_none()
    if active is not None:
        _set_status(uow, actor, patient, active, "superseded", f"replaced by version {version}")
    row.approved_by = actor.username
    row.approved_at = now()
    _set_status(uow, actor, patient, row, "active", "approved")
    audit(
        uow,
        actor,
        "approve",
        "plan",
        row.id,
        patient=patient,
        detail={
            "version": version,
            "confirmed": [c for c in codes if c in ("confirm_earlier_red_flag",)],
        },
    )
    return plan_out(uow, row, with_plan=True)


def current_plan(uow: UnitOfWork, patient: Patient) -> PlanVersion | None:
    """Return the current active plan version, or None."""
    return uow.session.scalars(
        select(PlanVersion).where(
            PlanVersion.patient_id == patient.id, PlanVersion.status == "active"
        )
    ).one_or_none()


@service("read", "plan")
def get_plan(
    uow: UnitOfWork, actor: Actor, pseudonym: str, *, version: int | None = None
) -> PlanOut | None:
    """One plan version with its ``plan.json``; without ``version`` the plan in force.

    The plan in force is the active version, or the latest blocked one when that is newer
    (so a blocked patient sees the actions to take instead); None before any approval.
    A patient may read only their own plan in force.
    """
    authorize(actor, pseudonym, patient_may=version is None)
    patient = find_patient(uow, pseudonym)
    row: PlanVersion | None
    if version is not None:
        row = _plan_row(uow, patient, version)
    else:
        active = current_plan(uow, patient)
        blocked = uow.session.scalars(
            select(PlanVersion)
            .where(PlanVersion.patient_id == patient.id, PlanVersion.status == "blocked")
            .order_by(PlanVersion.version.desc())
            .limit(1)
        ).one_or_none()
        candidates = [r for r in (active, blocked) if r is not None]
        row = max(candidates, key=lambda r: r.version) if candidates else None
    audit(
        uow,
        actor,
        "read",
        "plan",
        row.id if row else None,
        patient=patient,
        detail={"version": row.version if row else None},
    )
    return plan_out(uow, row, with_plan=True) if row is not None else None


@service("create", "plan")
def progress_plan(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    *,
    language: str | None = None,
    rules_path: str | Path | None = None,
) -> PlanMade:
    """Make the next plan version (a draft) from the sessions logged against the active plan.

    Follow-up scores come from the outcome forms stored (ODI, RMDQ, NRS, PSFS; complete)
    and the outcome values of session-log files. RefusedError (:class:`ConflictError`) when the
    patient has no active plan: a blocked, draft or superseded version is never progressed.
    """
    from spinestab.care.config import load_rules
    from spinestab.care.i18n import resolve_language
    from spinestab.care.pipeline import progress_documents
    from spinestab.care.plan import Plan
    from spinestab.care.progression import Outcome, SessionLog, progress

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    language = resolve_language(language)
    rules = load_rules(rules_path)
    active = current_plan(uow, patient)
    if active is None:
        latest = uow.session.scalars(
            select(PlanVersion)
            .where(PlanVersion.patient_id == patient.id)
            .order_by(PlanVersion.version.desc())
            .limit(1)
        ).one_or_none()
        state = (
            f"the latest version ({latest.version}) is {latest.status}"
            if latest is not None
            else "no plan has been made"
        )
        raise ConflictError(
            f"no active plan to progress: {state}",
            item="plan",
            expected="an approved (active) plan: only the current active plan can be progressed",
        )
    plan = Plan.from_dict(
        active.data | {"status": "active"}, source=f"plan version {active.version}"
    )
    rows = uow.session.scalars(
        select(SessionLogRow)
        .where(SessionLogRow.plan_id == active.id)
        .order_by(SessionLogRow.date, SessionLogRow.id)
    ).all()
    sessions = [
        SessionLog(
            date=r.date,
            exercise=r.exercise,
            done=r.done,
            sets=r.sets,
            reps=r.reps,
            hold_s=r.hold_s,
            pain_before=r.pain_before,
            pain_during=r.pain_during,
            pain_after=r.pain_after,
            pain_next_morning=r.pain_next_morning,
            effort=r.effort,
            form_ok=r.form_ok,
        )
        for r in rows
    ]
    # follow-ups only: a form on or before the programme start is the baseline, not a review
    outcomes = [o for o in _outcomes(uow, patient) if o[0] > plan.programme_start]
    new = progress(plan, sessions, outcomes=[Outcome(*o[:3]) for o in outcomes], rules=rules)
    documents = progress_documents(plan, new, language=language)
    version = _next_version(uow, patient)
    data = new.to_dict() | {"version": version}
    superseded = _supersede_drafts(uow, actor, patient, version)
    row = add_plan_version(
        uow,
        actor,
        patient,
        detail={"version": version, "status": "draft", "from_version": active.version},
        episode_id=active.episode_id,
        version=version,
        status="draft",
        track=new.track,
        data=data,
        handout_html=documents["handout.html"],
        profile_id=active.profile_id,
        triage_id=active.triage_id,
        previous_id=active.id,
        status_reason="progression awaiting approval",
    )
    documents = {k: v for k, v in documents.items() if not k.startswith("plan_v")}
    documents["plan.json"] = _dump(data | {"status": "draft"})
    documents[f"plan_v{version}.json"] = documents["plan.json"]
    documents[f"plan_v{active.version}.json"] = _dump(active.data | {"status": active.status})
    return PlanMade(
        plan=plan_out(uow, row, with_plan=True),
        documents=documents,
        superseded_drafts=superseded,
        inputs={
            "sessions": len(sessions),
            "outcomes": [{"date": str(o[0]), "instrument": o[1], "source": o[3]} for o in outcomes],
        },
    )


def _outcomes(uow: UnitOfWork, patient: Patient) -> list[tuple[dt.date, str, float, str]]:
    """Follow-up scores: complete outcome forms, then outcome values (source named)."""
    out = []
    forms = uow.session.scalars(
        select(Assessment)
        .where(
            Assessment.patient_id == patient.id,
            Assessment.status == "stored",
            Assessment.instrument.in_(("odi", "rmdq", "nrs", "psfs")),
        )
        .order_by(Assessment.date, Assessment.id)
    )
    for a in forms:
        scores = a.scores or {}
        if not scores.get("complete"):
            continue
        value = scores.get("percent") if a.instrument == "odi" else scores.get("score")
        if value is not None:
            out.append((a.date, a.instrument, float(value), f"assessment {a.id}"))
    seen = {(d, i) for d, i, _, _ in out}
    for o in uow.session.scalars(
        select(OutcomeValue)
        .where(OutcomeValue.patient_id == patient.id)
        .order_by(OutcomeValue.date, OutcomeValue.id)
    ):
        if (o.date, o.instrument) not in seen:  # a stored form of that day wins
            out.append((o.date, o.instrument, o.value, f"outcome value {o.id}"))
    return out


@service("read", "plan")
def plan_files(uow: UnitOfWork, actor: Actor, pseudonym: str, *, version: int) -> dict[str, str]:
    """Return the files of a stored plan version, as ``spinestab plan --out`` writes them.

    ``plan.json`` and ``plan_v<N>.json`` (status as in the record), ``handout.html``, and
    the ``profile.json`` and ``triage.json`` the version was made from.
    """
    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym)
    row = _plan_row(uow, patient, version)
    files = {"plan.json": _dump(row.data | {"status": row.status})}
    files[f"plan_v{row.version}.json"] = files["plan.json"]
    if row.handout_html is not None:
        files["handout.html"] = row.handout_html
    if row.profile_id is not None:
        snapshot = uow.session.get(ProfileSnapshot, row.profile_id)
        if snapshot is not None:
            files["profile.json"] = _dump(snapshot.data)
    if row.triage_id is not None:
        decision = uow.session.get(TriageDecision, row.triage_id)
        if decision is not None:
            files["triage.json"] = _dump(decision.data)
    audit(uow, actor, "read", "plan", row.id, patient=patient, detail={"version": version})
    return files
