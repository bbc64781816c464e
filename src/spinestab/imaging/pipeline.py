"""The whole muscle-quality run as one library call: :func:`analyse_mri`.

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
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.options import Modality, MriOptions
from spinestab.imaging.reference import Reference
from spinestab.imaging.result import Geometry, LevelAssignment, MriResult, Provenance

__all__ = ["DixonPair", "FatFractionMap", "LevelInputs", "Source", "analyse_mri"]

logger = logging.getLogger(__name__)

#: A file or folder to read, or a volume already read.
Source = str | Path | Volume

#: range of the median HU of the muscle voxels accepted as CT in HU: skeletal muscle lies near
#: 40-60 HU and even heavily infiltrated muscle stays well above -190 HU [D: the bundled
#: TotalSegmentator CT gives medians 25-38 HU]; outside it the values are not HU
CT_MUSCLE_MEDIAN_HU = (-300.0, 300.0)


@dataclass(frozen=True)
class DixonPair:
    """Dixon water and fat images (same grid): fat fraction = F / (W + F)."""

    water: Source
    fat: Source


@dataclass(frozen=True)
class FatFractionMap:
    """A fat-fraction (PDFF) map, in percent or as fractions (``ff_units``)."""

    map: Source


@dataclass(frozen=True)
class LevelInputs:
    """Where the vertebral levels (and the vertebral-body areas) come from.

    Attributes
    ----------
    vertebrae : Source, optional
        Vertebra mask on any grid sharing the world frame (scheme: ``vertebrae_labels``).
        Without it, vertebra labels of the muscle mask are used where its scheme has them.
    levels_table : path or mapping, optional
        Explicit slice table: CSV ``level,first_slice,last_slice``, JSON, or a mapping
        ``{"L4": (first, last)}``. Not together with ``vertebrae``.
    vertebral_body : Source, optional
        Subregion mask with the vertebral bodies, on the image grid.

    """

    vertebrae: Source | None = None
    levels_table: str | Path | Mapping[str, tuple[int, int]] | None = None
    vertebral_body: Source | None = None


ImageInput = Source | DixonPair | FatFractionMap


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


def _name(src: Source | None) -> str | None:
    """How a source is named in messages and in ``summary.json``."""
    if src is None:
        return None
    if isinstance(src, Volume):
        return src.source or "<in memory>"
    return str(Path(src))


def _read(
    src: Source, *, series_uid: str | None = None, modality: str | None = None, labels: bool = False
) -> Volume:
    from spinestab.imaging.io import as_label_volume, read_volume

    if isinstance(src, Volume):
        vol = as_label_volume(src) if labels else src
        return vol.with_data(vol.data, modality=modality) if modality else vol
    return read_volume(src, series_uid=series_uid, modality=modality, as_labels=labels)


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
    assignment = _levels(run, levels, seg_vertebrae, base, mask_vol)
    body = _vertebral_body(run, levels.vertebral_body, base, mask_vol)
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
    run.mask_name = _name(mask) or ""
    return run


# ---- reading -----------------------------------------------------------------------------


def _read_image(image: ImageInput, options: MriOptions) -> tuple[Volume, Volume | None]:
    """Read the image the metrics are measured on, and the Dixon fat image (or None)."""
    from spinestab.imaging.io import conform_to

    uid = options.series_uid
    if isinstance(image, DixonPair):
        base = _read(image.water, series_uid=uid, modality="MR")
        fat = _read(image.fat, series_uid=uid, modality="MR")
        return base, conform_to(base, fat, what="fat image")
    if isinstance(image, FatFractionMap):
        return _read(image.map, series_uid=uid, modality="MR"), None
    override = None if options.modality == Modality.AUTO else options.modality.upper()
    return _read(image, series_uid=uid, modality=override), None


def _primary(image: ImageInput) -> Source:
    if isinstance(image, DixonPair):
        return image.water
    if isinstance(image, FatFractionMap):
        return image.map
    return image


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
    src = _primary(image)
    if isinstance(src, Volume) or Path(src).is_dir():  # the segmenter gets NIfTI, same grid
        stem = "image" if isinstance(src, Volume) else (Path(src).name or "dicom")
        src = _as_nifti(base, work / f"{stem}.nii.gz")
        what = "the image in memory" if isinstance(_primary(image), Volume) else "DICOM series"
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
        mask_vol = conform_to(base, _read(mask, labels=True), what="mask")
    check_labels_known(
        label_values(mask_vol.data), run.scheme, source=_name(mask), kinds=("muscle",)
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
        source = f"{_name(image.water)} / {_name(image.fat)}"
        return fatmod.dixon_fat_fraction(base.data, fat_img.data, source=source, mask=muscle_mask)
    if isinstance(image, FatFractionMap):
        units = options.ff_units.value
        return fatmod.pdff_passthrough(base.data, units=units, source=str(_name(image.map)))  # type: ignore[arg-type]
    if modality == "CT":
        _check_hu(base, muscle_mask, source=_name(image))
        return fatmod.ct_fat(base.data, fat_range=options.ct_fat_range)
    return fatmod.single_contrast_fat(
        base.data,
        np.where(muscle_mask, mask_vol.data, 0),
        base.spacing_mm,
        method=options.fat_method.value,  # type: ignore[arg-type]
        classes=options.classes,
        bias_correction=options.bias_correction,
        pool=options.pool.value,  # type: ignore[arg-type]
        n4_mask=options.n4_mask.value,  # type: ignore[arg-type]
        contrast=options.contrast.value,
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


# ---- levels ------------------------------------------------------------------------------


def _levels(
    run: _Run,
    levels: LevelInputs,
    seg_vertebrae: tuple[Path, str] | None,
    base: Volume,
    mask_vol: Volume,
) -> LevelAssignment:
    """Find the level of every slice, and where the names came from."""
    from spinestab.imaging.io import read_slice_table, slice_axis
    from spinestab.imaging.levels import levels_from_table, slice_positions_s

    if levels.levels_table is not None:
        table = levels.levels_table
        if isinstance(table, Mapping):
            rows, source = table, "slice table"
        else:
            rows, source = read_slice_table(table), str(Path(table))
        found = levels_from_table(
            rows,
            base.shape[slice_axis(base.affine)],
            slice_s=slice_positions_s(base.affine, base.shape),
            source=source,
        )
        return LevelAssignment.of(
            found, source, len(found.levels), correction=run.options.level_names
        )
    vertebrae: Source | None = levels.vertebrae
    vertebrae_labels = run.options.vertebrae_labels
    if vertebrae is None and seg_vertebrae is not None:
        vertebrae, vertebrae_labels = seg_vertebrae
    found, source = _levels_from_vertebrae(run, vertebrae, vertebrae_labels, base, mask_vol)
    n_slices = base.shape[slice_axis(base.affine)]
    return LevelAssignment.of(found, source, n_slices, correction=run.options.level_names)


def _levels_from_vertebrae(
    run: _Run,
    vertebrae: Source | None,
    vertebrae_labels: str,
    base: Volume,
    mask_vol: Volume,
) -> tuple[SliceLevels | None, str]:
    from spinestab.imaging.labels import check_labels_known, get_scheme, label_values

    scheme = run.scheme
    if vertebrae is not None:
        vsrc, vscheme = _read(vertebrae, labels=True), get_scheme(vertebrae_labels)
        check_labels_known(
            label_values(vsrc.data), vscheme, source=_name(vertebrae), option="--vertebrae-labels"
        )
    elif scheme.vertebrae() or scheme.of_kind("vertebrae"):
        vsrc, vscheme = mask_vol, scheme
    else:
        return None, "none"
    found = _split_or_instances(run, vsrc, vscheme, base, given=vertebrae is not None)
    source = _name(vertebrae) if vertebrae is not None else f"{run.mask_name} (vertebra labels)"
    if found is not None and vertebrae is not None and not any(found.levels):
        raise InputError(  # e.g. a mask of another study or another field of view
            "no image slice lies within the vertebrae of the vertebra mask",
            source=_name(vertebrae),
            value=_s_range(vsrc),
            expected=f"a vertebra mask overlapping the image (image S range {_s_range(base)} mm)",
        )
    return found, str(source)


def _split_or_instances(
    run: _Run, vsrc: Volume, vscheme: LabelScheme, base: Volume, *, given: bool
) -> SliceLevels | None:
    """Levels from vertebra instances, or from one vertebrae label split into pieces."""
    from spinestab.imaging.labels import label_values
    from spinestab.imaging.levels import levels_from_instances, levels_from_single_label

    present = set(label_values(vsrc.data).tolist())
    if any(v in present for v in vscheme.vertebrae()):
        return levels_from_instances(vsrc, vscheme, base)
    single = any(v in present for v in vscheme.of_kind("vertebrae"))
    bodies = given and any(v in present for v in vscheme.of_kind("vertebral_body"))
    if single or bodies:  # one label for all vertebrae, or the bodies of a SPINEPS subregion map
        options = run.options
        return levels_from_single_label(
            vsrc, vscheme, base, anchor=options.anchor, anchor_is=options.anchor_is.value
        )
    if given:
        raise InputError(
            f"no vertebra labels of scheme '{vscheme.name}' in the vertebra mask",
            source=vsrc.source or None,
            value=sorted(int(v) for v in present if v)[:20],
            expected="the scheme the vertebra mask was made with (--vertebrae-labels)",
        )
    return None


def _s_range(volume: Volume) -> tuple[float, float]:
    """World S extent (mm) of a volume's voxel centres."""
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


