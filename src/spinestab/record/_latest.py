"""Which study is the latest: the one performed last, not the one stored last.

An MRI taken in January and imported in March after a February MRI is the older study:
its numbers must not replace the February ones in the profile. Studies are ordered by the
day they were performed (``performed_on``: the acquisition or study date, from DICOM or a
FHIR ImagingStudy.started), newest first. Stored order (the row id) only breaks ties on
one day, and stands in for the date where none is known: a study without ``performed_on``
counts as performed on the day it was stored (it cannot have been performed later).

One helper for every "latest" of the record's studies: the profile's muscle rows and
instability segments, and the vertebrae of the morphometry studies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["newest_performed_first", "performed_day"]

Row = TypeVar("Row")


def performed_day(row: Any) -> dt.date:
    """Return the day a study was performed (``performed_on``), else the day it was stored."""
    performed = getattr(row, "performed_on", None)
    if performed is not None:
        return performed if not isinstance(performed, dt.datetime) else performed.date()
    created = getattr(row, "created_at", None)
    return created.date() if created is not None else dt.date.min


def newest_performed_first(rows: Iterable[Row]) -> list[Row]:
    """Return studies newest first: by :func:`performed_day`, then by stored order (id).

    ``rows`` need ``id`` and ``performed_on`` and/or ``created_at`` (table rows, or the
    rows of a ``select`` of those columns).
    """
    return sorted(rows, key=lambda r: (performed_day(r), getattr(r, "id", 0)), reverse=True)
