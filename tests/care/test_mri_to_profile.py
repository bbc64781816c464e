"""One muscle-quality type from MRI to profile: an MRI result in memory and its
muscle_quality.csv give the same profile findings, equal to the phantom's known fat."""

from __future__ import annotations

import pytest

from spinestab.care.io import read_muscle_quality
from spinestab.care.summarise import summarise_muscle
from spinestab.core.results import MUSCLE_QUALITY_COLUMNS, MuscleQuality, MuscleRow


@pytest.fixture(scope="module")
def phantom_result():
    pytest.importorskip("nibabel")
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.phantom import make_phantom
    from spinestab.imaging.pipeline import DixonPair, LevelInputs, analyse_mri

    phantom = make_phantom()
    result = analyse_mri(
        DixonPair(phantom.water, phantom.fat),
        phantom.mask,
        options=MriOptions(vertebrae_labels="tptbox", qa=False),
        levels=LevelInputs(vertebrae=phantom.vertebrae),
    )
    return phantom, result


def test_the_mri_result_rows_are_the_shared_type(phantom_result):
    _, result = phantom_result
    assert all(type(r) is MuscleRow for r in result.rows)
    assert list(result.rows[0].as_dict()) == list(MUSCLE_QUALITY_COLUMNS)


def test_in_memory_and_csv_give_the_same_profile_findings(phantom_result, tmp_path):
    from spinestab.imaging.outputs import write_mri_outputs

    phantom, result = phantom_result
    write_mri_outputs(result, tmp_path)
    from_csv = summarise_muscle(
        read_muscle_quality(tmp_path / "muscle_quality.csv"), symptomatic_levels=["L4"]
    )
    in_memory = summarise_muscle(
        MuscleQuality(rows=result.rows, fat_method=result.fat_method), symptomatic_levels=["L4"]
    )
    assert from_csv.multifidus_levels == in_memory.multifidus_levels == ("L4",)
    assert from_csv.fat_method == in_memory.fat_method == "dixon"
    assert from_csv.multifidus_fat_pct == pytest.approx(in_memory.multifidus_fat_pct, abs=0.01)
    # the phantom's truth: the highest multifidus fat fraction at L4 (either side)
    truth = max(
        pct
        for (muscle, _side, level), pct in phantom.fat_pct.items()
        if muscle == "multifidus" and level == "L4"
    )
    assert in_memory.multifidus_fat_pct == pytest.approx(truth, abs=1.0)
    assert set(in_memory.other_muscles) == set(from_csv.other_muscles)
