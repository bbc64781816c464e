"""The login and logout pages.

The login form carries a double-submit token (a random value in a SameSite=Strict cookie
and in the form) because there is no session yet to hold a CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from spinestab.service.accounts import LoginRefused, end_session, login
from spinestab.service.deps import CurrentUser, Public, StateDep
from spinestab.service.pages.render import render
from spinestab.service.routers.auth import (
    clear_session_cookie,
    client_address,
    set_session_cookie,
)
from spinestab.service.security import new_token, tokens_equal
from spinestab.store import session_scope

__all__ = ["login_router", "router", "safe_next"]

LOGIN_COOKIE = "spinestab_login"

router = APIRouter()
login_router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a local path may follow a login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _login_page(request: Request, *, next_: str, status: int = 200, error: str | None = None):
    token = new_token()
    response = render(
        request, "login.html", status=status, login_token=token, next=next_, error=error
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, _user: Public, next: str | None = None) -> Response:
    """Show the login form."""
    return _login_page(request, next_=safe_next(next))


@login_router.post("/login")
async def login_submit(
    request: Request,
    state: StateDep,
    _user: Public,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Check the credentials; a new session and a redirect, or the form with the reason."""
    target = safe_next(next)
    if not tokens_equal(login_token, request.cookies.get(LOGIN_COOKIE)):
        return _login_page(request, next_=target, status=403, error="login.expired")

    def attempt() -> tuple[str, Any] | LoginRefused:
        try:
            return login(
                state.sessions,
                username,
                password,
                address=client_address(request),
                passwords=state.passwords,
                secret=state.secret,
                policy=state.session_policy,
                throttle=state.throttle,
            )
        except LoginRefused as refused:
            return refused

    outcome = await run_in_threadpool(attempt)
    if isinstance(outcome, LoginRefused):
        if outcome.throttled:
            return _login_page(request, next_=target, status=429, error="login.throttled")
        return _login_page(request, next_=target, status=401, error="login.wrong")
    token, _principal = outcome
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, state, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(state: StateDep, user: CurrentUser) -> Response:
    """End the session and go back to the login form."""
    with session_scope(state.sessions) as session:
        end_session(session, user.session_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response
