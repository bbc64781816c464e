"""Library side of the browser viewer: NIfTI out of any volume, drawn masks checked and
compared, colours, level spans. Real data: the bundled MuscleMap pair and the TotalSegmentator
CT DICOM subset (converted and read back equal to SimpleITK's reading of the series)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, read_volume
from spinestab.imaging.labels import get_scheme
from spinestab.imaging.mask_edit import check_drawn_mask, edit_method, summarise_edit
from spinestab.imaging.viewer import (
    level_slices,
    muscle_palette,
    read_nifti_bytes,
    summary_levels,
    volume_to_nifti,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = DATA / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
CT_DICOM = DATA / "totalsegmentator" / "example_ct_dicom_subset"


@pytest.fixture(scope="module")
def musclemap():
    return read_volume(MM_IMAGE), read_volume(MM_MASK, as_labels=True)


def test_nifti_round_trip_keeps_values_and_grid(musclemap):
    image, mask = musclemap
    data = volume_to_nifti(image)
    assert data[:2] == b"\x1f\x8b"
    back = read_nifti_bytes(data, source="image")
    assert np.array_equal(back.data, image.data)
    assert np.allclose(back.affine, image.affine, atol=1e-4)
    labels = read_nifti_bytes(volume_to_nifti(mask, labels=True), source="m", as_labels=True)
    assert np.array_equal(labels.data, mask.data)
    header = gzip.decompress(volume_to_nifti(mask, labels=True))[:348]
    assert int(np.frombuffer(header[70:72], "<i2")[0]) == 2  # DT_UINT8: editable in the viewer


def test_dicom_series_converts_to_the_grid_it_is_measured_on():
    pytest.importorskip("pylibjpeg")
    series = read_volume(CT_DICOM)
    back = read_nifti_bytes(volume_to_nifti(series), source="ct")
    assert np.array_equal(back.data, series.data.astype(np.int16))
    assert np.allclose(back.affine, series.affine, atol=1e-4)
    sitk = pytest.importorskip("SimpleITK")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(CT_DICOM)))
    reference = sitk.GetArrayFromImage(reader.Execute())  # (k, j, i)
    assert np.array_equal(back.data, np.transpose(reference, (2, 1, 0)))


def test_labels_beyond_int16_are_refused(musclemap):
    _, mask = musclemap
    big = mask.with_data(mask.data.astype(np.int32) * 0 + 40000)
    with pytest.raises(InputError, match="label values out of range"):
        volume_to_nifti(big, labels=True)


def test_drawn_mask_must_fit_grid_and_scheme(musclemap):
    image, mask = musclemap
    scheme = get_scheme("musclemap")
    assert check_drawn_mask(mask, image, scheme) is not None
    shifted = Volume(mask.data, mask.affine + np.diag([0, 0, 0, 0]) + _shift(2.0))
    with pytest.raises(InputError, match="drawn mask is not on the image grid: origin differs"):
        check_drawn_mask(shifted, image, scheme)
    stray = mask.data.copy()
    stray[0, 0, 0] = 42
    with pytest.raises(InputError, match=r"labels not in the scheme musclemap \(got \[42\]\)"):
        check_drawn_mask(mask.with_data(stray), image, scheme)
    cropped = Volume(mask.data[:, :, :10], mask.affine)
    with pytest.raises(InputError, match="shape differs"):
        check_drawn_mask(cropped, image, scheme)


def _shift(mm: float) -> np.ndarray:
    out = np.zeros((4, 4))
    out[0, 3] = mm
    return out


def test_edit_summary_counts_what_was_drawn(musclemap):
    image, mask = musclemap
    scheme = get_scheme("musclemap")
    new = mask.data.copy()
    k = 7
    # erase the right multifidus on slice 7, paint 30 voxels of left psoas on slice 9
    erased = int(np.count_nonzero(new[:, :, k] == 1))
    new[:, :, k][new[:, :, k] == 1] = 0
    new[10:16, 10:15, 9] = 6
    edit = summarise_edit(mask.data, new, scheme=scheme, affine=image.affine)
    assert edit.slices == (7, 9)
    changes = {c.name: (c.added, c.removed) for c in edit.labels}
    assert changes["multifidus right"] == (0, erased)
    assert changes["psoas left"] == (30, 0)
    assert edit.changed_voxels == erased + 30
    assert edit_method("segmenter musclemap", edit) == "edited"
    assert edit_method(None, edit) == "manual"
    unchanged = summarise_edit(mask.data, mask.data, scheme=scheme, affine=image.affine)
    with pytest.raises(InputError, match="nothing changed"):
        edit_method("manual", unchanged)
    empty = summarise_edit(None, np.zeros_like(new), scheme=scheme, affine=image.affine)
    with pytest.raises(InputError, match="no muscle"):
        edit_method(None, empty)


def test_palette_one_colour_per_muscle_sides_apart():
    palette = muscle_palette(get_scheme("musclemap"))
    assert [p.value for p in palette] == list(range(1, 9))
    by = {(p.name, p.side): p.colour for p in palette}
    assert by[("multifidus", "right")] == "#e6194b"
    assert by[("multifidus", "left")] != by[("multifidus", "right")]
    assert len({by[(m, "right")] for m, _ in by}) == 4  # four muscles, four hues
    ts = muscle_palette(get_scheme("totalseg_total"))
    kinds = {p.kind for p in ts}
    assert "muscle" in kinds and "vertebra" in kinds
    assert all(p.editable == (p.kind == "muscle") for p in ts)
    assert "spleen" not in {p.name for p in ts}


def test_level_spans_from_the_per_slice_names():
    spans = {s.level: s for s in level_slices(["", "L1", "L1", "L2", "L2", "L2", "", "L3"])}
    assert (spans["all"].first, spans["all"].last) == (0, 7)
    assert (spans["L1"].first, spans["L1"].last, spans["L1"].middle) == (1, 2, 1)
    assert (spans["L2"].first, spans["L2"].last, spans["L2"].middle) == (3, 5, 4)
    assert summary_levels({"levels": {"per_slice": ["", "L5"]}, "n_slices": 2})[1] == {
        "level": "L5",
        "first": 1,
        "last": 1,
        "middle": 1,
    }
    assert summary_levels(None) == []


def test_examples_in_the_docstrings_run():
    import doctest

    from spinestab.imaging import mask_edit, viewer

    for module in (viewer, mask_edit):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0, module.__name__
