"""The stability profile built from what the record holds for the open episode of care.

:func:`build_profile` takes the episode's questionnaires (one per instrument and day), the
latest history, the imaging, instability and wearable results and the patient's
morphometry, and weeks of care, adherence and response from the stored sessions and
outcome forms (the history fills gaps). It returns the profile and ``inputs``: which rows
fed it and where values came from. :func:`spinestab.record.plans.make_plan` stores it
with the plan made from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spinestab.care.adherence import planned_adherence
from spinestab.errors import InputError
from spinestab.record._latest import newest_performed_first
from spinestab.record._uow import Actor, UnitOfWork, current_episode
from spinestab.store.models import (
    Assessment,
    ImagingStudy,
    InstabilityStudy,
    Patient,
    PlanVersion,
    RecordFile,
    SessionLogRow,
    WearableRecording,
)

__all__ = ["build_profile"]

#: What a study's result is keyed by (muscle, side and level; region and segment).
Key = tuple[str, ...]


def _artifact(uow: UnitOfWork, entity: str, entity_id: int, role: str) -> str | None:
    return uow.session.scalar(
        select(RecordFile.sha256)
        .where(
            RecordFile.entity == entity, RecordFile.entity_id == entity_id, RecordFile.role == role
        )
        .order_by(RecordFile.id)
        .limit(1)
    )


def _latest_recording(uow: UnitOfWork, patient: Patient, episode_id: int) -> Any:
    """Return the episode's wearable recording that recorded last (not the one stored last)."""
    rows = uow.session.execute(
        select(
            WearableRecording.id, WearableRecording.last_date, WearableRecording.created_at
        ).where(
            WearableRecording.patient_id == patient.id,
            WearableRecording.episode_id == episode_id,
        )
    ).all()
    return newest_performed_first(rows)[0] if rows else None


def build_profile(
    uow: UnitOfWork, actor: Actor, patient: Patient, *, rules: Any
) -> tuple[Any, dict[str, Any]]:
    """Build the stability profile from the record's open episode.

    Returns the :class:`~spinestab.care.profile.StabilityProfile` and ``inputs``: which
    rows fed it (assessment ids, history version, study ids) and where values came from.
    """
    from spinestab.care.io import read_daily
    from spinestab.care.missing import find_missing
    from spinestab.care.profile import StabilityProfile
    from spinestab.care.summarise import (
        clinical_state_from_scores,
        summarise_daily,
        summarise_muscle,
    )
    from spinestab.clinical import Form, score_form
    from spinestab.record.history import history_for
    from spinestab.record.morphometry import deformity_findings, vertebrae_in_force

    episode = current_episode(uow, actor, patient)
    inputs: dict[str, Any] = {"episode": episode.number}
    history, version = history_for(uow, patient)
    if version is not None:
        inputs["history_version"] = version
    forms = uow.session.scalars(
        select(Assessment)
        .where(
            Assessment.patient_id == patient.id,
            Assessment.episode_id == episode.id,
            Assessment.status == "stored",
        )
        .order_by(Assessment.date, Assessment.id)
    ).all()
    if not forms:
        raise InputError(
            "no questionnaires stored for this episode of care",
            item="patient",
            value=patient.pseudonym,
            expected="forms saved with 'spinestab record import' or 'spinestab score --save'",
        )
    scores, used, set_aside = _one_form_per_day(forms, Form, score_form)
    inputs["assessments"] = used
    if set_aside:
        inputs["same_day_forms_set_aside"] = set_aside
    history = _care_from_record(uow, patient, episode.id, history, forms)
    inputs["sources"] = dict(history.sources)
    clinical = clinical_state_from_scores(scores, history)
    muscle = instability = movement = None
    quality, row_studies, used = _muscle_in_force(uow, patient, episode.id)
    if quality is not None:
        found = summarise_muscle(quality, symptomatic_levels=history.symptomatic_levels)
        muscle = _with_studies(found, row_studies)
        inputs["imaging_study"] = used[0]
        inputs["imaging_studies"] = used
    instability, used = _instability_in_force(uow, patient, episode.id)
    if used:
        inputs["instability_study"] = used[0]
        inputs["instability_studies"] = used
    rec = _latest_recording(uow, patient, episode.id)
    if rec is not None:
        sha = _artifact(uow, "wearable", rec.id, "table")
        if sha is not None:
            with uow.files().local_path(sha) as path:
                movement = summarise_daily(read_daily(path), rules=rules)
            inputs["wearable_recording"] = rec.id
    deformities = None
    # deformities last beyond an episode of care: every study of the patient counts
    vertebrae, used = vertebrae_in_force(uow, patient)
    if used:
        deformities = deformity_findings(vertebrae, used)
        inputs["morphometry_study"] = used[0]
        inputs["morphometry_studies"] = used
    missing = find_missing(clinical, muscle, instability, movement)
    profile = StabilityProfile(
        patient.pseudonym,
        clinical.date,
        clinical,
        muscle,
        instability,
        movement,
        missing,
        deformities=deformities,
    )
    return profile, inputs


