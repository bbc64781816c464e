"""Analytic lumbar spines with known slip, disc heights and angles (for tests and the demo).

The spine is built from S1 upwards in a frame with x anterior and y cranial (mm). For each
motion segment the upper body's posterior-inferior corner is placed at
``L.PS + slip * e_L + disc_posterior * n_L`` and its inferior endplate is rotated by the
segmental angle from the lower superior endplate, so the truth of
:mod:`spinestab.instability.geometry` is exact by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet

__all__ = ["analytic_vertebrae", "build_spine", "to_pixels", "transform"]


def _rot(vec: np.ndarray, deg: float) -> np.ndarray:
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([c * vec[0] - s * vec[1], s * vec[0] + c * vec[1]])


def build_spine(
    *,
    levels: Sequence[str] = ("L1", "L2", "L3", "L4", "L5", "S1"),
    depth_mm: float | Sequence[float] = 40.0,
    height_mm: float | Sequence[float] = 27.0,
    wedge_deg: float | Sequence[float] = 0.0,
    slip_mm: float | Sequence[float] = 0.0,
    angle_deg: float | Sequence[float] = 8.0,
    disc_posterior_mm: float | Sequence[float] = 7.0,
    sacral_slope_deg: float = 35.0,
    view: str = "neutral",
) -> LandmarkSet:
    """Build the corners of an analytic spine.

    Parameters
    ----------
    levels : sequence of str
        Adjacent levels, cranial to caudal; the last one gets only its superior endplate
        when it is S1.
    depth_mm : float or sequence
        Endplate depth of every body (or per level, cranial to caudal).
    height_mm : float or sequence
        Posterior body height (or per level, cranial to caudal).
    wedge_deg : float or sequence
        Signed angle from each body's inferior to its superior endplate (+ = taller
        anteriorly), per level.
    slip_mm, angle_deg, disc_posterior_mm : float or sequence
        Per motion segment (cranial to caudal): slip along the lower endplate (+ forwards),
        segmental angle (+ lordotic) and posterior disc height.
    sacral_slope_deg : float
        Tilt of the lowest superior endplate from the x axis (descending anteriorly).
    view : str
        View name of the result.

    Returns
    -------
    LandmarkSet
        In mm, magnification known; x anterior, y cranial.

    """
    n = len(levels)

    def per(value: float | Sequence[float], count: int) -> list[float]:
        if isinstance(value, (int, float)):
            return [float(value)] * count
        values = [float(v) for v in value]
        if len(values) != count:
            raise ValueError(f"expected {count} values, got {len(values)}")
        return values

    depth = per(depth_mm, n)
    heights = per(height_mm, n)
    wedge = per(wedge_deg, n)
    slips = per(slip_mm, n - 1)
    angles = per(angle_deg, n - 1)
    discs = per(disc_posterior_mm, n - 1)
    corners: dict[str, np.ndarray] = {}
    # lowest body: place its superior endplate; body below it if not S1
    e_sup = _rot(np.array([1.0, 0.0]), -sacral_slope_deg)  # S1 endplate descends anteriorly
    ps = np.array([0.0, 0.0])
    low = levels[-1]
    arr = np.full((4, 2), np.nan)
    arr[PS], arr[AS] = ps, ps + depth[-1] * e_sup
    if low != "S1":
        e_inf = _rot(e_sup, -wedge[-1])
        n_inf = np.array([-e_inf[1], e_inf[0]])
        arr[PI] = ps - heights[-1] * n_inf
        arr[AI] = arr[PI] + depth[-1] * e_inf
    corners[low] = arr
    for i in range(n - 2, -1, -1):
        lower = corners[levels[i + 1]]
        e_l = (lower[AS] - lower[PS]) / np.linalg.norm(lower[AS] - lower[PS])
        n_l = np.array([-e_l[1], e_l[0]])
        e_inf = _rot(e_l, angles[i])
        pi = lower[PS] + slips[i] * e_l + discs[i] * n_l
        n_inf = np.array([-e_inf[1], e_inf[0]])
        e_s = _rot(e_inf, wedge[i])
        arr = np.empty((4, 2))
        arr[PI], arr[AI] = pi, pi + depth[i] * e_inf
        arr[PS] = pi + heights[i] * n_inf
        arr[AS] = arr[PS] + depth[i] * e_s
        corners[levels[i]] = arr
    ordered = {lv: corners[lv] for lv in levels}
    return LandmarkSet(
        view=view,
        units="mm",
        vertebrae=ordered,
        vertebra_units={lv: "mm" for lv in levels},
        magnification_known=True,
        source="<phantom>",
    )


def transform(
    landmarks: LandmarkSet,
    *,
    rotation_deg: float = 0.0,
    scale: float = 1.0,
    shift: Sequence[float] = (0.0, 0.0),
    mirror: bool = False,
    units: str | None = None,
    pixel_spacing_mm: tuple[float, float] | None = None,
    magnification_known: bool | None = None,
) -> LandmarkSet:
    """Apply ``x -> scale * R(rotation) * M x + shift`` to every corner (``M`` flips y).

    Returns a new :class:`LandmarkSet`; ``units``/``pixel_spacing_mm`` relabel the result
    (e.g. to express mm corners as pixels).
    """
    t = np.radians(rotation_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    if mirror:
        rot = rot @ np.diag([1.0, -1.0])
    out = {
        lv: scale * arr @ rot.T + np.asarray(shift, float)
        for lv, arr in landmarks.vertebrae.items()
    }
    mids = {
        lv: scale * arr @ rot.T + np.asarray(shift, float)
        for lv, arr in landmarks.midpoints.items()
    }
    new_units = units or landmarks.units
    return LandmarkSet(
        midpoints=mids,
        view=landmarks.view,
        units=new_units,
        vertebrae=out,
        pixel_spacing_mm=pixel_spacing_mm,
        vertebra_units={lv: new_units for lv in out},
        magnification_known=(
            landmarks.magnification_known if magnification_known is None else magnification_known
        ),
        source=landmarks.source,
    )


def example_study() -> dict[str, LandmarkSet]:
    """Synthetic lateral films of a grade I L4-L5 degenerative spondylolisthesis.

    Neutral, flexion and extension views as digitised on a radiograph (pixels of 0.143 mm,
    y down, patient facing left, magnification not corrected; corners rounded to 0.1 px).
    Truth (before rounding): L4-L5 slip 6 mm neutral, 8.5 mm flexion, 4 mm extension
    (translation 4.5 mm = 10.7 % of a 42 mm endplate) and 11 deg of segmental ROM; the other
    segments move 0-1 mm. Used by the bundled examples and the demo.

    Returns
    -------
    dict of str to LandmarkSet
        Keys ``neutral``, ``flexion``, ``extension``.

    """
    common: dict[str, Any] = {
        "levels": ("L1", "L2", "L3", "L4", "L5", "S1"),
        "depth_mm": [38.0, 39.0, 41.0, 42.0, 42.0, 44.0],
        "wedge_deg": [2.0, 1.5, 1.0, 1.0, 4.0, 0.0],
        "disc_posterior_mm": [6.0, 6.5, 7.0, 6.0, 6.0],
        "height_mm": 27.0,
    }
    truth = {
        "neutral": ([0.0, 0.5, 1.0, 6.0, 1.0], [4.0, 6.0, 8.0, 9.0, 14.0], 38.0),
        "flexion": ([0.5, 1.0, 1.5, 8.5, 1.5], [-1.0, 0.0, 2.0, 3.0, 9.0], 28.0),
        "extension": ([0.0, 0.5, 1.0, 4.0, 1.0], [7.0, 9.0, 11.0, 14.0, 17.0], 44.0),
    }
    spacing = 0.143
    out = {}
    for view, (slips, angles, slope) in truth.items():
        spine = build_spine(
            slip_mm=slips, angle_deg=angles, sacral_slope_deg=slope, view=view, **common
        )
        film = transform(
            spine,
            rotation_deg=180.0,
            scale=1.0 / spacing,
            shift=(1400.0, 1500.0),
            units="px",
            pixel_spacing_mm=(spacing, spacing),
            magnification_known=False,
        )
        corners = {lv: np.round(arr, 1) for lv, arr in film.vertebrae.items()}
        out[view] = LandmarkSet(
            view=view,
            units="px",
            vertebrae=corners,
            pixel_spacing_mm=(spacing, spacing),
            vertebra_units={lv: "px" for lv in corners},
            magnification_known=False,
            source=f"example:{view}",
        )
    return out


__all__ += ["example_study"]


def _body_membership(
    points: np.ndarray,
    quad: np.ndarray,
    *,
    concavity_mm: float,
    corner_radius_mm: float,
    waist_mm: float,
) -> np.ndarray:
    """Whether ``points`` (n, 2) lie in a vertebral body shaped on the corner quadrilateral.

    The body is the quadrilateral AS-PS-PI-AI with concave endplates (a smooth bowl of depth
    ``concavity_mm`` between flat rims over the outer 15 % at each end, like the ring
    apophysis), a concave anterior wall (waist of ``waist_mm``) and corners rounded with
    ``corner_radius_mm``. The corners of the quadrilateral stay the rim corners: the lines
    through the rims meet there.
    """
    inside = np.ones(len(points), bool)
    # edges in order around the outline with the interior on one side; depth profile per edge
    edges = ((PS, AS, concavity_mm), (AS, AI, waist_mm), (AI, PI, concavity_mm), (PI, PS, 0.0))
    centre = quad.mean(axis=0)
    dist = []
    for a, b, dip in edges:
        e = quad[b] - quad[a]
        length = np.linalg.norm(e)
        e = e / length
        n = np.array([-e[1], e[0]])
        if (centre - quad[a]) @ n < 0:
            n = -n
        t = ((points - quad[a]) @ e) / length
        h = (points - quad[a]) @ n  # distance inside the edge line
        bowl = np.where((t > 0.15) & (t < 0.85), np.sin(np.pi * (t - 0.15) / 0.7) ** 2 * dip, 0.0)
        inside &= h >= bowl
        dist.append(h)
    if corner_radius_mm > 0:
        r = corner_radius_mm
        d = np.stack(dist, axis=1)  # distance inside each edge line
        for i in range(4):
            j = (i - 1) % 4  # the two edges meeting at a corner
            near = (d[:, i] < r) & (d[:, j] < r)
            # inside the rounded corner: within r of the point r inside both edges
            inside &= ~near | ((r - d[:, i]) ** 2 + (r - d[:, j]) ** 2 <= r**2)
    return inside


def rasterise_spine(
    spine: LandmarkSet,
    *,
    voxel_mm: float,
    labels: dict[str, int],
    width_mm: float = 30.0,
    concavity_mm: float | Mapping[str, float] = 2.0,
    corner_radius_mm: float = 2.0,
    waist_mm: float = 1.0,
    supersample: int = 4,
    s1_height_mm: float = 25.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Label volume of realistic vertebral bodies built on a spine's corners (RAS, mm).

    Each body (see :func:`_body_membership`) is a prism ``width_mm`` wide (left-right).
    A voxel is labelled when at least half of its ``supersample**2`` in-plane sub-samples
    are inside, like a segmentation at that voxel size. S1 gets a body of ``s1_height_mm``
    below its superior endplate.

    Parameters
    ----------
    spine : LandmarkSet
        Corners in mm, x anterior and y cranial (as from :func:`build_spine`).
    voxel_mm : float
        Isotropic voxel size.
    labels : dict of str to int
        Level -> label value.
    width_mm : float
        Left-right width of every body.
    concavity_mm : float or mapping of str to float
        Endplate bowl depth (or per level, 0 where a level is not listed).
    corner_radius_mm, waist_mm : float
        Corner rounding radius and anterior waist depth.
    supersample : int
        In-plane sub-samples per voxel side.
    s1_height_mm : float
        Height of the S1 body below its superior endplate.

    Returns
    -------
    volume : (X, Y, Z) int16 ndarray
        Axes: left-right, posterior-anterior, inferior-superior.
    affine : (4, 4) ndarray
        Voxel to world (RAS+ mm); world y = phantom x, world z = phantom y.

    """
    quads = {}
    for level, arr in spine.vertebrae.items():
        arr = np.array(arr, float)
        if np.isnan(arr).any():  # S1: a body below its superior endplate
            e = (arr[AS] - arr[PS]) / np.linalg.norm(arr[AS] - arr[PS])
            n = np.array([e[1], -e[0]])
            arr[PI], arr[AI] = arr[PS] + s1_height_mm * n, arr[AS] + s1_height_mm * n
        quads[level] = arr
    allpts = np.vstack(list(quads.values()))
    lo = np.floor((allpts.min(axis=0) - 10) / voxel_mm) * voxel_mm
    hi = allpts.max(axis=0) + 10
    ny, nz = (np.ceil((hi - lo) / voxel_mm)).astype(int)
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    yy = lo[0] + (np.arange(ny)[:, None] + sub[None, :]) * voxel_mm  # (ny, s)
    zz = lo[1] + (np.arange(nz)[:, None] + sub[None, :]) * voxel_mm
    py = np.broadcast_to(yy[:, None, :, None], (ny, nz, supersample, supersample))
    pz = np.broadcast_to(zz[None, :, None, :], (ny, nz, supersample, supersample))
    pts = np.stack([py.ravel(), pz.ravel()], axis=1)
    plane = np.zeros((ny, nz), np.int16)
    for level, quad in quads.items():
        inside = _body_membership(
            pts,
            quad,
            concavity_mm=(
                float(concavity_mm.get(level, 0.0))
                if isinstance(concavity_mm, Mapping)
                else concavity_mm
            ),
            corner_radius_mm=corner_radius_mm,
            waist_mm=waist_mm,
        ).reshape(ny, nz, -1)
        plane[inside.mean(axis=2) >= 0.5] = labels[level]
    nx = max(1, round(width_mm / voxel_mm))
    volume = np.repeat(plane[None], nx, axis=0)
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = [-(nx - 1) * voxel_mm / 2, lo[0], lo[1]]
    return volume, affine


