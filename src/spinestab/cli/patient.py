"""``spinestab patient add/list/show``: patients in the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from spinestab.cli._common import console, exit_on_bad_input

__all__ = ["register"]

patient_app = typer.Typer(help="Patients in the store (pseudonymous).", no_args_is_help=True)


def _session():  # type: ignore[no-untyped-def]
    from spinestab.settings import get_settings
    from spinestab.store import store_session

    return store_session(get_settings())


@patient_app.command("add")
def add(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    sex: Annotated[str | None, typer.Option(help="female, male, other or unknown.")] = None,
    birth_year: Annotated[int | None, typer.Option(help="Year of birth.")] = None,
) -> None:
    """Add a patient."""
    from spinestab.settings import get_settings
    from spinestab.store import add_patient

    with exit_on_bad_input(), _session() as session:
        add_patient(session, pseudonym, sex=sex, birth_year=birth_year, actor=get_settings().user)
    console.print(f"added patient {pseudonym}")


@patient_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List patients."""
    from spinestab.store import list_patients

    with exit_on_bad_input(), _session() as session:
        rows = [
            {
                "pseudonym": p.pseudonym,
                "sex": p.sex,
                "birth_year": p.birth_year,
                "assessments": len(p.assessments),
            }
            for p in list_patients(session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("pseudonym", "sex", "birth year", "assessments")
    for row in rows:
        table.add_row(
            row["pseudonym"],
            row["sex"] or "",
            str(row["birth_year"] or ""),
            str(row["assessments"]),
        )
    console.print(table)


@patient_app.command("show")
def show(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a patient and their assessments."""
    from spinestab.errors import InputError
    from spinestab.store import get_patient

    with exit_on_bad_input(), _session() as session:
        patient = get_patient(session, pseudonym)
        if patient is None:
            raise InputError("unknown patient", item="patient", value=pseudonym)
        data = {
            "pseudonym": patient.pseudonym,
            "sex": patient.sex,
            "birth_year": patient.birth_year,
            "assessments": [
                {
                    "date": a.date.isoformat(),
                    "instrument": a.instrument,
                    "score": a.scores.get("score"),
                    "complete": a.scores.get("complete"),
                    "risk": a.scores.get("risk"),
                    "percent": a.scores.get("percent"),
                    "band": a.scores.get("band"),
                    "actions": [x["urgency"] for x in a.scores.get("actions", [])],
                }
                for a in patient.assessments
            ],
        }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(
        f"[bold]{data['pseudonym']}[/]  sex: {data['sex'] or '?'}  "
        f"born: {data['birth_year'] or '?'}"
    )
    table = Table("date", "instrument", "score", "complete", "risk / band / actions")
    for a in data["assessments"]:
        detail = a["risk"] or a["band"] or ", ".join(a["actions"]) or ""
        score = a["score"]
        table.add_row(
            a["date"],
            a["instrument"],
            "" if score is None else f"{score:g}",
            str(a["complete"]),
            detail,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``patient`` group to the app."""
    app.add_typer(patient_app, name="patient")
