"""Sensor orientation: the upright reference, the forward direction and body angles.

The sensor may be worn in any rotation. The *upright* direction (gravity as the sensor sees
it when the segment is upright) is the mean direction during walking, as in Acti4 /
acti-motus (Skotte et al. 2014 [R]), or during a declared standing period. The *forward*
direction is where gravity leans when the trunk bends: the mean horizontal component of
the gravity direction in bends and forward-leaning sitting (people bend forward far more
than backward or sideways) [D]. Comparing both with the nominal mounting axes tells
upside-down and inside-out mountings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Orientation",
    "body_angles",
    "dot3",
    "estimate_orientation",
    "mean_direction",
    "unit_rows",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Orientation:
    """Reference orientation of one sensor in its own frame.

    Attributes
    ----------
    up : (3,) float64 ndarray
        Unit gravity direction when the segment is upright.
    forward : (3,) float64 ndarray
        Unit anterior direction, orthogonal to ``up``.
    up_source : str
        ``"walking"``, ``"standing period"`` or ``"nominal"``.
    forward_source : str
        ``"bends"`` or ``"nominal"``.
    upside_down : bool
        The upright direction is opposite to the nominal up axis.
    inside_out : bool
        The forward direction is opposite to the nominal anterior axis.
    n_reference_s : int
        Seconds the upright reference was averaged over.

    """

    up: np.ndarray
    forward: np.ndarray
    up_source: str
    forward_source: str
    upside_down: bool
    inside_out: bool
    n_reference_s: int

    @property
    def right(self) -> np.ndarray:
        """Unit direction to the wearer's right (``forward x up``)."""
        return np.cross(self.forward, self.up)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary."""
        return {
            "up": np.round(self.up, 6).tolist(),
            "forward": np.round(self.forward, 6).tolist(),
            "up_source": self.up_source,
            "forward_source": self.forward_source,
            "upside_down": self.upside_down,
            "inside_out": self.inside_out,
            "n_reference_s": self.n_reference_s,
        }


def dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products of 3-vectors along the last axis, added in a fixed order.

    Element by element, so a row gives the same bits alone, in a recording, or beside other
    streams' rows (:mod:`spinestab.wearable.engine`); a matrix product does not promise that.
    """
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def unit_rows(g: np.ndarray) -> np.ndarray:
    """Normalise rows of ``g`` (S, 3) to unit length (NaN rows stay NaN)."""
    n = np.sqrt(dot3(g, g))[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return g / n


def mean_direction(u: np.ndarray, *, trim_deg: float = 30.0) -> np.ndarray | None:
    """Mean direction of unit vectors ``u`` (S, 3), refined once without outliers."""
    u = u[np.isfinite(u).all(axis=1)]
    if u.shape[0] == 0:
        return None
    m = u.mean(axis=0)
    if np.linalg.norm(m) < 1e-6:
        return None
    m = m / np.linalg.norm(m)
    keep = u @ m >= np.cos(np.radians(trim_deg))
    if keep.sum() >= max(3, 0.5 * u.shape[0]):
        m = u[keep].mean(axis=0)
        m = m / np.linalg.norm(m)
    return m


def _orthogonal(v: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    h = v - (v @ up) * up
    n = np.linalg.norm(h)
    return None if n < 1e-6 else h / n


def estimate_orientation(
    g_unit: np.ndarray,
    *,
    walking: np.ndarray,
    standing: np.ndarray | None = None,
    nominal_up: tuple[float, float, float] = (1.0, 0.0, 0.0),
    nominal_forward: tuple[float, float, float] = (0.0, 0.0, 1.0),
    forward_candidates: np.ndarray | None = None,
    min_reference_s: int = 10,
    min_forward_resultant: float = 0.3,
) -> Orientation:
    """Estimate the upright and forward directions of a sensor.

    Parameters
    ----------
    g_unit : (S, 3) ndarray
        Unit gravity direction per second.
    walking : (S,) bool ndarray, keyword-only
        Seconds of walking (the Acti4 reference).
    standing : (S,) bool ndarray, optional, keyword-only
        A declared standing period; used instead of walking when given.
    nominal_up, nominal_forward : tuple of float, keyword-only
        The axes that point up and forward when the sensor is worn as intended.
    forward_candidates : (S,) bool ndarray, optional, keyword-only
        Seconds that may show forward lean (not lying, not walking); default all.
    min_reference_s : int, keyword-only
        Fewest reference seconds needed; otherwise the nominal axis is used.
    min_forward_resultant : float, keyword-only
        Mean resultant length below which the lean directions are too spread to tell
        forward; the nominal axis is used then.

    Returns
    -------
    Orientation

    """
    nom_up = np.asarray(nominal_up, float) / np.linalg.norm(nominal_up)
    nom_fw = np.asarray(nominal_forward, float) / np.linalg.norm(nominal_forward)
    ref_mask = standing if standing is not None and standing.sum() >= min_reference_s else walking
    source = "standing period" if ref_mask is standing else "walking"
    up = None
    n_ref = int(ref_mask.sum())
    if n_ref >= min_reference_s:
        up = mean_direction(g_unit[ref_mask])
    if up is None:
        log.warning("no walking or standing reference: nominal up axis used")
        up, source, n_ref = nom_up, "nominal", 0
    # forward: where gravity leans (the horizontal part points backward in the sensor
    # frame when the trunk bends forward), from seconds leaning 15-75 deg
    cand = np.ones(g_unit.shape[0], bool) if forward_candidates is None else forward_candidates
    cosang = g_unit @ up
    with np.errstate(invalid="ignore"):
        lean = cand & (cosang < np.cos(np.radians(15))) & (cosang > np.cos(np.radians(75)))
    fw, fsrc = None, "nominal"
    if lean.sum() >= min_reference_s:
        h = g_unit[lean] - np.outer(cosang[lean], up)
        h = unit_rows(h)
        h = h[np.isfinite(h).all(axis=1)]
        m = -h.mean(axis=0)
        if np.linalg.norm(m) >= min_forward_resultant:
            fw = _orthogonal(m, up)
            fsrc = "bends"
    if fw is None:
        fw = _orthogonal(nom_fw, up)
        if fw is None:  # nominal forward parallel to up: any orthogonal axis
            fw = _orthogonal(np.roll(nom_fw, 1), up)
        fsrc = "nominal"
    return Orientation(
        up=up,
        forward=fw,  # type: ignore[arg-type]
        up_source=source,
        forward_source=fsrc,
        upside_down=bool(up @ nom_up < -0.5),
        inside_out=bool(fsrc == "bends" and fw @ nom_fw < -0.5),
        n_reference_s=n_ref,
    )


def body_angles(g: np.ndarray, orient: Orientation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inclination, forward and lateral angles per second, degrees.

    Parameters
    ----------
    g : (S, 3) ndarray
        Mean acceleration (gravity) per second.
    orient : Orientation
        Reference directions.

    Returns
    -------
    inclination, forward, lateral : (S,) float32 ndarrays
        Angle from upright (0-180); signed sagittal angle (positive = forward flexion);
        signed frontal angle (positive = lean to the right).

    """
    u = unit_rows(np.asarray(g, np.float64))
    cu = dot3(u, orient.up)
    cf = dot3(u, orient.forward)
    cr = dot3(u, orient.right)
    with np.errstate(invalid="ignore"):
        inc = np.degrees(np.arccos(np.clip(cu, -1.0, 1.0)))
    fwd = np.degrees(np.arctan2(-cf, cu))
    lat = np.degrees(np.arctan2(-cr, cu))
    return inc.astype(np.float32), fwd.astype(np.float32), lat.astype(np.float32)
