"""Real lower-back recordings: mobgap walking bouts and the SKDH sit-to-stand sample."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.features import compute_features
from spinestab.wearable.io import read_recording, recording_from_array
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.posture import WALKING, gait_per_second
from spinestab.wearable.sit2stand import sit_to_stand_displacement, transfers_in_recording

from .conftest import DATA, load_npz, shared_file

KEYS = [
    f"{s}_{t}"
    for s in ("HA001", "HA002", "MS001")
    for t in ("Test11_Trial1", "Test5_Trial1", "Test5_Trial2")
]
FS = 100  # Hz, the mobgap lower-back recordings


def _f1(c):
    return 2 * c[0] / (2 * c[0] + c[1] + c[2])


def _detected():
    """Per-second walking of every recording (default configuration) and its features."""
    z = load_npz(DATA / "mobgap_lowerback.npz")
    out = {}
    for key in KEYS:
        rec = recording_from_array(z[f"{key}_acc"], fs_hz=FS).with_units("g")
        f = compute_features(rec)
        out[key] = (gait_per_second(f.vert, f.nsub, WearableConfig()), z[f"{key}_acc"].shape[0])
    return z, out


def _bouts(z, key, refs):
    return np.concatenate([np.reshape(z[f"{key}_{r}_wb"], (-1, 2)) for r in refs])


def _per_second_counts(z, det, refs):
    """(tp, fp, fn) per recording, in whole seconds (the scoring the README states).

    Each reference labels a second on its own; with several references a second is walking
    when any of them labels it (their labels are combined, not their coverage).
    """
    counts = {}
    for key in KEYS:
        walking = det[key][0].walking
        s = np.arange(walking.size)
        truth = np.zeros(walking.size, bool)
        for ref in refs:
            cover = np.zeros(walking.size)
            for a, b in _bouts(z, key, [ref]):
                cover += np.clip(np.minimum(s + 1, b) - np.maximum(s, a), 0, None)
            truth |= cover >= 0.5
        counts[key] = np.array(
            [(walking & truth).sum(), (walking & ~truth).sum(), (~walking & truth).sum()]
        )
    return counts


def _sample_counts(z, det, refs):
    """(tp, fp, fn) per recording, in samples, as mobgap scores gait sequences.

    mobgap reads a bout as samples ``round(Start * fs) - 1`` to ``round(End * fs)``
    inclusive (``parse_reference_parameters``) and counts samples
    (``categorize_intervals_per_sample``), no tolerance. Detected samples: those of the
    detected walking seconds; the trailing part-second is not walking.
    """
    counts = {}
    for key in KEYS:
        gait, n = det[key]
        w = np.zeros(n, bool)
        w[: gait.walking.size * FS] = np.repeat(gait.walking, FS)
        r = np.zeros(n, bool)
        for a, b in _bouts(z, key, refs):
            r[round(a * FS) - 1 : round(b * FS) + 1] = True
        counts[key] = np.array([(w & r).sum(), (w & ~r).sum(), (~w & r).sum()])
    return counts


def test_mobgap_walking_seconds_f1():
    # Scoring (written out exactly; benchmarks/wearable_gait_bench.py prints the same):
    # - seconds: second i of a recording is [i, i + 1) s from its first sample, whole
    #   seconds only (floor(n / 100)); it is REFERENCE walking when its total overlap with
    #   the reference bouts [Start, End] (seconds, as stored in data.mat) is >= 0.5 s, and
    #   DETECTED walking when >= 0.5 s of it lies inside a detected walking interval
    #   (Gait.walking, the per-second output).
    # - reference: INDIP's bouts (the Mobilise-D reference system). The npz holds its
    #   MicroWB level; ContinuousWalkingPeriod (mobgap's default level "wb") lists the very
    #   same bouts in all nine trials (test_mobgap_reference_levels below), so the F1 is
    #   the same at either level. Secondary: the union of INDIP and Stereophoto bouts.
    # - F1 = 2TP / (2TP + FP + FN) with TP, FP, FN summed over all nine recordings (mobgap's
    #   "combined" F1); no recording or trial is left out, also not HA002's two Test5
    #   trials, where neither INDIP level lists any bout (all detected walking there is FP).
    # - cross-check: the same F1 in samples as mobgap's categorize_intervals_per_sample
    #   computes it (_sample_counts); running mobgap's own functions on these detections
    #   (benchmark, section 4) gives 0.817 (tp 15258, fp 5568, fn 1287 samples) at both levels.
    # Achieved (default configuration, no parameter chosen on these figures beyond the
    # cross-validated grid in the benchmark, whose held-out F1 equals these): per second
    # 0.817 vs INDIP (152 tp, 56 fp, 12 fn), 0.865 vs the union (170 tp, 38 fp, 15 fn).
    # The first target (0.9 vs INDIP) was not met; issue 13.2 restated it against the
    # union. Per recording vs INDIP: HA001 Test11 0.77, Test5 0.91 / 1.00; HA002 Test11
    # 0.80, Test5 no reference walking (3 fp s each); MS001 Test11 0.86, Test5 0.89 / 1.00.
    z, det = _detected()
    indip = _per_second_counts(z, det, ["INDIP"])
    union = _per_second_counts(z, det, ["INDIP", "Stereophoto"])
    f1_indip, f1_union = _f1(sum(indip.values())), _f1(sum(union.values()))
    assert f1_indip >= 0.81
    # issue 13.2's target: >= 0.85 against the union (measured 0.865; the nested
    # cross-validation in benchmarks/wearable_gait_bench.py holds it out at 0.865, and
    # mobgap's best detector scores 0.782 the same way)
    assert f1_union >= 0.85
    f1_samples = _f1(sum(_sample_counts(z, det, ["INDIP"]).values()))
    assert abs(f1_samples - f1_indip) <= 0.01  # seconds and mobgap's samples agree
    # every recording with reference walking: F1 >= 0.75 (achieved 0.77-1.00)
    per = [_f1(c) for c in indip.values() if c[0] + c[2]]
    assert len(per) == 7 and min(per) >= 0.75
    # HA002 Test5: INDIP lists no bout; what is detected there (3 s each) is counted as FP
    for key in ("HA002_Test5_Trial1", "HA002_Test5_Trial2"):
        assert z[f"{key}_INDIP_wb"].size == 0
        assert indip[key][1] == det[key][0].walking.sum()


def test_mobgap_cadence_per_bout():
    z, det = _detected()
    cad_err = []
    for key in KEYS:
        gait = det[key][0]
        for (a, b), c in zip(z[f"{key}_INDIP_wb"], z[f"{key}_INDIP_cadence"], strict=True):
            sel = gait.walking[int(a) : int(b)]
            if sel.sum() >= 3 and np.isfinite(c):
                cad = 60 * gait.steps[int(a) : int(b)][sel].mean()
                cad_err.append(abs(cad - c) / c)
    assert np.median(cad_err) < 0.10  # cadence within 10 % of INDIP's per-bout cadence


def test_mobgap_reference_levels():
    # The reference as read from the source files: INDIP's MicroWB (mobgap level "lwb")
    # and ContinuousWalkingPeriod (level "wb", mobgap's default) list identical bouts in
    # every trial used, both equal to what the npz holds; HA002's Test5 trials have no
    # INDIP bout at either level.
    sio = pytest.importorskip("scipy.io")
    z = load_npz(DATA / "mobgap_lowerback.npz")
    for subj in ("HA/001", "HA/002", "MS/001"):
        path = shared_file(f"lumbar_mobgap/data/lab/{subj}/data.mat")
        m = sio.loadmat(path, squeeze_me=True, struct_as_record=False)["data"]
        for test, trial in (("Test11", "Trial1"), ("Test5", "Trial1"), ("Test5", "Trial2")):
            std = getattr(getattr(m.TimeMeasure1, test), trial).Standards
            key = f"{subj.replace('/', '')}_{test}_{trial}"
            for system in ("INDIP", "Stereophoto"):
                levels = []
                for level in ("MicroWB", "ContinuousWalkingPeriod"):
                    wbs = np.atleast_1d(getattr(getattr(std, system), level))
                    levels.append(np.array([[w.Start, w.End] for w in wbs]).reshape(-1, 2))
                assert np.array_equal(levels[0], levels[1])
                assert np.allclose(levels[0], np.reshape(z[f"{key}_{system}_wb"], (-1, 2)))
                if system == "INDIP" and key.startswith("HA002_Test5"):
                    assert levels[0].size == 0


def test_sit_to_stand_transitions_found():
    rec = read_recording(DATA / "s2s_input_data.npz")
    res = analyse(rec)
    found = np.asarray(res.info["sit_to_stand_unix_s"])
    still = load_npz(DATA / "s2s_stillness_results.npz")["STS Start"]
    disp = load_npz(DATA / "s2s_displacement_results.npz")["STS Start"]
    # SKDH's stillness method: three transitions, each starting after sitting still; ours
    # finds each within 2 s and nothing else
    assert still.size == 3 and found.size == 3
    for s in still:
        assert np.min(np.abs(found - s)) <= 2.0
    # SKDH's displacement method adds two transitions that start during activity: these
    # are not found (a limit of a per-second, stillness-based rule)
    assert np.min(np.abs(disp[3:, None] - found[None, :]), axis=1).min() > 2.0


def test_sit_to_stand_displacement_method_finds_all_five():
    # SKDH's displacement method (Adamowicz et al. 2020, no stillness needed before the
    # transfer): our implementation against SKDH's own reference output for its sample
    rec = read_recording(DATA / "s2s_input_data.npz")
    res = analyse(rec, cfg=WearableConfig(sit_to_stand_method="displacement"))
    ref = load_npz(DATA / "s2s_displacement_results.npz")
    start = np.asarray(res.info["sit_to_stand_unix_s"])
    end = np.asarray(res.info["sit_to_stand_end_unix_s"])
    disp = np.asarray(res.info["sit_to_stand_displacement_m"])
    assert ref["STS Start"].size == 5 and start.size == 5 and end.size == 5
    # measured: every start and end within 0.015 s (2 samples at 128 Hz) of SKDH's
    assert np.max(np.abs(start - ref["STS Start"])) <= 0.1
    assert np.max(np.abs(end - ref["STS End"])) <= 0.1
    assert np.allclose(disp, ref["Vertical Displacement"], atol=0.01)
    # the two transfers that start during activity are among them
    still = load_npz(DATA / "s2s_stillness_results.npz")["STS Start"]
    assert np.min(np.abs(start[:, None] - still[None, :]), axis=1)[3:].min() > 2.0


def test_sit_to_stand_displacement_no_transfer_while_walking():
    # controls with no sit-to-stand: the six mobgap straight walks (Test5) and SKDH's
    # walking-with-turns recording
    z = load_npz(DATA / "mobgap_lowerback.npz")
    for key in (k for k in KEYS if "Test5" in k):
        assert sit_to_stand_displacement(z[f"{key}_acc"], FS).start_s.size == 0, key
    g = load_npz(DATA / "gait_input2.npz")
    fs = 1.0 / np.mean(np.diff(g["time"][:500]))
    assert sit_to_stand_displacement(g["accel"], fs).start_s.size == 0


def test_sit_to_stand_displacement_across_a_gap():
    # 10 s of missing samples (NaN) between the transfers: each finite run is searched on
    # its own, times stay on the recording's clock and nothing is invented in the gap (the
    # peak threshold is the power SD of each run, so a short run may lose a transfer:
    # measured 4 of 5 here)
    d = load_npz(DATA / "s2s_input_data.npz")
    fs = 1.0 / np.mean(np.diff(d["time"][:500]))
    a = d["accel"].copy()
    a[int(50 * fs) : int(60 * fs)] = np.nan
    found = transfers_in_recording(recording_from_array(a, fs_hz=fs)).start_s
    ref = load_npz(DATA / "s2s_displacement_results.npz")["STS Start"] - d["time"][0]
    assert found.size >= 3
    assert np.min(np.abs(found[:, None] - ref[None, :]), axis=1).max() <= 0.1


def test_sit_to_stand_displacement_bad_input():
    a = load_npz(DATA / "s2s_input_data.npz")["accel"].copy()
    a[100] = np.nan
    with pytest.raises(InputError):
        sit_to_stand_displacement(a, 128.0)
    with pytest.raises(InputError):
        sit_to_stand_displacement(a[:, :2], 128.0)
    rec = read_recording(DATA / "s2s_input_data.npz")
    with pytest.raises(InputError):
        analyse(rec, cfg=WearableConfig(sit_to_stand_method="wavelet"))


def test_skdh_lumbar_walk_cadence():
    # data not used to choose any parameter: SKDH's lumbar gait test input (128 Hz, one
    # walking bout with turns) and SKDH's own step-level endpoints for it
    rec = read_recording(DATA / "gait_input2.npz")
    res = analyse(rec)
    walking = res.posture == WALKING
    ref = load_npz(DATA / "gait_results2_vcwt.npz")
    assert walking.sum() >= 30  # SKDH's bout: 58 steps, 30.9 s of step times
    cadence = 60.0 * res.steps[walking].sum() / walking.sum()
    assert abs(cadence - np.nanmedian(ref["cadence"])) <= 0.05 * np.nanmedian(ref["cadence"])
