"""The values a Bundle carries for the record's files: written on export, checked on import.

An instability study's measures and verdicts come from its ``instability.json``, a wearable
recording's days from its ``daily.csv``. :mod:`spinestab.fhir.record_export` writes these as
Observations; :mod:`spinestab.fhir.record_import` refuses a Bundle whose Observations are not
exactly those of the files it attaches (an edited value would otherwise be dropped silently,
since the record stores the files).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.fhir.model import DayMovement, LandmarkTrace, MaskTrace, SegmentMeasure

__all__ = [
    "RECEIVED_SERIES",
    "daily_movement",
    "finite",
    "instability_values",
    "landmark_traces",
    "mask_trace",
    "options_as_received",
    "options_as_sent",
]

#: options key of a received viewer analysis holding the sending record's image series id
RECEIVED_SERIES = "received_series"


def options_as_received(options: Mapping[str, Any], *, origin: str) -> dict[str, Any]:
    """Return a received imaging study's options without a live ``series`` id.

    A viewer analysis names its image series by the record's id (``series``); a Bundle
    carries no image series, so in the receiving record that id would name nothing, or
    another series of the patient (whose analyses the viewer lists by that id). The id is
    kept, with the reason, under :data:`RECEIVED_SERIES` (``series``, ``origin``, ``reason``);
    :func:`options_as_sent` gives the options back as they were sent.
    """
    out = dict(options)
    if "series" not in out:
        return out
    out[RECEIVED_SERIES] = {
        "series": out.pop("series"),
        "origin": origin,
        "reason": "the image series is in the record the Bundle came from (a FHIR Bundle "
        "carries no image series): its id names no series of this record",
    }
    return out


def options_as_sent(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return a study's options as its analysis made them (inverse of ``options_as_received``)."""
    out = dict(options)
    received = out.pop(RECEIVED_SERIES, None)
    if isinstance(received, Mapping) and "series" in received:
        out["series"] = received["series"]
    return out


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def mask_trace(options: Mapping[str, Any]) -> tuple[MaskTrace | None, str | None]:
    """Return the mask version an imaging study measured and who named its levels.

    Read from the study's options as the viewer's analysis job stores them (``series``,
    ``mask_version``, ``mask_method``, ``mask_author``; ``slice_levels_by`` or
    ``level_names.by``). A study made otherwise (``spinestab mri --patient``) names no mask
    version: ``(None, levels_by)``.
    """
    options = options_as_sent(options)
    names = options.get("level_names")
    levels_by = _text(options.get("slice_levels_by")) or (
        _text(names.get("by")) if isinstance(names, Mapping) else None
    )
    series, version = _number(options.get("series")), _number(options.get("mask_version"))
    method = _text(options.get("mask_method"))
    if series is None or version is None or method is None:
        return None, levels_by
    return MaskTrace(series, version, method, _text(options.get("mask_author"))), levels_by


def landmark_traces(options: Mapping[str, Any]) -> tuple[str | None, tuple[LandmarkTrace, ...]]:
    """Return the reader and the landmark versions (by view) an instability study used.

    Read from the options the landmark tool's analysis stores (``reader``,
    ``landmark_versions``: view -> radiograph, landmark version and its reader). A study
    made otherwise (``spinestab instability --patient``) names none: ``(None, ())``.
    """
    versions = options.get("landmark_versions")
    if not isinstance(versions, Mapping):
        return None, ()
    traces = []
    for view, used in sorted(versions.items()):
        if not isinstance(used, Mapping):
            continue
        film, number = _number(used.get("radiograph")), _number(used.get("landmark_version"))
        if film is None or number is None:
            continue
        traces.append(LandmarkTrace(str(view), film, number, _text(used.get("reader"))))
    return _text(options.get("reader")), tuple(traces)


def finite(value: object) -> float | None:
    """Return ``value`` as a finite float, else None."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def instability_values(
    path: str | Path,
) -> tuple[tuple[SegmentMeasure, ...], tuple[tuple[str, str], ...]]:
    """Return the measures and verdicts per segment a Bundle carries for ``instability.json``.

    Parameters
    ----------
    path : str or Path
        An ``instability.json`` as ``spinestab instability`` writes it.

    Returns
    -------
    measures, verdicts
        Every finite measure of every segment (lumbar and cervical) with the method
        (translation method and threshold set), and ``(segment, verdict)`` pairs.

    """
    from spinestab.care.io import read_instability
    from spinestab.fhir.build import SEGMENT_MEASURES

    findings = read_instability(Path(path))
    doc = json.loads(Path(path).read_bytes())
    method = "vertebral corner landmarks; " + "; ".join(
        [
            f"translation {doc.get('translation_method_id') or 'corner'}",
            f"thresholds {(doc.get('thresholds') or {}).get('name') or 'unknown'}",
        ]
    )
    measures, verdicts = [], []
    for f in findings.all_levels:
        for name in SEGMENT_MEASURES:
            v = finite(getattr(f, name, None))
            if v is not None:
                measures.append(SegmentMeasure(f.level, name, v, method))
        if f.verdict:
            verdicts.append((f.level, f.verdict))
    return tuple(measures), tuple(verdicts)


def daily_movement(path: str | Path, *, recording: str) -> tuple[DayMovement, ...]:
    """Return the days a Bundle carries for a wearable recording's ``daily.csv``.

    Parameters
    ----------
    path : str or Path
        A ``daily.csv`` as ``spinestab wearable`` writes it.
    recording : str
        The recording's name in the Bundle (``wearable recording N``).

    """
    from spinestab.care.io import read_daily
    from spinestab.fhir.build import DAY_MINUTES

    return tuple(
        DayMovement(
            dt.date.fromisoformat(row["date"]),
            finite(row.get("steps")),
            tuple((col, finite(row.get(col))) for col in DAY_MINUTES if col in row),
            recording=recording,
        )
        for row in read_daily(Path(path))
    )
