"""Corners from vertebra masks: a rasterised analytic spine (known truth) and the real
TPTBox CT L2-L4 masks (SPINEPS format, Apache-2.0, tests/data/instability)."""

from pathlib import Path

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.instability import assess
from spinestab.instability.landmarks import AI, AS, PI, PS
from spinestab.instability.masks import (
    corners_from_label_array,
    corners_from_masks,
    label_map,
)
from spinestab.instability.phantom import build_spine, rasterise_spine, transform

nib = pytest.importorskip("nibabel")
pytest.importorskip("scipy")

DATA = Path(__file__).parents[1] / "data" / "instability" / "tptbox_ct_L2-L4"
# the imaging engineer's copy of the TotalSegmentator example (read only; Apache-2.0, see
# tests/data/imaging/SOURCE.md); ../shared is the fallback
TS_SEG = Path(__file__).parents[1] / "data" / "imaging" / "totalsegmentator" / "example_seg.nii.gz"
if not TS_SEG.is_file():
    TS_SEG = (
        Path(__file__).parents[3]
        / "shared"
        / "data"
        / "imaging"
        / "totalsegmentator_ct_abdomen"
        / "example_seg.nii.gz"
    )
VERT = DATA / "sub-ct_seg-vert_label-22_msk.nii.gz"
SUBREG = DATA / "sub-ct_seg-subreg_label-22_msk.nii.gz"
VOXEL = 0.5


def _inside(points, quad):
    """Points inside a convex quadrilateral (either winding)."""
    signs = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        signs.append((b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0]))
    signs = np.stack(signs)
    return np.all(signs >= 0, axis=0) | np.all(signs <= 0, axis=0)


def _rasterise(spine, *, arch=False, scheme="spineps"):
    """Label volume (RAS, 0.5 mm) of the spine's bodies, 5 slices thick; optional arches."""
    values = {v: k for k, v in label_map(scheme).items()}
    allpts = np.vstack([a[~np.isnan(a).any(axis=1)] for a in spine.vertebrae.values()])
    lo, hi = allpts.min(axis=0) - 30, allpts.max(axis=0) + 10
    ys = np.arange(lo[0], hi[0], VOXEL)  # anterior (world y)
    zs = np.arange(lo[1], hi[1], VOXEL)  # superior (world z)
    grid = np.stack(np.meshgrid(ys, zs, indexing="ij"), axis=-1).reshape(-1, 2)
    plane = np.zeros((len(ys), len(zs)), np.int16)
    for level, arr in spine.vertebrae.items():
        if np.isnan(arr).any():  # S1: give it a body below its superior endplate
            e = (arr[AS] - arr[PS]) / np.linalg.norm(arr[AS] - arr[PS])
            n = np.array([e[1], -e[0]])
            arr = arr.copy()
            arr[PI], arr[AI] = arr[PS] + 25 * n, arr[AS] + 25 * n
        inside = _inside(grid, arr).reshape(plane.shape)
        plane[inside] = values[level]
        if arch:  # a posterior element 6 mm behind the body, separate from it
            back = arr - 6.0 * (arr[AS] - arr[PS]) / np.linalg.norm(arr[AS] - arr[PS])
            small = back.copy()
            small[[AS, AI]] = back[[PS, PI]]
            small[[PS, PI]] = back[[PS, PI]] - 14.0 * (arr[AS] - arr[PS]) / np.linalg.norm(
                arr[AS] - arr[PS]
            )
            plane[_inside(grid, small).reshape(plane.shape)] = values[level]
    volume = np.repeat(plane[None], 5, axis=0)  # (x, y, z)
    affine = np.diag([VOXEL, VOXEL, VOXEL, 1.0])
    affine[:3, 3] = [-1.0, ys[0], zs[0]]
    return volume, affine


def _truth_spine():
    return build_spine(
        levels=("L2", "L3", "L4", "L5", "S1"),
        slip_mm=[1.0, 3.0, 8.0, 2.0],
        angle_deg=[4.0, 7.0, 9.0, 12.0],
        disc_posterior_mm=[8.0, 8.0, 9.0, 9.0],
        depth_mm=[38.0, 40.0, 42.0, 44.0, 46.0],
        wedge_deg=[1.0, 2.0, 2.0, 4.0, 0.0],
        height_mm=27.0,
    )


