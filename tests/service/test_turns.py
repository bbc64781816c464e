"""The SQLite turn across processes (``spinestab.service.turns.Turn``: a file lock).

Two :class:`Turn` objects on one database stand for two worker processes (each opens the
lock file itself, and POSIX file locks are held per open file). The truths: while one holds
the turn the other waits for it, and gets it a few milliseconds after it is given back;
a waiter gives up after its timeout and goes on without it (as it would on SQLite's own
waiting); a turn taken again in the same thread is one turn.
"""

from __future__ import annotations

import threading
import time

import pytest

from spinestab.service import turns

pytestmark = pytest.mark.skipif(turns.fcntl is None, reason="file locks are POSIX only")


def test_a_second_process_waits_for_the_turn_and_gets_it_when_given_back(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    first, second = turns.Turn(path), turns.Turn(path)
    assert first.acquire()
    got = threading.Event()
    waited: list[float] = []
    held: list[bool] = []

    def take() -> None:
        start = time.monotonic()
        second.acquire(timeout=10)
        waited.append(time.monotonic() - start)
        held.append(second._held)
        got.set()
        second.release()

    taker = threading.Thread(target=take)
    taker.start()
    time.sleep(0.3)
    assert not got.is_set()  # still waiting while the first holds it
    given_back = time.monotonic()
    first.release()
    assert got.wait(5)
    taker.join(5)
    assert held == [True] and waited[0] >= 0.3
    assert time.monotonic() - given_back < 0.2  # woken within a few ms, not SQLite's 100 ms


def test_a_waiter_goes_on_without_the_turn_after_its_timeout(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    first, second = turns.Turn(path), turns.Turn(path)
    with first:
        start = time.monotonic()
        assert second.acquire(timeout=0.2)  # goes on, without the other process's turn
        assert not second._held and 0.2 <= time.monotonic() - start < 2
        second.release()
    assert second.acquire(timeout=1) and second._held
    second.release()


def test_the_turn_taken_again_in_the_same_thread_is_one_turn(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    first, second = turns.Turn(path), turns.Turn(path)
    with first:
        with first:
            pass
        # re-entrant: the inner release kept the file lock
        assert second.acquire(blocking=False) and not second._held
        second.release()
    assert second.acquire(blocking=False) and second._held
    second.release()


def test_a_lock_the_helper_gets_after_its_waiter_gave_up_is_given_back(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    first, second, third = turns.Turn(path), turns.Turn(path), turns.Turn(path)
    first.acquire()
    assert second.acquire(timeout=0.1) and not second._held  # gave up, went on without it
    second.release()
    first.release()  # the second's helper now gets the file lock for nobody
    deadline = time.monotonic() + 5
    while not (third.acquire(blocking=False) and third._held):
        if third._depth:
            third.release()
        assert time.monotonic() < deadline, "the helper kept the turn nobody waits for"
        time.sleep(0.01)
    third.release()


_TAKER = r"""
import sys, threading, time
from spinestab.service.turns import Turn
path, seconds = sys.argv[1], float(sys.argv[2])
turn, taken = Turn(path), [0]
print("ready", flush=True)
start = float(sys.stdin.readline())  # the same moment for both processes, once both are ready
def take():
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < start + seconds:
        with turn:
            time.sleep(0.0005)  # a short unit of work, the GIL given up as SQLite does
            taken[0] += 1
threads = [threading.Thread(target=take) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(taken[0])
"""


def test_two_busy_processes_get_a_fair_share_of_the_turns(tmp_path):
    # two worker processes whose threads keep asking for the turn: neither starves
    import os
    import subprocess
    import sys

    path = str(tmp_path / "db.sqlite3")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, path, "2.0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    # Both started (imports done, however loaded the machine) before the first take: with a
    # fixed start a slow start left one process nothing to count ([0, 38] under parallel tests).
    for taker in takers:
        assert taker.stdout.readline().strip() == "ready"
    start = time.time() + 0.2
    for taker in takers:
        taker.stdin.write(f"{start}\n")
        taker.stdin.close()
    counts = []
    for taker in takers:
        with taker.stdout:
            counts.append(int(taker.stdout.read()))
        taker.wait(timeout=60)
    # The polling lock this replaced gave 1652 : 225 (a share of 0.12); the kernel's hand-over
    # gives 0.3-0.5 on a quiet machine and 0.28 was seen under two CI runs at once.
    assert min(counts) > 0.2 * sum(counts), counts
    assert sum(counts) > 200  # the turn moved on promptly (at most ~2,700 in 2 s)


def test_a_lock_file_that_opens_only_once_leaves_turns_within_the_process(tmp_path, monkeypatch):
    import os

    real_open, opened = os.open, []

    def open_once(path, *args, **kwargs):  # the second open (the helper's) fails
        if opened:
            raise PermissionError("no second descriptor")
        fd = real_open(path, *args, **kwargs)
        opened.append(fd)
        return fd

    monkeypatch.setattr(os, "open", open_once)
    turn = turns.Turn(str(tmp_path / "db.sqlite3"))
    monkeypatch.undo()
    with pytest.raises(OSError):
        os.fstat(opened[0])  # the first descriptor was closed, not left half set up
    entered = []

    def use() -> None:
        with turn:
            entered.append(threading.current_thread().name)

    threads = [threading.Thread(target=use) for _ in range(4)]
    with turn:  # held: the others wait in the process, none fails on a missing descriptor
        for thread in threads:
            thread.start()
        time.sleep(0.1)
        assert entered == []
    for thread in threads:
        thread.join(5)
    assert len(entered) == 4
