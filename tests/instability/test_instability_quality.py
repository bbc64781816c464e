"""Quality checks, reported per level: corner order, endplate length, crossing outlines,
levels out of sequence, mixed units. Measures of a failed level are withheld, never guessed."""

import numpy as np
import pytest

from spinestab.instability import assess
from spinestab.instability.landmarks import AI, AS, PI, PS, LandmarkSet
from spinestab.instability.phantom import build_spine


def _spine(**kw):
    return build_spine(slip_mm=[0, 1, 2, 5, 3], angle_deg=[5, 6, 8, 10, 14], **kw)


def _with(ls, **changes):
    vertebrae = {lv: arr.copy() for lv, arr in ls.vertebrae.items()}
    units = dict(ls.vertebra_units)
    spacing = ls.pixel_spacing_mm
    for level, arr in changes.pop("vertebrae", {}).items():
        vertebrae[level] = arr
    units.update(changes.pop("units_of", {}))
    return LandmarkSet(
        view=ls.view,
        units=changes.pop("units", ls.units),
        vertebrae=vertebrae,
        pixel_spacing_mm=changes.pop("spacing", spacing),
        vertebra_units=units,
        magnification_known=ls.magnification_known,
        source="t",
    )


def _issues(report, check):
    return [q for q in report.quality if q.check == check]


def test_clean_phantom_has_no_findings():
    report = assess(neutral=_spine())
    assert [q for q in report.quality if q.severity != "info"] == []


@pytest.mark.parametrize(
    "swap", [(AS, PS), (PS, PI), (AS, AI), (AS, PI)], ids=["AS-PS", "PS-PI", "AS-AI", "AS-PI"]
)
def test_swapped_corners_are_reported_at_that_level(swap):
    ls = _spine()
    bad = ls.vertebrae["L3"].copy()
    bad[list(swap)] = bad[list(swap[::-1])]
    report = assess(neutral=_with(ls, vertebrae={"L3": bad}))
    found = _issues(report, "corner_order")
    assert found and {q.level for q in found} == {"L3"} and found[0].severity == "error"
    for seg in ("L2-L3", "L3-L4"):
        rec = report.record(seg)
        assert rec["slip_mm"] is None and rec["verdict"] == "not_assessable"
        assert any("L3" in r for r in rec["reasons"])
    # the other segments are still measured
    assert report.record("L4-L5")["slip_mm"] == pytest.approx(5.0, abs=0.01)


def test_single_endplate_with_swapped_anterior_posterior():
    ls = _spine()
    s1 = ls.vertebrae["S1"].copy()
    s1[[AS, PS]] = s1[[PS, AS]]
    report = assess(neutral=_with(ls, vertebrae={"S1": s1}))
    assert {q.level for q in _issues(report, "corner_order")} == {"S1"}
    assert report.record("L5-S1")["slip_pct"] is None


def test_implausible_endplate_length():
    ls = _spine()
    small = ls.vertebrae["L2"].copy()
    centre = small.mean(axis=0)
    small = centre + (small - centre) * [0.3, 1.0]  # 12 mm deep body
    report = assess(neutral=_with(ls, vertebrae={"L2": small}))
    found = _issues(report, "endplate_length")
    assert found and {q.level for q in found} == {"L2"}
    assert any("outside the plausible" in q.message for q in found)
    assert report.record("L1-L2")["slip_mm"] is None


def test_zero_length_endplate():
    ls = _spine()
    bad = ls.vertebrae["L4"].copy()
    bad[AS] = bad[PS]
    report = assess(neutral=_with(ls, vertebrae={"L4": bad}))
    assert any("zero length" in q.message and q.level == "L4" for q in report.quality)
    assert report.record("L3-L4")["slip_pct"] is None


