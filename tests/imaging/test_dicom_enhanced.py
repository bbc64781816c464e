"""Multi-frame (enhanced) DICOM, and ``--segment`` on a DICOM series."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.imaging.io import read_volume

from .conftest import MM_IMAGE, MM_MASK

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image Storage


def _enhanced_from_nifti(path, folder, *, order=None, slope=None, intercept=None):
    """Write a NIfTI volume as one enhanced MR DICOM file (functional groups, PS3.3 C.7.6.16)."""
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    aff = img.affine
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff
    col_sp, row_sp = np.linalg.norm(aff[:3, 0]), np.linalg.norm(aff[:3, 1])
    row_dir, col_dir = lps[:3, 0] / col_sp, lps[:3, 1] / row_sp
    n_i, n_j, n_k = data.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENHANCED_MR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = ENHANCED_MR, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "MR"
    ds.Rows, ds.Columns, ds.NumberOfFrames = n_j, n_i, n_k
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [f"{row_sp:.10g}", f"{col_sp:.10g}"]
    measures.SliceThickness = f"{np.linalg.norm(aff[:3, 2]):.10g}"
    orient = Dataset()
    orient.ImageOrientationPatient = [f"{v:.10g}" for v in (*row_dir, *col_dir)]
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = [measures], [orient]
    if slope is not None:
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, intercept
        transform.RescaleType = "US"
        shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    order = list(range(n_k)) if order is None else list(order)
    frames = []
    for k in order:
        frame = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [f"{v:.10g}" for v in (lps @ np.array([0, 0, k, 1.0]))[:3]]
        frame.PlanePositionSequence = [pos]
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = frames
    stack = np.stack([data[:, :, k].T for k in order]).astype(np.uint16)
    ds.PixelData = stack.tobytes()
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "enhanced.dcm", enforce_file_format=True)
    return folder


@pytest.fixture(scope="module")
def enhanced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enh") / "series"
    order = np.random.default_rng(0).permutation(20)  # frames stored out of order
    return _enhanced_from_nifti(MM_IMAGE, folder, order=order)


def test_enhanced_multiframe_dicom_equals_the_nifti(enhanced):
    ref = nib.load(str(MM_IMAGE))
    vol = read_volume(enhanced)
    assert vol.meta["n_frames"] == 20 and vol.modality == "MR"
    np.testing.assert_array_equal(vol.data, np.asarray(ref.dataobj))
    np.testing.assert_allclose(vol.affine, ref.affine, atol=1e-5)
    assert pydicom.dcmread(enhanced / "enhanced.dcm").NumberOfFrames == 20


def test_enhanced_rescale_and_missing_geometry(tmp_path):
    folder = _enhanced_from_nifti(MM_IMAGE, tmp_path / "s", slope=2.0, intercept=-10.0)
    vol = read_volume(folder)
    np.testing.assert_allclose(vol.data, 2.0 * np.asarray(nib.load(str(MM_IMAGE)).dataobj) - 10)
    ds = pydicom.dcmread(folder / "enhanced.dcm")
    del ds.PerFrameFunctionalGroupsSequence[3].PlanePositionSequence
    ds.save_as(folder / "enhanced.dcm")
    with pytest.raises(InputError, match="frame 4"):
        read_volume(folder)


def test_cli_on_enhanced_dicom_reproduces_the_manifest_csa(enhanced, tmp_path):
    out = tmp_path / "out"
    args = ["mri", "--image", str(enhanced), "--mask", str(MM_MASK), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--no-qa", "--no-bias-correction"])
    assert res.exit_code == 0, res.output
    with (out / "muscle_quality.csv").open(newline="") as fh:
        rows = {(r["muscle"], r["side"]): r for r in csv.DictReader(fh)}
    # MANIFEST: max CSA multifidus R 13.58 cm^2, erector spinae L 21.09 cm^2
    assert float(rows[("multifidus", "right")]["csa_max_mm2"]) / 100 == pytest.approx(
        13.58, abs=5e-3
    )
    assert float(rows[("erector_spinae", "left")]["csa_max_mm2"]) / 100 == pytest.approx(
        21.09, abs=5e-3
    )


def test_cli_segment_on_a_dicom_series(enhanced, tmp_path, monkeypatch):
    """The segmenter gets the DICOM series as NIfTI on the same grid; its mask is used."""
    import spinestab.imaging.segment.tools as tools

    seen = {}

    def stand_in(args, *, env, cwd=None):
        given = Path(args[args.index("-i") + 1])
        seen["input"] = nib.load(str(given))
        seen["data"] = np.asarray(seen["input"].dataobj)
        out_dir = Path(args[args.index("-o") + 1])
        stem = given.name[: -len(".nii.gz")]
        shutil.copyfile(MM_MASK, out_dir / f"{stem}_dseg.nii.gz")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(tools, "subprocess_runner", stand_in)
    monkeypatch.setattr(tools.shutil, "which", lambda name: f"/opt/bin/{name}")
    weights = tmp_path / "w" / "abdomen"
    weights.mkdir(parents=True)
    (weights / "model.pth").write_bytes(b"x")
    out = tmp_path / "out"
    args = ["mri", "--image", str(enhanced), "--segment", "musclemap"]
    args += ["--weights", str(tmp_path / "w"), "--out", str(out), "--no-qa", "--no-bias-correction"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ref = nib.load(str(MM_IMAGE))
    np.testing.assert_array_equal(seen["data"], np.asarray(ref.dataobj))  # voxels as read
    np.testing.assert_allclose(seen["input"].affine, ref.affine, atol=1e-5)
    kept = sorted(p.name for p in (out / "segmentation").iterdir())
    assert kept == ["series.nii.gz", "series_dseg.nii.gz"]
    summary = json.loads((out / "summary.json").read_text())
    assert "from the DICOM series" in summary["inputs"]["segmenter_input"]
    with (out / "per_slice.csv").open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 142  # the MuscleMap pair's label-slices


SEG_SOP = "1.2.840.10008.5.1.4.1.1.66.4"


def _seg_from_nifti(mask_path, folder, *, overlap=False, shift_mm=0.0):
    """Write a label map as a BINARY DICOM-SEG: one frame per segment and slice it is in."""
    from pydicom.pixels import pack_bits

    img = nib.load(str(mask_path))
    data = np.asarray(img.dataobj)
    aff = img.affine
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff
    col_sp, row_sp = np.linalg.norm(aff[:3, 0]), np.linalg.norm(aff[:3, 1])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SEG_SOP
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SEG_SOP, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.Modality = generate_uid(), "SEG"
    ds.SegmentationType = "BINARY"
    ds.Rows, ds.Columns = data.shape[1], data.shape[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    segments = []
    for value in range(1, 9):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel = value, f"label {value}"
        segments.append(item)
    ds.SegmentSequence = segments
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [f"{row_sp:.10g}", f"{col_sp:.10g}"]
    orient = Dataset()
    orient.ImageOrientationPatient = [
        f"{v:.10g}" for v in (*(lps[:3, 0] / col_sp), *(lps[:3, 1] / row_sp))
    ]
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = [measures], [orient]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames, planes = [], []
    for value in range(1, 9):
        for k in range(data.shape[2]):
            plane = data[:, :, k] == value
            if overlap and value == 2:
                plane = plane | (data[:, :, k] == 1)
            if not plane.any():
                continue
            frame = Dataset()
            seg = Dataset()
            seg.ReferencedSegmentNumber = value
            pos = Dataset()
            corner = (lps @ np.array([0, 0, k, 1.0]))[:3] + np.array([shift_mm, 0.0, 0.0])
            pos.ImagePositionPatient = [f"{v:.10g}" for v in corner]
            frame.SegmentIdentificationSequence, frame.PlanePositionSequence = [seg], [pos]
            frames.append(frame)
            planes.append(plane.T)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.NumberOfFrames = len(frames)
    ds.PixelData = pack_bits(np.stack(planes).astype(np.uint8))
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "seg.dcm", enforce_file_format=True)
    return folder


def test_dicom_seg_mask_equals_the_label_map(tmp_path):
    from spinestab.imaging.io import read_dicom_seg

    folder = _seg_from_nifti(MM_MASK, tmp_path / "seg")
    image = read_volume(MM_IMAGE)
    labels = read_dicom_seg(folder, image)
    np.testing.assert_array_equal(labels.data, np.asarray(nib.load(str(MM_MASK)).dataobj))
    assert labels.meta["segments"][3] == "label 3"
    out = tmp_path / "out"
    args = ["mri", "--image", str(MM_IMAGE), "--mask", str(folder), "--labels", "musclemap"]
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--no-qa", "--no-bias-correction"])
    assert res.exit_code == 0, res.output
    with (out / "muscle_quality.csv").open(newline="") as fh:
        rows = {(r["muscle"], r["side"]): r for r in csv.DictReader(fh)}
    assert float(rows[("multifidus", "right")]["volume_ml"]) == pytest.approx(84.5, abs=0.05)
    with pytest.raises(InputError, match="overlap"):
        read_dicom_seg(_seg_from_nifti(MM_MASK, tmp_path / "ov", overlap=True), image)
    with pytest.raises(InputError, match="does not lie on the image grid"):
        read_dicom_seg(_seg_from_nifti(MM_MASK, tmp_path / "sh", shift_mm=0.4), image)