@pytest.mark.parametrize("arch", [False, True])
def test_rasterised_spine_recovers_known_geometry(arch):
    spine = _truth_spine()
    volume, affine = _rasterise(spine, arch=arch)
    derived = corners_from_label_array(volume, affine, mapping=label_map("spineps"))
    truth, got = assess(neutral=spine), assess(neutral=derived)
    for seg in ("L2-L3", "L3-L4", "L4-L5", "L5-S1"):
        t, g = truth.record(seg), got.record(seg)
        # pixelated outlines: corners within about one voxel
        assert g["slip_mm"] == pytest.approx(t["slip_mm"], abs=2 * VOXEL), seg
        assert g["endplate_depth_mm"] == pytest.approx(t["endplate_depth_mm"], abs=2 * VOXEL), seg
        assert g["segmental_angle_deg"] == pytest.approx(t["segmental_angle_deg"], abs=1.5), seg
        assert g["disc_height_posterior_mm"] == pytest.approx(
            t["disc_height_posterior_mm"], abs=2 * VOXEL
        ), seg


def test_orientation_of_the_voxel_grid_does_not_matter():
    spine = _truth_spine()
    volume, affine = _rasterise(spine)
    # re-store the same volume as PIR (like the TPTBox files): axes permuted and flipped
    pir = np.flip(np.transpose(volume, (1, 2, 0)), axis=(0, 1))
    aff = np.zeros((4, 4))
    aff[3, 3] = 1
    ny, nz = volume.shape[1], volume.shape[2]
    aff[1, 0] = -VOXEL  # i -> posterior
    aff[2, 1] = -VOXEL  # j -> inferior
    aff[0, 2] = VOXEL  # k -> right
    aff[:3, 3] = [affine[0, 3], affine[1, 3] + (ny - 1) * VOXEL, affine[2, 3] + (nz - 1) * VOXEL]
    a = corners_from_label_array(volume, affine, mapping=label_map("spineps"))
    b = corners_from_label_array(pir, aff, mapping=label_map("spineps"))
    for level in a.vertebrae:
        np.testing.assert_allclose(a.vertebrae[level], b.vertebrae[level], atol=1e-6)


def test_totalsegmentator_scheme():
    spine = _truth_spine()
    volume, affine = _rasterise(spine, arch=True, scheme="totalsegmentator")
    derived = corners_from_label_array(volume, affine, mapping=label_map("totalsegmentator"))
    assert derived.levels == ["L2", "L3", "L4", "L5", "S1"]
    rec = assess(neutral=derived).record("L4-L5")
    assert rec["slip_mm"] == pytest.approx(8.0, abs=1.0)


def test_tptbox_ct_l2_l4_physiological():
    ls = corners_from_masks(VERT)  # the seg-subreg file beside it is found by name
    assert "seg-subreg" in ls.source
    assert ls.levels == ["L2", "L3", "L4"]
    # L2 is cut at its top and L4 at its bottom by the field of view
    assert np.isnan(ls.vertebrae["L2"][[AS, PS]]).all()
    assert np.isnan(ls.vertebrae["L4"][[AI, PI]]).all()
    report = assess(neutral=ls, thresholds="white-panjabi-resting")
    depths = [
        v
        for row in report.vertebrae
        for v in (row["superior_endplate_depth_mm"], row["inferior_endplate_depth_mm"])
        if v is not None
    ]
    assert len(depths) == 4
    assert all(30.0 <= d <= 50.0 for d in depths), depths
    for seg in ("L2-L3", "L3-L4"):
        rec = report.record(seg)
        # supine CT, mid-lumbar: a small lordotic or near-neutral disc angle; the slip stays
        # below the resting-film limit (the L2 posterior wall lies about 3 mm behind L3's on
        # the mask itself, so a small retrolisthesis at L2-L3 is what the mask shows)
        assert -5.0 <= rec["segmental_angle_deg"] <= 20.0, rec
        assert abs(rec["slip_mm"]) < 4.5 and rec["meyerding_grade"] in (0, 1)
        assert 4.0 <= rec["disc_height_anterior_mm"] <= 16.0
        assert 3.0 <= rec["disc_height_posterior_mm"] <= 14.0
        # resting limit 4.5 mm [R] with the 1 mm measurement margin (§4.3)
        assert rec["verdict"] == ("borderline" if abs(rec["slip_mm"]) >= 3.5 else "stable")
    assert not [q for q in report.quality if q.severity == "error"]


