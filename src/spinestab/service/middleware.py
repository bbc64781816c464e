"""ASGI middleware: security headers, body limits, an access log, a keep-alive limit.

Security headers, body size limits, a log without health data, and keep-alive connections
closed after a number of requests.

All four are one middleware (:class:`AppMiddleware`): one wrapper around ``send`` instead of
three, and no pass over the route table per request (the access log reads the route the
router chose). Measured per request in docs/web-app.md, "Speed".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AppMiddleware", "content_security_policy", "security_headers"]

log = logging.getLogger("spinestab.service.access")


def content_security_policy() -> str:
    """Return the page CSP: only our own scripts and styles, no inline script, no framing."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """Return the headers every response carries (ASVS 14.4), encoded once."""
    headers = {
        "content-security-policy": content_security_policy(),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",  # no URL (pseudonyms) leaves the site
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
    }
    if hsts:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


#: How many connections the keep-alive count follows at most (then it starts again).
_MAX_TRACKED_CONNECTIONS = 4096


class AppMiddleware:
    """The app's own middleware: headers, body limits, access log, keep-alive limit.

    - **Security headers** on every response (ASVS 14.4), ``Cache-Control: no-store`` unless
      the response set its own (health data must not stay in caches, ASVS 8.2.1; static
      files: an hour).
    - **Body limits**: a declared ``Content-Length`` over the limit is refused with 413
      before the app runs; a body without one (chunked) is counted as it streams and
      refused when it passes the limit.
    - **Access log**: method, route *template* (``/patients/{pseudonym}``: the route the
      router chose), status and time; never the path's pseudonym or a query.
    - **Keep-alive limit**: after ``keepalive_requests`` requests on one connection the
      response says ``Connection: close`` and the server closes it after that response, as
      nginx's ``keepalive_requests`` does; the client opens a new one for its next request.
      With several worker processes, a connection stays with the process that accepted it
      until it closes: closing now and then lets connections move to the process that is
      free to accept (measured: docs/web-app.md, "Speed"). Connections are told apart by the
      peer's address and port; behind a proxy that sends ``X-Forwarded-For`` several
      connections may share one count, which only closes them sooner. 0: no limit.

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    hsts : bool
        Also send Strict-Transport-Security (production, behind HTTPS).
    max_bytes : int
        Body limit for multipart uploads.
    max_other_bytes : int
        Body limit for every other body (JSON, forms).
    keepalive_requests : int
        Requests served on one connection before it is closed; 0 keeps it open.

    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = False,
        max_bytes: int,
        max_other_bytes: int,
        keepalive_requests: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_other_bytes = max_other_bytes
        self.keepalive_requests = keepalive_requests
        self._headers = security_headers(hsts=hsts)
        self._names = frozenset(name for name, _ in self._headers)
        self._served: dict[Any, int] = {}

    def _closes(self, scope: Scope) -> bool:
        """Count a response on the request's connection; True when it is the last one."""
        if self.keepalive_requests <= 0:
            return False
        served = self._served
        peer = scope.get("client")
        count = served.get(peer, 0) + 1
        if count >= self.keepalive_requests:
            served.pop(peer, None)
            return True
        if len(served) >= _MAX_TRACKED_CONNECTIONS and peer not in served:
            served.clear()  # connections that closed on their own leave their counts behind
        served[peer] = count
        return False

    def _add_headers(self, message: Message, scope: Scope, *, static: bool) -> None:
        """Put the security headers (and a close on the connection's last) into a start."""
        headers = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        if present.isdisjoint(self._names):
            headers += self._headers
        else:
            headers += [(k, v) for k, v in self._headers if k not in present]
        if b"cache-control" not in present:
            headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
        if self._closes(scope) and b"connection" not in present:
            headers.append((b"connection", b"close"))
        message["headers"] = headers

    def _limit(self, scope: Scope) -> tuple[int, bytes | None]:
        """Return the request's body limit and its declared ``Content-Length``."""
        multipart = False
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                multipart = value.startswith(b"multipart/")
            elif name == b"content-length":
                declared = value
        return (self.max_bytes if multipart else self.max_other_bytes), declared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body's size, run the app, add the headers, log one line."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        limit, declared = self._limit(scope)
        exchange = _Exchange(self, scope, receive, send, limit)
        try:
            if _over(declared, limit):
                await exchange.too_large()
                return
            # A declared length is all the server reads; a body without one is counted.
            await self.app(
                scope, receive if declared is not None else exchange.receive, exchange.send
            )
        except _BodyTooLargeError:
            if not exchange.started:
                await exchange.too_large()
        finally:
            log.info(
                "%s %s %s %.1f ms",
                scope.get("method", "?"),
                _route_template(scope),
                exchange.status,
                (time.perf_counter() - start) * 1000,
            )


class _Exchange:
    """One request's state in :class:`AppMiddleware`: the body counted, the response sent."""

    __slots__ = (
        "_receive",
        "_send",
        "exceeded",
        "limit",
        "mw",
        "scope",
        "seen",
        "started",
        "static",
        "status",
    )

    def __init__(
        self, mw: AppMiddleware, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        self.mw, self.scope, self._receive, self._send, self.limit = mw, scope, receive, send, limit
        self.static = scope.get("path", "").startswith("/static/")
        self.seen = self.status = 0
        self.started = self.exceeded = False

    async def receive(self) -> Message:
        """Receive a body part; refuse the body once it passes the limit."""
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.exceeded = True
                raise _BodyTooLargeError
        return message

    async def _headed(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.mw._add_headers(message, self.scope, static=self.static)
        await self._send(message)

    async def send(self, message: Message) -> None:
        """Send the app's message with the headers added."""
        if self.exceeded:
            # The app caught the refusal and answers with its own error (FastAPI's
            # multipart parser: 400 "error parsing the body"): answer 413 instead.
            if message["type"] == "http.response.start" and not self.started:
                await self.too_large()
            return
        if message["type"] == "http.response.start":
            self.started, self.status = True, message["status"]
        await self._headed(message)

    async def too_large(self) -> None:
        """Answer 413 (with the security headers)."""
        self.started, self.status = True, 413
        await _too_large(self._headed, self.limit)


def _over(declared: bytes | None, limit: int) -> bool:
    """Whether a declared ``Content-Length`` is unreadable or over the limit."""
    return declared is not None and (not declared.isdigit() or int(declared) > limit)


def _route_template(scope: Scope) -> str:
    """Return the template of the route the router chose (``/patients/{pseudonym}``)."""
    if scope.get("path", "").startswith("/static/"):
        return "/static/..."
    route = scope.get("route")
    template = getattr(route, "path_format", None) if route is not None else None
    return template if isinstance(template, str) else "(no route)"


class _BodyTooLargeError(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail": "request body too large; the limit is %d MiB"}' % max(
        1, limit // (1024 * 1024)
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
