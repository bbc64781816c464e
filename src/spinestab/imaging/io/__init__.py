"""Read images and masks into one :class:`Volume`, by format.

* :mod:`~spinestab.imaging.io.volume`: the :class:`Volume` and grid checks;
* :mod:`~spinestab.imaging.io.nifti`: NIfTI (nibabel);
* :mod:`~spinestab.imaging.io.dicom`: DICOM series folders (pydicom), and
  :mod:`~spinestab.imaging.io.dicom_multiframe` for enhanced multi-frame files;
* :mod:`~spinestab.imaging.io.dicom_seg`: DICOM-SEG masks;
* :mod:`~spinestab.imaging.io.tables`: slice tables (CSV/JSON) for the levels.

Geometry is kept as a 4x4 voxel-to-world affine in RAS+ millimetres (the NIfTI / nibabel
convention), whatever the orientation of the stored array. DICOM (LPS+) positions are
converted to RAS+ by flipping the sign of x and y. :func:`read_volume` picks the reader.
"""

from __future__ import annotations

from pathlib import Path

from spinestab.imaging.io.dicom import info_files_sorted, list_dicom_series, read_dicom_series
from spinestab.imaging.io.dicom_seg import SEG_SOP_CLASS, is_dicom_seg, read_dicom_seg
from spinestab.imaging.io.nifti import read_nifti
from spinestab.imaging.io.tables import read_slice_table
from spinestab.imaging.io.volume import (
    GRID_TOLERANCE_MM,
    Volume,
    _as_labels,
    as_label_volume,
    check_same_grid,
    conform_to,
    slice_axis,
)

__all__ = [
    "GRID_TOLERANCE_MM",
    "SEG_SOP_CLASS",
    "Volume",
    "as_label_volume",
    "check_same_grid",
    "conform_to",
    "info_files_sorted",
    "is_dicom_seg",
    "list_dicom_series",
    "read_dicom_seg",
    "read_dicom_series",
    "read_nifti",
    "read_slice_table",
    "read_volume",
    "slice_axis",
]


def read_volume(
    path: str | Path,
    *,
    series_uid: str | None = None,
    modality: str | None = None,
    as_labels: bool = False,
) -> Volume:
    """Read a NIfTI file or a DICOM series folder.

    Parameters
    ----------
    path : str or Path
        ``.nii``/``.nii.gz`` file or a folder of DICOM files.
    series_uid : str, optional
        Series to read from a folder with several.
    modality : str, optional
        Override the modality (NIfTI does not record it).
    as_labels : bool, optional
        Read as an integer label map.

    """
    path = Path(path)
    if path.is_dir():
        vol = read_dicom_series(path, series_uid=series_uid)
        if as_labels:
            vol = vol.with_data(_as_labels(vol.data, str(path)))
        if modality:
            vol = vol.with_data(vol.data, modality=modality)
        return vol
    return read_nifti(path, modality=modality or "unknown", as_labels=as_labels)
