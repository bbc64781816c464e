"""Fat estimation per voxel. Every result carries the method that produced it.

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
from spinestab.errors import InputError, require

__all__ = [
    "CT_FAT_HU_RANGE",
    "MIN_CLASS_SEPARATION",
    "FatMap",
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

ClassMethod = Literal["gmm", "kmeans", "otsu"]


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


def n4_bias_correct(
    image: np.ndarray,
    spacing_mm: tuple[float, float, float],
    *,
    mask: np.ndarray | None = None,
    shrink: tuple[int, int, int] | None = None,
    iterations: tuple[int, ...] = (50, 50, 50),
    convergence: float = 1e-6,
    target_px: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """N4 bias-field correction (SimpleITK), fitted on a shrunk copy.

    Parameters
    ----------
    image : (I, J, K) ndarray
        Intensities (>= 0).
    spacing_mm : tuple of float
        Voxel size along I, J, K.
    mask : (I, J, K) ndarray of bool, optional
        Where to fit the field; default: Otsu foreground of the image.
    shrink : tuple of int, optional
        Shrink factors along I, J, K; default: about ``target_px`` voxels per in-plane
        axis, and no shrinking through-plane when slices are thick (> 2x in-plane size).
        The field is smooth, so fitting it on a coarse copy loses little and is fast.
    iterations : tuple of int
        Iterations per fitting level (one entry per level).
    convergence : float
        N4 convergence threshold (SimpleITK's default 1e-3 stops too early for strong
        surface-coil shading).
    target_px : int
        See ``shrink``.

    Returns
    -------
    corrected : (I, J, K) ndarray of float64
        ``image / bias``.
    bias : (I, J, K) ndarray of float64
        The multiplicative field.

    """
    sitk = require("SimpleITK", extra="imaging", feature="N4 bias-field correction")
    img = np.asarray(image, dtype=np.float32)
    if not np.all(np.isfinite(img)):
        raise InputError("image has NaN or infinite voxels; cannot bias-correct")
    if shrink is None:
        thick = spacing_mm[2] > 2.0 * max(spacing_mm[0], spacing_mm[1])
        in_plane = [max(1, round(n / target_px)) for n in img.shape[:2]]
        shrink = (in_plane[0], in_plane[1], 1 if thick else max(1, round(img.shape[2] / target_px)))
    shrink = tuple(max(1, min(int(s), n)) for s, n in zip(shrink, img.shape, strict=True))
    # a single slice (or a volume one voxel thick along any axis) is fitted in 2-D: ITK
    # refuses a shrunk grid of zero extent
    keep = [a for a in range(3) if img.shape[a] > 1]
    if len(keep) < 2:
        raise InputError(
            "image is not 3-D enough for bias correction", value=img.shape, expected="2 axes > 1"
        )
    squeeze = tuple(a for a in range(3) if a not in keep)
    arr = img.squeeze(axis=squeeze) if squeeze else img
    msk = None if mask is None else np.asarray(mask).squeeze(axis=squeeze)
    spacing = tuple(float(spacing_mm[a]) for a in keep)
    factors = [int(shrink[a]) for a in keep]
    reverse = tuple(range(arr.ndim))[::-1]
    sitk_img = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(reverse)))
    sitk_img.SetSpacing(spacing)
    if msk is None:
        sitk_mask = sitk.OtsuThreshold(sitk_img, 0, 1, 200)
    else:
        sitk_mask = sitk.GetImageFromArray(
            np.ascontiguousarray(msk.astype(np.uint8).transpose(reverse))
        )
        sitk_mask.CopyInformation(sitk_img)
    small = sitk.Shrink(sitk_img, factors)
    small_mask = sitk.Shrink(sitk_mask, factors)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(i) for i in iterations])
    corrector.SetConvergenceThreshold(float(convergence))
    try:
        corrector.Execute(small, small_mask)
    except RuntimeError as exc:
        raise InputError(
            f"N4 bias correction failed ({str(exc).strip().splitlines()[-1][:200]})",
            value=img.shape,
            expected="an image N4 can fit, or --no-bias-correction",
        ) from exc
    log_bias = corrector.GetLogBiasFieldAsImage(sitk_img)
    bias = np.exp(sitk.GetArrayFromImage(log_bias).transpose(reverse).astype(np.float64))
    bias = bias.reshape(img.shape)
    return np.asarray(image, dtype=np.float64) / bias, bias


def _otsu_threshold(values: np.ndarray, nbins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=nbins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(hist).astype(float)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mu0 = m0 / np.maximum(w0, 1e-12)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1e-12)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def multi_otsu_thresholds(values: np.ndarray, *, classes: int = 2, nbins: int = 128) -> list[float]:
    """Otsu thresholds (2 classes: one threshold; 3 classes: two) maximising between-class variance.

    Examples
    --------
    >>> v = np.r_[np.zeros(50), np.full(50, 10.0)]
    >>> 0.0 < multi_otsu_thresholds(v)[0] < 10.0
    True

    """
    values = np.asarray(values, dtype=np.float64)
    if classes == 2:
        return [_otsu_threshold(values, nbins=max(nbins, 256))]
    if classes != 3:
        raise InputError("Otsu supports 2 or 3 classes", value=classes)
    hist, edges = np.histogram(values, bins=nbins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    p = hist.astype(float)
    cw = np.r_[0.0, np.cumsum(p)]
    cm = np.r_[0.0, np.cumsum(p * centres)]
    total_m = cm[-1]
    i, j = np.triu_indices(nbins + 1, k=1)
    ok = (i >= 1) & (j <= nbins - 1)
    i, j = i[ok], j[ok]
    w0, w1, w2 = cw[i], cw[j] - cw[i], cw[-1] - cw[j]
    m0, m1, m2 = cm[i], cm[j] - cm[i], total_m - cm[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(w0 > 0, m0**2 / w0, 0) + np.where(w1 > 0, m1**2 / w1, 0)
        score += np.where(w2 > 0, m2**2 / w2, 0)
    best = int(np.argmax(score))
    return [float(edges[i[best]]), float(edges[j[best]])]


#: Below this share of the intensity variance explained by the classes, the "fat" class may
#: be the bright tail of one tissue rather than a second tissue [D]: the best split of a
#: single Gaussian explains 2/pi = 0.64 of its variance; the phantoms (>= 1 % fat voxels)
#: give 0.82-0.93. Rows of such labels are flagged ``fat_classes_weakly_separated``.
MIN_CLASS_SEPARATION = 0.70


def class_separation(values: np.ndarray, classes: np.ndarray) -> float:
    """Share of the variance of ``values`` explained by the class means (Otsu's eta, 0..1).

    Examples
    --------
    >>> round(class_separation(np.array([0.0, 0.0, 10.0, 10.0]), np.array([0, 0, 1, 1])), 3)
    1.0

    """
    values = np.asarray(values, dtype=np.float64)
    total = float(values.var())
    if total <= 0.0:
        return 0.0
    cls = np.asarray(classes, dtype=np.int64)
    n = np.bincount(cls).astype(np.float64)
    means = np.bincount(cls, weights=values) / np.maximum(n, 1.0)
    between = float(np.sum(n * (means - values.mean()) ** 2) / values.size)
    return between / total


def _classify(
    values: np.ndarray, *, method: ClassMethod, classes: int, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Class index per value, 0 = darkest ... classes-1 = brightest."""
    cls, info = _classify_raw(values, method=method, classes=classes, seed=seed)
    info["separation"] = round(class_separation(values, cls), 4)
    return cls, info


def _classify_raw(
    values: np.ndarray, *, method: ClassMethod, classes: int, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    check_choice("classes", classes, (2, 3), message="number of classes must be 2 or 3")
    if method == "otsu":
        th = multi_otsu_thresholds(values, classes=classes)
        return np.searchsorted(np.asarray(th), values, side="right"), {"thresholds": th}
    rng = np.random.default_rng(seed)
    fit_values = values if values.size <= 30_000 else rng.choice(values, 30_000, replace=False)
    x = fit_values.reshape(-1, 1)
    if method == "gmm":
        mixture = require("sklearn.mixture", extra="imaging", feature="Gaussian mixture fat")
        model = mixture.GaussianMixture(n_components=classes, random_state=seed, n_init=1)
        model.fit(x)
        means = model.means_.ravel()
        raw = model.predict(values.reshape(-1, 1))
        info = {
            "means": sorted(float(m) for m in means),
            "sds": [float(np.sqrt(model.covariances_.ravel()[k])) for k in np.argsort(means)],
            "weights": [float(model.weights_[k]) for k in np.argsort(means)],
        }
    elif method == "kmeans":
        cluster = require("sklearn.cluster", extra="imaging", feature="k-means fat")
        model = cluster.KMeans(n_clusters=classes, random_state=seed, n_init=2)
        model.fit(x)
        means = model.cluster_centers_.ravel()
        raw = model.predict(values.reshape(-1, 1))
        info = {"means": sorted(float(m) for m in means)}
    else:
        raise InputError(
            "unknown classification method", value=method, expected="gmm, kmeans, otsu"
        )
    rank = np.empty(classes, dtype=np.int64)
    rank[np.argsort(means)] = np.arange(classes)
    return rank[raw], info


def single_contrast_fat(
    image: np.ndarray,
    muscle_labels: np.ndarray,
    spacing_mm: tuple[float, float, float],
    *,
    method: ClassMethod = "otsu",
    classes: int = 2,
    bias_correction: bool = True,
    pool: Literal["label", "all"] = "label",
    n4_mask: Literal["muscle", "foreground"] = "muscle",
    contrast: str = "t1w",
    seed: int = 0,
    n4_iterations: tuple[int, ...] = (50, 50, 50),
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

    Returns
    -------
    FatMap
        ``fraction`` is 1 for fat-class voxels, 0 for the others, NaN outside the mask.

    """
    image = np.asarray(image, dtype=np.float64)
    labels = np.asarray(muscle_labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not np.any(labels):
        raise InputError("no muscle voxels to classify", expected="a non-empty muscle mask")
    check_choice("pool", pool, ("label", "all"), message="unknown pooling", expected="label or all")
    check_choice(
        "n4_mask",
        n4_mask,
        ("muscle", "foreground"),
        message="unknown N4 mask",
        expected="muscle or foreground",
    )
    finite = np.isfinite(image)
    details: dict[str, Any] = {"classes": classes, "classifier": method, "pool": pool}
    mask = labels != 0
    if bias_correction:
        work = np.where(finite, image, 0.0)
        fit_mask = mask if n4_mask == "muscle" else None
        corrected, bias = n4_bias_correct(work, spacing_mm, mask=fit_mask, iterations=n4_iterations)
        details["n4_mask"] = n4_mask
        details["bias_range_in_muscle"] = [float(bias[mask].min()), float(bias[mask].max())]
    else:
        corrected = image
    frac = np.full(image.shape, np.nan)
    undefined = np.full(image.shape, np.nan) if classes == 3 else None
    groups = [0] if pool == "all" else [int(v) for v in np.unique(labels[mask])]
    per_group: dict[str, Any] = {}
    unclassified: list[int] = []
    for g in groups:
        sel = (mask if pool == "all" else labels == g) & finite
        values = corrected[sel]
        raw = image[sel]
        flat = raw.size > 0 and float(raw.max() - raw.min()) <= 1e-9 * max(abs(float(raw.max())), 1)
        if values.size < 10 * classes or flat:
            if pool == "all":
                why = "no intensity contrast" if flat else "too few muscle voxels"
                raise InputError(f"{why} to classify fat", value=int(values.size))
            unclassified.append(g)  # left NaN: rows get flagged, not a made-up number
            continue
        cls, info = _classify(values, method=method, classes=classes, seed=seed)
        per_group["all" if pool == "all" else str(g)] = info
        frac[sel] = (cls == classes - 1).astype(np.float64)
        if undefined is not None:
            undefined[sel] = (cls == 1).astype(np.float64)
    details["classifier_by_label"] = per_group
    details["unclassified_labels"] = unclassified
    tag = f"{contrast}_{'n4_' if bias_correction else ''}{method}{classes}"
    return FatMap(frac, tag, undefined=undefined, details=details)
