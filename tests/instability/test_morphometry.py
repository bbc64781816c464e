"""Six-point morphometry on analytic vertebrae with known heights (every deformity type at and
around the 20/25/40 % Genant limits, rotated films, non-square pixels, px and mm), the
Hypothesis invariance of the losses, unknown losses, and the rules file."""

from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinestab.errors import InputError
from spinestab.instability.morphometry import (
    body_heights,
    height_losses,
    measure_morphometry,
)
from spinestab.instability.morphometry_rules import load_morphometry_rules
from spinestab.instability.phantom import analytic_vertebrae, to_pixels, transform

HP = 25.0  # posterior height of the normal neighbours, mm


def _heights(kind, loss_pct, hp=HP):
    """(Ha, Hm, Hp) of a body with ``loss_pct`` of the given type (the others smaller)."""
    f = 1 - loss_pct / 100
    if kind == "wedge":
        return (hp * f, hp * (1 + f) / 2, hp)  # middle between: biconcave loss = loss / 2
    if kind == "biconcave":
        return (hp, hp * f, hp)
    return (hp * f, hp * f, hp * f)  # crush: the whole body, against the neighbours


def _film(kind, loss_pct, level="L2"):
    neighbours = {"T12": (HP, HP, HP), "L1": (HP, HP, HP), "L3": (HP, HP, HP)}
    order = ["T12", "L1", "L2", "L3"]
    heights = {lv: _heights(kind, loss_pct) if lv == level else neighbours[lv] for lv in order}
    return analytic_vertebrae(heights, depth_mm=38.0)


# (loss %, expected grade): at, just below and just above each limit
CASES = [
    (0.0, 0),
    (19.9, 0),
    (20.0, 1),
    (20.1, 1),
    (24.9, 1),
    (25.0, 2),
    (25.1, 2),
    (39.9, 2),
    (40.0, 2),
    (40.1, 3),
    (55.0, 3),
]
FILMS = {
    "mm": lambda ls: ls,
    "mm rotated mirrored": lambda ls: transform(
        ls, rotation_deg=123.0, shift=(-40.0, 250.0), mirror=True
    ),
    "px square": lambda ls: to_pixels(
        transform(ls, rotation_deg=-17.0, shift=(300.0, 80.0)), pixel_spacing_mm=(0.14, 0.14)
    ),
    "px anisotropic": lambda ls: to_pixels(
        transform(ls, rotation_deg=31.0, shift=(60.0, 400.0)), pixel_spacing_mm=(0.1, 0.25)
    ),
}


@pytest.mark.parametrize("film", list(FILMS))
@pytest.mark.parametrize("kind", ["wedge", "biconcave", "crush"])
@pytest.mark.parametrize(("loss", "grade"), CASES)
def test_analytic_vertebra_heights_type_and_grade(kind, loss, grade, film):
    ls = FILMS[film](_film(kind, loss))
    report = measure_morphometry(ls)
    rec = report.record("L2")
    ha, hm, hp = _heights(kind, loss)
    assert rec.anterior_height_mm == pytest.approx(ha, abs=0.1)
    assert rec.middle_height_mm == pytest.approx(hm, abs=0.1)
    assert rec.posterior_height_mm == pytest.approx(hp, abs=0.1)
    losses = {"wedge": rec.wedge_loss_pct, "biconcave": rec.biconcave_loss_pct}
    losses["crush"] = rec.crush_loss_pct
    assert losses[kind] == pytest.approx(loss, abs=1e-6)
    assert rec.height_loss_pct == pytest.approx(loss, abs=1e-6)
    assert rec.genant_grade == grade
    assert rec.deformity == (kind if grade else "none")
    # the neighbours are normal, whatever the film
    for level in ("T12", "L1", "L3"):
        other = report.record(level)
        assert other.genant_grade == 0 and other.deformity == "none"


def test_hand_computed_record_and_json_keys():
    # L1: Ha 18, Hm 22, Hp 24; neighbours T12 Hp 26, L2 Hp 24 -> Hp_ref 25
    ls = analytic_vertebrae({"T12": (26, 26, 26), "L1": (18, 22, 24), "L2": (24, 24, 24)})
    rec = measure_morphometry(ls).record("L1")
    assert rec.wedge_loss_pct == pytest.approx(100 * (1 - 18 / 24))  # 25.0
    assert rec.biconcave_loss_pct == pytest.approx(100 * (1 - 22 / 24))  # 8.33
    assert rec.crush_loss_pct == pytest.approx(100 * (1 - 24 / 25))  # 4.0
    assert (rec.deformity, rec.genant_grade) == ("wedge", 2)
    assert list(rec.to_dict()) == [
        "level",
        "anterior_height_mm",
        "middle_height_mm",
        "posterior_height_mm",
        "wedge_loss_pct",
        "biconcave_loss_pct",
        "crush_loss_pct",
        "height_loss_pct",
        "deformity",
        "genant_grade",
        "flags",
    ]


