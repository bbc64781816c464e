"""Landmark files: JSON and CSV give the same corners; every bad file gets a clear InputError."""

import json

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.instability import (
    assess,
    landmarks_from_dict,
    landmarks_to_csv,
    landmarks_to_dict,
    read_landmarks,
)
from spinestab.instability.landmarks import CORNERS
from spinestab.instability.phantom import build_spine, transform


def _px_spine():
    spine = build_spine(slip_mm=[0, 1, 2, 6, 3], angle_deg=[5, 6, 8, 11, 15])
    # an image: y down, 0.15 mm pixels, anterior to the left
    return transform(
        spine,
        scale=1 / 0.15,
        mirror=True,
        rotation_deg=180,
        shift=(1500, 900),
        units="px",
        pixel_spacing_mm=(0.15, 0.15),
        magnification_known=False,
    )


def _valid():
    return {
        "units": "px",
        "pixel_spacing_mm": [0.15, 0.15],
        "view": "neutral",
        "vertebrae": {
            "L4": {
                "anterior_superior": [100, 100],
                "posterior_superior": [360, 110],
                "posterior_inferior": [355, 290],
                "anterior_inferior": [98, 282],
            },
            "L5": {
                "anterior_superior": [95, 340],
                "posterior_superior": [352, 345],
                "posterior_inferior": [350, 525],
                "anterior_inferior": [92, 515],
            },
        },
    }


def test_json_and_csv_round_trip_give_identical_corners(tmp_path):
    ls = _px_spine()
    jpath, cpath = tmp_path / "n.json", tmp_path / "n.csv"
    jpath.write_text(json.dumps(landmarks_to_dict(ls)))
    cpath.write_text(landmarks_to_csv(ls))
    a, b = read_landmarks(jpath), read_landmarks(cpath)
    assert a.levels == b.levels == ["L1", "L2", "L3", "L4", "L5", "S1"]
    for level in a.levels:
        np.testing.assert_array_equal(a.vertebrae[level], b.vertebrae[level])
        np.testing.assert_allclose(a.vertebrae[level], ls.vertebrae[level])
    assert a.pixel_spacing_mm == b.pixel_spacing_mm == (0.15, 0.15)
    assert a.view == b.view == "neutral" and a.units == b.units == "px"
    # S1 has no inferior corners in either format
    assert np.isnan(b.vertebrae["S1"][2:]).all()
    ra, rb = assess(neutral=a), assess(neutral=b)
    assert ra.to_dict()["levels"] == rb.to_dict()["levels"]
    # the measures equal the mm truth of the phantom (slip 6 mm at L4-L5 of a 40 mm endplate)
    assert ra.record("L4-L5")["slip_mm"] == pytest.approx(6.0, abs=0.01)
    assert ra.record("L4-L5")["slip_pct"] == pytest.approx(15.0, abs=0.01)


def test_wide_csv(tmp_path):
    header = "level," + ",".join(f"{c}_x,{c}_y" for c in CORNERS) + ",units,view\n"
    rows = [
        "L4,0,30,-40,30,-40,0,0,0,mm,neutral",
        "L5,-2,-8,-42,-8,-42,-38,-2,-38,mm,neutral",
    ]
    path = tmp_path / "w.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    ls = read_landmarks(path)
    np.testing.assert_array_equal(ls.vertebrae["L4"], [[0, 30], [-40, 30], [-40, 0], [0, 0]])
    # L4 PI (-40, 0) over L5 PS (-42, -8), endplate from (-42,-8) to (-2,-8): slip 2 mm, 5 %
    rec = assess(neutral=ls).record("L4-L5")
    assert rec["slip_mm"] == pytest.approx(2.0) and rec["slip_pct"] == pytest.approx(5.0)


def test_level_spellings_and_view_from_caller():
    data = _valid()
    data.pop("view")
    data["vertebrae"] = {"l4": data["vertebrae"]["L4"], "vertebrae_L5": data["vertebrae"]["L5"]}
    ls = landmarks_from_dict(data, view="flexion")
    assert ls.levels == ["L4", "L5"] and ls.view == "flexion"


