"""Vertebral morphometry saved into the record (``spinestab morphometry --patient``).

``morphometry.json`` of ``spinestab morphometry`` (or made elsewhere in its layout) is
validated by :func:`spinestab.care.io.read_morphometry` (the care contract) and stored as a
study with one row per vertebra: the heights Ha, Hm, Hp, the wedge, biconcave and crush
losses, the largest loss, the deformity type, the Genant grade and the producer's flags
(CLINICAL_LOGIC.md §4.6). The file, the pictures of the graded vertebrae and the input
files go into the artifact store.

A deformity of Genant grade >= 1 (care rule ``deformity_min_grade``) is a finding of the
profile. New (not in the history's ``known_old_deformities``) with acute pain (care rule
``acute_weeks``) it raises the suspected vertebral fracture red flag (§3, care rule
``deformity_fracture_urgency``): :func:`deformity_red_flags` gives it to
:func:`spinestab.record.safety.open_red_flags`, so saving such a study blocks every live
plan in the same transaction, as a red-flag screen does. The patient's latest study counts
(deformities last beyond an episode of care).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spinestab.errors import InputError
from spinestab.record._latest import newest_performed_first
from spinestab.record._uow import (
    Actor,
    UnitOfWork,
    audit,
    authorize,
    current_episode,
    find_patient,
    now,
    service,
    utc,
)
from spinestab.record.results import (
    _checked_file,
    _content_hash,
    _input_files,
    _insert_unique,
    _json_file,
    _jsonable,
    _refuse_copy,
    _store_all,
    files_of,
)
from spinestab.record.schemas import FileOut, MorphometryOut
from spinestab.store.models import Patient
from spinestab.store.morphometry_models import MorphometryStudy, MorphometryVertebra

__all__ = [
    "MORPHOMETRY_KEYS",
    "deformity_findings",
    "deformity_red_flags",
    "latest_morphometry",
    "morphometry_out",
    "save_morphometry",
    "save_morphometry_folder",
    "vertebrae_in_force",
]

#: The keys of one vertebra in ``morphometry.json`` (issue 17's contract), as stored.
MORPHOMETRY_KEYS = (
    "level",
    "anterior_height_mm",
    "middle_height_mm",
    "posterior_height_mm",
    "wedge_loss_pct",
    "biconcave_loss_pct",
    "crush_loss_pct",
    "height_loss_pct",
    "deformity",
    "genant_grade",
    "flags",
)
_MEASURES = MORPHOMETRY_KEYS[1:8]


def morphometry_out(
    uow: UnitOfWork, row: MorphometryStudy, *, files: list[FileOut] | None = None
) -> MorphometryOut:
    """Return the typed view of a morphometry study (vertebrae with the contract's keys)."""
    return MorphometryOut(
        id=row.id,
        performed_on=row.performed_on,
        unit=row.unit,
        options=row.options,
        source=row.source,
        vertebrae=[_vertebra_dict(v) for v in row.vertebrae],
        files=files if files is not None else files_of(uow, "morphometry", row.id),
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def _vertebra_dict(v: MorphometryVertebra) -> dict[str, Any]:
    return {key: getattr(v, key) for key in MORPHOMETRY_KEYS}


def _vertebrae(document: Any, source: str) -> list[MorphometryVertebra]:
    """One row per vertebra entry (validated: numbers, grade, type, flags)."""
    from spinestab.core.levels import normalise_level

    entries = document.get("vertebrae") if isinstance(document, Mapping) else None
    rows = []
    for i, entry in enumerate(entries or ()):
        level = normalise_level(entry["level"], source=source)
        measures = {key: _measure(entry.get(key), source, f"{level} {key}") for key in _MEASURES}
        grade = entry.get("genant_grade")
        deformity = entry.get("deformity")
        rows.append(
            MorphometryVertebra(
                row_index=i,
                level=level[:32],
                **measures,
                deformity=str(deformity)[:16] if deformity is not None else None,
                genant_grade=int(grade) if grade is not None else None,
                flags=[str(f) for f in entry.get("flags") or ()],
                values=_jsonable(dict(entry)),
            )
        )
    return rows


def _measure(value: Any, source: str, item: str) -> float | None:
    """Return a height (mm, finite, >= 0) or a loss (%, finite, <= 100), or None.

    A loss is ``1 - ratio`` of two heights (CLINICAL_LOGIC §4.6, as ``spinestab
    morphometry`` writes it), so it is negative when the front or middle of a body is the
    taller: a normal vertebra, which the record must keep like any other.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("not a finite number", source=source, item=item, value=value)
    loss = item.endswith("_pct")
    if (loss and value > 100) or (not loss and value < 0):
        raise InputError(
            "out of range",
            source=source,
            item=item,
            value=value,
            expected="a loss of at most 100 %" if loss else ">= 0 mm",
        )
    return float(value)


def latest_morphometry(uow: UnitOfWork, patient: Patient) -> MorphometryStudy | None:
    """Return the patient's latest morphometry study (any episode of care), or None.

    Latest: performed last (:mod:`spinestab.record._latest`), not stored last.
    """
    studies = newest_performed_first(
        uow.session.scalars(
            select(MorphometryStudy).where(MorphometryStudy.patient_id == patient.id)
        ).all()
    )
    return studies[0] if studies else None


def vertebrae_in_force(
    uow: UnitOfWork, patient: Patient
) -> tuple[list[MorphometryVertebra], list[int]]:
    """Each vertebra's latest measurement among all the patient's morphometry studies.

    A study of other levels (a cervical film after a lumbar one) never hides an earlier
    study's vertebrae; a later study of the same vertebra replaces its earlier measurement.
    Later means performed later (:mod:`spinestab.record._latest`), not stored later.
    Returns the vertebra rows (cranio-caudal) and the ids of the studies they come from
    (newest first).
    """
    from spinestab.core.levels import level_sort_key

    studies = newest_performed_first(
        uow.session.scalars(
            select(MorphometryStudy).where(MorphometryStudy.patient_id == patient.id)
        ).all()
    )
    chosen: dict[str, MorphometryVertebra] = {}
    used: list[int] = []
    for study in studies:
        new = [v for v in study.vertebrae if v.level not in chosen]
        for v in new:
            chosen[v.level] = v
        if new:
            used.append(study.id)
    return sorted(chosen.values(), key=lambda v: level_sort_key(v.level)), used


def deformity_findings(vertebrae: Sequence[MorphometryVertebra], study_ids: Sequence[int]) -> Any:
    """Return the vertebrae as the care profile reads them (``DeformityFindings``).

    The same as :func:`spinestab.care.io.read_morphometry` gives for one file: deformities
    of grade >= 1, the graded levels (grade 0 included), ungraded vertebrae left out; the
    source names the studies.
    """
    from spinestab.care.profile import DeformityFindings, VertebralDeformity

    graded = [v for v in vertebrae if v.genant_grade is not None]
    deformities = tuple(
        VertebralDeformity(
            v.level, str(v.deformity), int(v.genant_grade), v.height_loss_pct, tuple(v.flags)
        )
        for v in graded
        if v.genant_grade
    )
    label = "morphometry study" if len(study_ids) == 1 else "morphometry studies"
    return DeformityFindings(
        deformities,
        tuple(v.level for v in graded),
        source=f"{label} {', '.join(str(i) for i in study_ids)}",
    )


def deformity_red_flags(uow: UnitOfWork, patient: Patient, history: Any) -> list[Any]:
    """Return the suspected vertebral fracture of the vertebrae in force, if any (§4.6, §3).

    Returns the triage actions (:class:`~spinestab.care.triage.model.Action`) of the care
    rule (:func:`spinestab.care.triage.deformity.fracture_suspected`): a new deformity of
    grade >= ``deformity_min_grade`` with pain for under ``acute_weeks``. Every vertebra's
    latest measurement counts (:func:`vertebrae_in_force`).
    """
    from spinestab.care.config import load_rules
    from spinestab.care.triage.deformity import fracture_suspected

    vertebrae, used = vertebrae_in_force(uow, patient)
    if not used:
        return []
    result = fracture_suspected(deformity_findings(vertebrae, used), history, load_rules())
    return [a for a in result.actions if a.code == "suspected_vertebral_fracture"]


@service("create", "morphometry")
def save_morphometry(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    result: str | Path,
    *,
    pictures: Sequence[str | Path] = (),
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "import",
    performed_on: dt.date | None = None,
) -> MorphometryOut:
    """Save ``morphometry.json`` with the pictures of its graded vertebrae.

    Parameters
    ----------
    uow : UnitOfWork
        The transaction.
    actor : Actor
        Who acts (a clinician).
    pseudonym : str
        The patient.
    result : path
        ``morphometry.json`` of ``spinestab morphometry`` (validated as ``spinestab plan``
        reads it).
    pictures : paths
        ``morphometry_<level>.png``.
    inputs : mapping, optional
        Input files by role (``landmarks``, ``vertebrae``, ``subreg``, ``rules``).
    options : mapping, optional
        The analysis options (as the command line gave them).
    source : str
        How the study came in (``spinestab morphometry`` or ``import``).
    performed_on : datetime.date, optional
        When the films or images were taken, where known (orders the studies).

    Returns
    -------
    MorphometryOut
        The stored study; ``blocked_plans`` names the plan versions a suspected fracture
        (new deformity, acute pain) blocked in this transaction.

    """
    from spinestab.care.io import read_morphometry
    from spinestab.record.safety import enforce_red_flags

    authorize(actor, pseudonym, patient_may=False)
    patient = find_patient(uow, pseudonym, lock=True)
    result = _checked_file(Path(result), what="morphometry.json")
    read_morphometry(result)  # the care contract: vertebrae, grades, types, flags
    document = _json_file(result, what="morphometry.json")
    vertebrae = _vertebrae(document, str(result))
    named_inputs = _input_files(inputs or {})
    opts = dict(options or {})
    digest = _content_hash("morphometry", result, named_inputs, opts)
    _refuse_copy(uow, MorphometryStudy, patient.id, digest, "morphometry study", str(result))
    episode = current_episode(uow, actor, patient)
    unit = document.get("unit") if isinstance(document, Mapping) else None
    study = MorphometryStudy(
        patient_id=patient.id,
        episode_id=episode.id,
        unit=str(unit)[:8] if unit else None,
        performed_on=performed_on,
        options=opts,
        result=_jsonable(dict(document)),
        content_hash=digest,
        source=source,
        created_at=now(),
        created_by=actor.username,
    )
    study.vertebrae = vertebrae
    _insert_unique(uow, study, what="morphometry study", source=str(result))
    outputs = [("result", "morphometry.json", result)]
    outputs += [
        ("picture", Path(p).name, _checked_file(Path(p), what="a picture")) for p in pictures
    ]
    _store_all(uow, actor, patient, "morphometry", study.id, outputs)
    _store_all(
        uow,
        actor,
        patient,
        "morphometry",
        study.id,
        [(f"input:{r}", n, p) for r, n, p in named_inputs],
    )
    audit(
        uow,
        actor,
        "create",
        "morphometry",
        study.id,
        patient=patient,
        detail={"vertebrae": len(vertebrae), "source": source},
    )
    blocked = enforce_red_flags(uow, actor, patient)
    return morphometry_out(uow, study).model_copy(update={"blocked_plans": blocked})


@service("create", "morphometry")
def save_morphometry_folder(
    uow: UnitOfWork,
    actor: Actor,
    pseudonym: str,
    folder: str | Path,
    *,
    inputs: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    source: str = "spinestab morphometry",
) -> MorphometryOut:
    """Save the output folder of ``spinestab morphometry``."""
    folder = Path(folder)
    return save_morphometry(
        uow,
        actor,
        pseudonym,
        folder / "morphometry.json",
        pictures=sorted(folder.glob("morphometry_*.png")),
        inputs=inputs,
        options=options,
        source=source,
    )
