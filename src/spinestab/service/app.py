"""The app factory: ``create_app(settings)`` builds the FastAPI application.

Nothing happens at import. The factory opens the store (migrations applied), loads or
creates the server secret, mounts the vendored static files, adds the middleware and
includes the routers: ``/api/v1/...`` (OpenAPI at ``/api/v1/openapi.json``) and the pages.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from spinestab import __version__
from spinestab.errors import InputError
from spinestab.service.accounts import SessionPolicy, ThrottlePolicy
from spinestab.service.deps import AppState, CsrfFailed, Forbidden, LoginRequired, loop_reader
from spinestab.service.jobs import JobFunction, WorkerPool, recover_interrupted
from spinestab.service.middleware import AppMiddleware
from spinestab.service.security import Passwords, load_or_create_secret
from spinestab.service.settings import ServiceSettings
from spinestab.service.static_files import AppStaticFiles

__all__ = ["API_PREFIX", "create_app", "error_status"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _error(request: Request, status: int, detail: str, **headers: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)
    from spinestab.service.pages.render import render_error

    return render_error(request, status=status, detail=detail)


def error_status(exc: InputError) -> int:
    """Return the HTTP status of a refusal (docs/record.md, "Errors").

    404 unknown, 409 conflict (already stored), 403 refused, 422 any other bad input.
    """
    from spinestab.errors import ConflictError, NotFoundError, RefusedError

    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, RefusedError):
        return 403
    return 422


def _add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _is_api(request) or request.method not in ("GET", "HEAD"):
            return _error(request, 401, "not logged in")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _exc: Forbidden) -> Response:
        return _error(request, 403, "not allowed for this account")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        return _error(request, 403, "missing or wrong CSRF token (X-CSRF-Token header)")

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        return _error(request, error_status(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        return _error(request, exc.status_code, str(exc.detail), **headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Field names and messages only; the submitted values may be health data.
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse({"detail": problems}, status_code=422)
        text = "; ".join(f"{'.'.join(map(str, p['loc'][1:]))}: {p['msg']}" for p in problems)
        return _error(request, 422, text)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    registry: Mapping[str, JobFunction] | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Defaults to the environment (``SPINESTAB_*``).
    registry : mapping, optional
        Job kind -> job function; defaults to :data:`spinestab.service.analyses.ANALYSES`.
    start_workers : bool
        Start the in-process worker pool with the app (``job_workers`` threads).

    Raises
    ------
    InputError
        For an unusable database or secret.

    """
    from spinestab.service import records
    from spinestab.service.analyses import ANALYSES
    from spinestab.service.pages import pages_router
    from spinestab.service.pages.render import make_templates
    from spinestab.service.routers import api_router
    from spinestab.service.routes import include_flat
    from spinestab.store import open_store

    settings = settings or ServiceSettings()
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    secret, secret_configured = load_or_create_secret(settings.data_dir, configured)
    sessions = open_store(settings)
    jobs = dict(registry if registry is not None else ANALYSES)
    pool = (
        WorkerPool(sessions, registry=jobs, settings=settings, size=settings.job_workers)
        if start_workers and settings.job_workers > 0
        else None
    )
    state = AppState(
        settings=settings,
        sessions=sessions,
        secret=secret,
        secret_configured=secret_configured,
        passwords=Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        session_policy=SessionPolicy(
            idle=dt.timedelta(minutes=settings.session_idle_minutes),
            absolute=dt.timedelta(hours=settings.session_absolute_hours),
        ),
        throttle=ThrottlePolicy(
            max_failures=settings.login_max_failures,
            window=dt.timedelta(minutes=settings.login_window_minutes),
            lockout=dt.timedelta(minutes=settings.login_lockout_minutes),
        ),
        registry=jobs,
        pool=pool,
        templates=make_templates(),
        record=records.open_service_record(sessions, settings.data_dir),
        loop_reader=loop_reader(sessions.kw["bind"]),
    )
    if state.loop_reader is not None:  # closed with the app, or when the state goes
        weakref.finalize(state, state.loop_reader.close)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the routes' thread pool, per event loop (docs/web-app.md, "Speed")
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        if pool is not None:
            interrupted = recover_interrupted(sessions)
            if interrupted:
                log.warning(
                    "%d job(s) interrupted by the last stop were marked failed", interrupted
                )
            pool.start()
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
            if state.loop_reader is not None:
                state.loop_reader.close()
            sessions.kw["bind"].dispose()

    app = FastAPI(
        title="spinestab",
        version=__version__,
        summary="Lumbar stability profiles: the clinic web app and API. Supports decisions; "
        "does not diagnose.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI would load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.spinestab = state
    _add_exception_handlers(app)
    static = resources.files("spinestab.service").joinpath("static")
    # versioned URLs cached for a year, text gzipped: in the mount, not the middleware chain
    app.mount("/static", AppStaticFiles(directory=str(static)), name="static")
    # every route in the app's own table: FastAPI walks included routers twice per level
    include_flat(app, api_router, prefix=API_PREFIX)
    include_flat(app, pages_router)
    app.add_middleware(
        AppMiddleware,
        hsts=settings.production,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
        max_other_bytes=settings.max_json_kb * 1024,
        keepalive_requests=settings.keepalive_requests,
    )
    return app


def app_state(app: Any) -> AppState:
    """Return the :class:`AppState` of an app made by :func:`create_app`."""
    return app.state.spinestab
