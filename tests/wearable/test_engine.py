"""The many-stream engine against LiveMonitor and the offline pipeline (issue 13.3).

The truth for each stream is :class:`LiveMonitor` fed the same samples (itself equal to the
offline pipeline outside non-wear, tests/wearable/test_live.py) and the offline prompts.
Streams differ in recording, mounting, units, start and packetisation; the engine is fed in
random batches, some repeated and some out of order, and stepped at random moments.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.engine import LiveEngine, StreamSetup
from spinestab.wearable.io import recording_from_array
from spinestab.wearable.live import LiveMonitor, orientation_from_dict
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.posture import CLASS_NAMES, NONWEAR
from spinestab.wearable.stream_batch import StreamBatch
from spinestab.wearable.synthetic import day_with_turns, render_script, scripted_recording

FS = 25
G = 9.80665


def _streams():
    """Four streams of 4 h: scripted days (one with the sensor taken off), m/s^2 or g."""
    n = 4 * 3600 * FS
    out = []
    a = scripted_recording(days=4 / 24, fs_hz=FS, seed=3, units="m/s2")
    out.append(("a", a.trunk, a.start_unix_s, 1 / G, PromptConfig()))
    b = scripted_recording(days=0.5, fs_hz=FS, seed=11, units="g", start_unix_s=1.7e9 + 5 * 3600)
    b0 = 8 * 3600 * FS  # from 08:00 on the stream's clock: sitting, standing, walking
    out.append(
        (
            "b",
            b.trunk[b0 : b0 + n],
            b.start_unix_s + 8 * 3600,
            1.0,
            PromptConfig(static_limit_min=20),
        )
    )
    c = render_script(day_with_turns(seed=2), fs_hz=FS, seed=2, units="m/s2")
    c0 = 12 * 3600 * FS  # 12:00-16:00: walking, 90 min on a table, sitting
    out.append(("c", c.trunk[c0 : c0 + n], c.start_unix_s + 12 * 3600, 1 / G, PromptConfig()))
    d = scripted_recording(days=0.5, fs_hz=FS, seed=21, units="g")
    quiet = PromptConfig(static_limit_min=15, snooze_min=10, quiet_start_h=9, quiet_end_h=10)
    d0 = 7 * 3600 * FS
    out.append(("d", d.trunk[d0 : d0 + n], d.start_unix_s + 7 * 3600, 1.0, quiet))
    return out


@pytest.fixture(scope="module")
def reference():
    """Offline result, orientation, and LiveMonitor's postures and prompts per stream."""
    ref = {}
    for name, x, t0, scale, prompts in _streams():
        rec = recording_from_array(x, fs_hz=FS, start_unix_s=t0).with_units(
            "g" if scale == 1.0 else "m/s2"
        )
        off = analyse(rec, cfg=WearableConfig(prompts=prompts))
        orient = orientation_from_dict(off.info["trunk"]["orientation"])
        mon = LiveMonitor(
            fs_hz=FS,
            start_unix_s=t0,
            orientation=orient,
            scale_to_g=scale,
            cfg=WearableConfig(prompts=prompts),
        )
        posts, prompts_at, i = [], [], 0
        n = x.shape[0] // FS
        while i < x.shape[0]:
            u = mon.feed(x[i : i + FS * 600])
            posts.append(u.posture)
            prompts_at += u.prompts_unix_s
            i += FS * 600
        u = mon.flush()
        posts.append(u.posture)
        prompts_at += u.prompts_unix_s
        # LiveMonitor delivers the prompt of second s once the stream holds s + lag + 1
        # seconds (test_live.py checks it second by second)
        prompts_at = [(p, min(n, round(p - t0) + mon.lag + 1)) for p in prompts_at]
        ref[name] = (x, t0, scale, prompts, off, orient, np.concatenate(posts), prompts_at)
    return ref


def _setup(ref, name):
    _x, t0, scale, prompts, _off, orient, _live, _p = ref[name]
    return StreamSetup(start_unix_s=t0, orientation=orient, scale_to_g=scale, prompts=prompts)


