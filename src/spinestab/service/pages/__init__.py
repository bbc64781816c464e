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
from spinestab.service.routes import include_flat

__all__ = ["PAGE_ROUTERS", "pages_router"]

#: The pages' routers in the order tried, each with whether it checks CSRF.
PAGE_ROUTERS: tuple[tuple[APIRouter, bool], ...] = (
    (login.login_router, False),  # the login form has its own token
    *(
        (module.router, True)
        for module in (common, login, clinician, intake, patient, live, record, imaging)
    ),
)

pages_router = APIRouter(include_in_schema=False)
for _router, _checked in PAGE_ROUTERS:
    # routes added one by one, not as a tree of included routers (routes.include_flat)
    include_flat(pages_router, _router, dependencies=[CsrfChecked] if _checked else [])