def _latest_per_key(
    uow: UnitOfWork,
    patient: Patient,
    episode_id: int,
    study: tuple[Any, str, str],
    items: Callable[[Path], Iterable[tuple[Key, Any]]],
) -> tuple[dict[Key, tuple[Any, int]], list[int]]:
    """Each key's item from the newest of the episode's studies that holds it.

    ``study`` is the study table, its entity name and the role of its result file among the
    record's files; ``items(path)`` reads that file into ``(key, item)`` pairs. Newest means
    performed last (:mod:`spinestab.record._latest`: an older MRI imported later does not
    count as newer). A study of other keys (levels) never hides an earlier study's; a later
    study of the same key replaces its item. Returns ``key -> (item, study id)`` and the
    ids of the studies used (newest first).
    """
    model, entity, role = study
    studies = newest_performed_first(
        uow.session.execute(
            select(model.id, model.performed_on, model.created_at).where(
                model.patient_id == patient.id, model.episode_id == episode_id
            )
        ).all()
    )
    chosen: dict[Key, tuple[Any, int]] = {}
    used: list[int] = []
    for study_id in (s.id for s in studies):
        sha = _artifact(uow, entity, study_id, role)
        if sha is None:
            continue
        with uow.files().local_path(sha) as path:
            read = list(items(path))
        new = False
        for key, item in read:
            if key not in chosen:
                chosen[key] = (item, study_id)
                new = True
        if new:
            used.append(study_id)
    return chosen, used


def _muscle_in_force(
    uow: UnitOfWork, patient: Patient, episode_id: int
) -> tuple[Any, dict[Key, int], list[int]]:
    """Each muscle, side and level's latest result among the episode's MRI studies.

    An MRI of other levels (L3 after L4-L5) never hides an earlier study's levels; a later
    study of the same muscle, side and level replaces its earlier row (summary rows such as
    ``all`` likewise, muscle by muscle and side by side). Returns the rows as one
    :class:`~spinestab.core.results.MuscleQuality` (None without a study), the study each
    row comes from, and the ids of the studies used (newest first).
    """
    from spinestab.care.io import read_muscle_quality
    from spinestab.core.levels import level_sort_key
    from spinestab.core.results import MuscleQuality

    def rows_of(path: Path) -> Iterable[tuple[Key, Any]]:
        return (((r.muscle, r.side, r.level), r) for r in read_muscle_quality(path).rows)

    chosen, used = _latest_per_key(
        uow, patient, episode_id, (ImagingStudy, "imaging", "table"), rows_of
    )
    if not used:
        return None, {}, []
    rows = [row for row, _ in chosen.values()]  # one study: its table's order
    if len(used) > 1:
        rows.sort(key=lambda r: (r.muscle, level_sort_key(r.level), r.side))
    methods = sorted({r.fat_method for r in rows if r.fat_method})
    merged = MuscleQuality(
        rows=tuple(rows),
        fat_method=", ".join(methods),
        source="record imaging studies " + ", ".join(str(i) for i in used),
    )
    row_studies = {key: study_id for key, (_, study_id) in chosen.items()}
    return merged, row_studies, used


def _with_studies(found: Any, row_studies: dict[Key, int]) -> Any:
    """Name the study of each number in the muscle findings.

    ``imaging_study`` on every row, ``imaging_studies`` (newest first) beside each other
    muscle's fat summary.
    """
    from dataclasses import replace

    rows = tuple(
        row | {"imaging_study": row_studies[(row["muscle"], row["side"], row["level"])]}
        for row in found.rows
    )
    others = {}
    for name, summary in found.other_muscles.items():
        ids = {
            study
            for (muscle, _, level), study in row_studies.items()
            if muscle == name and level in summary.get("levels", ())
        }
        others[name] = dict(summary) | {"imaging_studies": sorted(ids, reverse=True)}
    return replace(found, rows=rows, other_muscles=others)


def _instability_in_force(
    uow: UnitOfWork, patient: Patient, episode_id: int
) -> tuple[Any, list[int]]:
    """Each motion segment's latest result among the episode's instability studies.

    A study of other levels (a cervical study after a lumbar one) never hides an earlier
    study's segments; a later study of the same segment replaces its earlier result.
    Returns the :class:`~spinestab.care.profile.InstabilityFindings` (None without a
    study) and the ids of the studies used (newest first).
    """
    from spinestab.care.io import read_instability
    from spinestab.care.profile import InstabilityFindings
    from spinestab.core.levels import level_sort_key

    def segments_of(path: Path) -> Iterable[tuple[Key, Any]]:
        findings = read_instability(path)
        yield from ((("lumbar", f.level), f) for f in findings.levels)
        yield from ((("cervical", f.level), f) for f in findings.cervical)

    chosen, used = _latest_per_key(
        uow, patient, episode_id, (InstabilityStudy, "instability", "result"), segments_of
    )
    if not used:
        return None, []
    lumbar = {level: f for (region, level), (f, _) in chosen.items() if region == "lumbar"}
    cervical = {level: f for (region, level), (f, _) in chosen.items() if region == "cervical"}

    def order(levels: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted(levels.values(), key=lambda f: level_sort_key(f.level.split("-")[0])))

    return InstabilityFindings(order(lumbar), order(cervical)), used


