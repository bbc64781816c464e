"""The live prompt service of one server process: the hub, and prompts pushed to pages.

One :class:`~spinestab.wearable.live_hub.LiveHub` per app (so per server process): every
stream with a batch waiting goes through one vectorised engine step, saved in the record
(:class:`~spinestab.record.live.RecordStreamStore`). Prompts reach the patient's page as
server-sent events: a connection waits for a nudge from this process (a step that stored
prompts for that patient) or for ``live_poll_seconds``, then reads the record for prompts
after the last one it sent, so prompts stored by another server process arrive too.

Several server processes (``uvicorn --workers N`` or several hosts) share streams through
the database: a step locks its streams' rows and reloads a stream whose stored version moved
on (another process stepped it). That is correct whichever process a batch reaches, but a
stream that bounces between processes is reloaded each time (about 15 KiB read and the
arrays rebuilt); route a patient's requests to one process (sticky by the session cookie at
the reverse proxy) to keep each stream in one process's memory. See docs/wearable-live.md.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from spinestab.record import Record
from spinestab.record.live import RecordStreamStore
from spinestab.store.artifacts import FileArtifactStore
from spinestab.wearable.live_hub import LiveHub

__all__ = ["LiveService", "PromptNotices", "live_service"]

_LOCK = threading.Lock()


class PromptNotices:
    """Wake this process's server-sent event connections of a patient (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set)
        )

    def subscribe(self, patient: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """Return a handle whose event is set when ``patient`` gets prompts."""
        handle = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters[patient].add(handle)
        return handle

    def unsubscribe(self, patient: str, handle: Any) -> None:
        """Forget a handle."""
        with self._lock:
            waiters = self._waiters.get(patient)
            if waiters is not None:
                waiters.discard(handle)
                if not waiters:
                    del self._waiters[patient]

    def notify(self, patient: str) -> None:
        """Wake every connection of ``patient`` (from any thread)."""
        with self._lock:
            handles = list(self._waiters.get(patient, ()))
        for loop, event in handles:
            loop.call_soon_threadsafe(event.set)


class LiveService:
    """The hub and the notices of one app, and the record as the live routes use it.

    The routes' own record calls (status, prompts, snooze) run in units of work of the
    record (SQLite ``BEGIN IMMEDIATE``), not in the request's transaction: they read and
    then write (the audit), and a read-then-write transaction fails on SQLite when another
    writer (a live step) committed in between.
    """

    def __init__(self, sessions: sessionmaker[Session], data_dir: Path) -> None:
        self.hub = LiveHub(RecordStreamStore(sessions))
        self.notices = PromptNotices()
        self.record = Record(sessions, FileArtifactStore(data_dir / "artifacts"))


def live_service(app: Any) -> LiveService:
    """Return the app's live service (made on first use, one per app)."""
    service = getattr(app.state, "spinestab_live", None)
    if service is None:
        with _LOCK:
            service = getattr(app.state, "spinestab_live", None)
            if service is None:
                state = app.state.spinestab
                service = LiveService(state.sessions, state.settings.data_dir)
                app.state.spinestab_live = service
    return service
