"""Landmark files: reading JSON and CSV, writing them back.

JSON layout (validated by :func:`~spinestab.instability.landmark_parse.landmarks_from_dict`)::

    {"units": "px", "pixel_spacing_mm": [0.15, 0.15], "view": "neutral",
     "magnification_corrected": false,
     "vertebrae": {"L4": {"anterior_superior": [x, y], "posterior_superior": [x, y],
                          "anterior_inferior": [x, y], "posterior_inferior": [x, y],
                          "mid_superior": [x, y], "mid_inferior": [x, y]}}}

CSV layout (one row per point; the metadata columns are optional)::

    level,corner,x,y,units,view,pixel_spacing_row_mm,pixel_spacing_col_mm
    L4,anterior_superior,512.0,803.5,px,neutral,0.15,0.15
    L4,mid_superior,530.2,806.1,px,neutral,0.15,0.15

A wide CSV with one row per vertebra (``level, anterior_superior_x, anterior_superior_y,
..., mid_superior_x, mid_superior_y, ...``) is read too. The endplate mid-points
(``mid_superior``, ``mid_inferior``) are optional (six-point morphometry).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.core.levels import normalise_level
from spinestab.core.safe_load import bounded_int, check_json_depth
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.instability.landmark_parse import landmarks_from_dict
from spinestab.instability.landmarks import CORNERS, MIDPOINTS, LandmarkSet

__all__ = ["landmarks_to_csv", "landmarks_to_dict", "read_landmarks"]

_MAX_BYTES = 5_000_000
_POINT_NAMES = (*CORNERS, *MIDPOINTS)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError("file not found", source=str(path), expected="an existing file")
    if not path.is_file():
        raise InputError("not a file", source=str(path), expected="a landmark file")
    if path.stat().st_size > _MAX_BYTES:
        raise InputError(
            "file too large for a landmark file",
            source=str(path),
            value=path.stat().st_size,
            expected=f"at most {_MAX_BYTES} bytes",
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            "file is not UTF-8 text", source=str(path), expected="a JSON or CSV text file"
        ) from exc


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputError("key given twice", item=key, expected="each key once")
        out[key] = value
    return out


def _csv_rows(text: str, *, source: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InputError("CSV file is empty", source=source, expected="a header row")
    header = [h.strip().lower() for h in reader.fieldnames]
    if len(set(header)) != len(header):
        raise InputError(
            "CSV header repeats a column",
            source=source,
            value=header,
            expected="unique column names",
        )
    rows = []
    for i, raw in enumerate(reader, start=2):
        if None in raw:
            raise InputError(
                "row has more cells than the header",
                source=source,
                item=f"line {i}",
                expected=f"{len(header)} cells",
            )
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items()}
        if any(row.values()):
            rows.append(row)
    if not rows:
        raise InputError(
            "CSV file has no landmark rows",
            source=source,
            expected="one row per corner (or per vertebra)",
        )
    return header, rows


def _single(rows: list[dict[str, str]], column: str, *, source: str) -> str | None:
    values = {r.get(column, "") for r in rows} - {""}
    if len(values) > 1:
        raise InputError(
            "column must hold one value for the whole file",
            source=source,
            item=column,
            value=sorted(values),
            expected="a single value",
        )
    return values.pop() if values else None


def _csv_units(rows: list[dict[str, str]], *, source: str) -> str:
    """Return the file's units: the one value, or the most common when vertebrae differ."""
    units_by_row = {r.get("units", "") for r in rows} - {""}
    file_units = _single(rows, "units", source=source) if len(units_by_row) <= 1 else None
    if file_units is None and units_by_row:
        # mixed units across vertebrae: keep per-vertebra units, declare the most common
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.get("units", "")] = counts.get(r.get("units", ""), 0) + 1
        file_units = max((u for u in counts if u), key=lambda u: counts[u])
    if file_units is None:
        raise InputError(
            "units missing",
            source=source,
            item="units",
            expected='a "units" column with "mm" or "px"',
        )
    return file_units


