"""``spinestab mri``: muscle quality per muscle, side and vertebral level from MRI or CT."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from spinestab.cli._common import console, exit_on_bad_input
from spinestab.errors import InputError

__all__ = ["register", "run_mri"]

logger = logging.getLogger(__name__)

#: range of the median HU of the muscle voxels accepted as CT in HU: skeletal muscle lies near
#: 40-60 HU and even heavily infiltrated muscle stays well above -190 HU [D: the bundled
#: TotalSegmentator CT gives medians 25-38 HU]; outside it the values are not HU
CT_MUSCLE_MEDIAN_HU = (-300.0, 300.0)
#: plausibility bound for --age (a typing error above it, e.g. a birth year) [D]
MAX_AGE_YEARS = 120


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.10g}"
    return str(value)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row[c]) for c in columns])


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj).__name__)


def _clean_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError(
            "bad HU range", item="--ct-fat-range", value=text, expected="LOW,HIGH"
        ) from exc
    return lo, hi


def _dicom_as_nifti(volume: Any, path: Path) -> Path:
    """Write a volume read from DICOM as NIfTI (same voxels and RAS+ affine) for a segmenter."""
    import numpy as np

    from spinestab.errors import require

    nib = require("nibabel", extra="imaging", feature="Writing NIfTI for a segmenter")
    data = np.asarray(volume.data)
    if data.dtype == np.int64:
        data = data.astype(np.int32)
    nib.save(nib.Nifti1Image(data, volume.affine), str(path))
    return path


def _slice_tilt_deg(affine: Any) -> float:
    """Angle (degrees) between the normal of the measured slices and the world S axis.

    CSA is measured in the stored slice plane; an oblique plane at angle t shows a muscle
    running along S about 1/cos(t) larger than a true axial cut.
    """
    import numpy as np

    from spinestab.imaging.io import slice_axis

    a = np.asarray(affine, dtype=np.float64)[:3, :3]
    k = slice_axis(a)
    others = [d for d in range(3) if d != k]
    normal = np.cross(a[:, others[0]], a[:, others[1]])
    cos = abs(normal[2]) / np.linalg.norm(normal)
    return round(float(np.degrees(np.arccos(min(1.0, cos)))), 2)


def _s_range(volume: Any) -> tuple[float, float]:
    """World S extent (mm) of a volume's voxel centres."""
    import numpy as np

    corners = np.array(
        [
            [i, j, k, 1.0]
            for i in (0, volume.shape[0] - 1)
            for j in (0, volume.shape[1] - 1)
            for k in (0, volume.shape[2] - 1)
        ]
    )
    s = (corners @ np.asarray(volume.affine, dtype=np.float64).T)[:, 2]
    return round(float(s.min()), 1), round(float(s.max()), 1)


_CHOICES: dict[str, tuple[Any, ...]] = {
    "modality": ("auto", "mr", "ct"),
    "contrast": ("t1w", "t2w"),
    "fat_method": ("otsu", "kmeans", "gmm"),
    "classes": (2, 3),
    "pool": ("label", "all"),
    "n4_mask": ("muscle", "foreground"),
    "anchor_is": ("lowest", "highest"),
    "ff_units": ("auto", "percent", "fraction"),
}


def _check_choices(*, ct_fat_range: tuple[float, float], **given: Any) -> None:
    """Refuse a mistyped option value up front, also where the option is not used this run."""
    for name, value in given.items():
        allowed = _CHOICES[name]
        if value not in allowed:
            raise InputError(
                f"unknown value of --{name.replace('_', '-')}",
                item=f"--{name.replace('_', '-')}",
                value=value,
                expected=" or ".join(str(a) for a in allowed),
            )
    lo, hi = ct_fat_range
    if not lo < hi:
        raise InputError("fat HU range is empty", item="--ct-fat-range", value=ct_fat_range)


