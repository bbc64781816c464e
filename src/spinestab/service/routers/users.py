"""``/api/v1/users``: accounts, for admins only (admins do not read health records)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from spinestab.service.accounts import add_user
from spinestab.service.deps import AdminUser, SessionDep, StateDep
from spinestab.service.models import User

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


class UserIn(BaseModel):
    """A new account."""

    username: str = Field(max_length=64)
    role: Literal["clinician", "patient", "admin"]
    password: str = Field(max_length=1024)
    patient: str | None = Field(default=None, max_length=64)


def _public(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "patient": user.patient_pseudonym,
        "active": user.active,
        "demo": user.is_demo,
    }


@router.get("")
def list_users(session: SessionDep, _admin: AdminUser) -> list[dict[str, Any]]:
    """List the accounts (no password hashes)."""
    return [_public(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("", status_code=201)
def create_user(
    body: UserIn, session: SessionDep, state: StateDep, admin: AdminUser
) -> dict[str, Any]:
    """Add an account (the password policy applies; 422 otherwise)."""
    user = add_user(
        session,
        body.username,
        role=body.role,
        password=body.password,
        patient=body.patient,
        passwords=state.passwords,
        actor=admin.username,
    )
    return _public(user)
