"""What one cohort task does on a worker: hash its inputs, analyse, write its tables.

Long module: one task function per kind of data, with their shared bookkeeping.

:func:`run_task` never raises for a subject's bad data: it returns a record with
``status`` ``"failed"`` and the error, and the run goes on. Each kind calls the library
(``wearable.analyse``, ``clinical.score_form``), never a command-line function.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import spinestab
from spinestab.cohort.dataset import TaskSpec
from spinestab.cohort.tables import arrow_table, output_name, write_parquet
from spinestab.errors import InputError, MissingDependencyError

__all__ = ["file_sha256", "inputs_key", "run_task"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content (hex)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except IsADirectoryError:
        raise InputError("a folder, not a file", source=str(path)) from None
    except OSError as exc:
        raise InputError(f"unreadable file ({exc.__class__.__name__})", source=str(path)) from None
    return h.hexdigest()


def inputs_key(kind: str, settings: Mapping[str, Any], hashes: list[tuple[str, str]]) -> str:
    """Hash what a task's work depends on: kind, settings, input contents, spinestab version.

    Paths do not count (a dataset moved or listed by a manifest instead of a tree keeps its
    key); the order of files within a role does not either.
    """
    doc = {
        "kind": kind,
        "settings": dict(sorted(settings.items())),
        "inputs": sorted(hashes),
        "spinestab": spinestab.__version__,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


class _PeakMemory:
    """Peak resident memory of this process while a task runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.start_mb = self._rss_mb()
        self.peak_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _rss_mb(self) -> float:
        return self._proc.memory_info().rss / 2**20

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())


