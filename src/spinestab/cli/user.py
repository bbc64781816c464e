"""``spinestab user add/list/remove``: accounts of the web app."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from spinestab.cli._common import JsonOutput, console, exit_on_bad_input, print_json

__all__ = ["register"]


class Role(StrEnum):
    """Roles of web-app accounts (``spinestab.service.models.ROLES``)."""

    CLINICIAN = "clinician"
    PATIENT = "patient"
    ADMIN = "admin"


user_app = typer.Typer(help="Accounts of the web app.", no_args_is_help=True)


def _read_password(stdin: bool) -> str:
    from spinestab.errors import InputError

    if not stdin:
        raise InputError(
            "the password is read from standard input only",
            item="--password-stdin",
            expected="--password-stdin, e.g. printf '%s' \"$PW\" | spinestab user add ...",
        )
    text = sys.stdin.readline()
    return text[:-1] if text.endswith("\n") else text


@user_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="clinician, patient or admin.", case_sensitive=False)],
    patient: Annotated[
        str | None, typer.Option(help="Pseudonym a patient account is tied to.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add an account (argon2id password hash; at least 12 characters)."""
    from spinestab.service.accounts import add_user
    from spinestab.service.security import Passwords
    from spinestab.service.settings import ServiceSettings
    from spinestab.store import store_session

    settings = ServiceSettings()
    with exit_on_bad_input():
        password = _read_password(password_stdin)
        passwords = Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        )
        with store_session(settings) as session:
            add_user(
                session,
                username,
                role=role.value,
                password=password,
                patient=patient,
                passwords=passwords,
                actor=settings.user,
            )
    console.print(f"added {escape(role.value)} account {escape(username)}", highlight=False)


@user_app.command("list")
def list_(as_json: JsonOutput = False) -> None:
    """List the accounts (--json: name, role, patient and demo of each)."""
    from sqlalchemy import select

    from spinestab.service.models import User
    from spinestab.service.settings import ServiceSettings
    from spinestab.store import store_session

    with exit_on_bad_input(), store_session(ServiceSettings()) as session:
        rows = [
            (u.username, u.role, u.patient_pseudonym or "", "yes" if u.is_demo else "")
            for u in session.scalars(select(User).order_by(User.username))
        ]
    if as_json:
        print_json(
            [
                {"username": u, "role": r, "patient": p or None, "demo": bool(d)}
                for u, r, p, d in rows
            ]
        )
        return
    table = Table("user", "role", "patient", "demo")
    for row in rows:
        table.add_row(*(escape(x) for x in row))
    console.print(table)


@user_app.command("remove")
def remove(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Remove an account (its sessions end)."""
    from sqlalchemy import select

    from spinestab.errors import InputError
    from spinestab.service.models import User
    from spinestab.service.settings import ServiceSettings
    from spinestab.store import audit, store_session

    settings = ServiceSettings()
    with exit_on_bad_input(), store_session(settings) as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise InputError("unknown user", item="username", value=username)
        audit(
            session,
            actor=settings.user,
            action="delete",
            entity="user",
            entity_id=user.id,
            detail={"username": username},
        )
        session.delete(user)
    console.print(f"removed account {escape(username)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``user`` group to the app."""
    app.add_typer(user_app, name="user")