def test_crossing_quadrilaterals():
    ls = _spine()
    # push L3 down into L4: negative disc height
    l3 = ls.vertebrae["L3"].copy()
    l4 = ls.vertebrae["L4"]
    down = (l4[AS] + l4[PS]) / 2 - (l3[AI] + l3[PI]) / 2
    l3 = l3 + 1.3 * down
    report = assess(neutral=_with(ls, vertebrae={"L3": l3}))
    crossing = _issues(report, "crossing")
    assert [q.level for q in crossing] == ["L3-L4"]
    assert report.record("L3-L4")["slip_mm"] is None
    assert report.record("L3-L4")["verdict"] == "not_assessable"


def test_levels_out_of_sequence():
    ls = _spine()
    swapped = _with(ls, vertebrae={"L2": ls.vertebrae["L3"], "L3": ls.vertebrae["L2"]})
    report = assess(neutral=swapped)
    seq = [q for q in _issues(report, "sequence") if q.severity == "error"]
    assert seq and all(q.view == "neutral" for q in seq)
    assert {"L2", "L3"} & {lv for q in seq for lv in q.level.split("-")}
    assert report.record("L2-L3")["slip_mm"] is None


def test_labels_reversed_throughout():
    ls = _spine()
    names = list(ls.vertebrae)
    reversed_ = dict(
        zip(names, [ls.vertebrae[n] for n in reversed(names[:-1])] + [None], strict=True)
    )
    reversed_.pop("S1")
    ls2 = LandmarkSet(
        view="neutral",
        units="mm",
        vertebrae=reversed_,
        vertebra_units={lv: "mm" for lv in reversed_},
        magnification_known=True,
    )
    report = assess(neutral=ls2)
    assert any(q.check == "sequence" and q.level == "all" for q in report.quality)
    assert all(rec["slip_mm"] is None for rec in report.levels)


def test_mixed_units_with_spacing_converted_and_flagged():
    ls = _spine()
    spacing = (0.2, 0.2)
    l3_px = ls.vertebrae["L3"] / 0.2
    mixed = _with(ls, vertebrae={"L3": l3_px}, units_of={"L3": "px"}, spacing=None)
    # without a pixel spacing the px level cannot be used
    report = assess(neutral=mixed)
    found = _issues(report, "mixed_units")
    assert [(q.level, q.severity) for q in found] == [("L3", "error")]
    assert report.record("L2-L3")["slip_mm"] is None
    # with a spacing it is converted, and still reported
    mixed = LandmarkSet(
        view="neutral",
        units="px",
        vertebrae={
            lv: (arr if lv == "L3" else arr / 0.2) for lv, arr in _spine().vertebrae.items()
        },
        pixel_spacing_mm=spacing,
        vertebra_units={lv: ("px" if lv != "L3" else "mm") for lv in ls.vertebrae},
        magnification_known=True,
    )
    report = assess(neutral=mixed)
    found = _issues(report, "mixed_units")
    assert [(q.level, q.severity) for q in found] == [("L3", "warning")]
    assert report.record("L3-L4")["slip_mm"] == pytest.approx(2.0, abs=0.01)


def test_mixed_units_from_csv_rows(tmp_path):
    from spinestab.instability import landmarks_to_csv, read_landmarks

    ls = _spine()
    text = landmarks_to_csv(ls)
    lines = text.splitlines()
    # re-express L3 in px (0.5 mm pixels) in the CSV itself
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0] == "L3":
            cells[2], cells[3] = str(float(cells[2]) * 2), str(float(cells[3]) * 2)
            cells[4] = "px"
        out.append(",".join(cells))
    path = tmp_path / "m.csv"
    path.write_text("\n".join(out) + "\n")
    loaded = read_landmarks(path)
    assert loaded.units_of("L3") == "px" and loaded.units == "mm"
    report = assess(neutral=loaded)
    assert [(q.level, q.severity) for q in _issues(report, "mixed_units")] == [("L3", "error")]


def test_px_without_spacing_gives_pct_but_no_mm():
    ls = _spine()
    px = LandmarkSet(
        view="neutral",
        units="px",
        vertebrae={lv: a * 7.0 for lv, a in ls.vertebrae.items()},
        vertebra_units={lv: "px" for lv in ls.vertebrae},
    )
    report = assess(neutral=px)
    rec = report.record("L4-L5")
    assert rec["slip_mm"] is None and rec["slip_pct"] == pytest.approx(12.5, abs=0.01)
    assert rec["meyerding_grade"] == 1  # 12.5 % >= 8 % listhesis floor [D]
    assert any("pixels without a pixel spacing" in n for n in report.to_dict()["notes"])


