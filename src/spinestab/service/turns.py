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
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Engine

from spinestab.record import Record, UnitOfWork

try:  # POSIX: the turn is also taken across processes (several workers, one file)
    import fcntl
except ImportError:  # pragma: no cover - Windows: turns within the process only
    fcntl = None  # type: ignore[assignment]

__all__ = ["ServiceRecord", "Turn", "sqlite_turn"]


class Turn:
    """The turn the units of work on one SQLite database take, in this process and across.

    In the process a lock (re-entrant: a unit of work may open another); across processes
    (``spinestab serve --workers N`` on one file) an advisory lock on a file beside the
    database (``<database>.turn``), taken by the thread that holds the process's lock. The
    waiting process polls it with sleeps of 0.5-5 ms (SQLite's own busy handler sleeps up
    to 100 ms between tries); after ``timeout`` it goes on without it, as without the
    in-process lock (the unit of work then waits on SQLite as before).
    """

    def __init__(self, path: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._held = False
        if path and fcntl is not None:
            with contextlib.suppress(OSError):
                self._fd = os.open(path + ".turn", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the turn (as :meth:`threading.RLock.acquire`); True once taken."""
        start = time.monotonic()
        if not self._lock.acquire(blocking, timeout):
            return False
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            left = None if timeout < 0 else max(0.0, timeout - (time.monotonic() - start))
            self._held = self._take_file(blocking, left)
        return True

    def _take_file(self, blocking: bool, timeout: float | None) -> bool:
        assert self._fd is not None and fcntl is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not blocking or (deadline is not None and time.monotonic() >= deadline):
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.005)
            except OSError:
                return False

    def release(self) -> None:
        """Give the turn back."""
        self._depth -= 1
        if self._depth == 0 and self._held:
            assert self._fd is not None and fcntl is not None
            self._held = False
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def __enter__(self) -> Turn:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


#: One turn per SQLite engine (see :class:`ServiceRecord`). Weak keys: a disposed and
#: dropped engine takes its turn along.
_SQLITE_TURNS: weakref.WeakKeyDictionary[Engine, Turn] = weakref.WeakKeyDictionary()
_TURNS_GUARD = threading.Lock()


def sqlite_turn(engine: Engine) -> Turn | None:
    """Return the turn the units of work on this SQLite engine take (else None)."""
    if engine.dialect.name != "sqlite":
        return None
    with _TURNS_GUARD:
        turn = _SQLITE_TURNS.get(engine)
        if turn is None:
            database = engine.url.database
            path = None if not database or database == ":memory:" else database
            turn = _SQLITE_TURNS[engine] = Turn(path)
        return turn


class ServiceRecord(Record):
    """The record whose units of work on SQLite take turns in the process.

    The other workers of ``spinestab serve`` take the same turn (a file lock); other
    processes on the same file (the CLI) still queue through SQLite's busy timeout; on
    PostgreSQL nothing changes.
    """

    @contextlib.contextmanager
    def unit_of_work(self, *, single_call: bool = False) -> Iterator[UnitOfWork]:
        """One transaction (see :meth:`Record.unit_of_work`), in turn with this process's."""
        turn = sqlite_turn(self.engine)
        if turn is None:
            with super().unit_of_work(single_call=single_call) as uow:
                yield uow
            return
        # Waiting longer than SQLite's own busy timeout goes on without the turn: the unit
        # of work then waits on SQLite as before (and fails as before if it never frees).
        from spinestab.store.db import BUSY_TIMEOUT_S

        took = turn.acquire(timeout=BUSY_TIMEOUT_S)
        try:
            with super().unit_of_work(single_call=single_call) as uow:
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
