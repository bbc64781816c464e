"""The request threads' turn is handed over first in, first out (``FairRLock``).

Truths: threads that queue for a held lock get it in the order they queued, also when a
running thread asks again at the moment it is given back (with ``threading.RLock`` that
thread barges in first); a waiter that times out leaves the queue and the next one is
served; the lock is re-entrant and only its owner may release it.
"""

from __future__ import annotations

import threading
import time

import pytest

from spinestab.service.fair_lock import FairRLock


def _queue_up(lock, names, order, *, hold_s=0.0):
    """Start one thread per name, each queued after the previous one; return them."""
    threads = []
    for name in names:

        def run(name=name):
            with lock:
                order.append(name)
                time.sleep(hold_s)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 5
        while len(lock._waiters) < len(threads) + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # wait until this thread stands in the queue
        threads.append(thread)
    return threads


def test_waiters_get_the_lock_in_the_order_they_came():
    lock, order = FairRLock(), []
    lock.acquire()
    threads = _queue_up(lock, ["a", "b", "c", "d", "e"], order)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == ["a", "b", "c", "d", "e"]


def test_a_running_thread_asking_again_queues_behind_the_waiters():
    lock, order = FairRLock(), []
    lock.acquire()
    threads = _queue_up(lock, ["a", "b"], order, hold_s=0.01)
    lock.release()
    lock.acquire()  # at once, while "a" is being woken: served after "a" and "b"
    order.append("me")
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == ["a", "b", "me"]


def test_a_waiter_that_times_out_leaves_the_queue():
    lock, order = FairRLock(), []
    lock.acquire()
    gave_up = []

    def impatient():
        gave_up.append(not lock.acquire(timeout=0.05))

    early = threading.Thread(target=impatient)
    early.start()
    early.join(5)
    threads = _queue_up(lock, ["a"], order)
    assert gave_up == [True] and len(lock._waiters) == 1
    lock.release()
    threads[0].join(5)
    assert order == ["a"] and not lock.locked()


def test_re_entrant_and_released_only_by_its_owner():
    lock = FairRLock()
    assert lock.acquire() and lock.acquire(blocking=False)
    lock.release()
    assert lock.locked()
    other = []
    thread = threading.Thread(target=lambda: other.append(lock.acquire(blocking=False)))
    thread.start()
    thread.join(5)
    assert other == [False]
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
