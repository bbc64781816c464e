from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.cli import app

from .conftest import MM_IMAGE, MM_MASK, TS_CT, TS_DICOM_SUBSET, TS_SEG

MUSCLE_COLUMNS = [
    "muscle",
    "side",
    "level",
    "csa_max_mm2",
    "csa_mean_mm2",
    "volume_ml",
    "fat_fraction_pct",
    "fat_method",
    "lean_csa_mean_mm2",
    "grade",
    "asymmetry_pct",
    "reference_note",
]
SLICE_COLUMNS = [
    "slice",
    "level",
    "muscle",
    "side",
    "area_mm2",
    "mean_intensity",
    "fat_fraction_pct",
]


def _read(path):
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def _save(vol, path):
    nib.save(nib.Nifti1Image(np.asarray(vol.data), vol.affine), str(path))
    return path


def test_cli_musclemap_end_to_end(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(MM_IMAGE),
            "--mask",
            str(MM_MASK),
            "--labels",
            "musclemap",
            "--sex",
            "female",
            "--age",
            "45",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    cols, rows = _read(out / "muscle_quality.csv")
    assert cols[: len(MUSCLE_COLUMNS)] == MUSCLE_COLUMNS
    assert len(rows) == 8 and {r["level"] for r in rows} == {"all"}
    mf = next(r for r in rows if r["muscle"] == "multifidus" and r["side"] == "right")
    assert float(mf["csa_max_mm2"]) / 100 == pytest.approx(13.58, abs=0.005)
    assert mf["fat_method"] == "t1w_n4_otsu2"
    assert 0 <= float(mf["fat_fraction_pct"]) <= 100
    assert "not compared" in mf["reference_note"]  # T1w threshold vs a Dixon reference
    scols, srows = _read(out / "per_slice.csv")
    assert scols == SLICE_COLUMNS and len(srows) == 142
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fat_method"] == "t1w_n4_otsu2"
    assert summary["geometry"]["orientation"] == "LPS"
    assert (out / "qa_all.png").is_file()
    assert not list(out.glob(".mri-*"))
    (out / "qa_L9.png").write_bytes(b"from an earlier run")
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(MM_IMAGE),
            "--mask",
            str(MM_MASK),
            "--out",
            str(out),
            "--no-bias-correction",
        ],
    )
    assert res.exit_code == 0
    assert sorted(p.name for p in out.glob("qa_*.png")) == ["qa_all.png"]


def test_cli_dixon_phantom_with_vertebrae_gives_levels(phantom, tmp_path):
    w = _save(phantom.water, tmp_path / "w.nii.gz")
    f = _save(phantom.fat, tmp_path / "f.nii.gz")
    m = _save(phantom.mask, tmp_path / "m.nii.gz")
    v = _save(phantom.vertebrae, tmp_path / "v.nii.gz")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(w),
            "--fat",
            str(f),
            "--mask",
            str(m),
            "--vertebrae",
            str(v),
            "--vertebrae-labels",
            "tptbox",
            "--out",
            str(out),
            "--no-qa",
            "--sex",
            "F",
            "--age",
            "40",
        ],
    )
    assert res.exit_code == 0, res.output
    _cols, rows = _read(out / "muscle_quality.csv")
    assert {r["level"] for r in rows} == {"L3", "L4", "L5", "all"}
    mf_all = next(r for r in rows if (r["muscle"], r["level"]) == ("multifidus", "all"))
    # Si 2023 gives an L1-L5 mean; this image covers L3-L5 only: said, not compared
    assert "levels covered: L3-L5" in mf_all["reference_note"]
    assert mf_all["reference_z"] == ""
    for r in rows:
        truth = phantom.fat_pct[(r["muscle"], r["side"], r["level"])]
        assert abs(float(r["fat_fraction_pct"]) - truth) <= 1.0
        assert r["fat_method"] == "dixon"
    edge = next(r for r in rows if r["level"] == "L3")
    assert "level_truncated" not in edge["flags"]  # margin slices above L3


