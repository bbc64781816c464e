"""ASGI middleware: security headers, body size limits and a log without health data."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog", "BodyLimit", "SecurityHeaders", "content_security_policy"]

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


class SecurityHeaders:
    """Add the security headers to every response (ASVS 14.4).

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    hsts : bool
        Also send Strict-Transport-Security (production, behind HTTPS).

    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
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
        self._headers = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap ``send`` to add the headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._headers if k not in present]
                if b"cache-control" not in present:
                    # Health data must not stay in shared or browser caches (ASVS 8.2.1).
                    value = b"public, max-age=3600" if static else b"no-store"
                    headers.append((b"cache-control", value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over the limit with 413 (declared or streamed).

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    max_bytes : int
        Limit for multipart uploads.
    max_other_bytes : int
        Limit for every other body (JSON, forms).

    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_other_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_other_bytes = max_other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length, then count the streamed bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.max_bytes if ctype.startswith("multipart/") else self.max_other_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        seen = 0
        started = exceeded = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The app caught the refusal and answers with its own error (FastAPI's
                # multipart parser: 400 "error parsing the body"): answer 413 instead.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await _too_large(send, limit)


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


class AccessLog:
    """Log method, route *template*, status and time: never the path's pseudonym or a query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rows: list[Any] | None = None

    def _template(self, scope: Scope) -> str:
        path = scope.get("path", "")
        if path.startswith("/static/"):
            return "/static/..."
        if self._rows is None and "app" in scope:
            from spinestab.service.routes import route_rows

            self._rows = route_rows(scope["app"])
        from spinestab.service.routes import route_template

        return route_template(self._rows or [], path) or "(no route)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log one line."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 0}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            log.info(
                "%s %s %s %.1f ms",
                scope.get("method", "?"),
                self._template(scope),
                status["code"],
                (time.perf_counter() - start) * 1000,
            )
