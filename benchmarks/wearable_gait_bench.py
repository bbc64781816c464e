"""Walking detection on the mobgap lower-back recordings: accuracy, cross-validation, peers.

One command: ``python -m benchmarks wearable_gait``.

Data: ``tests/data/wearable/mobgap_lowerback.npz`` (9 lab recordings of 3 people from
mobilise-d/mobgap: Test11 "simulated daily life" and two Test5 straight walks each, lower-back
acceleration at 100 Hz, with the ``MicroWB`` walking bouts of the INDIP and Stereophoto
reference systems; in these files ``ContinuousWalkingPeriod`` lists the very same bouts,
see 4.). A reference bout runs from its first to its last initial contact;
breaks up to 3 s are inside a bout (Mobilise-D rules, Kluge et al. 2021).

Scoring (as the issue asks: "walking seconds agree with the reference walking bouts"): a
second is reference walking when at least half of it lies inside a bout of that reference,
and detected walking when at least half of it lies inside a detected walking interval
(``gait_per_second``); F1 = 2TP / (2TP + FP + FN) with TP, FP, FN summed over all
recordings (mobgap's "combined" F1; section 4 repeats it in samples with mobgap's own
functions). Two truths are scored: INDIP alone (the Mobilise-D reference system) and the
union of INDIP and Stereophoto, the primary figure since issue 13.2 (each reference misses
bouts the other sees: INDIP lists nothing after 80 s of HA002's Test11 and nothing in HA002's
two Test5 trials, Stereophoto sees walking at 142-147 s and in Test5 Trial2). The union
combines the two references' *labels* (a second is walking when either labels it); the
former code added their coverage, so two partial covers made a walking second (0.871 then,
0.865 now; both are printed).

Target (issue 13.2): walking-second F1 against the union >= 0.85 held out (leave one
recording out) and >= 0.08 above the best mobgap gait-sequence detector on the same data and
scoring. The held-out figure is that of the pre-declared small grid (section 2): in every
fold the point best on the other eight recordings scores as the default configuration does
(0.865 held out = 0.865 in sample). No parameter was tuned to the union; the defaults were
chosen against INDIP before the target changed.

Printed:

1. F1 of the default configuration, per recording and in total.
2. Nested cross-validation of the step-detector parameters over pre-declared grids:
   leave-one-recording-out and leave-one-subject-out; in each fold the grid point best on
   the other recordings is scored on the held-out one. The held-out F1 is the honest figure;
   the larger grid overfits more (its held-out F1 is lower although its in-sample best is
   higher), which is why both are shown.
3. Where ``benchmarks/.venv-peers`` has ``mobgap`` and ``../shared`` is present: mobgap's
   own gait-sequence detectors (GsdIluz, GsdIonescu, GsdAdaptiveIonescu) on the same
   recordings, scored the same way.
4. Where the same holds: spinestab's walking seconds scored by mobgap's own GSD evaluation
   (``categorize_intervals_per_sample`` and ``calculate_matched_gsd_performance_metrics``:
   sample-wise, no tolerance; combined over recordings and per recording) against the
   references as mobgap reads them from ``data.mat``, at both levels:
   ``reference_para_level="wb"`` (``ContinuousWalkingPeriod``, mobgap's default) and
   ``"lwb"`` (``MicroWB``, what the ``.npz`` holds). In these recordings the two levels
   list identical bouts, so both give the same F1. A bout-level F1 (mobgap's
   ``categorize_intervals``: a detected and a reference bout match when each overlaps the
   other by >= 80 %) is printed as a secondary figure: the issue asks for walking seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NPZ = HERE.parent / "tests" / "data" / "wearable" / "mobgap_lowerback.npz"
SHARED = HERE.parent.parent / "shared" / "data" / "wearable" / "lumbar_mobgap" / "data" / "lab"
PEERS = HERE / ".venv-peers" / "bin" / "python"
SUBJECTS = ("HA001", "HA002", "MS001")
KEYS = [f"{s}_{t}" for s in SUBJECTS for t in ("Test11_Trial1", "Test5_Trial1", "Test5_Trial2")]
TRUTHS = {"INDIP": ("INDIP",), "union": ("INDIP", "Stereophoto")}

GRIDS = {
    "small (288 points)": {
        "step_peak_g": [0.01, 0.015, 0.02, 0.03],
        "step_regularity": [0.5, 0.7, 1.0],
        "step_smooth_s": [0.12, 0.2, 0.28, 0.36],
        "min_steps": [4, 5, 6],
        "walk_edge_steps": [0, 1],
    },
    "walk length and step rate (15 points)": {
        "min_walk_s": [2.0, 2.5, 3.0, 4.0, 5.0],
        "step_hz": [(1.0, 3.5), (1.2, 3.0), (1.4, 2.8)],
    },
    "large (450 points)": {
        "step_peak_g": [0.015, 0.02, 0.025, 0.03, 0.04],
        "step_regularity": [0.5, 0.7, 1.0],
        "step_smooth_s": [0.04, 0.08, 0.12, 0.16, 0.2],
        "min_steps": [4, 5, 6],
        "walk_edge_steps": [0, 1],
    },
}

MOBGAP = """
import json, sys, warnings
warnings.filterwarnings("ignore")
from mobgap.data import load_mobilised_matlab_format
from mobgap.gait_sequences import GsdAdaptiveIonescu, GsdIluz, GsdIonescu
from mobgap.utils.conversions import to_body_frame
root, out = sys.argv[1], {}
for subj in ("HA/001", "HA/002", "MS/001"):
    for key, trial in load_mobilised_matlab_format(f"{root}/{subj}/data.mat").items():
        if key[1] not in ("Test5", "Test11"):
            continue
        data = to_body_frame(trial.imu_data["LowerBack"])
        name = f"{subj.replace('/', '')}_{key[1]}_{key[2]}"
        for algo in (GsdIluz(), GsdIonescu(), GsdAdaptiveIonescu()):
            gs = algo.detect(data, sampling_rate_hz=100).gs_list_
            out.setdefault(type(algo).__name__, {})[name] = (
                gs[["start", "end"]].to_numpy() / 100.0).tolist()
