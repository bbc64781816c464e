"""ASGI entry for several uvicorn workers: ``uvicorn spinestab.service.asgi:create --factory``."""

from __future__ import annotations

import gc

from fastapi import FastAPI

__all__ = ["create", "freeze_startup_objects", "prepare_to_serve"]


def create() -> FastAPI:
    """Build the app from the environment's settings (each worker process calls this)."""
    from spinestab.service import create_app

    app = create_app()
    prepare_to_serve(app)
    return app


def prepare_to_serve(app: FastAPI) -> None:
    """Do once, before the first request, what the first requests would all do at once.

    Compiles every page template and loads the catalogues of every language (50 requests
    arriving together each compiled the record page's templates: about 7 % of the first
    thousand pages' CPU), then freezes the start-up objects (:func:`freeze_startup_objects`).
    """
    from spinestab.service.i18n import LANGUAGES, messages

    env = app.state.spinestab.templates.env
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    for language in LANGUAGES:
        messages(language).has("")  # the catalogue is read on first use
    freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Leave the objects made at start-up out of the garbage collector's rounds.

    The app's modules, routes, models and compiled templates live as long as the process;
    without this every full collection walks them all again (``gc.freeze``; about 0.4 ms of
    CPU per record page measured, docs/web-app.md "Speed"). Called by ``spinestab serve``
    just before it serves, never by the tests' app.
    """
    gc.collect()
    gc.freeze()
