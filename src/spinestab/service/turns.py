"""The record as the web app's request threads use it: on SQLite, units of work take turns.

A unit of work on SQLite holds the database's only write lock from its first statement
(``BEGIN IMMEDIATE``) to its commit, so two never run at once anyway. Left to SQLite, the
request threads that wait poll the lock with sleeps of up to 100 ms (its busy handler)
while still competing for the interpreter with the one thread that holds it; waiting on a
lock in the process instead wakes a waiter as soon as the lock is free and lets the holder
run. Reads (:meth:`Record.read_unit_of_work`) take no turn while they read, only for
their short audit write, and the audit rows of reads that end together are committed in
one transaction (:class:`GroupCommit`). Measured with ``python -m benchmarks service``
(docs/web-app.md, "Speed").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from spinestab.errors import InputError
from spinestab.record import Record, UnitOfWork
from spinestab.service.fair_lock import FairRLock
from spinestab.store.artifacts import ArtifactStore

try:  # POSIX: the turn is also taken across processes (several workers, one file)
    import fcntl
except ImportError:  # pragma: no cover - Windows: turns within the process only
    fcntl = None  # type: ignore[assignment]

__all__ = ["GroupCommit", "GroupWrite", "ServiceRecord", "Turn", "sqlite_turn"]

R = TypeVar("R")


class Turn:
    """The turn the units of work on one SQLite database take, in this process and across.

    In the process a lock, re-entrant (a unit of work may open another) and handed to the
    waiting threads first in, first out (:class:`~spinestab.service.fair_lock.FairRLock`:
    with :class:`threading.RLock` a running thread took the lock before the woken waiter
    and some requests were passed over again and again); across processes
    (``spinestab serve --workers N`` on one file) an advisory lock on a file beside the
    database (``<database>.turn``), taken by the thread that holds the process's lock.

    When another process holds it, the waiting thread hands the wait to a helper thread
    that blocks in the kernel (``flock``), which hands the lock over the moment it is given
    back: no polling, and the process that gave it back does not take it again before the
    waiting one (its next thread first has to be woken and get the interpreter; the
    waiter was woken by the kernel). Before, waiting processes polled every 0.5-5 ms and
    the process that held the turn handed it to its own next thread first. After
    ``timeout`` the waiter goes on without it, as without the in-process lock (the unit of
    work then waits on SQLite as before); the helper gives the lock back if it comes later.
    """

    #: A helper idle this long ends (a new one starts with the next wait).
    HELPER_IDLE_S = 2.0

    def __init__(self, path: str | None) -> None:
        self._lock = FairRLock()  # waiters served in the order they came
        self._depth = 0
        self._fd: int | None = None
        self._helper_fd: int | None = None
        self._held_fd: int | None = None  # which of the two file descriptors holds it
        if path and fcntl is not None:
            try:
                self._fd = os.open(path + ".turn", os.O_RDWR | os.O_CREAT, 0o600)
                # the helper's own open file: flock locks belong to an open file, so the
                # helper's pending lock and the thread's own try never mistake one another
                self._helper_fd = os.open(path + ".turn", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # no lock file: turns within the process only, both or neither
                self._close_files()
        self._cond = threading.Condition(threading.Lock())
        self._wanted = False  # a thread waits for the helper to take the file lock
        self._granted = False  # the helper took it for that thread
        self._helper: threading.Thread | None = None

    @property
    def _held(self) -> bool:
        """Whether this process holds the turn across processes (the file lock)."""
        return self._held_fd is not None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the turn (as :meth:`threading.RLock.acquire`); True once taken."""
        start = time.monotonic()
        if not self._lock.acquire(blocking, timeout):
            return False
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            left = None if timeout < 0 else max(0.0, timeout - (time.monotonic() - start))
            self._held_fd = self._take_file(blocking, left)
        return True

    def _take_file(self, blocking: bool, timeout: float | None) -> int | None:
        """Take the file lock; return the file descriptor that holds it (None: not taken)."""
        assert self._fd is not None and fcntl is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            if not blocking:
                return None
        except OSError:
            return None
        with self._cond:
            self._wanted, self._granted = True, False
            if self._helper is None:
                self._helper = threading.Thread(
                    target=self._wait_for_file, name="spinestab-turn", daemon=True
                )
                self._helper.start()
            self._cond.notify_all()
            granted = self._cond.wait_for(lambda: self._granted, timeout)
            self._wanted = self._granted = False
        return self._helper_fd if granted else None  # (set whenever self._fd is)

    def _wait_for_file(self) -> None:
        """Take the file lock in the kernel for the thread that wants it (the helper thread)."""
        assert fcntl is not None and self._helper_fd is not None  # set whenever self._fd is
        while True:
            with self._cond:
                # a grant not yet taken up is still the lock this helper holds for it
                wanted = self._cond.wait_for(
                    lambda: self._wanted and not self._granted, self.HELPER_IDLE_S
                )
                if not wanted:
                    self._helper = None
                    return
            try:
                fcntl.flock(self._helper_fd, fcntl.LOCK_EX)  # blocks, without the GIL
            except OSError:  # pragma: no cover - the waiter times out and goes on
                time.sleep(0.01)
                continue
            with self._cond:
                if self._wanted:
                    self._granted = True
                    self._cond.notify_all()
                    continue
            # the thread gave up waiting in the meantime: give it back at once
            with contextlib.suppress(OSError):
                fcntl.flock(self._helper_fd, fcntl.LOCK_UN)

    def release(self) -> None:
        """Give the turn back."""
        self._depth -= 1
        if self._depth == 0 and self._held_fd is not None:
            assert fcntl is not None
            fd, self._held_fd = self._held_fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        self._lock.release()

    def _close_files(self) -> None:
        for fd in (getattr(self, "_fd", None), getattr(self, "_helper_fd", None)):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._helper_fd = None

    def __del__(self) -> None:
        self._close_files()

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

    def __init__(self, factory: sessionmaker[Session], artifacts: ArtifactStore) -> None:
        super().__init__(factory, artifacts)
        self._turn = sqlite_turn(self.engine)  # None: not SQLite, nothing changes
        self._audit_group = GroupCommit(self._commit_rows)
        self._write_group = GroupWrite(self)

    def write(self, call: Callable[[UnitOfWork], R]) -> R:
        """Run one service call (:meth:`Record.write`); on SQLite with concurrent ones.

        The calls of concurrent requests share one transaction (:class:`GroupWrite`); this
        returns once the transaction with this call is committed.
        """
        if self._turn is None:
            return super().write(call)
        return cast(R, self._write_group.submit(call))

    async def write_async(self, call: Callable[[UnitOfWork], R]) -> R:
        """:meth:`write` for a route on the event loop.

        On SQLite the call is handed to the writer thread and awaited (no thread of the
        pool waits for it: one hand-over less per request); elsewhere it runs in the pool.
        """
        if self._turn is None:
            return await run_in_threadpool(super().write, call)
        return cast(R, await self._write_group.submit_async(call))

    @contextlib.contextmanager
    def _in_turn(self) -> Iterator[None]:
        """Hold the turn (SQLite) for the block; without it after SQLite's busy timeout.

        Waiting longer than SQLite's own busy timeout goes on without the turn: the block
        then waits on SQLite as before (and fails as before if it never frees).
        """
        from spinestab.store.db import BUSY_TIMEOUT_S  # read at each call (tests lower it)

        turn = self._turn
        took = turn is not None and turn.acquire(timeout=BUSY_TIMEOUT_S)
        try:
            yield
        finally:
            if took:
                assert turn is not None
                turn.release()

    @contextlib.contextmanager
    def unit_of_work(
        self, *, single_call: bool = False, audit_refusals_on_failure: bool = True
    ) -> Iterator[UnitOfWork]:
        """One transaction (see :meth:`Record.unit_of_work`), in turn with this process's."""
        with (
            self._in_turn(),
            super().unit_of_work(
                single_call=single_call, audit_refusals_on_failure=audit_refusals_on_failure
            ) as uow,
        ):
            yield uow

    def write_audit_rows(self, rows: list[dict[str, Any]]) -> None:
        """Commit a read's audit rows (:meth:`Record.write_audit_rows`), in turn.

        On SQLite the rows of reads that end at the same time are committed together
        (:class:`GroupCommit`); this returns once this read's rows are committed.
        """
        if not rows or self._turn is None:
            super().write_audit_rows(rows)
            return
        self._audit_group.commit(rows)

    def _commit_rows(self, rows: list[dict[str, Any]]) -> None:
        """Commit audit rows in one transaction, in turn."""
        with self._in_turn():
            super().write_audit_rows(rows)


