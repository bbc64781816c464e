"""CSV and Parquet recordings: column names, timestamps and ActiLife CSV headers.

Long module: the CSV and Parquet layouts and their time-stamp conventions.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import IO, Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.wearable.recording import (
    Recording,
    need_fs,
    recording_from_array,
    recording_from_times,
)

__all__ = ["read_csv_recording", "read_parquet_recording", "table_locations"]

_TIME_NAMES = (
    "time",
    "timestamp",
    "datetime",
    "date_time",
    "unix_time",
    "unix",
    "t",
    "ts",
    "time_s",
    "timestamp_s",
    "epoch",
)
_AXIS_PATTERNS = (
    ("x", "y", "z"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("acc x", "acc y", "acc z"),
    ("ax", "ay", "az"),
    ("accx", "accy", "accz"),
    ("accelerometer x", "accelerometer y", "accelerometer z"),
    ("x-axis", "y-axis", "z-axis"),
    ("x_axis", "y_axis", "z_axis"),
    ("acc_x_g", "acc_y_g", "acc_z_g"),
)


def _norm(name: str) -> str:
    """Column name without units in brackets, lower case: ``"Acc X [m/s^2]"`` -> ``"acc x"``."""
    return re.sub(r"\s*[\(\[].*?[\)\]]\s*", "", str(name)).strip().lower()


# words that name acceleration or its unit inside a column name, around the axis letter
_ACC_WORDS = frozenset(
    (
        "acc",
        "accel",
        "accelerometer",
        "acceleration",
        "axis",
        "raw",
        "lin",
        "linear",
        "g",
        "mg",
        "ms2",
        "m",
        "s",
        "s2",
        "meters",
        "metres",
        "per",
        "second",
        "squared",
        "value",
        "beschl",  # German exports: "Beschl. X [m/s²]", "Beschleunigung X"
        "beschleunigung",
    )
)


def _words(name: str) -> list[str]:
    """Lower-case words of a column name: ``"lumbarAccX [g]"`` -> ``["lumbar", "acc", "x"]``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name))  # accX -> acc X
    return [w for w in re.split(r"[^a-z0-9]+", _norm(spaced)) if w]


def _axis_of(name: str) -> str | None:
    """Return the axis a column names, if any: ``"Accel-X"``, ``"X_ACCELERATION_..."``."""
    rest = [w for w in _words(name) if w not in _ACC_WORDS]
    if len(rest) == 1 and rest[0] in ("x", "y", "z"):
        return rest[0]
    return None


# Words that name where a sensor sits, in files that hold several sensors side by side
# (HARTH and HAR70+ write back_x ... thigh_z in one CSV; Logacjov et al. 2021, Sensors 21:7853).
# The trunk words name a sensor on the trunk or pelvis, the thigh words one on the thigh.
_LOCATION_WORDS = {
    "trunk": frozenset(
        ("back", "lowerback", "lumbar", "trunk", "torso", "chest", "waist", "hip", "pelvis")
    ),
    "thigh": frozenset(("thigh", "upperleg", "leg")),
}


def _location_of(name: str) -> tuple[str, str] | None:
    """``(location, axis)`` a column names, if it names both: ``"back_x"`` -> trunk, x."""
    words = _words(name)
    if "lower" in words and "back" in words:  # "lower back", "lower_back"
        words.remove("lower")
    for loc, names in _LOCATION_WORDS.items():
        hits = [w for w in words if w in names]
        if len(hits) == 1:
            ax = _axis_of(" ".join(w for w in words if w not in names))
            return (loc, ax) if ax is not None else None
    return None


def _located_axes(cols: list[str]) -> dict[str, list[str]]:
    """Columns of each sensor location with exactly one x, one y and one z column."""
    found: dict[str, dict[str, list[str]]] = {}
    for c in cols:
        hit = _location_of(c)
        if hit is not None:
            found.setdefault(hit[0], {}).setdefault(hit[1], []).append(c)
    return {
        loc: [axes[k][0] for k in ("x", "y", "z")]
        for loc, axes in found.items()
        if all(len(axes.get(k, ())) == 1 for k in ("x", "y", "z"))
    }