def _check_anchor(anchor: str) -> str:
    """Upper-case a vertebra (``L5``) or disc (``L5-S1``) anchor; refuse anything else."""
    from spinestab.imaging.labels import vertebra_order
    from spinestab.imaging.levels import parse_disc_name

    name = anchor.strip().upper()
    try:
        vertebra_order(name)
    except InputError:
        if parse_disc_name(name) is None:
            raise InputError(
                "unknown anchor",
                item="--anchor",
                value=anchor,
                expected="a vertebra (e.g. L5) or a disc (e.g. L5-S1)",
            ) from None
    return name


def run_mri(
    *,
    out: Path,
    image: Path | None = None,
    water: Path | None = None,
    fat: Path | None = None,
    ff: Path | None = None,
    mask: Path | None = None,
    labels: str = "musclemap",
    segment: str | None = None,
    segment_task: str = "total_mr",
    weights_dir: Path | None = None,
    vertebrae: Path | None = None,
    vertebrae_labels: str = "spineps_vert",
    anchor: str = "L5",
    anchor_is: str = "lowest",
    levels_table: Path | None = None,
    vertebral_body: Path | None = None,
    vertebral_body_labels: str = "spineps_subreg",
    sex: str | None = None,
    age: float | None = None,
    modality: str = "auto",
    contrast: str = "t1w",
    fat_method: str = "otsu",
    classes: int = 2,
    bias_correction: bool = True,
    pool: str = "label",
    n4_mask: str = "muscle",
    derive_autochthon: bool = False,
    ct_fat_range: tuple[float, float] = (-190.0, -30.0),
    ff_units: str = "auto",
    grade_scheme: str = "three_grade_20_50",
    grade_cutoffs: list[float] | None = None,
    reference_table: Path | None = None,
    series_uid: str | None = None,
    qa: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """Run the whole muscle-quality pipeline and write the outputs into ``out``.

    Returns the JSON summary. Nothing is written when the input is bad.
    """
    import numpy as np

    from spinestab.imaging import fat as fatmod
    from spinestab.imaging.grading import get_grading_scheme
    from spinestab.imaging.io import conform_to, read_volume
    from spinestab.imaging.labels import (
        check_labels_known,
        get_scheme,
        label_values,
    )
    from spinestab.imaging.levels import (
        levels_from_instances,
        levels_from_single_label,
        levels_from_table,
    )
    from spinestab.imaging.muscle import MUSCLE_COLUMNS, PER_SLICE_COLUMNS, measure
    from spinestab.imaging.reference import BUILTIN_REFERENCES, load_reference_table

    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0, 3)
        if progress is not None:
            progress(name)

    given = [x for x in (image, water, ff) if x is not None]
    if len(given) != 1 or (water is None) != (fat is None):
        raise InputError(
            "give exactly one input: --image, or --water with --fat, or --ff",
            expected="--image IMG | --water W --fat F | --ff MAP",
        )
    modality, contrast, fat_method = modality.lower(), contrast.lower(), fat_method.lower()
    pool, n4_mask, anchor_is = pool.lower(), n4_mask.lower(), anchor_is.lower()
    ff_units = ff_units.lower()
    _check_choices(
        modality=modality,
        contrast=contrast,
        fat_method=fat_method,
        classes=classes,
        pool=pool,
        n4_mask=n4_mask,
        anchor_is=anchor_is,
        ff_units=ff_units,
        ct_fat_range=ct_fat_range,
    )
    anchor = _check_anchor(anchor)
    if out.exists() and not out.is_dir():
        raise InputError("output path is a file, not a folder", source=str(out), item="--out")
    if levels_table is not None and vertebrae is not None:
        raise InputError(  # one of them would be silently ignored
            "give either --vertebrae or --levels-table, not both",
            item="--levels-table",
            expected="one source of vertebral levels",
        )
    grading = get_grading_scheme(grade_scheme, cutoffs_pct=grade_cutoffs)
    grading.grade(0.0)  # a scheme without cut-offs fails here, before any work
    scheme = get_scheme(labels)
    refs = load_reference_table(reference_table) if reference_table else BUILTIN_REFERENCES
    if sex is not None:
        sex = sex.lower()
        sex = {"f": "female", "m": "male", "w": "female"}.get(sex, sex)
        if sex not in ("female", "male"):
            raise InputError("unknown sex", item="--sex", value=sex, expected="female or male")
    if age is not None and not (math.isfinite(age) and 0 <= age <= MAX_AGE_YEARS):
        raise InputError(
            "age out of range", item="--age", value=age, expected=f"years, 0..{MAX_AGE_YEARS}"
        )

    # ---- read -------------------------------------------------------------------------
    mod_override = None if modality == "auto" else modality.upper()
    if water is not None and fat is not None:
        base = read_volume(water, series_uid=series_uid, modality="MR")
        fat_img = read_volume(fat, series_uid=series_uid, modality="MR")
        fat_img = conform_to(base, fat_img, what="fat image")
    elif ff is not None:
        base = read_volume(ff, series_uid=series_uid, modality="MR")
    else:
        assert image is not None
        base = read_volume(image, series_uid=series_uid, modality=mod_override)
    seg_tmp = None
    segmenter_input = None
    if mask is None:
        if segment is None:
            raise InputError(
                "no mask", expected="--mask MASK, or --segment TOOL to run a segmenter"
            )
        src_img = Path(str(image or water or ff))
        from spinestab.imaging.segment import get_backend

        opts: dict[str, Any] = {"weights_dir": weights_dir}
        if segment == "totalsegmentator":
            opts["task"] = segment_task
        backend = get_backend(segment, **opts)
        out.mkdir(parents=True, exist_ok=True)
        seg_tmp = Path(tempfile.mkdtemp(prefix=".seg-", dir=out))
        try:
            if src_img.is_dir():  # a DICOM series: the segmenter gets it as NIfTI, same grid
                src_img = _dicom_as_nifti(base, seg_tmp / f"{src_img.name or 'dicom'}.nii.gz")
                segmenter_input = f"segmentation/{src_img.name} (from the DICOM series)"
            seg = backend.segment(src_img, seg_tmp)
        except BaseException:
            shutil.rmtree(seg_tmp, ignore_errors=True)
            raise
        if seg.muscle_mask is None or seg.muscle_scheme is None:
            shutil.rmtree(seg_tmp, ignore_errors=True)
            raise InputError(f"{segment} gives no muscle mask", value=segment)
        mask, labels = seg.muscle_mask, seg.muscle_scheme
        scheme = get_scheme(labels)
        if vertebrae is None and seg.vertebra_mask is not None and seg.vertebra_scheme:
            vertebrae, vertebrae_labels = seg.vertebra_mask, seg.vertebra_scheme
    from spinestab.imaging.io import is_dicom_seg, read_dicom_seg

    if Path(mask).exists() and not str(mask).endswith((".nii", ".nii.gz")) and is_dicom_seg(mask):
        mask_vol = read_dicom_seg(mask, base)  # segment numbers on the image grid
    else:
        mask_vol = conform_to(base, read_volume(mask, as_labels=True), what="mask")
    check_labels_known(label_values(mask_vol.data), scheme, source=str(mask), kinds=("muscle",))
    step("read")

    # ---- modality and fat --------------------------------------------------------------
    mod = base.modality.upper()
    modality_note = "given" if mod_override else "from DICOM header"
    if image is not None and mod not in ("CT", "MR"):
        finite = base.data[np.isfinite(base.data)] if base.data.dtype.kind == "f" else base.data
        air = finite.size and float(finite.min()) < -500
        # a CT cropped to the body has no air, but its fat lies near -100 HU; MR magnitude
        # images have no such negative values [D]
        fat_hu = finite.size and np.count_nonzero(finite < -50) >= 0.01 * finite.size
        mod = "CT" if air or fat_hu else "MR"
        modality_note = (
            "guessed: CT when values below -500 (air in HU) are present or at least 1 % of "
            "the voxels lie below -50 (fat in HU), else MR"
        )
    nan_count = int(np.count_nonzero(~np.isfinite(base.data))) if base.data.dtype.kind == "f" else 0
    muscle_values = list(scheme.muscles())
    muscle_mask = np.isin(mask_vol.data, muscle_values)
    if water is not None:
        fmap = fatmod.dixon_fat_fraction(
            base.data, fat_img.data, source=f"{water} / {fat}", mask=muscle_mask
        )
    elif ff is not None:
        fmap = fatmod.pdff_passthrough(base.data, units=ff_units, source=str(ff))  # type: ignore[arg-type]
    elif mod == "CT":
        vals = base.data[muscle_mask]
        vals = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
        if vals.size:
            med = float(np.median(vals))
            lo_hu, hi_hu = CT_MUSCLE_MEDIAN_HU
            if not lo_hu <= med <= hi_hu:  # e.g. stored values without the -1024 intercept
                raise InputError(
                    f"CT values do not look like HU: the muscle voxels' median is {med:g}",
                    source=str(image),
                    value=med,
                    expected=f"Hounsfield units (muscle median within {lo_hu:g}..{hi_hu:g}); "
                    "apply RescaleSlope/Intercept (scl_slope/scl_inter), or --modality mr",
                )
        fmap = fatmod.ct_fat(base.data, fat_range=ct_fat_range)
    else:
        fmap = fatmod.single_contrast_fat(
            base.data,
            np.where(muscle_mask, mask_vol.data, 0),
            base.spacing_mm,
            method=fat_method,  # type: ignore[arg-type]
            classes=classes,
            bias_correction=bias_correction,
            pool=pool,  # type: ignore[arg-type]
            n4_mask=n4_mask,  # type: ignore[arg-type]
            contrast=contrast,
        )
    step("fat")

    # ---- levels ------------------------------------------------------------------------
    levels = None
    level_source = "none"
    if levels_table is not None:
        from spinestab.imaging.io import slice_axis
        from spinestab.imaging.levels import slice_positions_s

        levels = levels_from_table(
            levels_table,
            base.shape[slice_axis(base.affine)],
            slice_s=slice_positions_s(base.affine, base.shape),
        )
        level_source = str(levels_table)
    else:
        vsrc, vscheme = None, None
        if vertebrae is not None:
            vsrc, vscheme = read_volume(vertebrae, as_labels=True), get_scheme(vertebrae_labels)
            check_labels_known(label_values(vsrc.data), vscheme, source=str(vertebrae))
        elif scheme.vertebrae() or scheme.of_kind("vertebrae"):
            vsrc, vscheme = mask_vol, scheme
        if vsrc is not None and vscheme is not None:
            present = set(label_values(vsrc.data).tolist())
            if any(v in present for v in vscheme.vertebrae()):
                levels = levels_from_instances(vsrc, vscheme, base)
            elif any(v in present for v in vscheme.of_kind("vertebrae")) or (
                vertebrae is not None
                and any(v in present for v in vscheme.of_kind("vertebral_body"))
            ):  # one label for all vertebrae, or the bodies of a SPINEPS subregion map
                levels = levels_from_single_label(
                    vsrc, vscheme, base, anchor=anchor, anchor_is=anchor_is
                )
            elif vertebrae is not None:
                raise InputError(
                    f"no vertebra labels of scheme '{vscheme.name}' in the vertebra mask",
                    source=str(vertebrae),
                    value=sorted(int(v) for v in present if v)[:20],
                )
            level_source = str(vertebrae) if vertebrae is not None else f"{mask} (vertebra labels)"
            if levels is not None and vertebrae is not None and not any(levels.levels):
                raise InputError(  # e.g. a mask of another study or another field of view
                    "no image slice lies within the vertebrae of the vertebra mask",
                    source=str(vertebrae),
                    value=_s_range(vsrc),
                    expected=f"a vertebra mask overlapping the image (image S range "
                    f"{_s_range(base)} mm)",
                )
    vb = None
    if vertebral_body is not None:
        vb_vol = conform_to(
            base, read_volume(vertebral_body, as_labels=True), what="vertebral body mask"
        )
        vb_scheme = get_scheme(vertebral_body_labels)
        vb_values = list(vb_scheme.of_kind("vertebral_body"))
        if not vb_values:
            raise InputError("scheme has no vertebral body labels", value=vertebral_body_labels)
        vb = np.isin(vb_vol.data, vb_values)
    elif scheme.of_kind("vertebral_body"):
        body = np.isin(mask_vol.data, list(scheme.of_kind("vertebral_body")))
        vb = body if body.any() else None  # the muscle mask also holds vertebral bodies
    step("levels")

    # ---- measure -----------------------------------------------------------------------
    result = measure(
        base,
        mask_vol,
        scheme,
        levels=levels,
        fat=fmap,
        vertebral_body=vb,
        grading=grading,
        sex=sex,
        age=age,
        references=refs,
        derive_autochthon=derive_autochthon,
    )
    step("measure")

    # ---- write (into a temporary folder first, then move: no half results) --------------
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mri-", dir=out))
    try:
        from dataclasses import asdict

        _write_csv(tmp / "muscle_quality.csv", MUSCLE_COLUMNS, [asdict(r) for r in result.rows])
        _write_csv(tmp / "per_slice.csv", PER_SLICE_COLUMNS, [asdict(r) for r in result.slices])
        pictures: list[str] = []
        if qa:
            from spinestab.imaging.qa import CT_SOFT_TISSUE_WINDOW, save_level_pictures

            pics = save_level_pictures(
                base,
                mask_vol,
                scheme,
                result.levels,
                tmp,
                title=Path(str(image or water or ff)).name,
                window=CT_SOFT_TISSUE_WINDOW if mod == "CT" else None,
            )
            pictures = [p.name for p in pics]
        step("write")
        summary = result.summary()
        summary.update(
            {
                "inputs": {
                    "image": str(image) if image else None,
                    "water": str(water) if water else None,
                    "fat": str(fat) if fat else None,
                    "ff": str(ff) if ff else None,
                    "mask": str(mask) if seg_tmp is None else f"segmentation/{Path(mask).name}",
                    "segmenter": segment,
                    "segmenter_input": segmenter_input,
                    "labels": labels,
                    "levels_from": level_source,
                    "sex": sex,
                    "age": age,
                },
                "geometry": {
                    "shape": list(base.shape),
                    "spacing_mm": list(base.spacing_mm),
                    "orientation": base.axcodes,
                    "slice_tilt_from_axial_deg": _slice_tilt_deg(base.affine),
                    "affine": base.affine.tolist(),
                },
                "modality": {"value": mod, "how": modality_note},
                "image_nan_voxels": nan_count,
                "qa_pictures": pictures,
                "timings_s": timings,
                "outputs": ["muscle_quality.csv", "per_slice.csv", "summary.json", *pictures],
            }
        )
        (tmp / "summary.json").write_text(
            json.dumps(_clean_json(summary), indent=2, default=_json_default) + "\n",
            encoding="utf-8",
        )
        for stale in out.glob("qa_*.png"):  # pictures of an earlier run, other levels
            stale.unlink()
        for item in tmp.iterdir():
            os.replace(item, out / item.name)
        if seg_tmp is not None:
            shutil.rmtree(out / "segmentation", ignore_errors=True)
            os.replace(seg_tmp, out / "segmentation")
            seg_tmp = None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if seg_tmp is not None:
            shutil.rmtree(seg_tmp, ignore_errors=True)
    return summary


