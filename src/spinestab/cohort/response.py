"""``spinestab cohort fit-response``: the response model on a cohort's own outcomes.

The table comes from the run's ``profiles/`` (one row per subject and session, joined with
``participants.tsv``): the predictors are each subject's **baseline** (earliest session)
values, the programme is a participants column (``--arm``), and the outcome is either

* a participants column holding 0/1 (``--outcome responder``), or
* an instrument with a minimal important change (``odi``, ``rmdq``, ``nrs``, ``psfs``):
  responder when the change from the subject's first to last session is ``improved`` by
  :func:`spinestab.clinical.assess_change` (absolute MIC or 30 %, Ostelo 2008; CLINICAL_LOGIC
  §2.6).

The model is :func:`spinestab.care.response.fit_response_model` (a T-learner with
cross-validated calibration); this module only builds its table and writes its report.
Observational cohorts are confounded: unless programmes were randomised the model describes
who responded under each programme, not a causal effect (said in the report).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinestab.errors import InputError, require

__all__ = ["MIC_OUTCOMES", "ResponseReport", "fit_cohort_response", "response_table"]

#: Instruments whose change can define a responder, and the profile column that holds them.
MIC_OUTCOMES = {"odi": "odi_pct", "rmdq": "rmdq", "nrs": "nrs", "psfs": "psfs"}
#: Profile columns that are not predictors by default (identity, dates, text, counts).
_NOT_PREDICTORS = {
    "subject",
    "session",
    "sex",
    "days",
    "valid_days",
    "first_date",
    "last_date",
    "forms_date",
    "movement_setup",
    "movement_notes",
}
_TRUE = {"1", "1.0", "true", "yes", "y", "responder"}
_FALSE = {"0", "0.0", "false", "no", "n", "non_responder", "non-responder"}
CONFOUNDING_NOTE = (
    "unless the programmes were randomised, the model describes who responded under each "
    "programme in this cohort, not a causal effect"
)


@dataclass
class ResponseReport:
    """What ``fit-response`` fitted and how well it is calibrated.

    Attributes
    ----------
    outcome, arm : str
        The outcome definition and the arm column.
    features : tuple of str
        Predictors used.
    calibration : dict
        Arm -> ``n``, ``responders``, ``brier``, ``calibration_slope``,
        ``calibration_intercept`` (5-fold cross-validated; see ``fit_response_model``).
    subjects : int
        Subjects in the fit.
    notes : list of str
        Subjects and columns left out, and why; the confounding caveat.
    model : ResponseModel
        The fitted model (for predictions).

    """

    outcome: str
    arm: str
    features: tuple[str, ...]
    calibration: dict[str, dict[str, float]]
    subjects: int
    notes: list[str] = field(default_factory=list)
    model: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``calibration.json``)."""
        return {
            "outcome": self.outcome,
            "arm": self.arm,
            "features": list(self.features),
            "subjects": self.subjects,
            "calibration": self.calibration,
            "notes": self.notes,
            "model": "spinestab.care.response.fit_response_model (T-learner, logistic "
            "regression per arm, 5-fold cross-validated calibration, bootstrap intervals)",
        }


def _binary(values: Any, column: str) -> Any:
    pd = require("pandas", extra="cohort", feature="fit-response")
    out = []
    for v in values:
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        text = text.strip().lower()
        if text in _TRUE:
            out.append(1.0)
        elif text in _FALSE:
            out.append(0.0)
        elif text in ("", "n/a", "na", "nan", "none"):
            out.append(math.nan)
        else:
            raise InputError(
                "outcome is not 0/1", item=column, value=v, expected="0/1, true/false, yes/no"
            )
    return pd.Series(out, index=values.index, dtype="float64")


def _session_order(profiles: Any) -> Any:
    """Profiles sorted so that each subject's first row is its baseline session."""
    pd = require("pandas", extra="cohort", feature="fit-response")
    df = profiles.copy()
    date = df["forms_date"] if "forms_date" in df.columns else pd.Series(None, index=df.index)
    df["_when"] = pd.to_datetime(date, errors="coerce")
    df["_session"] = df["session"].fillna("")
    return df.sort_values(["subject", "_when", "_session"], na_position="last", kind="stable")


