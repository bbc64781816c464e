"""Pure geometry on vertebral corners: endplates, slip, angles, disc heights, lordosis.

All functions take corner coordinates in one Cartesian frame with equal units on both
axes (mm, or square pixels) and are vectorised over motion segments. Corner rows follow
:data:`spinestab.instability.landmarks.CORNERS` (AS, PS, PI, AI). Definitions follow
``CLINICAL_LOGIC.md`` §4.3 [D; consistent with Meyerding/Taillard, R]:

- ``e_L = unit(L.AS - L.PS)``: direction of the lower body's superior endplate;
- ``w_L = |L.AS - L.PS|``: its AP depth;
- ``d = (U.PI - L.PS) . e_L``: translation of the upper posterior-inferior corner along
  that endplate, positive forwards (anterolisthesis); ``slip_pct = 100 d / w_L``;
- segmental angle: the signed angle from L's superior endplate to U's inferior endplate,
  positive when the disc opens anteriorly (lordotic).

Angles are signed with a ``cranial`` direction vector, so they do not depend on whether the
image has y up or down, or on which side anterior is drawn.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "disc_heights",
    "endplate",
    "signed_angle_deg",
    "slip",
    "slip_posterior_wall",
    "unit_normal_towards",
]


def endplate(posterior: np.ndarray, anterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compute unit direction (posterior to anterior) and length of endplates.

    Parameters
    ----------
    posterior, anterior : (..., 2) ndarray
        Posterior and anterior corners of each endplate.

    Returns
    -------
    direction : (..., 2) ndarray
        Unit vectors; NaN where the endplate has zero length.
    length : (...,) ndarray
        Endplate depths, in the units of the input.

    """
    vec = np.asarray(anterior, float) - np.asarray(posterior, float)
    length = np.hypot(vec[..., 0], vec[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        direction = vec / np.where(length > 0, length, np.nan)[..., None]
    return direction, length


def unit_normal_towards(direction: np.ndarray, towards: np.ndarray) -> np.ndarray:
    """Return the unit normal of ``direction`` on the side that ``towards`` points to.

    Parameters
    ----------
    direction : (..., 2) ndarray
        Unit vectors.
    towards : (..., 2) or (2,) ndarray
        Vectors picking the side (e.g. the cranial direction).

    Returns
    -------
    (..., 2) ndarray

    """
    direction = np.asarray(direction, float)
    normal = np.stack([-direction[..., 1], direction[..., 0]], axis=-1)
    side = np.sign(np.sum(normal * np.asarray(towards, float), axis=-1))
    side = np.where(side == 0, 1.0, side)
    return normal * side[..., None]


def signed_angle_deg(vector: np.ndarray, reference: np.ndarray, cranial: np.ndarray) -> np.ndarray:
    """Signed angle from ``reference`` to ``vector``; positive when ``vector`` tilts cranially.

    Both vectors point posterior to anterior, so a positive angle means the two lines
    diverge anteriorly (lordosis).

    Parameters
    ----------
    vector, reference : (..., 2) ndarray
        Endplate vectors, posterior to anterior.
    cranial : (..., 2) or (2,) ndarray
        Any vector pointing cranially (used only for its side of ``reference``).

    Returns
    -------
    (...,) ndarray
        Degrees in (-180, 180].

    """
    ref_dir, _ = endplate(np.zeros_like(reference, dtype=float), reference)
    normal = unit_normal_towards(ref_dir, cranial)
    vector = np.asarray(vector, float)
    along = np.sum(vector * ref_dir, axis=-1)
    across = np.sum(vector * normal, axis=-1)
    return np.degrees(np.arctan2(across, along))


def slip(
    upper_pi: np.ndarray, lower_ps: np.ndarray, lower_as: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sagittal slip of the upper body over the lower one (Meyerding/Taillard).

    Parameters
    ----------
    upper_pi : (..., 2) ndarray
        Posterior-inferior corner of the upper body.
    lower_ps, lower_as : (..., 2) ndarray
        Posterior- and anterior-superior corners of the lower body.

    Returns
    -------
    slip : (...,) ndarray
        Displacement along the lower superior endplate, input units; + = anterolisthesis.
    slip_pct : (...,) ndarray
        ``100 * slip / depth``.
    depth : (...,) ndarray
        Depth of the lower superior endplate, input units.

    """
    direction, depth = endplate(lower_ps, lower_as)
    d = np.sum((np.asarray(upper_pi, float) - np.asarray(lower_ps, float)) * direction, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * d / np.where(depth > 0, depth, np.nan)
    return d, pct, depth


def slip_posterior_wall(
    upper_ps: np.ndarray,
    upper_pi: np.ndarray,
    lower_ps: np.ndarray,
    lower_as: np.ndarray,
    lower_pi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slip between the posterior-wall lines (Morgan-King / Boden-Wiesel style [R]).

    ``CLINICAL_LOGIC.md`` §4.3: the perpendicular distance between the posterior-wall lines
    of the upper and the lower body, measured at the level of the lower body's superior
    endplate. The upper wall line (``U.PS``-``U.PI``) is extended to the lower superior
    endplate line; the distance of that point from the lower wall line (``L.PS``-``L.PI``)
    is taken along the lower wall's normal, positive anteriorly. Where the lower body has no
    inferior corners (S1), the lower wall is taken perpendicular to its superior endplate
    (the distance is then measured along that endplate).

    Parameters
    ----------
    upper_ps, upper_pi : (..., 2) ndarray
        Posterior corners of the upper body.
    lower_ps, lower_as, lower_pi : (..., 2) ndarray
        Posterior-superior, anterior-superior and posterior-inferior corners of the lower
        body (``lower_pi`` may be NaN).

    Returns
    -------
    slip : (...,) ndarray
        Input units; + = anterolisthesis. NaN when the upper wall is parallel to the
        lower endplate.
    slip_pct : (...,) ndarray
        ``100 * slip / depth``.
    depth : (...,) ndarray
        Depth of the lower superior endplate.

    """
    upper_ps, upper_pi = np.asarray(upper_ps, float), np.asarray(upper_pi, float)
    lower_ps, lower_pi = np.asarray(lower_ps, float), np.asarray(lower_pi, float)
    e_l, depth = endplate(lower_ps, np.asarray(lower_as, float))
    # upper wall line: upper_pi + t * w; meets the endplate line where its normal offset is 0
    wall = upper_pi - upper_ps
    n_e = np.stack([-e_l[..., 1], e_l[..., 0]], axis=-1)
    denom = np.sum(wall * n_e, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = -np.sum((upper_pi - lower_ps) * n_e, axis=-1) / np.where(denom != 0, denom, np.nan)
    point = upper_pi + t[..., None] * wall
    # lower wall normal, pointing anteriorly; perpendicular to the endplate without PI
    w_dir, w_len = endplate(lower_pi, lower_ps)
    normal = np.stack([-w_dir[..., 1], w_dir[..., 0]], axis=-1)
    normal = np.where(np.isfinite(w_len)[..., None] & (w_len > 0)[..., None], normal, np.nan)
    normal = np.where(np.isnan(normal), e_l, normal)
    side = np.sign(np.sum(normal * e_l, axis=-1))
    normal = normal * np.where(side == 0, 1.0, side)[..., None]
    d = np.sum((point - lower_ps) * normal, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * d / np.where(depth > 0, depth, np.nan)
    return d, pct, depth


def disc_heights(
    upper_pi: np.ndarray,
    upper_ai: np.ndarray,
    lower_ps: np.ndarray,
    lower_as: np.ndarray,
    cranial: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed anterior and posterior disc heights.

    The height is the distance of the upper body's inferior corner from the lower body's
    superior endplate line, measured along that line's normal, positive cranially. A
    negative height means the two bodies overlap (crossing outlines).

    Parameters
    ----------
    upper_pi, upper_ai : (..., 2) ndarray
        Inferior corners of the upper body.
    lower_ps, lower_as : (..., 2) ndarray
        Superior corners of the lower body.
    cranial : (..., 2) or (2,) ndarray
        A vector pointing cranially.

    Returns
    -------
    anterior, posterior : (...,) ndarray
        Heights in the input units.

    """
    direction, _ = endplate(lower_ps, lower_as)
    normal = unit_normal_towards(direction, cranial)
    lower_ps = np.asarray(lower_ps, float)
    anterior = np.sum((np.asarray(upper_ai, float) - lower_ps) * normal, axis=-1)
    posterior = np.sum((np.asarray(upper_pi, float) - lower_ps) * normal, axis=-1)
    return anterior, posterior


def meyerding_grade(slip_pct: float) -> int:
    """Meyerding grade from the absolute slip percentage.

    Source: Meyerding 1932; https://radiopaedia.org/articles/meyerding-classification-of-spondylolisthesis
    [V] (``CLINICAL_LOGIC.md`` §4.1): I 0-25 %, II 26-50 %, III 51-75 %, IV 76-100 %,
    V > 100 % (spondyloptosis). Bands are closed at the upper end (25 % is grade I).

    Parameters
    ----------
    slip_pct : float
        Slip as % of the lower superior endplate depth; the sign (antero/retro) is ignored.

    Returns
    -------
    int
        1 to 5.

    """
    value = abs(float(slip_pct))
    for grade, upper in enumerate((25.0, 50.0, 75.0, 100.0), start=1):
        if value <= upper:
            return grade
    return 5


__all__ += ["meyerding_grade"]
