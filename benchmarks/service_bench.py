"""Web app latency under load: ``python -m benchmarks service [--clients 50] [--requests 2000]``.

A real ``spinestab serve`` (one uvicorn process, its default settings except a cheap argon2
cost for the seeding logins) on a free loopback port, SQLite and then PostgreSQL (when
``SPINESTAB_TEST_POSTGRES_URL`` names a server; a fresh database is created there). 50
clients, each logged in with its own session, run two scenarios, bounded in count and time:

- ``record page``: ``GET /patients/{pseudonym}`` (the clinician's record page, HTML, with
  forms and red flags; every read audited);
- ``form submit``: ``POST /api/v1/patients/{pseudonym}/forms`` (a new NRS form, scored and
  stored; CSRF header).

Prints p50/p95/max latency and requests/s per scenario and database, and the CPU time per
request of the server (its processes together) and of the load generator; the goal is p95
under 150 ms at 50 clients on SQLite (issue 11). The clients log in with httpx; the load
itself comes from :mod:`benchmarks.http_load`, a process of its own with one keep-alive
HTTP/1.1 connection per client on raw asyncio streams (uvloop when installed), requests
built in advance: about 0.1 ms of CPU per request (httpx took 1.4-2.0 ms, on the same
cores as the server). Run it on an idle machine. ``--one-client`` adds a row per scenario
with one client (the latency of a request alone).

The server closes a keep-alive connection after ``--keepalive-requests`` requests (serve's
default unless given; ``Connection: close``) and the client then opens a new one, as a
browser does, its set-up counted in that request's latency; the connections opened and each
client's mean latency are printed (with ``--workers 2``, connections that stay where they
were accepted show as two groups of clients). Each scenario starts with ``--warmup``
requests on the fresh server (every page made at once), printed as a row of their own
("first after start"), then the measured requests on the running server. ``--only record``
or ``--only form`` runs one scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

PASSWORD = "benchmark password"
GOAL_P95_MS = 150.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(folder: Path, database_url: str) -> dict[str, str]:
    return os.environ.copy() | {
        "SPINESTAB_DATA_DIR": str(folder / "data"),
        "SPINESTAB_DATABASE_URL": database_url,
        "SPINESTAB_ARGON2_TIME_COST": "1",
        "SPINESTAB_ARGON2_MEMORY_KIB": "1024",
        "SPINESTAB_USER": "bench",
    }


def _seed(env: dict[str, str], *, patients: int, clients: int) -> None:
    code = f"""
from spinestab.record import Actor, create_patient, open_record, save_form
from spinestab.service.accounts import add_user
from spinestab.service.security import Passwords
from spinestab.service.settings import ServiceSettings
pw = Passwords(time_cost=1, memory_kib=1024)
bench = Actor(username="bench", role="clinician")
with open_record(ServiceSettings()) as record, record.unit_of_work() as uow:
    for i in range({patients}):
        p = f"B-{{i:03d}}"
        create_patient(uow, bench, p, sex="female", birth_year=1960 + i % 40)
        forms = [
            {{"instrument": "nrs", "date": "2026-01-05", "answers": {{"pain": 7}}}},
            {{"instrument": "nrs", "date": "2026-02-05", "answers": {{"pain": 4}}}},
            {{"instrument": "odi", "date": "2026-01-05",
              "answers": {{f"s{{k}}": 2 for k in range(1, 11)}}}},
            {{"instrument": "redflags", "date": "2026-01-05",
              "answers": {{"cancer_history": i % 10 == 0, "thoracic_pain": False}}}},
        ]
        for form in forms:
            save_form(uow, bench, p, form, source="bench")
    for c in range({clients}):
        add_user(uow.session, f"bench{{c:03d}}", role="clinician", password={PASSWORD!r},
                 passwords=pw)
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _tree_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants (Linux ``/proc``)."""
    try:
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError):
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in tree)


class Server:
    """``spinestab serve`` in a subprocess."""

    def __init__(
        self,
        env: dict[str, str],
        folder: Path,
        *,
        workers: int = 1,
        keepalive_requests: int | None = None,
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = (folder / "serve.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from spinestab.cli import main; main()",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                *(
                    ["--keepalive-requests", str(keepalive_requests)]
                    if keepalive_requests is not None
                    else []
                ),
            ],
            env=env | {"SPINESTAB_JOB_WORKERS": "0"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start; see " + str(folder / "serve.log"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


async def _login(base: str, index: int) -> dict[str, str]:
    """Log one client in; return its cookie header and CSRF token."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"username": f"bench{index:03d}", "password": PASSWORD}
        )
        response.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return {"cookie": cookie, "csrf": response.json()["csrf_token"]}


def _scenario(server, *, clients, requests, first, seconds, patients, make_request):
    """Run one scenario with the load generator in a process of its own (benchmarks.http_load)."""

    async def login_all():
        return await asyncio.gather(*(_login(server.base, i) for i in range(clients)))

    sessions = asyncio.run(login_all())
    host = f"127.0.0.1:{server.port}"
    job = {
        "host": "127.0.0.1",
        "port": server.port,
        "seconds": seconds,
        "clients": sessions,
        "requests": [make_request(host, n, patients) for n in range(first, first + requests)],
    }
    server_cpu = _tree_cpu_seconds(server.process.pid)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_load"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    server_after = _tree_cpu_seconds(server.process.pid)
    server_cpu = None if server_cpu is None or server_after is None else server_after - server_cpu
    result = json.loads(done.stdout)
    latencies = sorted(result["latencies_ms"])
    means = sorted(result["client_means_ms"])
    errors = sum(count for status, count in result["statuses"].items() if int(status) >= 400)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
        "rps": len(latencies) / result["wall_s"],
        "server_cpu_ms": (server_cpu * 1000 / len(latencies)) if server_cpu is not None else None,
        "client_cpu_ms": result["cpu_s"] * 1000 / len(latencies),
        "connections": result["connections"],
        "client_means_ms": (means[0], statistics.median(means), means[-1]),
        "load": os.getloadavg()[0],
    }


