"""The record services as the web app calls them: the one place the service meets the store.

Pages, API and background jobs call these functions only. Each opens one unit of work of
the record (:meth:`spinestab.record.Record.unit_of_work`: one transaction, ``BEGIN
IMMEDIATE`` on SQLite; reads that only audit:
:meth:`~spinestab.record.Record.read_unit_of_work`, a read transaction and then the audit
rows) and calls the record's service of the same job, so no rule (validation, scoring,
safety, audit) is written a second time here. Results come back as
the JSON the API serves (``model_dump(mode="json")`` of the record's typed results).

The logged-in user becomes the record's :class:`~spinestab.record.Actor` (a patient
account names its own pseudonym, so the record itself refuses another patient's record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from spinestab import record as services
from spinestab.clinical import parse_form, score_form
from spinestab.errors import InputError
from spinestab.record import Actor, Record, UnitOfWork
from spinestab.record.schemas import FormSaved
from spinestab.service.accounts import Principal
from spinestab.service.turns import ServiceRecord

__all__ = [
    "BLOCKING",
    "ServiceRecord",
    "actor_of",
    "approve_plan",
    "check_form",
    "current_plan",
    "get_uploads",
    "list_uploads",
    "make_plan",
    "me_movement",
    "me_plan",
    "open_service_record",
    "patient_home",
    "patient_list",
    "plan_files",
    "progress_plan",
    "save_form",
    "save_form_async",
    "save_history",
    "save_sessions",
    "save_upload",
    "timeline",
    "worklist",
]

BLOCKING = ("emergency", "same_day", "urgent")


def open_service_record(sessions: sessionmaker[Session], data_dir: Path) -> Record:
    """Return the record on the app's database, with its artifact store under ``data_dir``."""
    from spinestab.store.artifacts import FileArtifactStore
    from spinestab.store.db import private_dir

    return ServiceRecord(sessions, FileArtifactStore(private_dir(Path(data_dir)) / "artifacts"))


def actor_of(user: Principal | Actor) -> Actor:
    """Return the record's actor for a logged-in user (a patient names their pseudonym)."""
    if isinstance(user, Actor):
        return user
    return Actor(
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        patient=user.patient_pseudonym if user.role == "patient" else None,
    )


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# ------------------------------------------------------------------------------ patients
def patient_exists(session: Session, pseudonym: str) -> bool:
    """Return whether a patient with this pseudonym is stored (no audit: no health data)."""
    from spinestab.store import get_patient

    return get_patient(session, pseudonym) is not None


def create_patient(
    record: Record,
    user: Principal | Actor,
    pseudonym: str,
    *,
    sex: str | None,
    birth_year: int | None,
) -> dict[str, Any]:
    """Add a patient (and their first episode of care)."""
    with record.unit_of_work() as uow:
        return _json(
            services.create_patient(uow, actor_of(user), pseudonym, sex=sex, birth_year=birth_year)
        )


def patient_list(
    record: Record, user: Principal | Actor, *, query: str | None = None
) -> list[dict[str, Any]]:
    """Return the patients with the track and status of their latest plan version.

    Optionally only those whose pseudonym contains ``query``.
    """
    from sqlalchemy import select

    from spinestab.store.models import Patient, PlanVersion

    needle = (query or "").strip().lower()
    with record.read_unit_of_work() as uow:
        rows = services.list_patients(uow, actor_of(user))
        latest = {
            pseudonym: (track, status)
            for pseudonym, track, status in uow.session.execute(
                select(Patient.pseudonym, PlanVersion.track, PlanVersion.status)
                .join(PlanVersion, PlanVersion.patient_id == Patient.id)
                .order_by(PlanVersion.version)
            ).all()
        }
    out = []
    for row in rows:
        if needle and needle not in str(row["pseudonym"]).lower():
            continue
        track, status = latest.get(str(row["pseudonym"]), (None, None))
        out.append(row | {"track": track, "plan_status": status})
    return out


def timeline(record: Record, user: Principal | Actor, pseudonym: str) -> dict[str, Any]:
    """Return the patient's record as ``spinestab record show --json`` (an audited read)."""
    with record.read_unit_of_work() as uow:
        return _json(services.show_record(uow, actor_of(user), pseudonym))


