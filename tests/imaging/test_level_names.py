"""Level names never silently rest on an assumption (issue 12.3), on a real CT.

Truth: TotalSegmentator's own vertebra instance labels of its example CT (T11-L2, upper
abdomen with liver, spleen and kidneys, no sacrum). Given as one "vertebrae" label (as
TotalSegmentator ``total_mr`` writes it), the default anchor counts the lowest piece as L5:
the names are wrong, and must be said to be assumed everywhere until a clinician confirms
or corrects them.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.imaging.io import read_volume
from spinestab.imaging.level_names import apply_level_names
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.options import LevelNames, MriOptions
from spinestab.imaging.pipeline import LevelInputs, analyse_mri

from .conftest import TS_CT, TS_SEG

VERTEBRAE_TOTAL = (30, 31, 32, 33)  # L2, L1, T12, T11 in TotalSegmentator total (v2)
OPTIONS = MriOptions(labels="total", vertebrae_labels="total_mr", qa=False)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The real vertebrae as one total_mr 'vertebrae' label (19), written as NIfTI."""
    seg = nib.load(str(TS_SEG))
    data = np.where(np.isin(np.asarray(seg.dataobj), VERTEBRAE_TOTAL), 19, 0).astype(np.int16)
    path = tmp_path_factory.mktemp("single") / "vertebrae_total_mr.nii.gz"
    nib.save(nib.Nifti1Image(data, seg.affine), str(path))
    return path


@pytest.fixture(scope="module")
def truth():
    """Levels per slice from the instance labels (named by TotalSegmentator itself)."""
    result = analyse_mri(TS_CT, TS_SEG, options=OPTIONS.replace(vertebrae_labels="total"))
    assert result.levels.state == "named"
    return result.levels.levels.levels


def test_default_anchor_without_sacrum_is_assumed_and_says_so(single, truth):
    result = analyse_mri(
        TS_CT, TS_SEG, options=OPTIONS.replace(qa=True), levels=LevelInputs(vertebrae=single)
    )
    names = result.levels
    assert names.present == ["L3", "L4", "L5"] and set(truth) >= {"T12", "L1", "L2"}  # wrong
    assert names.state == "assumed" and "no sacrum" in names.levels.method
    assert "level_names_assumed" in result.flags
    assert all(("level_names_assumed" in r.flags) == (r.level != "all") for r in result.rows)
    titles = {p.level: p.title for p in result.pictures}
    assert all(("(assumed)" in t) == (lv != "all") for lv, t in titles.items())
    summary = result.to_summary()
    assert summary["level_names"]["state"] == "assumed"
    assert "level_names_assumed" in summary["flags"]


def test_anchor_correction_renames_every_level_and_matches_the_instance_labels(single, truth):
    fixed = analyse_mri(
        TS_CT,
        TS_SEG,
        options=OPTIONS.replace(level_names=LevelNames.parse("L5=L2", by="dr_k")),
        levels=LevelInputs(vertebrae=single),
    )
    assert fixed.levels.present == ["T12", "L1", "L2"] and fixed.levels.state == "confirmed"
    assert fixed.levels.found_as == "assumed" and fixed.levels.confirmed_by == "dr_k"
    assert fixed.levels.renamed == {"L3": "T12", "L4": "L1", "L5": "L2"}
    got = fixed.levels.levels.levels
    # the split cannot part T11 from T12 at the top of the field of view: 3 of 30 slices
    agree = [a == b for a, b in zip(truth, got, strict=True)]
    assert sum(agree) >= 27
    assert all(a == b for a, b in zip(truth, got, strict=True) if a in ("L1", "L2"))
    assert not any("level_names" in r.flags for r in fixed.rows)
    assert "level_names_assumed" not in fixed.flags
    mapping = LevelNames(rename={"L3": "T12", "L4": "L1", "L5": "L2"})
    again = analyse_mri(
        TS_CT, TS_SEG, options=OPTIONS.replace(level_names=mapping), levels=LevelInputs(single)
    )
    assert again.levels.levels.levels == got


def _cli(tmp_path, *extra):
    return CliRunner().invoke(
        app,
        [
            *("mri", "--image", str(TS_CT), "--mask", str(TS_SEG), "--labels", "total"),
            *("--vertebrae-labels", "total_mr", "--out", str(tmp_path / "out"), *extra),
        ],
    )