def _error(data, **kw):
    with pytest.raises(InputError) as info:
        landmarks_from_dict(data, source="f.json", **kw)
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("units"), "units missing"),
        (lambda d: d.update(units="cm"), "unknown units"),
        (lambda d: d.update(pixel_spacing_mm=[0.15]), "two values"),
        (lambda d: d.update(pixel_spacing_mm=[0.15, -1]), "positive"),
        (lambda d: d.update(pixel_spacing_mm=[0.15, 50]), "implausibly large"),
        (lambda d: d.update(units="mm"), "pixel_spacing_mm given with units mm"),
        (lambda d: d.update(view="lateral"), "unknown view"),
        (lambda d: d.pop("view"), "view missing"),
        (lambda d: d.update(vertebrae={}), "no vertebrae"),
        (lambda d: d.update(vertebrae=[1, 2]), "no vertebrae"),
        (lambda d: d["vertebrae"].update(X9=d["vertebrae"]["L4"]), "unknown vertebral level"),
        (lambda d: d["vertebrae"].update(l4=d["vertebrae"]["L4"]), "level given twice"),
        (lambda d: d["vertebrae"]["L4"].pop("anterior_inferior"), "corners missing"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superor=[1, 2]), "unknown corner names"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superior=[1]), "exactly two coordinates"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superior=["a", 2]), "not a number"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superior=[float("nan"), 2]), "not finite"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superior="1,2"), "pair of coordinates"),
        (lambda d: d["vertebrae"]["L4"].update(anterior_superior=None), "only one corner"),
        (
            lambda d: d["vertebrae"]["L4"].update({c: None for c in CORNERS}),
            "no complete endplate",
        ),
        (lambda d: d.update(magnification_corrected="yes"), "true or false"),
        (lambda d: d.update(pixelspacing=[1, 1]), "unknown top-level keys"),
        (lambda d: d["vertebrae"].update(L4=[1, 2]), "object of corners"),
    ],
)
def test_bad_json_content_is_named(change, words):
    data = _valid()
    change(data)
    message = _error(data)
    assert words in message
    assert message.startswith("f.json")


def test_view_conflict_names_both():
    message = _error(_valid(), view="flexion")
    assert "neutral view but was given as flexion" in message