def test_cli_ct_uses_vertebrae_of_the_total_map(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(TS_CT),
            "--mask",
            str(TS_SEG),
            "--labels",
            "total",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    _cols, rows = _read(out / "muscle_quality.csv")
    assert {r["level"] for r in rows} == {"T11", "T12", "L1", "L2", "all"}
    assert {r["fat_method"] for r in rows} == {"ct_hu[-190..-30]"}
    assert {p.name for p in out.glob("qa_*.png")} >= {"qa_L1.png", "qa_T12.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modality"]["value"] == "CT"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mask", str(TS_SEG), "--image", str(MM_IMAGE)], "not on the image grid"),
        (
            ["--mask", str(MM_MASK), "--image", str(MM_IMAGE), "--labels", "total"],
            "no muscle labels",
        ),
        (["--mask", str(TS_SEG), "--image", str(TS_CT), "--labels", "musclemap"], "not in scheme"),
        (["--mask", str(MM_MASK)], "give exactly one input"),
        (
            ["--mask", str(MM_MASK), "--image", str(MM_IMAGE), "--water", str(MM_IMAGE)],
            "exactly one",
        ),
        (["--mask", str(MM_MASK), "--image", str(TS_DICOM_SUBSET)], "not on the image grid"),
        (["--mask", str(MM_MASK), "--image", str(MM_IMAGE), "--sex", "x"], "unknown sex"),
        (
            ["--mask", str(MM_MASK), "--image", str(MM_IMAGE), "--grade-scheme", "goutallier"],
            "no fat-fraction cut-offs",
        ),
    ],
)
def test_cli_bad_input_exit_2_and_nothing_written(tmp_path, args, message):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["mri", *args, "--out", str(out), "--no-qa", "--no-bias-correction"]
    )
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert not out.exists() or not any(out.iterdir())


def test_cli_negative_dixon_values_refused(phantom, tmp_path):
    w = phantom.water.with_data(phantom.water.data - 50.0)
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--water",
            str(_save(w, tmp_path / "w.nii.gz")),
            "--fat",
            str(_save(phantom.fat, tmp_path / "f.nii.gz")),
            "--mask",
            str(_save(phantom.mask, tmp_path / "m.nii.gz")),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    assert "negative voxels" in " ".join(res.output.split())


