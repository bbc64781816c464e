"""Reference values are compared only like with like (method, muscle, level, sex, age)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinestab.imaging.fat import dixon_fat_fraction, pdff_passthrough
from spinestab.imaging.labels import get_scheme
from spinestab.imaging.levels import SliceLevels, levels_from_instances
from spinestab.imaging.muscle import MeasureOptions, measure
from spinestab.imaging.reference import (
    BUILTIN_REFERENCES,
    ReferenceQuery,
    compare_with_reference,
)

L1_L5 = ["L1", "L2", "L3", "L4", "L5"]


def _cmp(ff=25.0, **kw):
    args = {
        "muscle": "multifidus",
        "level": "all",
        "levels_covered": L1_L5,
        "fat_method": "dixon",
        "sex": "male",
        "age": 40.0,
    }
    args.update(kw)
    return compare_with_reference(ff, ReferenceQuery(**args))


def test_every_builtin_reference_names_its_source_and_method():
    for ref in BUILTIN_REFERENCES:
        assert (
            ref.method == "dixon"
            and ref.source
            and ("Crawford" in ref.source or "Si" in ref.source)
        )
        assert ref.sex in ("female", "male") and ref.age_min < ref.age_max


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"fat_method": "pdff"}, "measured by dixon, not pdff"),
        ({"fat_method": "t1w_n4_otsu2"}, "measured by dixon, not t1w"),
        ({"fat_method": "ct_hu[-190..-30]"}, "measured by dixon, not ct_hu"),
        ({"levels_covered": ["L2", "L3", "L4", "L5", "S1"]}, "levels covered: L2-S1"),
        ({"level": "L3"}, "no dixon reference for multifidus at level L3"),
        ({"truncated_levels": ["L1"]}, "L1 cut by the field of view"),
        ({"outside_levels": True}, "outside L1-L5"),
        ({"level_names": "doubtful"}, "level names doubtful"),
        ({"sex": None}, "sex not given"),
        ({"age": None}, "age not given; the reference cohort is aged 20-69 y"),
        ({"age": 75.0}, "age 75 outside the reference cohort's 20-69 y"),
        ({"muscle": "psoas"}, "no reference for psoas"),
        ({"ff": math.nan}, "fat fraction undefined"),
    ],
)
def test_each_mismatch_is_named_in_the_note(kw, reason):
    ff = kw.pop("ff", 25.0)
    note, ref, z = _cmp(ff, **kw)
    assert ref is None and z is None
    assert reason in note and "not compared" in note


def test_like_with_like_is_compared_with_its_source():
    note, ref, z = _cmp(20.0)  # Si 2023 male multifidus 16.21 +- 6.26 (abstract)
    assert (ref.mean_pct, ref.sd_pct, ref.sex) == (16.21, 6.26, "male")
    assert z == pytest.approx((20.0 - 16.21) / 6.26)
    assert "Si 2023" in note and "L1-L5" in note
    note, ref, _ = _cmp(30.0, muscle="autochthon", level="L5", levels_covered=["L4", "L5"])
    assert "Crawford 2016" in note and (ref.mean_pct, ref.sd_pct) == (25.7, 8.0)
    note, ref, _ = _cmp(30.0, muscle="autochthon", level="L5", level_names="assumed")
    assert ref is not None and note.startswith("level names assumed")
    # a per-level reference needs the whole level, not one cut by the field of view
    note, ref, _ = _cmp(30.0, muscle="autochthon", level="L5", truncated_levels=["L5"])
    assert ref is None and "L5 is cut by the field of view" in note
    # Crawford's volunteers were 20-62: a 65-year-old is not compared even at L5
    note, ref, _ = _cmp(30.0, muscle="autochthon", level="L5", age=65.0)
    assert ref is None and "20-62" in note


@pytest.fixture(scope="module")
def lumbar():
    from spinestab.imaging.phantom import make_phantom

    ph = make_phantom(levels=L1_L5, pixel_mm=2.0, shape_xy=(160, 120), slices_per_vertebra=3)
    lv = levels_from_instances(ph.vertebrae, get_scheme("spineps_vert"), ph.mask)
    return ph, lv


def test_span_reference_uses_the_span_slices_when_the_image_reaches_beyond():
    covered = ["T12", *L1_L5, "S1"]
    note, ref, _ = _cmp(30.0, levels_covered=covered)
    assert ref is None and "levels covered: T12-S1" in note
    note, ref, z = _cmp(30.0, levels_covered=covered, span_values={"L1-L5": 18.0})
    assert ref is not None and z == pytest.approx((18.0 - 16.21) / 6.26)
    assert "L1-L5 slices only: 18.0 %" in note
    note, ref, _ = _cmp(30.0, levels_covered=["L2", "L3", "L4", "L5"], span_values={"L1-L5": 1.0})
    assert ref is None and "levels covered: L2-L5" in note  # L1 missing: no span mean


def _hand_ff(ph, fat, value, slices):
    """Voxel-weighted Dixon fat (%) of one label over some slices, by hand."""
    from spinestab.imaging.io import slice_axis

    assert slice_axis(ph.mask.affine) == 2  # LPS phantom: slices along the third axis
    sel = (ph.mask.data == value) & np.asarray(slices)[None, None, :]
    return 100.0 * float(np.nanmean(fat.fraction[sel]))


def test_measure_compares_the_l1_l5_slices_of_a_dixon_study(lumbar):
    ph, lv = lumbar
    fat = dixon_fat_fraction(ph.water.data, ph.fat.data)
    q = measure(
        ph.water,
        ph.mask,
        get_scheme("musclemap"),
        levels=lv,
        fat=fat,
        options=MeasureOptions(sex="female", age=40, derive_autochthon=True),
    )
    assert lv.levels[0] == "" and lv.levels[-1] == ""  # margin slices: muscle, no level
    row = q.row("multifidus", "left", "all")
    in_span = np.asarray([n in L1_L5 for n in lv.levels])
    span_ff = _hand_ff(ph, fat, 2, in_span)
    assert span_ff != pytest.approx(row.fat_fraction_pct, abs=1e-6)  # margins change the mean
    assert row.reference_mean_pct == 21.14 and "Si 2023" in row.reference_note
    assert row.reference_z == pytest.approx((span_ff - 21.14) / 6.77, rel=1e-6)
    assert "L1-L5 slices only" in row.reference_note
    auto = q.row("autochthon", "right", "L5")
    assert auto.reference_mean_pct == 31.9 and "Crawford 2016" in auto.reference_note
    assert math.isnan(q.row("multifidus", "left", "L3").reference_mean_pct)  # no L3 table
    assert "not compared" in q.row("psoas", "left", "all").reference_note
    # the same voxels as a PDFF map: another method, never compared with Dixon FSF
    pdff = pdff_passthrough(np.nan_to_num(fat.fraction))
    q2 = measure(
        ph.water,
        ph.mask,
        get_scheme("musclemap"),
        levels=lv,
        fat=pdff,
        options=MeasureOptions(sex="female", age=40),
    )
    assert "not pdff" in q2.row("multifidus", "left", "all").reference_note


def test_measure_refuses_the_span_when_a_level_is_cut(lumbar):
    ph, lv = lumbar
    fat = dixon_fat_fraction(ph.water.data, ph.fat.data)
    # L1 at the edge of the field of view: the L1-L5 mean would be biased
    cut = SliceLevels((*lv.levels[:-1], "L1"), lv.method)
    male30 = MeasureOptions(sex="male", age=30)
    q = measure(ph.water, ph.mask, get_scheme("musclemap"), levels=cut, fat=fat, options=male30)
    assert "L1 cut by the field of view" in q.row("erector_spinae", "right", "all").reference_note
