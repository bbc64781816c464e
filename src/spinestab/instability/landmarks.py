"""Vertebral-body corner landmarks: the data type, JSON/CSV reading and writing.

Four corners per vertebral body on a lateral radiograph or a mid-sagittal MRI/CT slice:
``anterior_superior`` (AS), ``posterior_superior`` (PS), ``posterior_inferior`` (PI) and
``anterior_inferior`` (AI). Coordinates are ``[x, y]``: in image pixels (x = column,
y = row) with ``units = "px"``, or in millimetres with ``units = "mm"``. Pixel spacing is
given as ``[row, column]`` mm, in the DICOM ``PixelSpacing`` order.

JSON layout::

    {"units": "px", "pixel_spacing_mm": [0.15, 0.15], "view": "neutral",
     "magnification_corrected": false,
     "vertebrae": {"L4": {"anterior_superior": [x, y], "posterior_superior": [x, y],
                          "anterior_inferior": [x, y], "posterior_inferior": [x, y]}}}

CSV layout (one row per corner; the metadata columns are optional)::

    level,corner,x,y,units,view,pixel_spacing_row_mm,pixel_spacing_col_mm
    L4,anterior_superior,512.0,803.5,px,neutral,0.15,0.15

A wide CSV with one row per vertebra (``level, anterior_superior_x, anterior_superior_y,
...``) is read too. A corner may be left empty (JSON ``null``) only together with its
endplate partner, e.g. the inferior corners of S1 or of a body cut by the field of view.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.instability._levels import level_index, normalise_level

__all__ = [
    "AI",
    "AS",
    "CORNERS",
    "PI",
    "PS",
    "UNITS",
    "VIEWS",
    "LandmarkSet",
    "landmarks_from_dict",
    "landmarks_to_csv",
    "landmarks_to_dict",
    "read_landmarks",
]

#: Corner names in the row order of every ``(4, 2)`` corner array (walking round the body).
CORNERS: tuple[str, ...] = (
    "anterior_superior",
    "posterior_superior",
    "posterior_inferior",
    "anterior_inferior",
)
AS, PS, PI, AI = range(4)
VIEWS: tuple[str, ...] = ("neutral", "flexion", "extension")
UNITS: tuple[str, ...] = ("mm", "px")
_ENDPLATES = {"superior": (AS, PS), "inferior": (AI, PI)}
_MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class LandmarkSet:
    """Corner landmarks of one view (one film or one slice).

    Parameters
    ----------
    view : {"neutral", "flexion", "extension"}
        The radiographic view.
    units : {"mm", "px"}
        Units declared for the file.
    vertebrae : dict of str to (4, 2) ndarray
        Corner coordinates per canonical level, rows in :data:`CORNERS` order, columns
        ``x, y``; a missing endplate is a pair of NaN rows. Ordered cranial to caudal.
    pixel_spacing_mm : tuple of float, optional
        ``(row, column)`` spacing in mm, needed to turn ``px`` into mm.
    vertebra_units : dict of str to str
        Units of each vertebra (equal to ``units`` unless the file mixes units).
    magnification_known : bool
        True when lengths are true anatomical sizes (CT/MRI, or a calibrated film).
    source : str
        Where the landmarks came from (file name, or ``mask:<file>``).
    notes : dict of str to list of str
        Per-level remarks from reading (e.g. a body cut by the field of view).
    outlines : dict of str to (N, 2) ndarray
        For corners derived from masks: the body's outline points on its slice (for the
        picture only).

    """

    view: str
    units: str
    vertebrae: dict[str, np.ndarray]
    pixel_spacing_mm: tuple[float, float] | None = None
    vertebra_units: dict[str, str] = field(default_factory=dict)
    magnification_known: bool = False
    source: str = "<landmarks>"
    notes: dict[str, list[str]] = field(default_factory=dict)
    outlines: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def levels(self) -> list[str]:
        """Levels present, cranial to caudal."""
        return list(self.vertebrae)

    def units_of(self, level: str) -> str:
        """Units of one vertebra's coordinates."""
        return self.vertebra_units.get(level, self.units)