class _TaskLog(logging.Handler):
    """Collects the library's warnings per worker thread into the running task's record.

    Installed once per worker process on the ``spinestab`` logger, which then no longer
    prints to the worker's stderr: with thousands of subjects the messages belong beside
    their task in ``manifest.jsonl``, not interleaved on a terminal.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.by_thread: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        sink = self.by_thread.get(record.thread or 0)
        if sink is None and len(self.by_thread) == 1:  # from a helper thread of the task
            sink = next(iter(self.by_thread.values()))
        if sink is not None and len(sink) < 50:
            sink.append(record.getMessage())


_LOG_LOCK = threading.Lock()
_task_log: _TaskLog | None = None


def _in_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    global _task_log
    if not _in_worker():  # e.g. a task recorded as failed by the client: leave its logging
        yield []
        return
    with _LOG_LOCK:
        if _task_log is None:
            _task_log = _TaskLog()
            lib = logging.getLogger("spinestab")
            lib.addHandler(_task_log)
            lib.propagate = False
    me = threading.get_ident()
    sink: list[str] = []
    _task_log.by_thread[me] = sink
    try:
        yield sink
    finally:
        _task_log.by_thread.pop(me, None)


# ------------------------------------------------------------------------------ wearable
def _none_if_nan(v: Any) -> Any:
    if isinstance(v, float | np.floating) and not np.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _wearable(spec: TaskSpec, inputs: Mapping[str, list[str]]) -> dict[str, Any]:
    """Movement of one session: ``daily`` rows and the movement part of the profile."""
    from spinestab.care.config import load_rules
    from spinestab.care.summarise import summarise_daily
    from spinestab.wearable.config import PromptConfig, WearableConfig
    from spinestab.wearable.io import read_recording, table_locations
    from spinestab.wearable.pipeline import analyse

    s = spec.settings
    trunk = inputs["trunk"][0]
    thigh = inputs.get("thigh", [None])[0]
    if thigh is None and "thigh" in table_locations(trunk):
        thigh = trunk  # one table with both sensors side by side (HARTH layout)
    read = {
        "units": s.get("units", "auto"),
        "fs_hz": s.get("fs_hz"),
        "start_unix_s": s.get("start_unix_s"),
    }
    recs = [read_recording(trunk, location="trunk", **read)]
    if thigh is not None:
        recs.append(read_recording(thigh, location="thigh", **read))
    for rec in recs:
        cut = [n for n in rec.notes if "truncated" in n.lower()]
        if cut and not s.get("allow_truncated", False):
            raise InputError(
                f"file is cut short ({cut[0]}); its days would read as whole",
                source=rec.source,
                expected="a complete recording, or --allow-truncated in the task's options "
                "to analyse the complete part",
            )
    cfg = WearableConfig(
        prompts=PromptConfig(static_limit_min=float(s.get("static_limit_min", 30.0))),
        sit_to_stand_method=s.get("sit_to_stand", "stillness"),
    )
    standing = s.get("standing_s")
    result = analyse(
        recs[0],
        recs[1] if len(recs) > 1 else None,
        cfg=cfg,
        standing_s=tuple(standing) if standing else None,
        utc_offset_h=float(s.get("utc_offset_h", 0.0)),
    )
    daily = {k: np.asarray(v) for k, v in result.daily.items()}
    n = len(daily["date"])
    setup = str(result.info["setup"])
    cols: dict[str, Any] = {
        "subject": [spec.subject] * n,
        "session": [spec.session] * n,
        **daily,
        "method": [setup] * n,
        "trunk_device": [recs[0].device] * n,
        "fs_hz": np.full(n, float(recs[0].fs_hz)),
        "spinestab_version": [spinestab.__version__] * n,
    }
    rows = [
        {k: _none_if_nan(v[i]) for k, v in daily.items()}
        | {"valid_day": bool(daily["valid_day"][i])}
        for i in range(n)
    ]
    summary = summarise_daily(rows, rules=load_rules()).to_dict()
    notes = summary.pop("notes")
    part: dict[str, Any] = {"subject": [spec.subject], "session": [spec.session]}
    part |= {k: [v] for k, v in summary.items()}
    part |= {"movement_setup": [setup], "movement_notes": ["; ".join(notes)]}
    types = {k: "float64" for k in summary} | {"days": "int64", "valid_days": "int64"}
    types |= dict.fromkeys(("session", "first_date", "last_date"), "string")
    return {
        "daily": arrow_table(cols, types={"session": "string", "date": "string"}),
        "parts/wearable": arrow_table(part, types=types),
    }


# ------------------------------------------------------------------------------ forms
_SCORE_TYPES = {
    "session": "string",
    "file": "string",
    "instrument": "string",
    "date": "string",
    "score": "float64",
    "max": "float64",
    "value": "float64",
    "complete": "bool",
    "percent": "float64",
    "band": "string",
    "risk": "string",
    "psychosocial": "float64",
    "red_flag_urgency": "string",
    "red_flag_conditions": "string",
    "notes": "string",
    "method": "string",
}


def _forms(spec: TaskSpec, inputs: Mapping[str, list[str]]) -> dict[str, Any]:
    """Questionnaires of one session: ``scores`` rows and the clinical part of the profile.

    A form that cannot be scored whole (a missing item, an invalid answer) fails the task:
    an incomplete form never yields a guessed score (CLINICAL_LOGIC §2).
    """
    from spinestab.care.profile import History
    from spinestab.care.summarise import clinical_state_from_scores
    from spinestab.clinical import load_form, score_form

    scored = []
    for path in inputs.get("form", []):
        form = load_form(path)
        score = score_form(form)
        if not score.complete:
            raise InputError(
                f"incomplete {form.instrument} form, {len(score.missing)} item(s) unanswered: "
                "not scored",
                source=path,
                value=", ".join(score.missing),
                expected="every item answered (a half-filled form is never scored)",
            )
        scored.append((Path(path).name, score))
    rows: dict[str, list[Any]] = {k: [] for k in ("subject", *_SCORE_TYPES)}
    for name, sc in scored:
        value = sc.percent if sc.instrument == "odi" else sc.score
        row = {
            "subject": spec.subject,
            "session": spec.session,
            "file": name,
            "instrument": sc.instrument,
            "date": sc.date.isoformat() if sc.date else None,
            "score": sc.score,
            "max": sc.max,
            "value": value,
            "complete": sc.complete,
            "percent": sc.percent,
            "band": sc.band,
            "risk": sc.risk,
            "psychosocial": sc.psychosocial,
            "red_flag_urgency": sc.highest_urgency,
            "red_flag_conditions": "; ".join(a.condition for a in sc.actions) or None,
            "notes": "; ".join(sc.notes) or None,
            "method": sc.source,
        }
        for k, v in row.items():
            rows[k].append(v)
    age = int(spec.age) if spec.age is not None else None
    state = clinical_state_from_scores([s for _, s in scored], History(age=age))
    urgencies = [f.urgency for f in state.red_flags]
    part: dict[str, Any] = {
        "subject": [spec.subject],
        "session": [spec.session],
        "forms_date": [state.date.isoformat() if state.date else None],
        "startback_risk": [state.startback_risk],
        "startback_total": [state.startback_total],
        "startback_psychosocial": [state.startback_psychosocial],
        "odi_pct": [state.odi_pct],
        "rmdq": [state.rmdq],
        "nrs": [state.nrs],
        "leg_pain_nrs": [state.leg_pain_nrs],
        "psfs": [state.psfs],
        "red_flag_screen": [state.red_flag_screen],
        "red_flag_urgency": [urgencies[0] if urgencies else None],
        "red_flag_conditions": ["; ".join(f.condition for f in state.red_flags) or None],
    }
    part_types = {k: "float64" for k in part if k not in ("subject",)}
    part_types |= dict.fromkeys(
        ("session", "forms_date", "startback_risk", "red_flag_urgency", "red_flag_conditions"),
        "string",
    )
    part_types["red_flag_screen"] = "bool"
    return {
        "scores": arrow_table(rows, types=_SCORE_TYPES),
        "parts/forms": arrow_table(part, types=part_types),
    }


# ------------------------------------------------------------------------------ MRI
def _mri_types() -> dict[str, str]:
    from spinestab.core.results import MuscleRow

    named = {"str": "string", "float": "float64", "int": "int64"}
    types = {f.name: named[str(f.type)] for f in dataclasses.fields(MuscleRow)}
    return {
        "session": "string",
        **types,
        "sex": "string",
        "age": "float64",
        "method": "string",
        "level_names": "string",
        "modality": "string",
    }


def _mri(spec: TaskSpec, inputs: Mapping[str, list[str]]) -> dict[str, Any]:
    """Muscle quality of one study (``imaging.analyse_mri``).

    ``muscle_quality`` takes the whole-muscle rows (levels ``all`` and ``unassigned``),
    ``per_level`` the rows of each vertebral level: together they are ``muscle_quality.csv``.
    """
    from spinestab.care.summarise import summarise_muscle
    from spinestab.core.results import MuscleQuality
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.pipeline import DixonPair, FatFractionMap, LevelInputs, analyse_mri

    def one(role: str) -> str | None:
        return inputs.get(role, [None])[0]

    options = MriOptions.from_mapping({**spec.settings, "qa": False})  # no pictures in a cohort
    water, fat, ff = one("water"), one("fat"), one("ff")
    if water and fat:
        image: Any = DixonPair(water, fat)
    elif ff:
        image = FatFractionMap(ff)
    else:
        image = one("image")
    result = analyse_mri(
        image,
        one("mask"),
        options=options,
        levels=LevelInputs(
            vertebrae=one("vertebrae"),
            levels_table=one("levels_table"),
            vertebral_body=one("vertebral_body"),
        ),
        references=one("reference_table"),
    )
    tables = {}
    types = _mri_types()
    for name, summary in (("muscle_quality", True), ("per_level", False)):
        rows = [r for r in result.rows if r.is_summary == summary]
        cols: dict[str, list[Any]] = {k: [] for k in ("subject", *types)}
        for r in rows:
            row = {
                "subject": spec.subject,
                "session": spec.session,
                **r.as_dict(),
                "sex": options.sex,
                "age": options.age,
                "method": r.fat_method or result.fat_method,
                "level_names": result.levels.state,
                "modality": result.modality,
            }
            for k, v in row.items():
                cols[k].append(v)
        tables[name] = arrow_table(cols, types=types)
    found = summarise_muscle(MuscleQuality(rows=result.rows, fat_method=result.fat_method))
    part: dict[str, Any] = {
        "subject": [spec.subject],
        "session": [spec.session],
        "multifidus_fat_pct": [found.multifidus_fat_pct],
        "multifidus_levels": [", ".join(found.multifidus_levels)],
        "multifidus_asymmetry_pct": [found.multifidus_asymmetry_pct],
        "fat_method": [found.fat_method],
        "mri_flags": ["; ".join(result.flags)],
    }
    text = ("session", "multifidus_levels", "fat_method", "mri_flags")
    part_types = dict.fromkeys(text, "string")
    part_types |= {"multifidus_fat_pct": "float64", "multifidus_asymmetry_pct": "float64"}
    tables["parts/mri"] = arrow_table(part, types=part_types)
    return tables


#: What each kind of task runs: spec and inputs by role -> tables by name.
RUNNERS: dict[str, Callable[[TaskSpec, Mapping[str, list[str]]], dict[str, Any]]] = {
    "wearable": _wearable,
    "forms": _forms,
    "mri": _mri,
}


# ------------------------------------------------------------------------------ the task
def _describe(exc: BaseException) -> str:
    if isinstance(exc, InputError | MissingDependencyError):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"


def run_task(
    spec: TaskSpec, out_dir: str, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run one task and return its manifest record.

    Parameters
    ----------
    spec : TaskSpec
        The task.
    out_dir : str
        The run's folder; tables go into its sub-folders.
    previous : mapping, optional
        The task's last ``done`` record: when the inputs' key is unchanged and its files
        are still there, they are kept and nothing is recomputed.

    Returns
    -------
    dict
        ``task, subject, session, kind, status ("done"/"failed"), inputs (path, sha256,
        size, mtime_ns per file), settings, inputs_sha256, outputs (paths relative to
        out_dir), rows, seconds, peak_memory_mb, error``...

    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    record: dict[str, Any] = {
        "task": spec.task_id,
        "subject": spec.subject,
        "session": spec.session,
        "kind": spec.kind,
        "status": "failed",
        "inputs": [],
        "settings": spec.settings,
        "inputs_sha256": None,
        "outputs": [],
        "rows": {},
        "error": None,
        "host": os.uname().nodename,
        "pid": os.getpid(),
        "spinestab_version": spinestab.__version__,
    }
    with _PeakMemory() as mem, _collect_warnings() as warnings:
        try:
            if spec.problem:
                record["inputs"] = [{"role": r, "path": p} for r, p in spec.inputs]
                raise InputError(spec.problem)
            by_role: dict[str, list[str]] = {}
            hashes = []
            for role, path in spec.inputs:
                st = os.stat(path) if os.path.exists(path) else None
                digest = file_sha256(path)
                record["inputs"].append(
                    {
                        "role": role,
                        "path": path,
                        "sha256": digest,
                        "size": st.st_size if st else None,
                        "mtime_ns": st.st_mtime_ns if st else None,
                    }
                )
                hashes.append((role, digest))
                by_role.setdefault(role, []).append(path)
            key = inputs_key(spec.kind, spec.settings, hashes)
            record["inputs_sha256"] = key
            if (
                previous
                and previous.get("inputs_sha256") == key
                and all((out / p).exists() for p in previous.get("outputs", []))
            ):
                record |= {
                    "status": "done",
                    "outputs": list(previous["outputs"]),
                    "rows": dict(previous.get("rows", {})),
                    "reused": True,
                }
            else:
                tables = RUNNERS[spec.kind](spec, by_role)
                name = output_name(spec.task_id, key)
                for table, data in tables.items():
                    if data.num_rows == 0:
                        continue
                    write_parquet(data, out / table / name)
                    record["outputs"].append(f"{table}/{name}")
                    record["rows"][table] = data.num_rows
                record["status"] = "done"
        except Exception as exc:  # a subject's failure is recorded, never raised
            record["error"] = _describe(exc)
            if not isinstance(exc, InputError | MissingDependencyError):
                record["traceback"] = traceback.format_exc(limit=-4)
                log.debug("%s failed: %s", spec.task_id, record["error"])
    if warnings:
        record["warnings"] = warnings
    record["seconds"] = round(time.perf_counter() - t0, 4)
    record["peak_memory_mb"] = round(mem.peak_mb, 1)
    record["memory_increase_mb"] = round(mem.peak_mb - mem.start_mb, 1)
    return record


def noop_task(
    spec: TaskSpec, out_dir: str, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Do nothing (a task for measuring the overhead per task of a run)."""
    return {
        "task": spec.task_id,
        "subject": spec.subject,
        "session": spec.session,
        "kind": spec.kind,
        "status": "done",
        "inputs": [],
        "settings": {},
        "outputs": [],
        "rows": {},
        "seconds": 0.0,
        "spinestab_version": spinestab.__version__,
    }