def _record_page(host: str, n: int, patients: int) -> str:
    return (
        f"GET /patients/B-{n % patients:03d} HTTP/1.1\r\nHost: {host}\r\nCookie: {{cookie}}\r\n\r\n"
    )


FIRST_DAY = dt.date(2020, 1, 1)


def _form_submit(host: str, n: int, patients: int) -> str:
    # A new form each time: the record refuses the same form twice.
    date = FIRST_DAY + dt.timedelta(days=n // patients)
    body = json.dumps({"instrument": "nrs", "date": date.isoformat(), "answers": {"pain": n % 11}})
    return (
        f"POST /api/v1/patients/B-{n % patients:03d}/forms HTTP/1.1\r\nHost: {host}\r\n"
        "Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )


def _postgres_url() -> str | None:
    base = os.environ.get("SPINESTAB_TEST_POSTGRES_URL")
    if not base:
        return None
    from sqlalchemy import create_engine, text

    name = f"spinestab_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str) -> None:
    """Drop the benchmark's database (the server has stopped: no connection is left)."""
    from sqlalchemy import create_engine, text

    base = os.environ["SPINESTAB_TEST_POSTGRES_URL"]
    name = url.rsplit("/", 1)[1]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def run(database: str, url: str, args) -> list[tuple[str, str, dict]]:
    with tempfile.TemporaryDirectory(prefix="spinestab-bench-") as tmp:
        folder = Path(tmp)
        env = _env(folder, url)
        _seed(env, patients=args.patients, clients=args.clients)
        server = Server(
            env, folder, workers=args.workers, keepalive_requests=args.keepalive_requests
        )
        try:
            rows = []
            counts = [(args.clients, "")] + ([(1, ", 1 client")] if args.one_client else [])
            first = 0
            for clients, label in counts:
                for name, request in (
                    ("record page", _record_page),
                    ("form submit", _form_submit),
                ):
                    if args.only and not name.startswith(args.only):
                        continue
                    if args.warmup and clients > 1:
                        # a server that has just started makes every page at once: shown
                        # as a row of its own, then the scenario on the running server
                        warm = _scenario(
                            server,
                            clients=clients,
                            requests=args.warmup,
                            first=first + args.requests,
                            seconds=args.seconds,
                            patients=args.patients,
                            make_request=request,
                        )
                        rows.append((database, name + " (first after start)", warm))
                    result = _scenario(
                        server,
                        clients=clients,
                        requests=args.requests if clients > 1 else args.requests // 5,
                        first=first,
                        seconds=args.seconds,
                        patients=args.patients,
                        make_request=request,
                    )
                    rows.append((database, name + label, result))
                first += args.requests + args.warmup
            return rows
        finally:
            server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks service")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--seconds", type=float, default=60.0, help="time bound per scenario")
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--one-client", action="store_true", help="also run each scenario with one client"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (spinestab serve)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=500,
        help="requests run first on the fresh server, shown as their own row "
        "('first after start'); 0: none",
    )
    parser.add_argument(
        "--only",
        choices=["record", "form"],
        help="run one scenario only (record page, form submit)",
    )
    parser.add_argument(
        "--keepalive-requests",
        type=int,
        default=None,
        help="spinestab serve --keepalive-requests (default: serve's own; 0: never close)",
    )
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="spinestab-bench-db-") as dbdir:
        rows += run("SQLite", f"sqlite:///{dbdir}/bench.sqlite3", args)
    pg = None if args.sqlite_only else _postgres_url()
    if pg:
        try:
            rows += run("PostgreSQL", pg, args)
        finally:
            _drop_postgres(pg)
    else:
        print("PostgreSQL: skipped (set SPINESTAB_TEST_POSTGRES_URL to include it)")
    load = os.getloadavg()[0]
    keepalive = "serve's default" if args.keepalive_requests is None else args.keepalive_requests
    print(
        f"{args.clients} clients on loopback, {args.workers} uvicorn process(es), "
        f"keep-alive requests per connection {keepalive}, up to "
        f"{args.requests} "
        f"requests or {args.seconds:.0f} s per scenario; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'database':<11} {'scenario':<32} {'requests':>8} {'errors':>6} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'max ms':>8} {'req/s':>8} {'server CPU':>10} {'client CPU':>10} "
        f"{'load':>5}  p95 / goal {GOAL_P95_MS:.0f} ms"
    )
    for database, name, r in rows:
        server = f"{r['server_cpu_ms']:.1f} ms" if r["server_cpu_ms"] is not None else "?"
        print(
            f"{database:<11} {name:<32} {r['requests']:>8} {r['errors']:>6} {r['p50_ms']:>8.1f} "
            f"{r['p95_ms']:>8.1f} {r['max_ms']:>8.1f} {r['rps']:>8.1f} {server:>10} "
            f"{r['client_cpu_ms']:>7.1f} ms {r['load']:>5.1f}  {r['p95_ms'] / GOAL_P95_MS:.2f}"
        )
    print("server CPU and client CPU: CPU time per request (server: all its processes)")
    for database, name, r in rows:
        low, middle, high = r["client_means_ms"]
        print(
            f"{database:<11} {name:<32} clients' mean latency min {low:.0f} / median "
            f"{middle:.0f} / max {high:.0f} ms; {r['connections']} connections opened"
        )
    return 0