def test_engine_equals_live_monitor_and_offline_with_random_batches(reference):
    eng = LiveEngine(fs_hz=FS, capacity=2)  # grows as streams open
    rng = np.random.default_rng(7)
    plans = {}
    for name in reference:
        eng.open(name, _setup(reference, name))
        eng.watch(name)
        x = reference[name][0]
        cuts = np.cumsum(rng.integers(1, FS * 400, size=x.shape[0] // FS))
        cuts = np.concatenate([[0], cuts[cuts < x.shape[0]], [x.shape[0]]])
        plans[name] = list(itertools.pairwise(cuts.tolist()))
    prompts = []
    pos = dict.fromkeys(reference, 0)
    while any(pos[n] < len(plans[n]) for n in reference):
        for name in reference:
            i = pos[name]
            if i >= len(plans[name]):
                continue
            x, t0 = reference[name][0], reference[name][1]
            a, b = plans[name][i]
            batch = StreamBatch(i, t0 + a / FS, samples=x[a:b], fs_hz=FS)
            if i + 1 < len(plans[name]) and rng.random() < 0.2:
                # the next batch arrives first (held), then this one; then a repeat
                a2, b2 = plans[name][i + 1]
                early = StreamBatch(i + 1, t0 + a2 / FS, samples=x[a2:b2], fs_hz=FS)
                assert eng.submit(name, early).status == "held"
                assert eng.submit(name, batch).status == "accepted"
                assert eng.submit(name, early).status == "duplicate"
                pos[name] += 2
            else:
                assert eng.submit(name, batch).status == "accepted"
                pos[name] += 1
            if rng.random() < 0.3:
                assert eng.submit(name, batch).status == "duplicate"
        if rng.random() < 0.5:
            prompts += eng.step().prompts
    prompts += eng.step().prompts
    for name in reference:
        prompts += eng.close(name).prompts
    for name, (_x, _t0, _s, _p, off, _o, live, live_prompts) in reference.items():
        post, _fwd = eng.watched(name)
        assert post.size == live.size == off.posture.size
        np.testing.assert_array_equal(post, live)  # every second, non-wear included
        worn = off.posture != NONWEAR
        np.testing.assert_array_equal(post[worn], off.posture[worn])
        got = sorted(p.unix_s for p in prompts if p.stream == name)
        assert got == sorted(p for p, _ in live_prompts)
        np.testing.assert_allclose(got, off.prompts_unix_s)
    names = {CLASS_NAMES[c] for r in reference.values() for c in np.unique(r[6])}
    assert {"lying", "walking", "upright_static", "nonwear", "moving"} <= names
    assert sum(len(r[7]) for r in reference.values()) >= 10


def test_prompts_arrive_on_time_and_state_survives_a_restart(reference):
    # one second per stream per step, as a device sends: every prompt is settled in the
    # step that brings its second + lag, as LiveMonitor delivers it; half way the server
    # restarts from the streams' bytes
    eng = LiveEngine(fs_hz=FS)
    names = ["b", "d"]
    for name in names:
        eng.open(name, _setup(reference, name))
    n_sec = {n: reference[n][0].shape[0] // FS for n in names}
    horizon = 3 * 3600  # the first three hours, one second at a time
    prompts = []
    for t in range(horizon):
        for name in names:
            if t < n_sec[name]:
                x, t0 = reference[name][0], reference[name][1]
                eng.submit(name, StreamBatch(t, t0 + t, samples=x[t * FS : (t + 1) * FS]))
        prompts += eng.step().prompts
        if t == 5417:  # restart: every stream to bytes, a new engine from them
            saved = {n: eng.stream_state(n) for n in names}
            eng = LiveEngine(fs_hz=FS)
            for n in names:
                eng.restore_stream(n, saved[n])
    for name in names:
        t0 = reference[name][1]
        want = sorted(pa for pa in reference[name][7] if pa[1] <= horizon)
        got = sorted((p.unix_s, p.settled_at) for p in prompts if p.stream == name)
        assert len(got) >= 2 and got == want  # each settled when LiveMonitor delivered it
        for unix_s, at in got:
            assert at == round(unix_s - t0) + eng.lag + 1


def test_declared_standing_start_equals_live_monitor():
    syn = scripted_recording(days=0.2, fs_hz=FS, seed=8)
    rng = np.random.default_rng(1)
    up = syn.trunk_rotation @ np.array([1.0, 0.0, 0.0])
    stand = (up + rng.normal(0, 0.01, (FS * 12, 3))).astype(np.float32)
    x = np.concatenate([stand, syn.trunk])
    mon = LiveMonitor(fs_hz=FS, start_unix_s=0.0, standing_first_s=12)
    live = np.concatenate([mon.feed(x).posture, mon.flush().posture])
    eng = LiveEngine(fs_hz=FS)
    eng.open("s", StreamSetup(start_unix_s=0.0, standing_first_s=12))
    eng.watch("s")
    for i, a in enumerate(range(0, x.shape[0], FS * 7)):
        eng.submit("s", StreamBatch(i, a / FS, samples=x[a : a + FS * 7]))
        if i % 5 == 0:
            eng.step()
    eng.close("s")
    post, _ = eng.watched("s")
    np.testing.assert_array_equal(post, live)


def test_gaps_are_missing_and_bad_batches_are_refused(reference):
    eng = LiveEngine(fs_hz=FS)
    eng.open("g", _setup(reference, "a"))
    x, t0 = reference["a"][0], reference["a"][1]
    eng.submit("g", StreamBatch(0, t0, samples=x[: FS * 600]))
    # 5 minutes later: the gap is filled as missing seconds (non-wear), not shifted
    eng.submit("g", StreamBatch(1, t0 + 900, samples=x[FS * 900 : FS * 1200]))
    eng.watch("g")
    eng.close("g")
    post, _ = eng.watched("g")
    assert post.size == 1200
    assert (post[600:900] == NONWEAR).all()
    eng.open("h", _setup(reference, "a"))
    eng.submit("h", StreamBatch(0, t0, samples=x[: FS * 10]))
    with pytest.raises(InputError, match="overlaps"):
        eng.submit("h", StreamBatch(1, t0 + 5, samples=x[: FS * 10]))
    with pytest.raises(InputError, match="too long to fill"):
        eng.submit("h", StreamBatch(1, t0 + 3 * 86400, samples=x[: FS * 10]))
    with pytest.raises(InputError, match="another rate"):
        eng.submit("h", StreamBatch(1, None, samples=x[: FS * 10], fs_hz=50))
    with pytest.raises(InputError, match="no such stream"):
        eng.submit("nobody", StreamBatch(0, None, samples=x[:FS]))
    with pytest.raises(InputError, match="already open"):
        eng.open("h", _setup(reference, "a"))
    with pytest.raises(InputError, match="lag too short"):
        LiveEngine(fs_hz=FS, lag_s=20)
    with pytest.raises(InputError, match="rate"):
        LiveEngine(fs_hz=12)
    with pytest.raises(InputError, match="not a stream state"):
        eng.restore_stream("z", b"not numpy at all")
    with pytest.raises(InputError, match="not yet processed"):
        eng.stream_state("h")
    eng.step()
    other = LiveEngine(fs_hz=50)
    with pytest.raises(InputError, match="set up differently"):
        other.restore_stream("z", eng.stream_state("h"))


def test_per_second_features_from_the_device_equal_raw_samples(reference):
    # a phone may send the per-second features FeatureStream computes instead of samples
    from spinestab.wearable.stream import FeatureStream
    from spinestab.wearable.stream_batch import BatchFeatures

    x = reference["c"][0][: FS * 3 * 3600]
    raw, feat = LiveEngine(fs_hz=FS), LiveEngine(fs_hz=FS)
    for e in (raw, feat):
        e.open("c", _setup(reference, "c"))
        e.watch("c")
    fs = FeatureStream(fs_hz=FS, scale_to_g=reference["c"][2])
    t0 = reference["c"][1]
    for i, a in enumerate(range(0, x.shape[0], FS * 60)):
        raw.submit("c", StreamBatch(i, t0 + a / FS, samples=x[a : a + FS * 60]))
        ch = fs.feed(x[a : a + FS * 60])
        f = BatchFeatures(ch.g, ch.sd, ch.vert, ch.missing)
        feat.submit("c", StreamBatch(i, t0 + a / FS, features=f))
    pr, pf = raw.close("c").prompts, feat.close("c").prompts
    np.testing.assert_array_equal(feat.watched("c")[0], raw.watched("c")[0])
    assert [p.unix_s for p in pf] == [p.unix_s for p in pr]


def test_frames_of_many_streams_with_a_late_frame_equal_one_by_one(reference):
    x, t0 = reference["b"][0][: FS * 1800], reference["b"][1]
    names = ["p", "q", "r"]
    eng = LiveEngine(fs_hz=FS)
    for n in names:
        eng.open(n, _setup(reference, "b"))
        eng.watch(n)
    frames = x.reshape(-1, FS * 10, 3)  # 10-s batches, the same samples for every stream
    for i, fr in enumerate(frames):
        if i == 7:  # stream q's 8th batch comes after its 9th
            eng.submit_frames(["p", "r"], np.array([i, i]), np.stack([fr, fr]))
            continue
        if i == 8:
            eng.submit_frames(["p", "q", "r"], np.array([i, i, i]), np.stack([fr] * 3))
            assert eng.submit_frames(["q"], np.array([7]), frames[7][None]) == 1  # 8 follows
            assert eng.submit_frames(["q"], np.array([7]), frames[7][None]) == 0  # repeat
            continue
        eng.submit_frames(names, np.full(3, i), np.stack([fr] * 3))
        if i % 4 == 0:
            eng.step()
    for n in names:
        eng.close(n)
    ref = LiveMonitor(
        fs_hz=FS,
        start_unix_s=t0,
        orientation=reference["b"][5],
        scale_to_g=reference["b"][2],
        cfg=WearableConfig(prompts=reference["b"][3]),
    )
    live = np.concatenate([ref.feed(x).posture, ref.flush().posture])
    for n in names:
        np.testing.assert_array_equal(eng.watched(n)[0], live)