def mri_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
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
        str | None,
        typer.Option(
            "--segment",
            help="Without --mask: run totalsegmentator, musclemap or spineps (local weights).",
        ),
    ] = None,
    segment_task: Annotated[
        str, typer.Option("--segment-task", help="TotalSegmentator task: total_mr or total.")
    ] = "total_mr",
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
        str, typer.Option("--anchor-is", help="lowest or highest (vertebra or disc).")
    ] = "lowest",
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
    modality: Annotated[str, typer.Option("--modality", help="auto, mr or ct.")] = "auto",
    contrast: Annotated[str, typer.Option("--contrast", help="t1w or t2w (fat bright).")] = "t1w",
    fat_method: Annotated[
        str, typer.Option("--fat-method", help="Single contrast: otsu (default), kmeans or gmm.")
    ] = "otsu",
    classes: Annotated[int, typer.Option("--classes", help="2 or 3 classes.")] = 2,
    bias_correction: Annotated[
        bool, typer.Option("--bias-correction/--no-bias-correction", help="N4 before classifying.")
    ] = True,
    pool: Annotated[
        str, typer.Option("--pool", help="Classify each label apart (label) or all together (all).")
    ] = "label",
    derive_autochthon: Annotated[
        bool,
        typer.Option(
            "--derive-autochthon",
            help="Add multifidus + erector spinae rows per side as 'autochthon' (derived).",
        ),
    ] = False,
    n4_mask: Annotated[
        str, typer.Option("--n4-mask", help="Fit N4 on the muscle voxels or the foreground.")
    ] = "muscle",
    ct_fat_range: Annotated[
        str, typer.Option("--ct-fat-range", help="Fat HU range LOW,HIGH [R: Mitsiopoulos 1998].")
    ] = "-190,-30",
    ff_units: Annotated[
        str, typer.Option("--ff-units", help="auto, percent or fraction.")
    ] = "auto",
    grade_scheme: Annotated[
        str,
        typer.Option(
            "--grade-scheme",
            help="three_grade_20_50 (default), three_grade_10_50 (unconfirmed), goutallier "
            "(needs --grade-cutoffs).",
        ),
    ] = "three_grade_20_50",
    grade_cutoffs: Annotated[
        str | None, typer.Option("--grade-cutoffs", help="Comma-separated cut-offs in %.")
    ] = None,
    reference_table: Annotated[
        Path | None, typer.Option("--reference-table", help="Own reference values (CSV).")
    ] = None,
    series_uid: Annotated[
        str | None, typer.Option("--series-uid", help="SeriesInstanceUID in a mixed DICOM folder.")
    ] = None,
    qa: Annotated[bool, typer.Option("--qa/--no-qa", help="Write QA pictures.")] = True,
) -> None:
    """Rate paraspinal muscle quality per muscle, side and vertebral level.

    Writes OUT/muscle_quality.csv, OUT/per_slice.csv, OUT/qa_<level>.png and
    OUT/summary.json. Exit code 2 on bad input (then nothing is written).
    """
    from rich.progress import Progress

    with exit_on_bad_input():
        cutoffs = None
        if grade_cutoffs:
            try:
                cutoffs = [float(x) for x in grade_cutoffs.split(",")]
            except ValueError as exc:
                raise InputError(
                    "bad cut-offs", item="--grade-cutoffs", value=grade_cutoffs
                ) from exc
        with Progress(transient=True, console=console) as bar:
            task = bar.add_task("muscle quality", total=5)

            def advance(name: str) -> None:
                bar.update(task, advance=1, description=name)

            summary = run_mri(
                out=out,
                image=image,
                water=water,
                fat=fat,
                ff=ff,
                mask=mask,
                labels=labels,
                segment=segment,
                segment_task=segment_task,
                weights_dir=weights,
                vertebrae=vertebrae,
                vertebrae_labels=vertebrae_labels,
                anchor=anchor,
                anchor_is=anchor_is,
                levels_table=levels_table,
                vertebral_body=vertebral_body,
                sex=sex,
                age=age,
                modality=modality,
                contrast=contrast,
                fat_method=fat_method,
                classes=classes,
                bias_correction=bias_correction,
                pool=pool,
                n4_mask=n4_mask,
                derive_autochthon=derive_autochthon,
                ct_fat_range=_parse_range(ct_fat_range),
                ff_units=ff_units,
                grade_scheme=grade_scheme,
                grade_cutoffs=cutoffs,
                reference_table=reference_table,
                series_uid=series_uid,
                qa=qa,
                progress=advance,
            )
    levels = summary["levels"]["present"] or ["none"]
    console.print(
        f"[bold]muscle quality[/]: {len(summary['rows'])} rows, levels {', '.join(levels)}, "
        f"fat method {summary['fat_method']} -> {out}"
    )


def register(app: typer.Typer) -> None:
    """Add ``spinestab mri`` to the app."""
    app.command("mri")(mri_command)
