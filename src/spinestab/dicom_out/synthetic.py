"""Write a volume as a single-frame DICOM series: a synthetic header around real pixels.

For tests and demos only: real images that exist as NIfTI (the MuscleMap lumbar MRI) get a
DICOM header made up here (UIDs generated, patient fields set to a pseudonym, no acquisition
parameters) so the DICOM export can be exercised on real pixel data. The geometry is the
volume's, so the series reads back onto the same grid.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io import Volume

__all__ = ["write_synthetic_series"]

_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_synthetic_series(
    volume: Volume,
    folder: str | Path,
    *,
    patient_id: str,
    modality: str = "MR",
    series_description: str = "synthetic header, real pixels",
    study_date: dt.date | None = None,
) -> list[Path]:
    """Write ``volume`` as one file per slice into ``folder`` (created; must be empty).

    Pixel values must be integers in 0..65535 (MR) or -32768..32767 (CT, stored with a
    rescale intercept of 0). Returns the files in slice order.
    """
    pydicom = require("pydicom", extra="imaging", feature="writing DICOM")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    data = np.asarray(volume.data)
    if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
        raise InputError("pixels must be whole numbers", source=volume.source)
    signed = modality == "CT"
    lo, hi = (-32768, 32767) if signed else (0, 65535)
    if data.min() < lo or data.max() > hi:
        raise InputError("pixel values out of range", source=volume.source, expected=f"{lo}..{hi}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise InputError("output folder is not empty", source=str(folder))
    affine = np.asarray(volume.affine, dtype=float)
    flip = np.array([-1.0, -1.0, 1.0])  # RAS -> LPS
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    row_dir = flip * affine[:3, 0] / spacing[0]  # along a row: increasing column index i
    col_dir = flip * affine[:3, 1] / spacing[1]  # down a column: increasing row index j
    date = (study_date or dt.date(2024, 1, 1)).strftime("%Y%m%d")
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    sop_class = _CT_STORAGE if signed else _MR_STORAGE
    paths = []
    for k in range(data.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(sop_class)
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = modality
        ds.PatientName, ds.PatientID = f"{patient_id}^", patient_id  # family name only
        ds.PatientBirthDate, ds.PatientSex = "", ""
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.SeriesDescription = series_description[:64]
        ds.Manufacturer = "spinestab synthetic header"
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.PositionReferenceIndicator = ""
        origin = affine @ np.array([0.0, 0.0, float(k), 1.0])
        ds.ImagePositionPatient = [f"{v:.6f}" for v in flip * origin[:3]]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [f"{spacing[1]:.8f}", f"{spacing[0]:.8f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1 if signed else 0
        if signed:
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
        plane = np.ascontiguousarray(data[:, :, k].T).astype(np.int16 if signed else np.uint16)
        ds.PixelData = plane.tobytes()
        path = folder / f"slice_{k + 1:04d}.dcm"
        ds.save_as(str(path), enforce_file_format=True)
        paths.append(path)
    return paths
