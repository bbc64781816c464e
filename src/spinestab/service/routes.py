"""The app's route table, flattened: one row per (path, method), with its access guard.

Used by the access log (route templates instead of paths) and by the authorisation matrix
test, which checks every row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute

from spinestab.service.deps import Access, csrf_checked

__all__ = ["RouteRow", "route_rows", "route_template"]


@dataclass(frozen=True)
class RouteRow:
    """One API or page route and method."""

    path: str
    method: str
    name: str
    guards: tuple[Access, ...]
    csrf_checked: bool
    regex: re.Pattern[str]
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
                    regex=context.path_regex,
                    in_schema=bool(context.include_in_schema),
                )
            )
    return rows


def route_template(rows: list[RouteRow], path: str) -> str | None:
    """Return the template (``/patients/{pseudonym}``) of the route matching ``path``."""
    for row in rows:
        if row.regex.match(path):
            return row.path
    return None
