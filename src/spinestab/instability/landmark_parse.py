"""Validation of landmark mappings (the parsed JSON/CSV content) into a :class:`LandmarkSet`.

The layout (see also :mod:`spinestab.instability.landmark_io` for the files)::

    {"units": "px", "pixel_spacing_mm": [0.15, 0.15], "view": "neutral",
     "magnification_corrected": false,
     "vertebrae": {"L4": {"anterior_superior": [x, y], "posterior_superior": [x, y],
                          "anterior_inferior": [x, y], "posterior_inferior": [x, y],
                          "mid_superior": [x, y], "mid_inferior": [x, y]}}}

A corner may be left empty (``null``) only together with its endplate partner, e.g. the
inferior corners of S1 or of a body cut by the field of view. The endplate mid-points are
optional (six-point morphometry, ``CLINICAL_LOGIC.md`` §4.6); each may be given alone or
be ``null``. Every error names the file, the item, the value and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from spinestab.core.levels import level_index, normalise_level
from spinestab.errors import InputError
from spinestab.instability.landmarks import (
    AI,
    AS,
    CORNERS,
    MIDPOINTS,
    PI,
    PS,
    UNITS,
    VIEWS,
    LandmarkSet,
)

__all__ = ["fail", "landmarks_from_dict"]

_ENDPLATES = {"superior": (AS, PS), "inferior": (AI, PI)}
_KNOWN_KEYS = frozenset(
    {
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
)
_POINT_NAMES = (*CORNERS, *MIDPOINTS)


class _Shown(str):
    """Text that is shown as is in messages (its repr has no quotes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def fail(
    message: str,
    *,
    source: str,
    item: str | None = None,
    value: Any = None,
    expected: str | None = None,
) -> InputError:
    """Return the :class:`InputError` for a landmark problem (lists shown in parentheses)."""
    # sequences are shown in parentheses: "[nan, 2]" would be read as console markup
    if isinstance(value, (list, tuple)):
        value = _Shown("(" + ", ".join(repr(v) for v in value) + ")")
    return InputError(message, source=source, item=item, value=value, expected=expected)


def _parse_units(value: Any, *, source: str, item: str) -> str:
    text = str(value).strip().lower() if value is not None else ""
    if text not in UNITS:
        raise fail("unknown units", source=source, item=item, value=value, expected='"mm" or "px"')
    return text


def _parse_view(value: Any, *, source: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    if text not in VIEWS:
        raise fail(
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
        raise fail(
            "pixel spacing must have two values",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        )
    try:
        row, col = (float(v) for v in value)
    except (TypeError, ValueError):
        raise fail(
            "pixel spacing is not numeric",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        ) from None
    if not (math.isfinite(row) and math.isfinite(col) and row > 0 and col > 0):
        raise fail(
            "pixel spacing must be positive and finite",
            source=source,
            item="pixel_spacing_mm",
            value=value,
            expected=expected,
        )
    if max(row, col) > 10:
        raise fail(
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
        raise fail(
            "a corner must be a pair of coordinates",
            source=source,
            item=item,
            value=value,
            expected=expected,
        )
    if len(value) != 2:
        raise fail(
            "a corner must have exactly two coordinates",
            source=source,
            item=item,
            value=value,
            expected=expected,
        )
    out = []
    for v in value:
        if isinstance(v, bool):
            raise fail(
                "a coordinate is not a number",
                source=source,
                item=item,
                value=value,
                expected=expected,
            )
        try:
            number = float(v)
        except (TypeError, ValueError):
            raise fail(
                "a coordinate is not a number",
                source=source,
                item=item,
                value=value,
                expected=expected,
            ) from None
        if not math.isfinite(number):
            raise fail(
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
            raise fail(
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
        raise fail(
            "no complete endplate",
            source=source,
            item=level,
            value=None,
            expected="the two corners of at least one endplate",
        )
    if level == "S1" and "superior" not in complete:
        raise fail(
            "S1 needs its superior endplate corners",
            source=source,
            item=level,
            expected="anterior_superior and posterior_superior of S1",
        )
    return arr, notes


def _parse_header(
    data: Mapping[str, Any], *, source: str
) -> tuple[str, tuple[float, float] | None, bool]:
    """Units, pixel spacing and the magnification flag of a landmark mapping."""
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise fail(
            "unknown top-level keys",
            source=source,
            item=", ".join(unknown),
            expected=", ".join(sorted(_KNOWN_KEYS)),
        )
    if "units" not in data:
        raise fail("units missing", source=source, item="units", expected='"mm" or "px"')
    units = _parse_units(data["units"], source=source, item="units")
    spacing = _parse_spacing(data.get("pixel_spacing_mm"), source=source)
    if units == "mm" and spacing is not None:
        raise fail(
            "pixel_spacing_mm given with units mm",
            source=source,
            item="pixel_spacing_mm",
            value=list(spacing),
            expected='units "px" when a pixel spacing is given, or no spacing',
        )
    corrected = data.get("magnification_corrected", False)
    if not isinstance(corrected, bool):
        raise fail(
            "magnification_corrected must be true or false",
            source=source,
            item="magnification_corrected",
            value=corrected,
            expected="true or false",
        )
    return units, spacing, corrected


def _final_view(file_value: Any, *, wanted: str | None, default: str | None, source: str) -> str:
    """Return the file's view, checked against the caller's; the default if neither says."""
    file_view = _parse_view(file_value, source=source)
    wanted = _parse_view(wanted, source=source) if wanted is not None else None
    if file_view and wanted and file_view != wanted:
        raise fail(
            f"file is a {file_view} view but was given as {wanted}",
            source=source,
            item="view",
            value=file_view,
            expected=wanted,
        )
    final = file_view or wanted or default
    if final is None:
        raise fail(
            "view missing",
            source=source,
            item="view",
            expected='"neutral", "flexion" or "extension"',
        )
    return final


def _check_vertebra_keys(level: str, points: Any, *, source: str) -> None:
    if not isinstance(points, Mapping):
        raise fail(
            "a vertebra must be an object of corners",
            source=source,
            item=level,
            value=points,
            expected=", ".join(CORNERS),
        )
    extra = sorted(set(points) - set(_POINT_NAMES) - {"units"})
    if extra:
        raise fail(
            "unknown corner names",
            source=source,
            item=f"{level}: {', '.join(extra)}",
            expected=", ".join(_POINT_NAMES),
        )
    absent = [c for c in CORNERS if c not in points]
    if absent and not (level == "S1" and set(absent) <= {CORNERS[PI], CORNERS[AI]}):
        raise fail(
            "corners missing",
            source=source,
            item=f"{level}: {', '.join(absent)}",
            expected="all four corners (null for a corner not visible)",
        )


def _mid_array(level: str, points: Mapping[str, Any], *, source: str) -> np.ndarray | None:
    """``(2, 2)`` mid-points of one vertebra, or None when neither is given."""
    if not any(points.get(name) is not None for name in MIDPOINTS):
        return None
    arr = np.full((2, 2), np.nan)
    for i, name in enumerate(MIDPOINTS):
        point = _parse_point(points.get(name), source=source, item=f"{level}.{name}")
        if point is not None:
            arr[i] = point
    return arr


def landmarks_from_dict(
    data: Any,
    *,
    source: str = "<landmarks>",
    view: str | None = None,
    default_view: str | None = None,
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
        agree with it when both are given.
    default_view : str, optional
        The view taken when neither the file nor ``view`` gives one (e.g. ``"neutral"`` for
        morphometry, where the view does not matter); without it a view must be given.

    Raises
    ------
    InputError
        For any structural or value problem, naming the item and what was expected.

    """
    if not isinstance(data, Mapping):
        raise fail(
            "landmark file must hold a JSON object",
            source=source,
            value=type(data).__name__,
            expected='{"units": ..., "vertebrae": {...}}',
        )
    units, spacing, corrected = _parse_header(data, source=source)
    final_view = _final_view(data.get("view"), wanted=view, default=default_view, source=source)
    raw = data.get("vertebrae")
    if not isinstance(raw, Mapping) or not raw:
        raise fail(
            "no vertebrae",
            source=source,
            item="vertebrae",
            value=raw,
            expected='an object {"L4": {corners...}, ...} with at least one level',
        )
    vertebrae: dict[str, np.ndarray] = {}
    vunits: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    mids: dict[str, np.ndarray] = {}
    for key, points in raw.items():
        level = normalise_level(key, source=source)
        if level in vertebrae:
            raise fail(
                "level given twice",
                source=source,
                item=level,
                value=key,
                expected="each level once",
            )
        _check_vertebra_keys(level, points, source=source)
        corners = {
            name: _parse_point(points.get(name), source=source, item=f"{level}.{name}")
            for name in CORNERS
        }
        vertebrae[level], level_notes = _corner_array(level, corners, source=source)
        mid = _mid_array(level, points, source=source)
        if mid is not None:
            mids[level] = mid
        if "units" in points:
            vunits[level] = _parse_units(points["units"], source=source, item=f"{level}.units")
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
        midpoints={lv: mids[lv] for lv in order if lv in mids},
    )
