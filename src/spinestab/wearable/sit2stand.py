"""Sit-to-stand transfers from a lower-back accelerometer, sample by sample.

The "displacement" method of Adamowicz et al. [1]_ (as implemented in scikit-digital-health's
``Sit2Stand(stillness_constraint=False)``; this is our own implementation of the published
steps, checked against SKDH's reference output for its test recording):

1. The acceleration magnitude is low-pass filtered (4th-order Butterworth, 5 Hz, zero phase)
   and smoothed by a 0.25 s moving mean.
2. Candidate transfers are peaks of the power band of a continuous wavelet transform
   (first derivative of a Gaussian, ``gaus1``; scales whose frequency lies in 0-0.5 Hz,
   coefficients summed) that rise above one standard deviation of that power and lie at
   least 1 s apart.
3. The vertical acceleration (acceleration projected on the gravity direction, itself the
   0.8 Hz 4th-order low-pass of the acceleration) is integrated from the end of the last
   still period (>0.5 s of stillness, at most 30 s before) to the start of the next one
   (or 5 s past the candidate), with linear drift removal, to vertical velocity and
   position. No stillness is needed just before the transfer.
4. A candidate is kept when its vertical velocity is at least 0.2 m/s; the transfer runs
   from the preceding upward zero crossing of velocity (or the end of a still period when
   that lies within -0.5..0.7 s of it) to the next downward zero crossing, lasts under
   4.5 s, its first part is under 10x its second, it raises the trunk more than 0.125 m,
   and it starts more than 0.4 s after the previous transfer. Transfers whose rise is under
   0.75x the median rise are partial and dropped.
5. Added here [D]: the trunk must tilt at least 5 deg during the transfer (white-noise
   bursts, as the synthetic recordings' fidgets, can integrate to a false 0.5 m rise).

Stillness: moving (0.3 s) mean of the filtered magnitude within 0.2 m/s^2 of gravity, its
moving SD under 0.1 m/s^2, moving mean of jerk under 2.5 m/s^3 and its SD under 3 m/s^3.

All thresholds are SKDH's defaults for the published method [1]_ [V: read from the SKDH
source, ``skdh/sit2stand``, and its tests]; each is a keyword option.

References
----------
.. [1] L. Adamowicz et al., "Assessment of Sit-to-Stand Transfers during Daily Life Using an
   Accelerometer on the Lower Back," Sensors 20(22):6618, 2020, doi:10.3390/s20226618.

"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.posture import runs
from spinestab.wearable.recording import Recording

__all__ = ["Transfers", "sit_to_stand_displacement", "transfers_in_recording"]

G_MS2 = 9.81  # SKDH's gravity default [1]
GAUS1_CENTRAL_FREQ = 0.2  # centre frequency of the gaus1 wavelet (PyWavelets), cycles/sample


@dataclass(frozen=True)
class Transfers:
    """Sit-to-stand transfers found in a recording.

    Attributes
    ----------
    start_s, end_s : (T,) float64 ndarrays
        Start and end, seconds from the first sample.
    duration_s : (T,) float64 ndarray
        ``end_s - start_s``.
    vertical_displacement_m : (T,) float64 ndarray
        Rise of the lower back during the transfer, metres.

    """

    start_s: np.ndarray
    end_s: np.ndarray
    duration_s: np.ndarray
    vertical_displacement_m: np.ndarray


def _moving_mean_sd(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred moving mean and SD (ddof 1) over ``w`` samples, ends held constant.

    The value of the window ``x[i:i+w]`` is placed at ``i + ceil(w/2)``, as SKDH does.
    """
    w = max(int(w), 2)
    n = x.size
    mean = np.zeros(n)
    sd = np.zeros(n)
    if n < w:
        mean[:] = x.mean() if n else 0.0
        return mean, sd
    c = x - x.mean()  # centred sums keep the running sums well conditioned
    s1 = np.concatenate([[0.0], np.cumsum(c)])
    s2 = np.concatenate([[0.0], np.cumsum(c * c)])
    m = (s1[w:] - s1[:-w]) / w
    var = ((s2[w:] - s2[:-w]) - w * m * m) / (w - 1)
    pad = int(np.ceil(w / 2))
    nr = m.size
    k = min(nr, n - pad)
    mean[pad : pad + k] = m[:k] + x.mean()
    sd[pad : pad + k] = np.sqrt(np.clip(var[:k], 0.0, None))
    mean[:pad], mean[pad + k :] = mean[pad], mean[pad + k - 1]
    sd[:pad], sd[pad + k :] = sd[pad], sd[pad + k - 1]
    return mean, sd


