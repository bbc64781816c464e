from __future__ import annotations

import json

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, read_slice_table, read_volume, slice_axis
from spinestab.imaging.labels import (
    check_labels_known,
    get_scheme,
    laterality_consistent,
    load_custom_scheme,
)
from spinestab.imaging.levels import (
    levels_from_instances,
    levels_from_single_label,
    levels_from_table,
    slice_positions_s,
    split_vertebrae,
)

from .conftest import TP_CT, TP_VERT, TS_CT, TS_SEG


def test_musclemap_scheme_matches_manifest_table():
    s = get_scheme("musclemap")
    names = {v: (e.name, e.side) for v, e in s.muscles().items()}
    assert names == {
        1: ("multifidus", "right"),
        2: ("multifidus", "left"),
        3: ("erector_spinae", "right"),
        4: ("erector_spinae", "left"),
        5: ("psoas", "right"),
        6: ("psoas", "left"),
        7: ("quadratus_lumborum", "right"),
        8: ("quadratus_lumborum", "left"),
    }


def test_totalsegmentator_total_vertebrae_match_manifest():
    s = get_scheme("total")
    vert = {v: e.name for v, e in s.vertebrae().items()}
    # MANIFEST: 30 vertebrae_L2, 31 L1, 32 T12, 33 T11; 86..89 autochthon / iliopsoas
    assert (vert[30], vert[31], vert[32], vert[33]) == ("L2", "L1", "T12", "T11")
    m = s.muscles()
    assert (m[86].name, m[86].side, m[89].name, m[89].side) == (
        "autochthon",
        "left",
        "psoas",
        "right",
    )
    assert get_scheme("total_mr").of_kind("vertebrae")
    assert get_scheme("vertebrae_mr").vertebrae()[2].name == "L5"


def test_scheme_names_are_case_insensitive_with_aliases():
    assert get_scheme("MuscleMap").name == "musclemap"
    assert get_scheme("totalsegmentator").name == "totalseg_total"
    assert get_scheme("TOTAL_MR").name == "totalseg_total_mr"
    assert get_scheme("tptbox").name == "spineps_vert"


def test_spineps_scheme_values():
    s = get_scheme("spineps_vert")
    v = {e.name: k for k, e in s.vertebrae().items()}
    assert (v["C1"], v["T1"], v["L1"], v["L5"], v["S1"], v["T13"]) == (1, 8, 20, 24, 26, 28)
    assert s.entries[122].kind == "disc"
    body = get_scheme("spineps_subreg").of_kind("vertebral_body")
    assert set(body) == {49, 50}


def test_custom_json_scheme_and_its_errors(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(
        json.dumps(
            {
                "name": "mine",
                "labels": {
                    "10": {"muscle": "multifidus", "side": "R"},
                    "11": {"muscle": "multifidus", "side": "left"},
                    "40": {"vertebra": "l4"},
                },
            }
        )
    )
    s = get_scheme(p)
    assert s.name == "mine"
    assert s.entries[10].side == "right" and s.entries[40].name == "L4"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"labels": {"1": {"muscle": "biceps"}}}))
    with pytest.raises(InputError, match="unknown muscle"):
        load_custom_scheme(bad)
    with pytest.raises(InputError, match="unknown label scheme"):
        get_scheme("no_such_scheme")


def test_unknown_label_values_refused():
    s = get_scheme("musclemap")
    with pytest.raises(InputError, match="not in scheme"):
        check_labels_known([0, 1, 2, 9], s, source="m.nii")
    with pytest.raises(InputError, match="no muscle labels"):
        check_labels_known([0], s, kinds=("muscle",))


def test_laterality_check_on_real_maps(musclemap):
    _img, mask = musclemap
    s = get_scheme("musclemap")
    assert laterality_consistent(mask.data, mask.affine, s) == []
    swapped = mask.data.copy()
    for right in (1, 3, 5, 7):  # swap every right/left pair
        a, b = swapped == right, swapped == right + 1
        swapped[a], swapped[b] = right + 1, right
    assert sorted(laterality_consistent(swapped, mask.affine, s)) == sorted(
        ["multifidus", "erector_spinae", "psoas", "quadratus_lumborum"]
    )
    from spinestab.imaging.muscle import measure

    q = measure(_img, mask.with_data(swapped), s)
    assert all("laterality_suspect" in r.flags for r in q.rows)
    assert not any("laterality_suspect" in r.flags for r in measure(_img, mask, s).rows)
    seg = read_volume(TS_SEG, as_labels=True)
    assert laterality_consistent(seg.data, seg.affine, get_scheme("total")) == []


