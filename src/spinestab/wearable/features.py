"""Per-second features of a tri-axial recording, computed chunk by chunk.

Each second of samples is averaged into ``nsub`` sub-bins (a boxcar low-pass and
decimation to 25 Hz for 50/100/200 Hz input); the mean of a second is its gravity estimate.
Only per-second arrays and the decimated vertical signal are kept, so memory stays
bounded by the chunk size on multi-day files.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.recording import Recording, processing_rate, recording_from_times

__all__ = ["SecondFeatures", "compute_features", "processing_rate", "second_features"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecondFeatures:
    """Per-second features of one sensor.

    Attributes
    ----------
    start_unix_s : float
        Time of the start of second 0.
    g : (S, 3) float32 ndarray
        Mean acceleration per second (gravity estimate), g. NaN where missing.
    sd : (S,) float32 ndarray
        Total SD within the second, ``sqrt(trace(cov))``, g.
    vert : (S, nsub) float32 ndarray or None
        Dynamic acceleration along the second's gravity direction, decimated to ``nsub`` Hz,
        g (kept for the trunk sensor only).
    idle : (S,) bool ndarray or None
        More than half of the second was filled in by the device's idle-sleep mode (still,
        not missing).
    temperature_c : (S,) float32 ndarray or None
        Device temperature at the middle of each second (interpolated between the device's
        readings), where the device records one.
    missing : (S,) bool ndarray
        More than half of the second was not measured (gap, NaN).
    clipped : (S,) bool ndarray
        The second holds samples at the sensor's range limit.
    nsub : int
        Sub-bins per second.

    """

    start_unix_s: float
    g: np.ndarray
    sd: np.ndarray
    vert: np.ndarray | None
    missing: np.ndarray
    clipped: np.ndarray
    nsub: int
    idle: np.ndarray | None = None
    temperature_c: np.ndarray | None = None

    @property
    def n_seconds(self) -> int:
        """Number of seconds."""
        return int(self.g.shape[0])


def _nsub(fs: int) -> int:
    for k in (25, 10):
        if fs % k == 0:
            return k
    return 1


@functools.lru_cache(maxsize=16)
def _block_mean_matrix(k: int) -> np.ndarray:
    """(3k, 3) matrix averaging k consecutive (x, y, z) samples (cached, read-only)."""
    m = np.tile(np.eye(3, dtype=np.float32) / np.float32(k), (k, 1))
    m.setflags(write=False)
    return m


def second_features(
    a: np.ndarray, *, fs: int, nsub: int, keep_vert: bool, clip_g: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Compute features for a chunk of whole seconds.

    Block means are matrix products (BLAS) and sums of squares ``einsum`` reductions, so a
    chunk is read about three times and no full-size temporary is made.

    Parameters
    ----------
    a : (S * fs, 3) float32 ndarray
        Samples in g (NaN where missing).
    fs : int, keyword-only
        Samples per second.
    nsub : int, keyword-only
        Sub-bins per second (divides ``fs``).
    keep_vert : bool, keyword-only
        Return the decimated vertical dynamic acceleration.
    clip_g : float or None, keyword-only
        Absolute value at or above which a sample counts as clipped.

    Returns
    -------
    tuple
        ``(g, sd, vert, nan_frac, clipped)`` with shapes (S, 3), (S,), (S, nsub) or None,
        (S,), (S,). ``sd`` is the total SD, ``sqrt(trace(cov))``, within the second.

    """
    s = a.shape[0] // fs
    a = np.ascontiguousarray(a[: s * fs], dtype=np.float32)
    k = fs // nsub
    # sums of squares first: a NaN anywhere shows in them, so no separate NaN pass is needed
    sq = np.einsum("ij,ij->i", a.reshape(s, 3 * fs), a.reshape(s, 3 * fs)) / np.float32(fs)
    if np.isfinite(sq).all():
        nan_frac = np.zeros(s, np.float32)
        if keep_vert:
            sub = (a.reshape(-1, 3 * k) @ _block_mean_matrix(k)).reshape(s, nsub, 3)
            g = sub.reshape(s, 3 * nsub) @ _block_mean_matrix(nsub)
        else:  # no sub-bins needed: one block mean per second
            g = a.reshape(s, 3 * fs) @ _block_mean_matrix(fs)
    else:
        x = a.reshape(s, fs, 3)
        finite = np.isfinite(x).all(axis=2)
        nan_frac = 1.0 - finite.mean(axis=1, dtype=np.float32)
        w = finite.astype(np.float32)
        xz = np.where(finite[..., None], x, np.float32(0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            sub = (
                xz.reshape(s, nsub, k, 3).sum(axis=2) / w.reshape(s, nsub, k).sum(axis=2)[..., None]
            )
            cnt = w.sum(axis=1)
            g = xz.sum(axis=1) / cnt[:, None]
            sq = np.einsum("ijk,ijk->i", xz, xz) / cnt
        sub = np.where(np.isfinite(sub), sub, g[:, None, :])
    var = sq - np.einsum("ij,ij->i", g, g)
    sd = np.sqrt(np.maximum(var, 0.0))
    vert = None
    if keep_vert:
        norm = np.linalg.norm(g, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = g / np.where(norm > 0, norm, 1.0)
        vert = np.nan_to_num(np.einsum("ijk,ik->ij", sub - g[:, None, :], u)).astype(np.float32)
    clipped = np.zeros(s, bool)
    if clip_g is not None:
        with np.errstate(invalid="ignore"):
            if np.nanmax(a) >= clip_g or np.nanmin(a) <= -clip_g:
                flat = a.reshape(s, fs * 3)
                clipped = (np.nanmax(flat, axis=1) >= clip_g) | (np.nanmin(flat, axis=1) <= -clip_g)
    return g.astype(np.float32), sd.astype(np.float32), vert, nan_frac, clipped


def _clip_level(rec: Recording, fs: int) -> float | None:
    """Find the sensor's range limit: the largest |value| if it is hit repeatedly (>= 2 g)."""
    probe = rec.read(0, min(rec.n_samples, fs * 3600 * 6))
    with np.errstate(invalid="ignore"):
        m = float(np.nanmax(np.abs(probe))) if np.isfinite(probe).any() else 0.0
    if m < 2.0:
        return None
    hits = int((np.abs(probe) >= m * 0.999).sum())
    return m * 0.999 if hits >= 3 else None


def _recheck_clipping(
    rec: Recording,
    fs: int,
    chunk_s: int,
    chunk_amax: np.ndarray,
    clip_g: float | None,
    clipped: np.ndarray,
) -> None:
    """Flag clipping found after the first hours (the probe reads only those), in place.

    The range limit is the largest |value| of the whole recording when at least 3 samples
    reach it (the probe's rule, applied to all of it); only chunks that reach it are read
    again.
    """
    m = float(chunk_amax.max()) if chunk_amax.size else 0.0
    if m < 2.0 or (clip_g is not None and m * 0.999 <= clip_g):
        return
    level = m * 0.999
    hot = np.flatnonzero(chunk_amax >= level)
    nsec = clipped.size
    hits, flags = 0, []
    for k in hot.tolist():
        s0, s1 = k * chunk_s, min(nsec, (k + 1) * chunk_s)
        x = np.abs(rec.read(s0 * fs, s1 * fs)[: (s1 - s0) * fs]).reshape(s1 - s0, -1)
        with np.errstate(invalid="ignore"):
            at = np.nan_to_num(x, nan=0.0) >= level
        hits += int(at.sum())
        flags.append((s0, s1, at.any(axis=1)))
    if hits >= 3:
        clipped[:] = False  # an earlier, lower "limit" from the probe was not the range
        for s0, s1, f in flags:
            clipped[s0:s1] = f


def compute_features(
    rec: Recording,
    *,
    keep_vert: bool = True,
    chunk_s: int = 600,
    progress: object | None = None,
) -> SecondFeatures:
    """Compute per-second features of a whole recording, in chunks.

    Parameters
    ----------
    rec : Recording
        Regularly sampled recording.
    keep_vert : bool, keyword-only
        Keep the decimated vertical dynamic acceleration (trunk sensor).
    chunk_s : int, keyword-only
        Seconds per chunk (bounds memory).
    progress : callable, optional, keyword-only
        Called with the number of seconds done after each chunk.

    Returns
    -------
    SecondFeatures

    """
    fs_proc = processing_rate(rec.fs_hz)
    temperature = rec.temperature  # kept across the resampling below
    if fs_proc != rec.fs_hz:
        a = rec.read()
        t = rec.start_unix_s + np.arange(rec.n_samples) / rec.fs_hz
        filled = rec.filled
        finite = np.isfinite(a).all(axis=1)
        if not finite.all():
            filled = ~finite if filled is None else (filled | ~finite)
            a = np.where(finite[:, None], a, 0.0).astype(np.float32)
        idle_in = rec.idle
        rec = recording_from_times(
            t,
            a,
            fs_hz=float(fs_proc),
            source=rec.source,
            device=rec.device,
            filled=filled,
            notes=rec.notes,
        )
        if idle_in is not None:  # carry the idle-sleep marks onto the new grid
            grid = rec.start_unix_s + np.arange(rec.n_samples) / rec.fs_hz
            rec = replace(rec, idle=np.interp(grid, t, idle_in.astype(np.float32)) > 0.5)
        log.info("%s: resampled to %d Hz for processing", rec.source, fs_proc)
    fs = int(fs_proc)
    nsub = _nsub(fs)
    nsec = rec.n_samples // fs
    if nsec < 1:
        raise InputError(
            "recording shorter than one second",
            source=rec.source,
            value=f"{rec.n_samples} samples at {rec.fs_hz} Hz",
        )
    clip_g = _clip_level(rec, fs)
    g = np.empty((nsec, 3), np.float32)
    sd = np.empty(nsec, np.float32)
    vert = np.empty((nsec, nsub), np.float32) if keep_vert else None
    nanf = np.empty(nsec, np.float32)
    clipped = np.empty(nsec, bool)
    buf = np.empty((min(nsec, chunk_s) * fs, 3), np.float32)
    chunk_amax = np.zeros((nsec + chunk_s - 1) // chunk_s)
    for k, s0 in enumerate(range(0, nsec, chunk_s)):
        s1 = min(nsec, s0 + chunk_s)
        a = rec.read(s0 * fs, s1 * fs, out=buf)
        flat = a[: (s1 - s0) * fs].reshape(-1)
        if flat.size:  # largest |value| of the chunk (NaN ignored), for the range check below
            chunk_amax[k] = np.nan_to_num(max(np.fmax.reduce(flat), -np.fmin.reduce(flat)))
        gg, ss, vv, nf, cl = second_features(
            a, fs=fs, nsub=nsub, keep_vert=keep_vert, clip_g=clip_g
        )
        g[s0:s1], sd[s0:s1], nanf[s0:s1], clipped[s0:s1] = gg, ss, nf, cl
        if vert is not None and vv is not None:
            vert[s0:s1] = vv
        del a
        if progress is not None:
            progress(s1 - s0)  # type: ignore[operator]
    _recheck_clipping(rec, fs, chunk_s, chunk_amax, clip_g, clipped)
    missing = nanf > 0.5
    if rec.filled is not None:
        f = rec.filled[: nsec * fs].reshape(nsec, fs).mean(axis=1) > 0.5
        missing |= f
    idle = None
    if rec.idle is not None:
        idle = rec.idle[: nsec * fs].reshape(nsec, fs).mean(axis=1) > 0.5
    temp = None
    if temperature is not None and temperature[0].size:
        mid = rec.start_unix_s + np.arange(nsec) + 0.5
        temp = np.interp(mid, temperature[0], temperature[1]).astype(np.float32)
    return SecondFeatures(rec.start_unix_s, g, sd, vert, missing, clipped, nsub, idle, temp)
