"""The cohort's output tables: typed Arrow columns, one Parquet file per task, written whole.

Every table is a folder (``daily/``, ``scores/`` ...) that ``pandas.read_parquet`` reads
whole. A task writes its file under a hidden temporary name, flushes it to disk and renames
it into place (:func:`write_parquet`), so a reader never sees half a file; the file counts
only once the run's manifest names it (see :mod:`spinestab.cohort.ledger`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import require

__all__ = [
    "TABLES",
    "arrow_table",
    "output_name",
    "write_parquet",
]

#: Output tables, each a folder of Parquet files under the run's folder.
TABLES = ("muscle_quality", "per_level", "daily", "scores", "profiles")
#: Per-task parts of the profiles table (joined into ``profiles/`` after each run).
PART_TABLES = ("parts/mri", "parts/wearable", "parts/forms")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_name(task_id: str, inputs_sha256: str) -> str:
    """File name of a task's output: readable, unique per task and per inputs.

    ``sub-01/ses-1/wearable`` with inputs hash ``ab12...`` gives
    ``sub-01_ses-1_wearable_<8 hex of the id>_<16 hex of the inputs>.parquet``; the id hash
    keeps ids apart that differ only in characters a file name cannot hold.
    """
    readable = _UNSAFE.sub("-", task_id.replace("/", "_"))[:80]
    tid = hashlib.sha256(task_id.encode()).hexdigest()[:8]
    return f"{readable}_{tid}_{inputs_sha256[:16]}.parquet"


def _arrow_column(pa: Any, values: Any, typ: Any) -> Any:
    if typ is None:
        arr = np.asarray(values)
        if arr.dtype.kind == "b":
            typ = pa.bool_()
        elif arr.dtype.kind in "iu":
            typ = pa.int64()
        elif arr.dtype.kind == "f":
            typ = pa.float64()
        else:
            typ = pa.string()
    if pa.types.is_floating(typ):
        arr = np.asarray(
            [np.nan if v is None else v for v in values]
            if not isinstance(values, np.ndarray)
            else values,
            dtype=np.float64,
        )
        return pa.array(arr, type=typ)  # NaN stays NaN: "not measured" as the CSVs write it
    if pa.types.is_string(typ):
        return pa.array([None if v is None else str(v) for v in values], type=typ)
    if pa.types.is_boolean(typ):
        return pa.array([None if v is None else bool(v) for v in values], type=typ)
    return pa.array(list(values), type=typ)


def arrow_table(
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    *,
    types: Mapping[str, str] | None = None,
) -> Any:
    """Build a ``pyarrow.Table`` with fixed column types.

    Parameters
    ----------
    columns : mapping of name to values
        Equal-length columns.
    types : mapping of name to {"string", "float64", "int64", "bool"}, optional
        Types of columns that cannot be told from their values (e.g. a text column that is
        empty in this task); others follow their NumPy dtype (floats as float64).

    """
    pa = require("pyarrow", extra="cohort", feature="writing cohort tables")
    named = {
        "string": pa.string(),
        "float64": pa.float64(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
    }
    types = dict(types or {})
    arrays = {
        name: _arrow_column(pa, values, named[types[name]] if name in types else None)
        for name, values in columns.items()
    }
    return pa.table(arrays)


def write_parquet(table: Any, path: Path) -> None:
    """Write ``table`` to ``path`` whole: a hidden temporary file, fsync, then rename.

    Readers (``pandas.read_parquet`` of the folder) skip names that start with ``.``, so
    they see either no file or the complete one.
    """
    pq = require("pyarrow.parquet", extra="cohort", feature="writing cohort tables")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