def _find_axes(cols: list[str], source: str, location: str | None = None) -> list[str]:
    low = {_norm(c): c for c in cols}
    for pat in _AXIS_PATTERNS:
        if all(k in low for k in pat):
            return [low[k] for k in pat]
    by_axis: dict[str, list[str]] = {}
    for c in cols:
        ax = _axis_of(c)
        if ax is not None:
            by_axis.setdefault(ax, []).append(c)
    if all(len(by_axis.get(k, ())) == 1 for k in ("x", "y", "z")):
        return [by_axis[k][0] for k in ("x", "y", "z")]
    located = _located_axes(cols)
    if location is not None and location in located:
        return located[location]
    if location is not None and located:
        raise InputError(
            f"file holds no {location} acceleration columns",
            source=source,
            value=sorted(c for axes in located.values() for c in axes),
            expected=f"{location} columns, e.g. {'back' if location == 'trunk' else location}_x",
        )
    if len(located) == 1:
        return next(iter(located.values()))
    if located:
        raise InputError(
            "file holds acceleration of several sensors: say which one to read",
            source=source,
            value={loc: axes for loc, axes in sorted(located.items())},
            expected="location='trunk' or 'thigh' (spinestab wearable: --trunk/--thigh)",
        )
    two = [c for c in cols if _axis_of(c) is not None]
    raise InputError(
        "acceleration columns not found" + (" (only two axes?)" if len(two) == 2 else ""),
        source=source,
        value=cols[:12],
        expected="x, y, z (or acc_x/acc_y/acc_z, back_x/thigh_x, ...)",
    )


def _open_text(p: Path) -> IO[str]:
    """Open a CSV (``.gz`` compressed or not) as text; undecodable bytes are replaced."""
    if p.name.lower().endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8", errors="replace")
    return open(p, encoding="utf-8", errors="replace")


def _delimiter(line: str) -> str:
    """Cell separator of a CSV line: commas, else semicolons or tabs (European exports)."""
    return "," if "," in line else ";" if ";" in line else "\t" if "\t" in line else ","


def table_locations(path: str | Path) -> list[str]:
    """Sensor locations whose x, y, z columns a CSV or Parquet file holds side by side.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.csv.gz``, ``.txt`` or ``.parquet`` file; other files give ``[]``.

    Returns
    -------
    list of str
        ``"trunk"`` and/or ``"thigh"``, sorted; empty when the file has plain x, y, z
        columns, is not a table or cannot be read (reading it later says why).

    """
    p = Path(path)
    name = p.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz", ".txt")):
            with _open_text(p) as f:
                line = f.readline()
            sep = _delimiter(line)
            cols = [c.strip() for c in line.split(sep)]
        elif name.endswith(".parquet"):
            pq = require("pyarrow.parquet", extra="wearable", feature="reading Parquet recordings")
            cols = list(pq.read_schema(p).names)
        else:
            return []
    except (OSError, ValueError):
        return []
    return sorted(_located_axes(cols))


def _frame_to_recording(
    df: object,
    *,
    source: str,
    fs_hz: float | None,
    start_unix_s: float | None,
    device: str,
    dayfirst: bool = False,
    location: str | None = None,
) -> Recording:
    pd = require("pandas", extra="wearable", feature="reading CSV/Parquet recordings")
    cols = [str(c) for c in df.columns]  # type: ignore[attr-defined]
    axes = _find_axes(cols, source, location)
    if len(df) == 0:  # type: ignore[arg-type]
        raise InputError("file has no data rows", source=source, value="0 rows")
    acc = df[axes].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)  # type: ignore[index]
    bad = ~np.isfinite(acc).all(axis=1)
    low = {_norm(c): c for c in cols}
    tcol = next((low[n] for n in _TIME_NAMES if n in low), None)
    if tcol is None:  # e.g. "unix_ms", "HEADER_TIMESTAMP", "Date Time (UTC)"
        tcol = next((c for c in cols if _time_words(c) & _TIME_WORDS and c not in axes), None)
    notes: tuple[str, ...] = ()
    empty = [ax for ax, col in zip(axes, acc.T, strict=True) if not np.isfinite(col).any()]
    if empty and len(empty) < 3:
        raise InputError(
            "an acceleration column holds no numbers (a two-axis file?)",
            source=source,
            item=",".join(empty),
            expected="three axes with values",
        )
    if bad.all():
        raise InputError("no numeric acceleration values", source=source, item=",".join(axes))
    if tcol is None:
        fs = need_fs(fs_hz, {}, source)
        return recording_from_array(
            acc, fs_hz=fs, start_unix_s=start_unix_s or 0.0, source=source, device=device
        )
    t = _to_unix(df[tcol], source, tcol, dayfirst=dayfirst)  # type: ignore[index]
    if bad.any():
        notes = (f"{int(bad.sum())} rows with non-numeric acceleration marked missing",)
    if t.size and np.nanmax(np.abs(t)) < 1e8:  # seconds from the start, not unix time
        if start_unix_s is not None:
            t = t + start_unix_s  # time 0 of the column is the given start
        else:
            notes = (
                *notes,
                "time column holds seconds from the start: dates count from 1970-01-01 "
                "(give --start for the real clock)",
            )
    return recording_from_times(
        t,
        acc,
        fs_hz=fs_hz,
        source=source,
        device=device,
        filled=bad if bad.any() else None,
        notes=notes,
    )


