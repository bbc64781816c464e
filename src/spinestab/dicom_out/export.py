"""Export one muscle analysis for PACS: the mask as DICOM SEG and the measurements as SR."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab.core.outdir import make_out_dir
from spinestab.core.results import MuscleRow
from spinestab.dicom_out.seg import make_segmentation
from spinestab.dicom_out.series import read_source_series
from spinestab.dicom_out.sr import make_measurement_report, read_muscle_quality_csv
from spinestab.imaging.io import is_dicom_seg, read_dicom_seg, read_volume
from spinestab.imaging.labels import get_scheme

__all__ = ["DicomExport", "export_muscle_study"]

logger = logging.getLogger(__name__)

SEG_NAME = "muscle_seg.dcm"
SR_NAME = "muscle_sr.dcm"


@dataclass(frozen=True)
class DicomExport:
    """What :func:`export_muscle_study` wrote."""

    seg_path: Path
    sr_path: Path
    n_segments: int
    n_groups: int
    source_series_uid: str


def export_muscle_study(
    *,
    series: str | Path,
    mask: str | Path,
    labels: str,
    muscle_quality: str | Path | Sequence[MuscleRow] | Any,
    out_dir: str | Path,
    series_uid: str | None = None,
    algorithm_type: str = "AUTOMATIC",
    algorithm_name: str | None = None,
    algorithm_version: str | None = None,
    mask_author: str | None = None,
) -> DicomExport:
    """Write ``muscle_seg.dcm`` and ``muscle_sr.dcm`` for a muscle analysis of a DICOM series.

    Parameters
    ----------
    series : path-like
        Folder of the source DICOM series (the image the analysis ran on).
    mask : path-like
        The label map used (NIfTI or DICOM-SEG, on the series grid).
    labels : str
        Its label scheme (as ``spinestab mri --labels``).
    muscle_quality : path-like, sequence of MuscleRow, or MriResult
        The analysis: the ``muscle_quality.csv`` it wrote, its rows, or the
        :class:`~spinestab.imaging.result.MriResult` of
        :func:`~spinestab.imaging.pipeline.analyse_mri` (its ``rows``).
    out_dir : path-like
        Folder that receives both files (written together, or not at all).
    series_uid : str, optional
        SeriesInstanceUID, when the folder holds several series.
    algorithm_type, algorithm_name, algorithm_version : str
        How the mask was made (see :func:`~spinestab.dicom_out.seg.make_segmentation`).
    mask_author : str, optional
        Who drew or checked the mask; recorded in the SEG and as the SR's person observer.

    """
    out = Path(out_dir)
    if isinstance(muscle_quality, str | Path):
        rows = read_muscle_quality_csv(muscle_quality)
    else:
        rows = list(getattr(muscle_quality, "rows", muscle_quality))
    source = read_source_series(series, series_uid=series_uid)
    if is_dicom_seg(mask):
        mask_volume = read_dicom_seg(mask, source.volume)
    else:
        mask_volume = read_volume(mask, as_labels=True)
    scheme = get_scheme(labels)
    seg = make_segmentation(
        source,
        mask_volume,
        scheme,
        algorithm_type=algorithm_type,
        algorithm_name=algorithm_name,
        algorithm_version=algorithm_version,
        content_creator=mask_author,
    )
    sr = make_measurement_report(source, seg, rows, observer_name=mask_author)
    make_out_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=".dicom-", dir=out))
    try:
        seg.dataset.save_as(str(tmp / SEG_NAME), enforce_file_format=True)
        sr.save_as(str(tmp / SR_NAME), enforce_file_format=True)
        for name in (SEG_NAME, SR_NAME):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n_groups = _count_groups(sr)
    logger.info(
        "DICOM SEG (%d segments) and SR (%d groups) -> %s", len(seg.segments), n_groups, out
    )
    return DicomExport(
        out / SEG_NAME, out / SR_NAME, len(seg.segments), n_groups, source.series_uid
    )


def _count_groups(sr: Any) -> int:
    import highdicom as hd

    report = hd.sr.Comprehensive3DSR.from_dataset(sr, copy=False)
    # highdicom types a report's content as a ContentSequence; it is the MeasurementReport's
    return len(report.content.get_volumetric_roi_measurement_groups())  # type: ignore[attr-defined]
