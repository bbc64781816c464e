"""Which study is the latest: the one performed last, not the one stored last.

An MRI taken in January and imported in March after a February MRI is the older study:
its numbers must not replace the February ones in the profile. Studies are ordered by the
day they were performed (``performed_on``: the acquisition or study date, from DICOM or a
FHIR ImagingStudy.started), newest first. Stored order (the row id) only breaks ties on
one day, and stands in for the date where none is known: a study without ``performed_on``
counts as performed on the day it was stored (it cannot have been performed later).

A wearable recording was performed over days: its day is the last day it recorded
(``last_date``), so a recording of last week imported after one of this week is the older.

One helper for every "latest" of the record's studies: the profile's muscle rows,
instability segments and movement, and the vertebrae of the morphometry studies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["newest_performed_first", "performed_day"]

Row = TypeVar("Row")


def performed_day(row: Any) -> dt.date:
    """Return the day a study was performed, else the day it was stored.

    Performed: ``performed_on``; for a wearable recording its last recorded day
    (``last_date``). ``row`` is a table row, a ``select`` row or a mapping (a timeline's
    JSON, dates as ISO text).
    """
    if isinstance(row, Mapping):
        row = _Fields(row)
    performed = getattr(row, "performed_on", None) or getattr(row, "last_date", None)
    if performed is not None:
        return performed if not isinstance(performed, dt.datetime) else performed.date()
    created = getattr(row, "created_at", None)
    return created.date() if created is not None else dt.date.min


def newest_performed_first(rows: Iterable[Row]) -> list[Row]:
    """Return studies newest first: by :func:`performed_day`, then by stored order (id).

    ``rows`` need ``id`` and ``performed_on`` (or ``last_date``) and/or ``created_at``
    (table rows, the rows of a ``select`` of those columns, or a timeline's JSON items).
    """
    return sorted(rows, key=lambda r: (performed_day(r), _id(r)), reverse=True)


def _id(row: Any) -> int:
    found = row.get("id") if isinstance(row, Mapping) else getattr(row, "id", None)
    return found if isinstance(found, int) else 0


class _Fields:
    """A timeline's JSON item read as a row: ISO dates and times parsed."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self._item = item

    def __getattr__(self, name: str) -> Any:
        value = self._item.get(name)
        if isinstance(value, str) and name.endswith(("_on", "_date")):
            return dt.date.fromisoformat(value[:10])
        if isinstance(value, str) and name.endswith("_at"):
            return dt.datetime.fromisoformat(value)
        return value