def _hand_levels(vert: Volume, image: Volume, names: dict[int, str]) -> list[str]:
    """Independent computation: voxel S coordinates per vertebra, then per slice."""
    ijk = np.argwhere(vert.data > 0)
    s = (vert.affine @ np.c_[ijk, np.ones(len(ijk))].T)[2]
    lab = vert.data[tuple(ijk.T)]
    pad = 0.5 * np.abs(vert.affine[2, :3]).max()
    ext = {
        names[v]: (s[lab == v].min() - pad, s[lab == v].max() + pad, s[lab == v].mean())
        for v in np.unique(lab)
    }
    out = []
    for z in slice_positions_s(image.affine, image.shape):
        inside = [n for n, (lo, hi, _c) in ext.items() if lo <= z <= hi]
        if not inside:
            top = max(e[1] for e in ext.values())
            bottom = min(e[0] for e in ext.values())
            inside = list(ext) if bottom <= z <= top else []
        out.append(min(inside, key=lambda n: abs(ext[n][2] - z)) if inside else "")
    return out


def test_tptbox_vertebra_masks_give_levels():
    ct = read_volume(TP_CT)
    vert = read_volume(TP_VERT, as_labels=True)
    lv = levels_from_instances(vert, get_scheme("spineps_vert"), ct)
    assert lv.names() == ["L2", "L3", "L4"]
    assert list(lv.levels) == _hand_levels(vert, ct, {21: "L2", 22: "L3", 23: "L4"})
    # cranial slices carry L2, caudal L4 (slice axis is I in this PIR volume: index grows down)
    assigned = [x for x in lv.levels if x]
    assert assigned[0] == "L2" and assigned[-1] == "L4"
    assert lv.centroids_s_mm["L2"] > lv.centroids_s_mm["L3"] > lv.centroids_s_mm["L4"]
    # every slice that holds voxels of only one vertebra gets that vertebra
    ax = slice_axis(ct.affine)
    for k in range(ct.shape[ax]):
        present = set(np.unique(np.take(vert.data, k, axis=ax)).tolist()) - {0}
        if len(present) == 1:
            assert lv.levels[k] == {21: "L2", 22: "L3", 23: "L4"}[present.pop()]


def test_single_vertebrae_label_split_recovers_instances():
    vert = read_volume(TP_VERT, as_labels=True)
    inst, names = split_vertebrae(vert.data > 0, vert.affine, anchor="L4", anchor_is="lowest")
    assert list(names.values()) == ["L2", "L3", "L4"]
    back = {21: "L2", 22: "L3", 23: "L4"}
    for value, name in names.items():
        original = next(k for k, n in back.items() if n == name)
        a, b = inst == value, vert.data == original
        dice = 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())
        assert dice > 0.95, (name, dice)  # only voxels at the facet contacts may differ
    # through a total_mr style map: one "vertebrae" label (19)
    single = vert.with_data(np.where(vert.data > 0, 19, 0).astype(np.int32))
    ct = read_volume(TP_CT)
    lv = levels_from_single_label(single, get_scheme("total_mr"), ct, anchor="L4")
    ref = levels_from_instances(vert, get_scheme("spineps_vert"), ct)
    assert lv.levels == ref.levels
    lv_top = levels_from_single_label(
        single, get_scheme("total_mr"), ct, anchor="L2", anchor_is="highest"
    )
    assert lv_top.levels == ref.levels


def test_levels_from_totalsegmentator_total_map_itself():
    ct = read_volume(TS_CT)
    seg = read_volume(TS_SEG, as_labels=True)
    lv = levels_from_instances(seg, get_scheme("total"), ct)
    assert lv.names() == ["T11", "T12", "L1", "L2"]
    # RAS volume: slice 0 is the lowest -> L2
    assert lv.levels[0] == "L2"


