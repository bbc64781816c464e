"""Single-contrast MR helpers: N4 bias-field correction and intensity classifiers.

N4 (SimpleITK) runs on a shrunk copy; the muscle voxels' intensities are then split into 2
or 3 classes by Otsu, k-means or a Gaussian mixture (scikit-learn). How well the classes
separate is measured (:func:`class_separation`) so weak splits can be flagged. Arrays in,
arrays out; :func:`spinestab.imaging.fat.single_contrast_fat` puts them together.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from spinestab.core.validation import check_choice
from spinestab.errors import InputError, require

__all__ = [
    "MIN_CLASS_SEPARATION",
    "ClassMethod",
    "class_separation",
    "classify",
    "multi_otsu_thresholds",
    "n4_bias_correct",
]

logger = logging.getLogger(__name__)

ClassMethod = Literal["gmm", "kmeans", "otsu"]


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


def classify(
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
