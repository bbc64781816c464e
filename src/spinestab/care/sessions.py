"""Session logs and follow-up outcomes: the files ``spinestab progress`` reads.

CSV: one row per exercise and session with columns among :data:`SESSION_FIELDS` (``date``
and ``exercise`` required). JSON: a list of such objects, or ``{"sessions": [...],
"outcomes": [{"date", "instrument", "value"}]}``. Every value is validated.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab.core.safe_load import parse_json, read_limited_text
from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import InputError

__all__ = ["SESSION_FIELDS", "Outcome", "SessionLog", "read_sessions"]

_BOOL = {
    "true": True,
    "yes": True,
    "1": True,
    "y": True,
    "false": False,
    "no": False,
    "0": False,
    "n": False,
}
SESSION_FIELDS = (
    "date",
    "exercise",
    "done",
    "sets",
    "reps",
    "hold_s",
    "pain_before",
    "pain_during",
    "pain_after",
    "pain_next_morning",
    "effort",
    "form_ok",
)


@dataclass(frozen=True)
class SessionLog:
    """One logged exercise in one session.

    Attributes
    ----------
    date : datetime.date
    exercise : str
        Library id.
    done : bool
    sets, reps, hold_s : int or None
        What was done (sets = holds for hold exercises).
    pain_before, pain_during, pain_after, pain_next_morning : int or None
        NRS 0-10; ``pain_during`` is the highest value in the session.
    effort : int or None
        Borg CR10 0-10 (RPE).
    form_ok : bool or None
        Self-report or sensor.

    """

    date: dt.date
    exercise: str
    done: bool
    sets: int | None = None
    reps: int | None = None
    hold_s: int | None = None
    pain_before: int | None = None
    pain_during: int | None = None
    pain_after: int | None = None
    pain_next_morning: int | None = None
    effort: int | None = None
    form_ok: bool | None = None


@dataclass(frozen=True)
class Outcome:
    """A follow-up score for the reviews (ODI in percent)."""

    date: dt.date
    instrument: str
    value: float


def _int(
    value: Any, *, source: str, item: str, low: int = 0, high: int | None = None
) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise InputError("not a whole number", source=source, item=item, value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError("not a number", source=source, item=item, value=value) from None
    if number != int(number):
        raise InputError("not a whole number", source=source, item=item, value=value)
    return int(check_range(item, number, low, high, source=source))


def _bool(value: Any, *, source: str, item: str) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        return value
    text = check_choice(
        item,
        str(value).strip().lower(),
        _BOOL,
        source=source,
        message="not yes/no",
        expected="true/false, yes/no or 1/0",
    )
    return _BOOL[text]


def _date(value: Any, *, source: str, item: str) -> dt.date:
    try:
        date = dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(
            "not a date", source=source, item=item, value=value, expected="YYYY-MM-DD"
        ) from None
    today = dt.date.today()
    if date > today:
        # a log from the future would move the plan's week (and the reviews) with it
        raise InputError(
            "date is in the future",
            source=source,
            item=item,
            value=value,
            expected=f"a date on or before {today.isoformat()}",
        )
    return date


def _session(row: Mapping[str, Any], *, source: str, index: int) -> SessionLog:
    item = f"entry {index}"
    for key in row:
        check_choice(
            f"{item} {key}",
            key,
            (*SESSION_FIELDS, "notes", "side"),
            source=source,
            message="unknown session field",
            expected=", ".join(SESSION_FIELDS),
        )
    if not row.get("exercise"):
        raise InputError("session entry without exercise", source=source, item=item)
    done = _bool(row.get("done"), source=source, item=f"{item} done")
    pains = {
        k: _int(row.get(k), source=source, item=f"{item} {k}", high=10)
        for k in ("pain_before", "pain_during", "pain_after", "pain_next_morning")
    }
    return SessionLog(
        date=_date(row.get("date"), source=source, item=f"{item} date"),
        exercise=str(row["exercise"]).strip(),
        done=True if done is None else done,
        sets=_int(row.get("sets"), source=source, item=f"{item} sets"),
        reps=_int(row.get("reps"), source=source, item=f"{item} reps"),
        hold_s=_int(row.get("hold_s"), source=source, item=f"{item} hold_s"),
        effort=_int(row.get("effort"), source=source, item=f"{item} effort", high=10),
        form_ok=_bool(row.get("form_ok"), source=source, item=f"{item} form_ok"),
        **pains,
    )


def read_sessions(path: str | Path) -> tuple[list[SessionLog], list[Outcome]]:
    """Read session logs (CSV or JSON) and optional follow-up outcomes.

    CSV: one row per exercise and session with columns among :data:`SESSION_FIELDS`
    (``date`` and ``exercise`` required). JSON: a list of such objects, or
    ``{"sessions": [...], "outcomes": [{"date", "instrument", "value"}]}``.
    """
    path = Path(path)
    source = str(path)
    # bounded like every document: over 1 MB, deep nesting and huge integers are refused
    text = read_limited_text(path)
    outcomes_raw: list[Any] = []
    if path.suffix.lower() == ".json":
        data = parse_json(text, source=source)
        if isinstance(data, Mapping):
            rows = data.get("sessions")
            outcomes_raw = list(data.get("outcomes", []))
        else:
            rows = data
        if not isinstance(rows, list):
            raise InputError(
                "no session list",
                source=source,
                expected="a list of sessions or {'sessions': [...]}",
            )
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        for col in ("date", "exercise"):
            if col not in header:
                raise InputError(
                    f"missing column {col}",
                    source=source,
                    value=header,
                    expected="columns " + ", ".join(SESSION_FIELDS),
                )
        rows = list(reader)
    sessions = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InputError(
                "session entry is not an object", source=source, item=f"entry {i}", value=row
            )
        sessions.append(_session(row, source=source, index=i))
    outcomes = []
    for i, o in enumerate(outcomes_raw, start=1):
        if not isinstance(o, Mapping) or o.get("instrument") not in ("odi", "rmdq", "nrs", "psfs"):
            raise InputError(
                "bad outcome",
                source=source,
                item=f"outcome {i}",
                value=o,
                expected="{date, instrument: odi|rmdq|nrs|psfs, value}",
            )
        value: Any = check_type(
            f"outcome {i}",
            o.get("value"),
            (int, float),
            source=source,
            message="outcome value is not a number",
            expected="a number",
        )
        outcomes.append(
            Outcome(
                _date(o.get("date"), source=source, item=f"outcome {i}"),
                str(o["instrument"]),
                float(value),
            )
        )
    return sessions, outcomes
