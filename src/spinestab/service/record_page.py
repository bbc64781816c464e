"""The clinician's record page, kept by the record's revision and shown again until it moves.

Making the record page reads the whole record (about twenty queries, the red-flag screen)
and renders a large template: most of its cost. The page depends only on the record, the
language, the day and who is asking; the record's revision (``patients.revision``,
:mod:`spinestab.record.revision`) moves on in the same transaction as every write to it.
So a page made at revision ``n`` is kept, and shown again while a read (one indexed query
on the patient row) still finds revision ``n``:

- the key is the patient (id and pseudonym), the revision, the page language, the day and
  the page's path; the role is always clinician (the route's guard);
- the parts that belong to the request are put in at every showing, never kept: the CSRF
  token and the user's name (kept as random placeholders, put in escaped as the template
  would), and the analysis jobs (their own table, read and rendered at every showing);
- a page with a notice, a refusal or a saved-form note is never kept;
- **every showing is audited as the read it shows**: the read unit of work writes, for this
  user and now, the same audit rows the page's read wrote (:func:`spinestab.record.replay_reads`),
  committed before the page goes out, as for any read.

Each process keeps its own pages (a bounded LRU); several workers each make a page once per
revision. Measured with ``python -m benchmarks service`` (docs/web-app.md, "Speed").
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from spinestab import record as services
from spinestab.service.records import _json as as_json
from spinestab.service.records import actor_of

if TYPE_CHECKING:
    from spinestab.record import Record
    from spinestab.service.accounts import Principal

__all__ = ["PageCache", "RecordRead", "fill_in", "placeholders", "read_record_page"]

#: A CSRF token put into a kept page as it is (the template's escaping leaves it alone).
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,256}")


@dataclass(frozen=True)
class Placeholders:
    """Random stand-ins for the request's parts in a kept page (new in every process)."""

    csrf: str
    username: str
    jobs: str


def placeholders() -> Placeholders:
    """Return new random placeholders (letters and digits: no escaping changes them)."""
    return Placeholders(*(f"x{kind}{secrets.token_hex(16)}x" for kind in ("c", "u", "j")))


@dataclass(frozen=True)
class KeptPage:
    """A rendered record page with placeholders, and the reads it was made from."""

    html: str
    reads: tuple[Any, ...]


@dataclass(frozen=True)
class RecordRead:
    """What the record page's read found: a kept page, or the record to make one from."""

    key: tuple[Any, ...]
    kept: KeptPage | None
    jobs: list[dict[str, Any]]
    timeline: dict[str, Any] | None = None
    uploads: list[dict[str, Any]] | None = None
    reads: tuple[Any, ...] = ()


class PageCache:
    """A bounded, thread-safe LRU of kept pages.

    Parameters
    ----------
    size : int
        Pages kept at most (the least recently shown go first). 0 keeps none.

    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.marks = placeholders()
        self._pages: OrderedDict[tuple[Any, ...], KeptPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> KeptPage | None:
        """Return the page kept under ``key``, or None."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[Any, ...], page: KeptPage) -> None:
        """Keep a page (dropping the least recently shown beyond the size)."""
        if self.size <= 0:
            return
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        """Forget every page."""
        with self._lock:
            self._pages.clear()


def read_record_page(
    record: Record,
    user: Principal,
    pseudonym: str,
    *,
    cache: PageCache,
    variant: tuple[Any, ...],
) -> RecordRead:
    """Read the record page's data, or find its kept page; audited either way.

    One read unit of work: the revision is read first, in the same snapshot as the record
    (a page is kept under the revision it was made at, never a later one); on a kept page
    its reads are audited again for this user; otherwise the timeline and the uploads are
    read. The patient's analysis jobs (their own table, never kept) are read in the same
    transaction. The audit rows are committed before this returns (as every read's).
    """
    from spinestab.service.jobs import patient_jobs

    with record.read_unit_of_work() as uow:
        actor = actor_of(user)
        patient_id, revision = services.record_revision(uow, actor, pseudonym)
        key = (patient_id, pseudonym, revision, dt.date.today().isoformat(), *variant)
        kept = cache.get(key)
        jobs = patient_jobs(uow.session, pseudonym)
        if kept is not None:
            services.replay_reads(uow, actor, pseudonym, kept.reads, staff_only=True)
            return RecordRead(key, kept, jobs)
        timeline = as_json(services.show_record(uow, actor, pseudonym))
        uploads = as_json(services.list_uploads(uow, actor, pseudonym))
        reads = services.reads_of(uow)
    return RecordRead(key, None, jobs, timeline, uploads, reads)


def masked(principal: Principal, marks: Placeholders) -> Principal:
    """Return the principal with placeholders for its name and CSRF token."""
    return replace(principal, username=marks.username, csrf_token=marks.csrf)


def can_fill(principal: Principal) -> bool:
    """Whether the request's CSRF token can be put into a kept page as it is."""
    return _PLAIN_TOKEN.fullmatch(principal.csrf_token) is not None


def fill_in(page: KeptPage, marks: Placeholders, *, principal: Principal, jobs_html: str) -> str:
    """Return a kept page with this request's CSRF token, user name and jobs put in."""
    return (
        page.html.replace(marks.csrf, principal.csrf_token)
        .replace(marks.username, str(escape(principal.username)))
        .replace(marks.jobs, str(Markup(jobs_html)))
    )
