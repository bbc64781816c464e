"""Exports of a patient stored in the record (the store), by pseudonym.

The store's rows are laid out as the patient folder that ``spinestab plan`` reads (in a
private temporary folder, deleted afterwards), so the letter, the handout and the Bundle come
from the very same code as for a folder. Today the store holds patients and questionnaires;
as the record grows (history, imaging, instability, wearable results, plan versions; issue
10), their files join the folder here.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from spinestab.errors import InputError
from spinestab.fhir.model import PatientExport

__all__ = ["StoredImport", "import_into_store", "stored_patient_folder", "with_pseudonym"]


@contextlib.contextmanager
def stored_patient_folder(session: Any, pseudonym: str, *, actor: str) -> Iterator[Path]:
    """Yield a temporary patient folder holding the stored patient's questionnaires.

    The read is audited (``actor``). The folder is named ``patient``; callers put the
    pseudonym back into what they build (see :func:`with_pseudonym`).

    Raises
    ------
    InputError
        Unknown pseudonym, or no questionnaire stored.

    """
    from spinestab.store import audit, get_patient

    patient = get_patient(session, pseudonym)
    if patient is None:
        raise InputError("no such patient in the record", value=pseudonym)
    # a retracted form (FHIR entered-in-error, issue 10) is never exported or scored
    forms = [a for a in patient.assessments if getattr(a, "status", "stored") == "stored"]
    if not forms:
        raise InputError(
            "no questionnaires stored for this patient",
            value=pseudonym,
            expected="forms saved with `spinestab score --save` or the web app",
        )
    audit(session, actor=actor, action="read", entity="patient", entity_id=patient.id)
    with tempfile.TemporaryDirectory(prefix="spinestab-export-") as tmp:
        folder = Path(tmp) / "patient"
        folder.mkdir(mode=0o700)
        for row in forms:
            doc = {
                "instrument": row.instrument,
                "date": row.date.isoformat(),
                "answers": row.answers,
            }
            name = f"{row.instrument}_{row.date.isoformat()}_{row.id}.json"
            (folder / name).write_text(json.dumps(doc), encoding="utf-8")
        yield folder


def with_pseudonym(obj: Any, pseudonym: str) -> Any:
    """Return ``obj`` (ReportInputs or PatientExport) with the pseudonym put back."""
    if hasattr(obj, "pseudonym"):
        return replace(obj, pseudonym=pseudonym)
    return replace(obj, profile=replace(obj.profile, patient=pseudonym))


@dataclass(frozen=True)
class StoredImport:
    """What :func:`import_into_store` stored, and what the record cannot hold yet."""

    pseudonym: str
    patient_created: bool
    forms: int
    not_stored: tuple[str, ...]


def import_into_store(
    session: Any, data: PatientExport, *, actor: str, pseudonym: str | None = None
) -> StoredImport:
    """Store a Bundle's patient and questionnaires in the record (the caller's transaction).

    The patient is created when the pseudonym is new. Every form is validated and scored as
    ``spinestab score --save`` does; a form already stored is an error and nothing is kept
    (one transaction). Scores, risk, red flags, referrals and the plan follow from the forms
    and are made again on export. Imaging, instability and wearable results in the Bundle
    are named in ``not_stored``: the store keeps questionnaires only until the record holds
    them (issue 10).
    """
    from spinestab.record import Actor, UnitOfWork, create_patient, save_form
    from spinestab.store import get_patient

    # through the record's services: validation, content hash, red-flag safety, audit
    uow = UnitOfWork(session)
    who = Actor(username=actor, role="clinician")
    name = pseudonym or data.pseudonym
    created = get_patient(session, name) is None
    if created:
        create_patient(uow, who, name)
    for n, form in enumerate(data.forms, start=1):
        save_form(
            uow,
            who,
            name,
            {"instrument": form.instrument, "date": form.date.isoformat(), "answers": form.answers},
            source=f"Bundle form {n} ({form.instrument} {form.date.isoformat()})",
        )
    not_stored = []
    if data.imaging:
        not_stored.append(f"{len(data.imaging)} imaging studies")
    if data.instability:
        not_stored.append(f"{len(data.instability)} instability studies")
    if data.movement:
        not_stored.append(f"{len(data.movement)} wearable days")
    return StoredImport(name, created, len(data.forms), tuple(not_stored))