def _one_form_per_day(
    forms: Sequence[Any], form_type: Any, score_form: Any
) -> tuple[list[Any], list[int], list[int]]:
    """Score one form per instrument and date, as the care profile takes them.

    Of several forms of one instrument on one date the latest stored is used (a
    correction); red-flag screens of one date are merged, positive answers winning
    (:func:`spinestab.record.safety.merge_screens`). Returns the scores, the ids used and
    the ids set aside.
    """
    from spinestab.record.safety import merge_screens

    by_day: dict[tuple[str, dt.date], list[Any]] = {}
    for a in forms:
        by_day.setdefault((a.instrument, a.date), []).append(a)
    scores, used, set_aside = [], [], []
    for (instrument, date), rows in by_day.items():
        rows.sort(key=lambda r: r.id)
        if instrument == "redflags" and len(rows) > 1:
            answers = merge_screens([r.answers for r in rows])
            used += [r.id for r in rows]
            source = "record assessments " + ", ".join(str(r.id) for r in rows)
        else:
            answers, source = rows[-1].answers, f"record assessment {rows[-1].id}"
            used.append(rows[-1].id)
            set_aside += [r.id for r in rows[:-1]]
        scores.append(score_form(form_type(instrument, date, answers, source)))
    return scores, used, set_aside


def _care_from_record(
    uow: UnitOfWork, patient: Patient, episode_id: int, history: Any, forms: Sequence[Any]
) -> Any:
    """Weeks of care, adherence and response from the record; the history fills gaps.

    - weeks of active care: from the first approved plan's programme start to the last
      session logged in this episode;
    - adherence: planned sessions done over planned sessions due over that time (the
      latest plan's exercise days; sessions on other days are extra and not in the share),
      as :mod:`spinestab.care.adherence` defines it for the progression rule and the pages;
    - response: where two complete ODI, RMDQ or NRS forms are stored, their change decides
      (the history's ``previous_response`` is then not used).

    Each value taken from the record is named in ``History.sources``.
    """
    from dataclasses import replace

    rows = uow.session.execute(
        select(SessionLogRow, PlanVersion)
        .join(PlanVersion, PlanVersion.id == SessionLogRow.plan_id)
        .where(SessionLogRow.patient_id == patient.id, PlanVersion.episode_id == episode_id)
        .order_by(SessionLogRow.date, SessionLogRow.id)
    ).all()
    sources = dict(history.sources)
    changes: dict[str, Any] = {}
    if rows:
        plans = {plan.id: plan for _, plan in rows}
        starts = [dt.date.fromisoformat(p.data["programme_start"]) for p in plans.values()]
        start, last = min(starts), max(log.date for log, _ in rows)
        days = (last - start).days + 1
        latest = max(plans.values(), key=lambda p: p.version)
        exercise_days = latest.data.get("exercise_days") or ()
        session_ids = {
            ex["id"]
            for p in plans.values()
            for ex in p.data.get("exercises", ())
            if not ex.get("daily")
        }
        counted = planned_adherence(
            (log.date for log, _ in rows if log.done and log.exercise in session_ids),
            start=start,
            through=last,
            exercise_days=exercise_days,
        )
        changes["active_care_weeks"] = round(days / 7, 1)
        versions = ", ".join(str(v) for v in sorted(p.version for p in plans.values()))
        sources["active_care_weeks"] = (
            f"record: session logs {start.isoformat()} to {last.isoformat()} "
            f"(plan version(s) {versions})"
        )
        if counted.pct is not None:
            changes["adherence_pct"] = float(counted.pct)
            sources["adherence_pct"] = (
                f"record: {counted.done_sessions} of {counted.planned_sessions} planned "
                f"sessions done ({len(exercise_days)} exercise days a week, "
                f"{start.isoformat()} to {last.isoformat()}; "
                f"{counted.extra_sessions} extra sessions on other days not counted)"
            )
    for instrument in ("odi", "rmdq", "nrs"):
        complete = [a for a in forms if a.instrument == instrument and a.scores.get("complete")]
        if len(complete) >= 2:
            changes["previous_response"] = None  # the forms' change decides (triage)
            sources["previous_response"] = (
                f"record: {instrument} forms {complete[0].date} and {complete[-1].date} "
                f"(assessments {complete[0].id}, {complete[-1].id})"
            )
            break
    if not changes and sources == dict(history.sources):
        return history
    return replace(history, sources=tuple(sources.items()), **changes)
