"""Synthetic lateral films with known corners (for the landmark tool's tests and benchmark).

:func:`render_film` paints the vertebral bodies of a :class:`LandmarkSet` in pixels as bright
quadrilaterals (anti-aliased by supersampling) on a darker soft-tissue background, so that a
reader (a person, or a test's scripted clicks) can place the corners on the edges; the
truth is the set itself. :func:`study_films` gives the three views of
:func:`~spinestab.instability.phantom.example_study`'s spine at a chosen pixel size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinestab.instability.landmarks import LandmarkSet
from spinestab.instability.phantom import build_spine, transform

__all__ = ["FilmPhantom", "render_film", "study_films"]

#: Truth of the example study (``phantom.example_study``): slips (mm) and segmental angles
#: (deg) per segment, cranial to caudal, and the sacral slope, per view.
STUDY_TRUTH: dict[str, tuple[list[float], list[float], float]] = {
    "neutral": ([0.0, 0.5, 1.0, 6.0, 1.0], [4.0, 6.0, 8.0, 9.0, 14.0], 38.0),
    "flexion": ([0.5, 1.0, 1.5, 8.5, 1.5], [-1.0, 0.0, 2.0, 3.0, 9.0], 28.0),
    "extension": ([0.0, 0.5, 1.0, 4.0, 1.0], [7.0, 9.0, 11.0, 14.0, 17.0], 44.0),
}
_COMMON: dict[str, Any] = {
    "levels": ("L1", "L2", "L3", "L4", "L5", "S1"),
    "depth_mm": [38.0, 39.0, 41.0, 42.0, 42.0, 44.0],
    "wedge_deg": [2.0, 1.5, 1.0, 1.0, 4.0, 0.0],
    "disc_posterior_mm": [6.0, 6.5, 7.0, 6.0, 6.0],
    "height_mm": 27.0,
}
#: Depth (mm) drawn below S1's superior endplate, which has no inferior corners.
SACRUM_DEPTH_MM = 30.0


@dataclass(frozen=True)
class FilmPhantom:
    """One synthetic film: pixels (uint8, rows x columns) and the true corners in pixels."""

    pixels: np.ndarray
    landmarks: LandmarkSet
    pixel_spacing_mm: float


def _inside_convex(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Whether each ``(x, y)`` point lies inside the convex polygon ``quad`` (any winding)."""
    inside_pos = np.ones(len(points), dtype=bool)
    inside_neg = np.ones(len(points), dtype=bool)
    for a, b in zip(quad, np.roll(quad, -1, axis=0), strict=True):
        cross = (b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])
        inside_pos &= cross >= 0
        inside_neg &= cross <= 0
    return inside_pos | inside_neg


def _body_polygon(corners: np.ndarray, sacrum_px: float) -> np.ndarray:
    """Return the body outline; S1 (no inferior corners) gets a block below its endplate."""
    if not np.isnan(corners).any():
        return corners
    top_a, top_p = corners[0], corners[1]
    along = (top_a - top_p) / np.linalg.norm(top_a - top_p)
    normal = np.array([-along[1], along[0]])
    if normal[1] < 0:  # caudal = down the film (rows grow downwards)
        normal = -normal
    return np.array([top_a, top_p, top_p + normal * sacrum_px, top_a + normal * sacrum_px])


def render_film(
    landmarks: LandmarkSet,
    *,
    shape: tuple[int, int],
    pixel_spacing_mm: float,
    supersample: int = 4,
    body: int = 200,
    background: int = 60,
) -> np.ndarray:
    """Paint the vertebral bodies of ``landmarks`` (in pixels) on a film.

    Parameters
    ----------
    landmarks : LandmarkSet
        Corners in pixels (x = column, y = row; pixel centres at whole numbers).
    shape : (int, int)
        ``(rows, columns)``.
    pixel_spacing_mm : float
        Pixel size; sizes S1's block below its endplate.
    supersample : int
        Sub-samples per pixel side (edge anti-aliasing).
    body, background : int
        Grey values 0-255.

    Returns
    -------
    (rows, columns) ndarray of uint8

    """
    rows, cols = shape
    n = supersample
    offsets = (np.arange(n) + 0.5) / n - 0.5
    coverage = np.zeros(shape, dtype=np.float32)
    for corners in landmarks.vertebrae.values():
        if np.isnan(corners).all():
            continue
        poly = _body_polygon(np.asarray(corners, float), SACRUM_DEPTH_MM / pixel_spacing_mm)
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cols), min(y1, rows)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        sub_x = (xs[..., None, None] + offsets[None, None, None, :]).repeat(n, axis=2)
        sub_y = (ys[..., None, None] + offsets[None, None, :, None]).repeat(n, axis=3)
        points = np.stack([sub_x.ravel(), sub_y.ravel()], axis=1)
        hits = _inside_convex(points, poly).reshape(y1 - y0, x1 - x0, n * n).mean(axis=2)
        coverage[y0:y1, x0:x1] = np.maximum(coverage[y0:y1, x0:x1], hits)
    film = background + (body - background) * coverage
    return np.clip(np.rint(film), 0, 255).astype(np.uint8)


def study_films(
    *, pixel_spacing_mm: float = 0.3, margin_mm: float = 30.0
) -> dict[str, FilmPhantom]:
    """Return the three views of the example study's spine as films at ``pixel_spacing_mm``.

    The spine faces left (anterior = -x), y runs down the film as on a radiograph. Truth:
    :data:`STUDY_TRUTH` (e.g. L4-L5 slip 6 mm neutral, translation 4.5 mm, ROM 11 deg).
    """
    films = {}
    for view, (slips, angles, slope) in STUDY_TRUTH.items():
        spine = build_spine(
            slip_mm=slips, angle_deg=angles, sacral_slope_deg=slope, view=view, **_COMMON
        )
        pts = np.concatenate([a[~np.isnan(a).any(axis=1)] for a in spine.vertebrae.values()])
        # mirror in x (patient facing left) and y (rows grow downwards) = rotate by 180 deg
        lo = -pts.max(axis=0) - margin_mm
        px = transform(
            spine,
            rotation_deg=180.0,
            scale=1.0 / pixel_spacing_mm,
            shift=(-lo[0] / pixel_spacing_mm, -lo[1] / pixel_spacing_mm),
            units="px",
            pixel_spacing_mm=(pixel_spacing_mm, pixel_spacing_mm),
            magnification_known=True,
        )
        films[view] = px
    size = np.max(
        [np.nanmax(np.concatenate(list(f.vertebrae.values())), axis=0) for f in films.values()],
        axis=0,
    )
    shape = (
        int(size[1] + margin_mm / pixel_spacing_mm),
        int(size[0] + margin_mm / pixel_spacing_mm),
    )
    return {
        view: FilmPhantom(
            pixels=render_film(ls, shape=shape, pixel_spacing_mm=pixel_spacing_mm),
            landmarks=ls,
            pixel_spacing_mm=pixel_spacing_mm,
        )
        for view, ls in films.items()
    }
