"""fit_response_model on a simulated cohort with known heterogeneous effects."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.care import demo_patients_dir, fit_response_model, load_patient_dir
from spinestab.care.response import (
    applicable_rules,
    simulate_cohort,
    true_response_probability,
)
from spinestab.errors import InputError

FEATURES = [
    "age",
    "baseline_odi",
    "sbst_psychosocial",
    "multifidus_fat_pct",
    "aberrant_movement",
    "pit",
]


@pytest.fixture(scope="module")
def fitted():
    return fit_response_model(
        simulate_cohort(3000, seed=1), features=FEATURES, n_bootstrap=40, random_state=0
    )


def test_recovers_known_heterogeneous_effects(fitted):
    test = simulate_cohort(2000, seed=2)
    eff = fitted.effect(test, arm="motor_control", reference="general_exercise")
    truth = true_response_probability(test, "motor_control") - true_response_probability(
        test, "general_exercise"
    )
    assert np.corrcoef(eff["effect"], truth)[0, 1] > 0.9
    assert np.abs(eff["effect"] - truth).mean() < 0.06
    psych = fitted.effect(test, arm="psych_informed", reference="general_exercise")
    truth_psych = true_response_probability(test, "psych_informed") - true_response_probability(
        test, "general_exercise"
    )
    assert np.corrcoef(psych["effect"], truth_psych)[0, 1] > 0.9


def test_recommends_the_truly_best_programme(fitted):
    test = simulate_cohort(2000, seed=3)
    truth = np.stack([true_response_probability(test, a) for a in fitted.arms])
    best = np.asarray(fitted.arms)[truth.argmax(axis=0)]
    ordered = np.sort(truth, axis=0)
    clear = ordered[-1] - ordered[-2] > 0.1
    rec = fitted.recommend(test)
    assert np.mean(rec["arm"][clear] == best[clear]) > 0.95
    assert np.mean(rec["confidence"][clear]) > np.mean(rec["confidence"][~clear])


def test_calibrated_with_honest_uncertainty(fitted):
    test = simulate_cohort(2000, seed=4)
    pred = fitted.predict(test, level=0.9)
    for arm in fitted.arms:
        cal = fitted.calibration[arm]
        assert 0.7 < cal["calibration_slope"] < 1.3
        assert abs(cal["calibration_intercept"]) < 0.2
        assert cal["brier"] < 0.25
        truth = true_response_probability(test, arm)
        covered = np.mean((pred[arm]["low"] <= truth) & (truth <= pred[arm]["high"]))
        assert covered > 0.8


def test_distractor_feature_has_no_effect(fitted):
    test = simulate_cohort(500, seed=5)
    low, high = dict(test), dict(test)
    low["multifidus_fat_pct"] = np.full(500, 5.0)
    high["multifidus_fat_pct"] = np.full(500, 60.0)
    for arm in fitted.arms:
        diff = fitted.predict(high)[arm]["p"] - fitted.predict(low)[arm]["p"]
        assert np.abs(diff).mean() < 0.08


def test_bad_outcome_tables_are_refused():
    cohort = simulate_cohort(300, seed=0)
    with pytest.raises(InputError, match="missing column"):
        fit_response_model({k: v for k, v in cohort.items() if k != "arm"})
    bad = dict(cohort)
    bad["responder"] = bad["responder"] * 2
    with pytest.raises(InputError, match="0/1"):
        fit_response_model(bad)
    small = {k: v[:30] for k, v in cohort.items()}
    with pytest.raises(InputError, match="too few"):
        fit_response_model(small)


def test_transparent_rules_apply_to_demo_profile():
    profile = load_patient_dir(demo_patients_dir() / "functional_high_risk")
    codes = {r["code"] for r in applicable_rules(profile)}
    assert {"two_item_rule", "sbst_high", "multifidus_fat"} <= codes
    assert "sbst_low" not in codes
