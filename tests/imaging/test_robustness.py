"""``spinestab mri`` on variants of the real MuscleMap pair: same numbers, or a clear error or
a flagged row (never a silent wrong number)."""

from __future__ import annotations

import csv
import math

import nibabel as nib
import numpy as np
import pytest
from nibabel import orientations as nio

from spinestab.errors import InputError
from spinestab.imaging.options import MriOptions
from spinestab.imaging.outputs import write_mri_outputs
from spinestab.imaging.pipeline import DixonPair, FatFractionMap, LevelInputs, analyse_mri

from .conftest import MM_IMAGE, MM_MASK

MEASURED = ("csa_max_mm2", "csa_mean_mm2", "volume_ml", "mean_intensity", "n_slices")


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def run_mri(*, out, image=None, water=None, fat=None, ff=None, mask, levels_table=None, **opts):
    """analyse_mri + write_mri_outputs, with the CLI's option names."""
    source = DixonPair(water, fat) if water is not None else FatFractionMap(ff) if ff else image
    levels = LevelInputs(levels_table=levels_table)
    result = analyse_mri(source, mask, options=MriOptions(**opts), levels=levels)
    write_mri_outputs(result, out)


def _run(tmp_path, name, **kw):
    out = tmp_path / name
    kw.setdefault("qa", False)
    run_mri(out=out, **kw)
    quality = {(r["muscle"], r["side"], r["level"]): r for r in _rows(out / "muscle_quality.csv")}
    return quality, _rows(out / "per_slice.csv")


@pytest.fixture(scope="module")
def pair():
    img, msk = nib.load(str(MM_IMAGE)), nib.load(str(MM_MASK))
    return np.asarray(img.dataobj), np.asarray(msk.dataobj), img.affine


@pytest.fixture(scope="module")
def base(pair, tmp_path_factory):
    """The unmodified pair, with and without N4."""
    tmp = tmp_path_factory.mktemp("base")
    return {
        "n4": _run(tmp, "n4", image=MM_IMAGE, mask=MM_MASK),
        "raw": _run(tmp, "raw", image=MM_IMAGE, mask=MM_MASK, bias_correction=False),
    }


def _save(tmp_path, name, data, affine):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def _reorient(data, affine, codes):
    t = nio.ornt_transform(nio.io_orientation(affine), nio.axcodes2ornt(codes))
    return nio.apply_orientation(data, t), affine @ nio.inv_ornt_aff(t, data.shape)


def _same(a, b, cols=MEASURED, *, fat_tol=1e-9):
    assert a.keys() == b.keys()
    for key in a:
        for col in cols:
            x, y = a[key][col], b[key][col]
            assert float(x) == pytest.approx(float(y), rel=1e-6), (key, col)  # float32 affine
        fx, fy = float(a[key]["fat_fraction_pct"]), float(b[key]["fat_fraction_pct"])
        assert fx == pytest.approx(fy, abs=fat_tol), key


@pytest.mark.parametrize(
    ("codes", "mask_too"),
    [(("R", "A", "S"), True), (("L", "P", "I"), True), (("P", "I", "R"), True), ("RAS", False)],
    ids=["RAS", "LPI-flipped-slices", "PIR", "mask-only-RAS"],
)
def test_reoriented_pair_gives_the_same_rows(pair, base, tmp_path, codes, mask_too):
    image, mask, affine = pair
    new_img, new_aff = _reorient(image, affine, tuple(codes))
    new_mask, _ = _reorient(mask, affine, tuple(codes))
    img_path = _save(tmp_path, "i.nii.gz", new_img, new_aff) if mask_too else MM_IMAGE
    m_path = _save(tmp_path, "m.nii.gz", new_mask.astype(np.int16), new_aff)
    rows, slices = _run(tmp_path, "o", image=img_path, mask=m_path, bias_correction=False)
    _same(base["raw"][0], rows)
    # per-slice: the slice index follows the stored slice axis (reversed for LPI)
    n = image.shape[2]
    flipped = "I" in codes if mask_too else False  # slice axis stored inferior-first
    ref = {(int(r["slice"]), r["muscle"], r["side"]): r for r in base["raw"][1]}
    assert len(slices) == len(ref)
    for r in slices:
        k = int(r["slice"])
        orig = ref[(n - 1 - k if flipped else k, r["muscle"], r["side"])]
        assert float(r["area_mm2"]) == pytest.approx(float(orig["area_mm2"]), rel=1e-6)
        assert float(r["mean_intensity"]) == pytest.approx(float(orig["mean_intensity"]))


