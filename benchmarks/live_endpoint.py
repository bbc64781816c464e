"""The live endpoint under load: ``POST /api/v1/me/stream`` on loopback (issue 13.3).

Part of ``python -m benchmarks live`` (``--parts endpoint``). A real ``spinestab serve``
(one uvicorn process) on a free loopback port, SQLite (or PostgreSQL with ``--database
postgres`` where ``SPINESTAB_TEST_POSTGRES_URL`` names a server). Each client is one
patient's phone: logged in as that patient (who has the bundled low-risk demo patient's
record and approved plan, so every step reads the plan and may store prompts), it sends its
stream's consecutive batches of ``--batch-s`` seconds at 25 Hz, each after the answer to
the one before. Two scenarios, each bounded in count and time: JSON batches and the binary
format (int16 counts, 6 bytes a sample). The payloads are encoded before the clock starts.

Printed per scenario: requests and errors, sustained requests/s and samples/s (wall), p50,
p95 and max latency, prompts received, the server process's CPU time (samples per server
CPU second: the figure on a shared machine, where the load generator and other work take
CPU from the server) and the load average.

The phones log in one after the other: 50 logins at once on SQLite answer some with 500
("database is locked" inserting the login attempt: a deferred transaction that reads, then
writes; a web app matter noted for its owner).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.service_bench import Server, _env, _postgres_url

FS = 25
G = 9.80665
STAND_S = 12
PASSWORD = "benchmark password"


def _seed(env: dict[str, str], *, clients: int) -> None:
    """Patients P-000... with the low-risk demo record, an approved plan and an account."""
    code = f"""
from pathlib import Path
from spinestab import record
from spinestab.record.imports import expand_paths, import_file
from spinestab.service.accounts import add_user
from spinestab.service.security import Passwords
from spinestab.settings import get_settings
import spinestab
folder = Path(spinestab.__file__).parent / "data" / "demo_patients" / "low_risk_self_management"
doc = record.Actor(username="bench", role="clinician")
pw = Passwords(time_cost=1, memory_kib=1024)
with record.open_record(get_settings()) as rec:
    with rec.unit_of_work() as uow:
        for i in range({clients}):
            name = f"P-{{i:03d}}"
            record.create_patient(uow, doc, name)
            for kind, path in expand_paths([folder]):
                if kind != "sessions":
                    import_file(uow, doc, name, path, kind)
            made = record.make_plan(uow, doc, name)
            record.approve_plan(uow, doc, name, version=made.plan.version)
            add_user(uow.session, f"phone{{i:03d}}", role="patient", password={PASSWORD!r},
                     patient=name, passwords=pw, actor="bench")
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _streams(clients: int, seconds: int) -> tuple[np.ndarray, float]:
    """Each client's samples (m/s^2): 12 s standing, then a scripted day from 09:00 on."""
    from spinestab.wearable.synthetic import scripted_recording

    syn = scripted_recording(days=0.5, fs_hz=FS, seed=11, units="m/s2")
    up = syn.trunk_rotation @ np.array([1.0, 0.0, 0.0]) * G
    rng = np.random.default_rng(0)
    out = []
    for c in range(clients):
        a = (9 * 3600 + 37 * c) * FS  # each client a little later in the day
        stand = (up + rng.normal(0, 0.1, (FS * STAND_S, 3))).astype(np.float32)
        out.append(np.concatenate([stand, syn.trunk[a : a + seconds * FS - STAND_S * FS]]))
    return np.stack(out), syn.start_unix_s + 9 * 3600


