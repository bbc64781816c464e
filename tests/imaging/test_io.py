from __future__ import annotations

import gzip
import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813

from spinestab.errors import InputError
from spinestab.imaging.io import (
    Volume,
    check_same_grid,
    list_dicom_series,
    read_dicom_series,
    read_nifti,
    read_volume,
    slice_axis,
)

from .conftest import MM_IMAGE, MM_MASK, SHARED, TP_CT, TS_DICOM_SUBSET


def test_musclemap_nifti_geometry_matches_manifest():
    img = read_nifti(MM_IMAGE)
    # MANIFEST: 256x208x20, 0.938x0.938x4.4 mm, LPS, uint16, range 0-1087
    assert img.shape == (256, 208, 20)
    assert img.axcodes == "LPS"
    assert img.data.dtype == np.uint16
    assert int(img.data.min()) == 0 and int(img.data.max()) == 1087
    np.testing.assert_allclose(img.spacing_mm, (0.9375, 0.9375, 4.4), atol=1e-3)
    assert slice_axis(img.affine) == 2


def test_pir_volume_has_its_slice_axis_found():
    ct = read_nifti(TP_CT)
    assert ct.axcodes == "PIR"
    assert slice_axis(ct.affine) == 1  # the I axis is stored second


def test_mask_pair_accepted_despite_tiny_origin_difference():
    img, mask = read_nifti(MM_IMAGE), read_nifti(MM_MASK, as_labels=True)
    diff = np.abs(img.affine - mask.affine).max()
    assert 0 < diff < 1e-4  # the real pair differs by ~3e-6 mm
    check_same_grid(img, mask)


def test_real_grid_mismatch_names_both_geometries():
    img = read_nifti(MM_IMAGE)
    shifted = Volume(img.data, img.affine + np.diag([0, 0, 0, 0]) + _shift(2.0), source="m.nii")
    with pytest.raises(InputError) as exc:
        check_same_grid(img, shifted)
    text = str(exc.value)
    assert "origin differs by 2 mm" in text
    assert text.count("shape (256, 208, 20)") == 2
    other_shape = Volume(img.data[:, :, :10], img.affine, source="short.nii")
    with pytest.raises(InputError, match="shape differs"):
        check_same_grid(img, other_shape)


def _shift(mm: float) -> np.ndarray:
    s = np.zeros((4, 4))
    s[0, 3] = mm
    return s


def test_truncated_nifti_is_a_clear_error(tmp_path):
    raw = gzip.decompress(MM_IMAGE.read_bytes())
    bad = tmp_path / "cut.nii.gz"
    bad.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(InputError, match="cannot read NIfTI"):
        read_nifti(bad)
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti at all")
    with pytest.raises(InputError, match="cannot read NIfTI"):
        read_nifti(junk)
    with pytest.raises(InputError, match="not found"):
        read_nifti(tmp_path / "missing.nii.gz")


def test_two_d_image_and_4d_series_are_refused(tmp_path):
    p2 = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8), np.float32), np.eye(4)), p2)
    with pytest.raises(InputError, match="not 3-D"):
        read_nifti(p2)
    p4 = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4)), p4)
    with pytest.raises(InputError, match="more than 3 dimensions"):
        read_nifti(p4)
    p41 = tmp_path / "four1.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4, 1), np.float32), np.eye(4)), p41)
    assert read_nifti(p41).shape == (4, 4, 4)


def test_probability_map_is_not_a_label_map(tmp_path):
    p = tmp_path / "prob.nii.gz"
    nib.save(nib.Nifti1Image(np.full((4, 4, 4), 0.5, np.float32), np.eye(4)), p)
    with pytest.raises(InputError, match="non-integer"):
        read_nifti(p, as_labels=True)


def _sitk_series(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def test_jpeg2000_dicom_subset_equals_simpleitk(tmp_path):
    vol = read_dicom_series(TS_DICOM_SUBSET)
    assert vol.meta["transfer_syntax"] == "1.2.840.10008.1.2.4.90"
    assert vol.modality == "CT"
    ref = _sitk_series(TS_DICOM_SUBSET)
    arr = sitk.GetArrayFromImage(ref).transpose(2, 1, 0)
    np.testing.assert_array_equal(vol.data, arr)
    # DICOM LPS origin -> RAS: x and y change sign
    np.testing.assert_allclose(vol.affine[:3, 3], np.array(ref.GetOrigin()) * [-1, -1, 1])
    np.testing.assert_allclose(vol.spacing_mm, ref.GetSpacing())
    assert vol.data.min() == -1024  # RescaleIntercept -1024 applied: air in HU


def test_dicom_slices_sorted_by_position_not_by_name(tmp_path):
    files = sorted(TS_DICOM_SUBSET.iterdir())
    for n, f in enumerate(reversed(files)):  # reversed names: z order opposite to name order
        shutil.copyfile(f, tmp_path / f"img{n:02d}.dcm")
    a = read_dicom_series(TS_DICOM_SUBSET)
    b = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_allclose(a.affine, b.affine)
    z = [float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]) for f in files]
    assert a.affine[2, 3] == pytest.approx(min(z))


