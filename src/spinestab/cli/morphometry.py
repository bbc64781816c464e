"""``spinestab morphometry``: vertebral heights, deformity type and Genant grade per vertebra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from spinestab.cli._common import (
    JsonOutput,
    OutDirOrRecord,
    PatientOption,
    console,
    exit_on_bad_input,
    pictures_option,
    print_json,
    print_note,
)
from spinestab.cli.instability import CornerMethod
from spinestab.core.outdir import check_out_dir
from spinestab.errors import InputError

__all__ = ["register"]

_GRADE_COLOURS = {0: "green", 1: "yellow", 2: "dark_orange", 3: "red"}


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{unit}" if isinstance(value, float) else str(value)


def _check_options(
    landmarks: Path | None, vertebrae: Path | None, mask_options: dict[str, object]
) -> None:
    """Exactly one input; the mask options only with a mask (before any work)."""
    if (landmarks is None) == (vertebrae is None):
        raise InputError(
            "give either --landmarks or --vertebrae" + (", not both" if landmarks else ""),
            item="--landmarks/--vertebrae",
            expected="a landmark file (.json/.csv) or a vertebra mask (NIfTI)",
        )
    for option, value in mask_options.items():
        if value is not None and vertebrae is None:
            raise InputError(f"{option} needs --vertebrae", item=option, expected="--vertebrae M")


def _read_input(
    landmarks: Path | None, vertebrae: Path | None, mask_options: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Return the landmark set to measure and a description of the input."""
    from spinestab.instability import read_landmarks

    if landmarks is not None:
        return read_landmarks(landmarks, default_view="neutral"), {"landmarks": str(landmarks)}
    from spinestab.instability.masks import corners_from_masks

    labels = mask_options["labels"] or "spineps"
    method = mask_options["method"] or "linefit"
    ls = corners_from_masks(
        vertebrae,  # type: ignore[arg-type]
        labels=labels,
        subregions=mask_options["subregions"],
        method=method,
        midpoints=True,
    )
    return ls, {"vertebrae": str(vertebrae), "vertebrae_labels": str(labels), "corners": method}


def _print_table(data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    unit = " mm" if data["unit"] == "mm" else ""
    table = Table(title="Vertebral morphometry (Genant)", title_justify="left")
    for col in ("level", "Ha", "Hm", "Hp", "wedge", "biconc.", "crush", "type", "grade"):
        table.add_column(col)
    for rec in data["vertebrae"]:
        grade = rec["genant_grade"]
        colour = _GRADE_COLOURS.get(grade, "dim")
        table.add_row(
            rec["level"],
            _fmt(rec["anterior_height_mm"], unit),
            _fmt(rec["middle_height_mm"], unit),
            _fmt(rec["posterior_height_mm"], unit),
            _fmt(rec["wedge_loss_pct"], " %"),
            _fmt(rec["biconcave_loss_pct"], " %"),
            _fmt(rec["crush_loss_pct"], " %"),
            _fmt(rec["deformity"]),
            f"[{colour}]{_fmt(grade)}[/]",
        )
    console.print(table)
    for rec in data["vertebrae"]:
        if rec["flags"]:
            console.print(
                f"  {rec['level']}: {escape(', '.join(rec['flags']))}",
                highlight=False,
                soft_wrap=True,
            )
    for flag, meaning in data["flag_meanings"].items():
        console.print(f"  [dim]{flag}: {escape(meaning)}[/]", highlight=False, soft_wrap=True)
    for q in data["quality"]:
        if q["severity"] != "info":
            console.print(
                f"  [yellow]quality[/] {q['level']}: {escape(q['message'])}",
                highlight=False,
                soft_wrap=True,
            )
    console.print(f"  {escape(data['disclaimer'])}", highlight=False, soft_wrap=True)


def morphometry_command(
    out: OutDirOrRecord = None,
    landmarks: Annotated[
        Path | None,
        typer.Option(
            "--landmarks",
            help="Landmark file (.json or .csv) of a lateral film: the four corners and, "
            "optionally, mid_superior and mid_inferior per vertebra.",
        ),
    ] = None,
    vertebrae: Annotated[
        Path | None,
        typer.Option(
            "--vertebrae",
            help="Vertebra mask (NIfTI, CT or sagittal MR): heights from the "
            "bodies' outlines in their mid-sagittal planes.",
        ),
    ] = None,
    vertebrae_labels: Annotated[
        str | None,
        typer.Option(
            "--vertebrae-labels",
            help="Label scheme of --vertebrae: spineps (tptbox, spineps_vert; default), "
            "totalsegmentator (totalseg_total), totalseg_vertebrae_mr, or a JSON mapping.",
        ),
    ] = None,
    subreg: Annotated[
        Path | None,
        typer.Option(
            "--subreg", help="SPINEPS subregion mask (found beside --vertebrae if omitted)."
        ),
    ] = None,
    corners: Annotated[
        CornerMethod | None,
        typer.Option(
            "--corners",
            case_sensitive=False,
            help="Corner method for --vertebrae: linefit or extremes.",
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Genant bands and sources (YAML, layout of morphometry.yaml)."
        ),
    ] = None,
    pictures: Annotated[
        bool, pictures_option(help="Draw a picture of each graded vertebra.")
    ] = True,
    as_json: JsonOutput = False,
    patient: PatientOption = None,
) -> None:
    """Measure vertebral heights and grade deformities; write OUT/morphometry.json.

    Six-point morphometry (CLINICAL_LOGIC.md §4.6): anterior, middle and posterior heights,
    wedge, biconcave and crush losses, the deformity type and the Genant grade 0-3, with a
    picture OUT/morphometry_<level>.png of each graded vertebra. A deformity is a finding for
    a clinician to confirm, not a diagnosis. Exit code 2 on bad input (nothing written).
    """
    from spinestab.cli.record import patient_output, save_result

    shown_out, saved = out is not None, None
    with exit_on_bad_input(), patient_output(out, patient) as out:
        from spinestab.instability.morphometry import measure_morphometry
        from spinestab.instability.morphometry_rules import load_morphometry_rules
        from spinestab.instability.outputs import write_morphometry_outputs

        mask_options = {"--vertebrae-labels": vertebrae_labels, "--subreg": subreg}
        _check_options(landmarks, vertebrae, {**mask_options, "--corners": corners})
        check_out_dir(out)
        loaded_rules = load_morphometry_rules(rules)
        ls, inputs = _read_input(
            landmarks,
            vertebrae,
            {
                "labels": vertebrae_labels,
                "subregions": subreg,
                "method": corners.value if corners is not None else None,
            },
        )
        report = measure_morphometry(ls, rules=loaded_rules)
        data = write_morphometry_outputs(report, out, inputs=inputs, pictures=pictures)
        if patient is not None:
            saved = save_result(
                "morphometry",
                patient,
                out,
                inputs={
                    "landmarks": landmarks,
                    "vertebrae": vertebrae,
                    "subreg": subreg,
                    "rules": rules,
                },
                options={"vertebrae_labels": vertebrae_labels, "corners": corners},
            )
    if as_json:
        print_json(data)
        if saved is not None:  # what was saved, on stderr (as instability --json)
            print_note(saved, as_json=True)
        return
    _print_table(data)
    from rich.markup import escape

    if shown_out:
        pictures_note = f" and {len(data['pictures'])} pictures" if data["pictures"] else ""
        console.print(
            f"wrote {escape(str(out / 'morphometry.json'))}{pictures_note}", highlight=False
        )
    if saved is not None:
        console.print(saved, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``spinestab morphometry`` to the app."""
    app.command("morphometry")(morphometry_command)