def _payloads(x: np.ndarray, t0: float, batch_s: int, binary: bool) -> list[bytes]:
    import json

    from spinestab.wearable.stream_batch import StreamBatch, batch_to_bytes, batch_to_json

    out = []
    for i, a in enumerate(range(0, x.shape[0], batch_s * FS)):
        b = StreamBatch(i, t0 + a / FS, samples=x[a : a + batch_s * FS], fs_hz=FS)
        if binary:
            out.append(batch_to_bytes(b, counts_per_unit=1000.0))
        else:
            out.append(json.dumps(batch_to_json(b), separators=(",", ":")).encode())
    return out


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _scenario(
    server: Server, *, clients, payloads, batch_samples, stream, binary, requests, seconds
):
    ctype = "application/octet-stream" if binary else "application/json"

    sessions = []
    for c in range(clients):  # one after the other: see the note in the module
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as login:
            r = await login.post(
                "/api/v1/auth/login", json={"username": f"phone{c:03d}", "password": PASSWORD}
            )
            r.raise_for_status()
            # a fresh connection for the run (uvicorn closes one idle for 5 s)
            client = httpx.AsyncClient(base_url=server.base, timeout=60, cookies=login.cookies)
            sessions.append((client, r.json()["csrf_token"]))
    budget = iter(range(requests))
    latencies: list[float] = []
    errors: dict[int | str, int] = {}
    prompts = 0
    deadline = time.perf_counter() + seconds

    async def phone(c: int) -> None:
        nonlocal prompts
        client, csrf = sessions[c]
        headers = {"X-CSRF-Token": csrf, "content-type": ctype}
        params = {"stream": stream, "units": "m/s2", "standing_s": STAND_S}
        for body in payloads[c]:
            if time.perf_counter() > deadline or next(budget, None) is None:
                return
            start = time.perf_counter()
            try:
                r = await client.post(
                    "/api/v1/me/stream", content=body, headers=headers, params=params
                )
            except httpx.TransportError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                errors[r.status_code] = errors.get(r.status_code, 0) + 1
            else:
                prompts += len(r.json()["prompts"])

    cpu0, start = _cpu_s(server.process.pid), time.perf_counter()
    await asyncio.gather(*(phone(c) for c in range(clients)))
    wall, cpu = time.perf_counter() - start, _cpu_s(server.process.pid) - cpu0
    load = os.getloadavg()[0]
    for client, _ in sessions:
        await client.aclose()
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / wall,
        "samples_s": n * batch_samples / wall,
        "samples_cpu_s": n * batch_samples / max(cpu, 1e-9),
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (n - 1))],
        "max": latencies[-1],
        "prompts": prompts,
        "wall": wall,
        "cpu": cpu,
        "load": load,
    }


def run_endpoint(args) -> int:
    """Run both scenarios and print them; 0 when no request failed."""
    clients, batch_s = args.clients, args.batch_s
    seconds_of_data = max(batch_s * (args.requests // clients + 2), 3600)
    x, t0 = _streams(clients, seconds_of_data)
    with tempfile.TemporaryDirectory(prefix="spinestab-live-bench-") as tmp:
        folder = Path(tmp)
        if args.database == "postgres":
            url = _postgres_url()
            if url is None:
                print("endpoint: PostgreSQL asked for but SPINESTAB_TEST_POSTGRES_URL is not set")
                return 2
        else:
            url = f"sqlite:///{folder / 'live.sqlite3'}"
        env = _env(folder, url)
        t_seed = time.perf_counter()
        _seed(env, clients=clients)
        print(f"endpoint: {clients} patients with approved plans seeded "
              f"({time.perf_counter() - t_seed:.0f} s), {args.database}")  # fmt: skip
        server = Server(env, folder)
        rc = 0
        try:
            for label, binary in (("JSON", False), ("binary", True)):
                payloads = [_payloads(x[c], t0, batch_s, binary) for c in range(clients)]
                size = np.mean([len(p) for p in payloads[0]])
                r = asyncio.run(
                    _scenario(
                        server,
                        clients=clients,
                        payloads=payloads,
                        batch_samples=batch_s * FS,
                        stream=label.lower(),
                        binary=binary,
                        requests=args.requests,
                        seconds=args.time_limit,
                    )
                )
                rc |= bool(r["errors"])
                print(
                    f"   {label:<6} {clients} phones x batches of {batch_s} s "
                    f"({size / 1024:.1f} KiB): {r['requests']} requests in {r['wall']:.1f} s, "
                    f"errors {r['errors'] or 0}\n"
                    f"          {r['rps']:.0f} requests/s, {r['samples_s'] / 1e3:.1f} k samples/s "
                    f"sustained (= {r['samples_s'] / FS:,.0f} streams in real time); "
                    f"latency p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, max {r['max']:.0f} ms\n"
                    f"          server CPU {r['cpu']:.1f} s: {r['samples_cpu_s'] / 1e3:.1f} k "
                    f"samples per server CPU second; {r['prompts']} prompts answered; "
                    f"load average {r['load']:.1f} on {os.cpu_count()} CPUs"
                )
        finally:
            server.stop()
    return rc
