"""``daily.csv`` of ``spinestab wearable``: one validated row per day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.care.io._common import parse_number, read_csv_rows
from spinestab.errors import InputError

__all__ = ["DAILY_COLUMNS", "read_daily"]

#: Columns ``daily.csv`` must have (issue 4 contract).
DAILY_COLUMNS = (
    "date",
    "wear_min",
    "lying_min",
    "sitting_min",
    "standing_min",
    "upright_static_min",
    "walking_min",
    "steps",
    "forward_ge20_min",
    "forward_ge30_min",
    "forward_ge60_min",
    "forward_ge90_min",
    "longest_static_bout_min",
    "static_bouts_over_30min",
    "breaks",
    "prompts",
)


def read_daily(path: Path) -> list[dict[str, Any]]:
    """Read ``daily.csv`` of ``spinestab wearable`` into validated rows."""
    source = str(path)
    rows = read_csv_rows(path, DAILY_COLUMNS)
    out = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            raise InputError(
                "not a date",
                source=source,
                item=f"line {number} date",
                value=row["date"],
                expected="YYYY-MM-DD",
            ) from None
        if day.isoformat() in seen:
            raise InputError(
                "date listed twice",
                source=source,
                item=f"line {number} date",
                value=row["date"],
                expected="one row per day",
            )
        seen.add(day.isoformat())
        parsed: dict[str, Any] = {"date": day.isoformat()}
        for col in DAILY_COLUMNS[1:]:
            high = 1440 if col.endswith("_min") else None
            parsed[col] = parse_number(
                row[col], source=source, item=f"line {number} {col}", low=0, high=high
            )
        flag = (row.get("valid_day") or "").strip().lower()
        parsed["valid_day"] = {
            "true": True,
            "1": True,
            "1.0": True,
            "false": False,
            "0": False,
            "0.0": False,
        }.get(flag)
        _check_day_minutes(row, parsed, source=source, item=f"line {number}")
        out.append(parsed)
    return out


#: Posture columns of ``daily.csv`` that partition the wear time (``spinestab wearable``).
_POSTURE_COLUMNS = (
    "lying_min",
    "sitting_min",
    "standing_min",
    "upright_static_min",
    "moving_min",
    "walking_min",
    "running_min",
    "stairs_min",
)


def _check_day_minutes(
    row: Mapping[str, str], parsed: Mapping[str, Any], *, source: str, item: str
) -> None:
    """Refuse a day whose posture minutes add up to more than its wear time.

    ``spinestab wearable`` writes posture classes that partition the worn seconds, so their
    sum equals ``wear_min`` up to rounding (0.5 min allowed); more means mixed-up columns
    or units (e.g. hours, seconds), which would silently distort the movement summary.
    """
    wear = parsed.get("wear_min")
    if wear is None:
        return
    total = 0.0
    for col in _POSTURE_COLUMNS:
        value = parsed.get(col)
        if col not in parsed and row.get(col, "").strip():
            value = parse_number(row[col], source=source, item=f"{item} {col}", low=0, high=1440)
        total += value or 0.0
    if total > wear + 0.5:
        raise InputError(
            "posture minutes add up to more than the wear time",
            source=source,
            item=item,
            value=f"{total:g} min of postures, wear_min {wear:g}",
            expected="lying + sitting + standing + upright_static + walking (+ moving, "
            "running, stairs) <= wear_min",
        )
