"""Analyses as background jobs: job kind -> job function (see :mod:`spinestab.service.jobs`).

Each function takes a :class:`~spinestab.service.jobs.JobContext` and JSON parameters,
calls the record's service for its analysis and returns a JSON result; none of them knows
about HTTP, so the same functions can run in another worker process or on Dask.
"""

from __future__ import annotations

from spinestab.service.jobs import JobFunction

__all__ = ["ANALYSES"]

ANALYSES: dict[str, JobFunction] = {}