print("@@JSON", json.dumps(out))
"""


MOBGAP_EVAL = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from mobgap.data import GenericMobilisedDataset
from mobgap.gait_sequences.evaluation import (
    calculate_matched_gsd_performance_metrics, categorize_intervals,
    categorize_intervals_per_sample)
root, walk = sys.argv[1], json.load(open(sys.argv[2]))
paths = [f"{root}/{s}/data.mat" for s in ("HA/001", "HA/002", "MS/001")]
out = {}
for system in ("INDIP", "Stereophoto"):
    for level in ("wb", "lwb"):
        ds = GenericMobilisedDataset(
            paths, test_level_names=("time_measure", "test", "trial"),
            parent_folders_as_metadata=["cohort", "participant_id"],
            measurement_condition="laboratory", reference_system=system,
            reference_para_level=level)
        matches, per = [], {}
        for d in ds:
            g = d.group_label
            if g.test not in ("Test5", "Test11"):
                continue
            key = f"{g.cohort}{g.participant_id}_{g.test}_{g.trial}"
            ref = d.reference_parameters_.wb_list[["start", "end"]].reset_index(drop=True)
            n = len(d.data_ss)
            w = np.concatenate([[0], np.asarray(walk[key], int), [0]])
            st, en = np.flatnonzero(np.diff(w) == 1), np.flatnonzero(np.diff(w) == -1)
            det = pd.DataFrame({"start": st * 100, "end": np.minimum(en * 100 - 1, n - 1)})
            m = categorize_intervals_per_sample(
                gsd_list_detected=det, gsd_list_reference=ref, n_overall_samples=n)
            r = calculate_matched_gsd_performance_metrics(m, zero_division=0)
            matches.append(m)
            if len(det) and len(ref):
                mt = categorize_intervals(gsd_list_detected=det, gsd_list_reference=ref,
                                          overlap_threshold=0.8)["match_type"]
                bouts = [int((mt == x).sum()) for x in ("tp", "fp", "fn")]
            else:
                bouts = [0, len(det), len(ref)]
            out.setdefault(f"{system}/{level}/bouts", [0, 0, 0])
            out[f"{system}/{level}/bouts"] = [
                a + b for a, b in zip(out[f"{system}/{level}/bouts"], bouts)]
            per[key] = [r["f1_score"], r["tp_samples"], r["fp_samples"], r["fn_samples"],
                        (ref.to_numpy() / 100).round(2).tolist()]
        r = calculate_matched_gsd_performance_metrics(
            pd.concat(matches, ignore_index=True), zero_division=0)
        out[f"{system}/{level}"] = {"combined": [r["f1_score"], r["tp_samples"],
            r["fp_samples"], r["fn_samples"]], "per": per,
            "bouts": out.pop(f"{system}/{level}/bouts")}
print("@@JSON", json.dumps(out))
"""


