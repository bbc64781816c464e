"""``spinestab patient add/list/show``: patients in the record."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from spinestab.cli._common import JsonOutput, console, exit_on_bad_input, print_json

__all__ = ["register"]


class Sex(StrEnum):
    """Sex of a patient in the record (``spinestab.record.patients`` ``SEXES``)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


patient_app = typer.Typer(help="Patients in the record (pseudonymous).", no_args_is_help=True)


@patient_app.command("add")
def add(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    sex: Annotated[
        Sex | None, typer.Option(help="female, male, other or unknown.", case_sensitive=False)
    ] = None,
    birth_year: Annotated[int | None, typer.Option(help="Year of birth.")] = None,
    as_json: JsonOutput = False,
) -> None:
    """Add a patient. --json prints the patient added."""
    from spinestab.cli.record import cli_actor, opened_record
    from spinestab.record import create_patient

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        patient = create_patient(
            uow,
            cli_actor(),
            pseudonym,
            sex=sex.value if sex is not None else None,
            birth_year=birth_year,
        )
    if as_json:
        print_json(
            {"pseudonym": patient.pseudonym, "sex": patient.sex, "birth_year": patient.birth_year}
        )
        return
    console.print(f"added patient {escape(patient.pseudonym)}", highlight=False)


@patient_app.command("list")
def list_(as_json: JsonOutput = False) -> None:
    """List patients."""
    from spinestab.cli.record import cli_actor, opened_record
    from spinestab.record import list_patients

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        rows = [
            {k: row[k] for k in ("pseudonym", "sex", "birth_year", "assessments")}
            for row in list_patients(uow, cli_actor())
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("pseudonym", "sex", "birth year", "assessments")
    for row in rows:
        table.add_row(
            escape(str(row["pseudonym"])),
            escape(str(row["sex"] or "")),
            str(row["birth_year"] or ""),
            str(row["assessments"]),
        )
    console.print(table)


@patient_app.command("show")
def show(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    as_json: JsonOutput = False,
) -> None:
    """Show a patient and their questionnaires (the whole record: spinestab record show)."""
    from spinestab.cli.record import cli_actor, opened_record
    from spinestab.record import show_record

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        timeline = show_record(uow, cli_actor(), pseudonym)
    data: dict[str, Any] = {
        "pseudonym": timeline.patient.pseudonym,
        "sex": timeline.patient.sex,
        "birth_year": timeline.patient.birth_year,
        "assessments": [
            {
                "date": a.date.isoformat(),
                "instrument": a.instrument,
                "status": a.status,
                "score": a.score.get("score"),
                "complete": a.score.get("complete"),
                "risk": a.score.get("risk"),
                "percent": a.score.get("percent"),
                "band": a.score.get("band"),
                "actions": [x["urgency"] for x in a.score.get("actions", [])],
            }
            for a in timeline.assessments
        ],
    }
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{escape(data['pseudonym'])}[/]  sex: {escape(data['sex'] or '?')}  "
        f"born: {data['birth_year'] or '?'}",
        highlight=False,
    )
    table = Table("date", "instrument", "score", "complete", "risk / band / actions")
    for a in data["assessments"]:
        detail = a["risk"] or a["band"] or ", ".join(a["actions"]) or ""
        if a["status"] != "stored":
            detail = f"{a['status']}: {detail}"
        score = a["score"]
        table.add_row(
            a["date"],
            a["instrument"],
            "" if score is None else f"{score:g}",
            str(a["complete"]),
            escape(detail),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``patient`` group to the app."""
    app.add_typer(patient_app, name="patient")
