"""Vertebral levels from one "vertebrae" label named from the intervertebral discs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, read_volume, slice_axis
from spinestab.imaging.labels import get_scheme
from spinestab.imaging.levels import (
    find_discs,
    levels_from_instances,
    levels_from_single_label,
    name_pieces_from_discs,
    parse_disc_name,
    split_vertebrae,
)

from .conftest import DATA

MRI_DIR = DATA / "tptbox_mri_C5-C7"
MRI_VERT = MRI_DIR / "sub-mri_seg-vert_label-6_msk.nii.gz"
MRI_SUBREG = MRI_DIR / "sub-mri_seg-subreg_label-6_msk.nii.gz"
CERVICAL = {5: "C5", 6: "C6", 7: "C7"}  # MANIFEST: SPINEPS values C5-C7 = 5-7, discs 105/106


def test_disc_names_are_parsed():
    assert parse_disc_name("L4-L5") == ("L4", "L5")
    assert parse_disc_name("l5/s1") == ("L5", "S1")
    assert parse_disc_name("T12L1") == ("T12", "L1")
    assert parse_disc_name("disc_below_C5") == ("C5", "C6")
    assert parse_disc_name("disc_below_L5") == ("L5", "S1")
    assert parse_disc_name("intervertebral_discs") is None
    with pytest.raises(InputError, match="neighbouring"):
        parse_disc_name("L3-L5")


def test_pieces_named_by_the_discs_between_them():
    # three discs at S = 100, 60, 20 mm; pieces between them (and one above / below)
    from spinestab.imaging.levels import DiscSet

    discs = DiscSet((100.0, 60.0, 20.0), (95.0, 55.0, 15.0), (None, None, None))
    names, doubt = name_pieces_from_discs(np.array([120.0, 80.0, 40.0, 0.0]), discs, anchor="L5-S1")
    assert names == ["L3", "L4", "L5", "S1"] and doubt == ""
    names, _ = name_pieces_from_discs(
        np.array([120.0, 80.0]), discs, anchor="L2-L3", anchor_is="highest"
    )
    assert names == ["L2", "L3"]
    # two pieces of one vertebra (a body and its arch) get one name
    names, _ = name_pieces_from_discs(np.array([85.0, 75.0, 40.0]), discs, anchor="L5-S1")
    assert names == ["L4", "L4", "L5"]
    # a vertebra missing between two discs makes the names doubtful, not wrong silently
    names, doubt = name_pieces_from_discs(np.array([120.0, 40.0]), discs, anchor="L5-S1")
    assert names == ["L3", "L5"] and "L4" in doubt
    with pytest.raises(InputError, match="give a disc as anchor"):
        name_pieces_from_discs(np.array([80.0]), discs, anchor="L5")
    with pytest.raises(InputError, match="cannot be named"):
        name_pieces_from_discs(np.array([120.0, 80.0]), discs, anchor="C2-C3")
    named = DiscSet((100.0, 60.0), (95.0, 55.0), (("T12", "L1"), ("L1", "L2")))
    assert name_pieces_from_discs(np.array([120.0, 80.0, 40.0]), named)[0] == ["T12", "L1", "L2"]


@pytest.fixture(scope="module")
def cervical():
    vert = read_volume(MRI_VERT, as_labels=True)
    truth = levels_from_instances(vert, get_scheme("spineps_vert"), vert)
    return vert, truth


def _agree_except_at_boundaries(levels, truth):
    """Same level on every slice, except single slices next to a level change of the truth."""
    bad = [k for k, (a, b) in enumerate(zip(levels, truth, strict=True)) if a != b]
    for k in bad:
        near = {truth[j] for j in (k - 1, k, k + 1) if 0 <= j < len(truth)}
        assert len(near) > 1, (k, levels[k], truth[k])
    return len(bad)


def test_real_spineps_mri_single_label_named_from_unnamed_discs(cervical):
    """TotalSegmentator total_mr style map built from the real SPINEPS C5-C7 masks."""
    vert, truth = cervical
    data = np.zeros(vert.shape, np.int32)
    data[np.isin(vert.data, list(CERVICAL))] = 19  # total_mr: 19 vertebrae
    data[np.isin(vert.data, [105, 106])] = 20  # 20 intervertebral_discs
    single = vert.with_data(data)
    scheme = get_scheme("total_mr")
    discs = find_discs(data, vert.affine, scheme)
    assert discs is not None and len(discs.heights_mm) == 2 and not discs.named
    inst, names = split_vertebrae(data == 19, vert.affine, anchor="C6-C7", discs=discs)
    assert sorted(names.values()) == ["C5", "C6", "C7"]
    for value, name in names.items():
        original = next(k for k, n in CERVICAL.items() if n == name)
        a, b = inst == value, vert.data == original
        dice = 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())
        assert dice > 0.9, (name, dice)  # only posterior elements near the facets differ
    lv = levels_from_single_label(single, scheme, vert, anchor="C6-C7")
    assert lv.names() == ["C5", "C6", "C7"]
    assert "lowest disc = C6-C7" in lv.method and "WARNING" not in lv.method
    assert _agree_except_at_boundaries(lv.levels, truth.levels) <= 3
    top = levels_from_single_label(single, scheme, vert, anchor="C5-C6", anchor_is="highest")
    assert top.levels == lv.levels


def test_real_spineps_named_discs_name_the_vertebrae_without_anchor(cervical, tmp_path):
    vert, truth = cervical
    scheme_file = tmp_path / "s.json"
    scheme_file.write_text(
        json.dumps(
            {
                "labels": {
                    "1": {"kind": "vertebrae"},
                    "105": {"kind": "disc", "name": "disc_below_C5"},
                    "106": {"kind": "disc", "name": "C6-C7"},
                }
            }
        )
    )
    data = np.where(np.isin(vert.data, list(CERVICAL)), 1, 0)
    data = np.where(np.isin(vert.data, [105, 106]), vert.data, data).astype(np.int32)
    lv = levels_from_single_label(vert.with_data(data), get_scheme(scheme_file), vert)
    assert lv.names() == ["C5", "C6", "C7"]  # the default anchor (L5) is not used
    assert "named from the disc labels" in lv.method
    assert _agree_except_at_boundaries(lv.levels, truth.levels) <= 3


def test_real_spineps_subregion_map_bodies_and_discs(cervical):
    """The SPINEPS subregion map: vertebral bodies (49) and discs (100), no instances."""
    vert, _truth = cervical
    sub = read_volume(MRI_SUBREG, as_labels=True)
    lv = levels_from_single_label(sub, get_scheme("spineps_subreg"), vert, anchor="C6-C7")
    # independent truth: the instance labels restricted to the body voxels of the subregions
    bodies = np.where((sub.data == 49) & np.isin(vert.data, list(CERVICAL)), vert.data, 0)
    truth = levels_from_instances(vert.with_data(bodies), get_scheme("spineps_vert"), vert)
    assert lv.levels == truth.levels
    assert lv.names() == ["C5", "C6", "C7"]


def _single_label_phantom(phantom, *, named: bool):
    verts = phantom.vertebrae.data > 0
    data = np.where(verts, 19, 0).astype(np.int32)
    discs = phantom.discs.data
    if named:
        data = np.where(discs > 0, discs, data).astype(np.int32)
    else:
        data[discs > 0] = 20
    return data


def test_phantom_levels_from_unnamed_and_named_discs(phantom, tmp_path):
    # phantom L3, L4, L5: discs L3-L4 and L4-L5 (SPINEPS values 122, 123)
    assert sorted(np.unique(phantom.discs.data).tolist()) == [0, 122, 123]
    data = _single_label_phantom(phantom, named=False)
    vol = phantom.vertebrae.with_data(data)
    lv = levels_from_single_label(vol, get_scheme("total_mr"), phantom.mask, anchor="L4-L5")
    assert lv.levels == phantom.slice_levels
    scheme_file = tmp_path / "s.json"
    labels = {"19": {"kind": "vertebrae"}}
    labels |= {str(100 + v): {"kind": "disc", "name": f"disc_below_L{v - 19}"} for v in (22, 23)}
    scheme_file.write_text(json.dumps({"labels": labels}))
    named = phantom.vertebrae.with_data(_single_label_phantom(phantom, named=True))
    lv = levels_from_single_label(named, get_scheme(scheme_file), phantom.mask)
    assert lv.levels == phantom.slice_levels


def test_cropped_field_of_view_named_discs_stay_right(phantom, tmp_path):
    """L5 cut off by the field of view: counting from an assumed L5 misnames, discs do not."""
    ax = slice_axis(phantom.mask.affine)
    levels = np.asarray(phantom.slice_levels, dtype=object)
    keep = np.flatnonzero(levels != "L5")  # L5 gone; the L4-L5 disc slices stay (as L4)
    keep = (
        keep[keep < np.flatnonzero(levels == "L5").min()]
        if phantom.mask.affine[2, ax] < 0
        else keep[keep > np.flatnonzero(levels == "L5").max()]
    )

    def crop(vol: Volume) -> Volume:
        data = np.take(vol.data, keep, axis=ax)
        affine = vol.affine.copy()
        affine[:3, 3] = (vol.affine @ np.r_[[keep[0] if a == ax else 0 for a in range(3)], 1])[:3]
        return Volume(data, affine, vol.modality, vol.source)

    data = _single_label_phantom(phantom, named=True)
    named = crop(phantom.vertebrae.with_data(data))
    image = crop(phantom.mask)
    # truth: the phantom's levels; the L4-L5 disc slices left below L4 lie outside every
    # vertebra now, so they stay unassigned
    has_bone = np.flatnonzero(np.any(np.moveaxis(named.data == 19, ax, 0), axis=(1, 2)))
    truth = tuple(
        str(n) if has_bone.min() <= k <= has_bone.max() else "" for k, n in enumerate(levels[keep])
    )
    scheme_file = tmp_path / "s.json"
    labels = {"19": {"kind": "vertebrae"}}
    labels |= {str(100 + v): {"kind": "disc", "name": f"disc_below_L{v - 19}"} for v in (22, 23)}
    scheme_file.write_text(json.dumps({"labels": labels}))
    lv = levels_from_single_label(named, get_scheme(scheme_file), image)
    assert lv.names() == ["L3", "L4"] and lv.levels == truth
    counted = levels_from_single_label(named, get_scheme("total_mr"), image, use_discs=False)
    assert counted.names() == ["L4", "L5"] and "assumed" in counted.method  # flagged guess


def test_l5_s1_disc_anchor_checked_against_the_sacrum():
    from spinestab.imaging.muscle import measure
    from spinestab.imaging.phantom import make_phantom

    ph = make_phantom(levels=("L4", "L5"), margin_slices=3, shape_xy=(200, 160))
    ax = slice_axis(ph.mask.affine)
    levels = list(ph.slice_levels)
    sup = ph.mask.affine[2, ax] > 0  # index grows cranially
    l5 = [k for k, n in enumerate(levels) if n == "L5"]
    below = (min(l5) - 1, min(l5) - 2) if sup else (max(l5) + 1, max(l5) + 2)
    data = np.where(ph.vertebrae.data > 0, 19, 0).astype(np.int32)
    data[ph.discs.data > 0] = 20
    footprint = np.take(ph.vertebral_body.data, l5[0], axis=ax) > 0
    index = [slice(None)] * 3
    index[ax] = below[0]
    plane = data[tuple(index)]
    plane[footprint] = 20  # the L5-S1 disc just below L5
    scheme = get_scheme("total_mr")
    no_sacrum = ph.vertebrae.with_data(data.copy())
    lv = levels_from_single_label(no_sacrum, scheme, ph.mask, anchor="L5-S1")
    assert lv.names() == ["L4", "L5"] and "assumed: no sacrum" in lv.method
    index[ax] = below[1]
    plane = data[tuple(index)]
    plane[footprint] = 18  # sacrum below the disc
    lv = levels_from_single_label(ph.vertebrae.with_data(data), scheme, ph.mask, anchor="L5-S1")
    assert "checked: the lowest disc sits on the sacrum" in lv.method
    assert [n for n in lv.levels if n] == [n for n in levels if n]
    far = levels_from_single_label(
        ph.vertebrae.with_data(data), scheme, ph.mask, anchor="L5-S1", sacrum_gap_mm=-10.0
    )
    assert "WARNING" in far.method
    q = measure(ph.single, ph.mask, get_scheme("musclemap"), levels=far)
    assert all(("level_names_doubtful" in r.flags) == (r.level != "all") for r in q.rows)


def test_disc_anchor_needs_discs_and_missing_vertebra_is_flagged(phantom):
    scheme = get_scheme("total_mr")
    only_vertebrae = phantom.vertebrae.with_data(
        np.where(phantom.vertebrae.data > 0, 19, 0).astype(np.int32)
    )
    with pytest.raises(InputError, match="is a disc, but the map holds no disc"):
        levels_from_single_label(only_vertebrae, scheme, phantom.mask, anchor="L4-L5")
    data = _single_label_phantom(phantom, named=False)
    data[phantom.vertebrae.data == 23] = 0  # L4 missing between its two discs
    lv = levels_from_single_label(
        phantom.vertebrae.with_data(data), scheme, phantom.mask, anchor="L4-L5"
    )
    assert "WARNING" in lv.method and "L4" in lv.method
    assert lv.names() == ["L3", "L5"]


def test_cli_levels_from_total_mr_map_with_a_disc_anchor(phantom, tmp_path):
    import csv

    import nibabel as nib
    from typer.testing import CliRunner

    from spinestab.cli import app

    paths = {}
    for name, vol in (
        ("w", phantom.water),
        ("f", phantom.fat),
        ("m", phantom.mask),
        ("v", phantom.vertebrae.with_data(_single_label_phantom(phantom, named=False))),
    ):
        paths[name] = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(np.asarray(vol.data), vol.affine), str(paths[name]))
    out = tmp_path / "out"
    args = ["mri", "--water", str(paths["w"]), "--fat", str(paths["f"]), "--mask", str(paths["m"])]
    args += ["--vertebrae", str(paths["v"]), "--vertebrae-labels", "total_mr", "--no-qa"]
    res = CliRunner().invoke(app, [*args, "--anchor", "L4-L5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with (out / "muscle_quality.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["level"] for r in rows} == {"L3", "L4", "L5", "all"}
    for r in rows:
        if r["level"] != "all":
            truth = phantom.area_mm2[(r["muscle"], r["side"], r["level"])]
            assert float(r["csa_mean_mm2"]) == pytest.approx(truth, rel=0.02)
            assert "level_names" not in r["flags"]  # named from a given disc, not assumed
    summary = json.loads((out / "summary.json").read_text())
    assert "lowest disc = L4-L5" in summary["levels"]["method"]
    # a disc anchor on a map without discs: exit code 2, nothing written
    no_discs = np.where(phantom.vertebrae.data > 0, 19, 0).astype(np.int16)
    nib.save(nib.Nifti1Image(no_discs, phantom.vertebrae.affine), str(paths["v"]))
    res = CliRunner().invoke(app, [*args, "--anchor", "L4-L5", "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "no disc label" in res.output
    assert not (tmp_path / "bad" / "muscle_quality.csv").exists()


def test_default_anchor_uses_the_disc_on_the_sacrum_as_l5_s1():
    """TotalSegmentator total_mr style: sacrum, one vertebrae label and one disc label."""
    from spinestab.imaging.phantom import make_phantom

    ph = make_phantom(levels=("L3", "L4", "L5"), margin_slices=3, shape_xy=(200, 160))
    ax = slice_axis(ph.mask.affine)
    sup = ph.mask.affine[2, ax] > 0
    l5 = [k for k, n in enumerate(ph.slice_levels) if n == "L5"]
    disc_k, sacrum_k = (min(l5) - 1, min(l5) - 2) if sup else (max(l5) + 1, max(l5) + 2)
    data = np.where(ph.vertebrae.data > 0, 19, 0).astype(np.int32)
    data[ph.discs.data > 0] = 20
    footprint = np.take(ph.vertebral_body.data, l5[0], axis=ax) > 0
    for k, value in ((disc_k, 20), (sacrum_k, 18)):
        index = [slice(None)] * 3
        index[ax] = k
        plane = data[tuple(index)]
        plane[footprint] = value
    lv = levels_from_single_label(ph.vertebrae.with_data(data), get_scheme("total_mr"), ph.mask)
    assert "lowest disc = L5-S1" in lv.method and "checked" in lv.method
    assert [n for n in lv.levels if n] == [n for n in ph.slice_levels if n]
    # without the sacrum nothing says the lowest disc is L5-S1: counted from L5, and said so
    data[data == 18] = 0
    lv = levels_from_single_label(ph.vertebrae.with_data(data), get_scheme("total_mr"), ph.mask)
    assert "lowest = L5" in lv.method and "assumed" in lv.method


def test_two_discs_joined_into_one_piece_make_levels_doubtful(cervical):
    vert, _truth = cervical
    data = np.zeros(vert.shape, np.int32)
    data[np.isin(vert.data, list(CERVICAL))] = 19
    discs = np.isin(vert.data, [105, 106])
    data[discs] = 20
    # bridge the two discs through C6 with a column of disc voxels: one disc piece
    a = np.argwhere(vert.data == 105).mean(axis=0).round().astype(int)
    b = np.argwhere(vert.data == 106).mean(axis=0).round().astype(int)
    for t in np.linspace(0.0, 1.0, 60):
        i, j, k = np.rint(a + t * (b - a)).astype(int)
        data[i - 1 : i + 2, j - 1 : j + 2, k - 1 : k + 2] = 20
    found = find_discs(data, vert.affine, get_scheme("total_mr"))
    assert len(found.heights_mm) == 1 and found.flatness[0] > 0.4
    lv = levels_from_single_label(
        vert.with_data(data), get_scheme("total_mr"), vert, anchor="C6-C7"
    )
    assert "WARNING" in lv.method
    single = find_discs(np.where(discs, 20, data * 0), vert.affine, get_scheme("total_mr"))
    assert all(f < 0.3 for f in single.flatness)  # each real disc alone is flat


def test_real_tptbox_ct_subregion_bodies_without_discs_use_the_vertebra_anchor():
    """SPINEPS subregion map of the L2-L4 CT: bodies (49/50) only, no disc label."""
    from .conftest import TP_SUBREG, TP_VERT

    sub = read_volume(TP_SUBREG, as_labels=True)
    vert = read_volume(TP_VERT, as_labels=True)
    lv = levels_from_single_label(sub, get_scheme("spineps_subreg"), vert, anchor="L4")
    bodies = np.where(np.isin(sub.data, [49, 50]), vert.data, 0)
    truth = levels_from_instances(vert.with_data(bodies), get_scheme("spineps_vert"), vert)
    assert lv.names() == ["L2", "L3", "L4"] and lv.levels == truth.levels
    with pytest.raises(InputError, match="no disc label"):
        levels_from_single_label(sub, get_scheme("spineps_subreg"), vert, anchor="L4-L5")
