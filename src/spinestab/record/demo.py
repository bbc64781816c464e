"""Seed the record with the bundled demo data (``spinestab demo``; the web app's ``make run``).

- ``demo-001`` (``spinestab/data/demo``): a patient with six questionnaires.
- The four demo patients of ``spinestab/data/demo_patients`` (red flag, structural,
  functional high risk, low risk), each under its folder name: their files imported, a
  plan made from the record, approved by the demo clinician when it is a draft, and,
  where the folder has ``sessions.csv``, the sessions logged and the next version made.

Seeding is idempotent: a patient already in the record is left as it is.

Dates are relative to the day of seeding (``today``): the bundled files carry fixed dates
(the demo patients' baseline forms and programme start are 2024-03-04), so every date in
them (forms, history, sessions, wearable days, file names) is moved by whole weeks, which
keeps each date's weekday and so the plan's exercise days. The demo patients' programme
then started 35-41 days before the seeding day (week 6: two weeks of sessions logged, then
a gap, so a fresh demo shows the week-6 review due, the adherence of those weeks and a
patient who stopped logging); ``demo-001``'s intake forms are 1-7 days old.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.record._uow import Actor, Record

__all__ = ["DEMO_CLINICIAN", "DemoPatient", "demo_shift", "seed_demo", "shift_dates"]

#: The actor that seeds the demo (a clinician, so it may approve the demo plans).
DEMO_CLINICIAN = Actor(username="demo", role="clinician")

#: The bundled demo patients' baseline: their forms' date, hence their programme start.
BUNDLED_PROGRAMME_START = dt.date(2024, 3, 4)
#: Days from the demo patients' programme start to the seeding day: 35-41 (week 6).
PROGRAMME_DAYS_AGO = 35
#: Days from demo-001's intake forms to the seeding day: 1-7.
INTAKE_DAYS_AGO = 1

_ISO_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_TEXT_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".md")


@dataclass(frozen=True)
class DemoPatient:
    """What seeding did for one demo patient."""

    pseudonym: str
    created: bool
    track: str | None = None
    plan_status: str | None = None
    versions: tuple[int, ...] = ()
    documents: dict[str, dict[str, str]] = field(default_factory=dict)


def demo_shift(anchor: dt.date, today: dt.date, *, days_ago: int) -> dt.timedelta:
    """Return the whole weeks that move ``anchor`` into a week ending ``days_ago`` before today.

    ``anchor`` + shift lands ``days_ago`` to ``days_ago + 6`` days before ``today``; whole
    weeks keep every weekday, so the plan's exercise days hold.
    """
    weeks = ((today - anchor).days - days_ago) // 7
    return dt.timedelta(weeks=weeks)


def shift_dates(text: str, shift: dt.timedelta) -> str:
    """Return ``text`` with every ISO date (``YYYY-MM-DD``) in it moved by ``shift``.

    A string of that shape that is no calendar date is left as it is.
    """

    def moved(match: re.Match[str]) -> str:
        try:
            day = dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            return match.group(0)
        return (day + shift).isoformat()

    return _ISO_DATE.sub(moved, text)


@contextmanager
def _shifted_copy(folder: Path, shift: dt.timedelta) -> Iterator[Path]:
    """Yield a temporary copy of ``folder`` (same name) with its dates moved by ``shift``."""
    with tempfile.TemporaryDirectory(prefix="spinestab-demo-") as tmp:
        target = Path(tmp) / folder.name
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            out = target / shift_dates(str(relative), shift)
            if path.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix.lower() in _TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8")
                out.write_text(shift_dates(text, shift), encoding="utf-8")
            else:
                shutil.copyfile(path, out)
        yield target


def _data(path: str) -> Path:
    return Path(str(resources.files("spinestab").joinpath(path)))


def _exists(record: Record, pseudonym: str) -> bool:
    from spinestab.store.repository import find_patient_row

    with record.unit_of_work() as uow:
        return find_patient_row(uow.session, pseudonym) is not None


def _latest_date(folder: Path) -> dt.date:
    """Return the latest form date among ``folder``'s questionnaires."""
    dates = [
        dt.date.fromisoformat(m.group(0))
        for path in folder.iterdir()
        if path.suffix in (".json", ".yaml") and path.name != "patient.json"
        for m in _ISO_DATE.finditer(path.read_text(encoding="utf-8"))
    ]
    return max(dates)


def _seed_demo_001(record: Record, actor: Actor, today: dt.date) -> DemoPatient:
    from spinestab.record import create_patient, save_form_file

    bundled = _data("data/demo")
    info = json.loads((bundled / "patient.json").read_text(encoding="utf-8"))
    if _exists(record, info["pseudonym"]):
        return DemoPatient(info["pseudonym"], created=False)
    shift = demo_shift(_latest_date(bundled), today, days_ago=INTAKE_DAYS_AGO)
    with _shifted_copy(bundled, shift) as folder, record.unit_of_work() as uow:
        create_patient(
            uow, actor, info["pseudonym"], sex=info["sex"], birth_year=info["birth_year"]
        )
        for path in sorted(folder.iterdir()):
            if path.suffix in (".json", ".yaml") and path.name != "patient.json":
                save_form_file(uow, actor, info["pseudonym"], path)
    return DemoPatient(info["pseudonym"], created=True)


def _seed_folder(
    record: Record, actor: Actor, bundled: Path, language: str | None, today: dt.date
) -> DemoPatient:
    from spinestab.record import (
        approve_plan,
        create_patient,
        make_plan,
        progress_plan,
        save_sessions_file,
    )
    from spinestab.record.imports import expand_paths, import_file

    name = bundled.name
    if _exists(record, name):
        return DemoPatient(name, created=False)
    documents: dict[str, dict[str, str]] = {}
    shift = demo_shift(BUNDLED_PROGRAMME_START, today, days_ago=PROGRAMME_DAYS_AGO)
    with _shifted_copy(bundled, shift) as folder, record.unit_of_work() as uow:
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
    record: Record,
    *,
    actor: Actor = DEMO_CLINICIAN,
    language: str | None = None,
    today: dt.date | None = None,
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
    today : datetime.date, optional
        The seeding day the demo's dates are placed against (default: today).

    Returns
    -------
    list of DemoPatient
        ``demo-001`` first, then the demo patients in folder order.

    """
    today = today or dt.date.today()
    seeded = [_seed_demo_001(record, actor, today)]
    root = _data("data/demo_patients")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        seeded.append(_seed_folder(record, actor, folder, language, today))
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
