"""Every domain's user-given JSON/YAML file is read through the bounded loaders."""

from __future__ import annotations

import time

import pytest

from spinestab.errors import InputError

BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP = '{"x": ' + "[" * 200 + "]" * 200 + "}"
HUGE_INT = '{"1": {"muscle": "multifidus", "side": "left", "x": 1' + "0" * 40 + "}}"


def _refused(load, path, fragment):
    start = time.perf_counter()
    with pytest.raises(InputError, match=fragment) as info:
        load(path)
    assert time.perf_counter() - start < 1.0
    assert str(path) in str(info.value)


def test_instability_threshold_and_morphometry_rule_files(tmp_path):
    from spinestab.instability import load_threshold_set
    from spinestab.instability.morphometry_rules import load_morphometry_rules

    path = tmp_path / "thresholds.yaml"
    path.write_text(BOMB)
    _refused(lambda p: load_threshold_set("x", path=p), path, "YAML aliases")
    path = tmp_path / "thresholds.json"
    path.write_text(DEEP)
    _refused(lambda p: load_threshold_set("x", path=p), path, "too deeply")
    path = tmp_path / "morphometry.yaml"
    path.write_text(BOMB)
    _refused(load_morphometry_rules, path, "YAML aliases")


def test_landmark_and_mask_mapping_files(tmp_path):
    from spinestab.instability.landmark_io import read_landmarks
    from spinestab.instability.mask_io import label_map

    path = tmp_path / "landmarks.json"
    path.write_text(DEEP)
    _refused(read_landmarks, path, "too deeply")
    path.write_text('{"units": "mm", "pixel_spacing": 1' + "0" * 30 + "}")
    _refused(read_landmarks, path, "integer too large")
    path = tmp_path / "mapping.json"
    path.write_text('{"21": "L2", "21": "L3"}')
    _refused(label_map, path, "duplicated item")


def test_imaging_label_scheme_and_slice_table(tmp_path):
    from spinestab.imaging.io.tables import read_slice_table
    from spinestab.imaging.labels import load_custom_scheme

    path = tmp_path / "scheme.json"
    path.write_text(HUGE_INT)
    _refused(load_custom_scheme, path, "integer too large")
    path = tmp_path / "slices.json"
    path.write_text(DEEP)
    _refused(read_slice_table, path, "too deeply")
