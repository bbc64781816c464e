"""Sit-to-stand detectors are interchangeable classes; the config's method name maps onto them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.io import read_recording
from spinestab.wearable.pipeline import analyse
from spinestab.wearable.transfers import (
    SIT_TO_STAND_DETECTORS,
    DisplacementSitToStand,
    SitToStandDetector,
    SitToStandResult,
    StillnessSitToStand,
    TransferInput,
    sit_to_stand_detector,
)

from .conftest import DATA, load_npz


def test_method_names_map_onto_the_classes():
    assert set(SIT_TO_STAND_DETECTORS) == {"stillness", "displacement"}
    assert isinstance(sit_to_stand_detector("stillness"), StillnessSitToStand)
    assert isinstance(sit_to_stand_detector("displacement"), DisplacementSitToStand)
    det = DisplacementSitToStand(near_lying_s=3)
    assert sit_to_stand_detector(det) is det
    with pytest.raises(InputError, match="sit-to-stand"):
        sit_to_stand_detector("bogus")


def test_a_detector_given_equals_its_name_in_the_config():
    rec = read_recording(DATA / "s2s_input_data.npz")
    by_name = analyse(rec, cfg=WearableConfig(sit_to_stand_method="displacement"))
    by_class = analyse(rec, sit_to_stand=DisplacementSitToStand())
    keys = ("sit_to_stand_unix_s", "sit_to_stand_end_unix_s", "sit_to_stand_displacement_m")
    for k in (*keys, "sit_to_stand_method"):
        assert by_name.info[k] == by_class.info[k]
    ref = load_npz(DATA / "s2s_displacement_results.npz")["STS Start"]
    assert np.max(np.abs(np.asarray(by_class.info["sit_to_stand_unix_s"]) - ref)) <= 0.1
    # a parameter of the class changes the result: a stillness rule asking for a 30-s
    # still spell finds none of SKDH's three stillness transfers (they follow 3-10 s)
    strict = analyse(rec, sit_to_stand=StillnessSitToStand(min_still_s=30))
    assert strict.info["sit_to_stand_method"] == "stillness"
    assert strict.info["sit_to_stand_unix_s"] == []
    assert len(analyse(rec).info["sit_to_stand_unix_s"]) == 3


def test_a_new_method_plugs_in_without_touching_the_pipeline():
    @dataclasses.dataclass(frozen=True)
    class EveryMinute(SitToStandDetector):
        name = "every minute"

        def detect(self, data: TransferInput) -> SitToStandResult:
            return SitToStandResult(self.name, data.start_unix_s + np.arange(0, 61, 60.0))

    rec = read_recording(DATA / "s2s_input_data.npz")
    res = analyse(rec, sit_to_stand=EveryMinute())
    assert res.info["sit_to_stand_method"] == "every minute"
    assert res.info["sit_to_stand_unix_s"] == [res.start_unix_s, res.start_unix_s + 60]


def test_an_unknown_method_is_refused_before_the_work():
    rec = read_recording(DATA / "s2s_input_data.npz")
    calls = []
    with pytest.raises(InputError, match="unknown sit-to-stand method"):
        analyse(rec, cfg=WearableConfig(sit_to_stand_method="x"), progress=calls.append)
    assert calls == []  # no second was processed
