"""spinestab cohort fit-response: the response model on a cohort run, outcome from forms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spinestab.care.response import SIM_ARMS, fit_response_model, true_response_probability
from spinestab.cli import app
from spinestab.cohort import discover, run_cohort
from spinestab.cohort.response import response_table

N = 120
FEATURES = ["odi_pct", "age", "aberrant_movement", "pit", "sbst_psychosocial"]


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    """A randomised trial of N subjects: ODI at two sessions, arm and outcome known.

    Responders (drawn from the simulated heterogeneous effects of care.response) improve
    their ODI by at least the MIC at follow-up; the others keep it unchanged.
    """
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("trial") / "ds"
    rows = []
    for i in range(N):
        sub = f"sub-{i:03d}"
        answers = rng.multinomial(int(rng.integers(3, 29)), [0.1] * 10)
        answers = np.minimum(answers, 5)  # each ODI section is 0-5
        s = int(answers.sum())
        people = {
            "age": float(rng.integers(20, 70)),
            "arm": str(rng.choice(SIM_ARMS)),
            "aberrant_movement": float(rng.random() < 0.4),
            "pit": float(rng.random() < 0.4),
            "sbst_psychosocial": float(rng.integers(0, 6)),
        }
        truth = {
            "baseline_odi": np.array([2.0 * s]),
            "aberrant_movement": np.array([people["aberrant_movement"]]),
            "pit": np.array([people["pit"]]),
            "sbst_psychosocial": np.array([people["sbst_psychosocial"]]),
        }
        p = true_response_probability(truth, people["arm"])[0]
        responder = rng.random() < p
        follow = answers.copy()
        if responder:  # 5 points off the raw sum: -10 ODI points (or all of it)
            take = min(5, s)
            for _ in range(take):
                follow[np.flatnonzero(follow)[0]] -= 1
        for ses, date, ans in (("ses-1", "2025-06-02", answers), ("ses-2", "2025-09-01", follow)):
            folder = root / sub / ses / "forms"
            folder.mkdir(parents=True)
            doc = {
                "instrument": "odi",
                "date": date,
                "answers": {f"s{k + 1}": int(a) for k, a in enumerate(ans)},
            }
            (folder / "odi.json").write_text(json.dumps(doc))
        rows.append({"participant_id": sub, "sex": "F" if i % 2 else "M", **people,
                     "responder": int(responder), "baseline_odi": 2.0 * s})  # fmt: skip
    pd.DataFrame(rows).drop(columns="baseline_odi").to_csv(
        root / "participants.tsv", sep="\t", index=False
    )
    tasks, people = discover(root)
    out = tmp_path_factory.mktemp("trial_run") / "out"
    summary = run_cohort(tasks, out, participants=people, workers=2)
    assert summary.counts.done == 2 * N and not summary.failures
    return out, pd.DataFrame(rows)


def test_table_holds_baseline_predictors_and_the_mic_outcome(trial):
    out, truth = trial
    table, features, _ = response_table(out, outcome="odi", arm="arm", features=FEATURES)
    assert features == tuple(FEATURES)
    truth = truth.set_index("participant_id").loc[table.subject]
    np.testing.assert_array_equal(table.odi_pct, truth.baseline_odi)  # ses-1, not ses-2
    np.testing.assert_array_equal(table.responder, truth.responder)
    assert list(table.arm) == list(truth.arm)
    by_column, _, _ = response_table(out, outcome="responder", arm="arm", features=FEATURES)
    pd.testing.assert_frame_equal(table, by_column)


def test_fit_response_reports_the_models_calibration(trial, tmp_path):
    out, truth = trial
    res = CliRunner().invoke(
        app,
        ["cohort", "fit-response", str(out), "--outcome", "odi", "--arm", "arm",
         "--features", ",".join(FEATURES), "--bootstrap", "10", "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "calibration.json").read_text())
    assert report["subjects"] == N and report["features"] == FEATURES
    assert "randomised" in " ".join(report["notes"])
    source = truth.sort_values("participant_id").rename(columns={"baseline_odi": "odi_pct"})
    direct = fit_response_model(source, arm="arm", outcome="responder", features=FEATURES,
                                n_bootstrap=10, random_state=0)  # fmt: skip
    for arm, cal in direct.calibration.items():
        assert report["calibration"][arm] == pytest.approx(cal)
    assert set(report["calibration"]) == set(SIM_ARMS)
    for arm in SIM_ARMS:
        assert f"{arm}" in res.output
    pred = pd.read_parquet(tmp_path / "predictions.parquet")
    assert len(pred) == N * len(SIM_ARMS)
    assert (
        (pred.p_low_90 <= pred.p_response + 1e-9) & (pred.p_response <= pred.p_high_90 + 1e-9)
    ).all()


def test_unknown_or_empty_outcome_is_bad_input(trial):
    out, _ = trial
    res = CliRunner().invoke(app, ["cohort", "fit-response", str(out), "--outcome", "bmi",
                                   "--arm", "arm"])  # fmt: skip
    assert res.exit_code == 2 and "unknown outcome" in res.output
    res = CliRunner().invoke(app, ["cohort", "fit-response", str(out), "--outcome", "nrs",
                                   "--arm", "arm"])  # fmt: skip
    assert res.exit_code == 2 and "no subject has both" in res.output  # no NRS forms
    args = ["--outcome", "pit", "--arm", "aberrant_movement", "--features", "age,odi_pct"]
    res = CliRunner().invoke(app, ["cohort", "fit-response", str(out), *args])
    assert res.exit_code == 0, res.output  # any 0/1 column can be the outcome
