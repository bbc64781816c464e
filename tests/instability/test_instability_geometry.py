"""Analytic vertebrae with known slip, translation and rotation: exact within 0.1 mm / 0.1 deg."""

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.instability import assess
from spinestab.instability.geometry import meyerding_grade, signed_angle_deg, slip
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet
from spinestab.instability.phantom import build_spine, transform

LEVELS = ("L1", "L2", "L3", "L4", "L5", "S1")
SEGMENTS = ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
WEDGE = [1.0, 1.5, 2.0, 2.5, 4.0, 0.0]


def test_hand_computed_slip_on_a_square():
    # lower body superior endplate from (0, 0) to (40, 0); upper PI 6 mm forward, 8 mm up
    d, pct, depth = slip(np.array([6.0, 8.0]), np.array([0.0, 0.0]), np.array([40.0, 0.0]))
    assert (d, pct, depth) == (6.0, 15.0, 40.0)
    # a 10 deg lordotic upper endplate (anterior end higher)
    vec = np.array([np.cos(np.radians(10)), np.sin(np.radians(10))])
    assert signed_angle_deg(vec, np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(10)
    # same picture drawn with y down (image rows): the sign must not change
    assert signed_angle_deg(
        vec * [1, -1], np.array([1.0, 0.0]), np.array([0.0, -1.0])
    ) == pytest.approx(10)


@pytest.mark.parametrize(
    ("pct", "grade"),
    [
        (0.0, 1),
        (25.0, 1),
        (25.01, 2),
        (50.0, 2),
        (50.5, 3),
        (75.0, 3),
        (76.0, 4),
        (100.0, 4),
        (100.1, 5),
        (-30.0, 2),
    ],
)
def test_meyerding_bands(pct, grade):
    # Meyerding table, CLINICAL_LOGIC.md §4.1: I 0-25, II 26-50, III 51-75, IV 76-100, V >100
    assert meyerding_grade(pct) == grade


@pytest.mark.parametrize("rotation", [0.0, 17.0, -70.0, 180.0])
@pytest.mark.parametrize("mirror", [False, True])
def test_known_slip_translation_rotation_exact(rotation, mirror):
    slips_n = [0.0, -2.0, 1.0, 6.0, 2.5]
    slips_f = [0.5, -1.0, 2.0, 9.5, 3.0]
    slips_e = [0.0, -2.5, 0.5, 3.0, 2.0]
    ang_n = [5.0, 6.0, 8.0, 10.0, 14.0]
    ang_f = [1.0, 2.0, 3.0, 0.0, 10.0]
    ang_e = [8.0, 9.0, 12.0, 21.5, 16.0]
    discs = [8.0, 9.0, 10.0, 7.5, 11.0]
    kw = dict(
        levels=LEVELS, wedge_deg=WEDGE, disc_posterior_mm=discs, depth_mm=[36, 38, 40, 42, 44, 46]
    )
    views = {
        "neutral": build_spine(slip_mm=slips_n, angle_deg=ang_n, **kw),
        "flexion": build_spine(slip_mm=slips_f, angle_deg=ang_f, view="flexion", **kw),
        "extension": build_spine(slip_mm=slips_e, angle_deg=ang_e, view="extension", **kw),
    }
    views = {
        k: transform(v, rotation_deg=rotation + 5 * i, shift=(120.0 * i, -40.0), mirror=mirror)
        for i, (k, v) in enumerate(views.items())
    }
    report = assess(**views)
    depths = [38, 40, 42, 44, 46]  # lower superior endplate of each segment
    for i, seg in enumerate(SEGMENTS):
        rec = report.record(seg)
        assert rec["slip_mm"] == pytest.approx(slips_n[i], abs=0.01)
        assert rec["slip_pct"] == pytest.approx(100 * slips_n[i] / depths[i], abs=0.01)
        assert rec["translation_mm"] == pytest.approx(slips_f[i] - slips_e[i], abs=0.01)
        assert rec["translation_pct"] == pytest.approx(
            100 * (slips_f[i] - slips_e[i]) / depths[i], abs=0.01
        )
        assert rec["angulation_deg"] == pytest.approx(ang_e[i] - ang_f[i], abs=0.01)
        assert rec["segmental_angle_deg"] == pytest.approx(ang_n[i], abs=0.01)
        assert rec["disc_height_posterior_mm"] == pytest.approx(discs[i], abs=0.01)
        assert rec["endplate_depth_mm"] == pytest.approx(depths[i], abs=0.01)
    # lordosis L1-S1 = sum of segmental angles + wedge of L1..L5 (angles add in the plane)
    by_view = report.lordosis["by_view"]
    assert by_view["neutral"] == pytest.approx(sum(ang_n) + sum(WEDGE[:5]), abs=0.01)
    assert by_view["flexion"] == pytest.approx(sum(ang_f) + sum(WEDGE[:5]), abs=0.01)
    assert not [q for q in report.quality if q.severity == "error"]


def test_anterior_disc_height_matches_trigonometry():
    # upper inferior endplate rotated by a about its PI corner, which sits h above the line:
    # anterior height = h + depth * sin(a)
    spine = build_spine(
        levels=("L4", "L5"),
        slip_mm=[0.0],
        angle_deg=[12.0],
        disc_posterior_mm=[6.0],
        depth_mm=[40.0, 40.0],
    )
    rec = assess(neutral=spine).record("L4-L5")
    expected = 6 + 40 * np.sin(np.radians(12))
    assert rec["disc_height_anterior_mm"] == pytest.approx(expected, abs=0.01)
    assert rec["disc_height_anterior_pct"] == pytest.approx(100 * expected / 40, abs=0.02)


def test_pixels_with_anisotropic_spacing_give_the_mm_truth():
    spine = build_spine(slip_mm=[0, 1, 2, 7, 3], angle_deg=[4, 6, 9, 11, 15], wedge_deg=WEDGE)
    spacing = (0.2, 0.125)  # row (y) mm, column (x) mm
    px = {lv: arr / np.array([spacing[1], spacing[0]]) for lv, arr in spine.vertebrae.items()}
    as_px = LandmarkSet(
        view="neutral",
        units="px",
        vertebrae=px,
        pixel_spacing_mm=spacing,
        vertebra_units={lv: "px" for lv in px},
        magnification_known=True,
    )
    a, b = assess(neutral=spine), assess(neutral=as_px)
    for seg in SEGMENTS:
        for key in ("slip_mm", "slip_pct", "segmental_angle_deg", "disc_height_anterior_mm"):
            assert b.record(seg)[key] == pytest.approx(a.record(seg)[key], abs=0.01), (seg, key)


def test_vertebra_measures_and_s1_without_inferior_corners():
    spine = build_spine(height_mm=28.0, wedge_deg=WEDGE, depth_mm=40.0)
    report = assess(neutral=spine)
    rows = {r["level"]: r for r in report.vertebrae}
    assert rows["L3"]["posterior_height_mm"] == pytest.approx(28.0, abs=0.01)
    assert rows["L3"]["wedge_deg"] == pytest.approx(2.0, abs=0.01)
    # anterior height of a wedge: law of cosines on the quadrilateral is not needed; the
    # superior endplate turns by w about PS, so AS-AI = |PS + D e_s - (PI + D e_i)|
    w = np.radians(2.0)
    e_i, e_s = np.array([1.0, 0.0]), np.array([np.cos(w), np.sin(w)])
    expected = np.linalg.norm(np.array([0, 28.0]) + 40 * e_s - 40 * e_i)
    assert rows["L3"]["anterior_height_mm"] == pytest.approx(expected, abs=0.01)
    assert rows["S1"]["inferior_endplate_depth_mm"] is None
    assert np.isnan(spine.vertebrae["S1"][[PI, AI]]).all()
    assert not np.isnan(spine.vertebrae["S1"][[AS, PS]]).any()


def test_negative_slip_is_retrolisthesis_and_grade_uses_magnitude():
    spine = build_spine(levels=("L4", "L5"), slip_mm=[-12.0], depth_mm=[40.0, 40.0])
    rec = assess(neutral=spine).record("L4-L5")
    assert rec["slip_mm"] == pytest.approx(-12.0) and rec["listhesis"] == "retrolisthesis"
    assert rec["meyerding_grade"] == 2  # |-30 %|


def test_high_grade_slip():
    spine = build_spine(levels=("L5", "S1"), slip_mm=[26.0], depth_mm=[40.0, 40.0])
    rec = assess(neutral=spine).record("L5-S1")
    assert rec["slip_pct"] == pytest.approx(65.0) and rec["meyerding_grade"] == 3
    assert rec["listhesis"] == "anterolisthesis"


# --- posterior-wall method (CLINICAL_LOGIC.md §4.3, Morgan-King / Boden-Wiesel style [R]) ---


def test_posterior_wall_slip_by_hand():
    from spinestab.instability.geometry import slip, slip_posterior_wall

    # lower body: 40 x 27 mm rectangle, superior endplate on y = 0
    l_ps, l_as, l_pi = np.array([0.0, 0.0]), np.array([40.0, 0.0]), np.array([0.0, -27.0])
    # upper body: PI 5 mm forward, 8 mm up; its posterior wall leans back by 10 deg
    th = np.radians(10.0)
    u_pi = np.array([5.0, 8.0])
    u_ps = u_pi + 27.0 * np.array([-np.sin(th), np.cos(th)])
    d, pct, depth = slip_posterior_wall(u_ps, u_pi, l_ps, l_as, l_pi)
    # the upper wall line meets y = 0 at x = 5 + 8 tan(10 deg); the lower wall is x = 0
    assert d == pytest.approx(5.0 + 8.0 * np.tan(th), abs=1e-9)
    assert pct == pytest.approx(100 * d / 40.0) and depth == 40.0
    assert slip(u_pi, l_ps, l_as)[0] == pytest.approx(5.0)  # the corner method
    # a lower wall leaning forward by 5 deg: distance perpendicular to that wall
    l_pi2 = l_ps + 27.0 * np.array([-np.sin(np.radians(5)), -np.cos(np.radians(5))])
    d2, _, _ = slip_posterior_wall(u_ps, u_pi, l_ps, l_as, l_pi2)
    assert d2 == pytest.approx((5.0 + 8.0 * np.tan(th)) * np.cos(np.radians(5)), abs=1e-9)
    # S1 without inferior corners: the lower wall is taken perpendicular to its endplate
    d3, _, _ = slip_posterior_wall(u_ps, u_pi, l_ps, l_as, np.array([np.nan, np.nan]))
    assert d3 == pytest.approx(d, abs=1e-9)


@pytest.mark.parametrize(("rotation", "mirror"), [(0.0, False), (137.0, True), (-60.0, False)])
def test_posterior_wall_method_on_an_analytic_spine(rotation, mirror):
    # rectangular bodies (no wedge): the upper wall is perpendicular to the upper inferior
    # endplate, so the wall distance is slip + posterior disc height * tan(segmental angle)
    slips, angles, discs = [1.0, 6.0, -2.0], [4.0, 9.0, 14.0], [7.0, 8.0, 9.0]
    levels = ("L3", "L4", "L5", "S1")
    spine = build_spine(
        levels=levels, slip_mm=slips, angle_deg=angles, disc_posterior_mm=discs, depth_mm=40.0
    )
    spine = transform(spine, rotation_deg=rotation, mirror=mirror, shift=(50.0, -20.0))
    report = assess(neutral=spine, translation_method="posterior-wall")
    out = report.to_dict()
    assert out["translation_method_id"] == "posterior-wall"
    assert "Morgan-King" in out["translation_method"]
    for i, seg in enumerate(("L3-L4", "L4-L5", "L5-S1")):
        want = slips[i] + discs[i] * np.tan(np.radians(angles[i]))
        rec = report.record(seg)
        assert rec["slip_mm"] == pytest.approx(want, abs=0.01), seg
        assert rec["slip_pct"] == pytest.approx(100 * want / 40.0, abs=0.01), seg
    corner = assess(neutral=spine).to_dict()
    assert corner["translation_method_id"] == "corner"
    assert [r["slip_mm"] for r in corner["levels"]] == pytest.approx(slips, abs=0.01)


def test_posterior_wall_translation_from_a_dynamic_pair():
    levels = ("L4", "L5", "S1")
    kw = dict(levels=levels, depth_mm=40.0, disc_posterior_mm=[8.0, 8.0])
    flex = build_spine(slip_mm=[6.0, 1.0], angle_deg=[2.0, 8.0], view="flexion", **kw)
    ext = build_spine(slip_mm=[3.0, 1.0], angle_deg=[12.0, 14.0], view="extension", **kw)
    rec = assess(flexion=flex, extension=ext, translation_method="posterior-wall").record("L4-L5")
    want = (6.0 + 8.0 * np.tan(np.radians(2.0))) - (3.0 + 8.0 * np.tan(np.radians(12.0)))
    assert rec["translation_mm"] == pytest.approx(want, abs=0.01)
    assert rec["angulation_deg"] == pytest.approx(10.0, abs=0.01)
    with pytest.raises(InputError, match="unknown translation method"):
        assess(flexion=flex, extension=ext, translation_method="taillard")
