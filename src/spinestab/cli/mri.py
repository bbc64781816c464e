"""``spinestab mri``: muscle quality per muscle, side and vertebral level from MRI or CT.

The command only maps its options to :class:`~spinestab.imaging.options.MriOptions` and
its files to the inputs of :func:`~spinestab.imaging.pipeline.analyse_mri`, then writes the
result with :func:`~spinestab.imaging.outputs.write_mri_outputs`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spinestab.cli._common import (
    JsonOutput,
    OutDirOrRecord,
    PatientOption,
    console,
    err_console,
    exit_on_bad_input,
    legacy_option,
    pictures_option,
    print_note,
    use_legacy,
)
from spinestab.errors import InputError

if TYPE_CHECKING:
    from spinestab.imaging.options import LevelNames
    from spinestab.imaging.pipeline import ImageInput
    from spinestab.imaging.result import MriResult

__all__ = ["register"]


# The choices of the options, as the command line lists them. They are those of
# spinestab.imaging.options (imported lazily, so that `spinestab --help` stays fast);
# tests/cli/test_shared_options.py checks that they agree.
class Modality(StrEnum):
    """``--modality``."""

    AUTO = "auto"
    MR = "mr"
    CT = "ct"


class Contrast(StrEnum):
    """``--contrast``."""

    T1W = "t1w"
    T2W = "t2w"


class FatMethod(StrEnum):
    """``--fat-method``."""

    OTSU = "otsu"
    KMEANS = "kmeans"
    GMM = "gmm"


class Pool(StrEnum):
    """``--pool``."""

    LABEL = "label"
    ALL = "all"


class N4Mask(StrEnum):
    """``--n4-mask``."""

    MUSCLE = "muscle"
    FOREGROUND = "foreground"


class AnchorIs(StrEnum):
    """``--anchor-is``."""

    LOWEST = "lowest"
    HIGHEST = "highest"


class FfUnits(StrEnum):
    """``--ff-units``."""

    AUTO = "auto"
    PERCENT = "percent"
    FRACTION = "fraction"


class Segmenter(StrEnum):
    """``--segment``."""

    TOTALSEGMENTATOR = "totalsegmentator"
    MUSCLEMAP = "musclemap"
    SPINEPS = "spineps"


class SegmentTask(StrEnum):
    """``--segment-task`` (TotalSegmentator's tasks)."""

    TOTAL_MR = "total_mr"
    TOTAL = "total"
    VERTEBRAE_MR = "vertebrae_mr"


class GradeScheme(StrEnum):
    """``--grade-scheme`` (``spinestab.imaging.grading.GRADING_SCHEMES``)."""

    THREE_GRADE_20_50 = "three_grade_20_50"
    THREE_GRADE_10_50 = "three_grade_10_50"
    GOUTALLIER = "goutallier"


def _choice(help: str, name: str) -> typer.models.OptionInfo:
    return typer.Option(name, help=help, case_sensitive=False)


def _parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError(
            "bad HU range", item="--ct-fat-range", value=text, expected="LOW,HIGH"
        ) from exc
    return lo, hi


def _parse_cutoffs(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError("bad cut-offs", item="--grade-cutoffs", value=text) from exc


def _level_names(confirm: bool, rename: str | None, by: str | None) -> LevelNames | None:
    """Return the clinician's confirmation or correction of the level names, if any."""
    from spinestab.imaging.options import LevelNames
    from spinestab.settings import get_settings

    if not confirm and not rename:
        return None
    return LevelNames.parse(rename or "", by=by or get_settings().user)


def _image_input(
    image: Path | None, water: Path | None, fat: Path | None, ff: Path | None
) -> ImageInput:
    """Return the one image input the options name (refused unless exactly one is given)."""
    from spinestab.imaging.pipeline import DixonPair, FatFractionMap

    given = [x for x in (image, water, ff) if x is not None]
    if len(given) != 1 or (water is None) != (fat is None):
        raise InputError(
            "give exactly one input: --image, or --water with --fat, or --ff",
            expected="--image IMG | --water W --fat F | --ff MAP",
        )
    if water is not None and fat is not None:
        return DixonPair(water, fat)
    if ff is not None:
        return FatFractionMap(ff)
    assert image is not None
    return image


#: what each study-level flag means, for the console
FLAG_TEXT = {
    "laterality_suspect": "its right label does not lie on the patient's right: sides swapped?",
    "absent_from_mask": "not in the mask, while the other side is",
    "fat_classes_weakly_separated": "single-contrast fat classes weakly separated",
    "level_truncated_by_field_of_view": "a level is cut by the field of view",
    "nan_voxels": "image voxels without a value inside a muscle",
    "fat_undefined_voxels": "muscle voxels without a fat fraction",
    "no_vertebral_body_at_level": "no vertebral body where a level was measured",
}


def _report(result: MriResult, out: Path) -> None:
    """Print what a finished run found, and every doubt about it."""
    from rich.markup import escape

    names = result.levels
    levels = names.present or ["none"]
    state = f" ({names.state})" if names.state in ("assumed", "doubtful", "confirmed") else ""
    console.print(
        f"[bold]muscle quality[/]: {len(result.rows)} rows, levels {', '.join(levels)}{state}, "
        f"fat method {result.fat_method} -> {out}"
    )
    if names.state in ("assumed", "doubtful"):
        console.print(
            f"[yellow]level names {names.state}[/]: {escape(names.levels.method)}. Check them "
            "on the QA pictures; confirm with --confirm-levels, or correct with "
            "--rename-levels COMPUTED=RIGHT (e.g. L5=L1).",
            highlight=False,
            soft_wrap=True,
        )
    elif names.state == "confirmed":
        console.print(f"level names: {escape(names.levels.method)}", highlight=False)
    for flag in result.flags:
        kind, _, what = flag.partition(":")
        if kind.startswith("level_names_"):
            continue
        text = FLAG_TEXT.get(kind, "")
        subject = f" ({escape(what)})" if what else ""
        console.print(
            f"  [yellow]flag[/] {kind}{subject}{': ' + text if text else ''}",
            highlight=False,
            soft_wrap=True,
        )


def mri_command(
    out: OutDirOrRecord = None,
    mask: Annotated[
        Path | None,
        typer.Option("--mask", help="Muscle label map on the image grid: NIfTI, or a DICOM-SEG."),
    ] = None,
    image: Annotated[
        Path | None,
        typer.Option("--image", help="Single-contrast MR (T1w/T2w) or CT: NIfTI or DICOM folder."),
    ] = None,
    water: Annotated[Path | None, typer.Option("--water", help="Dixon water image.")] = None,
    fat: Annotated[Path | None, typer.Option("--fat", help="Dixon fat image.")] = None,
    ff: Annotated[Path | None, typer.Option("--ff", help="Fat fraction / PDFF map.")] = None,
    labels: Annotated[
        str,
        typer.Option(
            "--labels",
            help="Mask scheme: musclemap, totalseg_total (total), totalseg_total_mr (total_mr), "
            "or a custom JSON file.",
        ),
    ] = "musclemap",
    segment: Annotated[
        Segmenter | None,
        _choice(
            "Without --mask: run totalsegmentator, musclemap or spineps (local weights).",
            "--segment",
        ),
    ] = None,
    segment_task: Annotated[
        SegmentTask,
        _choice("TotalSegmentator task: total_mr, total or vertebrae_mr.", "--segment-task"),
    ] = SegmentTask.TOTAL_MR,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="Segmenter weights folder (default SPINESTAB_WEIGHTS_DIR)."),
    ] = None,
    vertebrae: Annotated[
        Path | None, typer.Option("--vertebrae", help="Vertebra mask for levels (any grid).")
    ] = None,
    vertebrae_labels: Annotated[
        str,
        typer.Option(
            "--vertebrae-labels",
            help="Vertebra scheme: spineps_vert (tptbox), totalseg_vertebrae_mr, totalseg_total, "
            "totalseg_total_mr (one label, split with --anchor), spineps_subreg (bodies and "
            "discs, split with a disc --anchor), or JSON.",
        ),
    ] = "spineps_vert",
    anchor: Annotated[
        str,
        typer.Option(
            "--anchor",
            help="Single vertebrae label: the lowest (or highest) vertebra (L5), or disc "
            "(L5-S1: names the vertebrae from the disc label). Named discs need none.",
        ),
    ] = "L5",
    anchor_is: Annotated[
        AnchorIs, _choice("lowest or highest (vertebra or disc).", "--anchor-is")
    ] = AnchorIs.LOWEST,
    levels_table: Annotated[
        Path | None,
        typer.Option("--levels-table", help="CSV level,first_slice,last_slice (or JSON)."),
    ] = None,
    vertebral_body: Annotated[
        Path | None,
        typer.Option(
            "--vertebral-body", help="Subregion mask with the vertebral body (image grid)."
        ),
    ] = None,
    sex: Annotated[
        str | None, typer.Option("--sex", help="female or male (reference values).")
    ] = None,
    age: Annotated[float | None, typer.Option("--age", help="Age in years.")] = None,
    modality: Annotated[Modality, _choice("auto, mr or ct.", "--modality")] = Modality.AUTO,
    contrast: Annotated[Contrast, _choice("t1w or t2w (fat bright).", "--contrast")] = Contrast.T1W,
    fat_method: Annotated[
        FatMethod, _choice("Single contrast: otsu (default), kmeans or gmm.", "--fat-method")
    ] = FatMethod.OTSU,
    classes: Annotated[int, typer.Option("--classes", help="2 or 3 classes.")] = 2,
    bias_correction: Annotated[
        bool, typer.Option("--bias-correction/--no-bias-correction", help="N4 before classifying.")
    ] = True,
    pool: Annotated[
        Pool, _choice("Classify each label apart (label) or all together (all).", "--pool")
    ] = Pool.LABEL,
    derive_autochthon: Annotated[
        bool,
        typer.Option(
            "--derive-autochthon",
            help="Add multifidus + erector spinae rows per side as 'autochthon' (derived).",
        ),
    ] = False,
    n4_mask: Annotated[
        N4Mask, _choice("Fit N4 on the muscle voxels or the foreground.", "--n4-mask")
    ] = N4Mask.MUSCLE,
    ct_fat_range: Annotated[
        str, typer.Option("--ct-fat-range", help="Fat HU range LOW,HIGH [R: Mitsiopoulos 1998].")
    ] = "-190,-30",
    ff_units: Annotated[FfUnits, _choice("auto, percent or fraction.", "--ff-units")] = (
        FfUnits.AUTO
    ),
    grade_scheme: Annotated[
        GradeScheme,
        _choice(
            "three_grade_20_50 (default), three_grade_10_50 (unconfirmed), goutallier "
            "(needs --grade-cutoffs).",
            "--grade-scheme",
        ),
    ] = GradeScheme.THREE_GRADE_20_50,
    grade_cutoffs: Annotated[
        str | None, typer.Option("--grade-cutoffs", help="Comma-separated cut-offs in %.")
    ] = None,
    reference_table: Annotated[
        Path | None, typer.Option("--reference-table", help="Own reference values (CSV).")
    ] = None,
    series_uid: Annotated[
        str | None, typer.Option("--series-uid", help="SeriesInstanceUID in a mixed DICOM folder.")
    ] = None,
    pictures: Annotated[
        bool | None,
        pictures_option(help="Write the QA pictures (mask over image; default: --pictures)."),
    ] = None,
    qa: Annotated[bool | None, legacy_option("--qa/--no-qa")] = None,
    confirm_levels: Annotated[
        bool,
        typer.Option(
            "--confirm-levels",
            help="The level names (see the QA pictures of a run before) are right.",
        ),
    ] = False,
    rename_levels: Annotated[
        str | None,
        typer.Option(
            "--rename-levels",
            help="Correct the level names: COMPUTED=RIGHT, e.g. L5=L1 (one pair moves every "
            "level along; several pairs name each level).",
        ),
    ] = None,
    confirmed_by: Annotated[
        str | None,
        typer.Option(
            "--confirmed-by",
            help="Who confirms or corrects the level names (default: setting SPINESTAB_USER).",
        ),
    ] = None,
    as_json: JsonOutput = False,
    patient: PatientOption = None,
) -> None:
    """Rate paraspinal muscle quality per muscle, side and vertebral level.

    Writes OUT/muscle_quality.csv, per_slice.csv, qa_<level>.png and summary.json.

    Level names resting on an assumption are said so (console, QA titles, summary.json).

    Check them on the pictures, then give --confirm-levels or --rename-levels.

    Exit code 2 on bad input (then nothing is written).
    """
    from rich.progress import Progress

    from spinestab.cli.record import patient_output, save_result
    from spinestab.core.outdir import check_out_dir
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import summary_json, write_mri_outputs
    from spinestab.imaging.pipeline import LevelInputs, analyse_mri

    shown_out, saved = out, None
    with exit_on_bad_input(), patient_output(out, patient) as out:
        source = _image_input(image, water, fat, ff)
        draw = use_legacy(pictures, qa, name="--pictures", legacy_name="--qa", default=True)
        options = MriOptions.from_mapping(
            {
                "labels": labels,
                "vertebrae_labels": vertebrae_labels,
                "anchor": anchor,
                "anchor_is": anchor_is.value,
                "segment": segment.value if segment is not None else None,
                "segment_task": segment_task.value,
                "weights_dir": weights,
                "sex": sex,
                "age": age,
                "modality": modality.value,
                "contrast": contrast.value,
                "fat_method": fat_method.value,
                "classes": classes,
                "bias_correction": bias_correction,
                "pool": pool.value,
                "n4_mask": n4_mask.value,
                "derive_autochthon": derive_autochthon,
                "ct_fat_range": _parse_range(ct_fat_range),
                "ff_units": ff_units.value,
                "grade_scheme": grade_scheme.value,
                "grade_cutoffs": _parse_cutoffs(grade_cutoffs),
                "series_uid": series_uid,
                "qa": draw,
                "level_names": _level_names(confirm_levels, rename_levels, confirmed_by),
            }
        )
        check_out_dir(out)
        with Progress(transient=True, console=err_console if as_json else console) as bar:
            task = bar.add_task("muscle quality", total=6)

            def advance(name: str) -> None:
                bar.update(task, advance=1, description=name)

            result = analyse_mri(
                source,
                mask,
                options=options,
                levels=LevelInputs(
                    vertebrae=vertebrae,
                    levels_table=levels_table,
                    vertebral_body=vertebral_body,
                ),
                references=reference_table,
                progress=advance,
            )
            write_mri_outputs(result, out)
            advance("write")
        if patient is not None:
            inputs = {"image": image, "water": water, "fat": fat, "ff": ff, "mask": mask}
            inputs |= {"vertebrae": vertebrae, "levels_table": levels_table}
            inputs |= {"vertebral_body": vertebral_body, "reference_table": reference_table}
            saved = save_result("imaging", patient, out, inputs=inputs, options=options)
    if as_json:
        typer.echo(summary_json(result), nl=False)
        if saved is not None:
            print_note(saved, as_json=True)
        return
    _report(result, shown_out if shown_out is not None else Path("the record"))
    if saved is not None:
        print_note(saved, as_json=False)


def register(app: typer.Typer) -> None:
    """Add ``spinestab mri`` to the app."""
    app.command("mri")(mri_command)
