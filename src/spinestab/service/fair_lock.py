"""A re-entrant lock that hands itself to the threads waiting for it in the order they came.

:class:`threading.RLock` lets any thread take a lock that has just been given back: the
thread woken for it still has to get the interpreter, and a thread already running (a
request that has just scored its form) usually takes the lock first. Under load some
requests are passed over again and again; their wait, not the work, makes the tail of the
latency. :class:`FairRLock` gives the lock, on release, to the thread that has waited
longest (first in, first out), so every waiter's wait is the work queued before it.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["FairRLock"]


class _Waiter:
    __slots__ = ("event", "thread")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.event = threading.Event()


class FairRLock:
    """A re-entrant lock granted first in, first out (the API of :class:`threading.RLock`).

    Examples
    --------
    >>> lock = FairRLock()
    >>> with lock:
    ...     with lock:  # re-entrant
    ...         lock.locked()
    True
    >>> lock.locked()
    False

    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[_Waiter] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (as :meth:`threading.RLock.acquire`); True once taken.

        A thread that finds the lock held or others waiting joins the end of the queue;
        after ``timeout`` seconds (negative: no limit) it leaves the queue and returns False.
        """
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return True
            if not blocking:
                return False
            waiter = _Waiter(me)
            self._waiters.append(waiter)
        granted = waiter.event.wait(None if timeout < 0 else timeout)
        if granted:
            return True
        with self._mutex:
            if waiter.event.is_set():  # handed over while the wait ended: it is ours
                return True
            self._waiters.remove(waiter)
            return False

    def release(self) -> None:
        """Give the lock back; at the last release hand it to the longest waiting thread."""
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release un-acquired lock")
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                waiter = self._waiters.popleft()
                self._owner, self._depth = waiter.thread, 1
                waiter.event.set()
            else:
                self._owner = None

    def locked(self) -> bool:
        """Return whether any thread holds the lock."""
        with self._mutex:
            return self._owner is not None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
