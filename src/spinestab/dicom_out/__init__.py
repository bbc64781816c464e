"""DICOM for PACS: muscle masks as DICOM SEG and measurements as DICOM SR (TID 1500).

Built with highdicom (extra ``dicom``). :func:`export_muscle_study` writes both for one
muscle analysis of a DICOM series, :func:`export_stored_study` for an imaging study stored
in the record; :func:`read_measurement_report` reads the SR back.
"""

from spinestab.dicom_out.export import DicomExport, export_muscle_study
from spinestab.dicom_out.seg import MuscleSegment, SegmentationResult, make_segmentation
from spinestab.dicom_out.series import SourceSeries, read_source_series
from spinestab.dicom_out.sr import (
    ReportedGroup,
    make_measurement_report,
    read_measurement_report,
    read_muscle_quality_csv,
)
from spinestab.dicom_out.stored import MaskOrigin, export_stored_study

__all__ = [
    "DicomExport",
    "MaskOrigin",
    "MuscleSegment",
    "ReportedGroup",
    "SegmentationResult",
    "SourceSeries",
    "export_muscle_study",
    "export_stored_study",
    "make_measurement_report",
    "make_segmentation",
    "read_measurement_report",
    "read_muscle_quality_csv",
    "read_source_series",
]