def test_tptbox_depth_agrees_with_the_mask_extent():
    # independent check: the corner-to-corner depth of L3 cannot exceed the body's AP extent
    # on its mid-sagittal slice, and should be close to it (rounded rims only)
    vert = np.asarray(nib.load(VERT).dataobj)
    sub = np.asarray(nib.load(SUBREG).dataobj)
    body = (vert == 22) & np.isin(sub, (49, 50))
    mid = round(float(np.argwhere(body)[:, 2].mean()))  # PIR: axis 2 is left-right
    rows = np.flatnonzero(body[:, :, mid].any(axis=1))  # axis 0 is anterior-posterior
    extent = (rows.max() - rows.min() + 1) * 1.5
    ls = corners_from_masks(VERT, subregions=SUBREG)
    l3 = ls.vertebrae["L3"]
    for a, b in ((AS, PS), (AI, PI)):
        depth = float(np.hypot(*(l3[a] - l3[b])))
        assert 0.85 * extent <= depth <= extent + 1e-6, (depth, extent)


def test_whole_vertebra_fallback_matches_body_subregion():
    a = corners_from_masks(VERT, subregions=SUBREG)
    data = np.asarray(nib.load(VERT).dataobj).astype(np.int32)
    b = corners_from_label_array(data, nib.load(VERT).affine, mapping=label_map("tptbox"))
    ra, rb = assess(neutral=a), assess(neutral=b)
    for seg in ("L2-L3", "L3-L4"):
        assert rb.record(seg)["slip_mm"] == pytest.approx(ra.record(seg)["slip_mm"], abs=1.5)


def test_bad_masks(tmp_path):
    with pytest.raises(InputError, match="mask file not found"):
        corners_from_masks(tmp_path / "none.nii.gz")
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti")
    with pytest.raises(InputError, match="cannot read as NIfTI"):
        corners_from_masks(junk)
    with pytest.raises(InputError, match="unknown label scheme"):
        corners_from_masks(VERT, labels="nnunet")
    with pytest.raises(InputError, match="no vertebra of the label scheme"):
        corners_from_masks(VERT, labels="totalsegmentator")
    img = nib.Nifti1Image(np.full((4, 4, 4), 0.5, np.float32), np.eye(4))
    floaty = tmp_path / "f.nii.gz"
    nib.save(img, floaty)
    with pytest.raises(InputError, match="non-integer"):
        corners_from_masks(floaty)
    flat = tmp_path / "2d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2, 3), np.uint8), np.eye(4)), flat)
    with pytest.raises(InputError, match="3-D"):
        corners_from_masks(flat)
    other = tmp_path / "o.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)), other)
    with pytest.raises(InputError, match="grid"):
        corners_from_masks(VERT, subregions=other)
    mapping = tmp_path / "m.json"
    mapping.write_text('{"21": "L2", "22": "L2"}')
    with pytest.raises(InputError, match="same level"):
        corners_from_masks(VERT, labels=mapping)
    mapping.write_text('{"21": "L2", "22": "L3", "23": "L4"}')
    assert corners_from_masks(VERT, labels=mapping).levels == ["L2", "L3", "L4"]


