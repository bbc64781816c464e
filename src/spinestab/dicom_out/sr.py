"""Muscle measurements as a DICOM Structured Report, TID 1500 (Measurement Report).

One volumetric measurement group per muscle, side and level, referencing the muscle's
segment in the SEG: cross-sectional area (maximum and mean), lean cross-sectional area,
fat fraction with the fat method, and volume, in UCUM units. The level is a second finding
site (the vertebra, SNOMED CT); the whole analysed range is the level ``all``.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from spinestab import __version__
from spinestab.core.results import MUSCLE_QUALITY_COLUMNS, MuscleRow
from spinestab.dicom_out.codes import (
    LATERALITY,
    LOCAL_SCHEME,
    MEASUREMENTS,
    VERTEBRA_CODES,
    CodeSpec,
    fat_method_code,
    muscle_code,
)
from spinestab.dicom_out.seg import SegmentationResult
from spinestab.dicom_out.series import SourceSeries
from spinestab.errors import InputError, require

__all__ = [
    "ReportedGroup",
    "make_measurement_report",
    "read_measurement_report",
    "read_muscle_quality_csv",
]

logger = logging.getLogger(__name__)

_INT_COLUMNS = {"n_slices", "label_value"}
_TEXT_COLUMNS = {"muscle", "side", "level", "fat_method", "grade", "reference_note"}
_TEXT_COLUMNS |= {"grade_scheme", "flags"}


def read_muscle_quality_csv(
    path: str | Path, *, required: Sequence[str] = MUSCLE_QUALITY_COLUMNS
) -> list[MuscleRow]:
    """Read ``muscle_quality.csv`` (as ``spinestab mri`` writes it) into rows.

    Blank numbers become NaN; columns outside ``required`` may be absent (blank). A file
    without a required column is an error naming it.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    "muscle_quality.csv lacks columns",
                    source=str(path),
                    value=missing,
                    expected="the columns spinestab mri writes",
                )
            raw = list(reader)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", source=str(path)) from exc
    rows = []
    for n, row in enumerate(raw, start=2):
        values: dict[str, Any] = {}
        for f in fields(MuscleRow):
            cell = (row.get(f.name) or "").strip()
            if f.name in _TEXT_COLUMNS:
                values[f.name] = cell
                continue
            try:
                if f.name in _INT_COLUMNS:
                    values[f.name] = int(cell) if cell else 0
                else:
                    values[f.name] = float(cell) if cell else math.nan
            except ValueError:
                raise InputError(
                    "not a number", source=str(path), item=f"line {n}, {f.name}", value=cell
                ) from None
        rows.append(MuscleRow(**values))
    return rows


@dataclass(frozen=True)
class ReportedGroup:
    """One measurement group as read back from an SR."""

    tracking_id: str
    tracking_uid: str
    muscle_code: str
    laterality: str
    level: str
    segment_number: int
    values: dict[str, float]
    fat_method: str


def _concept(spec: CodeSpec) -> Any:
    from highdicom.sr.coding import CodedConcept

    return CodedConcept(spec.value, spec.scheme, spec.meaning)


def _level_concept(level: str) -> Any:
    spec = VERTEBRA_CODES.get(level) or CodeSpec(
        f"level:{level}"[:16], LOCAL_SCHEME, f"vertebral level {level}", "spinestab level [D]"
    )
    return _concept(spec)


