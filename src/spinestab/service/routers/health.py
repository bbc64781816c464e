"""``GET /api/v1/healthz``: the service and its database answer (no data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from spinestab import __version__
from spinestab.service.deps import Public, StateDep

__all__ = ["health_check", "router"]

router = APIRouter(tags=["health"])


def health_check(state: StateDep, _user: Public) -> JSONResponse:
    """Return 200 when the database answers, 503 when it does not."""
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})


router.add_api_route("/healthz", health_check, methods=["GET"])
