"""Regenerate the 7-day, 100 Hz synthetic thigh + trunk recording of BENCHMARK.md.

The same script as ``shared/data/wearable/BENCHMARK.md`` (``gen_synth.py``, seed 42), so
the peer timings there and the runs here use identical data. Frames follow acti-motus:
x along the segment (up), thigh z posterior, trunk z anterior. Labels per second:
0 lie, 1 sit, 2 stand, 3 walk, 4 bend.

Usage: ``python -m benchmarks.wearable_gen DAYS OUTDIR``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

LIE, SIT, STAND, WALK, BEND = 0, 1, 2, 3, 4


def generate(days: int, out: Path, fs: int = 100) -> None:
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    nsec = days * 86400
    rng = np.random.default_rng(42)
    lab = np.empty(nsec, np.int8)
    s = 0
    while s < nsec:
        hod = (s // 3600) % 24
        if hod >= 23 or hod < 7:
            st, dur = LIE, int(rng.integers(600, 3 * 3600))
            if rng.random() < 0.1:
                st, dur = WALK, int(rng.integers(30, 180))
        else:
            r = rng.random()
            if r < 0.45:
                st, dur = SIT, int(rng.integers(300, 90 * 60))
            elif r < 0.70:
                st, dur = STAND, int(rng.integers(30, 15 * 60))
            elif r < 0.92:
                st, dur = WALK, int(rng.integers(30, 20 * 60))
            else:
                st, dur = BEND, int(rng.integers(5, 90))
        lab[s : s + dur] = st
        s += dur
    lab = lab[:nsec]
    conds = [lab == LIE, lab == SIT, lab == STAND, lab == WALK, lab == BEND]
    th_inc = np.select(conds, [90, 85, 5, 10, 15]).astype(np.float32)
    bout = np.concatenate([[0], np.cumsum(lab[1:] != lab[:-1])])
    nb = bout[-1] + 1
    th_roll = np.where(lab == LIE, rng.choice([0, 0, 80, -80], size=nb)[bout], 0).astype(np.float32)
    tr_inc = np.select(conds, [90, 15, 5, 8, 60]).astype(np.float32)
    knots = np.arange(0, nsec + 600, 600)
    drift = np.interp(np.arange(nsec), knots, rng.normal(0, 2, len(knots)))
    tr_inc = tr_inc + np.where(
        lab == BEND, rng.normal(0, 15, nb)[bout], rng.normal(0, 4, nb)[bout] + drift
    ).astype(np.float32)
    n = nsec * fs

    def expand(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, fs)

    walk = expand(lab == WALK)
    t = np.arange(n, dtype=np.float64) / fs
    phase = (2 * np.pi * 0.95 * t).astype(np.float32)
    del t

    def make(inc_deg, roll_deg, posterior_z, swing_amp, bounce_amp, gain, offset, seed):
        r = np.random.default_rng(seed)
        inc = np.radians(expand(inc_deg)) + walk * swing_amp * np.sin(phase)
        roll = np.radians(expand(roll_deg))
        x = np.cos(inc)
        zz = -np.sin(inc) * np.cos(roll)
        y = np.sin(inc) * np.sin(roll)
        z = -zz if posterior_z else zz
        x = x + walk * bounce_amp * np.sin(2 * phase)
        a = np.stack([x, y, z], axis=1).astype(np.float32)
        a += r.normal(0, 0.01, a.shape).astype(np.float32)
        fid = expand(np.convolve(r.random(nsec) < 1 / 240, [1, 1], mode="same") > 0)
        a[fid] += r.normal(0, 0.08, (int(fid.sum()), 3)).astype(np.float32)
        return a * np.asarray(gain, np.float32) + np.asarray(offset, np.float32)

    thigh = make(
        th_inc, th_roll, True, np.radians(25), 0.35, (1.02, 0.98, 1.01), (0.03, -0.02, 0.01), 1
    )
    np.save(out / f"thigh_{days}d_{fs}hz.npy", thigh)
    del thigh
    trunk = make(
        tr_inc,
        np.zeros(nsec, np.float32),
        False,
        np.radians(3),
        0.25,
        (0.99, 1.01, 1.0),
        (-0.02, 0.01, 0.02),
        2,
    )
    np.save(out / f"trunk_{days}d_{fs}hz.npy", trunk)
    del trunk
    np.save(out / "labels_per_second.npy", lab)
    meta = {
        "fs": fs,
        "start": "2024-01-01T00:00:00Z",
        "n_samples": int(n),
        "days": days,
        "labels": {"0": "lie", "1": "sit", "2": "stand", "3": "walk", "4": "bend"},
    }
    (out / "meta.json").write_text(json.dumps(meta))
    print(
        "generated",
        n,
        "samples/sensor in",
        round(time.time() - t0, 1),
        "s; label seconds:",
        np.bincount(lab),
    )


if __name__ == "__main__":
    generate(
        int(sys.argv[1]) if len(sys.argv) > 1 else 7,
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path("benchmarks/results/wearable_data"),
    )
