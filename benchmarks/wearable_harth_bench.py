"""Posture agreement with video labels on HARTH / HAR70+ (lower back + thigh, free living).

One command: ``SPINESTAB_HARTH_DIR=/path/to/harth python -m benchmarks wearable_harth``.

HARTH (22 adults, Logacjov et al. 2021, Sensors 21:7853) and HAR70+ (18 older adults,
Ustad et al. 2023, Sensors 23:2368) are the best labelled trunk + thigh sets
(ntnu-ai-lab/harth-ml-experiments, MIT): one CSV per subject,
``timestamp, back_x, back_y, back_z, thigh_x, thigh_y, thigh_z, label`` at 50 Hz, two
Axivity AX3 (x pointing down), labels from chest-camera video. Every file is over 4 MiB, so
neither set is in ``../shared`` (MANIFEST.md section 3) and nothing here fetches them: point
``SPINESTAB_HARTH_DIR`` at a folder of those CSVs. Without it the benchmark says so and stops.

Scoring: each second's label is the most frequent label of its samples; seconds whose label
spinestab has no class for (cycling, 13/14/130/140) are left out, and so are seconds the
pipeline calls non-wear. A second agrees when the posture is one the label allows:

===========================  ==============================  ==========================
HARTH label                  trunk + thigh                   trunk only
===========================  ==============================  ==========================
1 walking                    walking                         walking
2 running                    running                         running
3 shuffling                  standing, moving, walking       upright_static, moving,
                                                             walking
4/5 stairs up/down           stairs, walking                 walking
6 standing, 19 transport     standing, moving                upright_static, moving
7 sitting, 18 transport      sitting                         upright_static
8 lying                      lying                           lying
===========================  ==============================  ==========================

Printed per set-up: overall agreement and the agreement per label group, per file and pooled.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "shared" / "data" / "wearable" / "harth"

GROUPS = {  # HARTH label -> (group name, allowed with thigh, allowed trunk only)
    1: ("walking", {"walking"}, {"walking"}),
    2: ("running", {"running"}, {"running"}),
    3: ("shuffling", {"standing", "moving", "walking"}, {"upright_static", "moving", "walking"}),
    4: ("stairs", {"stairs", "walking"}, {"walking"}),
    5: ("stairs", {"stairs", "walking"}, {"walking"}),
    6: ("standing", {"standing", "moving"}, {"upright_static", "moving"}),
    19: ("standing", {"standing", "moving"}, {"upright_static", "moving"}),
    7: ("sitting", {"sitting"}, {"upright_static"}),
    18: ("sitting", {"sitting"}, {"upright_static"}),
    8: ("lying", {"lying"}, {"lying"}),
}


def labels_per_second(
    t_unix_s: np.ndarray, labels: np.ndarray, start_unix_s: float, n: int
) -> np.ndarray:
    """Most frequent label of each second ``[start + i, start + i + 1)``; -1 where none."""
    sec = np.floor(np.asarray(t_unix_s, float) - start_unix_s).astype(np.int64)
    ok = (sec >= 0) & (sec < n)
    sec, lab = sec[ok], np.asarray(labels)[ok].astype(np.int64)
    codes, lab_i = np.unique(lab, return_inverse=True)
    counts = np.zeros((n, codes.size), np.int64)
    np.add.at(counts, (sec, lab_i), 1)
    out = np.full(n, -1, np.int64)
    has = counts.sum(axis=1) > 0
    out[has] = codes[counts[has].argmax(axis=1)]
    return out


def agreement(posture: np.ndarray, labels: np.ndarray, *, thigh: bool) -> dict[str, list[int]]:
    """``{group: [agreeing seconds, scored seconds]}`` and ``"all"``."""
    out: dict[str, list[int]] = {"all": [0, 0]}
    for code, (name, with_thigh, trunk_only) in GROUPS.items():
        sel = (labels == code) & (posture != "nonwear")
        if not sel.any():
            continue
        ok = int(np.isin(posture[sel], list(with_thigh if thigh else trunk_only)).sum())
        for key in (name, "all"):
            c = out.setdefault(key, [0, 0])
            c[0] += ok
            c[1] += int(sel.sum())
    return out


def evaluate_file(path: Path) -> dict[str, dict[str, list[int]]]:
    """Agreement of both set-ups on one HARTH-layout CSV."""
    import pandas as pd

    from spinestab.wearable import analyse, read_recording
    from spinestab.wearable.posture import CLASS_NAMES

    trunk = read_recording(path, location="trunk")
    thigh = read_recording(path, location="thigh")
    df = pd.read_csv(path, usecols=["timestamp", "label"])
    t = pd.to_datetime(df["timestamp"]).to_numpy("datetime64[ns]").astype(np.int64) / 1e9
    res = {}
    for name, th in (("trunk+thigh", thigh), ("trunk only", None)):
        r = analyse(trunk, th)
        lab = labels_per_second(t, df["label"].to_numpy(), r.start_unix_s, r.posture.size)
        post = np.asarray(CLASS_NAMES)[r.posture]
        res[name] = agreement(post, lab, thigh=th is not None)
    return res


def main(argv: list[str] | None = None) -> int:
    folder = Path(os.environ.get("SPINESTAB_HARTH_DIR", DEFAULT))
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        print(
            f"skipped: no HARTH/HAR70+ CSVs in {folder} (set SPINESTAB_HARTH_DIR to a folder "
            "of S0xx.csv / 5xx.csv from ntnu-ai-lab/harth-ml-experiments; not fetched here)"
        )
        return 0
    pooled: dict[str, dict[str, list[int]]] = {}
    for f in files:
        t0 = time.perf_counter()
        res = evaluate_file(f)
        parts = []
        for setup, groups in res.items():
            a, n = groups["all"]
            parts.append(f"{setup} {a / max(n, 1):.3f}")
            for g, (ok, m) in groups.items():
                c = pooled.setdefault(setup, {}).setdefault(g, [0, 0])
                c[0] += ok
                c[1] += m
        print(f"{f.name:24s} {'  '.join(parts)}  ({time.perf_counter() - t0:.1f} s)")
    for setup, groups in pooled.items():
        print(f"\npooled, {setup}:")
        for g, (ok, m) in sorted(groups.items()):
            print(f"  {g:10s} {ok / max(m, 1):.3f}  ({m} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