def response_table(
    run_dir: str | Path,
    *,
    outcome: str,
    arm: str,
    features: Sequence[str] | None = None,
) -> tuple[Any, tuple[str, ...], list[str]]:
    """Build the fit's table from a run's ``profiles/``.

    Returns
    -------
    table : pandas.DataFrame
        One row per subject: ``subject``, the arm, ``responder`` (0/1) and the predictors.
    features : tuple of str
        The predictors.
    notes : list of str
        What was left out and why.

    """
    pd = require("pandas", extra="cohort", feature="fit-response")
    folder = Path(run_dir) / "profiles"
    if not folder.is_dir():
        raise InputError(
            "no profiles/ table", source=str(run_dir), expected="the folder of a cohort run"
        )
    profiles = _session_order(pd.read_parquet(folder))
    if arm not in profiles.columns:
        raise InputError(
            "no such arm column",
            item="--arm",
            value=arm,
            expected="a participants.tsv column, one of " + ", ".join(profiles.columns),
        )
    notes: list[str] = []
    first = profiles.groupby("subject", sort=True).head(1).set_index("subject")
    table = pd.DataFrame(index=first.index)
    table[arm] = first[arm].astype(object)
    key = outcome.strip().lower()
    if key in MIC_OUTCOMES:
        from spinestab.clinical import assess_change

        col = MIC_OUTCOMES[key]
        known = profiles.dropna(subset=[col])
        base = known.groupby("subject").head(1).set_index("subject")[col]
        last = known.groupby("subject").tail(1).set_index("subject")[col]
        counts = known.groupby("subject").size()
        both = counts[counts >= 2].index
        responder = pd.Series(math.nan, index=table.index, dtype="float64")
        for sub in both:
            change = assess_change(key, float(base[sub]), float(last[sub]))
            responder[sub] = 1.0 if change.status == "improved" else 0.0
        table["responder"] = responder
        left = len(table) - len(both)
        if left:
            notes.append(f"{left} subject(s) without {key} at two sessions left out")
        outcome_text = f"{key} improved by the MIC (Ostelo 2008) from first to last session"
    elif outcome in profiles.columns:
        table["responder"] = _binary(first[outcome], outcome)
        outcome_text = f"participants column {outcome} (0/1)"
    else:
        raise InputError(
            "unknown outcome",
            item="--outcome",
            value=outcome,
            expected="a 0/1 participants column or one of " + ", ".join(MIC_OUTCOMES),
        )
    extra = {"female": (first["sex"] == "female").astype(float).where(first["sex"].notna())}
    if features is None:
        candidates = [
            c
            for c in first.columns
            if c not in _NOT_PREDICTORS | {arm, outcome, "_when", "_session"}
            and pd.api.types.is_numeric_dtype(first[c])
            and not pd.api.types.is_bool_dtype(first[c])
        ]
        if key in MIC_OUTCOMES:
            candidates = [c for c in candidates if c != MIC_OUTCOMES[key]] + [MIC_OUTCOMES[key]]
        chosen = ["female", *candidates]
    else:
        chosen = list(features)
    for name in chosen:
        if name in extra:
            table[name] = extra[name]
        elif name in first.columns:
            try:
                table[name] = pd.to_numeric(first[name], errors="raise").astype("float64")
            except (TypeError, ValueError):
                raise InputError("predictor is not numeric", item=name) from None
        else:
            raise InputError("no such predictor column", item="--features", value=name)
    usable = table[table[arm].notna() & table["responder"].notna()]
    if usable.empty:
        raise InputError(
            "no subject has both an arm and an outcome",
            item="--outcome",
            value=outcome,
            expected=f"subjects with {arm} and the outcome known",
        )
    if len(usable) < len(table):
        notes.append(f"{len(table) - len(usable)} subject(s) without {arm} or outcome left out")
    if features is None:  # default predictors: complete and varying ones only
        dropped = [c for c in chosen if usable[c].isna().any() or usable[c].nunique() < 2]
        if dropped:
            notes.append("predictors left out (missing for some subjects or constant): "
                         + ", ".join(dropped))  # fmt: skip
        chosen = [c for c in chosen if c not in dropped]
    else:
        complete = usable.dropna(subset=chosen)
        if len(complete) < len(usable):
            notes.append(
                f"{len(usable) - len(complete)} subject(s) with missing predictors left out"
            )
        usable = complete
    if not chosen:
        raise InputError("no usable predictor", expected="--features naming numeric columns")
    out = usable[[arm, "responder", *chosen]].reset_index()
    out[arm] = out[arm].astype(str)
    return out, tuple(chosen), [*notes, outcome_text]


def fit_cohort_response(
    run_dir: str | Path,
    *,
    outcome: str,
    arm: str,
    features: Sequence[str] | None = None,
    n_bootstrap: int = 50,
    random_state: int = 0,
    out_dir: str | Path | None = None,
) -> ResponseReport:
    """Fit the response model on a cohort run and write its calibration report.

    Writes ``calibration.json``, ``calibration.csv`` (one row per arm) and
    ``predictions.parquet`` (per subject and arm: response probability with its 90 %
    bootstrap interval) into ``out_dir`` (default ``run_dir/response``).
    """
    from spinestab.care.response import fit_response_model

    table, chosen, notes = response_table(run_dir, outcome=outcome, arm=arm, features=features)
    outcome_text = notes.pop()
    model = fit_response_model(
        table,
        arm=arm,
        outcome="responder",
        features=chosen,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
    )
    report = ResponseReport(
        outcome_text,
        arm,
        chosen,
        model.calibration,
        len(table),
        [*notes, CONFOUNDING_NOTE],
        model,
    )
    _write_report(report, table, Path(out_dir) if out_dir else Path(run_dir) / "response")
    return report


def _write_report(report: ResponseReport, table: Any, out: Path) -> None:
    pd = require("pandas", extra="cohort", feature="fit-response")
    from spinestab.cohort.ledger import write_text_atomic
    from spinestab.cohort.tables import write_parquet

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "calibration.json", json.dumps(report.to_dict(), indent=2) + "\n")
    rows = [{"arm": a, **c} for a, c in report.calibration.items()]
    write_text_atomic(out / "calibration.csv", pd.DataFrame(rows).to_csv(index=False))
    pred = report.model.predict(table)
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "subject": table["subject"],
                    "arm_received": table[report.arm],
                    "arm": a,
                    "p_response": v["p"],
                    "p_low_90": v["low"],
                    "p_high_90": v["high"],
                }
            )
            for a, v in pred.items()
        ],
        ignore_index=True,
    )
    pa = require("pyarrow", extra="cohort", feature="fit-response")
    write_parquet(pa.Table.from_pandas(long, preserve_index=False), out / "predictions.parquet")