@dataclass(eq=False)
class _Waiting:
    """One caller's work, and what became of it."""

    work: Any
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    #: For a caller on an event loop: wakes it (called by the thread once done).
    wake: Callable[[], object] | None = None


class _Batches:
    """Hand the work of concurrent callers to one thread that does it in batches.

    Each caller hands its work over and waits until the thread has done it (or failed it);
    the callers that come while a batch is being done share the next one. The thread ends
    when idle and starts again with the next work. A caller may wait in a thread
    (:meth:`submit`) or on an event loop (:meth:`submit_async`).
    """

    #: The thread ends after this long without work (seconds).
    IDLE_S = 2.0
    #: A caller whose work has not begun after this long (seconds) takes it back and fails;
    #: work begun is waited for to its end (never an error for work that is then done).
    WAIT_S = 120.0

    def __init__(self, do_batch: Callable[[list[_Waiting]], None], name: str) -> None:
        self._do_batch = do_batch
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._waiting: list[_Waiting] = []
        self._thread: threading.Thread | None = None

    def _hand_over(self, mine: _Waiting) -> None:
        if threading.current_thread() is self._thread:  # it would wait for itself
            raise RuntimeError(f"{self._name}: work handed over from within a batch")
        with self._cond:
            self._waiting.append(mine)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            else:
                self._cond.notify()

    def _take_back(self, mine: _Waiting) -> None:
        """Take back work not begun (raise: nothing done); return if it has begun."""
        with self._cond:
            if mine in self._waiting:
                self._waiting.remove(mine)
                raise RuntimeError(f"{self._name}: not begun in time (nothing done)")

    @staticmethod
    def _outcome(mine: _Waiting) -> Any:
        if mine.error is not None:
            raise mine.error
        return mine.result

    def submit(self, work: Any) -> Any:
        """Have ``work`` done (with that of concurrent callers); return its result or raise."""
        mine = _Waiting(work)
        self._hand_over(mine)
        if not mine.done.wait(self.WAIT_S):
            self._take_back(mine)
            mine.done.wait()  # begun: its outcome is what the caller gets, however late
        return self._outcome(mine)

    async def submit_async(self, work: Any) -> Any:
        """:meth:`submit` for a caller on an event loop: awaits, blocks no thread."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        mine = _Waiting(work, wake=lambda: loop.call_soon_threadsafe(_set_done, woken))
        self._hand_over(mine)
        try:
            await asyncio.wait_for(asyncio.shield(woken), self.WAIT_S)
        except TimeoutError:
            self._take_back(mine)
            await woken  # begun: waited for, however late
        return self._outcome(mine)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._waiting, self.IDLE_S):
                    self._thread = None
                    return
                batch, self._waiting = self._waiting, []  # begun from here on
            try:
                self._do_batch(batch)
            except BaseException as exc:  # pragma: no cover - do_batch sets each error
                for one in batch:
                    if one.error is None:
                        one.error = exc
            for one in batch:
                one.done.set()
                if one.wake is not None:
                    with contextlib.suppress(RuntimeError):  # its event loop has closed
                        one.wake()


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class GroupCommit(_Batches):
    """Commit the rows of concurrent callers together: one writer thread, one transaction.

    Each caller hands its rows over and waits until they are committed (or failed): a
    read's audit rows are still committed before its result goes out, but the reads that
    end while a transaction is being written share the next one (one turn, one ``BEGIN
    IMMEDIATE``, one ``INSERT``, one commit for all of them). When a shared transaction
    fails, each caller's rows are tried again alone, so an error fails exactly the callers
    whose rows cannot be written. The writer thread ends when idle and starts again with
    the next rows.
    """

    def __init__(self, write: Callable[[list[dict[str, Any]]], None]) -> None:
        super().__init__(self._write_batch, "spinestab-audit")
        self._write = write

    def commit(self, rows: list[dict[str, Any]]) -> None:
        """Commit ``rows`` (with those of concurrent callers); raise what failed them."""
        self.submit(list(rows))

    def _write_batch(self, batch: list[_Waiting]) -> None:
        try:
            self._write([row for one in batch for row in one.work])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # each alone: fail only the callers whose rows fail
                for one in batch:
                    try:
                        self._write(one.work)
                    except Exception as alone:
                        one.error = alone


class GroupWrite(_Batches):
    """Run the service calls of concurrent callers in one unit of work, then answer each.

    On SQLite one write transaction at a time holds the database (and the turn), and its
    fixed cost (taking the turn from the other workers, ``BEGIN IMMEDIATE``, the commit,
    handing the turn on) was most of a form submit's time in it. Here the calls that come
    while one transaction is being written share the next: each call in a savepoint of its
    own (a refused call is rolled back to it and its refusal audited, the others go on),
    one commit for all, and each caller answered only after that commit. When the shared
    transaction fails otherwise (an error that is not a refusal, a failed commit), each
    call is run again alone in its own unit of work, so an error fails exactly the calls
    that cause it. A caller hands over ``call(uow)``, one service call, with
    :meth:`submit` (a thread) or :meth:`submit_async` (a coroutine).
    """

    def __init__(self, record: Record) -> None:
        super().__init__(self._write_batch, "spinestab-writes")
        self._record = record

    def _write_batch(self, batch: list[_Waiting]) -> None:
        if len(batch) > 1:
            try:
                # a savepoint per service call; on failure all are run again alone, and
                # those runs audit their refusals
                with self._record.unit_of_work(audit_refusals_on_failure=False) as uow:
                    for one in batch:
                        try:
                            one.result = one.work(uow)
                        except InputError as refused:  # rolled back to its savepoint
                            one.error = refused
                return
            except Exception:  # each alone: fail only the calls that fail
                for one in batch:
                    one.result = one.error = None
        for one in batch:
            try:  # the record's own write, one unit of work per call (not this group's)
                one.result = Record.write(self._record, one.work)
            except Exception as exc:
                one.error = exc
