"""The clinic web app: FastAPI pages and ``/api/v1`` over the patient record.

``create_app(settings)`` builds the application; ``spinestab serve`` runs it with uvicorn.
"""

from spinestab.service.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
