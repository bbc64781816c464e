"""The app's route table, flattened: one row per (path, method), with its access guard.

Used by the authorisation matrix test, which checks every row (the access log reads the
route the router chose). :func:`include_flat` puts a router's routes into the app one
by one, as FastAPI before 0.137 did, instead of keeping the router as a node of a tree.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends
from fastapi.routing import APIRoute

from spinestab.service.deps import Access, csrf_checked

__all__ = ["RouteRow", "include_flat", "route_rows"]


@dataclass(frozen=True)
class RouteRow:
    """One API or page route and method."""

    path: str
    method: str
    name: str
    guards: tuple[Access, ...]
    csrf_checked: bool
    in_schema: bool


def _contexts(app: Any) -> Iterator[Any]:
    try:  # FastAPI >= 0.16x keeps included routers nested
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: the routes are already flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in getattr(dependant, "dependencies", []) or []:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_rows(app: Any) -> list[RouteRow]:
    """Return every FastAPI route of ``app`` x method (static mounts excluded)."""
    rows = []
    for context in _contexts(app):
        original = getattr(context, "original_route", context)
        if not isinstance(original, APIRoute):
            continue
        calls = list(_calls(context.dependant))
        guards = tuple(dict.fromkeys(c for c in calls if isinstance(c, Access)))
        for method in sorted(context.methods or ()):
            rows.append(
                RouteRow(
                    path=context.path_format,
                    method=method,
                    name=context.name,
                    guards=guards,
                    csrf_checked=csrf_checked in calls,
                    in_schema=bool(context.include_in_schema),
                )
            )
    return rows


#: What ``add_api_route`` takes that an ``APIRoute`` keeps under the same name (copied as is).
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name
    not in (
        "self",
        "path",
        "endpoint",
        "dependencies",
        "tags",
        "include_in_schema",
        "route_class_override",
    )
)


def include_flat(
    target: FastAPI | APIRouter,
    router: APIRouter,
    *,
    prefix: str = "",
    dependencies: Sequence[Depends] = (),
) -> None:
    """Add every route of ``router`` to ``target`` itself, not as an included router.

    FastAPI 0.137 and later keep ``include_router``'s router as one node of a tree, and
    every request walks the tree twice per level (``matches``, then ``handle`` matches
    again; three levels here: about 0.4 ms of CPU per page, a tenth of a record page's).
    Added one by one, as ``include_router`` did before, the app tries each route's pattern
    once. The routes keep everything they were declared with (the router's prefix, tags
    and dependencies are part of each route already); ``prefix`` and ``dependencies`` are
    put in front, as ``include_router`` would. Only plain routes: a router with routers
    included or a websocket route is refused (``TypeError``), so none is left out silently.
    """
    into = target.router if isinstance(target, FastAPI) else target
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"include_flat takes plain API routes only, not {route!r}")
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
        into.add_api_route(
            prefix + route.path,
            route.endpoint,
            dependencies=[*dependencies, *route.dependencies],
            tags=list(route.tags),
            include_in_schema=route.include_in_schema,
            route_class_override=type(route),
            **options,
        )