def _csv_metadata(rows: list[dict[str, str]], *, source: str) -> dict[str, Any]:
    """Return the file-wide values of a landmark CSV (units, view, spacing, magnification)."""
    data: dict[str, Any] = {"units": _csv_units(rows, source=source)}
    view = _single(rows, "view", source=source)
    if view:
        data["view"] = view
    srow = _single(rows, "pixel_spacing_row_mm", source=source)
    scol = _single(rows, "pixel_spacing_col_mm", source=source)
    if (srow is None) != (scol is None):
        raise InputError(
            "pixel spacing needs both columns",
            source=source,
            item="pixel_spacing_row_mm/pixel_spacing_col_mm",
            expected="both row and column spacing, or neither",
        )
    if srow is not None:
        data["pixel_spacing_mm"] = [srow, scol]
    corrected = _single(rows, "magnification_corrected", source=source)
    if corrected is not None:
        if corrected.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InputError(
                "magnification_corrected must be true or false",
                source=source,
                item="magnification_corrected",
                value=corrected,
                expected="true or false",
            )
        data["magnification_corrected"] = corrected.lower() in ("true", "1", "yes")
    return data


def _point(row: dict[str, str], xcol: str, ycol: str) -> list[Any] | None:
    x, y = row.get(xcol, ""), row.get(ycol, "")
    if x == "" and y == "":
        return None
    return [x if x != "" else None, y if y != "" else None]


def _add_long_row(
    entry: dict[str, Any], row: dict[str, str], *, level: str, line: int, source: str
) -> None:
    corner = row.get("corner", "").lower()
    if corner not in _POINT_NAMES:
        raise InputError(
            "unknown corner name",
            source=source,
            item=f"line {line}",
            value=row.get("corner"),
            expected=", ".join(_POINT_NAMES),
        )
    if corner in entry:
        raise InputError(
            "corner given twice",
            source=source,
            item=f"{level}.{corner}",
            expected="each corner once per vertebra",
        )
    entry[corner] = _point(row, "x", "y")


def _add_wide_row(entry: dict[str, Any], row: dict[str, str], *, level: str, source: str) -> None:
    if any(c in entry for c in CORNERS):
        raise InputError(
            "level given twice", source=source, item=level, expected="one row per vertebra"
        )
    for c in CORNERS:
        entry[c] = _point(row, f"{c}_x", f"{c}_y")
    for m in MIDPOINTS:
        point = _point(row, f"{m}_x", f"{m}_y")
        if point is not None:
            entry[m] = point


def _csv_vertebrae(
    rows: list[dict[str, str]], *, long_form: bool, source: str
) -> dict[str, dict[str, Any]]:
    """Points per level from the rows of a long (per point) or wide (per vertebra) CSV."""
    vertebrae: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, start=2):
        if not row.get("level"):
            raise InputError(
                "level missing", source=source, item=f"line {n}", expected="a level such as L4"
            )
        level = normalise_level(row["level"], source=source)
        entry = vertebrae.setdefault(level, {})
        units = row.get("units", "")
        if units:
            if entry.get("units", units) != units:
                raise InputError(
                    "one vertebra has corners in different units",
                    source=source,
                    item=level,
                    value=[entry["units"], units],
                    expected="the same units for all corners of a vertebra",
                )
            entry["units"] = units
        if long_form:
            _add_long_row(entry, row, level=level, line=n, source=source)
        else:
            _add_wide_row(entry, row, level=level, source=source)
    return vertebrae


def _csv_to_dict(text: str, *, source: str) -> dict[str, Any]:
    header, rows = _csv_rows(text, source=source)
    long_form = {"level", "corner", "x", "y"} <= set(header)
    wide_cols = {f"{c}_{a}" for c in CORNERS for a in "xy"}
    wide_form = "level" in header and bool(wide_cols & set(header))
    if not (long_form or wide_form):
        raise InputError(
            "CSV header lacks the landmark columns",
            source=source,
            value=header,
            expected="level,corner,x,y (one row per corner) or level,"
            "anterior_superior_x,anterior_superior_y,... (one row per vertebra)",
        )
    data = _csv_metadata(rows, source=source)
    vertebrae = _csv_vertebrae(rows, long_form=long_form, source=source)
    for entry in vertebrae.values():
        if entry.get("units") == data["units"]:
            entry.pop("units")
        # a CSV cannot write null: a corner without a row (or with empty cells) is absent,
        # which is accepted only for a whole endplate (checked when the corners are built)
        for c in CORNERS:
            entry.setdefault(c, None)
    data["vertebrae"] = vertebrae
    return data


