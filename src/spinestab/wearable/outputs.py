"""Output files of the wearable pipeline: the reading and writing edge of ``analyse``.

:func:`write_outputs` writes what ``spinestab wearable`` promises into a folder:
``per_second.parquet``, ``daily.csv``, ``prompts.csv``, ``wearable_summary.json`` and one
``timeline_YYYY-MM-DD.png`` per day. The analysis (:mod:`~spinestab.wearable.pipeline`)
writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import require
from spinestab.wearable.posture import CLASS_NAMES
from spinestab.wearable.result import WearableResult

__all__ = ["MANIFEST", "OWNED", "write_outputs"]


def _csv(path: Path, cols: dict[str, np.ndarray]) -> None:
    names = list(cols)
    n = len(next(iter(cols.values()))) if cols else 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            cells = []
            for k in names:
                v = cols[k][i]
                if isinstance(v, float | np.floating):
                    cells.append(
                        f"{float(v):.3f}".rstrip("0").rstrip(".") if np.isfinite(v) else ""
                    )
                elif isinstance(v, bool | np.bool_):
                    cells.append("true" if v else "false")
                else:
                    cells.append(str(v))
            # a cell holding a comma or a quote (the prompts' message) is quoted, as csv does
            f.write(",".join(_csv_cell(c) for c in cells) + "\n")


def _csv_cell(text: str) -> str:
    """Quote a CSV cell where it needs it (RFC 4180: comma, quote, line break)."""
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _arrow(pa: object, x: np.ndarray, typ: object = None) -> object:
    """Wrap a 1-D NumPy array as a pyarrow array without copying floats or ints.

    ``pa.array`` on NumPy input imports pandas (about 0.4 s); building from buffers does
    not. NaN stays NaN (not null), as with ``pa.array``; booleans are bit-packed.
    """
    x = np.ascontiguousarray(x)
    if x.dtype == bool:
        bits = np.packbits(x, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), x.size, [None, pa.py_buffer(bits)])  # type: ignore[attr-defined]
    typ = typ if typ is not None else pa.from_numpy_dtype(x.dtype)  # type: ignore[attr-defined]
    return pa.Array.from_buffers(typ, x.size, [None, pa.py_buffer(x)])  # type: ignore[attr-defined]


def _arrow_strings(pa: object, words: tuple[str, ...]) -> object:
    """Build a pyarrow string array from buffers (``pa.array`` on a list also imports pandas)."""
    data = [w.encode() for w in words]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in data])]).astype(np.int32)
    bufs = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]  # type: ignore[attr-defined]
    return pa.Array.from_buffers(pa.string(), len(words), bufs)  # type: ignore[attr-defined]


def _local_iso(t_unix_s: float, offset_h: float) -> str:
    """Return a UTC time as local ISO 8601 with its offset, e.g. ``2024-03-31T07:16:23+05:30``."""
    m = round(offset_h * 60)
    sign = "+" if m >= 0 else "-"
    stamp = np.datetime64(round(t_unix_s + m * 60), "s")
    return f"{stamp}{sign}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


#: What ``write_outputs`` writes; in an existing folder these are the earlier run's files.
OWNED = (
    "per_second.parquet",
    "daily.csv",
    "prompts.csv",
    "wearable_summary.json",
    "timeline_*.png",
)
MANIFEST = "wearable_summary.json"


def write_outputs(
    result: WearableResult,
    out_dir: str | Path,
    *,
    pictures: bool = True,
    language: str | None = None,
) -> list[Path]:
    """Write the output files into ``out_dir`` and return their paths.

    Files: ``per_second.parquet``, ``daily.csv``, ``prompts.csv``, ``wearable_summary.json``
    and one ``timeline_YYYY-MM-DD.png`` per day (unless ``pictures`` is False). The prompts'
    patient message is taken from the translation catalogue of ``language`` (default: the
    ``SPINESTAB_LANGUAGE`` setting).

    The folder is written atomically (:func:`spinestab.core.outdir.atomic_out_dir`): the
    files go into a temporary sibling and are put in place when all are complete, the
    summary last; the files of an earlier run (other days' timelines included) are
    replaced as a whole, other files in the folder are left alone. A run killed at any
    moment leaves the earlier complete result or a folder without a summary, never a
    complete-looking mix.
    """
    from spinestab.core.i18n import Translator
    from spinestab.core.outdir import atomic_out_dir, check_out_dir

    keep_moving = Translator("wearable", language)("prompt.keep_moving")
    pa = require("pyarrow", extra="wearable", feature="writing per_second.parquet")
    pq = require("pyarrow.parquet", extra="wearable", feature="writing per_second.parquet")
    out = check_out_dir(out_dir)
    with atomic_out_dir(out, owned=OWNED, manifest=MANIFEST) as tmp:
        written = _write_files(result, tmp, pa, pq, pictures=pictures, keep_moving=keep_moving)
    return [out / p.name for p in written]


def _write_files(
    result: WearableResult,
    out: Path,
    pa: Any,
    pq: Any,
    *,
    pictures: bool,
    keep_moving: str,
) -> list[Path]:
    """Write every output into the (temporary) folder ``out``."""
    n = result.posture.size
    t = np.int64(round(result.start_unix_s)) + np.arange(n, dtype=np.int64)
    names = pa.DictionaryArray.from_arrays(
        _arrow(pa, result.posture.astype(np.int8)), _arrow_strings(pa, CLASS_NAMES)
    )
    table = {
        "time": _arrow(pa, t, pa.timestamp("s")),
        "posture": names,
        "trunk_inclination_deg": _arrow(pa, result.trunk_inclination_deg),
        "trunk_forward_deg": _arrow(pa, result.trunk_forward_deg),
        "trunk_lateral_deg": _arrow(pa, result.trunk_lateral_deg),
        "steps": _arrow(pa, result.steps),
        "nonwear": _arrow(pa, result.nonwear),
        "missing": _arrow(pa, result.missing),
        "clipped": _arrow(pa, result.clipped),
        "idle_sleep": _arrow(pa, result.idle_sleep),
    }
    if result.thigh_inclination_deg is not None:
        table["thigh_inclination_deg"] = _arrow(pa, result.thigh_inclination_deg)
    paths = [
        out / "per_second.parquet",
        out / "daily.csv",
        out / "prompts.csv",
        out / "wearable_summary.json",
    ]
    # dictionary encoding only where it pays (posture) and no column statistics: a third of
    # the default write time on a 7-day file, same values
    pq.write_table(
        pa.table(table),
        paths[0],
        compression="zstd",
        use_dictionary=["posture"],
        write_statistics=False,
    )
    _csv(paths[1], result.daily)
    pt = result.prompts_unix_s
    sec = np.round(pt - result.start_unix_s).astype(np.int64)
    off_h = float(result.info.get("utc_offset_h", 0.0))  # type: ignore[arg-type]
    _csv(
        paths[2],
        {
            "time": np.array([str(np.datetime64(round(x), "s")) for x in pt], dtype=object),
            "posture": np.asarray(CLASS_NAMES, dtype=object)[result.posture[sec]]
            if sec.size
            else np.zeros(0, object),
            "local_time": np.array([_local_iso(x, off_h) for x in pt], dtype=object),
            "reason": np.array(["static posture limit reached"] * sec.size, dtype=object),
            "message": np.array([keep_moving] * sec.size, dtype=object),
        },
    )
    paths[3].write_text(json.dumps(result.info, indent=2, default=str))
    if pictures:
        from spinestab.wearable.plots import daily_timelines

        paths += daily_timelines(result, out)
    return paths
