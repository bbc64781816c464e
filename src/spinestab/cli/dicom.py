"""``spinestab dicom export``: a muscle analysis as DICOM SEG and SR for PACS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spinestab.cli._common import JsonOutput, OutDir, console, exit_on_bad_input, print_json

__all__ = ["register"]

dicom_app = typer.Typer(help="DICOM SEG and SR (TID 1500) for PACS.", no_args_is_help=True)


@dicom_app.command("export")
def export_command(
    series: Annotated[Path, typer.Option("--series", help="Folder of the source DICOM series.")],
    mask: Annotated[Path, typer.Option("--mask", help="The label map the analysis used.")],
    muscle_quality: Annotated[
        Path, typer.Option("--muscle-quality", help="muscle_quality.csv of the analysis.")
    ],
    out: OutDir,
    labels: Annotated[
        str, typer.Option("--labels", help="Label scheme of the mask.")
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

    Writes OUT/muscle_seg.dcm and OUT/muscle_sr.dcm.

    --json prints {"segments", "measurement_groups", "series_uid", "files"} on stdout.
    """
    with exit_on_bad_input():
        from spinestab.core.outdir import check_out_dir
        from spinestab.dicom_out import export_muscle_study

        check_out_dir(out)

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
            f"for series {result.source_series_uid} -> {out}",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``dicom`` command group to the CLI."""
    app.add_typer(dicom_app, name="dicom")