def _realistic_errors(voxel, method, seeds):
    """Errors of measures from rasterised realistic bodies (concave endplates 2 mm, rounded
    corners 2 mm, waist 1 mm) against the corners they were built on."""
    lab = {v: k for k, v in label_map("spineps").items()}
    errors = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        spine = build_spine(
            levels=("L2", "L3", "L4", "L5", "S1"),
            slip_mm=list(rng.uniform(-3, 8, 4)),
            angle_deg=list(rng.uniform(0, 14, 4)),
            disc_posterior_mm=list(rng.uniform(6, 9, 4)),
            depth_mm=list(rng.uniform(34, 46, 5)),
            wedge_deg=[*rng.uniform(-3, 4, 4), 0.0],
            height_mm=27.0,
            sacral_slope_deg=rng.uniform(20, 40),
        )
        spine = transform(spine, rotation_deg=rng.uniform(-10, 10), shift=rng.uniform(-2, 2, 2))
        volume, affine = rasterise_spine(spine, voxel_mm=voxel, labels=lab)
        derived = corners_from_label_array(
            volume, affine, mapping=label_map("spineps"), method=method
        )
        truth, got = assess(neutral=spine), assess(neutral=derived)
        for seg in ("L2-L3", "L3-L4", "L4-L5", "L5-S1"):
            t, g = truth.record(seg), got.record(seg)
            errors.append(
                [
                    g[k] - t[k]
                    for k in ("slip_mm", "segmental_angle_deg", "disc_height_posterior_mm")
                ]
            )
    return np.abs(np.array(errors, float))


def test_line_fits_recover_rim_corners_of_realistic_bodies():
    # 1.5 mm voxels (TPTBox/SPINEPS grid): rim corners of concave, rounded bodies
    fit = _realistic_errors(1.5, "linefit", seeds=(11, 12, 13))
    assert fit.max(axis=0)[0] <= 1.5 and fit.max(axis=0)[1] <= 2.0, fit.max(axis=0)
    assert fit.mean(axis=0)[0] <= 0.6 and fit.mean(axis=0)[1] <= 1.0, fit.mean(axis=0)
    # the outline extremes are pulled inside by the rounded corners
    ext = _realistic_errors(1.5, "extremes", seeds=(11, 12, 13))
    assert fit.mean() < ext.mean()


def test_line_fits_at_3mm_are_within_about_a_voxel():
    # 3 mm voxels (TotalSegmentator at its 3 mm model resolution): one voxel is the limit
    fit = _realistic_errors(3.0, "linefit", seeds=(21, 22, 23, 24))
    ext = _realistic_errors(3.0, "extremes", seeds=(21, 22, 23, 24))
    mean = fit.mean(axis=0)
    assert mean[0] <= 1.5 and mean[1] <= 2.5 and mean[2] <= 1.5, mean
    assert fit.max(axis=0)[0] <= 4.5 and fit.max(axis=0)[1] <= 6.0, fit.max(axis=0)
    assert fit.mean() < ext.mean()


@pytest.mark.skipif(not TS_SEG.is_file(), reason="TotalSegmentator example not available")
def test_totalsegmentator_ct_example_3mm():
    # real TotalSegmentator v2 'total' prediction at 3 mm (T11 spinous process, T12, L1, L2)
    ls = corners_from_masks(TS_SEG, labels="totalsegmentator")
    # T11 shows only posterior elements in the field of view: no body corners for it
    assert ls.levels == ["T12", "L1", "L2"]
    assert "outside its body" in " ".join(ls.notes["T11"])
    report = assess(neutral=ls)
    rows = {r["level"]: r for r in report.vertebrae}
    depths = [
        rows["T12"]["inferior_endplate_depth_mm"],
        rows["L1"]["superior_endplate_depth_mm"],
        rows["L1"]["inferior_endplate_depth_mm"],
        rows["L2"]["superior_endplate_depth_mm"],
    ]
    # adult thoracolumbar endplate depths lie within about 30-50 mm (issue 5)
    assert all(30.0 <= d <= 50.0 for d in depths), depths
    for seg in ("T12-L1", "L1-L2"):
        rec = report.record(seg)
        # supine CT: near-neutral to lordotic discs at the thoracolumbar junction
        assert -5.0 <= rec["segmental_angle_deg"] <= 20.0, rec
        assert rec["disc_height_anterior_mm"] > 0 and rec["disc_height_posterior_mm"] > 0
        assert abs(rec["slip_mm"]) < 4.5  # about 1.5 voxels: no listhesis beyond that
    assert not [q for q in report.quality if q.severity == "error"]
    # L1 is shorter anteriorly than posteriorly: compare with the raw mask's vertical extent
    # in the anterior and posterior quarter of its columns on the three mid-sagittal slices
    from spinestab.instability.masks import _body_component

    seg = np.asarray(nib.load(TS_SEG).dataobj) == 31  # L1
    mid = round(float(np.argwhere(seg)[:, 0].mean()))
    ratios = []
    for x in (mid - 1, mid, mid + 1):
        body = _body_component(seg[x], anterior_sign=1.0)  # RAS: axis 1 grows anteriorly
        extent = body.sum(axis=1)[body.any(axis=1)]
        q = len(extent) // 4
        ratios.append(extent[-q:].mean() / extent[:q].mean())
    l1 = rows["L1"]
    ratio = l1["anterior_height_mm"] / l1["posterior_height_mm"]
    assert l1["wedge_deg"] < 0  # kyphotic wedge
    assert abs(ratio - np.mean(ratios)) <= 0.15, (ratio, ratios)