def _cwt_band_power(x: np.ndarray, fs_hz: float, f_lo: float, f_hi: float) -> np.ndarray:
    """Sum of ``gaus1`` CWT coefficients over integer scales 1-64 with frequency in the band.

    Follows the convolution algorithm of ``pywt.cwt`` (integrated wavelet sampled at 1024
    points on [-5, 5], resampled per scale, convolved, differenced, scaled by -sqrt(scale)).
    The result's overall scale does not matter: peaks are judged against its own SD.
    """
    from scipy.signal import oaconvolve

    t = np.linspace(-5.0, 5.0, 1024)
    step = t[1] - t[0]
    psi = -2.0 * t * np.exp(-(t**2))  # gaus1 up to its (irrelevant) norm
    int_psi = np.cumsum(psi) * step
    scales = np.arange(1, 65)
    freqs = GAUS1_CENTRAL_FREQ / scales * fs_hz
    power = np.zeros(x.size)
    for s in scales[(freqs >= f_lo) & (freqs <= f_hi)]:
        j = (np.arange(s * 10.0 + 1) / (s * step)).astype(int)
        j = j[j < int_psi.size]
        conv = oaconvolve(x, int_psi[j][::-1])
        coef = -np.sqrt(s) * np.diff(conv)
        d = (coef.size - x.size) / 2.0
        power += coef[int(np.floor(d)) : coef.size - int(np.ceil(d))]
    return power


def _integrate(acc: np.ndarray, dt: float, still_at_end: bool) -> tuple[np.ndarray, np.ndarray]:
    """Vertical velocity and position from vertical acceleration, with drift removal [1]."""
    from scipy.integrate import cumulative_trapezoid
    from scipy.signal import detrend

    vel = cumulative_trapezoid(acc, dx=dt, initial=0)
    if not still_at_end:
        vel = detrend(vel)
        if abs(vel[0]) > 0.05:
            vel = vel - vel[0]
    elif vel.size > 1:
        x = np.arange(vel.size)
        vel = vel - (vel[-1] - vel[0]) / (x[-1] - x[0]) * x
    return vel, cumulative_trapezoid(vel, dx=dt, initial=0)


