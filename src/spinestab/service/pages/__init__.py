"""Server-rendered pages (Jinja2 + HTMX), one module per area.

Add an area (the imaging viewer) as a module with a ``router`` and list it here; every page
router checks CSRF on form posts (the ``csrf_token`` field or the HTMX header).
"""

from fastapi import APIRouter

from spinestab.service.deps import CsrfChecked
from spinestab.service.pages import (
    clinician,
    common,
    imaging,
    intake,
    live,
    login,
    patient,
    record,
)

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False)
pages_router.include_router(login.login_router)  # the login form has its own token
_checked = APIRouter(dependencies=[CsrfChecked])
for _module in (common, login, clinician, intake, patient, live, record, imaging):
    _checked.include_router(_module.router)
pages_router.include_router(_checked)