__all__ += ["rasterise_spine"]


def analytic_vertebrae(
    heights_mm: dict[str, tuple[float, float | None, float]],
    *,
    depth_mm: float = 40.0,
    disc_mm: float = 8.0,
    view: str = "neutral",
) -> LandmarkSet:
    """Build a column of vertebral bodies with known anterior, middle, posterior heights.

    Each body stands on a flat inferior endplate (x anterior, y cranial, mm): ``PI`` at
    ``(0, y0)``, ``AI`` at ``(depth, y0)``, ``PS`` at ``(0, y0 + Hp)``, ``AS`` at
    ``(depth, y0 + Ha)``; the endplate mid-points lie at ``x = depth / 2``, each endplate
    bowed in by the same depth so that their distance is exactly ``Hm``. Bodies are stacked
    cranial to caudal with ``disc_mm`` between them.

    Parameters
    ----------
    heights_mm : dict of str to (float, float or None, float)
        ``(Ha, Hm, Hp)`` per level, cranial to caudal; ``Hm`` None gives no mid-points.
    depth_mm : float
        Endplate depth of every body.
    disc_mm : float
        Gap between bodies.
    view : str
        View name of the result.

    Returns
    -------
    LandmarkSet
        In mm, magnification known.

    """
    corners: dict[str, np.ndarray] = {}
    mids: dict[str, np.ndarray] = {}
    y0 = 0.0
    for level, (ha, hm, hp) in reversed(list(heights_mm.items())):
        arr = np.array([[depth_mm, y0 + ha], [0.0, y0 + hp], [0.0, y0], [depth_mm, y0]])
        corners[level] = arr
        if hm is not None:
            dip = ((ha + hp) / 2 - hm) / 2
            mids[level] = np.array(
                [[depth_mm / 2, y0 + (ha + hp) / 2 - dip], [depth_mm / 2, y0 + dip]]
            )
        y0 += max(ha, hp) + disc_mm
    order = list(heights_mm)
    return LandmarkSet(
        view=view,
        units="mm",
        vertebrae={lv: corners[lv] for lv in order},
        vertebra_units={lv: "mm" for lv in order},
        magnification_known=True,
        source="<analytic vertebrae>",
        midpoints={lv: mids[lv] for lv in order if lv in mids},
    )


def to_pixels(
    landmarks: LandmarkSet, *, pixel_spacing_mm: tuple[float, float], y_down: bool = True
) -> LandmarkSet:
    """Express mm landmarks as pixels of a (possibly non-square) grid.

    ``x_px = x_mm / column_spacing`` and ``y_px = -y_mm / row_spacing`` (image rows run
    down when ``y_down``); ``pixel_spacing_mm`` is ``(row, column)`` as in DICOM.
    """
    row, col = pixel_spacing_mm
    scale = np.array([1.0 / col, (-1.0 if y_down else 1.0) / row])
    return LandmarkSet(
        view=landmarks.view,
        units="px",
        vertebrae={lv: arr * scale for lv, arr in landmarks.vertebrae.items()},
        pixel_spacing_mm=(row, col),
        vertebra_units={lv: "px" for lv in landmarks.vertebrae},
        magnification_known=landmarks.magnification_known,
        source=landmarks.source,
        midpoints={lv: arr * scale for lv, arr in landmarks.midpoints.items()},
    )