def test_non_adjacent_levels_make_no_segment():
    ls = _spine()
    gap = {lv: a for lv, a in ls.vertebrae.items() if lv != "L3"}
    report = assess(
        neutral=LandmarkSet(
            view="neutral", units="mm", vertebrae=gap, vertebra_units={lv: "mm" for lv in gap}
        )
    )
    assert "L2-L4" not in {r["level"] for r in report.levels}
    assert any(q.level == "L2-L4" and q.check == "sequence" for q in report.quality)


def test_mirror_image_corner_order_on_one_body():
    ls = _spine()
    bad = ls.vertebrae["L2"][[AI, PI, PS, AS]]  # superior and inferior swapped
    report = assess(neutral=_with(ls, vertebrae={"L2": bad}))
    found = _issues(report, "corner_order")
    assert {q.level for q in found} == {"L2"}
    assert np.isfinite(report.record("L4-L5")["slip_mm"])


def test_flexion_and_extension_in_different_units():
    flex = build_spine(levels=("L4", "L5"), slip_mm=[7.0], view="flexion")
    ext = build_spine(levels=("L4", "L5"), slip_mm=[3.0], view="extension")
    ext_px = LandmarkSet(
        view="extension",
        units="px",
        vertebrae={lv: a * 5.0 for lv, a in ext.vertebrae.items()},
        vertebra_units={lv: "px" for lv in ext.vertebrae},
    )
    report = assess(flexion=flex, extension=ext_px, thresholds="nordsten")
    rec = report.record("L4-L5")
    assert rec["translation_mm"] is None
    assert rec["translation_pct"] == pytest.approx(10.0, abs=0.01)  # (7 - 3) / 40
    assert any(q.check == "mixed_units" and q.view == "flexion/extension" for q in report.quality)
    # NORDSTEN's only translation rule is in mm: not applicable, so the angle decides
    crit = next(c for c in rec["criteria"] if c["id"] == "nordsten-translation")
    assert crit["met"] is None


def test_no_motion_segment_is_an_input_error():
    from spinestab.errors import InputError

    one = build_spine(levels=("L4", "L5"))
    only_l4 = LandmarkSet(
        view="neutral",
        units="mm",
        vertebrae={"L4": one.vertebrae["L4"]},
        vertebra_units={"L4": "mm"},
    )
    with pytest.raises(InputError, match="no motion segment"):
        assess(neutral=only_l4)
    gap = LandmarkSet(
        view="neutral",
        units="mm",
        vertebrae={"L2": one.vertebrae["L4"], "L5": one.vertebrae["L5"]},
        vertebra_units={"L2": "mm", "L5": "mm"},
    )
    with pytest.raises(InputError, match="two adjacent levels"):
        assess(neutral=gap)


def test_anterior_posterior_swapped_on_every_body_is_reported():
    # black-box finding: swapping A/P on every body passed every check and flipped the sign
    # of every slip (anterolisthesis read as retrolisthesis) and angle (lordosis as kyphosis)
    ls = _spine()
    swapped = {}
    for level, arr in ls.vertebrae.items():
        new = arr.copy()
        new[[AS, PS, AI, PI]] = arr[[PS, AS, PI, AI]]
        swapped[level] = new
    report = assess(neutral=_with(ls, vertebrae=swapped))
    found = [q for q in _issues(report, "corner_order") if q.level == "all"]
    assert found and found[0].severity == "warning" and "swapped" in found[0].message
    assert all(report.record(s)["segmental_angle_deg"] < 0 for s in ("L1-L2", "L4-L5"))
    # the correctly named spine (all segments lordotic) gets no such warning
    assert not [q for q in _issues(assess(neutral=ls), "corner_order") if q.level == "all"]
