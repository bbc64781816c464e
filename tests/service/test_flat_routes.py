"""The app's routes added one by one (routes.include_flat) are the routes FastAPI's
``include_router`` tree gives: same OpenAPI document, same route table, same guards."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from spinestab.service.app import API_PREFIX
from spinestab.service.deps import CsrfChecked
from spinestab.service.pages import PAGE_ROUTERS
from spinestab.service.routers import API_ROUTERS
from spinestab.service.routes import include_flat, route_rows


def _nested() -> FastAPI:
    """The app's routers included the FastAPI way (a tree of included routers)."""

    def tree(routers, **options) -> APIRouter:
        top = APIRouter(**options)
        checked = APIRouter(dependencies=[CsrfChecked])
        for router, csrf in routers:
            (checked if csrf else top).include_router(router)
        top.include_router(checked)
        return top

    app = FastAPI(openapi_url=f"{API_PREFIX}/openapi.json")
    app.include_router(tree(API_ROUTERS), prefix=API_PREFIX)
    app.include_router(tree(PAGE_ROUTERS, include_in_schema=False))
    return app


def _row_key(row):
    return (row.path, row.method, row.name, row.guards, row.csrf_checked, row.in_schema)


def test_flat_app_has_the_tree_routes_and_openapi(app):
    nested = _nested()
    # every route is an entry of the app's own table (no included-router nodes)
    assert all(isinstance(r, (APIRoute, Route, Mount)) for r in app.routes)
    assert sum(isinstance(r, APIRoute) for r in app.routes) == len(route_rows(app))
    flat_rows = [_row_key(r) for r in route_rows(app)]
    nested_rows = [_row_key(r) for r in route_rows(nested)]
    assert len(flat_rows) > 50
    assert flat_rows == nested_rows  # same order: the first match wins as before
    flat_doc, nested_doc = app.openapi(), nested.openapi()
    assert flat_doc["paths"] == nested_doc["paths"]
    assert flat_doc["components"] == nested_doc["components"]


def test_include_flat_refuses_a_router_it_cannot_flatten():
    outer, inner = APIRouter(), APIRouter()
    inner.add_api_route("/x", lambda: None)
    outer.include_router(inner)
    with pytest.raises(TypeError, match="plain API routes"):
        include_flat(FastAPI(), outer)
