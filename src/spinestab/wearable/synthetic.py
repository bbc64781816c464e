"""Scripted synthetic trunk + thigh recordings with known per-second truth (a phantom).

Long module: a test-data generator, scripted second by second.

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

__all__ = [
    "Segment",
    "SyntheticRecording",
    "day_with_turns",
    "random_rotation",
    "render_script",
    "scripted_recording",
]


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
        day, sec_of_day = divmod(s, 86400)
        hod = sec_of_day / 3600.0
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


@dataclass(frozen=True)
class Segment:
    """One stretch of a scripted recording (:func:`render_script`).

    Attributes
    ----------
    posture : int
        True posture code (``LYING``, ``SITTING``, ``STANDING``, ``WALKING``, ``RUNNING``,
        ``NONWEAR``: both sensors on a table).
    seconds : int
        Length.
    forward_deg : float
        Trunk flexion while upright (sitting, standing), degrees.
    roll_deg : float
        Lying: 0 supine, 180 prone, +-90 on a side.
    thigh_deg : float
        Thigh inclination from upright, degrees.
    step_hz : float
        Step frequency while walking or running.
    trunk_fidgets, thigh_fidgets : bool
        Short bursts of movement about every 4 min (2 s, 0.08 g).
    breathing : bool
        The trunk sensor rocks with breathing (0.25 Hz, 0.3 deg and 3 mg).
    trunk_noise_g, thigh_noise_g : float
        Noise per axis while worn (a sensor on a table has 0.002 g).
    turn_s : float
        Seconds the change from the previous segment takes: 0 switches exactly at the
        second boundary (no second's samples see movement), longer changes rotate
        smoothly, starting at a random moment within the second.

    """

    posture: int
    seconds: int
    forward_deg: float = 0.0
    roll_deg: float = 0.0
    thigh_deg: float = 0.0
    step_hz: float = 0.0
    trunk_fidgets: bool = True
    thigh_fidgets: bool = True
    breathing: bool = True
    trunk_noise_g: float = 0.01
    thigh_noise_g: float = 0.01
    turn_s: float = 0.0


def _segment_vectors(seg: Segment) -> tuple[np.ndarray, np.ndarray]:
    """Gravity direction in the trunk and thigh segment frames (x up, z anterior/posterior)."""
    if seg.posture == LYING:
        r = np.radians(seg.roll_deg)
        ti = np.radians(seg.thigh_deg)
        return (
            np.array([0.0, np.sin(r), np.cos(r)]),
            np.array([np.cos(ti), np.sin(ti) * np.sin(r), np.sin(ti) * np.cos(r)]),
        )
    f, ti = np.radians(seg.forward_deg), np.radians(seg.thigh_deg)
    return np.array([np.cos(f), 0.0, -np.sin(f)]), np.array([np.cos(ti), 0.0, np.sin(ti)])


def _slerp(v0: np.ndarray, v1: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Rotate from ``v0`` to ``v1`` by fractions ``f`` (a quarter turn via a side if opposite)."""
    c = float(np.clip(v0 @ v1, -1.0, 1.0))
    if c < -0.999:  # opposite (supine to prone): turn over a side
        side = np.cross(v0, [1.0, 0.0, 0.0])
        side = side / np.linalg.norm(side)
        half = f < 0.5
        out = np.empty((f.size, 3))
        out[half] = _slerp(v0, side, 2 * f[half])
        out[~half] = _slerp(side, v1, 2 * f[~half] - 1)
        return out
    ang = np.arccos(c)
    if ang < 1e-9:
        return np.tile(v0, (f.size, 1))
    w0 = np.sin((1 - f) * ang) / np.sin(ang)
    w1 = np.sin(f * ang) / np.sin(ang)
    return w0[:, None] * v0 + w1[:, None] * v1


def render_script(
    segments: list[Segment],
    *,
    fs_hz: int = 25,
    seed: int = 0,
    units: str = "g",
    rotate: bool = True,
    start_unix_s: float = 1704067200.0,
) -> SyntheticRecording:
    """Render scripted segments into trunk and thigh signals with per-second truth.

    Both sensors are mounted in random rotations (``rotate``) with gain and offset errors
    and noise (:attr:`Segment.trunk_noise_g` worn, 0.002 g on a table); taking them off
    and putting them on is 3 s of handling. Turns between segments follow :attr:`Segment.turn_s`.

    Returns
    -------
    SyntheticRecording
        ``trunk_forward_deg`` holds the scripted flexion (NaN lying and off).

    """
    rng = np.random.default_rng(seed)
    fs = int(fs_hz)
    secs = np.array([s.seconds for s in segments], np.int64)
    bounds = np.concatenate([[0], np.cumsum(secs)])
    nsec = int(bounds[-1])
    n = nsec * fs
    seg_of_sec = np.repeat(np.arange(len(segments)), secs)
    lab = np.array([s.posture for s in segments], np.int8)[seg_of_sec]
    per_seg = [_segment_vectors(s) for s in segments]
    trunk = np.repeat(np.array([v[0] for v in per_seg]), secs * fs, axis=0)
    thigh = np.repeat(np.array([v[1] for v in per_seg]), secs * fs, axis=0)
    moving = np.zeros(n, np.float32)  # extra movement noise (turns, handling), g
    table_dir = rng.normal(size=(len(segments), 3))
    for k in range(1, len(segments)):
        prev, seg = segments[k - 1], segments[k]
        b = int(bounds[k]) * fs
        if NONWEAR in (prev.posture, seg.posture):
            moving[max(0, b - fs) : b + 2 * fs] = 0.3  # handling the sensors
            continue
        m = round(seg.turn_s * fs)
        if m <= 0:
            continue  # an instant change exactly at the second boundary
        a = b + int(rng.integers(1, fs))  # starts within the segment's first second
        e = min(n, a + m)
        f = (np.arange(e - a) + 0.5) / m
        trunk[b:a] = per_seg[k - 1][0]
        thigh[b:a] = per_seg[k - 1][1]
        trunk[a:e] = _slerp(per_seg[k - 1][0], per_seg[k][0], f)
        thigh[a:e] = _slerp(per_seg[k - 1][1], per_seg[k][1], f)
        moving[a:e] = 0.1
    step_hz = np.array([s.step_hz for s in segments], np.float32)[seg_of_sec]
    gait = np.repeat(np.isin(lab, (WALKING, RUNNING, STAIRS)), fs)
    phase = (2 * np.pi * np.cumsum(np.repeat(step_hz, fs)) / fs).astype(np.float32)
    bounce = np.where(np.repeat(lab == RUNNING, fs), 0.9, 0.25).astype(np.float32)
    t = np.arange(n) / fs
    breath = np.repeat(np.array([s.breathing for s in segments])[seg_of_sec], fs)
    breath &= np.repeat(lab != NONWEAR, fs)
    rock = np.radians(0.3) * np.sin(2 * np.pi * 0.25 * t) * breath
    # breathing rocks the trunk about its left-right axis (x and z mix), gait bounces along x
    x, z = trunk[:, 0].copy(), trunk[:, 2].copy()
    trunk[:, 0] = (
        x * np.cos(rock) - z * np.sin(rock) + 0.003 * np.sin(2 * np.pi * 0.25 * t) * breath
    )
    trunk[:, 2] = x * np.sin(rock) + z * np.cos(rock)
    trunk[:, 0] += gait * bounce * np.sin(phase)
    thigh_swing = gait * np.radians(25.0) * np.sin(phase / 2)
    x, z = thigh[:, 0].copy(), thigh[:, 2].copy()
    thigh[:, 0] = (
        x * np.cos(thigh_swing) - z * np.sin(thigh_swing) + gait * 0.5 * bounce * np.sin(phase)
    )
    thigh[:, 2] = x * np.sin(thigh_swing) + z * np.cos(thigh_swing)
    worn = np.repeat(lab != NONWEAR, fs)

    def finish(a: np.ndarray, which: int, r: np.random.Generator, rot: np.ndarray) -> np.ndarray:
        a = (a @ rot.T).astype(np.float32)
        off = ~worn
        if off.any():  # on a table: one resting direction per segment
            d = table_dir[np.repeat(seg_of_sec, fs)[off]]
            a[off] = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
        level = np.array([(s.trunk_noise_g, s.thigh_noise_g)[which] for s in segments])
        noise = np.where(worn, np.repeat(level[seg_of_sec], fs), 0.002).astype(np.float32)
        a += r.normal(0, 1, a.shape).astype(np.float32) * noise[:, None]
        flag = np.array([(s.trunk_fidgets, s.thigh_fidgets)[which] for s in segments])
        fid_sec = (np.convolve(r.random(nsec) < 1 / 240, [1, 1], mode="same") > 0) & flag[
            seg_of_sec
        ]
        fid = np.repeat(fid_sec, fs) & worn
        a[fid] += r.normal(0, 0.08, (int(fid.sum()), 3)).astype(np.float32)
        mv = moving > 0
        a[mv] += (r.normal(0, 1, (int(mv.sum()), 3)) * moving[mv, None]).astype(np.float32)
        gain = r.uniform(0.98, 1.02, 3).astype(np.float32)
        offset = r.uniform(-0.02, 0.02, 3).astype(np.float32)
        a = a * gain + offset
        return a * np.float32(G_MS2) if units == "m/s2" else a

    rot_trunk = random_rotation(rng) if rotate else np.eye(3)
    rot_thigh = random_rotation(rng) if rotate else np.eye(3)
    fw = np.array([s.forward_deg for s in segments], np.float32)[seg_of_sec]
    fw = np.where(np.isin(lab, (LYING, NONWEAR)), np.nan, fw).astype(np.float32)
    return SyntheticRecording(
        trunk=finish(trunk, 0, np.random.default_rng(seed + 1), rot_trunk),
        thigh=finish(thigh, 1, np.random.default_rng(seed + 2), rot_thigh),
        fs_hz=fs,
        start_unix_s=start_unix_s,
        posture=lab,
        trunk_forward_deg=fw,
        step_hz=np.where(np.isin(lab, (WALKING, RUNNING)), step_hz, 0).astype(np.float32),
        trunk_rotation=rot_trunk,
        thigh_rotation=rot_thigh,
        units=units,
    )


def day_with_turns(*, seed: int = 0) -> list[Segment]:
    """Script a 24-hour day for the non-wear checks (issue 13.1), from midnight.

    00:00-07:00 and 23:00-24:00 lying, turning every 30-50 min to another side (turns of
    0-3 s, some exactly at a second boundary); by day walking, standing and sitting, one
    sitting spell of 2 h with the trunk breathing and fidgeting and the thigh still, and
    90 min with both sensors on a table.
    """
    rng = np.random.default_rng(seed)
    segs: list[Segment] = []

    def night(seconds: int) -> None:
        left, roll = seconds, float(rng.choice([0.0, 90.0, -90.0, 180.0]))
        first = True
        while left > 0:
            d = min(left, int(rng.integers(30 * 60, 50 * 60 + 1)))
            turn = 0.0 if (first or rng.random() < 0.25) else float(rng.uniform(0.2, 3.0))
            segs.append(
                Segment(
                    LYING,
                    d,
                    roll_deg=roll + float(rng.normal(0, 5)),
                    thigh_deg=float(rng.uniform(80, 95)),
                    trunk_fidgets=False,
                    thigh_fidgets=False,
                    trunk_noise_g=0.004,
                    thigh_noise_g=0.004,
                    turn_s=turn,
                )
            )
            left -= d
            first = False
            roll = float(rng.choice([r for r in (0.0, 90.0, -90.0, 180.0) if r != roll]))

    def walk(seconds: int) -> None:
        segs.append(Segment(WALKING, seconds, step_hz=float(rng.uniform(1.6, 2.1)), turn_s=1.0))

    def stand(seconds: int) -> None:
        segs.append(
            Segment(
                STANDING,
                seconds,
                forward_deg=float(rng.uniform(-3, 10)),
                thigh_deg=float(rng.uniform(0, 10)),
                turn_s=1.0,
            )
        )

    def sit(seconds: int, *, still_thigh: bool = False) -> None:
        segs.append(
            Segment(
                SITTING,
                seconds,
                forward_deg=float(rng.uniform(-5, 20)),
                thigh_deg=float(rng.uniform(80, 95)),
                thigh_fidgets=not still_thigh,
                thigh_noise_g=0.004 if still_thigh else 0.01,
                turn_s=2.0,
            )
        )

    night(7 * 3600)
    walk(600)  # 07:00
    stand(900)
    sit(1800)
    walk(900)
    sit(2 * 3600, still_thigh=True)  # 09:00-11:00: the long, still sitting spell
    walk(1200)
    stand(600)
    sit(3600)
    walk(1200)
    segs.append(Segment(NONWEAR, 90 * 60))  # 13:40-15:10 both sensors on a table
    walk(900)
    sit(5400)
    stand(1200)
    walk(1800)
    sit(7200)
    walk(900)
    used = sum(s.seconds for s in segs)
    stand(23 * 3600 - used)
    night(3600)
    return segs
