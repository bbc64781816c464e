"""A light HTTP/1.1 load generator for the service benchmark (a process of its own).

``python -m benchmarks.http_load`` reads one JSON job on stdin and prints one JSON result:
each client holds one keep-alive connection to the server and sends its requests back to
back (a closed loop), the requests built in advance as bytes; the answers are read by
``Content-Length`` (or chunked). When the server answers ``Connection: close`` (it closes a
connection after a number of requests, ``spinestab serve --keepalive-requests``), the
client opens a new connection for its next request, as a browser does; the new
connection's set-up is counted in that request's latency, and the connections opened are
counted. Each client's mean latency is reported too (an uneven spread of connections over
worker processes shows as two groups of clients). Raw asyncio streams on uvloop when it is
installed: about a tenth of httpx's CPU per request, so the load generator takes less of the
cores it shares with the server. It reports its own CPU time, so the benchmark can print it.

The job: ``{"host", "port", "seconds", "requests": [[client, raw request text], ...],
"clients": [{"cookie", "csrf"}, ...]}``. Every request is taken by the next free client
(in order); ``{csrf}`` and ``{cookie}`` in a request are that client's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

__all__ = ["main", "run_load"]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status code and whether the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = closes = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            closes = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, closes


async def run_load(job: dict) -> dict:
    """Run the job's requests over its clients' connections; return latencies and CPU."""
    host, port = job["host"], job["port"]
    templates: list[str] = job["requests"]
    clients: list[dict] = job["clients"]
    connections = [await asyncio.open_connection(host, port) for _ in clients]
    opened = len(clients)
    counter = iter(range(len(templates)))
    latencies: list[float] = []
    per_client: list[list[float]] = [[] for _ in clients]
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + job["seconds"]

    async def client(index: int) -> None:
        nonlocal opened
        reader, writer = connections[index]
        me = clients[index]
        for n in counter:
            if time.perf_counter() > deadline:
                break
            raw = templates[n].replace("{csrf}", me["csrf"]).replace("{cookie}", me["cookie"])
            start = time.perf_counter()
            if writer is None:  # the server closed the last one: a new connection
                reader, writer = await asyncio.open_connection(host, port)
                opened += 1
            writer.write(raw.encode("latin-1"))
            status, closes = await _read_response(reader)
            took = (time.perf_counter() - start) * 1000
            latencies.append(took)
            per_client[index].append(took)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if closes:
                writer.close()
                writer = None
        connections[index] = (reader, writer)

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(len(clients))))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    for _, writer in connections:
        if writer is not None:
            writer.close()
    return {
        "latencies_ms": latencies,
        "client_means_ms": [sum(c) / len(c) for c in per_client if c],
        "connections": opened,
        "statuses": statuses,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main() -> int:
    job = json.load(sys.stdin)
    try:
        from uvloop import run
    except ImportError:
        from asyncio import run
    result = run(run_load(job))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