def _peer_json(script: str, *args: str) -> dict | str:
    """Run ``script`` in the peers venv; its ``@@JSON`` line parsed, or the error text."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        p = subprocess.run([str(PEERS), f.name, *args], capture_output=True, text=True, check=False)
    finally:
        Path(f.name).unlink()
    line = next((x for x in p.stdout.splitlines() if x.startswith("@@JSON")), None)
    if p.returncode != 0 or line is None:
        return (p.stdout + p.stderr)[-500:]
    return json.loads(line[len("@@JSON ") :])


def second_truth(bouts: np.ndarray, n: int) -> np.ndarray:
    """Seconds at least half inside the ``(start_s, end_s)`` bouts."""
    s = np.arange(n)
    cover = np.zeros(n)
    for a, b in np.reshape(bouts, (-1, 2)):
        cover += np.clip(np.minimum(s + 1, b) - np.maximum(s, a), 0, None)
    return cover >= 0.5


def f1(c: np.ndarray) -> float:
    """F1 from ``(tp, fp, fn)``."""
    return float(2 * c[0] / (2 * c[0] + c[1] + c[2]))


def main(argv: list[str] | None = None) -> int:
    from spinestab.wearable.config import WearableConfig
    from spinestab.wearable.features import compute_features
    from spinestab.wearable.io import recording_from_array
    from spinestab.wearable.posture import gait_per_second

    with np.load(NPZ) as npz:
        z = {k: npz[k] for k in npz.files}
    feats = {
        k: compute_features(recording_from_array(z[f"{k}_acc"], fs_hz=100).with_units("g"))
        for k in KEYS
    }
    # each reference labels a second on its own (>= half of it inside one of its bouts); the
    # union is walking where either reference labels it. Adding the two references' coverage
    # instead (the former code) made two partial covers of 0.3 s a walking second.
    truth = {
        (k, name): np.logical_or.reduce(
            [second_truth(z[f"{k}_{r}_wb"], feats[k].n_seconds) for r in refs]
        )
        for k in KEYS
        for name, refs in TRUTHS.items()
    }
    summed = {  # the former union, for the record
        k: second_truth(
            np.concatenate([np.reshape(z[f"{k}_{r}_wb"], (-1, 2)) for r in TRUTHS["union"]]),
            feats[k].n_seconds,
        )
        for k in KEYS
    }

    def counts(walking: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
        out = {}
        for k in KEYS:
            w, t = walking[k][: truth[k, name].size], truth[k, name]
            out[k] = np.array([(w & t).sum(), (w & ~t).sum(), (~w & t).sum()])
        return out

    def detect(cfg: WearableConfig) -> dict[str, np.ndarray]:
        return {k: gait_per_second(f.vert, f.nsub, cfg).walking for k, f in feats.items()}

    base = WearableConfig()
    print("1. default configuration, per-second F1 (tp, fp, fn)")
    wd = detect(base)
    for name in TRUTHS:
        c = counts(wd, name)
        per = ", ".join(
            f"{k} {f1(v):.2f}" if v[0] + v[2] else f"{k} fp={v[1]}" for k, v in c.items()
        )
        tot = sum(c.values())
        print(f"   vs {name:6s} F1 {f1(tot):.3f} {tuple(int(x) for x in tot)}\n      {per}")
    old = np.zeros(3)
    for k in KEYS:
        w, t = wd[k][: summed[k].size], summed[k]
        old += [(w & t).sum(), (w & ~t).sum(), (~w & t).sum()]
    print(
        f"   vs the former union (coverage of both references added per second): "
        f"F1 {f1(old):.3f} {tuple(int(x) for x in old)}"
    )
    inter = np.zeros(3)
    for k in KEYS:
        a, b = truth[k, "INDIP"], second_truth(z[f"{k}_Stereophoto_wb"], feats[k].n_seconds)
        inter += [(a & b).sum(), (a & ~b).sum(), (~a & b).sum()]
    print(f"   INDIP vs Stereophoto (the references with each other): F1 {f1(inter):.3f}")

    print("\n2. nested cross-validation (held-out F1; in-sample best for comparison)")
    held_union: dict[str, float] = {}
    for gname, space in GRIDS.items():
        points = [dict(zip(space, v, strict=True)) for v in itertools.product(*space.values())]
        results = [(p, detect(dataclasses.replace(base, **p))) for p in points]
        for name in TRUTHS:
            cands = [(p, counts(w, name)) for p, w in results]
            best_all = max(cands, key=lambda c: f1(sum(c[1].values())))
            line = [f"   grid {gname}, vs {name}:"]
            for cv_name, group in (("by recording", lambda k: k), ("by subject", lambda k: k[:5])):
                held = np.zeros(3)
                for g in sorted({group(k) for k in KEYS}):
                    train = [k for k in KEYS if group(k) != g]
                    best = max(cands, key=lambda c: f1(sum(c[1][k] for k in train)))
                    held += sum(best[1][k] for k in KEYS if group(k) == g)
                line.append(f"held-out {cv_name} {f1(held):.3f}")
                if name == "union" and cv_name == "by recording":
                    held_union[gname] = f1(held)
            line.append(f"in-sample best {f1(sum(best_all[1].values())):.3f}")
            print(" ".join(line[:1]) + "\n      " + "; ".join(line[1:]))
        print(f"      in-sample best point: {best_all[0]}")
    primary = held_union[next(iter(GRIDS))]

    print("\n3. mobgap's gait-sequence detectors, same recordings and scoring")
    ok = PEERS.exists() and SHARED.exists()
    if ok:
        ok = (
            subprocess.run([str(PEERS), "-c", "import mobgap"], capture_output=True).returncode == 0
        )
    if not ok:
        print(
            "   skipped: needs ../shared and mobgap in benchmarks/.venv-peers (wearable_setup.sh)"
        )
        return 0
    res = _peer_json(MOBGAP, str(SHARED))
    if isinstance(res, str):
        print("   mobgap failed:", res)
        return 0
    best_peer, best_name = 0.0, ""
    for algo, per in res.items():
        walking = {k: second_truth(np.asarray(per[k]), feats[k].n_seconds) for k in KEYS}
        got = {name: f1(sum(counts(walking, name).values())) for name in TRUTHS}
        print(f"   {algo:20s} " + "; ".join(f"vs {n} F1 {v:.3f}" for n, v in got.items()))
        if got["union"] > best_peer:
            best_peer, best_name = got["union"], algo
    margin = primary - best_peer
    print(
        f"\n   target (issue 13.2): walking-second F1 vs the union, held out by recording "
        f"(grid {next(iter(GRIDS))}), >= 0.85 and >= 0.08 above the best mobgap detector\n"
        f"      spinestab {primary:.3f} ({'met' if primary >= 0.85 else 'NOT met'}); best mobgap "
        f"{best_name} {best_peer:.3f}; margin {margin:+.3f} "
        f"({'met' if margin >= 0.08 - 1e-9 else 'NOT met'})"
    )

    print(
        "\n4. spinestab's walking seconds scored by mobgap's own GSD evaluation\n"
        "   (mobgap's reference reading at both levels: reference_para_level 'wb' =\n"
        "   ContinuousWalkingPeriod, mobgap's default, and 'lwb' = MicroWB; then\n"
        "   categorize_intervals_per_sample + calculate_matched_gsd_performance_metrics,\n"
        "   sample-wise, no tolerance; 'combined' pools the samples of all recordings)"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({k: wd[k].astype(int).tolist() for k in KEYS}, f)
    try:
        ev = _peer_json(MOBGAP_EVAL, str(SHARED), f.name)
    finally:
        Path(f.name).unlink()
    if isinstance(ev, str):
        print("   mobgap evaluation failed:", ev)
        return 0
    for ref, r in ev.items():
        c = r["combined"]
        mean = np.mean([v[0] for v in r["per"].values()])
        print(
            f"   {ref:15s} combined F1 {c[0]:.3f} (tp {c[1]}, fp {c[2]}, fn {c[3]} samples);"
            f" mean of per-recording F1 {mean:.3f} (zero_division 0)"
        )
        b = r["bouts"]
        print(
            f"      bout level (mobgap categorize_intervals, overlap >= 0.8 both ways):"
            f" F1 {f1(np.array(b, float)):.3f} (tp {b[0]}, fp {b[1]}, fn {b[2]} bouts)"
        )
        print(
            "      "
            + ", ".join(
                f"{k} {v[0]:.2f}" if v[1] + v[3] else f"{k} fp={v[2]}" for k, v in r["per"].items()
            )
        )
    for system in ("INDIP", "Stereophoto"):
        same = all(
            ev[f"{system}/wb"]["per"][k][4] == ev[f"{system}/lwb"]["per"][k][4] for k in KEYS
        )
        print(f"   {system}: ContinuousWalkingPeriod and MicroWB bouts identical: {same}")
    empty = [
        k for k in KEYS if not ev["INDIP/wb"]["per"][k][4] and not ev["INDIP/lwb"]["per"][k][4]
    ]
    print(f"   INDIP lists no bout at either level in: {', '.join(empty) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
