"""Pages for everyone: the start page (by role), the language switch, ``/healthz``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from spinestab.service.deps import Public, StateDep
from spinestab.service.i18n import LANGUAGES
from spinestab.service.pages.login import safe_next
from spinestab.service.pages.render import LANG_COOKIE
from spinestab.service.routers.health import health_check

__all__ = ["router"]

router = APIRouter()

START_PAGE = {"clinician": "/worklist", "patient": "/today", "admin": "/admin/users"}


@router.get("/")
def start(user: Public) -> Response:
    """Each role's first page: the worklist, today's exercises, or the accounts."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(START_PAGE[user.role], status_code=303)


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, _user: Public, next: str = "/") -> Response:
    """Remember the page language in a cookie and go back."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
            max_age=365 * 24 * 3600,
        )
    return response


@router.get("/healthz")
def healthz(state: StateDep, user: Public) -> Response:
    """Health check for load balancers (as ``/api/v1/healthz``)."""
    return health_check(state, user)
