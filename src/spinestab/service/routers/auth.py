"""``/api/v1/auth``: log in (a session cookie and the CSRF token) and log out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from spinestab.service.accounts import LoginRefused, Principal, end_session, login
from spinestab.service.deps import (
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    Public,
    StateDep,
)
from spinestab.store import session_scope

__all__ = [
    "clear_session_cookie",
    "client_address",
    "login_router",
    "router",
    "set_session_cookie",
]

router = APIRouter(prefix="/auth", tags=["auth"])
# Logging in opens a session, so it cannot carry one's CSRF token: the JSON body (FastAPI
# accepts only application/json) cannot be sent by a cross-site form, and the login page
# has its own double-submit token. Everything else goes through ``router`` (CSRF checked).
login_router = APIRouter(prefix="/auth", tags=["auth"])


class LoginBody(BaseModel):
    """Credentials."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class LoginAnswer(BaseModel):
    """A successful login."""

    csrf_token: str
    username: str
    role: str
    patient: str | None


def client_address(request: Request) -> str:
    """Return the client's address (uvicorn's --proxy-headers sets it from a trusted proxy)."""
    return request.client.host if request.client else "unknown"


def _secure(request: Request, state: StateDep) -> bool:
    return state.settings.production or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, state: StateDep, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure (and ``__Host-``) on HTTPS."""
    secure = _secure(request, state)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie (both names)."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(SECURE_SESSION_COOKIE, path="/", secure=True)


def answer(principal: Principal) -> LoginAnswer:
    """Return the JSON body of a login."""
    return LoginAnswer(
        csrf_token=principal.csrf_token,
        username=principal.username,
        role=principal.role,
        patient=principal.patient_pseudonym,
    )


@login_router.post(
    "/login",
    response_model=LoginAnswer,
    responses={401: {"description": "wrong credentials"}, 429: {"description": "throttled"}},
)
def login_route(body: LoginBody, request: Request, state: StateDep, _user: Public) -> Response:
    """Log in; 401 for wrong credentials, 429 after too many failures (ASVS 2.2.1).

    The login runs in transactions of its own (:func:`spinestab.service.accounts.login`),
    not in the request's: logins at the same moment never fail on a stale snapshot.
    """
    try:
        token, principal = login(
            state.sessions,
            body.username,
            body.password,
            address=client_address(request),
            passwords=state.passwords,
            secret=state.secret,
            policy=state.session_policy,
            throttle=state.throttle,
        )
    except LoginRefused as refused:
        if refused.throttled:
            return JSONResponse(
                {"detail": "too many failed logins; try again later"},
                status_code=429,
                headers={"Retry-After": str(refused.retry_after_s)},
            )
        return JSONResponse({"detail": "wrong user name or password"}, status_code=401)
    response = JSONResponse(answer(principal).model_dump())
    set_session_cookie(response, request, state, token)
    return response


@router.post("/logout", status_code=204)
def logout_route(state: StateDep, user: CurrentUser) -> Response:
    """End the session (in a transaction of its own that only writes)."""
    with session_scope(state.sessions) as session:
        end_session(session, user.session_id)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/me", response_model=LoginAnswer)
def whoami(user: CurrentUser) -> LoginAnswer:
    """Return the logged-in user and the session's CSRF token."""
    return answer(user)
