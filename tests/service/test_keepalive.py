"""Keep-alive connections closed after ``keepalive_requests`` requests (as nginx's
``keepalive_requests``), so that with several worker processes connections move to the
process that is free to accept them; the security headers on every response."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from .conftest import make_settings


def _closes(client: TestClient, n: int) -> list[bool]:
    closes = []
    for _ in range(n):
        response = client.get("/healthz")
        assert response.status_code == 200
        closes.append(response.headers.get("connection") == "close")
    return closes


def test_every_nth_response_on_a_connection_closes_it(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, keepalive_requests=3))
    with TestClient(app) as client:  # one peer address: one connection to the middleware
        assert _closes(client, 7) == [False, False, True, False, False, True, False]
        response = client.get("/api/v1/healthz")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_no_limit_keeps_connections_open(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, keepalive_requests=0))
    with TestClient(app) as client:
        assert not any(_closes(client, 5))


def test_a_refused_body_carries_the_security_headers(tmp_path, database_url, make_app):
    app = make_app(make_settings(tmp_path, database_url, max_json_kb=1))
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/auth/login",
            content=b"{" + b" " * 2048 + b"}",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def _get(sock: socket.socket, reader) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        assert line, "connection closed before a response"
        head += line
    length = int(
        next(
            v
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        )
    )
    reader.read(length)
    return head.lower()


def test_the_server_closes_the_connection_after_n_requests(start_serve):
    serve = start_serve("keepalive", env={"SPINESTAB_KEEPALIVE_REQUESTS": "3"})
    host, port = serve.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        heads = [_get(sock, reader) for _ in range(3)]
        assert [b"connection: close" in h for h in heads] == [False, False, True]
        assert reader.read(1) == b""  # the server closed it after the third response
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a new one works
        assert b"200 ok" in _get(sock, sock.makefile("rb"))


def test_the_routes_thread_pool_has_the_configured_size(tmp_path, database_url, make_app):
    import anyio.to_thread
    from fastapi import APIRouter

    app = make_app(make_settings(tmp_path, database_url, request_threads=6))
    probe = APIRouter()

    @probe.get("/probe-threads")
    async def threads() -> dict[str, float]:
        return {"total": anyio.to_thread.current_default_thread_limiter().total_tokens}

    app.include_router(probe)
    with TestClient(app) as client:  # the lifespan sets it in the app's event loop
        assert client.get("/probe-threads").json() == {"total": 6}
