"""Session-driven progression: the pain-monitoring ("traffic light") model.

From session logs (done, sets, reps or holds, pain during 0-10, pain the next morning,
effort 0-10), each exercise moves up one step, stays, or steps down (CLINICAL_LOGIC.md §5.3
and §5.4):

* **step down** when, in the last sessions of that exercise, pain during exceeded 5/10
  (red zone) or next-morning pain was above the patient's baseline, or when the weekly mean
  next-morning pain rose from one week to the next;
* **step up** when the last two sessions each met every progression criterion: all sets
  done with good form, pain during <= 5/10 (green or amber), next-morning pain back to
  baseline, effort (RPE) <= 6; the stage is capped by the phase of the coming week;
* otherwise **keep**.

The Silbernagel model comes from Achilles tendinopathy; using it for back pain is an
extrapolation [D]. Adherence (planned sessions done / planned sessions due, sessions on
other days counted apart: :mod:`spinestab.care.adherence`) and the 6- and 12-week reviews
(responder = MIC or >= 30 %) are reported with each new plan version; every earlier version
is kept in ``history``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from spinestab.care.adherence import planned_adherence
from spinestab.care.config import CareRules, load_rules
from spinestab.care.dose import step_down, step_up
from spinestab.care.exercises import Library, load_library, stage_label
from spinestab.care.plan import Plan, PlannedExercise, phase_for_week
from spinestab.care.sessions import SESSION_FIELDS, Outcome, SessionLog, read_sessions
from spinestab.errors import InputError

__all__ = ["SESSION_FIELDS", "Outcome", "SessionLog", "progress", "read_sessions", "zone"]


def zone(pain: float | None, *, rules: CareRules) -> str | None:
    """Traffic-light zone of a pain rating (§5.4): green 0-3, amber 4-5, red >= 6."""
    if pain is None:
        return None
    if pain <= rules["green_max"]:
        return "green"
    return "amber" if pain <= rules["amber_max"] else "red"


# ------------------------------------------------------------------------------ decisions
def _prescribed_sets(ex: PlannedExercise) -> int:
    if ex.dose.pyramid:
        return len(ex.dose.pyramid)
    return int(ex.dose.sets or 1)


def _criteria(
    log: SessionLog, ex: PlannedExercise, baseline: float | None, rules: CareRules
) -> list[str]:
    """Progression criteria (§5.3) the session failed; empty when all were met."""
    failed = []
    if not log.done:
        return ["not done"]
    if log.sets is not None and log.sets < _prescribed_sets(ex):
        failed.append(f"sets {log.sets} < {_prescribed_sets(ex)}")
    if log.form_ok is False:
        failed.append("form not ok")
    if log.pain_during is None:
        failed.append("pain during not logged")
    elif log.pain_during > rules["amber_max"]:
        failed.append(f"pain during {log.pain_during} > {rules['amber_max']}")
    ref = log.pain_before if log.pain_before is not None else baseline
    if log.pain_next_morning is None:
        failed.append("next-morning pain not logged")
    elif ref is not None and log.pain_next_morning > ref:
        failed.append(f"next-morning pain {log.pain_next_morning} above baseline {ref:g}")
    if log.effort is None:
        failed.append("effort not logged")
    elif log.effort > rules["progression_max_rpe"]:
        failed.append(f"effort {log.effort} > {rules['progression_max_rpe']}")
    return failed


def _regression(log: SessionLog, baseline: float | None, rules: CareRules) -> list[str]:
    """Regression triggers (§5.3/§5.4) of one session; empty when none."""
    if not log.done:
        return []
    out = []
    if log.pain_during is not None and log.pain_during > rules["amber_max"]:
        out.append(f"pain during {log.pain_during}/10 (red zone)")
    ref = log.pain_before if log.pain_before is not None else baseline
    if log.pain_next_morning is not None and ref is not None and log.pain_next_morning > ref:
        out.append(f"next-morning pain {log.pain_next_morning} above baseline {ref:g}")
    return out


def _weekly_increase(
    logs: Sequence[SessionLog],
    plan: Plan,
    rules: CareRules,
) -> str | None:
    by_week: dict[int, list[int]] = {}
    for log in logs:
        if log.done and log.pain_next_morning is not None:
            by_week.setdefault(plan.week_of(log.date), []).append(log.pain_next_morning)
    weeks = sorted(by_week)
    if len(weeks) < 2:
        return None
    last, prev = weeks[-1], weeks[-2]
    rise = statistics.fmean(by_week[last]) - statistics.fmean(by_week[prev])
    if rise >= float(rules["weekly_pain_increase_points"]):
        return f"weekly mean next-morning pain rose by {rise:.1f} from week {prev} to week {last}"
    return None


def _stage_dose(stage: int, dose: Any) -> dict[str, Any]:
    """Return a decision's ``from``/``to``: the stage (labelled ``level`` as ever, and number)."""
    return {"level": stage_label(stage), "stage": stage, "dose": dose.to_dict()}


