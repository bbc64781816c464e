"""A plan version received from elsewhere (a FHIR Bundle of another spinestab record).

:func:`receive_plan` stores a plan version as it was made and approved in the record the
Bundle came from: its ``plan.json``, handout, the profile and triage it was made from, and
the approval as recorded there (who, when). It is the import side of ``spinestab fhir
export``; export, import, export gives the same resources.

The record's safety rules hold as for any plan: a version number already used is refused;
a second active plan is refused (the database allows one); a received ``active`` or
``draft`` plan is ``blocked`` in the same transaction when a blocking red flag is open; the
import is audited with the actor who imported it, and the approval's origin is kept in the
status reason ("approval received with ...").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from spinestab.errors import ConflictError, InputError
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    authorize,
    current_episode,
    find_patient,
    service,
)
from spinestab.record.plans import add_plan_version, add_profile, add_triage, plan_out
from spinestab.record.safety import enforce_red_flags
from spinestab.record.schemas import PlanOut
from spinestab.store.models import PlanVersion

__all__ = ["ReceivedPlan", "receive_plan"]

#: statuses a received plan may have (a superseded version is history, not received)
RECEIVED_STATUSES = ("draft", "active", "blocked")


def _approval_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            "approval time is not an ISO date-time", value=text, expected="YYYY-MM-DDTHH:MM:SSZ"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ReceivedPlan:
    """A plan version as another record made and approved it.

    Attributes
    ----------
    document : mapping
        The ``plan.json`` document; its ``version`` is the version number here too.
    status : {"draft", "active", "blocked"}
        The status it had there.
    approved_by, approved_at : str, optional
        The approval as recorded there (required for ``active``).
    handout_html : str, optional
        The handout made with the plan.
    profile, triage : mapping, optional
        ``profile.json`` and ``triage.json`` the plan was made from.
    source : str
        Where it came from (kept in the status reason).

    """

    document: Mapping[str, Any]
    status: str
    approved_by: str | None = None
    approved_at: str | None = None
    handout_html: str | None = None
    profile: Mapping[str, Any] | None = None
    triage: Mapping[str, Any] | None = None
    source: str = "FHIR Bundle"


@service("create", "plan")
def receive_plan(uow: UnitOfWork, actor: Actor, pseudonym: str, received: ReceivedPlan) -> PlanOut:
    """Store a plan version made (and approved) in another record.

    Parameters
    ----------
    uow, actor
        The transaction and who imports (a clinician).
    pseudonym : str
        The patient.
    received : ReceivedPlan
        The plan, its status and approval there, and what it was made from; the document is
        validated with :meth:`spinestab.care.plan.Plan.from_dict`.

    Raises
    ------
    InputError
        Not a plan document, an unknown status, an active plan without its approval.
    ConflictError
        The version number is taken, or the patient has an active plan already.

    """
    from spinestab.care.plan import Plan

    authorize(actor, pseudonym, patient_may=False)
    if actor.role not in ("clinician", "admin"):
        from spinestab.errors import RefusedError

        raise RefusedError("only a clinician may receive a plan", item=actor.role)
    status, approved_by, approved_at = received.status, received.approved_by, received.approved_at
    profile, triage, source = received.profile, received.triage, received.source
    if status not in RECEIVED_STATUSES:
        raise InputError(
            "plan status cannot be received", value=status, expected=", ".join(RECEIVED_STATUSES)
        )
    if status == "active" and not approved_by:
        raise InputError("an active plan needs who approved it", item="approved_by")
    data = dict(received.document)
    Plan.from_dict(data | {"status": status}, source=source)  # the plan.json contract
    try:
        version = int(data.get("version"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError("plan has no version number", item="version", source=source) from None
    patient = find_patient(uow, pseudonym, lock=True)
    taken = uow.session.scalar(
        select(PlanVersion.id).where(
            PlanVersion.patient_id == patient.id, PlanVersion.version == version
        )
    )
    if taken is not None:
        raise ConflictError(f"plan version {version} exists already", item="version", value=version)
    if status == "active" and uow.session.scalar(
        select(PlanVersion.id).where(
            PlanVersion.patient_id == patient.id, PlanVersion.status == "active"
        )
    ):
        raise ConflictError("the patient has an active plan already", item="status")
    episode = current_episode(uow, actor, patient)
    snapshot_id = triage_id = None
    if profile is not None:
        snapshot_id = add_profile(
            uow,
            actor,
            patient,
            episode_id=episode.id,
            as_of=dt.date.fromisoformat(str(profile["date"])) if profile.get("date") else None,
            data=dict(profile),
            inputs={"received": source},
        ).id
    if triage is not None and snapshot_id is not None:
        triage_id = add_triage(
            uow,
            actor,
            patient,
            profile_id=snapshot_id,
            track=str(triage.get("track") or data.get("track") or "")[:8],
            plan_allowed=bool(triage.get("plan_allowed")),
            data=dict(triage),
        ).id
    reason = f"received with {source}"
    if approved_by:
        reason = (
            f"approved by {approved_by} at {approved_at or '?'}; approval received with {source}"
        )
    row = add_plan_version(
        uow,
        actor,
        patient,
        detail={"version": version, "status": status, "received": source[:200]},
        episode_id=episode.id,
        version=version,
        status=status,
        track=str(data.get("track") or "")[:8],
        data=data,
        handout_html=received.handout_html,
        profile_id=snapshot_id,
        triage_id=triage_id,
        approved_by=approved_by,
        approved_at=_approval_time(approved_at),
        status_reason=reason[:2000],
    )
    enforce_red_flags(uow, actor, patient)  # red flags win over a received plan too
    return plan_out(uow, row, with_plan=True)
