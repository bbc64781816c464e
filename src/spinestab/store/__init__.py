"""The store: patients, assessments and an audit trail (SQLAlchemy 2, Alembic).

SQLite in the user's data folder by default; PostgreSQL via ``SPINESTAB_DATABASE_URL``.
"""

from spinestab.store.db import make_engine, migrate, open_store, session_scope, store_session
from spinestab.store.models import Assessment, AuditEvent, Base, Patient
from spinestab.store.repository import (
    add_assessments,
    add_patient,
    audit,
    get_patient,
    list_patients,
)

__all__ = [
    "Assessment",
    "AuditEvent",
    "Base",
    "Patient",
    "add_assessments",
    "add_patient",
    "audit",
    "get_patient",
    "list_patients",
    "make_engine",
    "migrate",
    "open_store",
    "session_scope",
    "store_session",
]