def _vertebral_body(
    run: _Run, vertebral_body: Source | None, base: Volume, mask_vol: Volume
) -> np.ndarray | None:
    """Vertebral-body voxels on the image grid, for ``csa_to_vertebral_body``."""
    from spinestab.imaging.io import conform_to
    from spinestab.imaging.labels import get_scheme

    if vertebral_body is not None:
        vb_vol = conform_to(base, _read(vertebral_body, labels=True), what="vertebral body mask")
        vb_scheme = get_scheme(run.options.vertebral_body_labels)
        vb_values = list(vb_scheme.of_kind("vertebral_body"))
        if not vb_values:
            raise InputError(
                "scheme has no vertebral body labels", value=run.options.vertebral_body_labels
            )
        return np.isin(vb_vol.data, vb_values)
    if run.scheme.of_kind("vertebral_body"):
        body = np.isin(mask_vol.data, list(run.scheme.of_kind("vertebral_body")))
        return body if body.any() else None  # the muscle mask also holds vertebral bodies
    return None


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
        title=Path(str(_name(_primary(image)))).name,
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
        "image": _name(single),
        "water": _name(image.water) if isinstance(image, DixonPair) else None,
        "fat": _name(image.fat) if isinstance(image, DixonPair) else None,
        "ff": _name(image.map) if isinstance(image, FatFractionMap) else None,
        "mask": run.mask_name,
        "segmenter": options.segment.value if options.segment else None,
        "segmenter_input": run.segmenter_input,
        "labels": run.labels_name,
        "levels_from": assignment.source,
        "sex": options.sex,
        "age": options.age,
    }


def _fingerprint(src: Source | Mapping[str, Any] | None) -> str | None:
    """SHA-256 of an input: a file's bytes, a folder's files, or a volume's voxels."""
    if src is None:
        return None
    digest = hashlib.sha256()
    if isinstance(src, Volume):
        digest.update(np.ascontiguousarray(src.data).tobytes())
        digest.update(np.asarray(src.affine, dtype=np.float64).tobytes())
        return digest.hexdigest()
    if isinstance(src, Mapping):
        digest.update(repr(sorted(src.items())).encode())
        return digest.hexdigest()
    path = Path(src)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


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
    hashes = {k: _fingerprint(v) for k, v in named.items() if v is not None}
    for rel, data in run.segmentation.items():
        hashes[f"segmentation/{rel}"] = hashlib.sha256(data).hexdigest()
    return Provenance.of(input_sha256=hashes, options=run.options.to_dict())
