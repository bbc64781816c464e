"""``profiles/``: one row per subject and session, joined from the tasks' profile parts.

Each task writes its part of the profile (``parts/wearable``: the movement summary of
:func:`spinestab.care.summarise.summarise_daily`; ``parts/forms``: the clinical state of
:func:`spinestab.care.summarise.clinical_state_from_scores`; ``parts/mri``: multifidus quality).
After every run the parts are joined with the participants' data into
``profiles/profiles.parquet``, written whole; a column that a part did not give stays empty
(unknown), never 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from spinestab.cohort.dataset import Participant
from spinestab.cohort.tables import PART_TABLES, write_parquet
from spinestab.errors import require

__all__ = ["build_profiles"]

log = logging.getLogger(__name__)

_KEYS = ["subject", "session"]


def _read_part(folder: Path):  # -> pandas.DataFrame | None
    pd = require("pandas", extra="cohort", feature="cohort profiles")
    if not folder.is_dir() or not any(p.suffix == ".parquet" for p in folder.iterdir()):
        return None
    df = pd.read_parquet(folder)
    df["session"] = df["session"].astype(object).where(df["session"].notna(), "")
    return df


def build_profiles(out_dir: Path, participants: Mapping[str, Participant]) -> int:
    """Join the profile parts into ``out_dir/profiles/profiles.parquet``; return its rows."""
    pd = require("pandas", extra="cohort", feature="cohort profiles")
    pa = require("pyarrow", extra="cohort", feature="cohort profiles")
    target = out_dir / "profiles" / "profiles.parquet"
    parts = [p for p in (_read_part(out_dir / t) for t in PART_TABLES) if p is not None]
    if not parts:
        if target.exists():
            os.remove(target)
        return 0
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.merge(part, on=_KEYS, how="outer")
    people = pd.DataFrame(
        [
            {"subject": p.subject, "sex": p.sex, "age": p.age, **p.extra}
            for p in participants.values()
        ]
    )
    if people.empty:
        people = pd.DataFrame({"subject": [], "sex": [], "age": []})
    people["age"] = people["age"].astype("float64")
    clash = [c for c in people.columns if c in joined.columns and c != "subject"]
    joined = joined.drop(columns=clash)
    table = people.merge(joined, on="subject", how="right")
    table["session"] = table["session"].where(table["session"] != "", None)
    front = ["subject", "session", "sex", "age"]
    table = table[front + [c for c in table.columns if c not in front]]
    table = table.sort_values(_KEYS, na_position="first", kind="stable").reset_index(drop=True)
    write_parquet(pa.Table.from_pandas(table, preserve_index=False), target)
    return len(table)
