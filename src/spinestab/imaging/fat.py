"""Fat estimation per voxel. Every result carries the method that produced it.

Long module: one estimator per fat method.

* Dixon: fat fraction ``F / (F + W)`` (signal fat fraction), undefined where ``F + W = 0``.
* PDFF map: passed through (percent or fraction).
* CT: a voxel is fat when its HU lies in the adipose range, default -190..-30 HU
  [R: Mitsiopoulos N et al., J Appl Physiol 1998;85:115-22; the range used for IMAT in
  shared/data/imaging/MANIFEST.md]; configurable.
* Single contrast (T1w/T2w): N4 bias-field correction (SimpleITK) on a shrunk copy,
  then a 2- or 3-class Gaussian mixture, k-means or Otsu split of the muscle voxels'
  intensities; the brightest class is fat. With 3 classes the middle class is reported
  apart as "undefined" (partial volume) and not counted as fat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.imaging.fat_classify import (
    MIN_CLASS_SEPARATION,
    ClassMethod,
    class_separation,
    classify,
    multi_otsu_thresholds,
    n4_bias_correct,
)

__all__ = [
    "CT_FAT_HU_RANGE",
    "MIN_CLASS_SEPARATION",
    "FatMap",
    "SingleContrastOptions",
    "class_separation",
    "ct_fat",
    "dixon_fat_fraction",
    "multi_otsu_thresholds",
    "n4_bias_correct",
    "pdff_passthrough",
    "single_contrast_fat",
]

logger = logging.getLogger(__name__)

#: Adipose tissue range in HU [R: Mitsiopoulos 1998, J Appl Physiol 85:115-22]. Configurable.
CT_FAT_HU_RANGE = (-190.0, -30.0)
#: share of finite voxels above 1.5 from which a PDFF map is read as percent, and the
#: largest share of out-of-range voxels set undefined rather than refusing the map [D]
PDFF_PERCENT_SHARE = 0.01


@dataclass(frozen=True)
class FatMap:
    """Voxel-wise fat fraction and how it was obtained.

    Attributes
    ----------
    fraction : (I, J, K) ndarray of float
        Fat fraction 0..1 per voxel; NaN where undefined (zero signal, NaN input, or
        outside the classified region).
    method : str
        Short method tag written beside every value (``dixon``, ``pdff``,
        ``ct_hu[-190..-30]``, ``t1w_n4_gmm2``...).
    undefined : ndarray or None
        Single contrast with 3 classes: 1 where a voxel fell into the middle class.
    details : dict
        Thresholds, class means, bias-correction facts.

    """

    fraction: np.ndarray
    method: str
    undefined: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)


def dixon_fat_fraction(
    water: np.ndarray,
    fat: np.ndarray,
    *,
    min_signal: float = 0.0,
    source: str = "Dixon",
    mask: np.ndarray | None = None,
) -> FatMap:
    """Signal fat fraction ``F / (F + W)`` from Dixon water and fat magnitude images.

    Parameters
    ----------
    water, fat : (I, J, K) ndarray
        Magnitude images on one grid; negative values are refused.
    min_signal : float
        Voxels with ``F + W <= min_signal`` get NaN (the zero guard).
    source : str
        Names the input in messages.
    mask : (I, J, K) ndarray of bool, optional
        Where negative values are refused (the muscle voxels); elsewhere (background
        noise of a complex reconstruction) they give an undefined fraction. Default:
        everywhere.

    Returns
    -------
    FatMap
        ``method = "dixon"``.

    Examples
    --------
    >>> m = dixon_fat_fraction(np.array([[[3.0, 0.0]]]), np.array([[[1.0, 0.0]]]))
    >>> m.fraction.ravel().tolist()[0], bool(np.isnan(m.fraction.ravel()[1]))
    (0.25, True)

    """
    water = np.asarray(water, dtype=np.float64)
    fat = np.asarray(fat, dtype=np.float64)
    if water.shape != fat.shape:
        raise InputError(
            "water and fat images differ in shape",
            source=source,
            value=(water.shape, fat.shape),
            expected="water and fat on one grid",
        )
    for name, arr in (("water", water), ("fat", fat)):
        neg = arr < 0
        if mask is not None:
            neg &= np.asarray(mask, dtype=bool)
        if neg.any():
            raise InputError(
                f"{name} image has {int(neg.sum())} negative voxels "
                f"(min {float(arr[neg].min()):.4g})",
                source=source,
                item=name,
                expected="magnitude images (>= 0); are these phase or complex parts?",
            )
    total = water + fat
    with np.errstate(invalid="ignore", divide="ignore"):
        ff = np.where(total > min_signal, fat / np.where(total > 0, total, 1.0), np.nan)
    ff[(water < 0) | (fat < 0)] = np.nan  # outside the mask only: undefined, never used
    return FatMap(ff, "dixon", details={"formula": "F/(F+W)", "min_signal": min_signal})


def pdff_passthrough(
    ff_map: np.ndarray,
    *,
    units: Literal["auto", "percent", "fraction"] = "auto",
    source: str = "PDFF",
) -> FatMap:
    """Pass a fat-fraction / PDFF map through, as fraction 0..1.

    ``units="auto"`` reads a map whose finite values all lie at or below 1.5 as fraction and
    one with at least ``PDFF_PERCENT_SHARE`` of its finite voxels above 1.5 as percent; a map
    in between (mostly 0..1 with a few larger values, e.g. fit noise in the background of a
    fraction map) cannot be told apart and is refused: give ``units``. [D]
    Values far outside the physical range (below -10 % or above 110 %) are undefined (NaN,
    counted per muscle as ``fat_undefined_voxels``) when they are few (at most
    ``PDFF_PERCENT_SHARE`` of the finite voxels), and the map is refused when they are many
    (wrong units or scaling); small negative values from noise are kept so that means stay
    unbiased.
    """
    arr = np.asarray(ff_map, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise InputError("fat-fraction map has no finite values", source=source)
    check_choice(
        "units",
        units,
        ("auto", "percent", "fraction"),
        message="unknown fat-fraction units",
        expected="auto, percent or fraction",
    )
    detected = "given"
    if units == "auto":
        above = int(np.count_nonzero(finite > 1.5))
        if above == 0:
            units, detected = "fraction", "auto: all values <= 1.5"
        elif above >= PDFF_PERCENT_SHARE * finite.size:
            units, detected = "percent", f"auto: {above} of {finite.size} values > 1.5"
        else:
            raise InputError(
                f"cannot tell whether the fat-fraction map is a fraction or percent: "
                f"{above} of {finite.size} finite voxels ({100 * above / finite.size:.2g} %) "
                f"lie above 1.5 (max {float(finite.max()):.4g}), the rest within 0..1.5",
                source=source,
                item="--ff-units",
                value=units,
                expected="--ff-units fraction (0..1) or --ff-units percent (0..100)",
            )
    frac = arr / 100.0 if units == "percent" else arr
    with np.errstate(invalid="ignore"):
        out = np.isfinite(frac) & ((frac < -0.10) | (frac > 1.10))
    n_out = int(np.count_nonzero(out))
    if n_out > PDFF_PERCENT_SHARE * finite.size:
        lo, hi = float(np.nanmin(frac)), float(np.nanmax(frac))
        raise InputError(
            f"fat-fraction map out of range as {units}: {n_out} of {finite.size} finite voxels "
            "outside -10..110 %",
            source=source,
            item="--ff-units",
            value=(lo, hi),
            expected="0..1 (fraction) or 0..100 (percent); set --ff-units to the map's units",
        )
    if n_out:
        frac = np.where(out, np.nan, frac)
        logger.warning("%s: %d voxels outside -10..110 %% set undefined", source, n_out)
    return FatMap(
        frac,
        "pdff",
        details={"units": units, "units_how": detected, "out_of_range_voxels_undefined": n_out},
    )


def ct_fat(hu: np.ndarray, *, fat_range: tuple[float, float] = CT_FAT_HU_RANGE) -> FatMap:
    """Voxel is fat (1) when its HU lies in ``fat_range``, else 0 (IMAT fraction)."""
    lo, hi = fat_range
    if lo >= hi:
        raise InputError("fat HU range is empty", value=fat_range, expected="low < high")
    hu = np.asarray(hu, dtype=np.float64)
    ff = ((hu >= lo) & (hu <= hi)).astype(np.float64)
    ff[~np.isfinite(hu)] = np.nan
    return FatMap(
        ff,
        f"ct_hu[{lo:g}..{hi:g}]",
        details={"fat_range_hu": [lo, hi], "source": "Mitsiopoulos 1998 [R]"},
    )


# --------------------------------------------------------------------------------------
# single contrast
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleContrastOptions:
    """How a single-contrast image is split into fat and muscle.

    Attributes
    ----------
    method : {"gmm", "kmeans", "otsu"}
        Classifier of the intensities.
    classes : {2, 3}
        Number of intensity classes; the brightest is fat.
    bias_correction : bool
        Run N4 first (strongly advised: surface-coil shading shifts intensities by a
        factor of several across the field of view).
    pool : {"label", "all"}
        Fit one classifier per label (default: robust to shading left between muscles
        after N4) or one for all muscle voxels together.
    n4_mask : {"muscle", "foreground"}
        Fit the bias field on the muscle voxels (default: one tissue plus its fat, and the
        only voxels classified; on the phantom it removes more of the shading) or on the
        Otsu foreground of the whole image.
    contrast : str
        Tag for the method string.
    seed : int
        Seed of the classifier (GMM, k-means).
    n4_iterations : tuple of int
        N4 iterations per fitting level.

    """

    method: ClassMethod = "otsu"
    classes: int = 2
    bias_correction: bool = True
    pool: Literal["label", "all"] = "label"
    n4_mask: Literal["muscle", "foreground"] = "muscle"
    contrast: str = "t1w"
    seed: int = 0
    n4_iterations: tuple[int, ...] = (50, 50, 50)

    def __post_init__(self) -> None:
        """Refuse an unknown pooling or N4 mask."""
        check_choice(
            "pool", self.pool, ("label", "all"), message="unknown pooling", expected="label or all"
        )
        check_choice(
            "n4_mask",
            self.n4_mask,
            ("muscle", "foreground"),
            message="unknown N4 mask",
            expected="muscle or foreground",
        )

    @property
    def tag(self) -> str:
        """The method string, e.g. ``t1w_n4_otsu2``."""
        n4 = "n4_" if self.bias_correction else ""
        return f"{self.contrast}_{n4}{self.method}{self.classes}"


def single_contrast_fat(
    image: np.ndarray,
    muscle_labels: np.ndarray,
    spacing_mm: tuple[float, float, float],
    options: SingleContrastOptions | None = None,
) -> FatMap:
    """Fat per voxel from a single-contrast image where fat is bright (T1w, T2w TSE).

    Parameters
    ----------
    image : (I, J, K) ndarray
        Intensities; NaN voxels are left unclassified.
    muscle_labels : (I, J, K) ndarray of int or bool
        Muscle voxels to classify (non-zero); with ``pool="label"`` each label value is
        classified on its own.
    spacing_mm : tuple of float
        Voxel size along I, J, K (for N4).
    options : SingleContrastOptions, optional
        Classifier, classes, N4, pooling.

    Returns
    -------
    FatMap
        ``fraction`` is 1 for fat-class voxels, 0 for the others, NaN outside the mask.

    """
    options = options or SingleContrastOptions()
    image = np.asarray(image, dtype=np.float64)
    labels = np.asarray(muscle_labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not np.any(labels):
        raise InputError("no muscle voxels to classify", expected="a non-empty muscle mask")
    details: dict[str, Any] = {
        "classes": options.classes,
        "classifier": options.method,
        "pool": options.pool,
    }
    corrected = _corrected(image, labels != 0, spacing_mm, options, details)
    frac, undefined = _classify_groups(image, corrected, labels, options, details)
    return FatMap(frac, options.tag, undefined=undefined, details=details)


def _corrected(
    image: np.ndarray,
    mask: np.ndarray,
    spacing_mm: tuple[float, float, float],
    options: SingleContrastOptions,
    details: dict[str, Any],
) -> np.ndarray:
    """Return the image after N4 (or as it is); the bias range goes into ``details``."""
    if not options.bias_correction:
        return image
    work = np.where(np.isfinite(image), image, 0.0)
    fit_mask = mask if options.n4_mask == "muscle" else None
    corrected, bias = n4_bias_correct(
        work, spacing_mm, mask=fit_mask, iterations=options.n4_iterations
    )
    details["n4_mask"] = options.n4_mask
    details["bias_range_in_muscle"] = [float(bias[mask].min()), float(bias[mask].max())]
    return corrected


def _classify_groups(
    image: np.ndarray,
    corrected: np.ndarray,
    labels: np.ndarray,
    options: SingleContrastOptions,
    details: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Classify each label (or all muscle voxels); fat fraction and middle-class maps."""
    classes, pool = options.classes, options.pool
    finite = np.isfinite(image)
    mask = labels != 0
    frac = np.full(image.shape, np.nan)
    undefined = np.full(image.shape, np.nan) if classes == 3 else None
    groups = [0] if pool == "all" else [int(v) for v in np.unique(labels[mask])]
    per_group: dict[str, Any] = {}
    unclassified: list[int] = []
    for g in groups:
        sel = (mask if pool == "all" else labels == g) & finite
        values = corrected[sel]
        if not _classifiable(image[sel], values.size, options):
            unclassified.append(g)  # left NaN: rows get flagged, not a made-up number
            continue
        cls, info = classify(values, method=options.method, classes=classes, seed=options.seed)
        per_group["all" if pool == "all" else str(g)] = info
        frac[sel] = (cls == classes - 1).astype(np.float64)
        if undefined is not None:
            undefined[sel] = (cls == 1).astype(np.float64)
    details["classifier_by_label"] = per_group
    details["unclassified_labels"] = unclassified
    return frac, undefined


def _classifiable(raw: np.ndarray, n: int, options: SingleContrastOptions) -> bool:
    """Whether a group has voxels enough, and contrast, to classify (pooled: or fail)."""
    flat = raw.size > 0 and float(raw.max() - raw.min()) <= 1e-9 * max(abs(float(raw.max())), 1)
    if n >= 10 * options.classes and not flat:
        return True
    if options.pool == "all":
        why = "no intensity contrast" if flat else "too few muscle voxels"
        raise InputError(f"{why} to classify fat", value=int(n))
    return False