class _Shown(str):
    """Text that is shown as is in messages (its repr has no quotes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _fail(
    message: str,
    *,
    source: str,
    item: str | None = None,
    value: Any = None,
    expected: str | None = None,
) -> InputError:
    # sequences are shown in parentheses: "[nan, 2]" would be read as console markup
    if isinstance(value, (list, tuple)):
        value = _Shown("(" + ", ".join(repr(v) for v in value) + ")")
    return InputError(message, source=source, item=item, value=value, expected=expected)


def _parse_units(value: Any, *, source: str, item: str) -> str:
    text = str(value).strip().lower() if value is not None else ""
    if text not in UNITS:
        raise _fail("unknown units", source=source, item=item, value=value, expected='"mm" or "px"')
    return text


def _parse_view(value: Any, *, source: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    if text not in VIEWS:
        raise _fail(
            "unknown view",
            source=source,
            item="view",
            value=value,
            expected='"neutral", "flexion" or "extension"',
        )
    return text


def _parse_spacing(value: Any, *, source: str) -> tuple[float, float] | None:
    if value is None:
        return None
    expected = "two positive finite numbers (row_mm, column_mm)"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise _fail(
            "pixel spacing must have two values",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        )
    try:
        row, col = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(
            "pixel spacing is not numeric",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        ) from None
    if not (math.isfinite(row) and math.isfinite(col) and row > 0 and col > 0):
        raise _fail(
            "pixel spacing must be positive and finite",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        )
    if max(row, col) > 10:
        raise _fail(
            "pixel spacing is implausibly large for a spine image",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected="at most 10 mm per pixel",
        )
    return (row, col)


def _parse_point(value: Any, *, source: str, item: str) -> tuple[float, float] | None:
    if value is None:
        return None
    expected = "two finite numbers (x, y), or null for a corner not visible"
    if isinstance(value, Mapping):
        value = [value.get("x"), value.get("y")] if set(value) == {"x", "y"} else None
    if value is None or isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise _fail(
            "a corner must be a pair of coordinates",
            source=source,
            item=item,
            value=value,
            expected=expected,
        )
    if len(value) != 2:
        raise _fail(
            "a corner must have exactly two coordinates",
            source=source,
            item=item,
            value=value,
            expected=expected,
        )
    out = []
    for v in value:
        if isinstance(v, bool):
            raise _fail(
                "a coordinate is not a number",
                source=source,
                item=item,
                value=value,
                expected=expected,
            )
        try:
            number = float(v)
        except (TypeError, ValueError):
            raise _fail(
                "a coordinate is not a number",
                source=source,
                item=item,
                value=value,
                expected=expected,
            ) from None
        if not math.isfinite(number):
            raise _fail(
                "a coordinate is not finite",
                source=source,
                item=item,
                value=value,
                expected=expected,
            )
        out.append(number)
    return (out[0], out[1])


def _corner_array(
    level: str, points: Mapping[str, tuple[float, float] | None], *, source: str
) -> tuple[np.ndarray, list[str]]:
    """Build the ``(4, 2)`` array of one vertebra and check which endplates are complete."""
    arr = np.full((4, 2), np.nan)
    for i, name in enumerate(CORNERS):
        point = points.get(name)
        if point is not None:
            arr[i] = point
    notes = []
    complete = []
    for endplate, (a, b) in _ENDPLATES.items():
        have = (not np.isnan(arr[a]).any(), not np.isnan(arr[b]).any())
        if have[0] != have[1]:
            missing = CORNERS[a] if not have[0] else CORNERS[b]
            raise _fail(
                f"{endplate} endplate has only one corner",
                source=source,
                item=f"{level}.{missing}",
                value=None,
                expected="both corners of an endplate, or neither",
            )
        if all(have):
            complete.append(endplate)
        elif not (level == "S1" and endplate == "inferior"):
            notes.append(f"{endplate} endplate not given")
    if not complete:
        raise _fail(
            "no complete endplate",
            source=source,
            item=level,
            value=None,
            expected="the two corners of at least one endplate",
        )
    if level == "S1" and "superior" not in complete:
        raise _fail(
            "S1 needs its superior endplate corners",
            source=source,
            item=level,
            expected="anterior_superior and posterior_superior of S1",
        )
    return arr, notes


def landmarks_from_dict(
    data: Any, *, source: str = "<landmarks>", view: str | None = None
) -> LandmarkSet:
    """Validate a JSON-like mapping of landmarks and return a :class:`LandmarkSet`.

    Parameters
    ----------
    data : mapping
        The parsed JSON object (see the module docstring for the layout).
    source : str
        Name used in error messages.
    view : str, optional
        The view the caller expects (e.g. from ``--flexion``). The file's own ``view`` must
        agree with it when both are given; one of them must be given.

    Raises
    ------
    InputError
        For any structural or value problem, naming the item and what was expected.

    """
    if not isinstance(data, Mapping):
        raise _fail(
            "landmark file must hold a JSON object",
            source=source,
            value=type(data).__name__,
            expected='{"units": ..., "vertebrae": {...}}',
        )
    known = {
        "units",
        "pixel_spacing_mm",
        "view",
        "vertebrae",
        "magnification_corrected",
        "description",
        "comment",
        "source",
        "patient",
        "study",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(
            "unknown top-level keys",
            source=source,
            item=", ".join(unknown),
            expected=", ".join(sorted(known)),
        )
    if "units" not in data:
        raise _fail("units missing", source=source, item="units", expected='"mm" or "px"')
    units = _parse_units(data["units"], source=source, item="units")
    spacing = _parse_spacing(data.get("pixel_spacing_mm"), source=source)
    if units == "mm" and spacing is not None:
        raise _fail(
            "pixel_spacing_mm given with units mm",
            source=source,
            item="pixel_spacing_mm",
            value=list(spacing),
            expected='units "px" when a pixel spacing is given, or no spacing',
        )
    file_view = _parse_view(data.get("view"), source=source)
    wanted = _parse_view(view, source=source) if view is not None else None
    if file_view and wanted and file_view != wanted:
        raise _fail(
            f"file is a {file_view} view but was given as {wanted}",
            source=source,
            item="view",
            value=file_view,
            expected=wanted,
        )
    final_view = file_view or wanted
    if final_view is None:
        raise _fail(
            "view missing",
            source=source,
            item="view",
            expected='"neutral", "flexion" or "extension"',
        )
    corrected = data.get("magnification_corrected", False)
    if not isinstance(corrected, bool):
        raise _fail(
            "magnification_corrected must be true or false",
            source=source,
            item="magnification_corrected",
            value=corrected,
            expected="true or false",
        )
    raw = data.get("vertebrae")
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(
            "no vertebrae",
            source=source,
            item="vertebrae",
            value=raw,
            expected='an object {"L4": {corners...}, ...} with at least one level',
        )
    vertebrae: dict[str, np.ndarray] = {}
    vunits: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for key, corners in raw.items():
        level = normalise_level(key, source=source)
        if level in vertebrae:
            raise _fail(
                "level given twice",
                source=source,
                item=level,
                value=key,
                expected="each level once",
            )
        if not isinstance(corners, Mapping):
            raise _fail(
                "a vertebra must be an object of corners",
                source=source,
                item=level,
                value=corners,
                expected=", ".join(CORNERS),
            )
        extra = sorted(set(corners) - set(CORNERS) - {"units"})
        if extra:
            raise _fail(
                "unknown corner names",
                source=source,
                item=f"{level}: {', '.join(extra)}",
                expected=", ".join(CORNERS),
            )
        absent = [c for c in CORNERS if c not in corners]
        if absent and not (level == "S1" and set(absent) <= {CORNERS[PI], CORNERS[AI]}):
            raise _fail(
                "corners missing",
                source=source,
                item=f"{level}: {', '.join(absent)}",
                expected="all four corners (null for a corner not visible)",
            )
        points = {
            name: _parse_point(corners.get(name), source=source, item=f"{level}.{name}")
            for name in CORNERS
        }
        arr, level_notes = _corner_array(level, points, source=source)
        vertebrae[level] = arr
        if "units" in corners:
            vunits[level] = _parse_units(corners["units"], source=source, item=f"{level}.units")
        if level_notes:
            notes[level] = level_notes
    order = sorted(vertebrae, key=level_index)
    return LandmarkSet(
        view=final_view,
        units=units,
        vertebrae={lv: vertebrae[lv] for lv in order},
        pixel_spacing_mm=spacing,
        vertebra_units={lv: vunits.get(lv, units) for lv in order},
        magnification_known=bool(corrected),
        source=source,
        notes=notes,
    )


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
    data: dict[str, Any] = {}
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
    data["units"] = file_units
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
    vertebrae: dict[str, dict[str, Any]] = {}

    def point(row: dict[str, str], xcol: str, ycol: str, line: str) -> list[Any] | None:
        x, y = row.get(xcol, ""), row.get(ycol, "")
        if x == "" and y == "":
            return None
        return [x if x != "" else None, y if y != "" else None]

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
            corner = row.get("corner", "").lower()
            if corner not in CORNERS:
                raise InputError(
                    "unknown corner name",
                    source=source,
                    item=f"line {n}",
                    value=row.get("corner"),
                    expected=", ".join(CORNERS),
                )
            if corner in entry:
                raise InputError(
                    "corner given twice",
                    source=source,
                    item=f"{level}.{corner}",
                    expected="each corner once per vertebra",
                )
            entry[corner] = point(row, "x", "y", f"line {n}")
        else:
            if any(c in entry for c in CORNERS):
                raise InputError(
                    "level given twice", source=source, item=level, expected="one row per vertebra"
                )
            for c in CORNERS:
                entry[c] = point(row, f"{c}_x", f"{c}_y", f"line {n}")
    for entry in vertebrae.values():
        if entry.get("units") == file_units:
            entry.pop("units")
        # a CSV cannot write null: a corner without a row (or with empty cells) is absent,
        # which is accepted only for a whole endplate (checked when the corners are built)
        for c in CORNERS:
            entry.setdefault(c, None)
    data["vertebrae"] = vertebrae
    return data


def read_landmarks(path: str | Path, *, view: str | None = None) -> LandmarkSet:
    """Read a landmark file (``.json`` or ``.csv``).

    Parameters
    ----------
    path : str or Path
        The file.
    view : str, optional
        The view the caller expects; must match the file's ``view`` when both are given.

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
    if suffix not in (".json", ".csv"):
        raise InputError(
            "unsupported landmark file type",
            source=source,
            value=path.suffix,
            expected=".json or .csv",
        )
    text = _read_text(path)
    if suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
        except InputError as exc:
            raise exc.with_source(source) from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                source=source,
                expected="a JSON object",
            ) from None
    else:
        data = _csv_to_dict(text, source=source)
    return landmarks_from_dict(data, source=source, view=view)