def progress(
    plan: Plan,
    sessions: Iterable[SessionLog],
    *,
    outcomes: Iterable[Outcome] = (),
    rules: CareRules | None = None,
    library: Library | None = None,
    as_of: dt.date | None = None,
) -> Plan:
    """Make the next plan version from the session logs since this version.

    Parameters
    ----------
    plan : Plan
        The current version.
    sessions : iterable of SessionLog
        Logs; those after the current version (on/after the programme start for
        version 1) are used, earlier ones only for the week-on-week comparison.
    outcomes : iterable of Outcome
        Follow-up scores for the 6- and 12-week reviews.
    rules : CareRules, optional
        Care rules (bundled defaults if omitted).
    library : Library, optional
        Exercise library (bundled if omitted).
    as_of : datetime.date, optional
        Date of the new version (default: the last logged date, a session or an outcome).

    Returns
    -------
    Plan
        Version ``plan.version + 1`` with ``decisions``, ``adherence``, ``review`` and
        the earlier versions in ``history``.

    """
    rules = rules or load_rules()
    if plan.status == "blocked":
        raise InputError("plan is blocked by a red flag", item="status", value=plan.status)
    all_logs = sorted(sessions, key=lambda s: s.date)
    window = _window(plan, all_logs)
    outcomes = list(outcomes)
    if as_of is None:
        # The new version is as of the last dated log: a session, or a follow-up score
        # (a week-12 ODI filled in after the last session still makes the review due).
        as_of = max([window[-1].date, *(o.date for o in outcomes if o.date >= window[0].date)])
    phase = phase_for_week(plan.phases, plan.week_of(as_of + dt.timedelta(days=1)))
    ctx = _Context(
        plan=plan,
        rules=rules,
        library=library or load_library(),
        window=window,
        as_of=as_of,
        phase=phase,
        weekly=_weekly_increase(all_logs, plan, rules),
    )
    decided = [_decide(ex, ctx) for ex in plan.exercises]
    return replace(
        plan,
        version=plan.version + 1,
        created=as_of,
        exercises=tuple(ex for ex, _ in decided),
        decisions=tuple(d for _, d in decided),
        adherence=_adherence(plan, window, as_of),
        review=_review(plan, outcomes, as_of, rules),
        history=(*plan.history, plan.summary()),
        rules_origin=rules.origin,
    )


def _window(plan: Plan, all_logs: list[SessionLog]) -> list[SessionLog]:
    """Return the logs this version is decided on (every logged exercise must be planned)."""
    known = {ex.id for ex in plan.exercises}
    unknown = sorted({s.exercise for s in all_logs} - known)
    if unknown:
        raise InputError(
            "session names an exercise that is not in the plan",
            item=unknown[0],
            expected="one of " + ", ".join(sorted(known)),
        )
    if plan.version == 1:
        window = [s for s in all_logs if s.date >= plan.programme_start]
    else:
        window = [s for s in all_logs if s.date > plan.created]
    if not window:
        raise InputError(
            "no session logs after the current plan version",
            value=plan.created.isoformat(),
            expected="sessions dated after the plan version",
        )
    return window


@dataclass(frozen=True)
class _Context:
    """What every exercise's decision reads."""

    plan: Plan
    rules: CareRules
    library: Library
    window: list[SessionLog]
    as_of: dt.date
    phase: dict[str, Any]
    weekly: str | None

    @property
    def max_stage(self) -> int:
        """Highest stage of the coming week's phase (``plan.json`` calls them levels)."""
        return int(self.phase["levels"][1])

    @property
    def n_needed(self) -> int:
        """Consecutive sessions that must meet the criteria (§5.3)."""
        return int(self.rules["progression_consecutive_sessions"])


def _decide(ex: PlannedExercise, ctx: _Context) -> tuple[PlannedExercise, dict[str, Any]]:
    """Step one exercise down, up or keep it (§5.3, §5.4), with the reasons."""
    rules, baseline = ctx.rules, ctx.plan.baseline.get("nrs")
    logs = [s for s in ctx.window if s.exercise == ex.id]
    recent = logs[-ctx.n_needed :]
    triggers = [t for s in recent for t in _regression(s, baseline, rules)]
    if ctx.weekly and logs:
        triggers.append(ctx.weekly)
    stage, dose, change, action = ex.stage, ex.dose, "none", "keep"
    why: list[str] = []
    if ctx.plan.week_of(ctx.as_of) < ex.start_week and not logs:
        why.append(f"starts in week {ex.start_week}")
    elif not logs:
        why.append("no sessions logged")
    elif triggers:
        stage, dose, change = step_down(
            ctx.library[ex.id],
            ex.stage,
            ex.dose,
            volume_factor=float(rules["regression_volume_factor"]),
        )
        action, why = "down", triggers
    else:
        stage, dose, change, action, why = _try_step_up(ex, recent, ctx)
    decision = {
        "exercise": ex.id,
        "decision": action,
        "change": change,
        "from": _stage_dose(ex.stage, ex.dose),
        "to": _stage_dose(stage, dose),
        "reasons": why,
        "sessions": len(logs),
        "zones": [zone(s.pain_during, rules=rules) for s in logs],
    }
    return replace(ex, stage=stage, dose=dose), decision