def test_without_mid_points_the_biconcave_loss_is_unknown_not_zero():
    heights = {"L1": (HP, None, HP), "L2": (HP * 0.78, None, HP), "L3": (HP, None, HP)}
    report = measure_morphometry(analytic_vertebrae(heights))
    rec = report.record("L2")
    assert rec.middle_height_mm is None and rec.biconcave_loss_pct is None
    assert "biconcave_unknown" in rec.flags and "grade_lower_bound" in rec.flags
    assert (rec.deformity, rec.genant_grade) == ("wedge", 1)  # from the losses measured
    data = report.to_dict()
    assert data["vertebrae"][1]["biconcave_loss_pct"] is None
    assert "biconcave_unknown" in data["flag_meanings"]


def test_crush_needs_a_neighbour_on_the_same_film():
    report = measure_morphometry(analytic_vertebrae({"L2": (20.0, 20.0, 20.0)}))
    rec = report.record("L2")
    assert rec.crush_loss_pct is None
    assert "crush_unknown" in rec.flags and "grade_lower_bound" in rec.flags
    assert rec.genant_grade == 0  # the shape alone is normal; a lower bound
    # a non-adjacent vertebra is no reference
    rec = measure_morphometry(
        analytic_vertebrae({"L1": (HP, HP, HP), "L3": (15.0, 15.0, 15.0)})
    ).record("L3")
    assert rec.crush_loss_pct is None


def test_deformed_reference_is_flagged():
    heights = {"L1": (HP * 0.7, HP, HP), "L2": (HP, HP, HP), "L3": (HP, HP, HP)}
    rec = measure_morphometry(analytic_vertebrae(heights)).record("L2")
    assert "crush_reference_deformed" in rec.flags
    assert "crush_reference_deformed" not in (
        measure_morphometry(analytic_vertebrae(heights)).record("L1").flags
    )


def test_px_without_spacing_gives_losses_but_no_mm():
    ls = transform(_film("wedge", 30.0), scale=7.0, units="px", magnification_known=False)
    rec = measure_morphometry(ls).record("L2")
    assert rec.anterior_height_mm is None and rec.posterior_height_mm is None
    assert rec.wedge_loss_pct == pytest.approx(30.0)
    assert rec.genant_grade == 2 and "no_mm_scale" in rec.flags


def test_magnification_and_genant_levels_flagged():
    ls = to_pixels(_film("crush", 10.0), pixel_spacing_mm=(0.15, 0.15))
    rec = measure_morphometry(ls).record("L2")
    assert "magnification_unknown" not in rec.flags  # the phantom is calibrated
    uncal = transform(ls, magnification_known=False, pixel_spacing_mm=(0.15, 0.15))
    assert "magnification_unknown" in measure_morphometry(uncal).record("L2").flags
    cervical = analytic_vertebrae({"C4": (14, 14, 14), "C5": (10, 14, 14), "C6": (14, 14, 14)})
    rec = measure_morphometry(cervical).record("C5")
    assert "outside_genant_levels" in rec.flags and rec.genant_grade == 2


def test_missing_endplate_and_bad_corners_are_withheld():
    ls = _film("wedge", 0.0)
    broken = dict(ls.vertebrae)
    arr = broken["L1"].copy()
    arr[[2, 3]] = np.nan  # no inferior endplate
    broken["L1"] = arr
    swapped = broken["L3"].copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # AS and PS swapped: the outline crosses itself
    broken["L3"] = swapped
    report = measure_morphometry(
        type(ls)(view="neutral", units="mm", vertebrae=broken, midpoints=ls.midpoints)
    )
    assert report.record("L1").flags == ("endplate_missing",)
    assert report.record("L1").genant_grade is None
    assert report.record("L3").flags == ("withheld_quality",)
    assert any(q.level == "L3" and q.severity == "error" for q in report.quality)