def sit_to_stand_displacement(
    acc_g: np.ndarray,
    fs_hz: float,
    *,
    lowpass_hz: float = 5.0,
    smooth_s: float = 0.25,
    power_band_hz: tuple[float, float] = (0.0, 0.5),
    peak_distance_s: float = 1.0,
    gravity_lowpass_hz: float = 0.8,
    still_window_s: float = 0.3,
    long_still_s: float = 0.5,
    still_acc_mean_ms2: float = 0.2,
    still_acc_sd_ms2: float = 0.1,
    still_jerk_mean_ms3: float = 2.5,
    still_jerk_sd_ms3: float = 3.0,
    max_search_s: float = 30.0,
    after_s: float = 5.0,
    min_velocity_ms: float = 0.2,
    max_duration_s: float = 4.5,
    duration_factor: float = 10.0,
    min_displacement_m: float = 0.125,
    partial_factor: float = 0.75,
    min_gap_s: float = 0.4,
    min_tilt_deg: float = 5.0,
) -> Transfers:
    """Find sit-to-stand transfers with the displacement method of Adamowicz et al. 2020.

    Parameters
    ----------
    acc_g : (N, 3) ndarray
        Lower-back acceleration, g, at a steady rate (no NaN).
    fs_hz : float
        Sampling rate, Hz.
    lowpass_hz, smooth_s, power_band_hz, peak_distance_s : keyword-only
        Filtering and candidate search (defaults: SKDH's published method; 1 s peak spacing
        as SKDH's own test of the method uses at 128 Hz) [V].
    gravity_lowpass_hz : float, keyword-only
        Low-pass cut-off for the gravity direction, 0.8 Hz [V].
    still_window_s, long_still_s : float, keyword-only
        Stillness window (0.3 s) and shortest long still period (0.5 s) [V].
    still_acc_mean_ms2, still_acc_sd_ms2 : float, keyword-only
        Stillness limits on the acceleration's moving mean (from gravity) and SD [V].
    still_jerk_mean_ms3, still_jerk_sd_ms3 : float, keyword-only
        Stillness limits on the jerk's moving mean and SD [V].
    max_search_s, after_s : float, keyword-only
        Integration window: still periods at most 30 s away, else 5 s past the peak [V].
    min_velocity_ms, max_duration_s, duration_factor : float, keyword-only
        Peak vertical velocity >= 0.2 m/s, duration < 4.5 s, first part < 10x second [V].
    min_displacement_m, partial_factor, min_gap_s : float, keyword-only
        Rise > 0.125 m and >= 0.75x the median rise; starts > 0.4 s apart [V].
    min_tilt_deg : float, keyword-only
        The trunk must tilt: the gravity direction (0.8 Hz low-pass) must swing at least
        this far during the transfer, else it is a burst of vibration or a fidget, not a
        rise [D]. 5 deg is far under the forward lean of a rise (13-39 deg on the five
        transfers of SKDH's sample, 11-35 deg on the mobgap Test11 candidates); the
        published method has no such check (with it off, set 0).

    Returns
    -------
    Transfers

    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    a = np.asarray(acc_g, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise InputError("acceleration must be (N, 3)", item="acc", value=a.shape)
    if not np.all(np.isfinite(a)):
        raise InputError("acceleration holds NaN or infinite values", item="acc")
    empty = Transfers(*(np.zeros(0) for _ in range(4)))
    dt = 1.0 / float(fs_hz)
    if a.shape[0] < int(2 * after_s / dt):
        return empty
    sos = butter(4, 2 * lowpass_hz * dt, btype="low", output="sos")
    f_acc = sosfiltfilt(sos, np.linalg.norm(a, axis=1), padtype="odd") * G_MS2
    r_acc, _ = _moving_mean_sd(f_acc / G_MS2, int(np.around(smooth_s / dt)))
    power = _cwt_band_power(r_acc, fs_hz, *power_band_hz)
    peaks, _ = find_peaks(
        power, height=np.std(power, ddof=1), distance=max(1, round(peak_distance_s / dt))
    )

    # stillness
    nw = max(int(np.around(still_window_s / dt)), 2)
    acc_m, acc_sd = _moving_mean_sd(f_acc, nw)
    jerk = np.gradient(f_acc, dt, edge_order=2)
    jerk_m, jerk_sd = _moving_mean_sd(jerk, nw)
    still = (
        (np.abs(acc_m - G_MS2) < still_acc_mean_ms2)
        & (acc_sd < still_acc_sd_ms2)
        & (np.abs(jerk_m) < still_jerk_mean_ms3)
        & (jerk_sd < still_jerk_sd_ms3)
    )
    starts, stops = runs(still)
    long_ = (stops - starts) * dt > long_still_s
    l_starts, l_stops = starts[long_], stops[long_]

    # vertical acceleration: projection on the low-passed (gravity) direction
    sos_g = butter(4, 2 * gravity_lowpass_hz * dt, btype="low", output="sos")
    acc = a * G_MS2
    v_g = sosfiltfilt(sos_g, acc, axis=0, padlen=0)
    v_g /= np.linalg.norm(v_g, axis=1, keepdims=True)
    v_acc = np.sum(v_g * acc, axis=1)

    n = a.shape[0]
    res: list[tuple[float, float, float]] = []  # start, end (samples), displacement
    i0 = i1 = -1  # current integration window
    vel = pos = pos_zc = neg_zc = np.zeros(0)
    for pk in peaks:
        before = l_stops[l_stops < pk]
        if before.size == 0 or (pk - before[-1]) * dt > max_search_s:
            continue
        end_still = int(before[-1])
        nxt = l_starts[l_starts > pk]
        if nxt.size and (nxt[0] - pk) * dt < max_search_s:
            start_still, still_at_end = int(nxt[0]), True
        else:
            start_still, still_at_end = int(pk + after_s / dt), False
        if end_still < i0 or start_still > i1:
            vel, pos = _integrate(v_acc[end_still:start_still], dt, still_at_end)
            i0, i1 = end_still, start_still
            sgn = np.diff(np.sign(vel))
            pos_zc = np.concatenate([[0], np.flatnonzero(sgn > 0) + 1]) + end_still
            neg_zc = np.concatenate([np.flatnonzero(sgn < 0) + 1, [vel.size - 1]]) + end_still
        if pk - i0 >= vel.size or vel[pk - i0] < min_velocity_ms:
            continue
        up = pos_zc[pos_zc < pk]
        prev_still = stops[stops < pk]
        if up.size == 0 or prev_still.size == 0:
            continue
        s0 = int(up[-1])
        if -0.5 < dt * (prev_still[-1] - s0) < 0.7:  # snap to the end of stillness [1]
            s0 = int(prev_still[-1])
        down = neg_zc[neg_zc > pk]
        if down.size == 0 or s0 < i0:
            continue
        s1 = int(down[0])
        if res and (s0 - res[-1][0]) * dt <= min_gap_s:
            continue
        disp = float(pos[s1 - i0] - pos[s0 - i0])
        cos_tilt = np.clip(v_g[s0 : s1 + 1] @ v_g[min(s1, n - 1)], -1.0, 1.0)
        tilt = float(np.degrees(np.arccos(cos_tilt.min())))
        ok = (
            (s1 - s0) * dt < max_duration_s
            and (pk - s0) < duration_factor * (s1 - pk)
            and s1 != s0
            and disp > min_displacement_m
            and s1 < n
            and tilt >= min_tilt_deg
        )
        if ok:
            res.append((s0, s1, disp))
    if not res:
        return empty
    r = np.asarray(res, dtype=np.float64)
    keep = r[:, 2] >= partial_factor * np.median(r[:, 2])
    r = r[keep]
    return Transfers(
        start_s=r[:, 0] * dt,
        end_s=r[:, 1] * dt,
        duration_s=(r[:, 1] - r[:, 0]) * dt,
        vertical_displacement_m=r[:, 2],
    )


def transfers_in_recording(
    rec: Recording,
    *,
    chunk_s: float = 3600.0,
    overlap_s: float = 60.0,
    min_run_s: float = 10.0,
) -> Transfers:
    """Run :func:`sit_to_stand_displacement` over a whole recording in bounded memory.

    The recording is read in ``chunk_s`` pieces, each widened by ``overlap_s`` on both
    sides; a transfer is kept by the piece its start falls in. Missing samples (NaN) split
    a piece into finite runs; runs shorter than ``min_run_s`` are skipped [D].

    Parameters
    ----------
    rec : Recording
        Lower-back recording.
    chunk_s, overlap_s, min_run_s : float, keyword-only
        Piece length, overlap and shortest finite run, seconds.

    Returns
    -------
    Transfers
        Times in seconds from the recording's first sample.

    """
    fs = float(rec.fs_hz)
    step, ov = max(1, int(chunk_s * fs)), int(overlap_s * fs)
    parts: list[np.ndarray] = []
    for s in range(0, rec.n_samples, step):
        a0 = max(0, s - ov)
        a = np.asarray(rec.read(a0, s + step + ov), dtype=np.float64)
        st, en = runs(np.all(np.isfinite(a), axis=1))
        for r0, r1 in zip(st, en, strict=True):
            if (r1 - r0) < min_run_s * fs:
                continue
            t = sit_to_stand_displacement(a[r0:r1], fs)
            off = (a0 + r0) / fs
            own = (t.start_s + off >= s / fs) & (t.start_s + off < (s + step) / fs)
            if own.any():
                parts.append(
                    np.column_stack(
                        [
                            t.start_s[own] + off,
                            t.end_s[own] + off,
                            t.duration_s[own],
                            t.vertical_displacement_m[own],
                        ]
                    )
                )
    if not parts:
        return Transfers(*(np.zeros(0) for _ in range(4)))
    r = np.concatenate(parts)
    r = r[np.argsort(r[:, 0], kind="stable")]
    return Transfers(r[:, 0], r[:, 1], r[:, 2], r[:, 3])