def test_fit_corners_uses_partial_occupancy_for_sub_voxel_corners():
    # a 40 x 27 mm rectangle tilted by 12 deg, given as area fractions of 1.5 mm pixels (as
    # the average of several slices gives): its corners come back to about a tenth of a voxel
    from spinestab.instability.corners import fit_corners

    voxel, sub = 1.5, 8
    t = np.radians(12.0)
    e, n = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    ps = np.array([10.3, 12.7])
    truth = np.empty((4, 2))
    truth[PS], truth[AS] = ps + 27 * n, ps + 27 * n + 40 * e
    truth[PI], truth[AI] = ps, ps + 40 * e
    nx, ny = 45, 45
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    gx = (np.arange(nx)[:, None] + offs[None]) * voxel  # (nx, sub)
    gy = (np.arange(ny)[:, None] + offs[None]) * voxel
    px = gx[:, None, :, None] - ps[0]
    py = gy[None, :, None, :] - ps[1]
    along, across = px * e[0] + py * e[1], px * n[0] + py * n[1]
    inside = (along >= 0) & (along <= 40) & (across >= 0) & (across <= 27)
    occupancy = inside.mean(axis=(2, 3))
    fit = fit_corners(occupancy, np.diag([voxel, voxel]), np.zeros(2))
    np.testing.assert_allclose(fit.corners, truth, atol=0.2 * voxel)
    # the binary mask of the same body is good to about half a voxel only
    binary = fit_corners((occupancy >= 0.5).astype(float), np.diag([voxel, voxel]), np.zeros(2))
    assert np.abs(binary.corners - truth).max() <= 0.75 * voxel
    with pytest.raises(ValueError):
        fit_corners(np.ones((1, 3)), np.diag([voxel, voxel]), np.zeros(2))


def test_failed_line_fit_falls_back_to_outline_extremes(monkeypatch):
    import spinestab.instability.corners as corners_module

    spine = _truth_spine()
    volume, affine = _rasterise(spine)
    good = corners_from_label_array(volume, affine, mapping=label_map("spineps"))

    def fail(*args, **kwargs):
        raise ValueError("too few superior boundary points")

    monkeypatch.setattr(corners_module, "fit_corners", fail)
    ls = corners_from_label_array(volume, affine, mapping=label_map("spineps"))
    assert ls.levels == good.levels
    for level in ls.levels:
        assert "outline extremes" in " ".join(ls.notes[level])
    # the note reaches the report as an info-level quality entry of that level
    report = assess(neutral=ls)
    assert any(
        q.level == "L3" and q.check == "corner_method" and q.severity == "info"
        for q in report.quality
    )
    # and the extremes are still close to the truth on this sharp-cornered phantom
    assert report.record("L4-L5")["slip_mm"] == pytest.approx(8.0, abs=1.0)
