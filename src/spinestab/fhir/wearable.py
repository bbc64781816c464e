"""Wearables in the FHIR Bundle: a Device per sensor and each day's covered span.

CLINICAL_LOGIC.md §6.1 maps wearables to "``Device`` (+ ``DeviceMetric``), ``Observation``
with ``device`` and ``effectivePeriod``". Each sensor of a recording (trunk, thigh) is a
``Device`` made from the recording's ``wearable_summary.json``: its type (a body-worn
accelerometer, local code: §6.2 lists no device code), the manufacturer and model where the
reader's device string names them, the sampling rate as a property, and an identifier
``RECORDING/SENSOR``. It is pseudonymous and holds no health data (no patient link, no file
name, no serial number: the record keeps none). The day Observations reference the trunk
sensor's Device (``Observation.device`` is 0..1; the thigh sensor, where worn, is a second
Device of the same recording).

A day's ``effectivePeriod`` is the part of that local day the recording covers: the first
and last second of ``per_second.parquet`` in the day (local time = device time + the
summary's ``utc_offset_h``), written with that offset. A recording received in a Bundle has no
``per_second.parquet``; its spans come with it (the importer keeps them in the recording's
options, :data:`SPANS_OPTION`). Where neither is known (a ``daily.csv`` alone) the period is
the whole date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.fhir import codes as c
from spinestab.fhir.model import DayMovement, WearableSensor

__all__ = [
    "SENSOR_SYSTEM",
    "SPANS_OPTION",
    "day_spans",
    "device_resource",
    "recording_days",
    "sensors_from_summary",
    "sensors_of_device",
    "spans_of_options",
    "summary_of",
    "with_spans",
]

log = logging.getLogger(__name__)

#: identifier system of a wearable sensor (``wearable recording N/trunk``)
SENSOR_SYSTEM = "urn:spinestab:wearable-sensor"
#: key of a received recording's options holding its days' spans ({date: [start, end]})
SPANS_OPTION = "fhir_day_spans"
#: the sampling-rate property of a sensor Device (local code)
_RATE = ("sampling-rate", "Sampling rate")
#: device strings of spinestab's readers -> (manufacturer, model or None). Sources: the file
#: formats the readers decode (spinestab.wearable.io): Axivity's CWA format (AX3/AX6),
#: Activinsights' GENEActiv .bin ("Device Type GENEActiv"), ActiGraph's GT3X info.txt
#: ("Device Type") and ActiLife's CSV export (model not in the file).
_MAKERS = {
    "AX3": ("Axivity", "AX3"),
    "AX6": ("Axivity", "AX6"),
    "GENEActiv": ("Activinsights", "GENEActiv"),
    "ActiLife CSV": ("ActiGraph", None),
}


def sensors_from_summary(summary: Mapping[str, Any], *, recording: str) -> list[WearableSensor]:
    """Return the sensors a ``wearable_summary.json`` names (trunk, then thigh).

    Parameters
    ----------
    summary : mapping
        ``wearable_summary.json`` of ``spinestab wearable``.
    recording : str
        The recording's name in the Bundle (``wearable recording N``).

    """
    out = []
    for sensor in ("trunk", "thigh"):
        info = summary.get(sensor)
        if not isinstance(info, Mapping) or not info.get("device"):
            continue
        device = str(info["device"])
        maker, model = _MAKERS.get(device, (None, None))
        if device.startswith("ActiGraph "):
            maker, model = "ActiGraph", device.removeprefix("ActiGraph ").strip() or None
        rate = info.get("fs_hz")
        out.append(
            WearableSensor(
                recording=recording,
                sensor=sensor,
                device=device,
                manufacturer=maker,
                model=model,
                fs_hz=float(rate) if isinstance(rate, int | float) else None,
            )
        )
    return out


def device_resource(sensor: WearableSensor) -> dict[str, Any]:
    """Return the ``Device`` of one sensor (no resourceType/id: the builder adds them)."""
    name = (
        {"name": sensor.model, "type": "model-name"}
        if sensor.model
        else {"name": sensor.device, "type": "other"}
    )
    out: dict[str, Any] = {
        "identifier": [
            {"system": SENSOR_SYSTEM, "value": f"{sensor.recording}/{sensor.sensor}"},
        ],
        "status": "active",
        "deviceName": [name],
        "type": c.concept(
            c.LOCAL,
            "wearable-accelerometer",
            "Body-worn accelerometer",
            text=f"body-worn accelerometer ({sensor.sensor})",
        ),
    }
    if sensor.manufacturer:
        out["manufacturer"] = sensor.manufacturer
    if sensor.model:
        out["modelNumber"] = sensor.model
    if sensor.fs_hz is not None:
        out["property"] = [
            {
                "type": c.local(*_RATE),
                "valueQuantity": [
                    {"value": sensor.fs_hz, "unit": "Hz", "system": c.UCUM, "code": "Hz"}
                ],
            }
        ]
    return out


def sensors_of_device(devices: list[dict[str, Any]]) -> tuple[WearableSensor, ...]:
    """Read the wearable sensors back from a Bundle's ``Device`` resources."""
    out = []
    for d in devices:
        ids = [i["value"] for i in d.get("identifier", []) if i.get("system") == SENSOR_SYSTEM]
        if not ids:
            continue
        recording, _, sensor = ids[0].rpartition("/")
        name = (d.get("deviceName") or [{}])[0]
        rate = [
            q["value"]
            for p in d.get("property", [])
            if any(x.get("code") == _RATE[0] for x in p["type"].get("coding", []))
            for q in p.get("valueQuantity", [])
        ]
        model = d.get("modelNumber")
        maker = d.get("manufacturer")
        device = name.get("name", "")
        if model:  # the reader's string again: "ActiGraph MODEL" for ActiGraph's GT3X
            device = f"ActiGraph {model}" if maker == "ActiGraph" else model
        elif maker == "ActiGraph":
            device = "ActiLife CSV"
        out.append(
            WearableSensor(
                recording=recording,
                sensor=sensor,
                device=device,
                manufacturer=maker,
                model=model,
                fs_hz=float(rate[0]) if rate else None,
            )
        )
    return tuple(out)


