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

__all__ = ["api_router"]

api_router = APIRouter()
api_router.include_router(auth.login_router)  # the only state change without CSRF (see auth)
_checked = APIRouter(dependencies=[CsrfChecked])
for _module in (health, auth, patients, jobs, users, interop, me, live):
    _checked.include_router(_module.router)
for _imaging in (imaging.router, radiographs.router, radiographs.instability_router):
    _checked.include_router(_imaging)
api_router.include_router(_checked)
