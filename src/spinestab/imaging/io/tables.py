"""Slice tables (``--levels-table``): which slices belong to which vertebral level.

Reading only; :func:`spinestab.imaging.levels.levels_from_table` checks the rows against
the image (ranges, overlaps, anatomical order).

Formats
-------
* CSV with the columns ``level, first_slice, last_slice`` (0-based, inclusive);
* JSON object ``{"L4": [first, last], ...}``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from spinestab.core.safe_load import load_json
from spinestab.errors import InputError

__all__ = ["read_slice_table"]

#: One row of a slice table: level name and the first and last slice, as written.
TableRow = tuple[str, Any, Any]


def read_slice_table(path: str | Path) -> list[TableRow]:
    """Read the rows of a slice table (CSV or JSON), in file order, unchecked.

    Raises
    ------
    InputError
        Missing or unreadable file, JSON that is not an object, a CSV without the columns,
        a JSON value that is not a ``[first, last]`` pair.

    """
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("slice table not found", source=src)
    if path.suffix.lower() == ".json":
        try:
            doc = load_json(path)  # bounded (core.safe_load): size, nesting, integers, duplicates
        except InputError as exc:  # the limit or syntax error, under this file's own heading
            raise InputError(
                f"cannot read slice table JSON: {exc.message}",
                source=src,
                item=exc.item,
                value=exc.value,
                expected=exc.expected,
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read slice table JSON ({exc})", source=src) from exc
        if not isinstance(doc, dict):
            raise InputError("slice table JSON is not an object", source=src)
        return [(str(k), *pair(v, src, str(k))) for k, v in doc.items()]
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"level", "first_slice", "last_slice"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise InputError(
                "slice table lacks columns",
                source=src,
                value=reader.fieldnames,
                expected="level, first_slice, last_slice",
            )
        return [((r["level"] or "").strip(), r["first_slice"], r["last_slice"]) for r in reader]


def pair(value: Any, src: str, name: str) -> tuple[Any, Any]:
    """Return ``(first, last)`` of a ``[first, last]`` value; refuse anything else."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(
            "slice range is not a pair",
            source=src,
            item=name,
            value=value,
            expected="[first, last]",
        )
    return value[0], value[1]
