"""The run's ``manifest.jsonl``: one line per finished task, the commit point of its files.

A task's Parquet files count only once a ``done`` line naming them is in the manifest:

* a task writes each file whole under its final name (:func:`~spinestab.cohort.tables.
  write_parquet`), then the client appends the task's line;
* a run killed between the two leaves files that no line names: :func:`sweep` removes them
  when the run is resumed (and at the end of every run), so no row is ever counted twice;
* a run killed while appending leaves a torn last line: :meth:`Ledger.open` cuts it off.

The latest line of a task wins (a task re-run after its inputs changed appends a new line;
the files of its earlier line are swept).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spinestab.cohort.tables import PART_TABLES, TABLES
from spinestab.errors import InputError

__all__ = ["FAILED_COLUMNS", "Ledger", "live_outputs", "sweep", "write_failed_csv"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
FAILED = "failed.csv"
FAILED_COLUMNS = ("task", "subject", "session", "kind", "error", "inputs", "finished")
#: Tables whose files are committed through the manifest (``profiles/`` is rebuilt whole).
COMMITTED_TABLES = tuple(t for t in TABLES if t != "profiles") + PART_TABLES


class Ledger:
    """Append-only ``manifest.jsonl`` of a run folder.

    Lines are flushed as they are written and synced to disk at most once a second (and on
    :meth:`close`): after a crash of the machine the last second's lines may be lost, which
    only means their tasks run again; the files they name were synced before.
    """

    def __init__(self, out_dir: Path, *, sync_every_s: float = 1.0) -> None:
        self.path = out_dir / MANIFEST
        self._fh: io.TextIOWrapper | None = None
        self._sync_every_s = sync_every_s
        self._last_sync = 0.0

    def read(self) -> dict[str, dict[str, Any]]:
        """Latest record per task id (a torn last line is ignored)."""
        latest: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return latest
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.endswith("\n"):
                    log.warning("%s: torn last line %d ignored", self.path, n)
                    break
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(
                        "damaged manifest line", source=str(self.path), item=f"line {n}"
                    ) from None
                latest[rec["task"]] = rec
        return latest

    def open(self) -> dict[str, dict[str, Any]]:
        """Cut a torn last line, open for appending and return the latest records."""
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                os.truncate(self.path, keep)
                log.warning("%s: a torn last line (%d bytes) cut", self.path, len(data) - keep)
        latest = self.read()
        self._fh = self.path.open("a", encoding="utf-8")
        return latest

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record as a line."""
        assert self._fh is not None, "Ledger.open() first"
        line = json.dumps(record, default=str, separators=(",", ":"))
        self._fh.write(line + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._last_sync >= self._sync_every_s:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        """Sync and close."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def utc_now() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def live_outputs(latest: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Files named by the latest ``done`` record of each task (relative to the run folder)."""
    return {p for rec in latest.values() if rec.get("status") == "done" for p in rec["outputs"]}


def sweep(out_dir: Path, live: set[str]) -> list[str]:
    """Remove table files that no committed record names, and temporary files.

    Returns the removed paths (relative to ``out_dir``).
    """
    removed = []
    for table in COMMITTED_TABLES:
        folder = out_dir / table
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            rel = f"{table}/{path.name}"
            stale = path.name.endswith(".parquet") and rel not in live
            if path.is_file() and (stale or path.name.endswith(".tmp")):
                path.unlink()
                removed.append(rel)
    if removed:
        log.info("removed %d file(s) of unfinished or replaced tasks", len(removed))
    return removed


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file whole (temporary name, then rename)."""
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_failed_csv(out_dir: Path, latest: Mapping[str, Mapping[str, Any]]) -> int:
    """Write ``failed.csv`` (one row per task whose latest record failed); return the count."""
    rows = sorted(
        (rec for rec in latest.values() if rec.get("status") != "done"), key=lambda r: r["task"]
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FAILED_COLUMNS)
    for rec in rows:
        inputs: Iterable[Mapping[str, Any]] = rec.get("inputs") or []
        writer.writerow(
            [
                rec["task"],
                rec.get("subject", ""),
                rec.get("session") or "",
                rec.get("kind", ""),
                rec.get("error") or "",
                ";".join(str(i.get("path", "")) for i in inputs),
                rec.get("finished", ""),
            ]
        )
    write_text_atomic(out_dir / FAILED, buf.getvalue())
    return len(rows)