def test_n4_result_does_not_depend_on_storage_order(pair, base, tmp_path):
    image, mask, affine = pair
    new_img, new_aff = _reorient(image, affine, ("R", "A", "S"))
    new_mask, _ = _reorient(mask, affine, ("R", "A", "S"))
    rows, _ = _run(
        tmp_path,
        "o",
        image=_save(tmp_path, "i.nii.gz", new_img, new_aff),
        mask=_save(tmp_path, "m.nii.gz", new_mask.astype(np.int16), new_aff),
    )
    # N4 fits its B-spline field on the stored grid: 0.16-0.28 pp apart in RAS, LPI, PIR
    _same(base["n4"][0], rows, fat_tol=0.5)


def test_cropped_to_fewer_slices_gives_the_same_slices(pair, base, tmp_path):
    image, mask, affine = pair
    lo, hi = 5, 15
    aff = affine.copy()
    aff[:3, 3] = (affine @ np.array([0, 0, lo, 1.0]))[:3]
    _, slices = _run(
        tmp_path,
        "o",
        image=_save(tmp_path, "i.nii.gz", image[:, :, lo:hi], aff),
        mask=_save(tmp_path, "m.nii.gz", mask[:, :, lo:hi].astype(np.int16), aff),
        bias_correction=False,
    )
    ref = {(int(r["slice"]), r["muscle"], r["side"]): r for r in base["raw"][1]}
    expect = [k for k in ref if lo <= k[0] < hi]
    assert len(slices) == len(expect)
    for r in slices:
        orig = ref[(int(r["slice"]) + lo, r["muscle"], r["side"])]
        assert float(r["area_mm2"]) == pytest.approx(float(orig["area_mm2"]), rel=1e-6)
        assert float(r["mean_intensity"]) == pytest.approx(float(orig["mean_intensity"]))
    rows = _rows(tmp_path / "o" / "muscle_quality.csv")
    mf = next(r for r in rows if (r["muscle"], r["side"]) == ("multifidus", "right"))
    by_hand = sum(float(ref[k]["area_mm2"]) for k in expect if k[1:] == ("multifidus", "right"))
    assert float(mf["volume_ml"]) == pytest.approx(by_hand * 4.4 / 1000, rel=1e-4)


def test_one_muscle_missing_on_one_side_at_one_level_is_a_flagged_row(pair, tmp_path):
    _image, mask, affine = pair
    table = tmp_path / "levels.csv"
    table.write_text("level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n")
    cut = mask.copy()
    band = cut[:, :, 7:14]
    band[band == 1] = 0  # right multifidus gone at "L4"
    rows, _ = _run(
        tmp_path,
        "o",
        image=MM_IMAGE,
        mask=_save(tmp_path, "m.nii.gz", cut.astype(np.int16), affine),
        levels_table=table,
        bias_correction=False,
        sex="female",
    )
    row = rows[("multifidus", "right", "L4")]
    assert "empty_at_level" in row["flags"].split(";")
    for col in ("csa_max_mm2", "csa_mean_mm2", "fat_fraction_pct", "grade", "asymmetry_pct"):
        assert row[col] == "", col  # blank, not 0 and not "nan"
    assert row["volume_ml"] == "0" and row["n_slices"] == "0"
    assert "not compared" in row["reference_note"]
    assert rows[("multifidus", "left", "L4")]["asymmetry_pct"] == ""
    full = rows[("multifidus", "right", "all")]
    assert full["n_slices"] == str(int(np.count_nonzero((cut == 1).any(axis=(0, 1)))))
    assert float(full["csa_mean_mm2"]) > 0 and "empty_at_level" not in full["flags"]


