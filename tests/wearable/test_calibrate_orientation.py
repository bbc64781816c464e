"""Autocalibration and mounting orientation against constructed truth."""

from __future__ import annotations

import numpy as np

from spinestab.wearable.calibrate import autocalibrate
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.nonwear import SensorSeconds, StillRunNonwear
from spinestab.wearable.orientation import body_angles, estimate_orientation, unit_rows


def _sphere(n, rng):
    return unit_rows(rng.normal(size=(n, 3)))


def test_autocalibration_recovers_gain_and_offset():
    rng = np.random.default_rng(0)
    true = _sphere(400, rng)
    gain = np.array([1.03, 0.97, 1.01])
    offset = np.array([0.04, -0.03, 0.02])
    measured = (true - offset) / gain + rng.normal(0, 0.002, true.shape)
    cal = autocalibrate(measured, np.ones(len(measured), bool))
    assert cal.status == "ok"
    np.testing.assert_allclose(cal.gain, gain, atol=0.003)
    np.testing.assert_allclose(cal.offset_g, offset, atol=0.003)
    assert cal.error_after_g < 0.003 < cal.error_before_g


def test_autocalibration_skipped_without_orientations():
    rng = np.random.default_rng(1)
    # a trunk sensor that is only ever within a few degrees of upright
    d = unit_rows(np.column_stack([np.ones(300), rng.normal(0, 0.08, (300, 2))]))
    cal = autocalibrate(d * 1.02, np.ones(300, bool))
    assert cal.status.startswith("skipped")
    np.testing.assert_array_equal(cal.apply(d), d)


def test_partial_coverage_fit_is_labelled_and_improves():
    rng = np.random.default_rng(1)
    # within ~40 deg of upright: van Hees' +-0.3 g rule fails, the directions still span 3-D
    d = unit_rows(np.column_stack([np.ones(300), rng.normal(0, 0.3, (300, 2))]))
    cal = autocalibrate(d * 1.02, np.ones(300, bool))
    assert cal.status == "ok (partial coverage)"
    np.testing.assert_allclose(cal.gain, 1 / 1.02, atol=0.003)
    assert cal.error_after_g < 0.1 * cal.error_before_g


def test_nonwear_needs_an_hour_of_stillness():
    cfg = WearableConfig()
    sd = np.full(4 * 3600, 0.05)
    sd[100 : 100 + 3599] = 0.001  # 59 min 59 s still: worn
    sd[5000 : 5000 + 3600] = 0.001  # 60 min still: not worn
    missing = np.zeros(sd.size, bool)
    missing[9000:9010] = True  # missing data is flagged too
    g = np.tile([1.0, 0.0, 0.0], (sd.size, 1))
    nw = StillRunNonwear().detect(SensorSeconds(g, sd, missing), cfg=cfg).trunk
    assert not nw[100:3699].any()
    assert nw[5000:8600].all() and nw[9000:9010].all()
    assert nw.sum() == 3600 + 10


def _posture_set(rot, rng):
    """Gravity directions (segment frame x up, z anterior) seen through mounting ``rot``."""
    walk = np.tile([1.0, 0.0, 0.0], (200, 1)) + rng.normal(0, 0.01, (200, 3))
    th = np.radians(rng.uniform(20, 70, 300))
    bend = np.column_stack([np.cos(th), np.zeros(300), -np.sin(th)])
    g = np.vstack([walk, bend]) @ rot.T
    walking = np.r_[np.ones(200, bool), np.zeros(300, bool)]
    return g, walking, np.degrees(th)


def test_upside_down_and_inside_out_are_detected():
    rng = np.random.default_rng(2)
    flips = {
        "as intended": (np.eye(3), False, False),
        "upside down": (np.diag([-1.0, -1.0, 1.0]), True, False),
        "inside out": (np.diag([1.0, -1.0, -1.0]), False, True),
    }
    for name, (rot, up_down, in_out) in flips.items():
        g, walking, th = _posture_set(rot, rng)
        o = estimate_orientation(unit_rows(g), walking=walking)
        assert o.upside_down is up_down, name
        assert o.inside_out is in_out, name
        _, fwd, lat = body_angles(g, o)
        np.testing.assert_allclose(fwd[200:], th, atol=1.5)
        assert np.abs(lat[200:]).max() < 1.5


def test_declared_standing_period_is_the_reference():
    rng = np.random.default_rng(3)
    g, walking, _ = _posture_set(np.eye(3), rng)
    lean = np.radians(10)
    stand = np.tile([np.cos(lean), 0.0, -np.sin(lean)], (30, 1))  # stands 10 deg forward
    g2 = np.vstack([g, stand])
    standing = np.r_[np.zeros(len(g), bool), np.ones(30, bool)]
    o = estimate_orientation(
        unit_rows(g2), walking=np.r_[walking, np.zeros(30, bool)], standing=standing
    )
    assert o.up_source == "standing period"
    _, fwd, _ = body_angles(g2, o)
    # walking is 10 deg behind the declared upright (per-second noise about 1 deg)
    assert abs(float(np.mean(fwd[:200])) + 10.0) < 0.3
    assert np.abs(fwd[:200] + 10.0).max() < 4.0
