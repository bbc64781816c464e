"""Shared by the care readers: bounded JSON, CSV rows, numbers."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spinestab.core.safe_load import load_json
from spinestab.errors import InputError

__all__ = ["parse_number", "read_csv_rows", "read_json"]


def read_json(path: Path) -> Any:
    """Read a JSON file within the limits of :func:`spinestab.core.safe_load.load_json`.

    Over 1 MB, nesting deeper than 64, integers over 18 digits and keys given twice are
    refused with an :class:`InputError` naming the file.
    """
    return load_json(path)


def parse_number(
    value: Any, *, source: str, item: str, low: float | None = None, high: float | None = None
) -> float | None:
    """Parse a CSV/JSON number; empty, ``nan`` and ``None`` are missing (None)."""
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "nan", "na", "none", "null")
    ):
        return None
    if isinstance(value, bool):
        raise InputError("not a number", source=source, item=item, value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError("not a number", source=source, item=item, value=value) from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise InputError("not a finite number", source=source, item=item, value=value)
    if low is not None and number < low:
        raise InputError(
            "out of range", source=source, item=item, value=value, expected=f">= {low:g}"
        )
    if high is not None and number > high:
        raise InputError(
            "out of range", source=source, item=item, value=value, expected=f"<= {high:g}"
        )
    return number


def read_csv_rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    source = str(path)
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(
                    "missing column(s): " + ", ".join(missing),
                    source=source,
                    value=header,
                    expected="columns " + ", ".join(required),
                )
            rows = [
                {(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader
            ]
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"unreadable CSV ({exc})", source=source) from None
    if not rows:
        raise InputError("no data rows", source=source, expected="at least one row")
    return rows