def test_cli_segment_runs_backend_with_local_weights(tmp_path, monkeypatch):
    import shutil
    import subprocess
    from pathlib import Path

    import spinestab.imaging.segment.tools as tools

    calls = []

    def stand_in(args, *, env, cwd=None):
        calls.append((list(args), dict(env)))
        shutil.copyfile(
            MM_MASK, Path(args[args.index("-o") + 1]) / (MM_IMAGE.name[:-7] + "_dseg.nii.gz")
        )
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(tools, "subprocess_runner", stand_in)
    monkeypatch.setattr(tools.shutil, "which", lambda name: f"/opt/bin/{name}")
    weights = tmp_path / "w" / "abdomen"
    weights.mkdir(parents=True)
    (weights / "model.pth").write_bytes(b"x")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(MM_IMAGE),
            "--segment",
            "musclemap",
            "--weights",
            str(tmp_path / "w"),
            "--out",
            str(out),
            "--no-qa",
            "--no-bias-correction",
        ],
    )
    assert res.exit_code == 0, res.output
    assert calls and calls[0][0][0] == "/opt/bin/mm_segment"
    assert (out / "segmentation" / "sub-0001_axial_lumbar_mri_dseg.nii.gz").is_file()
    _cols, rows = _read(out / "muscle_quality.csv")
    assert len(rows) == 8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["segmenter"] == "musclemap"
    res = CliRunner().invoke(app, ["mri", "--image", str(MM_IMAGE), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "no mask" in res.output


def test_cli_jpeg2000_dicom_ct_with_mask_on_its_grid(tmp_path):
    from spinestab.imaging.io import read_volume

    ct = read_volume(TS_DICOM_SUBSET)
    labels = np.zeros(ct.shape, np.int16)
    labels[200:240, 300:330, :] = 1  # a box: 40 x 30 pixels in every slice
    labels[280:300, 300:330, 1:4] = 2
    mask = tmp_path / "box.nii.gz"
    nib.save(nib.Nifti1Image(labels, ct.affine), str(mask))
    scheme = tmp_path / "scheme.json"
    scheme.write_text(
        json.dumps(
            {
                "labels": {
                    "1": {"muscle": "autochthon", "side": "right"},
                    "2": {"muscle": "autochthon", "side": "left"},
                }
            }
        )
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(TS_DICOM_SUBSET),
            "--mask",
            str(mask),
            "--labels",
            str(scheme),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    _cols, rows = _read(out / "muscle_quality.csv")
    right = next(r for r in rows if r["side"] == "right")
    px = 0.9765625**2
    assert float(right["csa_max_mm2"]) == pytest.approx(40 * 30 * px)
    assert float(right["volume_ml"]) == pytest.approx(40 * 30 * 5 * px * 8.0 / 1000)
    hu = ct.data[labels == 1]
    assert float(right["fat_fraction_pct"]) == pytest.approx(
        100 * np.mean((hu >= -190) & (hu <= -30))
    )
    assert right["fat_method"] == "ct_hu[-190..-30]"
    _scols, srows = _read(out / "per_slice.csv")
    first = next(r for r in srows if r["side"] == "right" and r["slice"] == "0")
    assert float(first["mean_intensity"]) == pytest.approx(
        ct.data[:, :, 0][labels[:, :, 0] == 1].mean()
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modality"] == {"value": "CT", "how": "from DICOM header"}


def test_single_slice_dicom_is_refused(tmp_path):
    import shutil

    from spinestab.errors import InputError
    from spinestab.imaging.io import read_dicom_series

    f = sorted(TS_DICOM_SUBSET.iterdir())[0]
    shutil.copyfile(f, tmp_path / f.name)
    with pytest.raises(InputError, match="one slice"):
        read_dicom_series(tmp_path)


def test_cli_vertebral_body_in_the_mask_itself(phantom, tmp_path):
    data = np.where(phantom.vertebral_body.data > 0, 50, phantom.mask.data).astype(np.int16)
    scheme = {
        str(v): {"muscle": m, "side": s}
        for v, (m, s) in {
            1: ("multifidus", "right"),
            2: ("multifidus", "left"),
            3: ("erector_spinae", "right"),
            4: ("erector_spinae", "left"),
            5: ("psoas", "right"),
            6: ("psoas", "left"),
            7: ("quadratus_lumborum", "right"),
            8: ("quadratus_lumborum", "left"),
        }.items()
    }
    scheme["50"] = {"kind": "vertebral_body", "name": "corpus"}
    sp = tmp_path / "s.json"
    sp.write_text(json.dumps({"labels": scheme}))
    m = _save(phantom.mask.with_data(data), tmp_path / "m.nii.gz")
    v = _save(phantom.vertebrae, tmp_path / "v.nii.gz")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(_save(phantom.single, tmp_path / "i.nii.gz")),
            "--mask",
            str(m),
            "--labels",
            str(sp),
            "--vertebrae",
            str(v),
            "--out",
            str(out),
            "--no-qa",
            "--no-bias-correction",
        ],
    )
    assert res.exit_code == 0, res.output
    _cols, rows = _read(out / "muscle_quality.csv")
    r = next(x for x in rows if (x["muscle"], x["side"], x["level"]) == ("psoas", "left", "L4"))
    truth = phantom.area_mm2[("psoas", "left", "L4")] / phantom.vertebral_body_area_mm2["L4"]
    assert float(r["csa_to_vertebral_body"]) == pytest.approx(truth, rel=0.03)


def test_cli_levels_from_an_explicit_slice_table(tmp_path):
    table = tmp_path / "levels.csv"
    table.write_text("level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "mri",
            "--image",
            str(MM_IMAGE),
            "--mask",
            str(MM_MASK),
            "--levels-table",
            str(table),
            "--out",
            str(out),
            "--no-qa",
            "--no-bias-correction",
        ],
    )
    assert res.exit_code == 0, res.output
    _cols, rows = _read(out / "muscle_quality.csv")
    _scols, srows = _read(out / "per_slice.csv")
    assert {r["level"] for r in rows} == {"L3", "L4", "L5", "all"}
    for level, ks in (("L5", range(0, 7)), ("L4", range(7, 14)), ("L3", range(14, 20))):
        areas = [
            float(r["area_mm2"])
            for r in srows
            if r["muscle"] == "psoas" and r["side"] == "left" and int(r["slice"]) in ks
        ]
        assert all(r["level"] == level for r in srows if int(r["slice"]) in ks)
        row = next(
            r for r in rows if (r["muscle"], r["side"], r["level"]) == ("psoas", "left", level)
        )
        assert float(row["csa_max_mm2"]) == pytest.approx(max(areas))
        assert float(row["csa_mean_mm2"]) == pytest.approx(sum(areas) / len(areas))
        assert float(row["volume_ml"]) == pytest.approx(sum(areas) * 4.4 / 1000, rel=1e-5)
    l5 = next(r for r in rows if r["level"] == "L5")
    assert "level_truncated_by_field_of_view" in l5["flags"]  # L5 starts at the first slice


def test_cli_json_prints_the_summary_and_pictures_option_names_agree(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            *("mri", "--image", str(MM_IMAGE), "--mask", str(MM_MASK), "--out", str(out)),
            *("--no-bias-correction", "--no-pictures", "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    assert printed["qa_pictures"] == [] and not list(out.glob("qa_*.png"))
    assert printed["level_names"]["state"] == "none"
    assert printed["provenance"]["options"]["qa"] is False
    res = CliRunner().invoke(
        app,
        [
            *("mri", "--image", str(MM_IMAGE), "--mask", str(MM_MASK), "--out", str(out)),
            *("--no-bias-correction", "--qa"),
        ],
    )
    assert res.exit_code == 0 and (out / "qa_all.png").is_file()