def record_with_uploads(
    record: Record, user: Principal | Actor, pseudonym: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the timeline and the uploads of a patient in one unit of work (the record page)."""
    with record.read_unit_of_work() as uow:
        actor = actor_of(user)
        timeline_json = _json(services.show_record(uow, actor, pseudonym))
        uploads = _json(services.list_uploads(uow, actor, pseudonym))
    return timeline_json, uploads


def worklist(
    record: Record, user: Principal | Actor, *, stopped_logging_days: int
) -> dict[str, Any]:
    """Return the clinician's worklist sections (:func:`spinestab.record.worklist`)."""
    with record.read_unit_of_work() as uow:
        return services.worklist(uow, actor_of(user), stopped_logging_days=stopped_logging_days)


# ------------------------------------------------------------------------------ forms, history
def save_form(record: Record, user: Principal | Actor, pseudonym: str, data: Any) -> dict[str, Any]:
    """Validate, score and store one questionnaire; return the score with the row's id.

    A red-flag screen that opens a blocking flag blocks the patient's live plans in the
    same transaction (``blocked_plans``).
    """
    return _form_answer(record.write(_form_call(user, pseudonym, data)))


async def save_form_async(
    record: Record, user: Principal | Actor, pseudonym: str, data: Any
) -> dict[str, Any]:
    """:func:`save_form` for a route on the event loop (the API's form submits).

    The form is checked and scored on the loop; the web app's record runs the write with
    the concurrent ones and this awaits it (``ServiceRecord.write_async``); a plain record
    writes it in the thread pool.
    """
    call = _form_call(user, pseudonym, data)
    if isinstance(record, ServiceRecord):
        return _form_answer(await record.write_async(call))
    return _form_answer(await run_in_threadpool(record.write, call))


def _form_call(
    user: Principal | Actor, pseudonym: str, data: Any
) -> Callable[[UnitOfWork], FormSaved]:
    """Check and score a form (before any write turn); return its write as one service call."""
    from spinestab.record.forms import check_form_document

    actor = actor_of(user)
    try:  # checked and scored before the unit of work takes the write lock
        document: Any = check_form_document(data, source="form")
    except InputError:
        document = data  # refused again by the service, which audits the refusal
    return lambda uow: services.save_form(uow, actor, pseudonym, document, source="form")


def _form_answer(saved: FormSaved) -> dict[str, Any]:
    """Return a saved form's answer: its score, its id, the plans it blocked, open flags."""
    return (
        dict(saved.assessment.score)
        | {"id": saved.assessment.id}
        | {
            "blocked_plans": list(saved.blocked_plans),
            "open_red_flags": _json(list(saved.open_red_flags)),
        }
    )


def check_form(data: Any) -> dict[str, Any]:
    """Validate and score a questionnaire without storing it (the intake page's live check)."""
    form = parse_form(data, source="form")
    return score_form(form).to_dict()


def save_history(
    record: Record, user: Principal | Actor, pseudonym: str, data: Any
) -> dict[str, Any]:
    """Store a new version of the history and examination (``history.json`` fields)."""
    with record.unit_of_work() as uow:
        return _json(services.save_history(uow, actor_of(user), pseudonym, data, source="web"))


# ------------------------------------------------------------------------------ uploads
def save_upload(
    record: Record,
    user: Principal | Actor,
    pseudonym: str,
    data: BinaryIO | bytes | Path,
    *,
    kind: str,
    name: str,
    media_type: str | None = None,
) -> dict[str, Any]:
    """Store an uploaded file; return it with its id."""
    with record.unit_of_work() as uow:
        return _json(
            services.save_upload(
                uow, actor_of(user), pseudonym, data, kind=kind, name=name, media_type=media_type
            )
        )


def list_uploads(record: Record, user: Principal | Actor, pseudonym: str) -> list[dict[str, Any]]:
    """Return a patient's uploads, newest first."""
    with record.read_unit_of_work() as uow:
        return _json(services.list_uploads(uow, actor_of(user), pseudonym))


def get_uploads(
    record: Record, user: Principal | Actor, pseudonym: str, ids: Sequence[int]
) -> list[dict[str, Any]]:
    """Return the uploads ``ids`` of a patient (404 for one that is not theirs)."""
    with record.read_unit_of_work() as uow:
        return _json(services.get_uploads(uow, actor_of(user), pseudonym, list(ids)))


def read_file(
    record: Record, user: Principal | Actor, pseudonym: str, file_id: int
) -> tuple[dict[str, Any], bytes]:
    """Return a file of the patient's record (its description and bytes; an audited read)."""
    with record.read_unit_of_work() as uow:
        described, data = services.read_file(uow, actor_of(user), pseudonym, file_id)
    return _json(described), data


# ------------------------------------------------------------------------------ results
def save_result(
    record: Record,
    user: Principal | Actor,
    pseudonym: str,
    *,
    kind: str,
    folder: Path,
    inputs: Mapping[str, Path],
    options: Any,
) -> dict[str, Any]:
    """Save an analysis' output folder (as the command writes it) into the record.

    ``kind``: ``imaging``, ``instability`` or ``wearable``. Returns ``entity``, ``id`` and a
    count of what was stored (rows, levels, days), or ``already_stored`` with the message
    when the same result, inputs and options are stored already.
    """
    from spinestab.errors import AlreadyStoredError

    given = {role: path for role, path in inputs.items() if path is not None}
    extra: dict[str, Any] = {}
    if kind == "instability":
        extra["landmarks"] = {
            role.removeprefix("landmarks_"): given.pop(role)
            for role in list(given)
            if role.startswith("landmarks_")
        }
    savers: dict[str, Any] = {
        "imaging": services.save_imaging_folder,
        "instability": services.save_instability_folder,
        "wearable": services.save_wearable_folder,
    }
    source = {"imaging": "web: mri", "instability": "web: instability", "wearable": "web: wearable"}
    try:
        with record.unit_of_work() as uow:
            saved = savers[kind](
                uow,
                actor_of(user),
                pseudonym,
                folder,
                inputs=given,
                options=options,
                source=source[kind],
                **extra,
            )
    except AlreadyStoredError as exc:
        return {"entity": kind, "id": None, "already_stored": True, "message": exc.message}
    out = _json(saved)
    counts = {
        "imaging": ("rows", len(out.get("rows", ()))),
        "instability": ("levels", len(out.get("levels", ()))),
        "wearable": ("days", len(out.get("days", ()))),
    }[kind]
    pictures = [
        f["id"] for f in out.get("files", ()) if f["role"] in ("qa_picture", "picture", "timeline")
    ]
    return {
        "entity": kind,
        "id": out["id"],
        counts[0]: counts[1],
        "pictures": pictures,
        "already_stored": False,
    }


# ------------------------------------------------------------------------------ plans


def make_plan(
    record: Record, user: Principal | Actor, pseudonym: str, *, language: str | None = None
) -> dict[str, Any]:
    """Profile, triage and a new plan version (draft, or blocked) from the record."""
    with record.unit_of_work() as uow:
        made = services.make_plan(uow, actor_of(user), pseudonym, language=language)
    plan = _json(made.plan)
    return {
        "version": plan["version"],
        "track": plan["track"],
        "status": plan["status"],
        "superseded_drafts": list(made.superseded_drafts),
        "plan": plan["plan"],
        "inputs": made.inputs,
    }


def progress_plan(
    record: Record, user: Principal | Actor, pseudonym: str, *, language: str | None = None
) -> dict[str, Any]:
    """Make the next plan version (a draft) from the sessions logged against the active plan."""
    with record.unit_of_work() as uow:
        made = services.progress_plan(uow, actor_of(user), pseudonym, language=language)
    plan = _json(made.plan)
    return {
        "version": plan["version"],
        "track": plan["track"],
        "status": plan["status"],
        "previous_version": plan["previous_version"],
        "plan": plan["plan"],
        "inputs": made.inputs,
    }


def current_plan(
    record: Record, user: Principal | Actor, pseudonym: str, *, version: int | None = None
) -> dict[str, Any] | None:
    """Return the plan in force (or ``version``) with its ``plan.json``, or None."""
    with record.read_unit_of_work() as uow:
        plan = services.get_plan(uow, actor_of(user), pseudonym, version=version)
    return _json(plan) if plan is not None else None


def approve_plan(
    record: Record, user: Principal | Actor, pseudonym: str, *, version: int
) -> dict[str, Any]:
    """Approve a draft: it becomes the active plan (the earlier one superseded)."""
    with record.unit_of_work() as uow:
        return _json(services.approve_plan(uow, actor_of(user), pseudonym, version=version))


def plan_files(
    record: Record, user: Principal | Actor, pseudonym: str, *, version: int
) -> dict[str, str]:
    """Return the files of a stored plan version (``plan.json``, ``handout.html``, ...)."""
    with record.read_unit_of_work() as uow:
        return services.plan_files(uow, actor_of(user), pseudonym, version=version)


# ------------------------------------------------------------------------------ the patient
def me_plan(record: Record, user: Principal | Actor) -> dict[str, Any]:
    """Return the patient's plan as ``GET /me/plan`` answers.

    - an approved active plan: its ``plan.json`` (``status`` active, ``exercises``);
    - blocked (a blocking red flag is open, or the plan in force is blocked): ``status``
      blocked, the ``actions`` to take instead (``urgency``, ``text``), no exercises;
    - before any approval: ``status`` none, no plan, no exercises.
    """
    return patient_home(record, user)[1]


def patient_home(record: Record, user: Principal | Actor) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the patient's own timeline and their plan as ``GET /me/plan`` answers it.

    One unit of work (the Today page needs both).
    """
    actor = actor_of(user)
    pseudonym = actor.patient or ""
    with record.read_unit_of_work() as uow:
        plan = services.get_plan(uow, actor, pseudonym)
        timeline = services.show_record(uow, actor, pseudonym)
    return _json(timeline), _plan_view(plan, list(timeline.open_red_flags))


def _plan_view(plan: Any, flags: list[Any]) -> dict[str, Any]:
    """Return the patient's view of the plan in force, red flags first."""
    blocking = [f for f in flags if f.blocking]
    if plan is None and not blocking:
        return {
            "status": "none",
            "version": None,
            "track": None,
            "plan": None,
            "exercises": [],
            "message": "no plan has been approved yet",
        }
    if blocking or (plan is not None and plan.status == "blocked"):
        actions = [
            {
                "code": f"red_flag_{f.urgency}",
                "urgency": f.urgency,
                "condition": f.condition,
                "text": f.action,
                "source": f.source,
            }
            for f in blocking
        ]
        doc = (plan.plan or {}) if plan is not None else {}
        for action in doc.get("actions", ()):
            if action.get("kind") == "escalation" and action.get("code") not in {
                a["code"] for a in actions
            }:
                actions.append(
                    {
                        "code": action.get("code"),
                        "urgency": action.get("urgency"),
                        "text": action.get("text"),
                        "source": action.get("source"),
                    }
                )
        return {
            "status": "blocked",
            "version": plan.version if plan is not None else None,
            "track": "S0",
            "actions": actions,
            "exercises": [],
            "message": "the exercise plan is stopped: do what the actions say instead",
        }
    assert plan is not None
    return dict(plan.plan or {}) | {"status": plan.status, "version": plan.version}


def save_sessions(record: Record, user: Principal | Actor, document: Any) -> dict[str, Any]:
    """Store the patient's own session rows (the ``progress`` format) against the active plan."""
    actor = actor_of(user)
    with record.unit_of_work() as uow:
        return _json(services.save_session_rows(uow, actor, actor.patient or "", document))


def me_movement(record: Record, user: Principal | Actor) -> dict[str, Any]:
    """Return the patient's movement summary: wearable days, the plan's goals, adherence."""
    from spinestab.service.summaries import movement_summary

    actor = actor_of(user)
    with record.read_unit_of_work() as uow:
        record_json = _json(services.show_record(uow, actor, actor.patient or ""))
        plan = services.get_plan(uow, actor, actor.patient or "")
    return movement_summary(record_json, plan.plan if plan is not None else None)
