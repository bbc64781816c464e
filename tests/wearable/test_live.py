"""Live monitoring (raw samples in, posture and prompts out) against the offline pipeline.

The truth is the offline pipeline on the same recording: a device fed the samples chunk by
chunk must settle every second with the offline posture (except in non-wear, which a
stream can only see once it has lasted its hour) and send the offline prompts, each
within ``lag_s`` of its time stamp.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.io import recording_from_array
from spinestab.wearable.live import LiveMonitor, orientation_from_dict
from spinestab.wearable.outputs import write_outputs
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.posture import CLASS_NAMES, NONWEAR, runs
from spinestab.wearable.synthetic import scripted_recording

FS = 25


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    syn = scripted_recording(days=2, fs_hz=FS, seed=3, units="m/s2")
    rec = recording_from_array(syn.trunk, fs_hz=FS, start_unix_s=syn.start_unix_s)
    res = analyse(rec.with_units("m/s2"))
    d = tmp_path_factory.mktemp("live")
    write_outputs(res, d, pictures=False)
    return syn, res, d / "wearable_summary.json"


def _stream(mon, samples, sizes):
    posts, prompts, i = [], [], 0
    for n in sizes:
        if i >= samples.shape[0]:
            break
        u = mon.feed(samples[i : i + n])
        assert u.first_second == sum(p.size for p in posts)  # settled in order, no gaps
        posts.append(u.posture)
        prompts += u.prompts_unix_s
        i += n
    u = mon.flush()
    posts.append(u.posture)
    prompts += u.prompts_unix_s
    return np.concatenate(posts), np.asarray(prompts)


def test_live_equals_offline_outside_nonwear(offline):
    syn, res, summary = offline
    mon = LiveMonitor.from_summary(
        summary, fs_hz=FS, start_unix_s=syn.start_unix_s, scale_to_g=1 / 9.80665
    )
    sizes = np.random.default_rng(0).integers(1, FS * 300, size=100_000)
    live, prompts = _stream(mon, syn.trunk, sizes)
    off = res.posture
    assert live.size == off.size
    worn = off != NONWEAR
    assert {"lying", "walking", "upright_static"} <= {CLASS_NAMES[c] for c in np.unique(off)}
    np.testing.assert_array_equal(live[worn], off[worn])
    assert res.prompts_unix_s.size > 10
    np.testing.assert_allclose(np.sort(prompts), res.prompts_unix_s)


def test_live_nonwear_starts_when_the_still_hour_is_complete(offline):
    syn, res, summary = offline
    mon = LiveMonitor.from_summary(
        summary, fs_hz=FS, start_unix_s=syn.start_unix_s, scale_to_g=1 / 9.80665
    )
    live, _ = _stream(mon, syn.trunk, [FS * 3600] * 100)
    off_nw = res.posture == NONWEAR
    assert off_nw.sum() > 3600  # the script takes the sensor off
    assert not (live == NONWEAR)[~off_nw].any()  # never non-wear where offline is not
    limit = 3600
    for a, b in zip(*runs(off_nw), strict=True):
        if b - a >= limit:  # a still run: non-wear from its 3600th second on
            assert not (live[a : a + limit - 1] == NONWEAR).any()
            assert (live[a + limit - 1 : b] == NONWEAR).all()


def test_prompts_arrive_lag_seconds_after_they_fall_due(offline):
    syn, res, summary = offline
    first = res.prompts_unix_s[0] - syn.start_unix_s  # seconds into the stream
    hours = int(first // 3600) + 1
    for lag in (120, 5):
        mon = LiveMonitor.from_summary(
            summary, fs_hz=FS, start_unix_s=syn.start_unix_s, scale_to_g=1 / 9.80665, lag_s=lag
        )
        k0 = int(first) - 600  # the hours before in one go, then second by second
        assert not mon.feed(syn.trunk[: k0 * FS]).prompts_unix_s
        got = None
        for k in range(k0, hours * 3600):  # one second of samples per call, as a device sends
            u = mon.feed(syn.trunk[k * FS : (k + 1) * FS])
            if u.prompts_unix_s:
                got = (k, u.prompts_unix_s[0])
                break
        assert got is not None
        k, t = got
        assert t == pytest.approx(res.prompts_unix_s[0])
        # the call that brings second first + lag delivers it
        assert k == int(first) + lag


def test_declared_standing_at_the_start_sets_the_upright_reference():
    syn = scripted_recording(days=1, fs_hz=FS, seed=8)
    rng = np.random.default_rng(1)
    up = syn.trunk_rotation @ np.array([1.0, 0.0, 0.0])  # upright, in the sensor frame
    stand = (up + rng.normal(0, 0.01, (FS * 12, 3))).astype(np.float32)
    mon = LiveMonitor(fs_hz=FS, start_unix_s=syn.start_unix_s - 12, standing_first_s=12)
    live, _ = _stream(mon, np.concatenate([stand, syn.trunk]), [FS * 60] * 2000)
    assert mon.orientation is not None and mon.orientation.up_source == "standing period"
    assert np.degrees(np.arccos(np.clip(mon.orientation.up @ up, -1, 1))) < 1.0
    truth = syn.posture
    live = live[12:]
    worn = (truth != NONWEAR) & (live != NONWEAR)
    for name in ("lying", "walking"):
        code = CLASS_NAMES.index(name)
        sel = worn & (truth == code)
        assert sel.sum() > 600 and (live[sel] == code).mean() >= 0.95


def test_live_bad_input(offline, tmp_path):
    summary = offline[2]
    with pytest.raises(InputError, match="at least 10 seconds"):
        LiveMonitor(fs_hz=FS, start_unix_s=0.0, standing_first_s=5)
    with pytest.raises(InputError, match="sampling rate"):
        LiveMonitor(fs_hz=12, start_unix_s=0.0)
    with pytest.raises(InputError, match="lag"):
        LiveMonitor(fs_hz=FS, start_unix_s=0.0, lag_s=-1)
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"thigh": {}}))
    with pytest.raises(InputError, match="trunk orientation"):
        LiveMonitor.from_summary(bad, fs_hz=FS, start_unix_s=0.0)
    with pytest.raises(InputError, match="parallel"):
        orientation_from_dict({"up": [1, 0, 0], "forward": [2, 0, 0]})
    mon = LiveMonitor.from_summary(summary, fs_hz=FS, start_unix_s=0.0)
    with pytest.raises(InputError, match=r"\(n, 3\)"):
        mon.feed(np.zeros((10, 2)))
    # a standing period that was not measured is refused, not guessed
    mon = LiveMonitor(fs_hz=FS, start_unix_s=0.0)
    with pytest.raises(InputError, match="standing period"):
        mon.feed(np.full((FS * 20, 3), np.nan))
