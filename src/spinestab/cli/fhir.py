"""``spinestab fhir export`` and ``spinestab fhir import``: a patient's record as a FHIR Bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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

__all__ = ["register"]

fhir_app = typer.Typer(
    help="FHIR R4B Bundles of a patient (CLINICAL_LOGIC.md §6).", no_args_is_help=True
)


@fhir_app.command("export")
def export_command(
    patient: Annotated[
        str,
        typer.Argument(
            help="Pseudonym of a stored patient (the record), or a patient folder (the files "
            "`spinestab plan` reads)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="bundle.json to write (.json only).")],
    lang: Annotated[Language | None, language_option("Language of the plan's dose texts")] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write the patient's FHIR R4B Bundle (type collection) as JSON.

    --json prints {"patient", "resources", "file"} on stdout (the Bundle is the file).
    """
    with exit_on_bad_input():
        from spinestab.core.outdir import check_out_file, write_out_file
        from spinestab.fhir import build_bundle, export_from_patient_dir

        check_out_file(
            out, suffixes=(".json",), expected="FILE.json", message="a FHIR Bundle is JSON"
        )
        folder = Path(patient)
        if folder.is_dir():
            data = export_from_patient_dir(folder, language=lang)
        else:
            from spinestab.cli.record import cli_actor, opened_record
            from spinestab.fhir.stored import export_from_record

            with opened_record() as record, record.unit_of_work() as uow:
                data = export_from_record(uow, cli_actor(), patient, language=lang)
        bundle = build_bundle(data)
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        write_out_file(out, text)
        if as_json:
            print_json(
                {"patient": data.pseudonym, "resources": len(bundle["entry"]), "file": str(out)}
            )
            return
        console.print(
            f"{escape(data.pseudonym)}: FHIR Bundle with {len(bundle['entry'])} resources "
            f"-> {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )


def _held(data: Any) -> dict[str, Any]:
    """Return what the Bundle holds as JSON (attachments by name and size, not bytes)."""
    from dataclasses import asdict

    shown = asdict(data)
    for doc in shown["documents"]:
        doc["data"] = f"{len(doc['data'])} bytes"
    return shown


@fhir_app.command("import")
def import_command(
    bundle: Annotated[Path, typer.Argument(help="A Bundle written by `spinestab fhir export`.")],
    as_pseudonym: Annotated[
        str | None, typer.Option("--as", help="Store under this pseudonym instead.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only read and check the Bundle; store nothing.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print as JSON what the Bundle holds and, unless --check, what was stored.",
        ),
    ] = False,
) -> None:
    """Rebuild a patient's record from a spinestab Bundle (one transaction: all or nothing).

    --json prints what the Bundle holds on stdout, with "stored" (null with --check).
    """
    with exit_on_bad_input():
        from dataclasses import asdict

        from spinestab.fhir import read_bundle_file

        data = read_bundle_file(bundle)
        plan = f"v{data.plan.version} {data.plan.status}" if data.plan else "none"
        held = (
            f"{escape(data.pseudonym)}: {len(data.forms)} forms, "
            f"{len(data.referrals)} referrals, "
            f"{len(data.imaging)} imaging, {len(data.instability)} instability and "
            f"{len(data.morphometry)} morphometry studies, "
            f"{len(data.movement)} wearable days ({len(data.sensors)} sensors), "
            f"{len(data.documents)} attached files, "
            f"plan {plan}"
        )
        if check:
            if as_json:
                print_json({**_held(data), "stored": None})
            else:
                console.print(f"{held} (nothing stored)", highlight=False, soft_wrap=True)
            return
        from spinestab.cli.record import cli_actor, opened_record
        from spinestab.fhir.stored import import_into_record

        with opened_record() as record, record.unit_of_work() as uow:
            done = import_into_record(uow, cli_actor(), data, pseudonym=as_pseudonym)
    if as_json:
        print_json({**_held(data), "stored": asdict(done)})
        return
    parts = [f"{done.forms} forms"]
    parts += ["the history"] if done.history else []
    parts += [
        f"{n} {what}"
        for n, what in (
            (done.imaging, "imaging studies"),
            (done.instability, "instability studies"),
            (done.morphometry, "morphometry studies"),
            (done.wearable, "wearable recordings"),
        )
        if n
    ]
    parts += [f"plan {done.plan}"] if done.plan else []
    console.print(
        f"{escape(done.pseudonym)}: {'new patient, ' if done.patient_created else ''}"
        f"{', '.join(parts)} stored"
        + (f"; not stored: {escape('; '.join(done.not_stored))}" if done.not_stored else ""),
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``fhir`` command group to the CLI."""
    app.add_typer(fhir_app, name="fhir")
