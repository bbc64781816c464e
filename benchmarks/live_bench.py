"""Live prompting (issue 13.3): the engine alone, and the HTTP endpoint under load.

One command: ``python -m benchmarks live [--parts engine,endpoint] [--streams N]
[--seconds T] [--bases B] [--clients C] [--requests R] [--time-limit S] [--batch-s K]
[--database sqlite|postgres]``.

**The engine** (``--parts engine``): concurrent 25 Hz trunk streams per core.
Every stream sends one-second packets (25 samples), as a phone forwarding a sensor does;
each simulated second all streams' packets go in with one ``submit_frames`` and one
``step``. Streams play one of ``B`` scripted recordings (random mountings, m/s^2, lying,
sitting, walking, running) from one of 8 starting points, so that each stream's truth is
known: the offline pipeline run on the same samples, with the same upright reference and
the same prompt options. Prompts fall due after 1 static minute (snooze 1 min) so that
they occur within the run. Checked for every stream: every prompt equals an offline prompt
and arrives exactly ``lag_s + 1`` seconds after its second (the step that brings that
second); every offline prompt due early enough to arrive is delivered; the postures of one
stream per starting point equal the offline ones.

Printed: CPU and wall time of the engine alone (packet assembly excluded; CPU time is the
figure on a shared machine, where the process gets a part of a core), sustained samples/s
and stream-seconds/s per CPU second (= streams one core keeps up with in real time), the engine's
array memory per stream and the process's resident memory per stream, and, side by side,
:class:`~spinestab.wearable.live.LiveMonitor` (one Python object per stream, the peer
baseline) measured on one stream. Goal: >= 50,000 streams on one core (1.25 M samples/s).

**The endpoint** (``--parts endpoint``): ``POST /api/v1/me/stream`` of a real ``spinestab
serve`` on loopback, ``C`` phones at once, JSON and binary batches: see
:mod:`benchmarks.live_endpoint`.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

FS = 25
G = 9.80665
N_OFFSETS = 8
T0 = 1704103200.0  # 2024-01-01 10:00 UTC: outside the default quiet hours


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks live")
    ap.add_argument("--streams", type=int, default=50_000)
    ap.add_argument("--seconds", type=int, default=0, help="default: lag + 150")
    ap.add_argument("--bases", type=int, default=8)
    ap.add_argument("--parts", default="engine,endpoint", help="engine, endpoint or both")
    ap.add_argument("--clients", type=int, default=50, help="endpoint: phones at once")
    ap.add_argument("--requests", type=int, default=2000, help="endpoint: per scenario")
    ap.add_argument("--time-limit", type=float, default=60.0, help="endpoint: s per scenario")
    ap.add_argument("--batch-s", type=int, default=10, help="endpoint: seconds a batch")
    ap.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = ap.parse_args(argv or [])
    parts = set(args.parts.split(","))
    rc = 0
    if "engine" in parts:
        rc |= _engine(args)
    if "endpoint" in parts:
        from benchmarks.live_endpoint import run_endpoint

        rc |= run_endpoint(args)
    return rc


def _engine(args: argparse.Namespace) -> int:
    """The engine alone: many streams, one-second packets, every prompt checked."""
    import contextlib
    import logging

    try:  # one core: BLAS may not spread the per-second features over threads
        from threadpoolctl import threadpool_limits

        one_core = threadpool_limits(1)
    except ImportError:  # pragma: no cover - the CPU time printed below still tells
        one_core = contextlib.nullcontext()

    logging.getLogger("spinestab").setLevel(logging.ERROR)  # short slices: no walking
    from spinestab.wearable.config import PromptConfig, WearableConfig
    from spinestab.wearable.engine import LiveEngine, StreamSetup
    from spinestab.wearable.io import recording_from_array
    from spinestab.wearable.live import LiveMonitor, orientation_from_dict
    from spinestab.wearable.pipeline import analyse
    from spinestab.wearable.posture import NONWEAR
    from spinestab.wearable.synthetic import scripted_recording

    prompts_cfg = PromptConfig(static_limit_min=1, snooze_min=1)
    cfg = WearableConfig(prompts=prompts_cfg)
    probe = LiveEngine(fs_hz=FS, cfg=cfg)
    lag = probe.lag
    secs = args.seconds or lag + 150
    n_streams = args.streams

    # the recordings and their truth per starting point (offline, same samples)
    t0 = time.perf_counter()
    span = secs + 60 * N_OFFSETS
    bases = []
    for b in range(args.bases):
        syn = scripted_recording(days=1, fs_hz=FS, seed=100 + b, units="m/s2")
        start = 8 * 3600 + 997 * b  # daytime: sitting, standing, walking, running
        bases.append(syn.trunk[start * FS : (start + span) * FS])
    base_arr = np.stack(bases)
    truth = {}
    for b in range(args.bases):
        for o in range(N_OFFSETS):
            x = base_arr[b, o * 60 * FS : (o * 60 + secs) * FS]
            rec = recording_from_array(x, fs_hz=FS, start_unix_s=T0).with_units("m/s2")
            res = analyse(rec, cfg=cfg)
            truth[b, o] = (res, orientation_from_dict(res.info["trunk"]["orientation"]))
    print(
        f"truth: {len(truth)} offline analyses of {secs} s "
        f"({time.perf_counter() - t0:.1f} s); lag {lag} s"
    )

    # the engine
    rss0 = _rss_bytes()
    eng = LiveEngine(fs_hz=FS, cfg=cfg, capacity=n_streams)
    rng = np.random.default_rng(0)
    which = rng.integers(0, args.bases, n_streams)
    off = rng.integers(0, N_OFFSETS, n_streams)
    names = [f"s{i}" for i in range(n_streams)]
    for i, name in enumerate(names):
        o = truth[int(which[i]), int(off[i])][1]
        eng.open(
            name,
            StreamSetup(start_unix_s=T0, orientation=o, scale_to_g=1 / G, prompts=prompts_cfg),
        )
    watched = {}
    for b, o in truth:
        hit = np.flatnonzero((which == b) & (off == o))
        if hit.size:
            eng.watch(names[hit[0]])
            watched[names[hit[0]]] = (b, o)
    eng._report_settled = False  # no per-stream dict of settled counts in the timed loop
    rss1 = _rss_bytes()
    first = off * 60 * FS
    arange = np.arange(FS)
    prompts = []
    engine_s = engine_cpu = 0.0
    seqs = np.zeros(n_streams, np.int64)
    with one_core:
        for t in range(secs):
            idx = first[:, None] + t * FS + arange  # this second's samples of every stream
            frame = base_arr[which[:, None], idx]
            t1, c1 = time.perf_counter(), time.process_time()
            eng.submit_frames(names, seqs, frame)
            prompts += eng.step().prompts
            engine_s += time.perf_counter() - t1
            engine_cpu += time.process_time() - c1
            seqs += 1
    rss2 = _rss_bytes()

    # checks: prompts equal and on time, watched postures equal
    by_stream: dict[str, list] = {}
    for p in prompts:
        by_stream.setdefault(p.stream, []).append(p)
    bad_time = bad_value = missing = 0
    for i, name in enumerate(names):
        res = truth[int(which[i]), int(off[i])][0]
        got = by_stream.get(name, [])
        for p in got:
            bad_time += p.settled_at != p.second + lag + 1
        want = [t for t in res.prompts_unix_s.tolist() if t - T0 + lag + 1 <= secs]
        have = sorted(p.unix_s for p in got)
        bad_value += have != want
        missing += max(0, len(want) - len(have))
    post_diff = 0
    for name, key in watched.items():
        post, _ = eng.watched(name)
        ref = truth[key][0].posture[: post.size]
        worn = ref != NONWEAR
        post_diff += int((post[worn] != ref[worn]).sum())
    n_prompts = len(prompts)

    # the peer: LiveMonitor, one object per stream, one-second packets
    x = base_arr[0, : 600 * FS]
    mon = LiveMonitor(
        fs_hz=FS, start_unix_s=0.0, orientation=truth[0, 0][1], scale_to_g=1 / G, cfg=cfg
    )
    t2 = time.process_time()
    for t in range(600):
        mon.feed(x[t * FS : (t + 1) * FS])
    mon_per_s = (time.process_time() - t2) / 600

    stream_s = n_streams * secs
    per_cpu = stream_s / engine_cpu  # what one core does when the process has it
    print(
        f"engine: {n_streams} streams x {secs} s of one-second packets, one thread: "
        f"{engine_cpu:.1f} s CPU ({engine_s:.1f} s wall, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n"
        f"   per CPU second: {per_cpu * FS / 1e6:.2f} M samples/s = {per_cpu:,.0f} streams one "
        f"core keeps up with in real time (wall: {stream_s / engine_s:,.0f})"
    )
    print(
        f"   goal 50,000 streams on one core (1.25 M samples/s): "
        f"{'met' if per_cpu >= 50_000 else 'NOT met'} (per CPU second)"
    )
    print(
        f"   memory per stream: engine arrays {eng.memory_per_stream_bytes() / 1024:.1f} KiB; "
        f"process resident {(rss1 - rss0) / n_streams / 1024:.1f} KiB after opening, "
        f"{(rss2 - rss0) / n_streams / 1024:.1f} KiB after the run"
    )
    print(
        f"   prompts: {n_prompts} delivered; {bad_value} streams whose prompts differ from "
        f"offline, {missing} offline prompts missing, {bad_time} not exactly lag + 1 s after "
        f"their second; postures of {len(watched)} watched streams: {post_diff} seconds "
        f"differ from offline where worn"
    )
    print(
        f"peer, LiveMonitor (one per stream): {mon_per_s * 1e3:.3f} ms CPU per one-second "
        f"packet = {1 / mon_per_s:,.0f} streams per core; engine/LiveMonitor "
        f"{per_cpu * mon_per_s:.1f}x"
    )
    ok = bad_time == 0 and bad_value == 0 and missing == 0 and post_diff == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
