"""The live hub: many patients' streams on one engine, persisted per step (issue 13.3).

Truth: the offline pipeline on the same samples (its prompts, with the same upright
reference and prompt options). The hub is fed by several threads at once in random
batches, repeated and reordered, and restarted half way (a new hub on the same store).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from spinestab.errors import ConflictError, InputError
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.engine import LiveEngine
from spinestab.wearable.io import recording_from_array
from spinestab.wearable.live import orientation_from_dict
from spinestab.wearable.live_checks import StreamOptions, check_stream_name
from spinestab.wearable.live_hub import LiveHub, StreamUnavailableError
from spinestab.wearable.live_store import DeliveredPrompt, PromptPolicy, StoredStream, StreamKey
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.stream_batch import StreamBatch
from spinestab.wearable.synthetic import scripted_recording

FS = 25
G = 9.80665
PROMPTS = PromptConfig(static_limit_min=10, snooze_min=10)


class MemoryStore:
    """A store in memory with the contract of the record's (versions, one prompt a second)."""

    def __init__(self, policy: PromptPolicy | None = None) -> None:
        self.streams: dict[StreamKey, StoredStream] = {}
        self.prompts: dict[tuple[StreamKey, int], DeliveredPrompt] = {}
        self.policy_now = policy or PromptPolicy(PROMPTS, "plan", 1)
        self.fail = False
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None
        self.keys_per_step: list[int] = []

    @contextlib.contextmanager
    def transaction(self, keys):
        self.keys_per_step.append(len(keys))
        if self.gate is not None:
            self.gate.wait(timeout=30)
        with self.lock:
            staged = _Tx(self)
            yield staged
            if self.fail:
                raise OSError("disk full")
            self.streams.update(staged.streams)
            self.prompts.update(staged.prompts)


class _Tx:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.streams: dict = {}
        self.prompts: dict = {}

    def load(self, key):
        return self.store.streams.get(key)

    def policy(self, patient):
        return self.store.policy_now

    def save(self, key, stream, prompts, *, seq, policy, actor):
        old = self.store.streams.get(key)
        assert old is None or stream.version == old.version + 1
        self.streams[key] = stream
        out = []
        if policy.options is None:
            return out
        for p in prompts:
            if (key, p.second) in self.store.prompts:
                continue
            row = DeliveredPrompt(
                len(self.store.prompts) + len(self.prompts) + 1,
                key.name,
                p.unix_s,
                p.second,
                seq,
                "sent",
            )
            self.prompts[key, p.second] = row
            out.append(row)
        return out

    def delivered(self, key, seq):
        return [p for (k, _), p in self.store.prompts.items() if k == key and p.seq == seq]


@pytest.fixture(scope="module")
def day():
    """Two hours of a scripted day from 16:00 (sitting, standing, walking; 6 prompts) in m/s^2."""
    syn = scripted_recording(days=0.75, fs_hz=FS, seed=11, units="m/s2")
    a = 16 * 3600 * FS
    x = syn.trunk[a : a + 2 * 3600 * FS]
    t0 = syn.start_unix_s + 16 * 3600
    rec = recording_from_array(x, fs_hz=FS, start_unix_s=t0).with_units("m/s2")
    off = analyse(rec, cfg=WearableConfig(prompts=PROMPTS))
    orient = orientation_from_dict(off.info["trunk"]["orientation"])
    return x, t0, off, orient


