"""The ``/api/v1`` routers, one per resource; every one checks CSRF on state changes.

Add a resource (the imaging viewer, the live stream) as a module with a ``router`` and list
it here; the authorisation matrix test picks its routes up from the app's route table.
"""

from fastapi import APIRouter

from spinestab.service.deps import CsrfChecked
from spinestab.service.routers import (
    auth,
    health,
    imaging,
    interop,
    jobs,
    live,
    me,
    patients,
    radiographs,
    users,
)
from spinestab.service.routes import include_flat

__all__ = ["API_ROUTERS", "api_router"]

#: The API's routers in the order tried, each with whether it checks CSRF.
API_ROUTERS: tuple[tuple[APIRouter, bool], ...] = (
    (auth.login_router, False),  # the only state change without CSRF (see auth)
    *((module.router, True) for module in (health, auth, patients, jobs, users, interop, me, live)),
    *((r, True) for r in (imaging.router, radiographs.router, radiographs.instability_router)),
)

api_router = APIRouter()
for _router, _checked in API_ROUTERS:
    # routes added one by one, not as a tree of included routers (routes.include_flat)
    include_flat(api_router, _router, dependencies=[CsrfChecked] if _checked else [])
