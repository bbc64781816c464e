"""Request dependencies (``Annotated`` aliases) shared by every router.

``Access`` is the one guard every route declares: which roles may call it, or that it is
public. The authorisation matrix test reads these guards from the app's route table, so a
route without one fails the tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine, Executable
from sqlalchemy.orm import Session, sessionmaker

from spinestab.service.accounts import (
    Principal,
    SessionPolicy,
    ThrottlePolicy,
    check_session,
    resolve_session,
    write_session_change,
)
from spinestab.service.security import Passwords, tokens_equal
from spinestab.store import session_scope

if TYPE_CHECKING:
    from spinestab.record import Record
    from spinestab.service.jobs import JobFunction, WorkerPool
    from spinestab.service.record_page import PageCache
    from spinestab.service.settings import ServiceSettings

__all__ = [
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "Access",
    "AdminUser",
    "AppState",
    "ClinicianUser",
    "CsrfChecked",
    "CsrfFailed",
    "CurrentUser",
    "Forbidden",
    "LoginRequired",
    "MaybeUser",
    "PatientUser",
    "Public",
    "SessionDep",
    "StateDep",
    "csrf_checked",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "spinestab_session"
SECURE_SESSION_COOKIE = "__Host-spinestab_session"


class LoginRequired(Exception):  # noqa: N818 - answered 401 (API) or a redirect (pages)
    """No live session."""


class Forbidden(Exception):  # noqa: N818 - answered 403
    """A logged-in user asked for something their role or record does not allow."""


class CsrfFailed(Exception):  # noqa: N818 - answered 403
    """A state change without the session's CSRF token (or from another origin)."""


@dataclass
class AppState:
    """Everything a request needs, built once by :func:`spinestab.service.create_app`."""

    settings: ServiceSettings
    sessions: sessionmaker[Session]
    secret: bytes
    secret_configured: bool
    passwords: Passwords
    session_policy: SessionPolicy
    throttle: ThrottlePolicy
    registry: dict[str, JobFunction]
    pool: WorkerPool | None
    templates: Any
    record: Record
    #: The record pages kept by revision (spinestab.service.record_page), per process.
    record_pages: PageCache = field(default_factory=lambda: _page_cache())
    #: The session check's connection on the event loop (SQLite only; see LoopReader).
    loop_reader: LoopReader | None = None

    @property
    def engine(self) -> Engine:
        """The database engine behind :attr:`sessions` (its connection pool)."""
        return self.sessions.kw["bind"]


def _page_cache() -> PageCache:
    from spinestab.service.record_page import PageCache

    return PageCache()


async def get_state(request: Request) -> AppState:
    """Return the app's state.

    The dependencies that do no I/O are ``async``: FastAPI runs a plain function in its
    thread pool, one more trip per dependency and request.
    """
    return request.app.state.spinestab


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent."""
    with session_scope(state.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def session_token(request: Request) -> str | None:
    """Return the session token from either cookie name."""
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


class LoopReader:
    """One database connection for the session check done on the event loop (SQLite).

    Checking a session is one indexed read; on SQLite in WAL mode a read waits for no writer
    (readers run beside the writer on a snapshot), and takes less time than handing
    the request to a thread of the pool and back (about a quarter of a kept record page's
    CPU; docs/web-app.md, "Speed"). So on SQLite the read is done on the event loop itself,
    on this connection (one per app, taken once, a lock for test clients that run an event
    loop per thread); what the check must write goes to the thread pool as before.
    PostgreSQL answers over the network: there the whole check stays in the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Lend the connection (opened on first use)."""
        with self._lock:
            if self._connection is None:
                self._connection = self._engine.connect()
            yield self._connection

    def close(self) -> None:
        """Give the connection back to the pool (the app stops; it opens again if asked)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def loop_reader(engine: Engine) -> LoopReader | None:
    """Return a :class:`LoopReader` for an SQLite engine, None for any other database."""
    return LoopReader(engine) if engine.dialect.name == "sqlite" else None


