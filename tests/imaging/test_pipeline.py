"""The library pipeline: ``analyse_mri`` -> ``MriResult`` -> files and back.

Truths: the MuscleMap manifest's areas, the phantom's known fat fractions, hashlib on the
input files, and the CLI's own output files (the contract) for the same inputs.
"""

from __future__ import annotations

import hashlib
import math
import pickle

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.imaging.io import read_volume
from spinestab.imaging.options import FatMethod, LevelNames, MriOptions
from spinestab.imaging.outputs import read_mri_outputs, summary_json, write_mri_outputs
from spinestab.imaging.pipeline import DixonPair, LevelInputs, analyse_mri

from .conftest import MM_IMAGE, MM_MASK

FAST = MriOptions(bias_correction=False)


@pytest.fixture(scope="module")
def mm_result():
    return analyse_mri(MM_IMAGE, MM_MASK, options=FAST)


def test_musclemap_rows_equal_the_manifest(mm_result):
    assert len(mm_result.rows) == 8 and {r.level for r in mm_result.rows} == {"all"}
    # MANIFEST: max CSA in cm^2 per label
    truth = {("multifidus", "right"): 13.58, ("erector_spinae", "left"): 21.09}
    for (muscle, side), cm2 in truth.items():
        assert mm_result.row(muscle, side, "all").csa_max_mm2 / 100 == pytest.approx(cm2, abs=0.005)
    assert mm_result.levels.state == "none" and mm_result.levels.present == []
    assert [p.name for p in mm_result.pictures] == ["qa_all.png"]
    assert mm_result.pictures[0].png.startswith(b"\x89PNG\r\n\x1a\n")
    assert mm_result.modality == "MR" and mm_result.fat_method == "t1w_otsu2"


def test_volumes_in_memory_give_the_same_result_as_files(mm_result):
    image, mask = read_volume(MM_IMAGE), read_volume(MM_MASK, as_labels=True)
    again = analyse_mri(image, mask, options=FAST)
    assert _same_rows(again.rows, mm_result.rows)
    assert [p.png for p in again.pictures] == [p.png for p in mm_result.pictures]


def _same_rows(a, b):
    for x, y in zip(a, b, strict=True):
        for k, v in x.__dict__.items():
            w = y.__dict__[k]
            assert v == w or (isinstance(v, float) and math.isnan(v) and math.isnan(w)), k
    return True


def test_provenance_hashes_the_input_files_and_names_the_options(mm_result):
    prov = mm_result.provenance
    assert prov is not None and prov.software.startswith("spinestab ")
    assert prov.input_sha256["image"] == hashlib.sha256(MM_IMAGE.read_bytes()).hexdigest()
    assert prov.input_sha256["mask"] == hashlib.sha256(MM_MASK.read_bytes()).hexdigest()
    assert prov.options["bias_correction"] is False and prov.options["fat_method"] == "otsu"


def test_result_pickles_and_round_trips_through_its_files(mm_result, tmp_path):
    clone = pickle.loads(pickle.dumps(mm_result))
    assert summary_json(clone) == summary_json(mm_result)
    write_mri_outputs(mm_result, tmp_path / "out")
    back = read_mri_outputs(tmp_path / "out")
    assert _same_rows(back.rows, mm_result.rows)  # exact: rows come from summary.json
    assert len(back.slices) == len(mm_result.slices) == 142
    for a, b in zip(back.slices, mm_result.slices, strict=True):
        assert (a.slice, a.muscle, a.side) == (b.slice, b.muscle, b.side)
        assert a.area_mm2 == pytest.approx(b.area_mm2, rel=1e-9)
    assert [p.png for p in back.pictures] == [p.png for p in mm_result.pictures]
    assert back.levels.levels.levels == mm_result.levels.levels.levels
    with pytest.raises(InputError, match=r"summary\.json"):
        read_mri_outputs(tmp_path)


