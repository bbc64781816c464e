"""The store: SQLAlchemy 2 models, Alembic migrations and the artifact store.

SQLite in the user's data folder by default; PostgreSQL via ``SPINESTAB_DATABASE_URL``.
Writes go through :mod:`spinestab.record` (validation, safety rules, audit).
"""

from spinestab.store import (
    imaging_models,  # noqa: F401  (the viewer's tables too)
    live_models,  # noqa: F401  (the live tables join the metadata)
    morphometry_models,  # noqa: F401  (the morphometry tables too)
)
from spinestab.store.artifacts import ArtifactRef, ArtifactStore, FileArtifactStore
from spinestab.store.db import make_engine, migrate, open_store, session_scope, store_session
from spinestab.store.models import Assessment, AuditEvent, Base, Patient
from spinestab.store.repository import (
    audit,
    find_patient_row,
    get_patient,
    list_patients,
    patient_rows,
)

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "Assessment",
    "AuditEvent",
    "Base",
    "FileArtifactStore",
    "Patient",
    "audit",
    "find_patient_row",
    "get_patient",
    "list_patients",
    "make_engine",
    "migrate",
    "open_store",
    "patient_rows",
    "session_scope",
    "store_session",
]
