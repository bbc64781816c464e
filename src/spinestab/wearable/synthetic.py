"""Scripted synthetic trunk + thigh recordings with known per-second truth (a phantom).

A day is scripted second by second: lying at night (supine, prone or on a side), and by
day sitting, standing, bending (standing with the trunk flexed), walking, running and a
non-wear period (both sensors on a table). Each sensor is then mounted in a random
rotation, given gain and offset errors, noise, short fidgets, and optionally stored in
m/s^2. The truth (posture per second and trunk forward inclination in the segment frame)
comes back with the signals, so tests can score the pipeline against it.

Segment frames: x up along the segment, z anterior for the trunk, z posterior for the
thigh (acti-motus conventions). Walking defines the upright trunk reference (Acti4), so
the script's walking trunk angle is 0 deg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinestab.wearable.posture import (
    LYING,
    NONWEAR,
    RUNNING,
    SITTING,
    STAIRS,
    STANDING,
    WALKING,
    runs,
)
from spinestab.wearable.recording import G_MS2

__all__ = ["SyntheticRecording", "random_rotation", "scripted_recording"]


@dataclass(frozen=True)
class SyntheticRecording:
    """Signals and truth of a scripted recording.

    Attributes
    ----------
    trunk, thigh : (N, 3) float32 ndarrays
        Sensor signals in the stored units.
    fs_hz : int
        Sampling rate.
    start_unix_s : float
        Start time (midnight).
    posture : (S,) int8 ndarray
        True posture code per second (:data:`~spinestab.wearable.posture.CLASS_NAMES`).
    trunk_forward_deg : (S,) float32 ndarray
        True trunk forward inclination per second (segment frame), degrees.
    step_hz : (S,) float32 ndarray
        True step frequency per second (0 when not walking or running), so steps per second.
    trunk_rotation, thigh_rotation : (3, 3) ndarrays
        Mounting rotations (sensor = R @ segment).
    units : str
        ``"g"`` or ``"m/s2"``.

    """

    trunk: np.ndarray
    thigh: np.ndarray
    fs_hz: int
    start_unix_s: float
    posture: np.ndarray
    trunk_forward_deg: np.ndarray
    step_hz: np.ndarray
    trunk_rotation: np.ndarray
    thigh_rotation: np.ndarray
    units: str


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random 3-D rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


_BEND = 100  # script-only code: standing with the trunk flexed


def _script(days: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    nsec = round(days * 86400)
    lab = np.empty(nsec, np.int16)
    bout_fw = np.empty(nsec, np.float32)
    thigh_inc = np.empty(nsec, np.float32)
    roll = np.zeros(nsec, np.float32)  # lying: 0 supine, 180 prone, +-90 sides
    step_hz = np.zeros(nsec, np.float32)
    s = 0
    nonwear_done: set[int] = set()
    while s < nsec:
        day, hod = divmod(s, 86400)
        hod /= 3600.0
        if hod >= 23 or hod < 7:
            st, dur = LYING, int(rng.integers(1200, 3 * 3600))
        elif 14 <= hod < 15 and day not in nonwear_done:
            st, dur = NONWEAR, int(rng.integers(75 * 60, 120 * 60))
            nonwear_done.add(day)
        else:
            r = rng.random()
            if r < 0.40:
                st, dur = SITTING, int(rng.integers(300, 75 * 60))
            elif r < 0.62:
                st, dur = STANDING, int(rng.integers(30, 12 * 60))
            elif r < 0.86:
                st, dur = WALKING, int(rng.integers(20, 15 * 60))
            elif r < 0.90:
                st, dur = RUNNING, int(rng.integers(60, 10 * 60))
            else:
                st, dur = _BEND, int(rng.integers(5, 90))
        e = min(nsec, s + dur)
        lab[s:e] = st
        if st == LYING:
            bout_fw[s:e], thigh_inc[s:e] = 90.0, float(rng.uniform(80, 95))
            roll[s:e] = rng.choice([0.0, 180.0, 90.0, -90.0])
        elif st == SITTING:
            bout_fw[s:e], thigh_inc[s:e] = rng.uniform(-10, 25), rng.uniform(75, 100)
        elif st == STANDING:
            bout_fw[s:e], thigh_inc[s:e] = rng.uniform(-5, 12), rng.uniform(0, 12)
        elif st == _BEND:
            bout_fw[s:e], thigh_inc[s:e] = rng.uniform(25, 110), rng.uniform(0, 15)
        elif st in (WALKING, RUNNING):
            bout_fw[s:e], thigh_inc[s:e] = rng.normal(0, 1.0), 0.0
            step_hz[s:e] = rng.uniform(1.6, 2.1) if st == WALKING else rng.uniform(2.6, 3.0)
        else:  # non-wear: the angle fields are unused
            bout_fw[s:e], thigh_inc[s:e] = 0.0, 0.0
        s = e
    return lab, bout_fw, thigh_inc, roll, step_hz


def scripted_recording(
    *,
    days: float = 1.0,
    fs_hz: int = 25,
    seed: int = 0,
    units: str = "g",
    rotate: bool = True,
    start_unix_s: float = 1704067200.0,
    stairs_fraction: float = 0.0,
) -> SyntheticRecording:
    """Make a scripted trunk + thigh recording with its truth.

    Parameters
    ----------
    days : float, keyword-only
        Length in days (starts at midnight).
    fs_hz : int, keyword-only
        Sampling rate.
    seed : int, keyword-only
        Random seed.
    units : {"g", "m/s2"}, keyword-only
        Stored units.
    rotate : bool, keyword-only
        Mount the sensors in random rotations.
    start_unix_s : float, keyword-only
        Start time (default 2024-01-01 00:00).
    stairs_fraction : float, keyword-only
        Share of walking bouts turned into stair climbing (thigh flexed more; the trunk
        signal is that of walking).

    Returns
    -------
    SyntheticRecording

    """
    rng = np.random.default_rng(seed)
    lab, fw, th_inc, roll, step_hz = _script(days, rng)
    nsec = lab.size
    if stairs_fraction > 0:  # own generator: the script without stairs stays the same
        rs = np.random.default_rng(seed + 3)
        st, en = runs(lab == WALKING)
        for a, b in zip(st, en, strict=True):
            if rs.random() < stairs_fraction:
                # stair ascent flexes the hip more than level walking: the thigh's mean
                # forward angle is 12-22 deg above its walking mean [D, phantom value]
                lab[a:b], th_inc[a:b] = STAIRS, rs.uniform(12.0, 22.0)
    # Acti4 defines upright as the mean walking posture: centre the walking angles on 0
    gait_s = np.isin(lab, (WALKING, RUNNING, STAIRS))
    if gait_s.any():
        fw[gait_s] -= fw[gait_s].mean()
    # slow drift of the trunk angle within static bouts (+-3 deg, 10-min knots), so that
    # exposures cross their thresholds gradually as in life
    knots = np.arange(0, nsec + 600, 600)
    drift = np.interp(np.arange(nsec), knots, rng.normal(0, 3, knots.size)).astype(np.float32)
    fw_drift = np.where(np.isin(lab, (SITTING, STANDING, _BEND)), fw + drift, fw)
    fw = fw_drift
    # taking a sensor off or putting it on is handled: 3 s of movement at each edge
    edges = np.flatnonzero(np.diff((lab == NONWEAR).astype(np.int8)) != 0)
    handling = np.zeros(nsec, bool)
    for e in edges:
        handling[max(0, e - 1) : e + 2] = True
    n = nsec * fs_hz
    t = np.arange(n, dtype=np.float64) / fs_hz
    rep = np.repeat
    moving = rep(np.isin(lab, (WALKING, RUNNING, STAIRS)), fs_hz)
    sh = rep(step_hz, fs_hz)
    # step phase integrates the step frequency (continuous across seconds)
    phase = (2 * np.pi * np.cumsum(sh) / fs_hz).astype(np.float32)
    del t
    bounce_amp = np.where(rep(lab == RUNNING, fs_hz), 0.9, 0.25).astype(np.float32)
    worn = rep(lab != NONWEAR, fs_hz)

    def trunk_reading() -> np.ndarray:
        th = np.radians(rep(fw, fs_hz)) + moving * np.radians(2.0) * np.sin(phase / 2)
        rl = np.radians(rep(roll, fs_hz))
        lying = rep(lab == LYING, fs_hz)
        # upright family: forward flexion th about the left-right axis
        x = np.cos(th)
        y = np.zeros_like(x)
        z = -np.sin(th)
        # lying: trunk horizontal, rolled: supine -> anterior axis up
        x = np.where(lying, 0.0, x)
        y = np.where(lying, np.sin(rl), y)
        z = np.where(lying, np.cos(rl), z)
        x = x + moving * bounce_amp * np.sin(phase)
        return np.stack([x, y, z], axis=1).astype(np.float32)

    def thigh_reading() -> np.ndarray:
        inc = np.radians(rep(th_inc, fs_hz)) + moving * np.radians(25.0) * np.sin(phase / 2)
        x = np.cos(inc)
        z = np.sin(inc)  # posterior axis
        y = np.zeros_like(x)
        x = x + moving * 0.5 * bounce_amp * np.sin(phase)
        return np.stack([x, y, z], axis=1).astype(np.float32)

    def finish(a: np.ndarray, r: np.random.Generator, rot: np.ndarray) -> np.ndarray:
        a = a @ rot.T.astype(np.float32)
        # off the body: resting on a table in some orientation, almost no noise
        table = rot @ np.array([0.3, -0.2, 0.93]) / np.linalg.norm([0.3, -0.2, 0.93])
        a[~worn] = table.astype(np.float32)
        noise = np.where(worn, 0.01, 0.002).astype(np.float32)
        a += r.normal(0, 1, a.shape).astype(np.float32) * noise[:, None]
        fid = rep(np.convolve(r.random(nsec) < 1 / 240, [1, 1], mode="same") > 0, fs_hz) & worn
        a[fid] += r.normal(0, 0.08, (int(fid.sum()), 3)).astype(np.float32)
        hand = rep(handling, fs_hz)
        a[hand] += r.normal(0, 0.3, (int(hand.sum()), 3)).astype(np.float32)
        gain = r.uniform(0.98, 1.02, 3).astype(np.float32)
        offset = r.uniform(-0.02, 0.02, 3).astype(np.float32)
        a = a * gain + offset
        return a * np.float32(G_MS2) if units == "m/s2" else a

    rot_trunk = random_rotation(rng) if rotate else np.eye(3)
    rot_thigh = random_rotation(rng) if rotate else np.eye(3)
    trunk = finish(trunk_reading(), np.random.default_rng(seed + 1), rot_trunk)
    thigh = finish(thigh_reading(), np.random.default_rng(seed + 2), rot_thigh)
    posture = lab.copy()
    fw = fw_drift
    posture[lab == _BEND] = STANDING
    fw_true = np.where(lab == NONWEAR, np.nan, fw).astype(np.float32)
    fw_true[lab == LYING] = np.where(roll[lab == LYING] == 180.0, 90.0, np.nan)
    return SyntheticRecording(
        trunk=trunk,
        thigh=thigh,
        fs_hz=fs_hz,
        start_unix_s=start_unix_s,
        posture=posture.astype(np.int8),
        trunk_forward_deg=fw_true,
        step_hz=step_hz.astype(np.float32),
        trunk_rotation=rot_trunk,
        thigh_rotation=rot_thigh,
        units=units,
    )
