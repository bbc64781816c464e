"""Autocalibration (van Hees et al. 2014) and stillness on per-second features.

Autocalibration fits a per-axis offset and gain so that still seconds have a magnitude of
1 g (van Hees VT et al., J Appl Physiol 2014;117:738-744 [R]). It needs still gravity
readings on both sides of every axis (beyond +-0.3 g); a trunk sensor that is never
upside down rarely has them, and then calibration is skipped and the status says so.
Non-wear, which builds on the same stillness, is :mod:`spinestab.wearable.nonwear`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spinestab.wearable.config import WearableConfig

__all__ = ["Calibration", "autocalibrate", "still_mask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Result of the autocalibration.

    Attributes
    ----------
    status : str
        ``"ok"``, ``"skipped: ..."`` or ``"rejected: ..."``.
    offset_g, gain : (3,) ndarrays
        Corrected reading = offset + gain * reading (identity when not ``ok``).
    error_before_g, error_after_g : float
        Mean absolute deviation of still magnitudes from 1 g.
    n_points : int
        Still seconds used.

    """

    status: str
    offset_g: np.ndarray
    gain: np.ndarray
    error_before_g: float
    error_after_g: float
    n_points: int

    def apply(self, g: np.ndarray) -> np.ndarray:
        """Apply the calibration to (S, 3) readings."""
        if not self.status.startswith("ok"):
            return g
        return (self.offset_g + self.gain * g).astype(np.float32)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "status": self.status,
            "offset_g": np.round(self.offset_g, 5).tolist(),
            "gain": np.round(self.gain, 5).tolist(),
            "error_before_g": round(self.error_before_g, 5),
            "error_after_g": round(self.error_after_g, 5),
            "n_points": self.n_points,
        }


def still_mask(sd: np.ndarray, cfg: WearableConfig) -> np.ndarray:
    """Still seconds: total SD below ``still_sd_g * sqrt(3)`` (the per-axis limit on 3 axes)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(sd, nan=np.inf) < cfg.still_sd_g * np.sqrt(3.0)


def autocalibrate(
    g: np.ndarray,
    still: np.ndarray,
    *,
    max_points: int = 3000,
    iterations: int = 50,
    min_side_g: float = 0.3,
    accept_error_g: float = 0.01,
    min_spread: float = 0.02,
    max_gain_change: float = 0.1,
    max_offset_g: float = 0.2,
) -> Calibration:
    """Fit offset and gain per axis on still seconds (van Hees 2014).

    Parameters
    ----------
    g : (S, 3) ndarray
        Mean acceleration per second, g.
    still : (S,) bool ndarray
        Still (and worn) seconds.
    max_points : int, keyword-only
        Still seconds used at most (evenly spread).
    iterations : int, keyword-only
        Most Gauss-Newton iterations (it converges in a few).
    min_side_g : float, keyword-only
        van Hees' criterion: every axis has still readings beyond +- this value.
    min_spread : float, keyword-only
        Where that criterion fails, the fit is still tried if the still directions span
        3-D space: the smallest eigenvalue of their scatter matrix is at least this [D]
        (lying on the back, front and sides gives this for a trunk sensor). The result
        is kept only under the same error test and within ``max_gain_change`` and
        ``max_offset_g`` of the identity, and its status says "partial coverage".
    accept_error_g : float, keyword-only
        The fit is kept only if the mean error drops below this and improves.
    max_gain_change, max_offset_g : float, keyword-only
        Plausibility limits of a kept fit.

    Returns
    -------
    Calibration

    """
    ident = (np.zeros(3), np.ones(3))
    pts = np.asarray(g)[np.asarray(still, bool)].astype(np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if pts.shape[0] > max_points:
        pts = pts[np.linspace(0, pts.shape[0] - 1, max_points).astype(int)]
    n = int(pts.shape[0])
    err0 = float(np.mean(np.abs(np.linalg.norm(pts, axis=1) - 1.0))) if n else float("nan")
    if n < 30:
        return Calibration("skipped: fewer than 30 still seconds", *ident, err0, err0, n)
    covered = (pts.max(axis=0) > min_side_g) & (pts.min(axis=0) < -min_side_g)
    u = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    spread = float(np.linalg.eigvalsh(u.T @ u / n)[0])
    partial = not covered.all()
    if partial and spread < min_spread:
        return Calibration(
            f"skipped: still readings do not reach +-{min_side_g} g on every axis and span "
            f"too few directions (smallest eigenvalue {spread:.3f} < {min_spread})",
            *ident,
            err0,
            err0,
            n,
        )
    # van Hees' objective (still readings on the unit sphere after offset + gain),
    # minimised by damped Gauss-Newton on the radial residuals |offset + gain * p| - 1;
    # the damping keeps directions the data cannot determine at the identity
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    damping = 1e-4 * n
    for _ in range(iterations):
        c = x[:3] + x[3:] * pts
        r_norm = np.linalg.norm(c, axis=1)
        res = r_norm - 1.0
        jac = np.hstack([c / r_norm[:, None], c * pts / r_norm[:, None]])
        lhs = jac.T @ jac + damping * np.eye(6)
        step = np.linalg.solve(lhs, -(jac.T @ res))
        x = x + step
        if np.abs(step).max() < 1e-9:
            break
    offset, gain = x[:3], x[3:]
    err1 = float(np.mean(np.abs(np.linalg.norm(offset + gain * pts, axis=1) - 1.0)))
    plausible = np.abs(gain - 1.0).max() <= max_gain_change and np.abs(offset).max() <= max_offset_g
    if not (err1 < accept_error_g and err1 < err0 and plausible):
        why = (
            ""
            if plausible
            else f" (fit implausible: gain change > {max_gain_change:g} or offset > "
            f"{max_offset_g:g} g)"
        )
        return Calibration(
            f"rejected: error {err0:.4f} -> {err1:.4f} g{why}", *ident, err0, err1, n
        )
    status = "ok (partial coverage)" if partial else "ok"
    return Calibration(status, offset, gain, err0, err1, n)