def test_mixed_series_listed_and_selectable(tmp_path):
    for n, f in enumerate(sorted(TS_DICOM_SUBSET.iterdir())):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = "1.2.3.4" if n < 3 else "1.2.3.5"
        ds.save_as(tmp_path / f"x{n}.dcm")
    (tmp_path / "notes.txt").write_text("not dicom")
    series = list_dicom_series(tmp_path)
    assert [s.series_uid for s in series] == ["1.2.3.4", "1.2.3.5"]
    with pytest.raises(InputError) as exc:
        read_dicom_series(tmp_path)
    assert "1.2.3.4" in str(exc.value) and "1.2.3.5" in str(exc.value)
    vol = read_volume(tmp_path, series_uid="1.2.3.4")
    assert vol.shape == (512, 512, 3)
    with pytest.raises(InputError, match="series not found"):
        read_dicom_series(tmp_path, series_uid="9.9")


def test_missing_slice_and_empty_folder_fail(tmp_path):
    files = sorted(TS_DICOM_SUBSET.iterdir())
    for f in files[:2] + files[3:]:
        shutil.copyfile(f, tmp_path / f.name)
    with pytest.raises(InputError, match="not uniform"):
        read_dicom_series(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no DICOM"):
        read_dicom_series(empty)


def test_truncated_dicom_file_fails_clearly(tmp_path):
    files = sorted(TS_DICOM_SUBSET.iterdir())
    for f in files:
        shutil.copyfile(f, tmp_path / f.name)
    victim = tmp_path / files[2].name
    victim.write_bytes(victim.read_bytes()[:4000])
    with pytest.raises(InputError):
        read_dicom_series(tmp_path)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not present")
def test_full_jpeg2000_series_from_shared():
    folder = SHARED / "totalsegmentator_ct_abdomen" / "example_ct_dicom"
    vol = read_volume(folder)
    # MANIFEST: 512x512x20, HU -1024..1839, z -804.5..-766.5 step 2 mm
    assert vol.shape == (512, 512, 20)
    assert (int(vol.data.min()), int(vol.data.max())) == (-1024, 1839)
    assert vol.affine[2, 3] == pytest.approx(-804.5)
    assert vol.spacing_mm[2] == pytest.approx(2.0)
    np.testing.assert_array_equal(vol.data, sitk.GetArrayFromImage(_sitk_series(folder)).T)


def test_mask_stored_in_another_axis_order_is_conformed(phantom):
    from spinestab.imaging.io import conform_to
    from spinestab.imaging.phantom import reorient

    las = reorient(phantom.mask, "LAS")  # same voxels, y stored the other way round
    moved = conform_to(phantom.single, las)
    np.testing.assert_array_equal(moved.data, phantom.mask.data)
    np.testing.assert_allclose(moved.affine, phantom.mask.affine)
    other = Volume(las.data, las.affine + _shift(3.0), source="off.nii")
    with pytest.raises(InputError, match="origin differs"):
        conform_to(phantom.single, other)


def test_missing_jpeg2000_decoder_names_the_extra(monkeypatch):
    import spinestab.imaging.io._dicom_base as io_mod
    from spinestab.errors import MissingDependencyError

    def no_decoder(self):
        raise RuntimeError("Unable to decode the pixel data: no plugin available")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(no_decoder))
    monkeypatch.setattr(io_mod, "_decoder_available", lambda ts: False)
    with pytest.raises(MissingDependencyError, match=r"spinestab\[jpeg2000\]"):
        read_dicom_series(TS_DICOM_SUBSET)
    monkeypatch.setattr(io_mod, "_decoder_available", lambda ts: True)
    with pytest.raises(InputError, match="cannot decode pixel data"):
        read_dicom_series(TS_DICOM_SUBSET)


def test_decoder_for_jpeg2000_is_installed_here():
    from pydicom.uid import JPEG2000Lossless

    from spinestab.imaging.io._dicom_base import _decoder_available

    assert _decoder_available(JPEG2000Lossless)


def test_oblique_series_geometry_equals_simpleitk(tmp_path):
    """Rewrite the real series as an oblique, reversed-order acquisition; compare geometry."""
    th = np.deg2rad(20.0)
    row = np.array([np.cos(th), np.sin(th), 0.0])
    col = np.array([-np.sin(th) * np.cos(0.3), np.cos(th) * np.cos(0.3), np.sin(0.3)])
    normal = np.cross(row, col)
    origin = np.array([-100.0, 50.0, 20.0])
    for n, f in enumerate(sorted(TS_DICOM_SUBSET.iterdir())):
        ds = pydicom.dcmread(f)
        ds.ImageOrientationPatient = [float(x) for x in (*row, *col)]
        ds.ImagePositionPatient = [float(x) for x in origin + 3.5 * n * normal]
        ds.save_as(tmp_path / f"s{4 - n}.dcm")
    vol = read_dicom_series(tmp_path)
    ref = _sitk_series(tmp_path)
    direction = np.asarray(ref.GetDirection()).reshape(3, 3)
    lps = direction * np.asarray(ref.GetSpacing())[None, :]
    ras = np.diag([-1.0, -1.0, 1.0]) @ lps
    np.testing.assert_allclose(vol.affine[:3, :3], ras, atol=1e-6)
    np.testing.assert_allclose(vol.affine[:3, 3], np.array(ref.GetOrigin()) * [-1, -1, 1])
    np.testing.assert_array_equal(vol.data, sitk.GetArrayFromImage(ref).T)
    assert vol.spacing_mm[2] == pytest.approx(3.5)
