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
from dataclasses import replace
from pathlib import Path
from typing import Any

from spinestab.errors import InputError

__all__ = ["stored_patient_folder", "with_pseudonym"]


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
    if not patient.assessments:
        raise InputError(
            "no questionnaires stored for this patient",
            value=pseudonym,
            expected="forms saved with `spinestab score --save` or the web app",
        )
    audit(session, actor=actor, action="read", entity="patient", entity_id=patient.id)
    with tempfile.TemporaryDirectory(prefix="spinestab-export-") as tmp:
        folder = Path(tmp) / "patient"
        folder.mkdir(mode=0o700)
        for row in patient.assessments:
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