def _json_to_dict(text: str, *, source: str) -> Any:
    try:
        check_json_depth(text)  # bounded (core.safe_load): nesting and huge integers
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_int=bounded_int())
    except InputError as exc:
        raise exc.with_source(source) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            source=source,
            expected="a JSON object",
        ) from None


def read_landmarks(
    path: str | Path, *, view: str | None = None, default_view: str | None = None
) -> LandmarkSet:
    """Read a landmark file (``.json`` or ``.csv``).

    Parameters
    ----------
    path : str or Path
        The file.
    view : str, optional
        The view the caller expects; must match the file's ``view`` when both are given.
    default_view : str, optional
        The view taken when neither the file nor ``view`` gives one.

    Returns
    -------
    LandmarkSet

    Raises
    ------
    InputError
        If the file is missing, unreadable, or its content is invalid.

    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    check_choice(
        "file type",
        suffix,
        (".json", ".csv"),
        source=source,
        message="unsupported landmark file type",
        expected=".json or .csv",
    )
    text = _read_text(path)
    if suffix == ".json":
        data = _json_to_dict(text, source=source)
    else:
        data = _csv_to_dict(text, source=source)
    return landmarks_from_dict(data, source=source, view=view, default_view=default_view)


def _xy(arr: np.ndarray, row: int) -> list[float] | None:
    return None if np.isnan(arr[row]).any() else [float(arr[row, 0]), float(arr[row, 1])]


def landmarks_to_dict(landmarks: LandmarkSet) -> dict[str, Any]:
    """Return the JSON-ready mapping of a :class:`LandmarkSet` (the input layout)."""
    out: dict[str, Any] = {"units": landmarks.units, "view": landmarks.view}
    if landmarks.pixel_spacing_mm is not None:
        out["pixel_spacing_mm"] = list(landmarks.pixel_spacing_mm)
    out["magnification_corrected"] = landmarks.magnification_known
    vertebrae: dict[str, Any] = {}
    for level, arr in landmarks.vertebrae.items():
        entry: dict[str, Any] = {name: _xy(arr, i) for i, name in enumerate(CORNERS)}
        if level in landmarks.midpoints:
            mid = landmarks.midpoints[level]
            entry.update({name: _xy(mid, i) for i, name in enumerate(MIDPOINTS)})
        if landmarks.units_of(level) != landmarks.units:
            entry["units"] = landmarks.units_of(level)
        vertebrae[level] = entry
    out["vertebrae"] = vertebrae
    return out


def landmarks_to_csv(landmarks: LandmarkSet) -> str:
    """Return the long-form CSV text of a :class:`LandmarkSet` (mid-points included)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = ["level", "corner", "x", "y", "units", "view"]
    spacing = landmarks.pixel_spacing_mm
    if spacing is not None:
        cols += ["pixel_spacing_row_mm", "pixel_spacing_col_mm"]
    writer.writerow(cols)
    for level, arr in landmarks.vertebrae.items():
        points = [(name, arr[i]) for i, name in enumerate(CORNERS)]
        if level in landmarks.midpoints:
            mid = landmarks.midpoints[level]
            points += [(name, mid[i]) for i, name in enumerate(MIDPOINTS)]
        for name, xy in points:
            if np.isnan(xy).any():
                continue
            row: list[str | float] = [
                level,
                name,
                repr(float(xy[0])),
                repr(float(xy[1])),
                landmarks.units_of(level),
                landmarks.view,
            ]
            if spacing is not None:
                row += [spacing[0], spacing[1]]
            writer.writerow(row)
    return buf.getvalue()