def day_spans(per_second: Path, *, utc_offset_h: float) -> dict[str, tuple[str, str]]:
    """Return each local day's covered span from ``per_second.parquet``.

    Parameters
    ----------
    per_second : Path
        ``per_second.parquet`` of ``spinestab wearable`` (its ``time`` column: device time).
    utc_offset_h : float
        The local clock offset the days were cut with (``wearable_summary.json``).

    Returns
    -------
    dict
        ISO date -> (first second, last second + 1 s), ISO dateTimes with the offset.

    """
    pq = require("pyarrow.parquet", extra="wearable", feature="reading per_second.parquet")
    try:
        column = pq.read_table(per_second, columns=["time"]).column("time")
    except Exception as err:  # pyarrow raises its own kinds for a damaged file
        raise InputError(
            f"per_second.parquet cannot be read ({err})", source=per_second.name
        ) from err
    t = column.cast("int64").to_numpy()
    unit = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[column.type.unit]
    offset_s = round(utc_offset_h * 3600)
    local = t // unit + offset_s
    if local.size == 0:
        return {}
    day = local // 86_400
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    ends = np.r_[starts[1:], local.size] - 1
    tz = dt.timezone(dt.timedelta(seconds=offset_s))
    spans = {}
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):  # one per day, not per sample
        first = dt.datetime.fromtimestamp(int(local[a]) - offset_s, tz)
        last = dt.datetime.fromtimestamp(int(local[b]) + 1 - offset_s, tz)
        spans[first.date().isoformat()] = (first.isoformat(), last.isoformat())
    return spans


def spans_of_options(options: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Return the spans a received recording keeps in its options (else none)."""
    kept = options.get(SPANS_OPTION)
    if not isinstance(kept, Mapping):
        return {}
    return {str(k): (str(v[0]), str(v[1])) for k, v in kept.items()}


def with_spans(
    days: tuple[DayMovement, ...], spans: Mapping[str, tuple[str, str]]
) -> tuple[DayMovement, ...]:
    """Return the days with their covered spans where known."""
    from dataclasses import replace

    return tuple(replace(d, period=spans.get(d.date.isoformat())) for d in days)


def summary_of(path: Path) -> dict[str, Any]:
    """Read a stored ``wearable_summary.json`` (empty where it is not an object)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else {}


def recording_days(
    files: Any, recording: Any, key: str
) -> tuple[tuple[DayMovement, ...], list[WearableSensor]]:
    """Return a stored recording's days (with their covered spans) and its sensors.

    Parameters
    ----------
    files : ArtifactStore
        The record's file store (``uow.files()``).
    recording : WearableOut
        The stored recording (its files and options).
    key : str
        The recording's name in the Bundle (``wearable recording N``).

    """
    from spinestab.fhir.carried import daily_movement

    def one(role: str) -> Any:
        return next((f for f in recording.files if f.role == role), None)

    summary: dict[str, Any] = {}
    if (doc := one("summary")) is not None:
        with files.local_path(doc.sha256) as path:
            summary = summary_of(path)
    spans = spans_of_options(recording.options)
    parquet = [f for f in recording.files if f.name == "per_second.parquet"]
    if parquet and not spans:
        offset = float(summary.get("utc_offset_h") or 0.0)
        with files.local_path(parquet[-1].sha256) as path:
            spans = day_spans(path, utc_offset_h=offset)
    with files.local_path(one("table").sha256) as path:
        days = with_spans(daily_movement(path, recording=key), spans)
    return days, sensors_from_summary(summary, recording=key)