def _batches(x, t0, rng, *, max_s=300):
    cuts = np.cumsum(rng.integers(FS, FS * max_s, size=x.shape[0] // FS))
    cuts = np.concatenate([[0], cuts[cuts < x.shape[0]], [x.shape[0]]])
    return [
        StreamBatch(i, t0 + a / FS, samples=x[a:b], fs_hz=FS)
        for i, (a, b) in enumerate(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
    ]


def test_hub_equals_offline_under_repeats_reorders_threads_and_a_restart(day):
    x, t0, off, orient = day
    assert off.prompts_unix_s.size >= 3
    store = MemoryStore()
    opts = StreamOptions(units="m/s2", orientation=orient)
    patients = ["P-1", "P-2", "P-3"]
    rng = np.random.default_rng(5)
    plans = {p: _batches(x, t0, rng) for p in patients}
    got: dict[str, list[DeliveredPrompt]] = {p: [] for p in patients}
    hub = LiveHub(store)

    def feed(patient, batches, hub):
        key = StreamKey(patient)
        i = 0
        local = np.random.default_rng(hash(patient) % 1000)
        while i < len(batches):
            b = batches[i]
            if b.seq > 0 and i + 1 < len(batches) and local.random() < 0.25:
                early = hub.advance(key, batches[i + 1], opts)
                assert early.status == "held"
                got[patient].extend(early.prompts)
                out = hub.advance(key, b, opts)
                assert out.status == "accepted" and out.next_seq == b.seq + 2
                got[patient].extend(out.prompts)
                again = hub.advance(key, batches[i + 1], opts)
                assert again.status == "duplicate"
                i += 2
            else:
                out = hub.advance(key, b, opts)
                assert out.status == "accepted"
                got[patient].extend(out.prompts)
                if local.random() < 0.3:  # a repeat: same prompts answered, none added
                    rep = hub.advance(key, b, opts)
                    assert rep.status == "duplicate" and rep.prompts == out.prompts
                i += 1

    half = {p: len(b) // 2 for p, b in plans.items()}
    errors = []

    def feed_first_half(p):
        try:
            feed(p, plans[p][: half[p]], hub)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=feed_first_half, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    hub2 = LiveHub(store)  # a restart: only the store is left
    for p in patients:
        feed(p, plans[p][half[p] :], hub2)
    n_settled = x.shape[0] // FS - hub2._engines[FS].lag - 1
    want = off.prompts_unix_s[off.prompts_unix_s - t0 < n_settled]
    for p in patients:
        mine = [q.unix_s for q in got[p]]
        assert len(mine) == len(set(mine))  # never a prompt twice
        np.testing.assert_allclose(sorted(mine), want)
        stored = sorted(q.unix_s for (k, _), q in store.prompts.items() if k.patient == p)
        np.testing.assert_allclose(stored, want)


def test_requests_that_arrive_during_a_step_share_the_next_one(day):
    x, t0, _off, orient = day
    store = MemoryStore()
    hub = LiveHub(store)
    opts = StreamOptions(units="m/s2", orientation=orient)
    batch = StreamBatch(0, t0, samples=x[: 60 * FS], fs_hz=FS)
    store.gate = threading.Event()  # the first step waits in its transaction
    first = threading.Thread(target=hub.advance, args=(StreamKey("P-0"), batch, opts))
    first.start()
    while not store.keys_per_step:
        time.sleep(0.01)
    others = [
        threading.Thread(target=hub.advance, args=(StreamKey(f"P-{i}"), batch, opts))
        for i in range(1, 4)
    ]
    for t in others:
        t.start()
    while len(hub._pending) < 3:
        time.sleep(0.01)
    store.gate.set()
    for t in (first, *others):
        t.join()
    assert store.keys_per_step == [1, 3]  # three streams advanced in one step
    assert hub.steps == 2 and hub.batches == 4
    assert len(store.streams) == 4


def test_units_time_and_gaps_are_checked(day):
    x, t0, _off, orient = day
    hub = LiveHub(MemoryStore())
    key = StreamKey("P-1", "watch")
    opts = StreamOptions(units="auto", orientation=orient)
    with pytest.raises(ConflictError, match="seq 0"):
        hub.advance(key, StreamBatch(3, t0, samples=x[: 60 * FS]), opts)
    out = hub.advance(key, StreamBatch(0, t0, samples=x[: 60 * FS]), opts)
    assert out.units == "m/s2"  # told from the magnitude
    with pytest.raises(InputError, match="look like g, but the stream is in m/s"):
        hub.advance(key, StreamBatch(1, t0 + 60, samples=x[60 * FS : 120 * FS] / G), opts)
    with pytest.raises(ConflictError, match="backwards"):
        hub.advance(key, StreamBatch(1, t0 + 30, samples=x[60 * FS : 120 * FS]), opts)
    with pytest.raises(InputError, match="over an hour"):
        hub.advance(key, StreamBatch(1, t0 + 60 + 3601, samples=x[60 * FS : 120 * FS]), opts)
    gap = hub.advance(key, StreamBatch(1, t0 + 70, samples=x[70 * FS : 120 * FS]), opts)
    assert gap.status == "accepted" and gap.gap_s == pytest.approx(10.0)
    # a refused batch changed nothing: the stream goes on from where it was
    assert (
        hub.advance(key, StreamBatch(2, None, samples=x[120 * FS : 180 * FS]), opts).next_seq == 3
    )
    with pytest.raises(InputError, match="first batch"):
        hub.advance(StreamKey("P-2"), StreamBatch(0, None, samples=x[:FS]), opts)
    for bad in ("", "a/b", "x" * 65, "ü"):
        with pytest.raises(InputError, match="stream name"):
            check_stream_name(bad)


def test_a_failed_store_keeps_nothing_and_a_resend_gives_the_same_prompts(day):
    x, t0, _off, orient = day
    store = MemoryStore()
    opts = StreamOptions(units="m/s2", orientation=orient)
    hub = LiveHub(store)
    key = StreamKey("P-1")
    batches = _batches(x, t0, np.random.default_rng(9), max_s=900)
    prompts = []
    for i, b in enumerate(batches):
        if i == len(batches) // 2:
            store.fail = True
            with pytest.raises(StreamUnavailableError):
                hub.advance(key, b, opts)
            store.fail = False
        prompts += hub.advance(key, b, opts).prompts
    assert sorted(p.unix_s for p in prompts) == sorted(p.unix_s for p in store.prompts.values())
    assert len(prompts) >= 3


def test_no_plan_no_prompts_and_options_follow_the_plan(day):
    x, t0, off, orient = day
    store = MemoryStore(PromptPolicy(None, "no_plan"))
    hub = LiveHub(store)
    key = StreamKey("P-1")
    opts = StreamOptions(units="m/s2", orientation=orient)
    batches = _batches(x, t0, np.random.default_rng(3), max_s=600)
    half = len(batches) // 2
    for b in batches[:half]:
        out = hub.advance(key, b, opts)
        assert out.prompts == [] and out.policy.reason == "no_plan"
    assert not store.prompts
    store.policy_now = PromptPolicy(replace(PROMPTS, static_limit_min=5, snooze_min=5), "plan", 2)
    got = []
    for b in batches[half:]:
        got += hub.advance(key, b, opts).prompts
    assert got and all(p.unix_s >= batches[half].device_time_unix_s - 300 for p in got)
    assert len(got) > np.sum(off.prompts_unix_s >= batches[half].device_time_unix_s)


def test_idle_streams_leave_memory_and_come_back_from_the_store(day):
    x, t0, off, orient = day
    store = MemoryStore()
    hub = LiveHub(store, idle_s=0.0)  # every stream leaves memory after each step
    opts = StreamOptions(units="m/s2", orientation=orient)
    prompts = []
    for b in _batches(x, t0, np.random.default_rng(4), max_s=900):
        prompts += hub.advance(StreamKey("P-1"), b, opts).prompts
        assert hub.streams_in_memory == 0
    n_settled = x.shape[0] // FS - LiveEngine(fs_hz=FS).lag - 1
    want = off.prompts_unix_s[off.prompts_unix_s - t0 < n_settled]
    np.testing.assert_allclose(sorted(p.unix_s for p in prompts), want)
