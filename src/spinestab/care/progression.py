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
extrapolation [D]. Adherence and the 6- and 12-week reviews (responder = MIC or >= 30 %)
are reported with each new plan version; every earlier version is kept in ``history``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from spinestab.care.config import CareRules, load_rules
from spinestab.care.dose import step_down, step_up
from spinestab.care.exercises import Library, load_library, stage_label
from spinestab.care.plan import Plan, PlannedExercise, phase_for_week
from spinestab.core.safe_load import parse_json, read_limited_text
from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import InputError

__all__ = ["Outcome", "SessionLog", "progress", "read_sessions", "zone"]

_BOOL = {
    "true": True,
    "yes": True,
    "1": True,
    "y": True,
    "false": False,
    "no": False,
    "0": False,
    "n": False,
}
SESSION_FIELDS = (
    "date",
    "exercise",
    "done",
    "sets",
    "reps",
    "hold_s",
    "pain_before",
    "pain_during",
    "pain_after",
    "pain_next_morning",
    "effort",
    "form_ok",
)


@dataclass(frozen=True)
class SessionLog:
    """One logged exercise in one session.

    Attributes
    ----------
    date : datetime.date
    exercise : str
        Library id.
    done : bool
    sets, reps, hold_s : int or None
        What was done (sets = holds for hold exercises).
    pain_before, pain_during, pain_after, pain_next_morning : int or None
        NRS 0-10; ``pain_during`` is the highest value in the session.
    effort : int or None
        Borg CR10 0-10 (RPE).
    form_ok : bool or None
        Self-report or sensor.

    """

    date: dt.date
    exercise: str
    done: bool
    sets: int | None = None
    reps: int | None = None
    hold_s: int | None = None
    pain_before: int | None = None
    pain_during: int | None = None
    pain_after: int | None = None
    pain_next_morning: int | None = None
    effort: int | None = None
    form_ok: bool | None = None


@dataclass(frozen=True)
class Outcome:
    """A follow-up score for the reviews (ODI in percent)."""

    date: dt.date
    instrument: str
    value: float


def zone(pain: float | None, *, rules: CareRules) -> str | None:
    """Traffic-light zone of a pain rating (§5.4): green 0-3, amber 4-5, red >= 6."""
    if pain is None:
        return None
    if pain <= rules["green_max"]:
        return "green"
    return "amber" if pain <= rules["amber_max"] else "red"


