"""Cohorts on Dask: many subjects' MRI, wearable and questionnaire data at once, resumable.

Typical use::

    from spinestab.cohort import discover, run_cohort

    tasks, people = discover("study/")            # a BIDS-like folder or a manifest CSV
    summary = run_cohort(tasks, "out/", participants=people, workers=4)
    # out/daily/, out/scores/, out/profiles/ ... (Parquet), out/manifest.jsonl, out/failed.csv

One Dask task per subject, session and kind; a failing subject is recorded, never stops the
run; ``resume=True`` continues a run that was interrupted at any moment. Needs the
``cohort`` extra (dask[distributed], pandas, pyarrow).
"""

from spinestab.cohort.dataset import Participant, TaskSpec, discover, read_participants
from spinestab.cohort.options import KINDS, TaskOptions, parse_options
from spinestab.cohort.runner import RunCounts, RunSummary, run_cohort
from spinestab.cohort.tables import TABLES

__all__ = [
    "KINDS",
    "TABLES",
    "Participant",
    "RunCounts",
    "RunSummary",
    "TaskOptions",
    "TaskSpec",
    "discover",
    "parse_options",
    "read_participants",
    "run_cohort",
]