def test_slice_table(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("level,first_slice,last_slice\nL4,0,3\nL5,4,6\n")
    lv = levels_from_table(read_slice_table(p), 8)
    assert lv.levels == ("L4",) * 4 + ("L5",) * 3 + ("",)
    with pytest.raises(InputError, match="out of bounds"):
        levels_from_table({"L4": (0, 9)}, 8)
    with pytest.raises(InputError, match="two levels"):
        levels_from_table({"L4": (0, 3), "L5": (3, 5)}, 8)


def test_phantom_levels_match_truth(phantom):
    lv = levels_from_instances(phantom.vertebrae, get_scheme("spineps_vert"), phantom.mask)
    assert lv.levels == phantom.slice_levels


def test_sacrum_checks_the_l5_anchor(phantom):
    scheme = get_scheme("total_mr")  # 18 sacrum, 19 vertebrae
    verts = phantom.vertebrae.data > 0
    data = np.where(verts, 19, 0).astype(np.int32)
    lv = levels_from_single_label(phantom.vertebrae.with_data(data), scheme, phantom.mask)
    assert lv.levels == phantom.slice_levels
    assert "assumed" in lv.method
    from spinestab.imaging.muscle import measure

    q = measure(phantom.single, phantom.mask, get_scheme("musclemap"), levels=lv)
    assert all(("level_names_assumed" in r.flags) == (r.level != "all") for r in q.rows)
    ax = slice_axis(phantom.mask.affine)
    lowest = min(k for k, name in enumerate(phantom.slice_levels) if name)  # LPS: k up = superior
    below = np.take(data, lowest, axis=ax).copy()
    sac = np.where(below == 19, 18, 0)
    with_sacrum = data.copy()
    index = [slice(None)] * 3
    index[ax] = lowest - 1  # the margin slice just below L5
    with_sacrum[tuple(index)] = sac
    lv2 = levels_from_single_label(phantom.vertebrae.with_data(with_sacrum), scheme, phantom.mask)
    assert "sits on the sacrum" in lv2.method
    gap = with_sacrum.copy()
    for k in (lowest, lowest + 1):  # drop the two lowest L5 slices: an 8 mm gap appears
        index[ax] = k
        gap[tuple(index)] = 0
    vol = phantom.vertebrae.with_data(gap)
    assert "sits on" in levels_from_single_label(vol, scheme, phantom.mask).method
    lv3 = levels_from_single_label(vol, scheme, phantom.mask, sacrum_gap_mm=5.0)
    assert "WARNING" in lv3.method


def test_wrong_vertebra_scheme_is_caught_by_anatomical_order():
    ct = read_volume(TP_CT)
    vert = read_volume(TP_VERT, as_labels=True)  # SPINEPS values 21-23 (L2-L4)
    with pytest.raises(InputError, match="out of anatomical order"):
        levels_from_instances(vert, get_scheme("vertebrae_mr"), ct)  # 21..23 = C5, C4, C3


def test_tptbox_levels_for_an_axial_image_on_another_grid():
    """A sagittal-derived PIR vertebra mask gives levels to an axial RAS grid."""
    vert = read_volume(TP_VERT, as_labels=True)
    corners = np.array(
        [
            [i, j, k, 1.0]
            for i in (0, vert.shape[0] - 1)
            for j in (0, vert.shape[1] - 1)
            for k in (0, vert.shape[2] - 1)
        ]
    )
    world = (vert.affine @ corners.T)[:3]
    lo, hi = world.min(axis=1), world.max(axis=1)
    affine = np.diag([0.9, 0.9, 4.0, 1.0])
    affine[:3, 3] = lo - np.array([0, 0, 8.0])  # starts 2 slices below the mask
    n = int(np.ceil((hi[2] - lo[2] + 16.0) / 4.0)) + 1
    shape = (int((hi[0] - lo[0]) / 0.9) + 1, int((hi[1] - lo[1]) / 0.9) + 1, n)
    axial = Volume(np.zeros(shape, np.float32), affine, "CT")
    lv = levels_from_instances(vert, get_scheme("tptbox"), axial)
    assert list(lv.levels) == _hand_levels(vert, axial, {21: "L2", 22: "L3", 23: "L4"})
    assert lv.levels[0] == "" and lv.levels[-1] == ""  # outside the vertebrae
    assigned = [x for x in lv.levels if x]
    assert assigned[0] == "L4" and assigned[-1] == "L2"  # RAS: slice 0 is the lowest