_TIME_WORDS = frozenset(
    ("time", "timestamp", "datetime", "date", "epoch", "unix", "zeit", "zeitstempel", "datum")
)


def _time_words(name: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name)).lower()
    return set(re.split(r"[^a-z0-9]+", spaced))


def _to_unix(col: object, source: str, name: str, *, dayfirst: bool = False) -> np.ndarray:
    pd = require("pandas", extra="wearable", feature="reading CSV timestamps")
    s: Any = col
    if not pd.api.types.is_numeric_dtype(s):
        # numbers read as text (a decimal comma or point that differs from the other columns)
        def as_number(x: object) -> object:
            txt = x.astype(str).str.replace(",", ".", regex=False)  # type: ignore[attr-defined]
            return pd.to_numeric(txt, errors="coerce")

        if as_number(s.iloc[:100]).notna().all():  # type: ignore[attr-defined]  # cheap probe
            num = as_number(s)
            if num.notna().all():  # type: ignore[attr-defined]
                s = num
    if pd.api.types.is_numeric_dtype(s):
        v = np.asarray(s, np.float64)
        words = _time_words(name)
        # a unit in the column name wins ("time_ms" from 0); else the size of the numbers
        if words & {"us", "usec", "micros", "microseconds"}:
            return v / 1e6
        if words & {"ms", "msec", "millis", "milliseconds"}:
            return v / 1e3
        if words & {"s", "sec", "secs", "seconds"}:
            return v
        med = np.nanmedian(np.abs(v))
        if med > 1e14:  # microseconds
            return v / 1e6
        if med > 1e11:  # milliseconds
            return v / 1e3
        return v  # unix seconds (or seconds from an unknown start)
    try:
        ts = pd.to_datetime(s, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        # other layouts, e.g. ActiLife's "M/d/yyyy HH:mm:ss.fff" (month first unless the
        # file's header says the day comes first)
        fmt = "%d/%m/%Y %H:%M:%S.%f" if dayfirst else "%m/%d/%Y %H:%M:%S.%f"
        try:
            ts = pd.to_datetime(s, utc=True, format=fmt)
        except (ValueError, TypeError):
            ts = None
        try:
            if ts is None:  # element-wise parsing: slow, the last resort
                ts = pd.to_datetime(s, utc=True, format="mixed", dayfirst=dayfirst)
        except (ValueError, TypeError) as exc:
            raise InputError(
                "cannot read timestamps",
                source=source,
                item=name,
                value=str(s.iloc[0]),
                expected="ISO 8601, unix seconds or M/d/yyyy HH:mm:ss",
            ) from exc
    if ts.isna().any():
        raise InputError(
            "unreadable timestamps", source=source, item=name, value=int(ts.isna().sum())
        )
    return (
        (ts.astype("int64").to_numpy() / 1e9)
        if ts.dtype.unit == "ns"
        else (ts.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9)
    )


def _actilife_header(lines: list[str], source: str) -> tuple[float, float | None, bool]:
    head = "\n".join(lines)
    m_ep = re.search(r"Epoch Period \(hh:mm:ss\)\s*(\d+):(\d+):(\d+)", head)
    if m_ep and any(int(g) for g in m_ep.groups()):
        raise InputError(
            "ActiLife CSV holds epoch counts, not raw acceleration",
            source=source,
            item="Epoch Period",
            value=":".join(m_ep.groups()),
            expected="a raw-data export (Epoch Period 00:00:00)",
        )
    m_st = re.search(r"Start Time\s*(\d+):(\d+):(\d+)", head)
    m_sd = re.search(r"Start Date\s*(\d+)[/.\-](\d+)[/.\-](\d+)", head)
    m_fmt = re.search(r"date format\s*(\S+)", head)
    m_fs = re.search(r"at\s+(\d+(?:\.\d+)?)\s*Hz", head)
    if not (m_st and m_sd):
        raise InputError("ActiLife CSV header lacks Start Time/Start Date", source=source)
    fmt = m_fmt.group(1).lower() if m_fmt else "m/d/yyyy"
    # the fields in the order of the header's date format (the Windows locale of ActiLife:
    # M/d/yyyy, dd/MM/yyyy, dd.MM.yyyy, yyyy-MM-dd ...)
    order = sorted("ymd", key=lambda c: fmt.find(c) if c in fmt else "mdy".index(c) + 99)
    vals = dict(zip(order, (int(g) for g in m_sd.groups()), strict=True))
    year, month, day = vals["y"], vals["m"], vals["d"]
    if year < 100:
        year += 2000
    h, mi, se = (int(g) for g in m_st.groups())
    try:
        start = float(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "s").astype(np.int64))
    except ValueError as exc:
        raise InputError(
            "ActiLife CSV header has an impossible Start Date",
            source=source,
            item="Start Date",
            value=m_sd.group(0),
            expected=f"a date in the header's format ({fmt})",
        ) from exc
    start += h * 3600 + mi * 60 + se
    fs = float(m_fs.group(1)) if m_fs else None
    return start, fs, fmt.find("d") < fmt.find("m")


