"""``spinestab dicom export``: a muscle analysis as DICOM SEG and SR for PACS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from spinestab.cli._common import JsonOutput, console, exit_on_bad_input, print_json

__all__ = ["register"]

dicom_app = typer.Typer(help="DICOM SEG and SR (TID 1500) for PACS.", no_args_is_help=True)


def _check_mode(patient: str | None, study: int | None, files: dict[str, Path | None]) -> None:
    """One of two ways: a stored study (PATIENT --study) or files (--series --mask ...)."""
    from spinestab.errors import InputError

    given = [f"--{k.replace('_', '-')}" for k, v in files.items() if v is not None]
    if patient is not None:
        if study is None:
            raise InputError(
                "which stored study?",
                item="--study",
                expected="--study ID (an imaging study of the patient, see spinestab record show)",
            )
        if given:
            raise InputError(
                "a stored study brings its own series, mask and table",
                item=", ".join(given),
                expected="PATIENT --study ID alone, or --series, --mask and --muscle-quality",
            )
        return
    if study is not None:
        raise InputError("--study needs the patient", item="PATIENT", expected="PATIENT --study ID")
    missing = [f"--{k.replace('_', '-')}" for k, v in files.items() if v is None]
    if missing:
        raise InputError(
            "missing options",
            item=", ".join(missing),
            expected="PATIENT --study ID, or --series, --mask and --muscle-quality",
        )


#: suffixes of files an --out folder is mistaken for (the two files go into the folder)
_FILE_SUFFIXES = (".dcm", ".dicom", ".json", ".pdf", ".html", ".txt", ".csv", ".zip")


def _check_out_folder(out: Path) -> None:
    """Refuse an --out that names a file (``seg.dcm``): the export writes a folder."""
    from spinestab.errors import InputError

    if not out.is_dir() and out.suffix.lower() in _FILE_SUFFIXES:
        raise InputError(
            "--out is the folder the two files go into, not a file",
            source=str(out),
            item="--out",
            value=out.suffix,
            expected="a folder (e.g. PACS/): muscle_seg.dcm and muscle_sr.dcm are written in it",
        )


@dicom_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for muscle_seg.dcm, muscle_sr.dcm.")],
    patient: Annotated[
        str | None,
        typer.Argument(help="Pseudonym of a stored patient (with --study); else give the files."),
    ] = None,
    study: Annotated[
        int | None,
        typer.Option("--study", help="The stored imaging study (its id in spinestab record show)."),
    ] = None,
    series: Annotated[
        Path | None, typer.Option("--series", help="Folder of the source DICOM series.")
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="The label map the analysis used.")
    ] = None,
    muscle_quality: Annotated[
        Path | None,
        typer.Option("--muscle-quality", help="muscle_quality.csv of the analysis."),
    ] = None,
    labels: Annotated[
        str, typer.Option("--labels", help="Label scheme of the mask (files only).")
    ] = "musclemap",
    series_uid: Annotated[
        str | None, typer.Option("--series-uid", help="Series to use in a mixed folder.")
    ] = None,
    segmenter: Annotated[
        str | None, typer.Option("--segmenter", help="Tool that made the mask (e.g. MuscleMap).")
    ] = None,
    segmenter_version: Annotated[
        str | None, typer.Option("--segmenter-version", help="Its version or model.")
    ] = None,
    manual: Annotated[
        bool, typer.Option("--manual", help="The mask was drawn by hand (no segmenter).")
    ] = False,
    author: Annotated[
        str | None, typer.Option("--author", help="Who drew or checked the mask (Family^Given).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write the mask as DICOM SEG and the measurements as DICOM SR referencing the series.

    A stored study: `spinestab dicom export PATIENT --study ID --out DIR` (a study analysed by
    `spinestab mri --patient` from a DICOM series). Files: --series, --mask, --muscle-quality.
    Writes OUT/muscle_seg.dcm and OUT/muscle_sr.dcm.

    --json prints {"segments", "measurement_groups", "series_uid", "files"} on stdout.
    """
    with exit_on_bad_input():
        from spinestab.core.outdir import check_out_dir

        files = {"series": series, "mask": mask, "muscle_quality": muscle_quality}
        _check_mode(patient, study, files)
        _check_out_folder(out)
        check_out_dir(out)
        if patient is not None and study is not None:
            from spinestab.cli.record import cli_actor, opened_record
            from spinestab.dicom_out.stored import MaskOrigin, export_stored_study

            with opened_record() as record, record.unit_of_work() as uow:
                result = export_stored_study(
                    uow,
                    cli_actor(),
                    patient,
                    study,
                    out,
                    origin=MaskOrigin(
                        algorithm_type="MANUAL" if manual else None,
                        algorithm_name=segmenter,
                        algorithm_version=segmenter_version,
                        mask_author=author,
                    ),
                )
        else:
            from spinestab.dicom_out import export_muscle_study

            assert series is not None and mask is not None and muscle_quality is not None
            result = export_muscle_study(
                series=series,
                mask=mask,
                labels=labels,
                muscle_quality=muscle_quality,
                out_dir=out,
                series_uid=series_uid,
                algorithm_type="MANUAL" if manual else "AUTOMATIC",
                algorithm_name=segmenter,
                algorithm_version=segmenter_version,
                mask_author=author,
            )
        if as_json:
            print_json(
                {
                    "segments": result.n_segments,
                    "measurement_groups": result.n_groups,
                    "series_uid": result.source_series_uid,
                    "files": [str(result.seg_path), str(result.sr_path)],
                }
            )
            return
        console.print(
            f"SEG ({result.n_segments} segments) and SR ({result.n_groups} measurement groups) "
            f"for series {result.source_series_uid} -> {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``dicom`` command group to the CLI."""
    app.add_typer(dicom_app, name="dicom")