def test_nan_voxels_in_the_real_image_are_counted_and_left_out(pair, tmp_path):
    image, mask, affine = pair
    img = image.astype(np.float32)
    rng = np.random.default_rng(0)
    hit = (mask == 1) & (rng.random(mask.shape) < 0.01)
    img[hit] = np.nan
    rows, _ = _run(tmp_path, "o", image=_save(tmp_path, "i.nii.gz", img, affine), mask=MM_MASK)
    row = rows[("multifidus", "right", "all")]
    assert f"nan_voxels:{int(hit.sum())}" in row["flags"]
    assert float(row["mean_intensity"]) == pytest.approx(float(np.nanmean(img[mask == 1])))
    assert 0.0 < float(row["fat_fraction_pct"]) < 100.0
    assert "nan_voxels" not in rows[("multifidus", "left", "all")]["flags"]


def test_single_slice_volume_runs_with_bias_correction(pair, base, tmp_path):
    image, mask, affine = pair
    k = 10
    aff = affine.copy()
    aff[:3, 3] = (affine @ np.array([0, 0, k, 1.0]))[:3]
    rows, slices = _run(
        tmp_path,
        "o",
        image=_save(tmp_path, "i.nii.gz", image[:, :, k : k + 1], aff),
        mask=_save(tmp_path, "m.nii.gz", mask[:, :, k : k + 1].astype(np.int16), aff),
    )
    ref = {(r["muscle"], r["side"]): r for r in base["raw"][1] if int(r["slice"]) == k}
    assert {(r["muscle"], r["side"]) for r in slices} == set(ref)
    for r in slices:
        assert float(r["area_mm2"]) == pytest.approx(
            float(ref[(r["muscle"], r["side"])]["area_mm2"])
        )
    assert all(math.isfinite(float(r["fat_fraction_pct"])) for r in rows.values())


def test_constant_image_gives_no_fat_number(pair, tmp_path):
    image, _mask, affine = pair
    flat = _save(tmp_path, "i.nii.gz", np.full(image.shape, 100, np.uint16), affine)
    rows, _ = _run(tmp_path, "o", image=flat, mask=MM_MASK)
    for row in rows.values():
        assert row["fat_fraction_pct"] == "" and row["grade"] == ""
        assert "fat_undefined_voxels" in row["flags"]
    with pytest.raises(InputError, match="no intensity contrast"):
        run_mri(
            out=tmp_path / "p",
            image=flat,
            mask=MM_MASK,
            pool="all",
            bias_correction=False,
            qa=False,
        )


def test_weakly_separated_fat_classes_are_flagged(base):
    """The real psoas (dark under coil shading) splits like one Gaussian: flagged."""
    rows = base["n4"][0]
    flagged = {k[:2] for k, r in rows.items() if "fat_classes_weakly_separated" in r["flags"]}
    assert flagged == {("psoas", "left"), ("psoas", "right")}


def test_class_separation_by_hand():
    from spinestab.imaging.fat import class_separation, multi_otsu_thresholds

    x = np.random.default_rng(1).normal(100.0, 10.0, 50_000)
    cls = (x > multi_otsu_thresholds(x)[0]).astype(int)
    assert class_separation(x, cls) == pytest.approx(2 / math.pi, abs=0.01)  # half-normal means
    two = np.r_[np.zeros(90), np.full(10, 5.0)]
    assert class_separation(two, (two > 1).astype(int)) == pytest.approx(1.0)


@pytest.mark.parametrize("what", ["water_nan", "ff_nan"])
def test_unreadable_fat_in_one_muscle_is_blank_and_flagged(pair, tmp_path, what):
    image, mask, affine = pair
    water = image.astype(float)
    fat = 0.25 * water
    if what == "water_nan":
        water[mask == 3] = np.nan
        kw = {
            "water": _save(tmp_path, "w.nii.gz", water, affine),
            "fat": _save(tmp_path, "f.nii.gz", fat, affine),
        }
    else:
        ff = np.full(image.shape, 20.0)
        ff[mask == 3] = np.nan
        kw = {"ff": _save(tmp_path, "p.nii.gz", ff, affine)}
    rows, _ = _run(tmp_path, "o", mask=MM_MASK, **kw)
    bad = rows[("erector_spinae", "right", "all")]
    assert bad["fat_fraction_pct"] == "" and bad["grade"] == ""
    assert f"fat_undefined_voxels:{int((mask == 3).sum())}" in bad["flags"]
    good = rows[("erector_spinae", "left", "all")]
    assert float(good["fat_fraction_pct"]) == pytest.approx(20.0)  # 0.25 W / 1.25 W; or 20 %
