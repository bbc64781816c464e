"""The whole chain on files: patient folder -> profile, triage, plan, handout (and progress).

These are the functions behind ``spinestab plan`` and ``spinestab progress`` (and the
demo). Outputs are written whole or not at all: every document is rendered in memory
before the first file is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from spinestab.care.config import CareRules, load_rules
from spinestab.care.folder import load_patient_dir
from spinestab.care.handout import render_handout
from spinestab.care.i18n import resolve_language
from spinestab.care.io import read_json
from spinestab.care.plan import Plan, prescribe
from spinestab.care.profile import StabilityProfile
from spinestab.care.progression import Outcome, progress, read_sessions
from spinestab.care.triage import JURISDICTIONS, Triage, triage
from spinestab.core.outdir import atomic_out_dir, check_out_dir
from spinestab.core.validation import check_choice, read_setting
from spinestab.errors import InputError

__all__ = ["plan_documents", "progress_documents", "run_demo", "run_plan", "run_progress"]

log = logging.getLogger(__name__)


def _resolve_jurisdiction(jurisdiction: str | None) -> str:
    """Return the jurisdiction given, else the setting ``SPINESTAB_JURISDICTION``."""
    message, expected = "unknown jurisdiction", "NICE or ACP"
    if jurisdiction is None:
        return str(read_setting("jurisdiction", message=message, expected=expected))
    return check_choice(
        "jurisdiction",
        jurisdiction.strip().upper(),
        JURISDICTIONS,
        message=message,
        expected=expected,
    )


#: The files ``spinestab plan`` writes; in an existing ``--out`` folder the earlier run's
#: files of these names are replaced as a whole (no stale ``plan_v1.json`` beside a new
#: blocked plan). ``plan.json`` is put in place last.
PLAN_OUTPUTS = ("profile.json", "triage.json", "plan.json", "plan_v*.json", "handout.html")
#: The files ``spinestab progress`` writes (the profile and triage of a plan run in the same
#: folder are left alone).
PROGRESS_OUTPUTS = ("plan.json", "plan_v*.json", "progress.json", "handout.html")


def _write_all(
    out_dir: Path, documents: dict[str, str], *, owned: tuple[str, ...]
) -> dict[str, Path]:
    """Write every document at once: a temporary sibling folder, then put in place.

    See :func:`spinestab.core.outdir.atomic_out_dir`: a run killed or failing midway leaves
    the earlier result (or a folder without ``plan.json``), never a half result.
    """
    with atomic_out_dir(out_dir, owned=owned, manifest="plan.json") as tmp:
        for name, text in documents.items():
            (tmp / name).write_text(text, encoding="utf-8")
    return {name: out_dir / name for name in documents}


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def plan_documents(
    profile: StabilityProfile,
    *,
    rules: CareRules,
    language: str,
    jurisdiction: str,
    start: dt.date | None = None,
) -> tuple[Triage, dict[str, Any], dict[str, str]]:
    """Triage a profile and render the documents of ``spinestab plan`` (nothing written).

    Returns
    -------
    triage : Triage
    plan_doc : dict
        ``plan.json`` (status ``blocked`` with the actions when no plan is allowed).
    documents : dict
        File name -> text: ``profile.json``, ``triage.json``, ``plan.json``,
        ``handout.html`` (and ``plan_v1.json`` unless blocked).

    """
    tri = triage(profile, rules=rules, jurisdiction=jurisdiction)
    plan = prescribe(profile, tri, rules=rules, start=start)
    if plan is None:
        plan_doc: dict[str, Any] = {
            "version": 1,
            "patient": profile.patient,
            "track": tri.track,
            "status": "blocked",
            "phases": [],
            "exercises": [],
            "actions": [a.to_dict() for a in tri.actions],
            "note": "No exercise plan while an emergency or urgent red flag is open "
            "(CLINICAL_LOGIC.md §3, §8 step 1). Re-screen after the escalation.",
        }
    else:
        plan_doc = plan.to_dict()
    date = (profile.date or dt.date.today()).isoformat()
    html = render_handout(
        patient=profile.patient,
        date=date,
        track=tri.track,
        actions=[a.to_dict() for a in tri.actions],
        plan=plan,
        language=language,
    )
    profile_doc = profile.to_dict() | {"rules": rules.to_dict()}
    triage_doc = tri.to_dict()
    documents = {
        "profile.json": _dump(profile_doc),
        "triage.json": _dump(triage_doc),
        "plan.json": _dump(plan_doc),
        "handout.html": html,
    }
    if plan is not None:
        documents["plan_v1.json"] = documents["plan.json"]
    return tri, plan_doc, documents


def run_plan(
    patient_dir: str | Path,
    out_dir: str | Path,
    *,
    language: str | None = None,
    jurisdiction: str | None = None,
    rules_path: str | Path | None = None,
    start: dt.date | None = None,
) -> dict[str, Any]:
    """Profile, triage, plan and handout for one patient folder.

    Parameters
    ----------
    patient_dir : path-like
        Questionnaire files plus optional ``muscle_quality.csv``, ``instability.json``,
        ``daily.csv``, ``history.json``.
    out_dir : path-like
        Receives ``profile.json``, ``triage.json``, ``plan.json`` (and ``plan_v1.json``),
        ``handout.html``.
    language : {"en", "de"}, optional
        Handout language (default: setting ``SPINESTAB_LANGUAGE``).
    jurisdiction : {"NICE", "ACP"}, optional
        Guideline set (default: setting ``SPINESTAB_JURISDICTION``).
    rules_path : path-like, optional
        A rule file overriding ``rules.yaml`` values.
    start : datetime.date, optional
        Programme start (default: the latest questionnaire date).

    Returns
    -------
    dict
        ``track``, ``plan_allowed``, ``status``, ``language``, ``jurisdiction`` and
        ``files`` (name -> path).

    """
    check_out_dir(out_dir)  # before the work: a bad --out fails fast, nothing written
    language = resolve_language(language)
    jurisdiction = _resolve_jurisdiction(jurisdiction)
    rules = load_rules(rules_path)
    profile = load_patient_dir(patient_dir, rules=rules)
    tri, plan_doc, documents = plan_documents(
        profile, rules=rules, language=language, jurisdiction=jurisdiction, start=start
    )
    files = _write_all(Path(out_dir), documents, owned=PLAN_OUTPUTS)
    log.info("%s: track %s, plan %s", profile.patient, tri.track, plan_doc["status"])
    return {
        "patient": profile.patient,
        "track": tri.track,
        "plan_allowed": tri.plan_allowed,
        "status": plan_doc["status"],
        "language": language,
        "jurisdiction": jurisdiction,
        "files": {k: str(v) for k, v in files.items()},
    }


def _forms_outcomes(forms_dir: Path) -> tuple[list[Outcome], Any]:
    """Return the follow-up outcomes in ``forms_dir`` and its latest red-flag screen."""
    from spinestab.clinical import load_form, score_form

    if not forms_dir.is_dir():
        raise InputError("--forms is not a folder", source=str(forms_dir), expected="a folder")
    outcomes = []
    screens = []
    for path in sorted(forms_dir.iterdir()):
        if path.suffix.lower() not in (".json", ".yaml", ".yml"):
            continue
        score = score_form(load_form(path))
        if score.instrument in ("odi", "rmdq", "nrs", "psfs") and score.complete:
            outcomes.append(Outcome(_form_date(score, path), score.instrument, score.value))
        elif score.instrument == "redflags":
            screens.append(score)
    latest = max(screens, key=lambda sc: _form_date(sc, forms_dir)) if screens else None
    return outcomes, latest


def _form_date(score: Any, path: Path) -> dt.date:
    """Return the date of a scored form (a form file always has one)."""
    if score.date is None:
        raise InputError("form without a date", source=str(path), item="date")
    return score.date


def _blocked_progress(plan: Plan, screen: Any, blocking: list[Any], *, language: str) -> dict:
    """Documents of a blocked next version: a follow-up red-flag screen is positive.

    CLINICAL_LOGIC.md §3 and §8 step 1: red-flag questions run again whenever symptoms
    change, and an emergency, same-day or urgent flag stops the programme. No exercise is
    progressed; the handout says what to do instead.
    """
    from spinestab.care.triage import Action

    actions = [
        Action(
            f"red_flag_{a.urgency}",
            "escalation",
            a.urgency,
            f"{a.condition}: {a.action}",
            a.source,
            a.evidence,
            a.evidence in ("R", "D"),
        ).to_dict()
        for a in blocking
    ]
    actions.append(
        Action(
            "no_exercise_plan",
            "escalation",
            blocking[0].urgency,
            "No exercise plan while the red flag is open; re-screen after the escalation.",
            "CLINICAL_LOGIC.md §3 and §8 step 1",
            "D",
            True,
        ).to_dict()
    )
    version = plan.version + 1
    plan_doc = {
        "version": version,
        "previous_version": plan.version,
        "created": screen.date.isoformat(),
        "patient": plan.patient,
        "track": "S0",
        "status": "blocked",
        "phases": [],
        "exercises": [],
        "actions": actions,
        "note": "A follow-up red-flag screen is positive: no exercise plan while an emergency "
        "or urgent red flag is open (CLINICAL_LOGIC.md §3, §8 step 1). Re-screen after the "
        "escalation, then make a new plan with spinestab plan.",
    }
    html = render_handout(
        patient=plan.patient,
        date=screen.date.isoformat(),
        track="S0",
        actions=actions,
        plan=None,
        language=language,
    )
    progress_doc = {
        "version": version,
        "previous_version": plan.version,
        "as_of": screen.date.isoformat(),
        "decisions": [],
        "adherence": None,
        "review": None,
        "blocked_by": [a for a in actions if a["code"] != "no_exercise_plan"],
    }
    return {
        "plan.json": _dump(plan_doc),
        f"plan_v{version}.json": _dump(plan_doc),
        f"plan_v{plan.version}.json": _dump(plan.to_dict()),
        "progress.json": _dump(progress_doc),
        "handout.html": html,
    }


def progress_documents(plan: Plan, new: Plan, *, language: str) -> dict[str, str]:
    """Render the documents of ``spinestab progress`` for ``new``, made from ``plan``.

    File name -> text: ``plan.json`` and ``plan_v<N>.json`` (the new version),
    ``plan_v<N-1>.json`` (the previous one), ``progress.json`` and ``handout.html``.
    """
    actions = [dict(a) for a in new.actions]
    html = render_handout(
        patient=new.patient,
        date=new.created.isoformat(),
        track=new.track,
        actions=actions,
        plan=new,
        language=language,
    )
    progress_doc = {
        "version": new.version,
        "previous_version": plan.version,
        "as_of": new.created.isoformat(),
        "decisions": list(new.decisions),
        "adherence": new.adherence,
        "review": new.review,
    }
    return {
        "plan.json": _dump(new.to_dict()),
        f"plan_v{new.version}.json": _dump(new.to_dict()),
        f"plan_v{plan.version}.json": _dump(plan.to_dict()),
        "progress.json": _dump(progress_doc),
        "handout.html": html,
    }


def run_progress(
    plan_path: str | Path,
    sessions_path: str | Path,
    out_dir: str | Path,
    *,
    language: str | None = None,
    forms_dir: str | Path | None = None,
    rules_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write the next plan version from session logs.

    Parameters
    ----------
    plan_path : path-like
        The current ``plan.json``.
    sessions_path : path-like
        Session logs (CSV or JSON, see :func:`spinestab.care.progression.read_sessions`).
    out_dir : path-like
        Receives ``plan.json`` (the new version), ``plan_v<N>.json`` for the new and the
        previous version, ``progress.json`` and ``handout.html``.
    language : {"en", "de"}, optional
        Handout language (default: setting ``SPINESTAB_LANGUAGE``).
    forms_dir : path-like, optional
        Follow-up questionnaires for the 6/12-week review (scored by spinestab.clinical).
    rules_path : path-like, optional
        A rule file overriding ``rules.yaml`` values.

    Returns
    -------
    dict
        ``version``, ``decisions`` counts, ``review`` status and ``files``.

    """
    check_out_dir(out_dir)
    language = resolve_language(language)
    rules = load_rules(rules_path)
    data = read_json(Path(plan_path))
    if isinstance(data, dict) and data.get("status") == "blocked":
        raise InputError(
            "this plan is blocked by an open red flag: no progression",
            source=str(plan_path),
            item="status",
            value="blocked",
            expected="an active or draft plan",
        )
    plan = Plan.from_dict(data, source=str(plan_path))
    sessions, outcomes = read_sessions(sessions_path)
    screen = None
    if forms_dir is not None:
        more, screen = _forms_outcomes(Path(forms_dir))
        outcomes += more
    blocking_urgencies = set(rules["blocking_urgencies"])
    blocking = [
        a
        for a in (screen.actions if screen is not None else ())
        if a.urgency in blocking_urgencies or a.blocks_exercise
    ]
    if blocking:
        files = _write_all(
            Path(out_dir),
            _blocked_progress(plan, screen, blocking, language=language),
            owned=PROGRESS_OUTPUTS,
        )
        log.info("%s: follow-up red-flag screen positive, plan blocked", plan.patient)
        return {
            "patient": plan.patient,
            "version": plan.version + 1,
            "decisions": {},
            "review": None,
            "status": "blocked",
            "files": {k: str(v) for k, v in files.items()},
        }
    new = progress(plan, sessions, outcomes=outcomes, rules=rules)
    documents = progress_documents(plan, new, language=language)
    files = _write_all(Path(out_dir), documents, owned=PROGRESS_OUTPUTS)
    counts: dict[str, int] = {}
    for d in new.decisions:
        counts[d["decision"]] = counts.get(d["decision"], 0) + 1
    return {
        "patient": new.patient,
        "version": new.version,
        "decisions": counts,
        "review": (new.review or {}).get("status"),
        "files": {k: str(v) for k, v in files.items()},
    }