def test_mid_point_outside_its_endplate_is_flagged():
    ls = _film("wedge", 0.0)
    mids = dict(ls.midpoints)
    moved = mids["L2"].copy()
    moved[0, 0] = 60.0  # beyond the anterior corner (depth 38 mm)
    mids["L2"] = moved
    report = measure_morphometry(
        type(ls)(view="neutral", units="mm", vertebrae=ls.vertebrae, midpoints=mids)
    )
    assert "mid_point_off_endplate" in report.record("L2").flags


@settings(max_examples=80, deadline=None)
@given(
    ha=st.floats(8, 30),
    hm=st.floats(8, 30),
    hp=st.floats(8, 30),
    ref=st.floats(8, 30),
    rotation=st.floats(-180, 180),
    scale=st.floats(0.05, 50),
    dx=st.floats(-1e3, 1e3),
    dy=st.floats(-1e3, 1e3),
    mirror=st.booleans(),
)
def test_losses_invariant_under_rotation_translation_scaling_mirroring(
    ha, hm, hp, ref, rotation, scale, dx, dy, mirror
):
    ls = analytic_vertebrae({"L1": (ref, ref, ref), "L2": (ha, hm, hp), "L3": (ref, ref, ref)})
    moved = transform(
        ls, rotation_deg=rotation, scale=scale, shift=(dx, dy), mirror=mirror, units="px"
    )
    a, b = measure_morphometry(ls).record("L2"), measure_morphometry(moved).record("L2")
    for key in ("wedge_loss_pct", "biconcave_loss_pct", "crush_loss_pct", "height_loss_pct"):
        assert getattr(b, key) == pytest.approx(getattr(a, key), abs=1e-6), key
    assert (a.deformity, a.genant_grade) == (b.deformity, b.genant_grade)


@settings(max_examples=40, deadline=None)
@given(
    row=st.floats(0.05, 1.0),
    col=st.floats(0.05, 1.0),
    rotation=st.floats(-180, 180),
    ha=st.floats(10, 30),
    hm=st.floats(10, 30),
)
def test_non_square_pixels_give_the_true_heights(row, col, rotation, ha, hm):
    ls = transform(
        analytic_vertebrae({"L1": (ha, hm, 25.0)}), rotation_deg=rotation, shift=(500, 500)
    )
    rec = measure_morphometry(to_pixels(ls, pixel_spacing_mm=(row, col))).record("L1")
    assert rec.anterior_height_mm == pytest.approx(ha, abs=1e-6)
    assert rec.middle_height_mm == pytest.approx(hm, abs=1e-6)
    assert rec.posterior_height_mm == pytest.approx(25.0, abs=1e-6)


def test_pure_functions_broadcast():
    ls = _film("biconcave", 30.0)
    corners = np.stack(list(ls.vertebrae.values()))
    mids = np.stack([ls.midpoints[lv] for lv in ls.vertebrae])
    heights = body_heights(corners, mids)
    assert heights.shape == (4, 3)
    assert heights[2] == pytest.approx([HP, HP * 0.7, HP])
    losses = height_losses(heights, np.full(4, HP))
    assert losses[2] == pytest.approx([0.0, 30.0, 0.0])


def test_rules_file_changes_the_bands_and_is_validated(tmp_path):
    rules = load_morphometry_rules()
    assert [(b.grade, b.op, b.value) for b in rules.bands] == [
        (1, ">=", 20.0),
        (2, ">=", 25.0),
        (3, ">", 40.0),
    ]
    assert rules.evidence == "V" and "Genant" in rules.source
    text = resources.files("spinestab.instability").joinpath("morphometry.yaml").read_text()
    custom = tmp_path / "rules.yaml"
    custom.write_text(text.replace("value: 20.0", "value: 15.0"))
    strict = load_morphometry_rules(custom)
    rec = measure_morphometry(_film("wedge", 17.0), rules=strict).record("L2")
    assert rec.genant_grade == 1
    assert measure_morphometry(_film("wedge", 17.0)).record("L2").genant_grade == 0
    for bad, match in (
        (text.replace("value: 25.0", "value: 18.0"), "rise with the grade"),
        (text.replace("evidence: V\n  boundaries", "evidence: X\n  boundaries"), "evidence"),
        (text.replace("{grade: 3,", "{grade: 2,"), "1, 2, 3 once each"),
        (text.replace("value: 40.0", "value: 140.0"), "at most 100"),
        ("genant: {}\n", "losses block missing"),
    ):
        custom.write_text(bad)
        with pytest.raises(InputError, match=match):
            load_morphometry_rules(custom)
