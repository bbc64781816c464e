"""Demo accounts for ``make run``: a clinician and a patient tied to the demo patient.

Demo accounts are marked ``is_demo``; ``serve --production`` refuses to start while any
exists. Their passwords are printed by ``serve --demo`` and are fixed on purpose: they are
for a laptop on 127.0.0.1, not for a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinestab.service.accounts import add_user
from spinestab.service.models import User
from spinestab.service.security import Passwords
from spinestab.store import get_patient

__all__ = ["DEMO_ACCOUNTS", "DemoAccount", "seed_demo_accounts"]


@dataclass(frozen=True)
class DemoAccount:
    """One demo login."""

    username: str
    password: str
    role: str
    patient: str | None = None


DEMO_PATIENT = "demo-001"
#: A bundled demo patient with an approved plan and logged sessions (``spinestab demo``).
DEMO_PATIENT_WITH_PLAN = "functional_high_risk"
DEMO_ACCOUNTS = (
    DemoAccount("demo-clinician", "demo-clinician-pass", "clinician"),
    DemoAccount("demo-patient", "demo-patient-pass", "patient", DEMO_PATIENT),
    DemoAccount("demo-patient-plan", "demo-patient-plan-pass", "patient", DEMO_PATIENT_WITH_PLAN),
)


def seed_demo_accounts(session: Session, *, passwords: Passwords) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet (and the demo patient if needed).

    Returns
    -------
    list of DemoAccount
        The demo accounts (created now or before), for printing how to log in; the
        account of the demo patient with a plan only when ``spinestab demo`` has seeded
        that patient.

    """
    if get_patient(session, DEMO_PATIENT) is None:
        from spinestab.record import Actor, UnitOfWork, create_patient

        create_patient(
            UnitOfWork(session),
            Actor(username="demo", role="clinician"),
            DEMO_PATIENT,
            sex="female",
            birth_year=1979,
        )
        session.flush()
    existing = set(session.scalars(select(User.username)))
    accounts = [
        a
        for a in DEMO_ACCOUNTS
        if a.patient is None or a.username in existing or get_patient(session, a.patient)
    ]
    for account in accounts:
        if account.username not in existing:
            add_user(
                session,
                account.username,
                role=account.role,
                password=account.password,
                patient=account.patient,
                passwords=passwords,
                is_demo=True,
                actor="demo",
            )
    return accounts
