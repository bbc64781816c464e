"""``spinestab report``: the clinician report (or the patient handout) as PDF or HTML."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    from spinestab.care import Plan
    from spinestab.report import ReportInputs

__all__ = ["patient_folder", "register"]

FORMATS = (".pdf", ".html")


@contextlib.contextmanager
def patient_folder(patient: str) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(folder, pseudonym)``: a patient folder as given, or a stored patient's.

    ``patient`` names a folder (the files ``spinestab plan`` reads) when one exists, else a
    pseudonym in the record (``SPINESTAB_DATABASE_URL``); the pseudonym is None for a folder.
    """
    folder = Path(patient)
    if folder.is_dir():
        yield folder, None
        return
    from spinestab.fhir.stored import stored_patient_folder
    from spinestab.settings import get_settings
    from spinestab.store import store_session

    settings = get_settings()
    with (
        store_session(settings) as session,
        stored_patient_folder(session, patient, actor=settings.user) as stored,
    ):
        yield stored, patient


def report_command(
    patient: Annotated[
        str,
        typer.Argument(
            help="Pseudonym of a stored patient, or a patient folder (the files "
            "`spinestab plan` reads)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="FILE.pdf (A4) or FILE.html.")],
    lang: Annotated[Language | None, language_option()] = None,
    handout: Annotated[
        bool, typer.Option("--handout", help="Write the patient handout instead of the letter.")
    ] = False,
    imaging: Annotated[
        Path | None,
        typer.Option("--imaging", help="Output folder of `spinestab mri` (QA pictures, table)."),
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
        from spinestab.report import (
            inputs_from_patient_dir,
            render_handout_pdf,
            render_report_html,
            render_report_pdf,
        )

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
        with patient_folder(patient) as (folder, pseudonym):
            inputs = inputs_from_patient_dir(
                folder, imaging_dir=imaging, language=language, date=day
            )
        if pseudonym is not None:
            from spinestab.fhir.stored import with_pseudonym

            inputs = with_pseudonym(inputs, pseudonym)
        if handout:
            from spinestab.care.handout import render_handout

            render = render_handout_pdf if fmt == ".pdf" else render_handout
            document = render(
                patient=inputs.patient,
                date=(inputs.profile.date or day).isoformat(),
                track=inputs.triage.track,
                actions=[a.to_dict() for a in inputs.triage.actions],
                plan=_plan_object(inputs),
                language=language,
            )
            data = document.encode("utf-8") if isinstance(document, str) else document
        else:
            data = (
                render_report_pdf(inputs, language=language)
                if fmt == ".pdf"
                else render_report_html(inputs, language=language).encode("utf-8")
            )
        write_out_file(out, data)
        what = "handout" if handout else "report"
        if as_json:
            print_json(
                {
                    "patient": inputs.patient,
                    "kind": what,
                    "language": language,
                    "format": fmt[1:],
                    "file": str(out),
                }
            )
            return
        console.print(
            f"{inputs.patient}: {what} ({language}, {fmt[1:]}) -> {out}",
            highlight=False,
            soft_wrap=True,
        )


def _plan_object(inputs: ReportInputs) -> Plan | None:
    """Return the care plan of the handout, as ``spinestab plan`` makes it."""
    from spinestab.care import load_rules, prescribe

    return prescribe(inputs.profile, inputs.triage, rules=load_rules())


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report_command)