def run_demo(
    out_dir: str | Path, *, language: str | None = None, jurisdiction: str | None = None
) -> list[dict[str, Any]]:
    """Run the whole chain for every bundled demo patient.

    For each folder under ``spinestab/data/demo_patients``: :func:`run_plan` into
    ``out_dir/<patient>``; where the folder holds ``sessions.csv`` and the plan is not
    blocked, :func:`run_progress` into ``out_dir/<patient>/progress``.

    Parameters
    ----------
    out_dir : path-like
        Output folder (one sub-folder per patient).
    language : {"en", "de"}, optional
        Handout language (default: setting ``SPINESTAB_LANGUAGE``).
    jurisdiction : {"NICE", "ACP"}, optional
        Guideline set (default: setting ``SPINESTAB_JURISDICTION``).

    Returns
    -------
    list of dict
        One :func:`run_plan` result per patient, with ``progress`` (the
        :func:`run_progress` result) where sessions were given.

    """
    from importlib import resources

    root = Path(str(resources.files("spinestab").joinpath("data/demo_patients")))
    results = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        target = Path(out_dir) / folder.name
        result = run_plan(folder, target, language=language, jurisdiction=jurisdiction)
        sessions = folder / "sessions.csv"
        if sessions.is_file() and result["status"] != "blocked":
            result["progress"] = run_progress(
                target / "plan.json", sessions, target / "progress", language=language
            )
        results.append(result)
    return results