def make_measurement_report(
    source: SourceSeries,
    segmentation: SegmentationResult,
    rows: Sequence[MuscleRow],
    *,
    observer_name: str | None = None,
    series_number: int = 902,
) -> Any:
    """Build a Comprehensive 3D SR (TID 1500) of the muscle rows, referencing the SEG.

    Parameters
    ----------
    source : SourceSeries
        The image series measured.
    segmentation : SegmentationResult
        The SEG of the masks the rows were measured on (from :func:`make_segmentation`).
    rows : sequence of MuscleRow
        ``muscle_quality.csv`` rows. Rows of derived muscles (``label_value`` -1, no segment
        of their own) are left out; blank values are left out of their group.
    observer_name : str, optional
        Person who checked the masks (DICOM PN); the device observer is spinestab.
    series_number : int
        SeriesNumber of the SR series.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR

    Raises
    ------
    InputError
        A row whose muscle and side have no segment in the SEG (rows from another mask).

    """
    hd = require("highdicom", extra="dicom", feature="DICOM SR export")
    from pydicom.sr.codedict import codes

    seg = segmentation.dataset
    groups = []
    skipped = 0
    for row in rows:
        if row.label_value < 0 or "derived" in row.flags.split(";"):
            skipped += 1
            continue
        try:
            segment = segmentation.segment_of(row.muscle, row.side)
        except KeyError:
            raise InputError(
                "measured muscle has no segment in the mask",
                item=f"{row.muscle} {row.side} {row.level}",
                expected="rows measured on this mask",
            ) from None
        muscle = muscle_code(row.muscle, row.reference_note if "iliopsoas" in row.flags else "")
        side = LATERALITY.get(row.side)
        sites = [
            hd.sr.FindingSite(
                anatomic_location=_concept(muscle),
                laterality=_concept(side) if side else None,
            ),
            hd.sr.FindingSite(anatomic_location=_level_concept(row.level)),
        ]
        measurements = []
        for name, (concept, unit, derivation) in MEASUREMENTS.items():
            value = float(getattr(row, name))
            if not math.isfinite(value):
                continue
            method = None
            if name in ("fat_fraction_pct", "lean_csa_mean_mm2") and row.fat_method:
                method = _concept(fat_method_code(row.fat_method))
            measurements.append(
                hd.sr.Measurement(
                    name=_concept(concept),
                    value=value,
                    unit=_concept(unit),
                    derivation=_concept(derivation) if derivation else None,
                    method=method,
                )
            )
        group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier=f"{row.muscle} {row.side} {row.level}"
            ),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID,
                sop_instance_uid=seg.SOPInstanceUID,
                segment_number=segment.number,
                source_series=hd.sr.SourceSeriesForSegmentation(source.series_uid),
            ),
            finding_type=_concept(muscle),
            finding_sites=sites,
            measurements=measurements,
        )
        groups.append(group)
    if not groups:
        raise InputError("no measured muscle rows to report", expected="muscle_quality rows")
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="spinestab", manufacturer_name="spinestab", model_name=__version__
        ),
    )
    person = None
    if observer_name:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=observer_name
            ),
        )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=person, observer_device_context=device
        ),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*source.datasets, seg],
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="spinestab",
        is_complete=True,
        series_description="Muscle measurements (spinestab)",
    )
    if skipped:
        logger.info("SR: %d derived rows left out (no segment of their own)", skipped)
    return sr


def read_measurement_report(dataset: Any) -> list[ReportedGroup]:
    """Read the measurement groups of an SR written by :func:`make_measurement_report`.

    Parameters
    ----------
    dataset : pydicom.Dataset or path-like
        The SR.

    Returns
    -------
    list of ReportedGroup
        ``values`` keyed by the ``muscle_quality.csv`` column names.

    """
    hd = require("highdicom", extra="dicom", feature="reading DICOM SR")
    pydicom = require("pydicom", extra="imaging", feature="reading DICOM SR")
    if not hasattr(dataset, "SOPClassUID"):
        dataset = pydicom.dcmread(str(dataset))
    sr = hd.sr.Comprehensive3DSR.from_dataset(dataset, copy=False)
    keys = {
        (c.value, c.scheme, d.value if d else None): name
        for name, (c, _u, d) in MEASUREMENTS.items()
    }
    out = []
    for group in sr.content.get_volumetric_roi_measurement_groups():
        sites = group.finding_sites
        muscle_site = sites[0]
        lat = muscle_site.laterality
        level_site = sites[1].value
        level = next(
            (k for k, v in VERTEBRA_CODES.items() if v.value == level_site.value),
            str(level_site.meaning).removeprefix("vertebral level "),
        )
        values: dict[str, float] = {}
        fat_method = ""
        for m in group.get_measurements():
            d = m.derivation
            key = keys[(m.name.value, m.name.scheme_designator, d.value if d else None)]
            values[key] = float(m.value)
            if m.method is not None:
                fat_method = str(m.method.meaning).removeprefix("spinestab fat method ")
        out.append(
            ReportedGroup(
                tracking_id=str(group.tracking_identifier),
                tracking_uid=str(group.tracking_uid),
                muscle_code=str(muscle_site.value.value),
                laterality=str(lat.meaning).lower() if lat is not None else "",
                level=level,
                segment_number=int(group.referenced_segment.referenced_segment_numbers[0]),
                values=values,
                fat_method=fat_method,
            )
        )
    return out
