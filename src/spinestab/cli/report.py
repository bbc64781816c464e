"""``spinestab report``: the clinician report (or the patient handout) as PDF or HTML."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from spinestab.cli._common import (
    JsonOutput,
    Language,
    console,
    exit_on_bad_input,
    language_option,
    print_json,
)
from spinestab.errors import InputError

if TYPE_CHECKING:
    from spinestab.report import ReportInputs

__all__ = ["register"]

FORMATS = (".pdf", ".html")


def report_command(
    patient: Annotated[
        str,
        typer.Argument(
            help="Pseudonym of a stored patient (the record), or a patient folder (the files "
            "`spinestab plan` reads)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="FILE.pdf (A4) or FILE.html.")],
    lang: Annotated[Language | None, language_option()] = None,
    handout: Annotated[
        bool,
        typer.Option(
            "--handout",
            help="Write the patient handout instead of the letter (a stored patient: the "
            "approved plan in force).",
        ),
    ] = False,
    imaging: Annotated[
        Path | None,
        typer.Option(
            "--imaging",
            help="With a patient folder: output folder of `spinestab mri` (QA pictures, table).",
        ),
    ] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="Date of the letter, YYYY-MM-DD (default today).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write the clinician report (or with --handout the patient handout) as PDF or HTML.

    --json prints {"patient", "kind", "language", "format", "file"} on stdout.
    """
    with exit_on_bad_input():
        from spinestab.core.i18n import resolve_language
        from spinestab.core.outdir import check_out_file, write_out_file

        fmt = check_out_file(
            out, suffixes=FORMATS, expected="FILE.pdf or FILE.html", message="unknown report format"
        ).suffix.lower()
        language = resolve_language(lang)
        try:
            day = dt.date.fromisoformat(date) if date else dt.date.today()
        except ValueError:
            raise InputError(
                "not a date", item="--date", value=date, expected="YYYY-MM-DD"
            ) from None
        folder = Path(patient)
        if folder.is_dir():
            data, who = _from_folder(folder, imaging, language, day, handout=handout, fmt=fmt)
        else:
            if imaging is not None:
                raise InputError(
                    "--imaging is for a patient folder",
                    item="--imaging",
                    expected="no --imaging with a stored patient: the record holds its imaging",
                )
            data, who = _from_record(patient, language, day, handout=handout, fmt=fmt)
        write_out_file(out, data)
        what = "handout" if handout else "report"
        if as_json:
            print_json(
                {
                    "patient": who,
                    "kind": what,
                    "language": language,
                    "format": fmt[1:],
                    "file": str(out),
                }
            )
            return
        console.print(
            f"{escape(who)}: {what} ({language}, {fmt[1:]}) -> {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )


def _from_folder(
    folder: Path, imaging: Path | None, language: str, day: dt.date, *, handout: bool, fmt: str
) -> tuple[bytes, str]:
    """Render from a patient folder (the plan as ``spinestab plan`` would make it)."""
    from spinestab.care import load_rules, prescribe
    from spinestab.report import inputs_from_patient_dir

    inputs = inputs_from_patient_dir(folder, imaging_dir=imaging, language=language, date=day)
    if handout:
        args = {
            "patient": inputs.patient,
            "date": (inputs.profile.date or day).isoformat(),
            "track": inputs.triage.track,
            "actions": [a.to_dict() for a in inputs.triage.actions],
            "plan": prescribe(inputs.profile, inputs.triage, rules=load_rules()),
            "language": language,
        }
        return _handout(args, fmt), inputs.patient
    return _letter(inputs, language, fmt), inputs.patient


def _from_record(
    pseudonym: str, language: str, day: dt.date, *, handout: bool, fmt: str
) -> tuple[bytes, str]:
    """Render a stored patient's letter, or the handout of the plan in force."""
    from spinestab.cli.record import cli_actor, opened_record
    from spinestab.report.record import (
        handout_from_record,
        inputs_from_record,
        render_stored_handout,
    )

    with opened_record() as record, record.unit_of_work() as uow:
        if handout:
            h = handout_from_record(uow, cli_actor(), pseudonym)
            return render_stored_handout(h, language=language, pdf=fmt == ".pdf"), pseudonym
        inputs = inputs_from_record(uow, cli_actor(), pseudonym, language=language, date=day)
    return _letter(inputs, language, fmt), pseudonym


def _handout(args: dict[str, Any], fmt: str) -> bytes:
    from spinestab.care.handout import render_handout
    from spinestab.report import render_handout_pdf

    if fmt == ".pdf":
        return render_handout_pdf(**args)
    return render_handout(**args).encode("utf-8")


def _letter(inputs: ReportInputs, language: str, fmt: str) -> bytes:
    from spinestab.report import render_report_html, render_report_pdf

    if fmt == ".pdf":
        return render_report_pdf(inputs, language=language)
    return render_report_html(inputs, language=language).encode("utf-8")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report_command)
