"""``spinestab instability``: slip, translation, angulation and verdicts per motion segment."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from spinestab.cli._common import (
    JsonOutput,
    OutDirOrRecord,
    PatientOption,
    console,
    exit_on_bad_input,
    legacy_option,
    pictures_option,
    print_json,
    print_note,
    rules_option,
    use_legacy,
)
from spinestab.core.outdir import check_out_dir
from spinestab.errors import InputError

__all__ = ["register"]


class TranslationMethod(StrEnum):
    """``--translation-method`` (``spinestab.instability.assess.TRANSLATION_METHODS``)."""

    CORNER = "corner"
    POSTERIOR_WALL = "posterior-wall"


class CornerMethod(StrEnum):
    """``--corners`` (``spinestab.instability.masks.CORNER_METHODS``)."""

    LINEFIT = "linefit"
    EXTREMES = "extremes"


_COLOURS = {"stable": "green", "borderline": "yellow", "unstable": "red", "not_assessable": "dim"}


def _fmt(value: object, unit: str = "") -> str:
    return (
        "-" if value is None else f"{value:.1f}{unit}" if isinstance(value, float) else str(value)
    )


def _check_options(
    *,
    neutral: Path | None,
    flexion: Path | None,
    extension: Path | None,
    mask: Path | None,
    mask_options: dict[str, object],
) -> None:
    """Refuse combinations of inputs that cannot make a study (before any work)."""
    if mask is not None and neutral is not None:
        raise InputError(
            "give either --neutral or --mask, not both",
            item="--mask",
            expected="one source for the neutral view",
        )
    if (flexion is None) != (extension is None):
        raise InputError(
            "a dynamic study needs both --flexion and --extension",
            item="--flexion" if flexion is not None else "--extension",
            expected="both files",
        )
    if neutral is None and mask is None and flexion is None:
        raise InputError(
            "no input given",
            item="views",
            expected="--neutral, --mask, or --flexion with --extension",
        )
    for option, value in mask_options.items():
        if value is not None and mask is None:
            raise InputError(f"{option} needs --mask", item=option, expected="--mask M")


def _read_views(
    *,
    neutral: Path | None,
    flexion: Path | None,
    extension: Path | None,
    mask: Path | None,
    mask_options: dict[str, Any],
) -> dict[str, Any]:
    """Landmark sets of the views given (the neutral one derived from --mask if given)."""
    from spinestab.instability import read_landmarks

    neutral_ls = None
    if mask is not None:
        from spinestab.instability.masks import corners_from_masks

        neutral_ls = corners_from_masks(
            mask,
            labels=mask_options["labels"] or "spineps",
            subregions=mask_options["subregions"],
            method=mask_options["method"] or "linefit",
        )
    elif neutral is not None:
        neutral_ls = read_landmarks(neutral, view="neutral")
    return {
        "neutral": neutral_ls,
        "flexion": read_landmarks(flexion, view="flexion") if flexion is not None else None,
        "extension": read_landmarks(extension, view="extension") if extension is not None else None,
    }


def instability_command(
    out: OutDirOrRecord = None,
    neutral: Annotated[
        Path | None, typer.Option("--neutral", help="Neutral-view landmarks (.json or .csv).")
    ] = None,
    flexion: Annotated[
        Path | None, typer.Option("--flexion", help="Flexion-view landmarks (.json or .csv).")
    ] = None,
    extension: Annotated[
        Path | None, typer.Option("--extension", help="Extension-view landmarks (.json or .csv).")
    ] = None,
    mask: Annotated[
        Path | None,
        typer.Option(
            "--mask", help="Vertebra mask (NIfTI); corners are derived as the neutral view."
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            help="Label scheme of --mask: spineps (default), tptbox, totalsegmentator, "
            "or a JSON mapping.",
        ),
    ] = None,
    subreg: Annotated[
        Path | None,
        typer.Option("--subreg", help="SPINEPS subregion mask (found beside --mask if omitted)."),
    ] = None,
    corners: Annotated[
        CornerMethod | None,
        typer.Option(
            "--corners",
            case_sensitive=False,
            help="Corner method for --mask: linefit (endplate and wall lines, default) or "
            "extremes (outline points furthest along the diagonals).",
        ),
    ] = None,
    translation_method: Annotated[
        TranslationMethod,
        typer.Option(
            "--translation-method",
            case_sensitive=False,
            help="Slip/translation: corner (upper posterior-inferior corner along the lower "
            "endplate, default) or posterior-wall (between the posterior-wall lines, "
            "Morgan-King / Boden-Wiesel style). Named in the output.",
        ),
    ] = TranslationMethod.CORNER,
    rules: Annotated[
        str | None,
        rules_option(
            "Threshold set for lumbar (and thoracic) segments: white-panjabi (default), "
            "white-panjabi-resting, nordsten, slip, or a YAML/JSON file.",
        ),
    ] = None,
    cervical_rules: Annotated[
        str | None,
        typer.Option(
            "--cervical-rules",
            help="Threshold set for C2-C3 to C6-C7: white-panjabi-cervical (default), "
            "white-panjabi-cervical-resting, or a YAML/JSON file. Lumbar thresholds are never "
            "applied to a cervical segment.",
        ),
    ] = None,
    thresholds: Annotated[str | None, legacy_option("--thresholds")] = None,
    cervical_thresholds: Annotated[str | None, legacy_option("--cervical-thresholds")] = None,
    no_margin: Annotated[
        bool,
        typer.Option(
            "--no-margin",
            help="Do not call values within the measurement margin of an unstable limit "
            "borderline (CLINICAL_LOGIC.md §4.3 rule; margins in the threshold file).",
        ),
    ] = False,
    pictures: Annotated[
        bool, pictures_option(help="Draw the overlay picture OUT/instability.png.")
    ] = True,
    as_json: JsonOutput = False,
    patient: PatientOption = None,
) -> None:
    """Measure structural instability per motion segment and write OUT/instability.json.

    Give a neutral view (landmarks or --mask), a flexion + extension pair, or both.
    Also writes OUT/instability.png (overlay) and, for --mask, OUT/landmarks_neutral.json.
    Exit code 2 on bad input (then nothing is written).
    """
    from spinestab.cli.record import patient_output, save_result

    shown_out, saved = out is not None, None
    with exit_on_bad_input(), patient_output(out, patient) as out:
        from spinestab.instability import assess, load_threshold_set
        from spinestab.instability.outputs import write_instability_outputs

        rules = use_legacy(
            rules, thresholds, name="--rules", legacy_name="--thresholds", default=None
        )
        cervical_rules = use_legacy(
            cervical_rules,
            cervical_thresholds,
            name="--cervical-rules",
            legacy_name="--cervical-thresholds",
            default=None,
        )

        _check_options(
            neutral=neutral,
            flexion=flexion,
            extension=extension,
            mask=mask,
            mask_options={"--subreg": subreg, "--labels": labels, "--corners": corners},
        )
        check_out_dir(out)
        tset = load_threshold_set(rules, margin=not no_margin)
        cervical = (
            load_threshold_set(cervical_rules, margin=not no_margin, region="cervical")
            if cervical_rules is not None
            else None
        )
        views = _read_views(
            neutral=neutral,
            flexion=flexion,
            extension=extension,
            mask=mask,
            mask_options={
                "labels": labels,
                "subregions": subreg,
                "method": corners.value if corners is not None else None,
            },
        )
        report = assess(
            **views,
            thresholds=tset,
            translation_method=translation_method.value,
            cervical_thresholds=cervical,
        )
        data = write_instability_outputs(
            report,
            out,
            mask_landmarks=views["neutral"] if mask is not None else None,
            pictures=pictures,
        )
        if patient is not None:
            landmark_files = {"neutral": neutral, "flexion": flexion, "extension": extension}
            saved = save_result(
                "instability",
                patient,
                out,
                inputs={**{f"landmarks_{v}": f for v, f in landmark_files.items()}, "mask": mask},
                options={
                    "thresholds": thresholds,
                    "cervical_thresholds": cervical_thresholds,
                    "translation_method": translation_method,
                    "labels": labels,
                    "corners": corners,
                    "margin": not no_margin,
                },
            )

    if as_json:
        print_json(data)
        if saved is not None:
            print_note(saved, as_json=True)
        return
    from rich.markup import escape

    console.print(_levels_table(data, tset, report))
    for rec in data["levels"]:
        for reason in rec["reasons"]:
            console.print(f"  {rec['level']}: {escape(reason)}", highlight=False, soft_wrap=True)
    errors = [q for q in data["quality"] if q["severity"] != "info"]
    for q in errors:
        console.print(
            f"  [yellow]quality[/] {q['view']} {q['level']}: {escape(q['message'])}",
            highlight=False,
            soft_wrap=True,
        )
    for note in data["notes"]:
        console.print(f"  note: {escape(note)}", highlight=False, soft_wrap=True)
    if shown_out:
        written = [out / "instability.json"]
        written += [out / "instability.png"] if data["picture"] else []
        console.print("wrote " + " and ".join(escape(str(p)) for p in written))
    if saved is not None:
        print_note(saved, as_json=False)


def _levels_table(data: dict[str, Any], tset: Any, report: Any) -> Any:
    """Return the table of motion segments the command prints.

    Slip and translation are shown in % first when the magnification is unknown.
    """
    from rich.table import Table

    title = f"Instability ({tset.name} [{tset.evidence}]"
    if report.cervical_thresholds is not None:
        cset = report.cervical_thresholds
        title += f"; cervical {cset.name} [{cset.evidence}]"
    table = Table(title=title + ")", title_justify="left")
    for col in ("level", "slip", "grade", "transl.", "angul.", "seg. angle", "verdict"):
        table.add_column(col)
    pct_first = not data["magnification_known"]
    for rec in data["levels"]:
        slip = (
            f"{_fmt(rec['slip_pct'], ' %')} ({_fmt(rec['slip_mm'], ' mm')})"
            if pct_first
            else f"{_fmt(rec['slip_mm'], ' mm')} ({_fmt(rec['slip_pct'], ' %')})"
        )
        trans = (
            f"{_fmt(rec['translation_pct'], ' %')} ({_fmt(rec['translation_mm'], ' mm')})"
            if pct_first
            else f"{_fmt(rec['translation_mm'], ' mm')} ({_fmt(rec['translation_pct'], ' %')})"
        )
        colour = _COLOURS.get(rec["verdict"], "")
        table.add_row(
            rec["level"],
            slip,
            _fmt(rec["meyerding_grade"]),
            trans,
            _fmt(rec["angulation_deg"], " deg"),
            _fmt(rec["segmental_angle_deg"], " deg"),
            f"[{colour}]{rec['verdict']}[/]",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``spinestab instability`` to the app."""
    app.command("instability")(instability_command)
