"""A light HTTP/1.1 load generator for the service benchmark (a process of its own).

``python -m benchmarks.http_load`` reads one JSON job on stdin and prints one JSON result:
each client holds one keep-alive connection to the server and sends its requests back to
back (a closed loop), the requests built in advance as bytes; the answers are read by
``Content-Length`` (or chunked). Raw asyncio streams on uvloop when it is installed: about
a tenth of httpx's CPU per request, so the load generator takes less of the cores it shares
with the server. It reports its own CPU time, so the benchmark can print it.

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


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def run_load(job: dict) -> dict:
    """Run the job's requests over its clients' connections; return latencies and CPU."""
    host, port = job["host"], job["port"]
    templates: list[str] = job["requests"]
    clients: list[dict] = job["clients"]
    connections = [await asyncio.open_connection(host, port) for _ in clients]
    counter = iter(range(len(templates)))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + job["seconds"]

    async def client(index: int) -> None:
        reader, writer = connections[index]
        me = clients[index]
        for n in counter:
            if time.perf_counter() > deadline:
                return
            raw = templates[n].replace("{csrf}", me["csrf"]).replace("{cookie}", me["cookie"])
            start = time.perf_counter()
            writer.write(raw.encode("latin-1"))
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(len(clients))))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    for _, writer in connections:
        writer.close()
    return {"latencies_ms": latencies, "statuses": statuses, "wall_s": wall, "cpu_s": cpu}


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