def _try_step_up(
    ex: PlannedExercise, recent: list[SessionLog], ctx: _Context
) -> tuple[int, Any, str, str, list[str]]:
    """Step up when the last sessions each met every criterion; else say what failed."""
    rules, baseline = ctx.rules, ctx.plan.baseline.get("nrs")
    failed = [
        f"{s.date}: {', '.join(c)}" for s in recent if (c := _criteria(s, ex, baseline, rules))
    ]
    if len(recent) < ctx.n_needed:
        return (
            ex.stage,
            ex.dose,
            "none",
            "keep",
            [f"{len(recent)} of {ctx.n_needed} sessions needed"],
        )
    if failed:
        return ex.stage, ex.dose, "none", "keep", failed
    stage, dose, change = step_up(
        ctx.library[ex.id],
        ex.stage,
        ex.dose,
        max_stage=max(ctx.max_stage, ex.stage),
        walk_increase=float(rules["walking_weekly_increase"]),
        hold_step_s=int(rules["progression_hold_step_s"]),
        reps_step=int(rules["progression_reps_step"]),
    )
    if change == "none":
        return (
            stage,
            dose,
            change,
            "keep",
            [f"at the most allowed in phase {ctx.phase['index']} (stage {ctx.max_stage})"],
        )
    return stage, dose, change, "up", [f"criteria met in the last {ctx.n_needed} sessions"]


def _adherence(plan: Plan, window: Sequence[SessionLog], as_of: dt.date) -> dict[str, Any]:
    """Planned sessions done / planned sessions due since this version, extras apart.

    The definition of :mod:`spinestab.care.adherence` (the one the pages show): the plan's
    exercise days from the first day of this version to ``as_of``; a session done on
    another day is an extra session, not in the share (it cannot exceed 100 %).
    """
    first = plan.programme_start if plan.version == 1 else plan.created + dt.timedelta(days=1)
    session_ids = {ex.id for ex in plan.exercises if not ex.daily}
    counted = planned_adherence(
        (s.date for s in window if s.done and s.exercise in session_ids),
        start=first,
        through=as_of,
        exercise_days=plan.exercise_days,
    )
    return {
        "from": first.isoformat(),
        "to": as_of.isoformat(),
        **counted.to_dict(),
        "logged_entries": len(window),
    }


def _review(
    plan: Plan, outcomes: Iterable[Outcome], as_of: dt.date, rules: CareRules
) -> dict[str, Any] | None:
    from spinestab.clinical import assess_change

    week = plan.week_of(as_of)
    due = [w for w in rules["review_weeks"] if week >= int(w)]
    if not due:
        return None
    review_week = int(max(due))
    instrument_key = plan.baseline.get("primary")
    instrument = {"odi_pct": "odi", "rmdq": "rmdq", "nrs": "nrs"}.get(instrument_key or "")
    result: dict[str, Any] = {
        "week": review_week,
        "programme_week": week,
        "instrument": instrument,
        "source": "MIC or >= 30 % (Ostelo 2008 [V]; responder rule §2.6 [D])",
    }
    follow = sorted((o for o in outcomes if o.instrument == instrument), key=lambda o: o.date)
    if instrument is None or instrument_key is None or not follow:
        result.update(
            {
                "status": "unknown",
                "action": f"collect {instrument or 'ODI or RMDQ'}"
                f" for the week-{review_week} review",
            }
        )
        return result
    latest = follow[-1]
    change = assess_change(instrument, plan.baseline[instrument_key], latest.value)
    status = "responder" if change.status == "improved" else "non_responder"
    result.update(
        {
            "status": status,
            "baseline": plan.baseline[instrument_key],
            "follow_up": latest.value,
            "follow_up_date": latest.date.isoformat(),
            "change": asdict(change),
        }
    )
    if status == "non_responder" and review_week >= 12:
        result["next_steps"] = [
            "check adherence and dose",
            "consider F2: combined physical and psychological programme",
            "re-screen red flags",
            "re-evaluate S1/S2 if structural findings are concordant",
            "neuromodulation assessment only if the §5.8 criteria are met",
        ]
        result["source"] += "; §8 step 6 [D]"
    return result
