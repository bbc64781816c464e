"""Black-box checks on inputs built here, independently of ``spinestab.imaging.phantom``.

Ellipses of known area on an oblique, anisotropic grid, Dixon images with known voxel fat,
a vertebra mask on another grid; plus regressions for inputs that once gave a silently
wrong or partial result (custom-scheme typos, impossible ages, corrupt DICOM files).
"""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.imaging.io import read_dicom_series
from spinestab.imaging.labels import load_custom_scheme

# label -> muscle, side, centre (x, y) mm in RAS (+x = patient right), semi-axes (a, b) mm
ELLIPSES = {
    1: ("multifidus", "right", 12.0, -40.0, 8.0, 9.0),
    2: ("multifidus", "left", -12.0, -40.0, 8.0, 9.0),
    3: ("erector_spinae", "right", 45.0, -35.0, 14.0, 11.0),
    4: ("erector_spinae", "left", -45.0, -35.0, 14.0, 11.0),
    5: ("psoas", "right", 35.0, 20.0, 13.0, 10.0),
    6: ("psoas", "left", -35.0, 20.0, 13.0, 10.0),
}
FAT = {1: 0.13, 2: 0.16, 3: 0.19, 4: 0.22, 5: 0.80, 6: 0.05}  # psoas right fat-dominant
LEVELS = ("S1", "L5", "L4", "L3")  # caudal to cranial, 4 slices each
TPTBOX = {"L3": 22, "L4": 23, "L5": 24, "S1": 26}
SHAPE = (132, 100, 16)
SPACING = (1.1, 1.3, 4.5)


def _oblique_affine(theta_deg: float = 25.0, tilt_deg: float = 8.0) -> np.ndarray:
    t, p = np.deg2rad(theta_deg), np.deg2rad(tilt_deg)
    rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    a = np.eye(4)
    a[:3, :3] = rx @ rz @ np.diag(SPACING)
    a[:3, 3] = -a[:3, :3] @ ((np.array(SHAPE) - 1) / 2)  # centre of the volume at 0
    return a


