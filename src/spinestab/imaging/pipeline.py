"""The whole muscle-quality run as one library call: :func:`analyse_mri`.

Long module: the steps of one run (read, segment, levels, fat, measure, pictures) in the
order they run.

Image(s) and a muscle mask in, :class:`~spinestab.imaging.result.MriResult` out: the rows
of ``muscle_quality.csv`` and ``per_slice.csv``, the level of every slice and how it was
named, flags, QA pictures as PNG bytes, notes and provenance. Nothing is written to disk
(a segmenter, when asked for, runs in a temporary folder whose files come back in the
result); :func:`~spinestab.imaging.outputs.write_mri_outputs` writes the files.

Inputs are paths (NIfTI files, DICOM series folders, a DICOM-SEG mask) or volumes already
read (:class:`~spinestab.imaging.io.Volume`), so a web app or a Dask task can pass data it
holds in memory. Which image type is given decides the fat method: one image (MR or CT),
a :class:`DixonPair` or a :class:`FatFractionMap`.

The steps, in order: check the options and inputs (before any reading); read; segment if
no mask is given; modality; fat map; vertebral levels; measure; QA pictures.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.grading import GradingScheme, get_grading_scheme
from spinestab.imaging.inputs import (
    DixonPair,
    FatFractionMap,
    ImageInput,
    LevelInputs,
    Source,
    fingerprint,
    primary,
    read_source,
    source_name,
)
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.level_sources import LevelContext, find_levels, vertebral_body_mask
from spinestab.imaging.options import Modality, MriOptions
from spinestab.imaging.reference import Reference
from spinestab.imaging.result import Geometry, LevelAssignment, MriResult, Provenance

__all__ = ["DixonPair", "FatFractionMap", "LevelInputs", "Source", "analyse_mri"]

logger = logging.getLogger(__name__)


#: range of the median HU of the muscle voxels accepted as CT in HU: skeletal muscle lies near
#: 40-60 HU and even heavily infiltrated muscle stays well above -190 HU [D: the bundled
#: TotalSegmentator CT gives medians 25-38 HU]; outside it the values are not HU
CT_MUSCLE_MEDIAN_HU = (-300.0, 300.0)


@dataclass
class _Run:
    """What the steps of one run hand each other (internal)."""

    options: MriOptions
    scheme: LabelScheme
    grading: GradingScheme
    references: tuple[Reference, ...]
    progress: Callable[[str], None] | None
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    labels_name: str = ""
    segmentation: dict[str, bytes] = field(default_factory=dict)
    segmenter_input: str | None = None
    mask_name: str = ""

    def step(self, name: str) -> None:
        self.timings[name] = round(time.perf_counter() - self.t0, 3)
        if self.progress is not None:
            self.progress(name)


def analyse_mri(
    image: ImageInput,
    mask: Source | None = None,
    *,
    options: MriOptions | None = None,
    levels: LevelInputs | None = None,
    references: str | Path | Sequence[Reference] | None = None,
    progress: Callable[[str], None] | None = None,
) -> MriResult:
    """Measure muscle quality per muscle, side and vertebral level.

    Parameters
    ----------
    image : path, Volume, DixonPair or FatFractionMap
        Single-contrast MR (T1w/T2w) or CT as a NIfTI file, DICOM folder or volume; or
        Dixon water and fat; or a fat-fraction map.
    mask : path or Volume, optional
        Muscle label map on the image grid (NIfTI, DICOM-SEG, or a volume), scheme
        ``options.labels``. Without it ``options.segment`` names a segmenter to run.
    options : MriOptions, optional
        Every choice of the run (defaults as ``spinestab mri``).
    levels : LevelInputs, optional
        Vertebra mask or slice table for the levels, and a vertebral-body mask.
    references : path or sequence of Reference, optional
        Own reference values (CSV) instead of the built-in ones.
    progress : callable, optional
        Called with the name of each finished step (``read``, ``fat``, ``levels``,
        ``measure``, ``pictures``).

    Returns
    -------
    MriResult
        Picklable; :meth:`MriResult.to_summary` is ``summary.json``.

    Raises
    ------
    InputError
        Any bad input, with where and what was expected; nothing is written.

    """
    options = options or MriOptions()
    levels = levels or LevelInputs()
    run = _prepare(image, mask, options, levels, references, progress)
    with contextlib.ExitStack() as stack:
        base, fat_img = _read_image(image, options)
        seg_vertebrae = None
        if mask is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spinestab-")))
            mask, seg_vertebrae = _segment(run, image, base, work)
        return _analyse(run, image, mask, base, fat_img, levels, seg_vertebrae)


def _analyse(
    run: _Run,
    image: ImageInput,
    mask: Source,
    base: Volume,
    fat_img: Volume | None,
    levels: LevelInputs,
    seg_vertebrae: tuple[Path, str] | None,
) -> MriResult:
    """Run the steps after reading the image (and segmenting)."""
    options = run.options
    mask_vol = _read_mask(run, mask, base)
    run.step("read")
    modality, modality_how = _modality(image, base, options)
    fat_map = _fat_map(run, image, base, fat_img, mask_vol, modality)
    run.step("fat")
    ctx = LevelContext(run.options, run.scheme, run.mask_name)
    assignment = find_levels(ctx, levels, seg_vertebrae, base, mask_vol)
    body = vertebral_body_mask(ctx, levels.vertebral_body, base, mask_vol)
    run.step("levels")
    quality = _measure(run, base, mask_vol, assignment, fat_map, body)
    run.step("measure")
    pictures = _pictures(run, image, base, mask_vol, assignment, modality)
    run.step("pictures")
    return MriResult.from_measurement(
        quality,
        levels=assignment,
        pictures=tuple(pictures),
        inputs=_inputs_summary(run, image, levels, assignment),
        geometry=Geometry.of(base),
        modality=(modality, modality_how),
        image_nan_voxels=_nan_count(base),
        timings_s=dict(run.timings),
        provenance=_provenance(run, image, mask, levels),
        segmentation=dict(run.segmentation),
    )


# ---- checks before reading ---------------------------------------------------------------


def _prepare(
    image: ImageInput,
    mask: Source | None,
    options: MriOptions,
    levels: LevelInputs,
    references: str | Path | Sequence[Reference] | None,
    progress: Callable[[str], None] | None,
) -> _Run:
    """Check what can be checked before any reading; resolve schemes and references."""
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.reference import BUILTIN_REFERENCES, load_reference_table

    if not isinstance(image, DixonPair | FatFractionMap | Volume | str | Path):
        raise InputError(
            "give exactly one input: --image, or --water with --fat, or --ff",
            expected="--image IMG | --water W --fat F | --ff MAP",
        )
    if levels.levels_table is not None and levels.vertebrae is not None:
        raise InputError(  # one of them would be silently ignored
            "give either --vertebrae or --levels-table, not both",
            item="--levels-table",
            expected="one source of vertebral levels",
        )
    grading = get_grading_scheme(options.grade_scheme, cutoffs_pct=options.grade_cutoffs)
    grading.grade(0.0)  # a scheme without cut-offs fails here, before any work
    scheme = get_scheme(options.labels)
    if references is None:
        refs = BUILTIN_REFERENCES
    elif isinstance(references, str | Path):
        refs = load_reference_table(references)
    else:
        refs = tuple(references)
    if mask is None and options.segment is None:
        run_needs = "--mask MASK, or --segment TOOL to run a segmenter"
        raise InputError("no mask", expected=run_needs)
    run = _Run(options, scheme, grading, tuple(refs), progress)
    run.labels_name = options.labels
    run.mask_name = source_name(mask) or ""
    return run


# ---- reading -----------------------------------------------------------------------------


def _read_image(image: ImageInput, options: MriOptions) -> tuple[Volume, Volume | None]:
    """Read the image the metrics are measured on, and the Dixon fat image (or None)."""
    from spinestab.imaging.io import conform_to

    uid = options.series_uid
    if isinstance(image, DixonPair):
        base = read_source(image.water, series_uid=uid, modality="MR")
        fat = read_source(image.fat, series_uid=uid, modality="MR")
        return base, conform_to(base, fat, what="fat image")
    if isinstance(image, FatFractionMap):
        return read_source(image.map, series_uid=uid, modality="MR"), None
    override = None if options.modality == Modality.AUTO else options.modality.upper()
    return read_source(image, series_uid=uid, modality=override), None


def _segment(
    run: _Run, image: ImageInput, base: Volume, work: Path
) -> tuple[Path, tuple[Path, str] | None]:
    """Run the segmenter in a temporary folder; its files come back in the result."""
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.segment import get_backend

    options = run.options
    assert options.segment is not None
    kwargs: dict[str, Any] = {"weights_dir": options.weights_dir}
    if options.segment == "totalsegmentator":
        kwargs["task"] = options.segment_task
    backend = get_backend(options.segment.value, **kwargs)
    src = primary(image)
    if isinstance(src, Volume) or Path(src).is_dir():  # the segmenter gets NIfTI, same grid
        stem = "image" if isinstance(src, Volume) else (Path(src).name or "dicom")
        src = _as_nifti(base, work / f"{stem}.nii.gz")
        what = "the image in memory" if isinstance(primary(image), Volume) else "DICOM series"
        run.segmenter_input = f"segmentation/{src.name} (from the {what})"
    seg = backend.segment(Path(src), work)
    if seg.muscle_mask is None or seg.muscle_scheme is None:
        raise InputError(f"{options.segment} gives no muscle mask", value=options.segment.value)
    run.scheme = get_scheme(seg.muscle_scheme)
    run.labels_name = seg.muscle_scheme
    run.mask_name = f"segmentation/{Path(seg.muscle_mask).name}"
    run.segmentation = {
        str(p.relative_to(work)): p.read_bytes() for p in sorted(work.rglob("*")) if p.is_file()
    }
    vertebrae = None
    if seg.vertebra_mask is not None and seg.vertebra_scheme:
        vertebrae = (Path(seg.vertebra_mask), seg.vertebra_scheme)
    return Path(seg.muscle_mask), vertebrae


def _as_nifti(volume: Volume, path: Path) -> Path:
    """Write a volume read from DICOM as NIfTI (same voxels and RAS+ affine) for a segmenter."""
    from spinestab.errors import require

    nib = require("nibabel", extra="imaging", feature="Writing NIfTI for a segmenter")
    data = np.asarray(volume.data)
    if data.dtype == np.int64:
        data = data.astype(np.int32)
    nib.save(nib.Nifti1Image(data, volume.affine), str(path))
    return path


def _read_mask(run: _Run, mask: Source, base: Volume) -> Volume:
    from spinestab.imaging.io import conform_to, is_dicom_seg, read_dicom_seg
    from spinestab.imaging.labels import check_labels_known, label_values

    if (
        not isinstance(mask, Volume)
        and Path(mask).exists()
        and not str(mask).endswith((".nii", ".nii.gz"))
        and is_dicom_seg(mask)
    ):
        mask_vol = read_dicom_seg(mask, base)  # segment numbers on the image grid
    else:
        mask_vol = conform_to(base, read_source(mask, labels=True), what="mask")
    check_labels_known(
        label_values(mask_vol.data), run.scheme, source=source_name(mask), kinds=("muscle",)
    )
    return mask_vol


# ---- modality and fat --------------------------------------------------------------------


def _modality(image: ImageInput, base: Volume, options: MriOptions) -> tuple[str, str]:
    """``CT`` or ``MR``, and how that was decided."""
    mod = base.modality.upper()
    how = "given" if options.modality != Modality.AUTO else "from DICOM header"
    if isinstance(image, DixonPair | FatFractionMap) or mod in ("CT", "MR"):
        return mod, how
    data = base.data
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
    air = finite.size and float(finite.min()) < -500
    # a CT cropped to the body has no air, but its fat lies near -100 HU; MR magnitude
    # images have no such negative values [D]
    fat_hu = finite.size and np.count_nonzero(finite < -50) >= 0.01 * finite.size
    how = (
        "guessed: CT when values below -500 (air in HU) are present or at least 1 % of "
        "the voxels lie below -50 (fat in HU), else MR"
    )
    return ("CT" if air or fat_hu else "MR"), how


def _nan_count(base: Volume) -> int:
    if base.data.dtype.kind != "f":
        return 0
    return int(np.count_nonzero(~np.isfinite(base.data)))


def _fat_map(
    run: _Run,
    image: ImageInput,
    base: Volume,
    fat_img: Volume | None,
    mask_vol: Volume,
    modality: str,
) -> Any:
    from spinestab.imaging import fat as fatmod

    options = run.options
    muscle_mask = np.isin(mask_vol.data, list(run.scheme.muscles()))
    if isinstance(image, DixonPair):
        assert fat_img is not None
        source = f"{source_name(image.water)} / {source_name(image.fat)}"
        return fatmod.dixon_fat_fraction(base.data, fat_img.data, source=source, mask=muscle_mask)
    if isinstance(image, FatFractionMap):
        units = options.ff_units.value
        return fatmod.pdff_passthrough(base.data, units=units, source=str(source_name(image.map)))  # type: ignore[arg-type]
    if modality == "CT":
        _check_hu(base, muscle_mask, source=source_name(image))
        return fatmod.ct_fat(base.data, fat_range=options.ct_fat_range)
    return fatmod.single_contrast_fat(
        base.data,
        np.where(muscle_mask, mask_vol.data, 0),
        base.spacing_mm,
        fatmod.SingleContrastOptions(
            method=options.fat_method.value,
            classes=options.classes,
            bias_correction=options.bias_correction,
            pool=options.pool.value,
            n4_mask=options.n4_mask.value,
            contrast=options.contrast.value,
        ),
    )


def _check_hu(base: Volume, muscle_mask: np.ndarray, *, source: str | None) -> None:
    """Refuse CT values that are not Hounsfield units (e.g. stored without the intercept)."""
    vals = base.data[muscle_mask]
    vals = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
    if not vals.size:
        return
    med = float(np.median(vals))
    lo_hu, hi_hu = CT_MUSCLE_MEDIAN_HU
    if not lo_hu <= med <= hi_hu:
        raise InputError(
            f"CT values do not look like HU: the muscle voxels' median is {med:g}",
            source=source,
            value=med,
            expected=f"Hounsfield units (muscle median within {lo_hu:g}..{hi_hu:g}); "
            "apply RescaleSlope/Intercept (scl_slope/scl_inter), or --modality mr",
        )


# ---- measuring and pictures --------------------------------------------------------------


def _measure(
    run: _Run,
    base: Volume,
    mask_vol: Volume,
    assignment: LevelAssignment,
    fat_map: Any,
    body: np.ndarray | None,
) -> Any:
    from spinestab.imaging.muscle import MeasureOptions, measure

    options = run.options
    return measure(
        base,
        mask_vol,
        run.scheme,
        levels=assignment.levels,
        fat=fat_map,
        vertebral_body=body,
        options=MeasureOptions(
            grading=run.grading,
            sex=options.sex,
            age=options.age,
            references=run.references,
            derive_autochthon=options.derive_autochthon,
            level_names=assignment.state,
        ),
    )


#: what a QA picture's title adds to a level name that is not simply named
_TITLE_NOTE = {"assumed": " (assumed)", "doubtful": " (doubtful)", "confirmed": " (confirmed)"}


def _pictures(
    run: _Run,
    image: ImageInput,
    base: Volume,
    mask_vol: Volume,
    assignment: LevelAssignment,
    modality: str,
) -> list[Any]:
    if not run.options.qa:
        return []
    from spinestab.imaging.qa import CT_SOFT_TISSUE_WINDOW, PictureOptions, render_level_pictures

    options = PictureOptions(
        title=Path(str(source_name(primary(image)))).name,
        window=CT_SOFT_TISSUE_WINDOW if modality == "CT" else None,
        level_note=_TITLE_NOTE.get(assignment.state, ""),
    )
    return render_level_pictures(base, mask_vol, run.scheme, assignment.levels, options)


# ---- what the result says about its inputs -----------------------------------------------


def _inputs_summary(
    run: _Run, image: ImageInput, levels: LevelInputs, assignment: LevelAssignment
) -> dict[str, Any]:
    """Return the ``inputs`` block of ``summary.json``."""
    options = run.options
    single = None if isinstance(image, DixonPair | FatFractionMap) else image
    return {
        "image": source_name(single),
        "water": source_name(image.water) if isinstance(image, DixonPair) else None,
        "fat": source_name(image.fat) if isinstance(image, DixonPair) else None,
        "ff": source_name(image.map) if isinstance(image, FatFractionMap) else None,
        "mask": run.mask_name,
        "segmenter": options.segment.value if options.segment else None,
        "segmenter_input": run.segmenter_input,
        "labels": run.labels_name,
        "levels_from": assignment.source,
        "sex": options.sex,
        "age": options.age,
    }


def _provenance(
    run: _Run, image: ImageInput, mask: Source | None, levels: LevelInputs
) -> Provenance:
    named: dict[str, Source | Mapping[str, Any] | None] = {}
    if isinstance(image, DixonPair):
        named |= {"water": image.water, "fat": image.fat}
    elif isinstance(image, FatFractionMap):
        named["ff"] = image.map
    else:
        named["image"] = image
    named |= {
        "mask": None if run.segmentation else mask,
        "vertebrae": levels.vertebrae,
        "levels_table": levels.levels_table,
        "vertebral_body": levels.vertebral_body,
    }
    hashes = {k: h for k, v in named.items() if (h := fingerprint(v)) is not None}
    for rel, data in run.segmentation.items():
        hashes[f"segmentation/{rel}"] = hashlib.sha256(data).hexdigest()
    return Provenance.of(input_sha256=hashes, options=run.options.to_dict())