def test_s1_needs_superior_corners():
    data = _valid()
    data["vertebrae"]["S1"] = {"anterior_superior": None, "posterior_superior": None}
    assert "S1" in _error(data)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("a.json", "{not json", "invalid JSON at line 1"),
        ("a.json", '{"units": "mm", "units": "px"}', "key given twice"),
        ("a.json", "[1, 2]", "must hold a JSON object"),
        ("a.txt", "{}", "unsupported landmark file type"),
        ("a.csv", "", "CSV file is empty"),
        ("a.csv", "level,corner,x,y\n", "no landmark rows"),
        ("a.csv", "a,b,c\n1,2,3\n", "lacks the landmark columns"),
        ("a.csv", "level,corner,x,y\nL4,anterior_superior,1,2\n", "units missing"),
        ("a.csv", "level,corner,x,y,units\nL4,middle,1,2,mm\n", "unknown corner name"),
        (
            "a.csv",
            "level,corner,x,y,units\nL4,anterior_superior,1,2,mm\nL4,anterior_superior,1,2,mm\n",
            "corner given twice",
        ),
        (
            "a.csv",
            "level,corner,x,y,units,view\nL4,anterior_superior,1,2,mm,neutral\n"
            "L4,posterior_superior,1,2,mm,flexion\n",
            "one value for the whole file",
        ),
        (
            "a.csv",
            "level,corner,x,y,units,pixel_spacing_row_mm\nL4,anterior_superior,1,2,px,0.1\n",
            "needs both columns",
        ),
        (
            "a.csv",
            "level,corner,x,y,units\nL4,anterior_superior,1,2,mm,extra\n",
            "more cells than the header",
        ),
        (
            "a.csv",
            "level,corner,x,y,units\nL4,anterior_superior,1,2,mm\nL4,posterior_superior,1,2,px\n",
            "different units",
        ),
    ],
)
def test_bad_files_are_named(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_landmarks(path, view="neutral")
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_landmarks(tmp_path / "nope.json")
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not UTF-8"):
        read_landmarks(path)
    with pytest.raises(InputError, match="not a file"):
        (tmp_path / "d.json").mkdir()
        read_landmarks(tmp_path / "d.json")


def test_csv_without_rows_for_a_cut_endplate(tmp_path):
    rows = [
        "level,corner,x,y,units,view",
        "L4,anterior_inferior,0,0,mm,neutral",
        "L4,posterior_inferior,-40,0,mm,neutral",
        "L5,anterior_superior,-2,-8,mm,neutral",
        "L5,posterior_superior,-42,-8,mm,neutral",
        "L5,posterior_inferior,-42,-38,mm,neutral",
        "L5,anterior_inferior,-2,-38,mm,neutral",
    ]
    path = tmp_path / "cut.csv"
    path.write_text("\n".join(rows) + "\n")
    ls = read_landmarks(path)
    assert np.isnan(ls.vertebrae["L4"][:2]).all()
    assert assess(neutral=ls).record("L4-L5")["slip_mm"] == pytest.approx(2.0)
    path.write_text("\n".join(rows[:2] + rows[3:]) + "\n")  # L4 keeps one inferior corner
    with pytest.raises(InputError, match="inferior endplate has only one corner"):
        read_landmarks(path)


def test_mid_points_read_from_json_and_both_csv_layouts(tmp_path):
    data = _valid()
    data["vertebrae"]["L4"]["mid_superior"] = [230, 108]
    data["vertebrae"]["L4"]["mid_inferior"] = [226.5, 280]
    data["vertebrae"]["L5"]["mid_superior"] = None
    data["vertebrae"]["L5"]["mid_inferior"] = [221, 515]
    ls = landmarks_from_dict(data)
    assert np.array_equal(ls.midpoints["L4"], [[230, 108], [226.5, 280]])
    assert np.isnan(ls.midpoints["L5"][0]).all() and list(ls.midpoints["L5"][1]) == [221, 515]
    # JSON and long CSV round trips keep them; the wide CSV reads mid_* columns too
    jpath, cpath = tmp_path / "m.json", tmp_path / "m.csv"
    jpath.write_text(json.dumps(landmarks_to_dict(ls)))
    cpath.write_text(landmarks_to_csv(ls))
    wide = tmp_path / "w.csv"
    cols = [f"{c}_{a}" for c in (*CORNERS, "mid_superior", "mid_inferior") for a in "xy"]
    rows = ["level," + ",".join(cols) + ",units,view"]
    for level, entry in data["vertebrae"].items():
        cells = []
        for c in (*CORNERS, "mid_superior", "mid_inferior"):
            point = entry[c]
            cells += ["", ""] if point is None else [str(v) for v in point]
        rows.append(f"{level}," + ",".join(cells) + ",px,neutral")
    wide.write_text("\n".join(rows) + "\n")
    for path in (jpath, cpath, wide):
        back = read_landmarks(path)
        assert set(back.midpoints) == {"L4", "L5"}
        for level in ("L4", "L5"):
            np.testing.assert_array_equal(back.midpoints[level], ls.midpoints[level])
    # without mid-points nothing is invented
    assert landmarks_from_dict(_valid()).midpoints == {}


@pytest.mark.parametrize("bad", [[1], "a,b", [1, float("nan")], {"x": 1}])
def test_bad_mid_point_is_a_clear_error(bad):
    data = _valid()
    data["vertebrae"]["L4"]["mid_superior"] = bad
    with pytest.raises(InputError, match=r"L4\.mid_superior"):
        landmarks_from_dict(data)


def test_view_defaults_only_when_asked():
    data = _valid()
    del data["view"]
    with pytest.raises(InputError, match="view missing"):
        landmarks_from_dict(data)
    assert landmarks_from_dict(data, default_view="neutral").view == "neutral"
    data["view"] = "flexion"
    assert landmarks_from_dict(data, default_view="neutral").view == "flexion"
