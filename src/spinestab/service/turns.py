"""The record as the web app's request threads use it: on SQLite, units of work take turns.

A unit of work on SQLite holds the database's only write lock from its first statement
(``BEGIN IMMEDIATE``) to its commit, so two never run at once anyway. Left to SQLite, the
request threads that wait poll the lock with sleeps of up to 100 ms (its busy handler)
while still competing for the interpreter with the one thread that holds it; waiting on a
lock in the process instead wakes a waiter as soon as the lock is free and lets the holder
run. Reads (:meth:`Record.read_unit_of_work`) take no turn while they read, only for
their short audit write. Measured with ``python -m benchmarks service`` (docs/web-app.md,
"Speed").
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Engine

from spinestab.record import Record, UnitOfWork

__all__ = ["ServiceRecord", "sqlite_turn"]

#: One lock per SQLite engine: the process's units of work on it take turns (see
#: :class:`ServiceRecord`). Weak keys: a disposed and dropped engine takes its lock along.
_SQLITE_TURNS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_TURNS_GUARD = threading.Lock()


def sqlite_turn(engine: Engine) -> threading.RLock | None:
    """Return the lock the units of work on this SQLite engine take turns on (else None)."""
    if engine.dialect.name != "sqlite":
        return None
    with _TURNS_GUARD:
        return _SQLITE_TURNS.setdefault(engine, threading.RLock())


class ServiceRecord(Record):
    """The record whose units of work on SQLite take turns in the process.

    Other processes on the same file (a second worker, the CLI) still queue through
    SQLite's busy timeout; on PostgreSQL nothing changes.
    """

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction (see :meth:`Record.unit_of_work`), in turn with this process's."""
        turn = sqlite_turn(self.engine)
        if turn is None:
            with super().unit_of_work() as uow:
                yield uow
            return
        # Waiting longer than SQLite's own busy timeout goes on without the turn: the unit
        # of work then waits on SQLite as before (and fails as before if it never frees).
        from spinestab.store.db import BUSY_TIMEOUT_S

        took = turn.acquire(timeout=BUSY_TIMEOUT_S)
        try:
            with super().unit_of_work() as uow:
                yield uow
        finally:
            if took:
                turn.release()

    def write_audit_rows(self, rows: list[dict[str, Any]]) -> None:
        """Commit a read's audit rows (:meth:`Record.write_audit_rows`), in turn."""
        turn = sqlite_turn(self.engine) if rows else None
        if turn is None:
            super().write_audit_rows(rows)
            return
        from spinestab.store.db import BUSY_TIMEOUT_S

        took = turn.acquire(timeout=BUSY_TIMEOUT_S)
        try:
            super().write_audit_rows(rows)
        finally:
            if took:
                turn.release()