def _write_case(tmp_path):
    """Write water, fat, mask, vertebrae (other grid) and a JSON scheme; return the truth."""
    aff = _oblique_affine()
    # in-plane coordinates of every voxel centre in the slice frame (mm)
    i, j = np.meshgrid(np.arange(SHAPE[0]), np.arange(SHAPE[1]), indexing="ij")
    ij = np.stack([i, j, np.zeros_like(i)], -1).astype(float)
    centre = (np.array(SHAPE) - 1) / 2
    u = (ij[..., 0] - centre[0]) * SPACING[0]
    v = (ij[..., 1] - centre[1]) * SPACING[1]
    mask = np.zeros(SHAPE, np.uint8)
    vert = np.zeros(SHAPE, np.uint8)
    truth: dict = {}
    for k in range(SHAPE[2]):
        level = LEVELS[k // 4]
        grow = 1.0 + 0.1 * (k // 4)
        for lab, (muscle, side, cx, cy, a, b) in ELLIPSES.items():
            inside = ((u - cx) / (a * grow)) ** 2 + ((v - cy) / (b * grow)) ** 2 <= 1.0
            mask[..., k][inside] = lab
            t = truth.setdefault((muscle, side, level), {"n": [], "pi_ab": np.pi * a * b * grow**2})
            t["n"].append(int(inside.sum()))
        vert[..., k][u**2 + v**2 <= 18.0**2] = TPTBOX[level]
    ff = np.zeros(SHAPE)
    for lab, f in FAT.items():
        ff[mask == lab] = f
    water = np.where(mask > 0, 800.0 * (1 - ff), 60.0)
    fat = np.where(mask > 0, 800.0 * ff, 15.0)
    for name, arr in (("water", water), ("fat", fat)):
        nib.save(nib.Nifti1Image(arr.astype(np.float32), aff), str(tmp_path / f"{name}.nii.gz"))
    nib.save(nib.Nifti1Image(mask, aff), str(tmp_path / "mask.nii.gz"))
    # the vertebra mask stored in another orientation (LPS-like, every axis reversed)
    flip = np.eye(4)
    flip[:3, :3] = -np.eye(3)
    flip[:3, 3] = np.array(SHAPE) - 1
    nib.save(nib.Nifti1Image(vert[::-1, ::-1, ::-1].copy(), aff @ flip), str(tmp_path / "v.nii.gz"))
    labels = {str(k): {"muscle": m, "side": s} for k, (m, s, *_) in ELLIPSES.items()}
    (tmp_path / "labels.json").write_text(json.dumps({"labels": labels}))
    return truth


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_oblique_anisotropic_dixon_against_independent_truth(tmp_path):
    truth = _write_case(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--vertebrae",
            str(tmp_path / "v.nii.gz"),
            "--out",
            str(out),
            "--no-qa",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = {(r["muscle"], r["side"], r["level"]): r for r in _rows(out / "muscle_quality.csv")}
    pixel = SPACING[0] * SPACING[1]
    for (muscle, side, level), t in truth.items():
        row = rows[(muscle, side, level)]
        areas = np.array(t["n"]) * pixel
        assert float(row["csa_max_mm2"]) == pytest.approx(areas.max(), rel=1e-6)
        assert float(row["csa_mean_mm2"]) == pytest.approx(areas.mean(), rel=1e-6)
        assert float(row["csa_max_mm2"]) == pytest.approx(t["pi_ab"], rel=0.02)  # analytic
        vol = sum(t["n"]) * np.prod(SPACING) / 1000.0
        assert float(row["volume_ml"]) == pytest.approx(vol, rel=1e-6)
        lab = next(k for k, e in ELLIPSES.items() if e[:2] == (muscle, side))
        assert float(row["fat_fraction_pct"]) == pytest.approx(100 * FAT[lab], abs=1e-3)
    fat_dominant = rows[("psoas", "right", "L4")]
    assert fat_dominant["grade"] == "2"  # > 50 % on the 20/50 scheme
    assert float(fat_dominant["lean_csa_mean_mm2"]) == pytest.approx(
        0.2 * float(fat_dominant["csa_mean_mm2"]), rel=1e-4
    )
    assert not any("laterality_suspect" in r["flags"] for r in rows.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["geometry"]["slice_tilt_from_axial_deg"] == pytest.approx(8.0, abs=1e-3)
    # every slice gets the level of the vertebra drawn in it, through another storage order
    for r in _rows(out / "per_slice.csv"):
        assert r["level"] == LEVELS[int(r["slice"]) // 4]


def test_custom_scheme_typo_in_key_or_duplicate_muscle_side_refused(tmp_path):
    p = tmp_path / "typo.json"
    p.write_text(json.dumps({"labels": {"1": {"muscle": "multifidus", "sdie": "right"}}}))
    with pytest.raises(InputError, match="unknown key"):  # was: side silently 'none'
        load_custom_scheme(p)
    p.write_text(
        json.dumps(
            {
                "labels": {
                    "1": {"muscle": "multifidus", "side": "right"},
                    "2": {"muscle": "multifidus", "side": "right"},
                }
            }
        )
    )
    with pytest.raises(InputError, match="both name multifidus right"):  # was: two rows
        load_custom_scheme(p)


@pytest.mark.parametrize("age", ["-3", "250", "nan", "1975"])
def test_impossible_age_is_an_error(tmp_path, age):
    _write_case(tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--sex",
            "female",
            "--age",
            age,
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert "--age" in res.output
    assert not (tmp_path / "out" / "muscle_quality.csv").exists()


def _write_dicom_series(folder, n=4):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir()
    series = generate_uid()
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.SeriesInstanceUID = series
        ds.ImagePositionPatient = [0.0, 0.0, 5.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = np.full((8, 8), 100 + k, np.uint16).tobytes()
        ds.save_as(str(folder / f"IM{k:02d}.dcm"), enforce_file_format=True)
    assert pydicom is not None
    return sorted(folder.iterdir())


def test_corrupt_dicom_file_at_the_end_of_a_series_is_an_error(tmp_path):
    files = _write_dicom_series(tmp_path / "s")
    assert read_dicom_series(tmp_path / "s").shape == (8, 8, 4)
    (tmp_path / "s" / "notes.txt").write_text("not DICOM")  # still skipped
    assert read_dicom_series(tmp_path / "s").shape == (8, 8, 4)
    # the last slice cut after its header start: it used to be skipped, giving 3 slices
    files[-1].write_bytes(files[-1].read_bytes()[:300])
    with pytest.raises(InputError, match="corrupt") as err:
        read_dicom_series(tmp_path / "s")
    assert files[-1].name in str(err.value)
    # pixel data cut short in the last file: the message names that file, not the first
    files = _write_dicom_series(tmp_path / "p")
    files[-1].write_bytes(files[-1].read_bytes()[:-40])
    with pytest.raises(InputError, match="pixel data") as err:
        read_dicom_series(tmp_path / "p")
    assert files[-1].name in str(err.value)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ("L5,0,3\nL5,4,7\n", "named twice"),  # was: the second range silently kept
        ("L5,0,3.5\n", "not integers"),  # was: a ValueError traceback
        ("L4,0,3\nL5,4,7\n", "anatomical order"),  # L4 below L5 on an S-ascending image
        ("L55,0,3\n", "unknown vertebra"),
    ],
)
def test_levels_table_errors(tmp_path, table, match):
    from spinestab.imaging.io import read_slice_table
    from spinestab.imaging.levels import levels_from_table

    p = tmp_path / "levels.csv"
    p.write_text("level,first_slice,last_slice\n" + table)
    s_ascending = np.arange(8) * 4.0  # slice k lies 4k mm above slice 0
    with pytest.raises(InputError, match=match) as err:
        levels_from_table(read_slice_table(p), 8, slice_s=s_ascending, source=str(p))
    assert str(p) in str(err.value)
    p.write_text("level,first_slice,last_slice\nL5,0,3\nL4,4,7\n")
    ok = levels_from_table(read_slice_table(p), 8, slice_s=s_ascending)
    assert ok.levels == ("L5",) * 4 + ("L4",) * 4
    with pytest.raises(InputError, match="anatomical order"):  # same table, slices descending
        levels_from_table(read_slice_table(p), 8, slice_s=-s_ascending)


def test_vertebra_mask_outside_the_image_is_an_error(tmp_path):
    _write_case(tmp_path)
    v = nib.load(str(tmp_path / "v.nii.gz"))
    far = v.affine.copy()
    far[2, 3] += 500.0  # another field of view: no image slice meets a vertebra
    nib.save(nib.Nifti1Image(np.asarray(v.dataobj), far), str(tmp_path / "v_far.nii.gz"))
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--vertebrae",
            str(tmp_path / "v_far.nii.gz"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2, res.output  # was: exit 0 with every slice 'unassigned'
    assert "no image slice lies within the vertebrae" in res.output


def test_one_uncut_vertebra_column_makes_the_level_names_doubtful(tmp_path):
    # a TotalSegmentator total_mr map whose "vertebrae" label runs 210 mm without a gap or
    # a disc (touching vertebrae the split cannot part): it used to be one "L5", unflagged
    shape = (40, 40, 70)
    aff = np.diag([1.0, 1.0, 3.0, 1.0])
    x, y = np.meshgrid(np.arange(40) - 19.5, np.arange(40) - 19.5, indexing="ij")
    lab = np.zeros(shape, np.uint8)
    lab[(x**2 + y**2 <= 36)[..., None] & np.ones(shape, bool)] = 19  # vertebrae
    lab[:, :, :4][(x**2 + y**2 <= 36)] = 18  # sacrum below: the anchor is "checked"
    lab[((x - 12) ** 2 + (y + 8) ** 2 <= 25)[..., None] & np.ones(shape, bool)] = 47
    lab[((x + 12) ** 2 + (y + 8) ** 2 <= 25)[..., None] & np.ones(shape, bool)] = 46
    nib.save(nib.Nifti1Image(lab, aff), str(tmp_path / "seg.nii.gz"))
    ff = np.where(lab > 0, 10.0, 0.0).astype(np.float32)
    nib.save(nib.Nifti1Image(ff, aff), str(tmp_path / "ff.nii.gz"))
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--ff",
            str(tmp_path / "ff.nii.gz"),
            "--mask",
            str(tmp_path / "seg.nii.gz"),
            "--labels",
            "total_mr",
            "--out",
            str(tmp_path / "out"),
            "--no-qa",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [r for r in _rows(tmp_path / "out" / "muscle_quality.csv") if r["level"] != "all"]
    assert rows and all("level_names_doubtful" in r["flags"] for r in rows)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "more than one vertebra" in json.dumps(summary)


def test_a_muscle_missing_on_one_side_gets_flagged_rows(tmp_path):
    _write_case(tmp_path)
    m = nib.load(str(tmp_path / "mask.nii.gz"))
    lab = np.asarray(m.dataobj).copy()
    lab[lab == 5] = 0  # psoas right left out by the segmenter
    nib.save(nib.Nifti1Image(lab, m.affine), str(tmp_path / "mask5.nii.gz"))
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask5.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--vertebrae",
            str(tmp_path / "v.nii.gz"),
            "--out",
            str(tmp_path / "out"),
            "--no-qa",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "out" / "muscle_quality.csv")
    right = [r for r in rows if (r["muscle"], r["side"]) == ("psoas", "right")]
    # was: no psoas right rows at all, and the left rows' blank asymmetry unexplained
    assert {r["level"] for r in right} == set(LEVELS) | {"all"}
    for r in right:
        assert r["volume_ml"] == "0" and r["csa_max_mm2"] == "" and r["fat_fraction_pct"] == ""
        assert "absent_from_mask" in r["flags"] and "empty_at_level" in r["flags"]
    # a muscle absent on both sides stays out (the scheme may name muscles not segmented)
    assert not any(r["muscle"] == "quadratus_lumborum" for r in rows)


@pytest.mark.parametrize("cutoffs", [(10, 25, 50, 175), (-5, 10, 20, 30), (0.05, 0.25, 0.45, 0.55)])
def test_grade_cutoffs_outside_percent_refused(cutoffs):
    from spinestab.imaging.grading import get_grading_scheme

    # were accepted: 175 % never reached, fractions made every muscle grade 4
    with pytest.raises(InputError, match="percent"):
        get_grading_scheme("goutallier", cutoffs_pct=cutoffs)
    ok = get_grading_scheme("goutallier", cutoffs_pct=(5, 25, 45, 55))
    assert [ok.grade(x) for x in (1.0, 30.0, 60.0)] == ["0", "2", "4"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--modality", "pet"),  # was: a PET modality run as single-contrast MR
        ("--fat-method", "foo"),  # options unused in a Dixon run were not checked at all
        ("--classes", "4"),
        ("--anchor", "X9"),
        ("--anchor-is", "middle"),
        ("--contrast", "pd"),
        ("--ct-fat-range", "-30,-190"),
    ],
)
def test_mistyped_option_values_are_errors_in_any_run(tmp_path, option, value):
    _write_case(tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            option,
            value,
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert option in res.output


def test_reference_table_rows_are_normalised_or_refused(tmp_path):
    from spinestab.imaging.reference import load_reference_table

    head = "muscle,level,sex,age_min,age_max,method,mean_pct,sd_pct,source\n"
    p = tmp_path / "ref.csv"
    # "F" and "Dixon" used to be kept as typed and then never matched a female Dixon run
    p.write_text(head + "Multifidus,l3,F,20,60,Dixon,12,4,mine\n")
    (ref,) = load_reference_table(p)
    assert (ref.muscle, ref.level, ref.sex, ref.method) == ("multifidus", "L3", "female", "dixon")
    for row, match in [
        ("multifidis,L3,female,20,60,dixon,12,4,x", "unknown muscle"),
        ("multifidus,L3,female,60,20,dixon,12,4,x", "age range"),
        ("multifidus,L3,female,20,60,dixon,12,0,x", "sd_pct"),  # z would divide by 0
        ("multifidus,L9,female,20,60,dixon,12,4,x", "unknown level"),
        ("multifidus,L3,female,20,60,mri,12,4,x", "unknown method"),
    ]:
        p.write_text(head + row + "\n")
        with pytest.raises(InputError, match=match):
            load_reference_table(p)


def test_ct_without_the_hu_intercept_is_refused(tmp_path):
    # a CT stored as raw values (HU + 1024) run with --modality ct: no voxel fell in
    # -190..-30, so every muscle got 0 % fat without a word
    _write_case(tmp_path)
    m = nib.load(str(tmp_path / "mask.nii.gz"))
    lab = np.asarray(m.dataobj)
    hu = np.where(lab > 0, 45, -1000).astype(np.int16)
    hu[(lab == 3) & (np.indices(lab.shape)[0] % 4 == 0)] = -100  # some fat
    for name, arr in (("ct_hu", hu), ("ct_raw", (hu.astype(np.int32) + 1024).astype(np.uint16))):
        nib.save(nib.Nifti1Image(arr, m.affine), str(tmp_path / f"{name}.nii.gz"))
    args = ["--mask", str(tmp_path / "mask.nii.gz"), "--labels", str(tmp_path / "labels.json")]
    args += ["--modality", "ct", "--no-qa"]
    ok = CliRunner().invoke(
        app,
        ["mri", "--image", str(tmp_path / "ct_hu.nii.gz"), *args, "--out", str(tmp_path / "a")],
    )
    assert ok.exit_code == 0, ok.output
    rows = _rows(tmp_path / "a" / "muscle_quality.csv")
    (es_r,) = [r for r in rows if r["label_value"] == "3" and r["level"] == "all"]
    truth = 100 * np.mean(hu[lab == 3] == -100)
    assert float(es_r["fat_fraction_pct"]) == pytest.approx(truth, rel=1e-9)
    bad = CliRunner().invoke(
        app,
        ["mri", "--image", str(tmp_path / "ct_raw.nii.gz"), *args, "--out", str(tmp_path / "b")],
    )
    assert bad.exit_code == 2, bad.output
    assert "do not look like HU" in bad.output


def test_vertebrae_and_levels_table_together_refused(tmp_path):
    _write_case(tmp_path)
    table = tmp_path / "levels.csv"
    table.write_text("level,first_slice,last_slice\nL5,0,15\n")  # was: silently preferred
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--vertebrae",
            str(tmp_path / "v.nii.gz"),
            "--levels-table",
            str(table),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert "not both" in res.output


def test_out_path_that_is_a_file_is_a_clear_error(tmp_path):
    _write_case(tmp_path)
    (tmp_path / "taken").write_text("x")
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(tmp_path / "water.nii.gz"),
            "--fat",
            str(tmp_path / "fat.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--out",
            str(tmp_path / "taken"),
        ],
    )
    assert res.exit_code == 2, res.output  # was: a FileExistsError traceback, exit 1
    assert "not a folder" in res.output


def test_negative_dixon_background_is_not_an_error_but_negative_muscle_is(tmp_path):
    _write_case(tmp_path)
    w = nib.load(str(tmp_path / "water.nii.gz"))
    lab = np.asarray(nib.load(str(tmp_path / "mask.nii.gz")).dataobj)
    water = np.asarray(w.dataobj).copy()
    noise = np.random.default_rng(1).normal(0, 5, water.shape)
    water[lab == 0] = noise[lab == 0]  # complex-recon background: noise around 0
    nib.save(nib.Nifti1Image(water, w.affine), str(tmp_path / "wbg.nii.gz"))
    water[lab == 2] *= -1
    nib.save(nib.Nifti1Image(water, w.affine), str(tmp_path / "wneg.nii.gz"))
    common = ["--fat", str(tmp_path / "fat.nii.gz"), "--mask", str(tmp_path / "mask.nii.gz")]
    common += ["--labels", str(tmp_path / "labels.json"), "--no-qa"]
    ok = CliRunner().invoke(
        app,
        ["mri", "--water", str(tmp_path / "wbg.nii.gz"), *common, "--out", str(tmp_path / "a")],
    )
    assert ok.exit_code == 0, ok.output  # was refused for noise outside every muscle
    for r in _rows(tmp_path / "a" / "muscle_quality.csv"):
        lab_v = int(r["label_value"])
        assert float(r["fat_fraction_pct"]) == pytest.approx(100 * FAT[lab_v], abs=1e-3)
    bad = CliRunner().invoke(
        app,
        ["mri", "--water", str(tmp_path / "wneg.nii.gz"), *common, "--out", str(tmp_path / "b")],
    )
    assert bad.exit_code == 2 and "negative" in bad.output


def test_ct_cropped_to_the_body_is_recognised_as_ct(tmp_path):
    # no air in view (min about -180 HU): the modality guess used to say MR and run N4 +
    # Otsu on Hounsfield units
    _write_case(tmp_path)
    m = nib.load(str(tmp_path / "mask.nii.gz"))
    lab = np.asarray(m.dataobj)
    rng = np.random.default_rng(4)
    hu = np.where(lab > 0, rng.normal(50, 8, lab.shape), rng.normal(-100, 25, lab.shape))
    hu[(lab == 4) & (rng.random(lab.shape) < 0.3)] = -90.0
    nib.save(nib.Nifti1Image(np.round(hu).astype(np.int16), m.affine), str(tmp_path / "ct.nii.gz"))
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(tmp_path / "ct.nii.gz"),
            "--mask",
            str(tmp_path / "mask.nii.gz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--out",
            str(tmp_path / "out"),
            "--no-qa",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["modality"]["value"] == "CT"
    (row,) = [
        r
        for r in _rows(tmp_path / "out" / "muscle_quality.csv")
        if r["label_value"] == "4" and r["level"] == "all"
    ]
    stored = np.round(hu).astype(np.int16)[lab == 4]
    truth = 100 * np.mean((stored >= -190) & (stored <= -30))
    assert row["fat_method"].startswith("ct_hu")
    assert float(row["fat_fraction_pct"]) == pytest.approx(truth, rel=1e-9)
