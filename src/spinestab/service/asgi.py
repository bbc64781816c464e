"""ASGI entry for several uvicorn workers: ``uvicorn spinestab.service.asgi:create --factory``."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["create"]


def create() -> FastAPI:
    """Build the app from the environment's settings (each worker process calls this)."""
    from spinestab.service import create_app

    return create_app()
