"""Seed the record with the bundled demo data (``spinestab demo``; the web app's ``make run``).

- ``demo-001`` (``spinestab/data/demo``): a patient with six questionnaires.
- The four demo patients of ``spinestab/data/demo_patients`` (red flag, structural,
  functional high risk, low risk), each under its folder name: their files imported, a
  plan made from the record, approved by the demo clinician when it is a draft, and,
  where the folder has ``sessions.csv``, the sessions logged and the next version made.

Seeding is idempotent: a patient already in the record is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.record._uow import Actor, Record

__all__ = ["DEMO_CLINICIAN", "DemoPatient", "seed_demo"]

#: The actor that seeds the demo (a clinician, so it may approve the demo plans).
DEMO_CLINICIAN = Actor(username="demo", role="clinician")


@dataclass(frozen=True)
class DemoPatient:
    """What seeding did for one demo patient."""

    pseudonym: str
    created: bool
    track: str | None = None
    plan_status: str | None = None
    versions: tuple[int, ...] = ()
    documents: dict[str, dict[str, str]] = field(default_factory=dict)


def _data(path: str) -> Path:
    return Path(str(resources.files("spinestab").joinpath(path)))


def _exists(record: Record, pseudonym: str) -> bool:
    from spinestab.store.repository import find_patient_row

    with record.unit_of_work() as uow:
        return find_patient_row(uow.session, pseudonym) is not None


def _seed_demo_001(record: Record, actor: Actor) -> DemoPatient:
    from spinestab.record import create_patient, save_form_file

    folder = _data("data/demo")
    info = json.loads((folder / "patient.json").read_text(encoding="utf-8"))
    if _exists(record, info["pseudonym"]):
        return DemoPatient(info["pseudonym"], created=False)
    with record.unit_of_work() as uow:
        create_patient(
            uow, actor, info["pseudonym"], sex=info["sex"], birth_year=info["birth_year"]
        )
        for path in sorted(folder.iterdir()):
            if path.suffix in (".json", ".yaml") and path.name != "patient.json":
                save_form_file(uow, actor, info["pseudonym"], path)
    return DemoPatient(info["pseudonym"], created=True)


def _seed_folder(record: Record, actor: Actor, folder: Path, language: str | None) -> DemoPatient:
    from spinestab.record import (
        approve_plan,
        create_patient,
        make_plan,
        progress_plan,
        save_sessions_file,
    )
    from spinestab.record.imports import expand_paths, import_file

    name = folder.name
    if _exists(record, name):
        return DemoPatient(name, created=False)
    documents: dict[str, dict[str, str]] = {}
    with record.unit_of_work() as uow:
        create_patient(uow, actor, name)
        for kind, path in expand_paths([folder]):
            if kind != "sessions":
                import_file(uow, actor, name, path, kind)
        made = make_plan(uow, actor, name, language=language)
        documents["plan"] = made.documents
        status = made.plan.status
        versions = [made.plan.version]
        if status == "draft":
            status = approve_plan(uow, actor, name, version=made.plan.version).status
            sessions = folder / "sessions.csv"
            if sessions.is_file():
                save_sessions_file(uow, actor, name, sessions)
                progressed = progress_plan(uow, actor, name, language=language)
                documents["progress"] = progressed.documents
                versions.append(progressed.plan.version)
    return DemoPatient(
        name,
        created=True,
        track=made.plan.track,
        plan_status=status,
        versions=tuple(versions),
        documents=documents,
    )


def seed_demo(
    record: Record, *, actor: Actor = DEMO_CLINICIAN, language: str | None = None
) -> list[DemoPatient]:
    """Put the bundled demo patients into the record (those not there yet).

    Parameters
    ----------
    record : Record
        The opened record.
    actor : Actor
        Who seeds (a clinician: the demo plans are approved by them).
    language : {"en", "de"}, optional
        Language of the handouts.

    Returns
    -------
    list of DemoPatient
        ``demo-001`` first, then the demo patients in folder order.

    """
    seeded = [_seed_demo_001(record, actor)]
    root = _data("data/demo_patients")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        seeded.append(_seed_folder(record, actor, folder, language))
    return seeded


def demo_summary(record: Record, actor: Actor = DEMO_CLINICIAN) -> list[dict[str, Any]]:
    """Track and plan status in force of every demo patient (for the demo's table)."""
    from spinestab.record import get_plan

    rows = []
    root = _data("data/demo_patients")
    with record.unit_of_work() as uow:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            plan = get_plan(uow, actor, folder.name)
            rows.append(
                {
                    "patient": folder.name,
                    "track": plan.track if plan else None,
                    "status": plan.status if plan else None,
                    "version": plan.version if plan else None,
                }
            )
    return rows
