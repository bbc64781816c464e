"""Who benefits from which training: transparent rules, and a model learnt from outcomes.

Two parts:

* :data:`RESPONSE_RULES` and :func:`applicable_rules`: the published, transparent predictors
  of response with their evidence (CLINICAL_LOGIC.md §1.6, §5.1, §5.9).
* :func:`fit_response_model`: learns from a clinic's own outcome table which patients
  respond to which programme. A T-learner: one logistic-regression model per programme
  (arm), with cross-validated calibration (Brier score, calibration slope and intercept)
  and bootstrap uncertainty for every prediction. It is validated on
  :func:`simulate_cohort`, a cohort with known heterogeneous effects.

Observational clinic data are confounded: the model describes who responded under each
programme in that clinic, not a causal effect, unless programmes were randomised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab.care.profile import StabilityProfile
from spinestab.errors import InputError, require

__all__ = [
    "RESPONSE_RULES",
    "ResponseModel",
    "applicable_rules",
    "fit_response_model",
    "simulate_cohort",
    "true_response_probability",
]

RESPONSE_RULES: tuple[dict[str, str], ...] = (
    {
        "code": "hicks_cpr",
        "programme": "stabilisation / motor control exercise",
        "rule": ">= 3 of 4: age < 40, SLR > 91 deg, aberrant movement, positive prone "
        "instability test (LR+ 4.0, 67 % success)",
        "source": "Hicks GE et al., Arch Phys Med Rehabil 2005;86:1753-62 (CLINICAL_LOGIC.md "
        "§5.1); not validated by Rabin 2014",
        "evidence": "V",
    },
    {
        "code": "two_item_rule",
        "programme": "stabilisation / motor control exercise",
        "rule": "aberrant movement + positive prone instability test",
        "source": "Rabin A et al., JOSPT 2014 (CLINICAL_LOGIC.md §5.1)",
        "evidence": "V",
    },
    {
        "code": "sbst_high",
        "programme": "psychologically informed physiotherapy",
        "rule": "STarT Back high risk",
        "source": "Hill JC et al., Lancet 2011;378:1560-71 "
        "(CLINICAL_LOGIC.md §1.6); MATCH 2018: benefit depends on delivering the matched care",
        "evidence": "V/R",
    },
    {
        "code": "sbst_low",
        "programme": "advice, reassurance, self-management",
        "rule": "STarT Back low risk",
        "source": "Hill 2011 pathways [R]; NICE NG59 1.1.3 [V]",
        "evidence": "V/R",
    },
    {
        "code": "first_episode_multifidus",
        "programme": "specific multifidus training",
        "rule": "first episode of acute LBP (recurrence 30 % vs 84 % at 1 year)",
        "source": "Hides JA et al., Spine 2001;26:E243-8 (CLINICAL_LOGIC.md §5.1)",
        "evidence": "V",
    },
    {
        "code": "multifidus_fat",
        "programme": "progressive extensor loading",
        "rule": "multifidus fat grade >= 1 (emphasis only; FI does not predict outcome clearly)",
        "source": "CLINICAL_LOGIC.md §5.9 [D]; Storheim 2017 [R]; Wesselink 2023 [V]",
        "evidence": "D",
    },
)


def applicable_rules(profile: StabilityProfile) -> list[dict[str, str]]:
    """Return the transparent response rules that apply to a profile."""
    h = profile.clinical.history
    hicks = sum(
        bool(x)
        for x in (
            h.age is not None and h.age < 40,
            h.slr_deg is not None and h.slr_deg > 91,
            h.aberrant_movement,
            h.prone_instability_test,
        )
    )
    fat = profile.muscle.multifidus_fat_pct if profile.muscle else None
    applies = {
        "hicks_cpr": hicks >= 3,
        "two_item_rule": bool(h.aberrant_movement and h.prone_instability_test),
        "sbst_high": profile.clinical.startback_risk == "high",
        "sbst_low": profile.clinical.startback_risk == "low",
        "first_episode_multifidus": h.pain_duration_weeks is not None and h.pain_duration_weeks < 4,
        "multifidus_fat": fat is not None and fat >= 10,
    }
    return [dict(rule) for rule in RESPONSE_RULES if applies[rule["code"]]]


# ------------------------------------------------------------------------------ model
def _columns(table: Any) -> dict[str, np.ndarray]:
    if hasattr(table, "columns") and hasattr(table, "to_numpy"):
        return {str(c): table[c].to_numpy() for c in table.columns}
    if isinstance(table, Mapping):
        return {str(k): np.asarray(v) for k, v in table.items()}
    raise InputError(
        "outcomes must be a table",
        value=type(table).__name__,
        expected="a pandas DataFrame or a mapping column -> values",
    )


@dataclass
class ResponseModel:
    """Per-programme response models (T-learner) with calibration and uncertainty.

    Attributes
    ----------
    arms : tuple of str
        Programmes, in sorted order.
    features : tuple of str
        Predictor columns.
    models : dict
        Arm -> list of fitted scikit-learn pipelines; the first was fitted on all of the
        arm's patients, the others on bootstrap resamples.
    calibration : dict
        Arm -> ``n``, ``responders``, ``brier``, ``calibration_slope``,
        ``calibration_intercept`` from 5-fold cross-validated predictions.

    """

    arms: tuple[str, ...]
    features: tuple[str, ...]
    models: dict[str, list[Any]] = field(repr=False)
    calibration: dict[str, dict[str, float]]

    def _matrix(self, table: Any) -> np.ndarray:
        cols = _columns(table)
        missing = [f for f in self.features if f not in cols]
        if missing:
            raise InputError(
                "missing predictor column(s): " + ", ".join(missing),
                expected=", ".join(self.features),
            )
        return np.column_stack([cols[f].astype(float) for f in self.features])

    def predict(self, table: Any, *, level: float = 0.9) -> dict[str, dict[str, np.ndarray]]:
        """Response probability per arm with a bootstrap interval.

        Parameters
        ----------
        table : DataFrame or mapping
            Patients (rows) with the predictor columns.
        level : float
            Interval level (default 90 %).

        Returns
        -------
        dict
            Arm -> ``{"p": (n,), "low": (n,), "high": (n,)}``.

        """
        x = self._matrix(table)
        alpha = (1 - level) / 2
        out = {}
        for arm in self.arms:
            fits = self.models[arm]
            point = fits[0].predict_proba(x)[:, 1]
            boot = (
                np.stack([m.predict_proba(x)[:, 1] for m in fits[1:]])
                if len(fits) > 1
                else point[None, :]
            )
            out[arm] = {
                "p": point,
                "low": np.quantile(boot, alpha, axis=0),
                "high": np.quantile(boot, 1 - alpha, axis=0),
            }
        return out

    def effect(
        self,
        table: Any,
        *,
        arm: str,
        reference: str,
        level: float = 0.9,
    ) -> dict[str, np.ndarray]:
        """Difference in response probability ``arm - reference`` (n,), with an interval."""
        for name in (arm, reference):
            if name not in self.arms:
                raise InputError("unknown arm", value=name, expected=", ".join(self.arms))
        x = self._matrix(table)
        a, r = self.models[arm], self.models[reference]
        point = a[0].predict_proba(x)[:, 1] - r[0].predict_proba(x)[:, 1]
        k = min(len(a), len(r))
        boot = (
            np.stack(
                [a[i].predict_proba(x)[:, 1] - r[i].predict_proba(x)[:, 1] for i in range(1, k)]
            )
            if k > 1
            else point[None, :]
        )
        alpha = (1 - level) / 2
        return {
            "effect": point,
            "low": np.quantile(boot, alpha, axis=0),
            "high": np.quantile(boot, 1 - alpha, axis=0),
        }

    def recommend(self, table: Any) -> dict[str, np.ndarray]:
        """Arm with the highest predicted response, and how often it is best over bootstraps.

        Returns
        -------
        dict
            ``arm`` (n,) of arm names and ``confidence`` (n,): the share of bootstrap fits
            in which that arm is best.

        """
        x = self._matrix(table)
        point = np.stack([self.models[a][0].predict_proba(x)[:, 1] for a in self.arms])
        best = point.argmax(axis=0)
        k = min(len(self.models[a]) for a in self.arms)
        if k > 1:
            boot = np.stack(
                [
                    np.stack([self.models[a][i].predict_proba(x)[:, 1] for a in self.arms]).argmax(
                        axis=0
                    )
                    for i in range(1, k)
                ]
            )
            confidence = (boot == best[None, :]).mean(axis=0)
        else:
            confidence = np.ones(len(best))
        return {"arm": np.asarray(self.arms)[best], "confidence": confidence}


def _calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    eps = 1e-6
    logit = np.log(np.clip(p, eps, 1 - eps) / np.clip(1 - p, eps, 1 - eps))
    # calibration slope/intercept: logistic regression of y on logit(p) (Cox 1958),
    # by Newton steps (two parameters; no regularisation).
    beta = np.zeros(2)
    design = np.column_stack([np.ones_like(logit), logit])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-design @ beta))
        w = mu * (1 - mu)
        hess = design.T @ (design * w[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, design.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return {
        "n": len(y),
        "responders": int(y.sum()),
        "brier": float(np.mean((p - y) ** 2)),
        "calibration_intercept": float(beta[0]),
        "calibration_slope": float(beta[1]),
    }


def fit_response_model(
    outcomes: Any,
    *,
    arm: str = "arm",
    outcome: str = "responder",
    features: Sequence[str] | None = None,
    n_bootstrap: int = 50,
    random_state: int = 0,
    c: float = 1.0,
) -> ResponseModel:
    """Learn per-programme response probabilities from a clinic's outcome table.

    Parameters
    ----------
    outcomes : DataFrame or mapping of column -> values
        One row per patient: the programme (``arm``), the binary outcome (``outcome``:
        1 = responder, e.g. MIC or >= 30 % on the primary measure at 12 weeks) and the
        numeric predictors.
    arm, outcome : str
        Column names.
    features : sequence of str, optional
        Predictor columns (default: every other column).
    n_bootstrap : int
        Bootstrap refits per arm for the uncertainty (0 for none).
    random_state : int
        Seed.
    c : float
        Inverse L2 regularisation strength of the logistic regressions.

    Returns
    -------
    ResponseModel

    """
    require("sklearn", extra="care", feature="fit_response_model")
    cols = _columns(outcomes)
    features, x, y = _design(cols, arm=arm, outcome=outcome, features=features)
    arms = tuple(sorted({str(a) for a in cols[arm]}))
    arm_values = np.asarray([str(a) for a in cols[arm]])
    rng = np.random.default_rng(random_state)
    models: dict[str, list[Any]] = {}
    calibration: dict[str, dict[str, float]] = {}
    for name in arms:
        mask = arm_values == name
        models[name], calibration[name] = _fit_arm(
            name,
            x[mask],
            y[mask].astype(int),
            rng=rng,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
            c=c,
        )
    return ResponseModel(arms, features, models, calibration)


def _design(
    cols: Mapping[str, np.ndarray], *, arm: str, outcome: str, features: Sequence[str] | None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Check the table and return the predictor names, predictors and 0/1 outcomes."""
    for name in (arm, outcome):
        if name not in cols:
            raise InputError(
                f"missing column '{name}'",
                value=sorted(cols),
                expected=f"columns '{arm}', '{outcome}' and predictors",
            )
    names = (
        tuple(features)
        if features is not None
        else tuple(c_ for c_ in cols if c_ not in (arm, outcome))
    )
    if not names:
        raise InputError("no predictor columns", expected="at least one numeric column")
    missing = [f for f in names if f not in cols]
    if missing:
        raise InputError("missing predictor column(s): " + ", ".join(missing))
    try:
        x = np.column_stack([cols[f].astype(float) for f in names])
        y = cols[outcome].astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"predictors and outcome must be numeric ({exc})") from None
    if not np.all(np.isfinite(x)):
        raise InputError(
            "missing or non-finite predictor values",
            expected="complete numeric predictors (impute or drop rows first)",
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError(
            "outcome must be 0/1", item=outcome, value=sorted(set(np.unique(y).tolist()))[:5]
        )
    return names, x, y


def _fit_arm(
    name: str,
    xa: np.ndarray,
    ya: np.ndarray,
    *,
    rng: np.random.Generator,
    n_bootstrap: int,
    random_state: int,
    c: float,
) -> tuple[list[Any], dict[str, float]]:
    """Fit one arm (with bootstrap refits) and its cross-validated calibration."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(ya) < 20 or ya.min() == ya.max() or min(ya.sum(), (1 - ya).sum()) < 5:
        raise InputError(
            "too few patients or outcomes of one kind in an arm",
            item=name,
            value=len(ya),
            expected=">= 20 patients with >= 5 responders and 5 non-responders",
        )

    def make() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))

    fits = [make().fit(xa, ya)]
    for _ in range(n_bootstrap):
        idx = rng.integers(0, len(ya), len(ya))
        if ya[idx].min() == ya[idx].max():
            continue
        fits.append(make().fit(xa[idx], ya[idx]))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
    p_cv = cross_val_predict(make(), xa, ya, cv=folds, method="predict_proba")[:, 1]
    return fits, _calibration(ya.astype(float), p_cv)


# ------------------------------------------------------------------------------ simulation
SIM_ARMS = ("general_exercise", "motor_control", "psych_informed")


def true_response_probability(table: Mapping[str, np.ndarray], arm: str) -> np.ndarray:
    """Return the known response probability of the simulated cohort under ``arm``.

    Logit = -0.2 - 0.03 (ODI - 35) + arm effect, with heterogeneous effects: motor control
    +0.9 per movement-control sign (aberrant movement, positive PIT) - 0.3; psychologically
    informed care +0.5 per psychosocial STarT Back point above 2.5; general exercise +0.1.
    """
    base = -0.2 - 0.03 * (table["baseline_odi"] - 35.0)
    if arm == "motor_control":
        logit = base - 0.3 + 0.9 * table["aberrant_movement"] + 0.9 * table["pit"]
    elif arm == "psych_informed":
        logit = base + 0.5 * (table["sbst_psychosocial"] - 2.5)
    elif arm == "general_exercise":
        logit = base + 0.1
    else:
        raise InputError("unknown simulated arm", value=arm, expected=", ".join(SIM_ARMS))
    return 1 / (1 + np.exp(-logit))


def simulate_cohort(n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate a randomised cohort with known heterogeneous treatment effects.

    Columns: ``age``, ``baseline_odi``, ``sbst_psychosocial`` (0-5),
    ``multifidus_fat_pct`` (no effect, a distractor), ``aberrant_movement``, ``pit``,
    ``arm`` (randomised among :data:`SIM_ARMS`) and ``responder`` (drawn from
    :func:`true_response_probability`).
    """
    rng = np.random.default_rng(seed)
    table: dict[str, np.ndarray] = {
        "age": rng.uniform(20, 70, n).round(),
        "baseline_odi": rng.uniform(10, 60, n).round(),
        "sbst_psychosocial": rng.integers(0, 6, n).astype(float),
        "multifidus_fat_pct": rng.uniform(5, 60, n).round(1),
        "aberrant_movement": (rng.random(n) < 0.4).astype(float),
        "pit": (rng.random(n) < 0.4).astype(float),
    }
    arms = rng.choice(np.asarray(SIM_ARMS), size=n)
    p = np.empty(n)
    for arm in SIM_ARMS:
        mask = arms == arm
        p[mask] = true_response_probability({k: v[mask] for k, v in table.items()}, arm)
    table["arm"] = arms
    table["responder"] = (rng.random(n) < p).astype(float)
    return table