def read_csv_recording(
    p: Path, *, fs_hz: float | None, start_unix_s: float | None, location: str | None = None
) -> Recording:
    """Read a CSV recording (generic columns, headerless, or an ActiLife raw export).

    ``location`` ("trunk" or "thigh") picks one sensor's columns in a file that holds
    several side by side (``back_x ... thigh_z``).
    """
    pd = require("pandas", extra="wearable", feature="reading CSV recordings")
    src = str(p)
    with _open_text(p) as f:
        first = [f.readline() for _ in range(11)]
    if not any(line.strip() for line in first):
        raise InputError("CSV file has no rows", source=src)
    device = "csv"
    skip = 0
    dayfirst = False
    if first[0].startswith("-") and "ActiLife" in first[0]:
        start, fs_file, dayfirst = _actilife_header(first[:10], src)
        skip = 10  # the ActiLife header block
        start_unix_s = start if start_unix_s is None else start_unix_s
        fs_hz = fs_hz or fs_file
        device = "ActiLife CSV"
    line = first[skip]
    sep = _delimiter(line)
    head_cells = [c.strip() for c in line.split(sep)]
    # European exports: semicolons between cells and decimal commas inside them
    data_line = first[skip + 1] if skip + 1 < len(first) else ""
    decimal = "," if sep != "," and re.search(r"\d,\d", data_line) else "."
    numeric_head = all(_is_number(c) for c in head_cells if c)
    try:
        if numeric_head:
            df = pd.read_csv(
                p,
                header=None,
                skiprows=skip,
                sep=sep,
                engine="c",
                decimal=decimal,
                encoding_errors="replace",
            )
            ncol = df.shape[1]
            if ncol < 3:
                raise InputError(
                    "CSV has fewer than three columns",
                    source=src,
                    value=ncol,
                    expected="time, x, y, z or x, y, z",
                )
            # headerless: (time, x, y, z, ...) when the first column grows like time
            c0 = df.iloc[:, 0].to_numpy(np.float64)
            looks_time = (
                ncol >= 4
                and np.all(np.diff(c0[: min(len(c0), 1000)]) >= 0)
                and (np.median(np.abs(c0)) > 1e6)
            )
            names = ["time", "x", "y", "z"] if looks_time else ["x", "y", "z"]
            df.columns = names + [f"extra{i}" for i in range(ncol - len(names))]
        else:
            df = pd.read_csv(
                p, skiprows=skip, sep=sep, engine="c", decimal=decimal, encoding_errors="replace"
            )
    except pd.errors.EmptyDataError as exc:
        raise InputError("CSV file has no rows", source=src) from exc
    except (pd.errors.ParserError, UnicodeError, ValueError, EOFError, OSError) as exc:
        raise InputError(
            "not a readable CSV file", source=src, value=str(exc)[:200], expected="time, x, y, z"
        ) from exc
    if len(df) == 0:
        raise InputError("CSV file has no data rows", source=src)
    return _frame_to_recording(
        df,
        source=src,
        fs_hz=fs_hz,
        start_unix_s=start_unix_s,
        device=device,
        dayfirst=dayfirst,
        location=location,
    )


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_parquet_recording(
    p: Path, *, fs_hz: float | None, start_unix_s: float | None, location: str | None = None
) -> Recording:
    """Read a Parquet recording (the same column names as CSV; ``location`` as for CSV)."""
    pd = require("pandas", extra="wearable", feature="reading Parquet recordings")
    require("pyarrow", extra="wearable", feature="reading Parquet recordings")
    try:
        df = pd.read_parquet(p)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(
            "not a readable Parquet file (damaged or truncated?)",
            source=str(p),
            value=str(exc)[:200],
        ) from exc
    if df.index.name is not None and df.index.name.lower() in _TIME_NAMES:
        df = df.reset_index()
    return _frame_to_recording(
        df,
        source=str(p),
        fs_hz=fs_hz,
        start_unix_s=start_unix_s,
        device="parquet",
        location=location,
    )