def test_cli_says_assumed_on_the_console_and_in_summary_and_titles(single, tmp_path):
    res = _cli(tmp_path, "--vertebrae", str(single))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "levels L3, L4, L5 (assumed)" in text
    assert "level names assumed" in text and "--rename-levels" in text
    assert "flag level_truncated_by_field_of_view" in text
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["level_names"]["state"] == "assumed"
    assert {p.name for p in (tmp_path / "out").glob("qa_*.png")} == {
        "qa_L3.png",
        "qa_L4.png",
        "qa_L5.png",
        "qa_all.png",
    }
    res = _cli(tmp_path, "--vertebrae", str(single), "--rename-levels", "L5=L2", "--no-qa")
    assert res.exit_code == 0, res.output
    assert "levels T12, L1, L2 (confirmed)" in " ".join(res.output.split())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["level_names"]["state"] == "confirmed"
    assert summary["level_names"]["found_as"] == "assumed"
    assert not list((tmp_path / "out").glob("qa_*.png"))  # the earlier run's pictures went
    res = _cli(tmp_path, "--vertebrae", str(single), "--confirm-levels", "--confirmed-by", "x")
    assert res.exit_code == 0 and "levels L3, L4, L5 (confirmed)" in " ".join(res.output.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--rename-levels", "L5=X1"), "unknown vertebra"),
        (("--rename-levels", "L1=T12"), "not among the levels found"),
        (("--rename-levels", "L5=L2,L4=L1"), "name every level"),
        (("--rename-levels", "L3=L2,L4=L1,L5=T12"), "out of anatomical order"),
        (("--rename-levels", "L5=C2"), "cannot be named"),
    ],
)
def test_bad_corrections_are_clear_errors_and_nothing_is_written(single, tmp_path, extra, message):
    res = _cli(tmp_path, "--vertebrae", str(single), "--no-qa", *extra)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "--rename-levels" in res.output
    assert not (tmp_path / "out").exists()


def test_unknown_vertebra_label_hint_names_the_vertebrae_option(tmp_path):
    res = _cli(tmp_path, "--vertebrae", str(TS_SEG), "--no-qa")  # total map read as total_mr
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "wrong --vertebrae-labels scheme" in text and "wrong --labels" not in text


def test_instance_labels_and_slice_tables_are_named_not_assumed(tmp_path):
    named = analyse_mri(TS_CT, TS_SEG, options=OPTIONS.replace(vertebrae_labels="total"))
    assert named.levels.state == "named" and not any("level_names" in f for f in named.flags)
    image = read_volume(TS_CT)
    table = analyse_mri(
        image, TS_SEG, options=OPTIONS, levels=LevelInputs(levels_table={"L1": (3, 9)})
    )
    assert table.levels.state == "named" and table.levels.present == ["L1"]


def test_apply_level_names_by_hand():
    found = SliceLevels(("", "L4", "L4", "L5", ""), "lowest = L5 (assumed: no sacrum in view)")
    shifted = apply_level_names(found, LevelNames.parse("L4=L3"))
    assert shifted.levels == ("", "L3", "L3", "L4", "")
    confirmed = apply_level_names(found, LevelNames())
    assert confirmed.levels == found.levels and "confirmed by a clinician" in confirmed.method
    with pytest.raises(InputError, match="no vertebral levels"):
        apply_level_names(SliceLevels(("", ""), "none given"), LevelNames())
    with_l6 = apply_level_names(found, LevelNames.parse("L5=L6"))
    assert with_l6.levels == ("", "L5", "L5", "L6", "")  # a transitional L6 is kept in order


def test_console_names_swapped_sides_and_a_missing_side(tmp_path):
    """Real MuscleMap mask with multifidus right/left swapped and the left QL erased."""
    from .conftest import MM_IMAGE, MM_MASK

    mask = nib.load(str(MM_MASK))
    data = np.asarray(mask.dataobj).copy()
    swapped = data.copy()
    swapped[data == 1], swapped[data == 2] = 2, 1
    swapped[data == 8] = 0
    path = tmp_path / "swapped.nii.gz"
    nib.save(nib.Nifti1Image(swapped, mask.affine), str(path))
    res = CliRunner().invoke(
        app,
        [
            *("mri", "--image", str(MM_IMAGE), "--mask", str(path), "--no-bias-correction"),
            *("--no-pictures", "--out", str(tmp_path / "out")),
        ],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "flag laterality_suspect (multifidus)" in text
    assert "flag absent_from_mask (quadratus_lumborum left)" in text
    assert "erector_spinae" not in text.split("flag laterality_suspect")[1].split("flag")[0]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "laterality_suspect:multifidus" in summary["flags"]