def _resolve_in_pool(state: AppState, token: str) -> Principal | None:
    with state.engine.connect() as connection:
        return resolve_session(connection, token, secret=state.secret, policy=state.session_policy)


def _write_in_pool(state: AppState, statement: Executable) -> None:
    with state.engine.connect() as connection:
        write_session_change(connection, statement)


async def current_principal(request: Request, state: StateDep) -> Principal | None:
    """Return the logged-in user of this request, or None.

    One Core statement, no ORM session (:func:`check_session`). On SQLite the read runs on
    the event loop (:class:`LoopReader`) and only a write it calls for (an expired session
    deleted, ``last_seen_at`` refreshed at most every ``touch_every``) goes to the thread
    pool, on a pooled connection of its own; elsewhere the whole check runs in the pool.
    Either way the write is committed before the route runs, whatever the route does next,
    and no connection is held into the route (a route that calls the record, its own unit
    of work on its own connection, never holds two at once). Nothing is kept between
    requests: a logout or a timeout holds at once in every worker process.
    """
    cached: Principal | bool | None = getattr(request.state, "principal", False)
    if not isinstance(cached, bool):
        return cached
    token = session_token(request)
    principal = None
    if token and state.loop_reader is not None:
        with state.loop_reader.connection() as connection:
            check = check_session(
                connection, token, secret=state.secret, policy=state.session_policy
            )
        if check.write is not None:
            await run_in_threadpool(_write_in_pool, state, check.write)
        principal = check.principal
    elif token:
        principal = await run_in_threadpool(_resolve_in_pool, state, token)
    request.state.principal = principal
    return principal


MaybeUser = Annotated[Principal | None, Depends(current_principal)]


class Access:
    """Route guard: the roles allowed, or ``public=True`` for routes without login.

    Parameters
    ----------
    *roles : str
        Roles that may call the route.
    public : bool
        The route needs no login (login page, health check, OpenAPI).

    """

    def __init__(self, *roles: str, public: bool = False) -> None:
        if public == bool(roles):
            raise ValueError("give roles or public=True, not both")
        self.roles = frozenset(roles)
        self.public = public

    async def __call__(self, principal: MaybeUser) -> Principal | None:
        """Return the principal, or raise for no login (401) or a wrong role (403)."""
        if self.public:
            return principal
        if principal is None:
            raise LoginRequired
        if principal.role not in self.roles:
            raise Forbidden
        return principal

    def __repr__(self) -> str:
        return "Access(public)" if self.public else f"Access({', '.join(sorted(self.roles))})"


CurrentUser = Annotated[Principal, Depends(Access("clinician", "patient", "admin"))]
ClinicianUser = Annotated[Principal, Depends(Access("clinician"))]
PatientUser = Annotated[Principal, Depends(Access("patient"))]
AdminUser = Annotated[Principal, Depends(Access("admin"))]
Public = Annotated[Principal | None, Depends(Access(public=True))]


def _same_origin(request: Request) -> bool:
    """Return False for a request a browser marks as coming from another site.

    The CSRF token is the defence; this is a second check where the browser tells
    (``Sec-Fetch-Site``, ``Origin``). ``Origin: null`` (sent with some referrer policies)
    tells nothing and is left to the token.
    """
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


async def csrf_checked(request: Request, principal: MaybeUser) -> None:
    """Refuse a state change without the session's CSRF token (403).

    The API sends the token in the ``X-CSRF-Token`` header; page forms send the field
    ``csrf_token``. Requests from another origin are refused as well.
    """
    if request.method in SAFE_METHODS:
        return
    if principal is None:
        raise LoginRequired
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not _same_origin(request) or not tokens_equal(token, principal.csrf_token):
        raise CsrfFailed


CsrfChecked = Depends(csrf_checked)
