"""Request dependencies (``Annotated`` aliases) shared by every router.

``Access`` is the one guard every route declares: which roles may call it, or that it is
public. The authorisation matrix test reads these guards from the app's route table, so a
route without one fails the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from spinestab.service.accounts import Principal, SessionPolicy, ThrottlePolicy, resolve_session
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


def current_principal(request: Request, state: StateDep) -> Principal | None:
    """Return the logged-in user of this request, or None.

    One Core statement on a pooled connection of its own (:func:`resolve_session`: no ORM
    session, no generator dependency, whose setup and teardown cost the request two more
    trips through the thread pool). The connection goes back to the pool before the route
    runs: a route that calls the record (its own unit of work, its own connection) never
    holds two connections at once (with as many requests in the thread pool as connections
    in the pool, two per request waited on each other until the pool's timeout). An
    expired session found here is deleted and that is committed at once, whatever the route
    does next.
    """
    cached: Principal | bool | None = getattr(request.state, "principal", False)
    if not isinstance(cached, bool):
        return cached
    token = session_token(request)
    principal = None
    if token:
        with state.engine.connect() as connection:
            principal = resolve_session(
                connection, token, secret=state.secret, policy=state.session_policy
            )
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