# ------------------------------------------------------------------------------ reading
def _int(
    value: Any, *, source: str, item: str, low: int = 0, high: int | None = None
) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise InputError("not a whole number", source=source, item=item, value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError("not a number", source=source, item=item, value=value) from None
    if number != int(number):
        raise InputError("not a whole number", source=source, item=item, value=value)
    return int(check_range(item, number, low, high, source=source))


def _bool(value: Any, *, source: str, item: str) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        return value
    text = check_choice(
        item,
        str(value).strip().lower(),
        _BOOL,
        source=source,
        message="not yes/no",
        expected="true/false, yes/no or 1/0",
    )
    return _BOOL[text]


def _date(value: Any, *, source: str, item: str) -> dt.date:
    try:
        date = dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(
            "not a date", source=source, item=item, value=value, expected="YYYY-MM-DD"
        ) from None
    today = dt.date.today()
    if date > today:
        # a log from the future would move the plan's week (and the reviews) with it
        raise InputError(
            "date is in the future",
            source=source,
            item=item,
            value=value,
            expected=f"a date on or before {today.isoformat()}",
        )
    return date


def _session(row: Mapping[str, Any], *, source: str, index: int) -> SessionLog:
    item = f"entry {index}"
    for key in row:
        check_choice(
            f"{item} {key}",
            key,
            (*SESSION_FIELDS, "notes", "side"),
            source=source,
            message="unknown session field",
            expected=", ".join(SESSION_FIELDS),
        )
    if not row.get("exercise"):
        raise InputError("session entry without exercise", source=source, item=item)
    done = _bool(row.get("done"), source=source, item=f"{item} done")
    pains = {
        k: _int(row.get(k), source=source, item=f"{item} {k}", high=10)
        for k in ("pain_before", "pain_during", "pain_after", "pain_next_morning")
    }
    return SessionLog(
        date=_date(row.get("date"), source=source, item=f"{item} date"),
        exercise=str(row["exercise"]).strip(),
        done=True if done is None else done,
        sets=_int(row.get("sets"), source=source, item=f"{item} sets"),
        reps=_int(row.get("reps"), source=source, item=f"{item} reps"),
        hold_s=_int(row.get("hold_s"), source=source, item=f"{item} hold_s"),
        effort=_int(row.get("effort"), source=source, item=f"{item} effort", high=10),
        form_ok=_bool(row.get("form_ok"), source=source, item=f"{item} form_ok"),
        **pains,
    )


def read_sessions(path: str | Path) -> tuple[list[SessionLog], list[Outcome]]:
    """Read session logs (CSV or JSON) and optional follow-up outcomes.

    CSV: one row per exercise and session with columns among :data:`SESSION_FIELDS`
    (``date`` and ``exercise`` required). JSON: a list of such objects, or
    ``{"sessions": [...], "outcomes": [{"date", "instrument", "value"}]}``.
    """
    path = Path(path)
    source = str(path)
    # bounded like every document: over 1 MB, deep nesting and huge integers are refused
    text = read_limited_text(path)
    outcomes_raw: list[Any] = []
    if path.suffix.lower() == ".json":
        data = parse_json(text, source=source)
        if isinstance(data, Mapping):
            rows = data.get("sessions")
            outcomes_raw = list(data.get("outcomes", []))
        else:
            rows = data
        if not isinstance(rows, list):
            raise InputError(
                "no session list",
                source=source,
                expected="a list of sessions or {'sessions': [...]}",
            )
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        for col in ("date", "exercise"):
            if col not in header:
                raise InputError(
                    f"missing column {col}",
                    source=source,
                    value=header,
                    expected="columns " + ", ".join(SESSION_FIELDS),
                )
        rows = list(reader)
    sessions = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InputError(
                "session entry is not an object", source=source, item=f"entry {i}", value=row
            )
        sessions.append(_session(row, source=source, index=i))
    outcomes = []
    for i, o in enumerate(outcomes_raw, start=1):
        if not isinstance(o, Mapping) or o.get("instrument") not in ("odi", "rmdq", "nrs", "psfs"):
            raise InputError(
                "bad outcome",
                source=source,
                item=f"outcome {i}",
                value=o,
                expected="{date, instrument: odi|rmdq|nrs|psfs, value}",
            )
        value = check_type(
            f"outcome {i}",
            o.get("value"),
            (int, float),
            source=source,
            message="outcome value is not a number",
            expected="a number",
        )
        outcomes.append(
            Outcome(
                _date(o.get("date"), source=source, item=f"outcome {i}"),
                str(o["instrument"]),
                float(value),
            )
        )
    return sessions, outcomes


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
    lib = library or load_library()
    if plan.status == "blocked":
        raise InputError("plan is blocked by a red flag", item="status", value=plan.status)
    all_logs = sorted(sessions, key=lambda s: s.date)
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
    outcomes = list(outcomes)
    if as_of is None:
        # The new version is as of the last dated log: a session, or a follow-up score
        # (a week-12 ODI filled in after the last session still makes the review due).
        as_of = max([window[-1].date, *(o.date for o in outcomes if o.date >= window[0].date)])
    next_week = plan.week_of(as_of + dt.timedelta(days=1))
    phase = phase_for_week(plan.phases, next_week)
    max_stage = int(phase["levels"][1])  # plan.json calls a phase's stages "levels"
    baseline = plan.baseline.get("nrs")
    weekly = _weekly_increase(all_logs, plan, rules)
    n_needed = int(rules["progression_consecutive_sessions"])
    decisions = []
    new_exercises = []
    for ex in plan.exercises:
        spec = lib[ex.id]
        logs = [s for s in window if s.exercise == ex.id]
        recent = logs[-n_needed:]
        triggers = [t for s in recent for t in _regression(s, baseline, rules)]
        if weekly and logs:
            triggers.append(weekly)
        stage, dose, change, action = ex.stage, ex.dose, "none", "keep"
        why: list[str] = []
        if plan.week_of(as_of) < ex.start_week and not logs:
            why.append(f"starts in week {ex.start_week}")
        elif not logs:
            why.append("no sessions logged")
        elif triggers:
            stage, dose, change = step_down(
                spec, ex.stage, ex.dose, volume_factor=float(rules["regression_volume_factor"])
            )
            action = "down"
            why += triggers
        else:
            failed = [
                f"{s.date}: {', '.join(c)}"
                for s in recent
                if (c := _criteria(s, ex, baseline, rules))
            ]
            if len(recent) < n_needed:
                why.append(f"{len(recent)} of {n_needed} sessions needed")
            elif failed:
                why += failed
            else:
                stage, dose, change = step_up(
                    spec,
                    ex.stage,
                    ex.dose,
                    max_stage=max(max_stage, ex.stage),
                    walk_increase=float(rules["walking_weekly_increase"]),
                    hold_step_s=int(rules["progression_hold_step_s"]),
                    reps_step=int(rules["progression_reps_step"]),
                )
                if change == "none":
                    why.append(f"at the most allowed in phase {phase['index']} (stage {max_stage})")
                else:
                    action = "up"
                    why.append(f"criteria met in the last {n_needed} sessions")
        new_exercises.append(replace(ex, stage=stage, dose=dose))
        decisions.append(
            {
                "exercise": ex.id,
                "decision": action,
                "change": change,
                "from": _stage_dose(ex.stage, ex.dose),
                "to": _stage_dose(stage, dose),
                "reasons": why,
                "sessions": len(logs),
                "zones": [zone(s.pain_during, rules=rules) for s in logs],
            }
        )
    adherence = _adherence(plan, window, as_of)
    review = _review(plan, outcomes, as_of, rules)
    return replace(
        plan,
        version=plan.version + 1,
        created=as_of,
        exercises=tuple(new_exercises),
        decisions=tuple(decisions),
        adherence=adherence,
        review=review,
        history=(*plan.history, plan.summary()),
        rules_origin=rules.origin,
    )


def _adherence(plan: Plan, window: Sequence[SessionLog], as_of: dt.date) -> dict[str, Any]:
    first = plan.programme_start if plan.version == 1 else plan.created + dt.timedelta(days=1)
    days = (as_of - first).days + 1
    planned = max(1, round(plan.sessions_per_week * days / 7))
    session_ids = {ex.id for ex in plan.exercises if not ex.daily}
    done_dates = {s.date for s in window if s.done and s.exercise in session_ids}
    done = len(done_dates)
    return {
        "from": first.isoformat(),
        "to": as_of.isoformat(),
        "planned_sessions": planned,
        "done_sessions": done,
        "pct": round(100 * min(done, planned) / planned),
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
    if instrument is None or not follow:
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
