"""Morphometry from vertebra masks: rasterised analytic bodies with known heights (wedge,
crush, biconcave) and the real TPTBox CT (L2-L4) and sagittal MR (C5-C7) masks, whose
whole bodies (L3, C6) are normal (Apache-2.0, tests/data/instability)."""

from pathlib import Path

import numpy as np
import pytest

from spinestab.instability.corners import trace_midpoints
from spinestab.instability.landmarks import AI, AS, PI, PS
from spinestab.instability.masks import corners_from_label_array, corners_from_masks
from spinestab.instability.morphometry import measure_morphometry
from spinestab.instability.phantom import analytic_vertebrae, build_spine, rasterise_spine

pytest.importorskip("nibabel")
pytest.importorskip("scipy")

DATA = Path(__file__).parents[1] / "data" / "instability"
LEVELS = ("T12", "L1", "L2", "L3", "L4")
CONCAVITY = {"T12": 1.0, "L1": 0.0, "L2": 0.0, "L3": 4.0, "L4": 1.5}
EXPECTED = {  # level: (deformity, grade) of the construction below
    "T12": ("none", 0),
    "L1": ("wedge", 2),  # 11 deg anterior wedge on a 40 mm body: 28 %
    "L2": ("crush", 2),  # 20 mm against 27 mm neighbours: 25.9 %
    "L3": ("biconcave", 2),  # two 4 mm bowls in 27 mm: 29.6 %
    "L4": ("none", 0),
}


def _spine():
    return build_spine(
        levels=LEVELS,
        height_mm=[26, 27, 20, 27, 27],
        wedge_deg=[0, -11, 0, 0, 3],
        angle_deg=[2, 4, 6, 8],
        disc_posterior_mm=8,
        sacral_slope_deg=20,
    )


def _truth(spine, level):
    q = spine.vertebrae[level]
    top, bottom = (q[AS] + q[PS]) / 2, (q[AI] + q[PI]) / 2
    hm = np.linalg.norm(top - bottom) - 2 * CONCAVITY[level]
    return np.linalg.norm(q[AS] - q[AI]), hm, np.linalg.norm(q[PS] - q[PI])


@pytest.mark.parametrize(("voxel", "tolerance"), [(0.5, 0.4), (1.0, 0.8), (1.5, 1.0)])
def test_rasterised_bodies_give_their_heights_and_grades(voxel, tolerance):
    spine = _spine()
    labels = {lv: 19 + i for i, lv in enumerate(LEVELS)}
    volume, affine = rasterise_spine(spine, voxel_mm=voxel, labels=labels, concavity_mm=CONCAVITY)
    ls = corners_from_label_array(
        volume, affine, mapping={v: k for k, v in labels.items()}, midpoints=True
    )
    report = measure_morphometry(ls)
    for level in LEVELS:
        rec = report.record(level)
        ha, hm, hp = _truth(spine, level)
        # heights within a fraction of a voxel (linefit corners, sub-voxel mid-points)
        assert rec.anterior_height_mm == pytest.approx(ha, abs=tolerance), level
        assert rec.middle_height_mm == pytest.approx(hm, abs=tolerance), level
        assert rec.posterior_height_mm == pytest.approx(hp, abs=tolerance), level
        assert (rec.deformity, rec.genant_grade) == EXPECTED[level], level
        assert "biconcave_unknown" not in rec.flags


def test_trace_midpoints_on_a_bowl():
    # a 40 x 27 mm body on a 0.25 mm grid with 3 mm bowls at the middle of both endplates
    step = 0.25
    u = np.arange(0, 60, step)
    v = np.arange(0, 50, step)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    t = (uu - 10) / 40
    bowl = np.where((t > 0.15) & (t < 0.85), np.sin(np.pi * (t - 0.15) / 0.7) ** 2 * 3.0, 0)
    inside = (t >= 0) & (t <= 1) & (vv >= 10 + bowl) & (vv <= 37 - bowl)
    corners = np.array([[50.0, 37.0], [10.0, 37.0], [10.0, 10.0], [50.0, 10.0]])
    mids = trace_midpoints(inside.astype(float), np.eye(2) * step, np.zeros(2), corners)
    assert mids[0] == pytest.approx([30.0, 34.0], abs=step / 2)
    assert mids[1] == pytest.approx([30.0, 13.0], abs=step / 2)


@pytest.mark.parametrize(
    ("folder", "scheme", "normal"),
    [
        ("tptbox_ct_L2-L4/sub-ct_seg-vert_label-22_msk.nii.gz", "spineps", "L3"),
        ("tptbox_mri_C5-C7/sub-mri_seg-vert_label-6_msk.nii.gz", "tptbox", "C6"),
    ],
)
def test_real_masks_give_grade_0_for_the_normal_whole_body(folder, scheme, normal):
    for method in ("linefit", "extremes"):
        ls = corners_from_masks(DATA / folder, labels=scheme, midpoints=True, method=method)
        report = measure_morphometry(ls)
        rec = report.record(normal)
        assert rec.genant_grade == 0 and rec.deformity == "none", (method, rec)
        assert rec.middle_height_mm is not None and rec.crush_loss_pct is None
        assert 0 < rec.middle_height_mm <= max(rec.anterior_height_mm, rec.posterior_height_mm)
        # the bodies cut by the field of view get no heights, and say why
        others = [v for v in report.vertebrae if v.level != normal]
        assert others and all(v.flags == ("endplate_missing",) for v in others)


def test_grade_within_one_voxel_of_a_limit_is_flagged():
    # the 3 mm TotalSegmentator CT: L1 is wedge-shaped in the mask (about 23 %, grade 1),
    # within one voxel (3 mm of a 31 mm posterior height, about 10 %) of the 20 and 25 % limits
    # the imaging tests' copy of the TotalSegmentator example (Apache-2.0, SOURCE.md there)
    seg = Path(__file__).parents[1] / "data/imaging/totalsegmentator/example_seg.nii.gz"
    report = measure_morphometry(corners_from_masks(seg, labels="totalsegmentator", midpoints=True))
    assert report.resolution_mm == pytest.approx(3.0)
    rec = report.record("L1")
    assert rec.genant_grade == 1 and rec.deformity == "wedge"
    assert "near_grade_limit" in rec.flags
    # the 1.5 mm TPTBox CT: L3 (10 %) is more than a voxel (about 6 %) below 20 %
    ct = corners_from_masks(DATA / "tptbox_ct_L2-L4/sub-ct_seg-vert_label-22_msk.nii.gz")
    assert "near_grade_limit" not in measure_morphometry(ct).record("L3").flags
    # placed landmarks have no grid: never flagged, whatever the loss
    heights = {"L1": (25, 25, 25), "L2": (20, 20, 25), "L3": (25, 25, 25)}
    rec = measure_morphometry(analytic_vertebrae(heights)).record("L2")
    assert rec.height_loss_pct == pytest.approx(20.0) and "near_grade_limit" not in rec.flags
