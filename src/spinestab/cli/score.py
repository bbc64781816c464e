"""``spinestab score``: score questionnaire files, optionally saving them for a patient."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from spinestab.cli._common import (
    EXIT_BAD_INPUT,
    JsonOutput,
    console,
    err_console,
    exit_on_bad_input,
    print_error,
    print_json,
)
from spinestab.errors import InputError

__all__ = ["register", "score_table"]


def score_table(result: dict, *, title: str) -> Table:
    """Build a Rich table of one scored form (a :meth:`Score.to_dict` result)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    shown = result["score"] if result["score"] is not None else "— (incomplete: no score)"
    if isinstance(shown, float):
        shown = f"{shown:.2f}"
    table.add_row("score", f"{shown} / {result['max']}" if result["max"] else str(shown))
    table.add_row("complete", "yes" if result["complete"] else "[red]no[/]")
    if result["missing"]:
        table.add_row("missing", escape(", ".join(result["missing"])))
    if result["risk"]:
        table.add_row("risk", result["risk"])
        table.add_row("psychosocial", f"{result['psychosocial']} / 5")
    if result["percent"] is not None:
        table.add_row("percent", f"{result['percent']:.1f} %")
        table.add_row("band", result["band"])
    if result["instrument"] == "redflags":
        if not result["actions"]:
            table.add_row("red flags", "[green]none positive[/]")
        for action in result["actions"]:
            colour = {"emergency": "bold red", "same_day": "red", "urgent": "yellow"}.get(
                action["urgency"], "cyan"
            )
            detail = (
                f"(items: {', '.join(action['items'])}; {action['source']}; "
                f"evidence {action['evidence']})"
            )
            table.add_row(
                f"[{colour}]{action['urgency'].upper()}[/]",
                f"{escape(action['label'])}: {escape(action['action'])} [dim]{escape(detail)}[/]",
            )
    for note in result["notes"]:
        table.add_row("note", escape(note))
    table.add_row("source", f"[dim]{escape(result['source'])}[/]")
    return table


def score_command(
    files: Annotated[list[Path], typer.Argument(help="Questionnaire files (JSON, YAML, FHIR).")],
    as_json: JsonOutput = False,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            "--patient",
            metavar="PATIENT",
            help="Save the forms into this patient's record.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Score questionnaires (STarT Back, ODI, RMDQ, NRS, PSFS, red flags).

    Exit code 0 when every file scored, 2 on bad input (then nothing is saved).
    """
    from spinestab.clinical import load_form, score_form

    scored, errors = [], []
    for path in files:
        try:
            form = load_form(path)
            scored.append((form, score_form(form)))
        except InputError as exc:
            errors.append(exc)
    if errors:
        for error in errors:
            print_error(error)
        if save:
            err_console.print("nothing was saved", style="red")
        raise typer.Exit(EXIT_BAD_INPUT)
    if save:
        from spinestab.cli.record import cli_actor, opened_record
        from spinestab.record import save_form_file

        try:
            with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
                for path in files:
                    save_form_file(uow, cli_actor(), save, path)
        except typer.Exit:
            err_console.print("nothing was saved", style="red")
            raise
    results = [score.to_dict() | {"file": form.source} for form, score in scored]
    if as_json:
        payload = results[0] if len(results) == 1 else results
        print_json(payload)
    else:
        for result in results:
            console.print(
                score_table(
                    result, title=f"{result['instrument']}  {result['date']}  ({result['file']})"
                )
            )
    if save:
        err_console.print(
            f"saved {len(scored)} assessment(s) for patient {escape(save)}", highlight=False
        )


def register(app: typer.Typer) -> None:
    """Add ``score`` to the app."""
    app.command("score")(score_command)
