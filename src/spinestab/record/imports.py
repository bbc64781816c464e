"""Import files into the record by kind (``spinestab record import``).

Kinds, told by name and then by content:

==============  =================================================================
kind            file
==============  =================================================================
``history``     ``history.json`` (history and examination; a JSON file named otherwise
                with history fields such as ``age`` and no ``answers``)
``form``        a questionnaire (``{"instrument", "date", "answers"}``, JSON/YAML) or a
                FHIR ``QuestionnaireResponse``
``sessions``    session logs in the ``progress`` format (CSV with ``date`` and
                ``exercise`` columns, or JSON)
``imaging``     ``muscle_quality.csv`` (columns ``muscle, side, level,
                fat_fraction_pct, ...``)
``instability`` ``instability.json`` (per-level results)
``morphometry`` ``morphometry.json`` (per-vertebra heights, losses and Genant grades)
``wearable``    ``daily.csv`` (columns ``date, wear_min, ...``)
==============  =================================================================

A folder stands for the files in it (a patient folder of ``spinestab plan``), in the order
history, forms, results, sessions. A result file under the name its command writes comes
with the files its command wrote beside it (pictures, summaries, prompts), as ``--patient``
saves an output folder.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.errors import InputError
from spinestab.record._uow import Actor, UnitOfWork

__all__ = ["KINDS", "detect_kind", "expand_paths", "import_file"]

KINDS = ("history", "form", "imaging", "instability", "morphometry", "wearable", "sessions")
_ORDER = {kind: i for i, kind in enumerate(KINDS)}
#: Files the commands write that are never inputs.
_OUTPUT_NAMES = {
    "profile.json",
    "triage.json",
    "plan.json",
    "progress.json",
    "summary.json",
    "wearable_summary.json",
    "handout.html",
}


#: A result file under the name its command writes: saved with the files of its output
#: folder (``qa_*.png`` and ``summary.json`` of ``mri``, ``instability.png``,
#: ``morphometry_*.png``, ``prompts.csv``, ``wearable_summary.json`` and
#: ``timeline_*.png`` of ``wearable``), as ``--patient`` saves them.
_OUTPUT_FOLDERS = {
    ("imaging", "muscle_quality.csv"): "save_imaging_folder",
    ("instability", "instability.json"): "save_instability_folder",
    ("morphometry", "morphometry.json"): "save_morphometry_folder",
    ("wearable", "daily.csv"): "save_wearable_folder",
}


def _history_fields() -> set[str]:
    """Return the fields of a ``history.json`` (a file named otherwise is told by them)."""
    import dataclasses

    from spinestab.care.profile import History

    return {f.name for f in dataclasses.fields(History)} - {"sources", "age_uncertainty_years"}


def _head(path: Path, size: int = 65536) -> str:
    with path.open("rb") as handle:
        return handle.read(size).decode("utf-8-sig", errors="replace")


def _csv_header(path: Path) -> list[str]:
    first = _head(path, 8192).splitlines()[:1]
    if not first:
        return []
    return [h.strip() for h in next(csv.reader(io.StringIO(first[0])))]


def detect_kind(path: str | Path) -> str:
    """Tell what a file is (one of :data:`KINDS`), by name and then by content."""
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    if name == "history.json":
        return "history"
    if name == "muscle_quality.csv":
        return "imaging"
    if name == "instability.json":
        return "instability"
    if name == "morphometry.json":
        return "morphometry"
    if name == "daily.csv":
        return "wearable"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        header = set(_csv_header(path))
        if {"muscle", "side", "level", "fat_fraction_pct"} <= header:
            return "imaging"
        if {"date", "wear_min"} <= header:
            return "wearable"
        if {"date", "exercise"} <= header:
            return "sessions"
        raise InputError(
            "cannot tell what this CSV file holds",
            source=str(path),
            value=sorted(header)[:8],
            expected="muscle_quality.csv, daily.csv or session logs (date, exercise, ...)",
        )
    if suffix in (".yaml", ".yml"):
        return "form"
    if suffix == ".json":
        text = _head(path, 1_000_000)
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError:
            return "form"  # the form reader says what is wrong with it
        if isinstance(data, Mapping):
            if "instrument" in data or data.get("resourceType") == "QuestionnaireResponse":
                return "form"
            if "sessions" in data:
                return "sessions"
            if any(k in data for k in ("levels", "segments", "motion_segments")):
                return "instability"
            if "vertebrae" in data:
                return "morphometry"
            if "answers" not in data and set(data) & _history_fields():
                return "history"
            return "form"
        if isinstance(data, list) and data and all(isinstance(x, Mapping) for x in data):
            if all("exercise" in x for x in data):
                return "sessions"
            if all("level" in x or "segment" in x for x in data):
                return "instability"
        return "form"
    raise InputError(
        "unknown file type",
        source=str(path),
        expected="a .json, .yaml or .csv file of a kind in: " + ", ".join(KINDS),
    )


def expand_paths(paths: list[Path]) -> list[tuple[str, Path]]:
    """(kind, file) for every file named or inside a named folder, in import order."""
    found: list[tuple[str, Path]] = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for path in sorted(given.iterdir()):
                name = path.name.lower()
                if (
                    not path.is_file()
                    or name in _OUTPUT_NAMES
                    or name.startswith(("plan_v", "landmarks_", "qa_", "timeline_", "."))
                    or path.suffix.lower() not in (".json", ".yaml", ".yml", ".csv")
                    or name in ("per_slice.csv", "prompts.csv")
                ):
                    continue
                found.append((detect_kind(path), path))
        elif given.exists():
            found.append((detect_kind(given), given))
        else:
            raise InputError("file not found", source=str(given))
    return sorted(found, key=lambda kp: _ORDER[kp[0]])


def import_file(uow: UnitOfWork, actor: Actor, pseudonym: str, path: Path, kind: str) -> Any:
    """Save one file of a known kind through its record service."""
    from spinestab import record

    if kind == "history":
        return record.save_history_file(uow, actor, pseudonym, path)
    if kind == "form":
        return record.save_form_file(uow, actor, pseudonym, path)
    beside = _OUTPUT_FOLDERS.get((kind, path.name))
    if beside is not None:  # what the command wrote beside it comes along (pictures, ...)
        return getattr(record, beside)(uow, actor, pseudonym, path.parent, source="import")
    if kind == "imaging":
        return record.save_imaging(uow, actor, pseudonym, path)
    if kind == "instability":
        return record.save_instability(uow, actor, pseudonym, path)
    if kind == "morphometry":
        return record.save_morphometry(uow, actor, pseudonym, path)
    if kind == "wearable":
        return record.save_wearable(uow, actor, pseudonym, path)
    if kind == "sessions":
        return record.save_sessions_file(uow, actor, pseudonym, path)
    raise InputError("unknown kind", item="kind", value=kind, expected=", ".join(KINDS))
