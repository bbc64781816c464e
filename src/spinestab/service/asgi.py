"""ASGI entry for several uvicorn workers: ``uvicorn spinestab.service.asgi:create --factory``."""

from __future__ import annotations

import gc

from fastapi import FastAPI

__all__ = ["create", "freeze_startup_objects"]


def create() -> FastAPI:
    """Build the app from the environment's settings (each worker process calls this)."""
    from spinestab.service import create_app

    app = create_app()
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Leave the objects made at start-up out of the garbage collector's rounds.

    The app's modules, routes, models and compiled templates live as long as the process;
    without this every full collection walks them all again (``gc.freeze``; about 0.4 ms of
    CPU per record page measured, docs/web-app.md "Speed"). Called by ``spinestab serve``
    just before it serves, never by the tests' app.
    """
    gc.collect()
    gc.freeze()