def landmarks_to_dict(landmarks: LandmarkSet) -> dict[str, Any]:
    """Return the JSON-ready mapping of a :class:`LandmarkSet` (the input layout)."""
    out: dict[str, Any] = {"units": landmarks.units, "view": landmarks.view}
    if landmarks.pixel_spacing_mm is not None:
        out["pixel_spacing_mm"] = list(landmarks.pixel_spacing_mm)
    out["magnification_corrected"] = landmarks.magnification_known
    vertebrae: dict[str, Any] = {}
    for level, arr in landmarks.vertebrae.items():
        entry: dict[str, Any] = {
            name: (None if np.isnan(arr[i]).any() else [float(arr[i, 0]), float(arr[i, 1])])
            for i, name in enumerate(CORNERS)
        }
        if landmarks.units_of(level) != landmarks.units:
            entry["units"] = landmarks.units_of(level)
        vertebrae[level] = entry
    out["vertebrae"] = vertebrae
    return out


def landmarks_to_csv(landmarks: LandmarkSet) -> str:
    """Return the long-form CSV text of a :class:`LandmarkSet`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = ["level", "corner", "x", "y", "units", "view"]
    spacing = landmarks.pixel_spacing_mm
    if spacing is not None:
        cols += ["pixel_spacing_row_mm", "pixel_spacing_col_mm"]
    writer.writerow(cols)
    for level, arr in landmarks.vertebrae.items():
        for i, name in enumerate(CORNERS):
            if np.isnan(arr[i]).any():
                continue
            row = [
                level,
                name,
                repr(float(arr[i, 0])),
                repr(float(arr[i, 1])),
                landmarks.units_of(level),
                landmarks.view,
            ]
            if spacing is not None:
                row += [spacing[0], spacing[1]]
            writer.writerow(row)
    return buf.getvalue()