def test_library_files_equal_the_cli_files(mm_result, tmp_path):
    res = CliRunner().invoke(
        app,
        [
            *("mri", "--image", str(MM_IMAGE), "--mask", str(MM_MASK)),
            *("--no-bias-correction", "--out", str(tmp_path / "cli")),
        ],
    )
    assert res.exit_code == 0, res.output
    write_mri_outputs(mm_result, tmp_path / "lib")
    for name in ("muscle_quality.csv", "per_slice.csv", "qa_all.png"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()


def test_dixon_phantom_in_memory_against_its_truth(phantom):
    result = analyse_mri(
        DixonPair(phantom.water, phantom.fat),
        phantom.mask,
        options=MriOptions(vertebrae_labels="tptbox", qa=False),
        levels=LevelInputs(vertebrae=phantom.vertebrae),
    )
    assert result.levels.present == ["L3", "L4", "L5"] and result.levels.state == "named"
    for r in result.rows:
        if r.level != "all":
            assert r.fat_fraction_pct == pytest.approx(
                phantom.fat_pct[(r.muscle, r.side, r.level)], abs=1.0
            )
    assert result.fat_method == "dixon" and result.pictures == ()


def test_options_are_validated_normalised_and_round_trip():
    opts = MriOptions(fat_method="KMeans", sex="F", anchor="l5-s1", classes=3)
    assert opts.fat_method is FatMethod.KMEANS and opts.sex == "female"
    assert opts.anchor == "L5-S1"
    assert MriOptions.from_mapping(opts.to_dict()) == opts
    assert pickle.loads(pickle.dumps(opts)) == opts
    for bad, option in (
        ({"fat_method": "foo"}, "--fat-method"),
        ({"classes": 4}, "--classes"),
        ({"anchor": "X9"}, "--anchor"),
        ({"age": 1980}, "--age"),
        ({"ct_fat_range": (-30, -190)}, "--ct-fat-range"),
        ({"segment": "nnunet"}, "--segment"),
    ):
        with pytest.raises(InputError, match=option):
            MriOptions(**bad)
    with pytest.raises(InputError, match="unknown MRI option"):
        MriOptions.from_mapping({"fat_methd": "otsu"})


def test_level_names_correction_is_parsed_and_checked():
    assert LevelNames.parse(" l5 = L1 ").rename == {"L5": "L1"}
    for bad in ("L5", "L5=X1", "L5=L1,L5=L2", "L4=L1,L5=L1"):
        with pytest.raises(InputError, match="--rename-levels"):
            LevelNames.parse(bad)


def test_no_mask_and_no_segmenter_is_refused_before_reading(tmp_path):
    with pytest.raises(InputError, match="no mask"):
        analyse_mri(tmp_path / "missing.nii.gz")


def test_options_from_json_carry_a_level_correction():
    """The viewer sends the correction as JSON; the options keep it and give it back."""
    data = {"labels": "total", "level_names": {"rename": {"l5": "L1"}, "by": "dr_k"}}
    opts = MriOptions.from_mapping(data)
    assert opts.level_names == LevelNames(rename={"L5": "L1"}, by="dr_k")
    assert opts.to_dict()["level_names"] == {"rename": {"L5": "L1"}, "by": "dr_k"}
    assert MriOptions.from_mapping(opts.to_dict()) == opts
    with pytest.raises(InputError, match="--rename-levels"):
        MriOptions.from_mapping({"level_names": {"rename": {"L5": "Q1"}}})


def test_result_as_the_shared_muscle_quality(mm_result):
    quality = mm_result.muscle_quality()
    assert quality.rows == mm_result.rows and quality.fat_method == "t1w_otsu2"
    assert quality.row("multifidus", "right", "all").csa_max_mm2 / 100 == pytest.approx(
        13.58, abs=0.005
    )
    assert quality.meta["level_names"]["state"] == "none"
    assert quality.meta["provenance"]["software"].startswith("spinestab ")
