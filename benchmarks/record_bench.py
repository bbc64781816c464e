"""The patient record under stress: ``python -m benchmarks record [--kills N] [--postgres URL]``.

Three parts, each printing its figures:

1. **Bad inputs** (repeatable campaign): well over 150 bad inputs across every command that
   writes to or reads from the record (questionnaires through ``record import`` and
   ``score --save``, history, result tables, session logs, patients, plans and approvals,
   progression, export/restore/retract, the analyses with ``--patient``, broken database
   URLs). Each is counted as a *clear error* when the command exits with code 2, says
   ``error`` on stderr and shows no traceback, and as *nothing written* when no row of any
   record table (the audit trail aside: refusals are audited on purpose), no artifact and no
   output folder appeared.
2. **Concurrent writers** (8 real processes): rows expected against rows stored, for one
   form saved by all 8 at once and for 8 writers of different forms.
3. **SIGKILL during a large import** (real processes): the import killed at several
   moments; after each kill, the forms stored (none or all), the database's own integrity
   check, and orphan artifacts; then the import run to the end.

Runs on SQLite in a temporary folder; ``--postgres URL`` (a server URL whose database may be
replaced) runs parts 2 and 3 there too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "spinestab" / "data" / "demo_patients" / "functional_high_risk"
STRUCT = ROOT / "src" / "spinestab" / "data" / "demo_patients" / "structural_spondylolisthesis"
CWA = ROOT / "tests" / "data" / "wearable" / "ax6_sample.cwa"


# ------------------------------------------------------------------------------ helpers
@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _counts(url: str, data: Path) -> tuple[int, ...]:
    """Rows of every record table (the audit trail aside) and artifact files."""
    from sqlalchemy import create_engine, func, select

    from spinestab.store.models import Base

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = tuple(
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in sorted(Base.metadata.tables.items())
                if name not in ("audit_events",) and conn.dialect.has_table(conn, name)
            )
    finally:
        engine.dispose()
    artifacts = sum(1 for p in (data / "artifacts").rglob("*") if p.is_file())
    return (*rows, artifacts)


def _form(instrument: str, answers: Any, date: str = "2024-02-01") -> str:
    return json.dumps({"instrument": instrument, "date": date, "answers": answers})


def _fhir(status: str = "completed", **extra: Any) -> str:
    doc = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-x",
        "status": status,
        "questionnaire": "http://example.org/Questionnaire/nrs",
        "authored": "2024-02-01",
        "item": [{"linkId": "pain", "answer": [{"valueInteger": 4}]}],
    } | extra
    return json.dumps(doc)


def _no_flags() -> dict[str, bool]:
    from spinestab.clinical import load_red_flag_rules

    return dict.fromkeys(load_red_flag_rules().items, False)


def _form_files() -> dict[str, str | bytes]:
    """Bad questionnaire files: name -> content (every one must be refused)."""
    flags = _no_flags()
    deep = "[" * 100 + "]" * 100
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return {
        "not_json.json": "{instrument: nrs",
        "empty.json": "",
        "binary.json": bytes(range(256)) * 4,
        "list.json": "[1, 2, 3]",
        "string.json": '"nrs"',
        "utf16.json": _form("nrs", {"pain": 3}).encode("utf-16"),
        "unknown_instrument.json": _form("oswestry", {"s1": 1}),
        "no_date.json": json.dumps({"instrument": "nrs", "answers": {"pain": 3}}),
        "bad_date.json": _form("nrs", {"pain": 3}, date="01/02/2024"),
        "impossible_date.json": _form("nrs", {"pain": 3}, date="2024-02-30"),
        "future_date.json": _form("nrs", {"pain": 3}, date="2999-01-01"),
        "unknown_field.json": json.dumps(
            {"instrument": "nrs", "date": "2024-02-01", "answers": {"pain": 3}, "score": 3}
        ),
        "no_answers.json": json.dumps({"instrument": "nrs", "date": "2024-02-01"}),
        "nrs_11.json": _form("nrs", {"pain": 11}),
        "nrs_negative.json": _form("nrs", {"pain": -1}),
        "nrs_text.json": _form("nrs", {"pain": "5"}),
        "nrs_bool.json": _form("nrs", {"pain": True}),
        "nrs_unknown_item.json": _form("nrs", {"pain": 3, "mood": 2}),
        "odi_9.json": _form("odi", {f"s{i}": 9 if i == 1 else 1 for i in range(1, 11)}),
        "odi_text.json": _form("odi", {f"s{i}": "a" if i == 1 else 1 for i in range(1, 11)}),
        "odi_s11.json": _form("odi", {f"s{i}": 1 for i in range(1, 12)}),
        "startback_2.json": _form("startback", {f"q{i}": 2 for i in range(1, 10)}),
        "startback_q9_5.json": _form("startback", {f"q{i}": 0 for i in range(1, 9)} | {"q9": 5}),
        "startback_q10.json": _form("startback", {f"q{i}": 0 for i in range(1, 11)}),
        "rmdq_25.json": _form("rmdq", [1, 25]),
        "rmdq_0.json": _form("rmdq", [0, 3]),
        "rmdq_text.json": _form("rmdq", "1, 2, 3"),
        "psfs_11.json": _form("psfs", {"activities": [{"name": "walk", "score": 11}]}),
        "psfs_not_list.json": _form("psfs", {"activities": "walk"}),
        "redflags_unknown.json": _form("redflags", flags | {"headache": True}),
        "redflags_two.json": _form("redflags", flags | {"saddle_numbness": 2}),
        "redflags_repeated.json": _form("redflags", ["saddle_numbness", "saddle_numbness"]),
        "duplicate_key.json": '{"instrument": "nrs", "date": "2024-02-01", "answers": '
        '{"pain": 3, "pain": 4}}',
        "deep.json": deep,
        "huge_int.json": _form("nrs", {"pain": int("9" * 40)}),
        "big.json": " " * 1_100_000 + _form("nrs", {"pain": 3}),
        "alias_bomb.yaml": bomb,
        "bad.yaml": "instrument: nrs\n  date: [\n",
        "fhir_in_progress.json": _fhir("in-progress"),
        "fhir_stopped.json": _fhir("stopped"),
        "fhir_no_questionnaire.json": _fhir(questionnaire="http://example.org/Q/unknown"),
        "fhir_invalid.json": _fhir(status="finished"),
        "fhir_eie_unknown.json": _fhir("entered-in-error", id="never-stored"),
        "fhir_duplicate_linkid.json": _fhir(
            item=[
                {"linkId": "pain", "answer": [{"valueInteger": 4}]},
                {"linkId": "pain", "answer": [{"valueInteger": 5}]},
            ]
        ),
    }


def _history_files() -> dict[str, str]:
    return {
        "h_unknown.json": json.dumps({"agee": 40}),
        "h_negative.json": json.dumps({"age": -1}),
        "h_200.json": json.dumps({"age": 200}),
        "h_text.json": json.dumps({"age": "40"}),
        "h_adherence.json": json.dumps({"adherence_pct": 150}),
        "h_response.json": json.dumps({"previous_response": "maybe"}),
        "h_symptom.json": json.dumps({"symptoms": ["headache"]}),
        "h_condition.json": json.dumps({"conditions": ["flu"]}),
        "h_slr.json": json.dumps({"slr_deg": 200}),
        "h_list.json": json.dumps([{"age": 40}]),
        "h_level.json": json.dumps({"symptomatic_levels": ["L9"]}),
    }


def _table_files() -> dict[str, str | bytes]:
    header = DEMO.joinpath("muscle_quality.csv").read_text().splitlines()[0]
    row = DEMO.joinpath("muscle_quality.csv").read_text().splitlines()[1].split(",")
    cols = header.split(",")

    def mq(**changes: str) -> str:
        values = list(row)
        for key, value in changes.items():
            values[cols.index(key)] = value
        return header + "\n" + ",".join(values) + "\n"

    def vertebra(**changes: Any) -> dict[str, Any]:
        good = {
            "level": "L1",
            "anterior_height_mm": 17.5,
            "middle_height_mm": 21.2,
            "posterior_height_mm": 25.0,
            "wedge_loss_pct": 30.0,
            "biconcave_loss_pct": 15.0,
            "crush_loss_pct": 0.0,
            "height_loss_pct": 30.0,
            "deformity": "wedge",
            "genant_grade": 2,
            "flags": [],
        }
        return good | changes

    daily = DEMO.joinpath("daily.csv").read_text().splitlines()
    dcols = daily[0].split(",")

    def day(**changes: str) -> str:
        values = daily[1].split(",")
        for key, value in changes.items():
            values[dcols.index(key)] = value
        return daily[0] + "\n" + ",".join(values) + "\n"

    return {
        "muscle_quality.csv#missing": "muscle,side,level\nmultifidus,left,L4\n",
        "muscle_quality.csv#fat200": mq(fat_fraction_pct="200"),
        "muscle_quality.csv#fattext": mq(fat_fraction_pct="abc"),
        "muscle_quality.csv#nolevel": mq(level=""),
        "muscle_quality.csv#header": header + "\n",
        "muscle_quality.csv#binary": bytes(range(256)) * 8,
        "muscle_quality.csv#inf": mq(fat_fraction_pct="inf"),
        "instability.json#notjson": "{levels: [",
        "instability.json#nolevels": json.dumps({"thresholds": "x"}),
        "instability.json#notobject": json.dumps({"levels": [1, 2]}),
        "instability.json#sliptext": json.dumps({"levels": [{"level": "L4-L5", "slip_mm": "x"}]}),
        "instability.json#verdict": json.dumps(
            {"levels": [{"level": "L4-L5", "verdict": "maybe"}]}
        ),
        "instability.json#grade": json.dumps(
            {"levels": [{"level": "L4-L5", "meyerding_grade": "VII"}]}
        ),
        "morphometry.json#notjson": "{vertebrae: [",
        "morphometry.json#empty": json.dumps({"vertebrae": []}),
        "morphometry.json#grade": json.dumps({"vertebrae": [vertebra(genant_grade=5)]}),
        "morphometry.json#type": json.dumps(
            {"vertebrae": [vertebra(genant_grade=2, deformity="squashed")]}
        ),
        "morphometry.json#negative": json.dumps({"vertebrae": [vertebra(anterior_height_mm=-3)]}),
        "morphometry.json#loss": json.dumps({"vertebrae": [vertebra(wedge_loss_pct=140)]}),
        "morphometry.json#text": json.dumps({"vertebrae": [vertebra(middle_height_mm="tall")]}),
        "morphometry.json#level": json.dumps({"vertebrae": [vertebra(level="Q9")]}),
        "morphometry.json#flags": json.dumps({"vertebrae": [vertebra(flags="odd")]}),
        "daily.csv#missing": "date,wear_min\n2024-02-01,900\n",
        "daily.csv#baddate": day(date="01/02/2024"),
        "daily.csv#duplicate": daily[0] + "\n" + daily[1] + "\n" + daily[1] + "\n",
        "daily.csv#minutes": day(wear_min="2000"),
        "daily.csv#negative": day(steps="-5"),
        "daily.csv#sum": day(wear_min="10"),
        "daily.csv#header": daily[0] + "\n",
    }


def _session_files(exercise: str) -> dict[str, str]:
    head = "date,exercise,done,sets,pain_during\n"
    return {
        "s_baddate.csv": head + f"2024/03/05,{exercise},yes,3,2\n",
        "s_future.csv": head + f"2999-01-01,{exercise},yes,3,2\n",
        "s_pain.csv": head + f"2024-03-05,{exercise},yes,3,11\n",
        "s_unknown.csv": head + "2024-03-05,handstand,yes,3,2\n",
        "s_done.csv": head + f"2024-03-05,{exercise},maybe,3,2\n",
        "s_column.csv": "date,exercise,mood\n2024-03-05,x,1\n",
        "s_noexercise.csv": "date,done\n2024-03-05,yes\n",
        "s_json.json": json.dumps({"sessions": "all of them"}),
        "s_sets.csv": head + f"2024-03-05,{exercise},yes,2.5,2\n",
    }


# ------------------------------------------------------------------------------ part 1
def campaign(workdir: Path) -> dict[str, list[tuple[str, bool, bool, str]]]:
    """Run every bad input; return per command: (case, clear error, nothing written, msg)."""
    from typer.testing import CliRunner

    from spinestab.cli import app

    data = workdir / "data"
    url = f"sqlite:///{workdir / 'campaign.sqlite3'}"
    files = workdir / "files"
    files.mkdir(parents=True)
    runner = CliRunner()
    results: dict[str, list[tuple[str, bool, bool, str]]] = defaultdict(list)

    def invoke(*args: Any) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    def write(name: str, content: str | bytes) -> Path:
        path = files / name.replace("#", "_")
        if "#" in name:  # keep the file name the command recognises
            path = files / name.split("#")[1] / name.split("#")[0]
            path.parent.mkdir(exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    def check(command: str, case: str, *args: Any, out: Path | None = None) -> None:
        before = _counts(url, data)
        result = invoke(*args)
        output = (result.stdout or "") + (result.stderr or "")
        clear = (
            result.exit_code == 2
            and ("error" in result.stderr.lower() or "usage" in result.stderr.lower())
            and "Traceback" not in output
            and (result.exception is None or isinstance(result.exception, SystemExit))
        )
        nothing = _counts(url, data) == before and (out is None or not out.exists())
        message = (result.stderr or "").strip().splitlines()[-1:] or [""]
        results[command].append((case, clear, nothing, message[0][:160]))

    with _env(SPINESTAB_DATA_DIR=str(data), SPINESTAB_DATABASE_URL=url, SPINESTAB_USER="bench"):
        # the setting: P with a plan in force, Q with forms only, R empty
        assert invoke("patient", "add", "P").exit_code == 0
        for name in ("nrs.json", "odi.json", "redflags.json", "startback.json", "history.json"):
            assert invoke("record", "import", "P", DEMO / name).exit_code == 0
        assert invoke("plan", "--patient", "P").exit_code == 0
        assert invoke("plan", "approve", "P", "--version", "1").exit_code == 0
        assert invoke("plan", "--patient", "P").exit_code == 0  # version 2, a draft
        assert invoke("patient", "add", "Q").exit_code == 0
        assert invoke("record", "import", "Q", DEMO / "nrs.json").exit_code == 0
        assert invoke("patient", "add", "R").exit_code == 0
        exercise = json.loads(_plan_exercise(invoke("record", "show", "P", "--json").stdout))
        archive = workdir / "p.zip"
        assert invoke("record", "export", "P", "--out", archive).exit_code == 0

        for name, content in _form_files().items():
            path = write(name, content)
            check("record import (forms)", name, "record", "import", "R", path)
            check("score --save", name, "score", path, "--save", "R")
        for name, content in _history_files().items():
            path = write(name, content)
            check("record import (history)", name, "record", "import", "R", path)
        for name, content in _table_files().items():
            path = write(name, content)
            check("record import (results)", name, "record", "import", "R", path)
        for name, content in _session_files(exercise).items():
            path = write(name, content)
            check("record import (sessions)", name, "record", "import", "P", path)
        check(
            "record import (sessions)",
            "no active plan",
            "record",
            "import",
            "Q",
            DEMO / "sessions.csv",
        )
        check(
            "record import (forms)",
            "unknown patient",
            "record",
            "import",
            "ghost",
            DEMO / "nrs.json",
        )
        check("record import (forms)", "missing file", "record", "import", "R", files / "none.json")
        check(
            "record import (forms)",
            "unknown CSV",
            "record",
            "import",
            "R",
            write("x.csv", "a,b\n1,2\n"),
        )
        check(
            "record import (forms)", "unknown type", "record", "import", "R", write("x.txt", "hi")
        )

        for case, args in {
            "sex": ("--sex", "x"),
            "birth year 1700": ("--birth-year", "1700"),
            "birth year 3000": ("--birth-year", "3000"),
            "birth year text": ("--birth-year", "abc"),
        }.items():
            check("patient add", case, "patient", "add", "S", *args)
        for case, name in {
            "empty": "",
            "spaces": "   ",
            "control": "a\x07b",
            "65 characters": "x" * 65,
            "duplicate": "P",
            "newline": "a\nb",
        }.items():
            check("patient add", case, "patient", "add", name)

        check("record show", "unknown", "record", "show", "ghost")
        check("record show", "markup unknown", "record", "show", "[bold]x[/]")
        check("patient show", "unknown", "patient", "show", "ghost")
        existing = write("exists.zip", b"x")
        check("record export", "unknown", "record", "export", "ghost", "--out", files / "g.zip")
        check("record export", "file exists", "record", "export", "P", "--out", existing)
        check("record export", "folder", "record", "export", "P", "--out", files)
        check("record restore", "not a zip", "record", "restore", write("n.zip", "hello"))
        check("record restore", "missing", "record", "restore", files / "missing.zip")
        check("record restore", "already present", "record", "restore", archive)
        for case, mutate in _archive_damages().items():
            check(
                "record restore", case, "record", "restore", mutate(archive, files / f"{case}.zip")
            )
        check("record retract", "unknown id", "record", "retract", "P", "99999")
        check("record retract", "unknown patient", "record", "retract", "ghost", "1")
        check("record retract", "not a number", "record", "retract", "P", "one")

        out = workdir / "out"
        check("plan", "unknown patient", "plan", "--patient", "ghost", "--out", out, out=out)
        check("plan", "no forms", "plan", "--patient", "R", "--out", out, out=out)
        check("plan", "folder and patient", "plan", DEMO, "--patient", "P", out=out)
        check("plan", "language", "plan", "--patient", "P", "--lang", "fr", "--out", out, out=out)
        check("plan", "jurisdiction", "plan", "--patient", "P", "--jurisdiction", "XX", out=out)
        bad_rules = write("rules.yaml", "chronic_weeks: [")
        check("plan", "rules file", "plan", "--patient", "P", "--rules", bad_rules, out=out)
        check("plan", "out is a file", "plan", "--patient", "P", "--out", existing)
        check("plan", "folder mode no out", "plan", DEMO)
        check("plan approve", "unknown version", "plan", "approve", "P", "--version", "9")
        check("plan approve", "active version", "plan", "approve", "P", "--version", "1")
        check("plan approve", "unknown patient", "plan", "approve", "ghost", "--version", "1")
        check("plan approve", "no version", "plan", "approve", "P")
        check("progress", "no active plan", "progress", "--patient", "Q", "--out", out, out=out)
        check("progress", "unknown patient", "progress", "--patient", "ghost")
        check("progress", "forms with patient", "progress", "--patient", "P", "--forms", files)
        check("progress", "plan file with patient", "progress", DEMO / "nrs.json", "--patient", "P")
        check(
            "progress",
            "bad sessions",
            "progress",
            "--patient",
            "P",
            "--sessions",
            files / "s_pain.csv",
        )
        check("progress", "no sessions", "progress", "--patient", "P", "--out", out, out=out)

        marks = STRUCT / "landmarks" / "neutral.json"
        garbage = write("garbage.cwa", b"\x00" * 5000)
        film = write("film.json", STRUCT.joinpath("landmarks", "neutral.json").read_text())
        for command, args in {
            "instability": ("instability", "--neutral", marks),
            "morphometry": ("morphometry", "--landmarks", film),
            "wearable": ("wearable", "--trunk", CWA),
        }.items():
            check(command, "unknown patient", *args, "--patient", "ghost", "--out", out, out=out)
            check(command, "patient not allowed text", *args, "--patient", "", out=out)
        check(
            "instability",
            "bad landmarks",
            "instability",
            "--neutral",
            write("l.json", "{"),
            "--patient",
            "R",
        )
        check("wearable", "garbage file", "wearable", "--trunk", garbage, "--patient", "R")
        check(
            "morphometry",
            "bad landmarks",
            "morphometry",
            "--landmarks",
            write("m.json", '{"units": "mm"}'),
            "--patient",
            "R",
        )
        check("morphometry", "neither out nor patient", "morphometry", "--landmarks", film)
        check(
            "mri", "unknown patient", "mri", "--image", files / "none.nii.gz", "--patient", "ghost"
        )
        check("mri", "missing image", "mri", "--image", files / "none.nii.gz", "--patient", "R")
        check("mri", "neither out nor patient", "mri", "--image", files / "none.nii.gz")

    for case, db in {
        "unknown scheme": "foo://",
        "unreachable server": "postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    }.items():
        with _env(SPINESTAB_DATABASE_URL=db, SPINESTAB_DATA_DIR=str(data)):
            for command in (("patient", "list"), ("record", "show", "P")):
                before = _counts(url, data)
                result = invoke(*command)
                clear = result.exit_code == 2 and "secret" not in result.stderr
                results["database URL"].append(
                    (f"{case}: {' '.join(command)}", clear, _counts(url, data) == before, "")
                )
    return results


def _plan_exercise(show_json: str) -> str:
    """Return an exercise id of the plan in force (for session-log cases)."""
    from spinestab.record import Actor, get_plan, open_record

    plans = json.loads(show_json)["plans"]
    version = next(p["version"] for p in plans if p["status"] == "active")
    with open_record() as record, record.unit_of_work() as uow:
        plan = get_plan(uow, Actor(username="bench", role="clinician"), "P", version=version)
    assert plan is not None and plan.plan is not None
    return json.dumps(next(e["id"] for e in plan.plan["exercises"] if not e["daily"]))


def _archive_damages() -> dict[str, Callable[[Path, Path], Path]]:
    def copy_with(change: Callable[[str, bytes], tuple[str, bytes] | None]) -> Callable:
        def make(src: Path, dst: Path) -> Path:
            with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
                for name in a.namelist():
                    changed = change(name, a.read(name))
                    if changed is not None:
                        b.writestr(*changed)
            return dst

        return make

    def retitle(name: str, data: bytes) -> tuple[str, bytes]:
        if name == "record.json":
            rows = json.loads(data)
            rows["patients"][0]["pseudonym"] = "restored-new"
            return name, json.dumps(rows).encode()
        return name, data

    return {
        "damaged artifact": lambda s, d: copy_with(
            lambda n, b: (n, b + b"!") if n.startswith("artifacts/") else retitle(n, b)
        )(s, d),
        "missing artifact": lambda s, d: copy_with(
            lambda n, b: None if n.startswith("artifacts/") else retitle(n, b)
        )(s, d),
        "path traversal": lambda s, d: _with_extra(copy_with(retitle)(s, d), "../../x", b"x"),
        "no manifest": lambda s, d: copy_with(
            lambda n, b: None if n == "manifest.json" else retitle(n, b)
        )(s, d),
        "wrong format": lambda s, d: copy_with(
            lambda n, b: (n, b'{"format": "other"}') if n == "manifest.json" else retitle(n, b)
        )(s, d),
        "unknown column": lambda s, d: copy_with(
            lambda n, b: (n, _add_column(b)) if n == "record.json" else retitle(n, b)
        )(s, d),
    }


def _add_column(data: bytes) -> bytes:
    rows = json.loads(data)
    rows["patients"][0]["pseudonym"] = "restored-new"
    rows["patients"][0]["shoe_size"] = 43
    return json.dumps(rows).encode()


def _with_extra(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, data)
    return path


# ------------------------------------------------------------------------------ part 2
def _save_one(url: str, data: str, path: str, barrier: Any, out: Any) -> None:
    from spinestab.errors import AlreadyStoredError
    from spinestab.record import Actor, open_record, save_form_file
    from spinestab.settings import Settings

    record = open_record(Settings(data_dir=Path(data), database_url=url))
    barrier.wait(timeout=120)
    try:
        with record.unit_of_work() as uow:
            save_form_file(uow, Actor(username="w", role="clinician"), "P", path)
        out.put("stored")
    except AlreadyStoredError:
        out.put("already stored")
    except Exception as exc:
        out.put(f"{type(exc).__name__}")
    finally:
        record.close()


def _save_many(url: str, data: str, writer: int, count: int, barrier: Any, out: Any) -> None:
    from spinestab.record import Actor, open_record, save_form
    from spinestab.settings import Settings

    record = open_record(Settings(data_dir=Path(data), database_url=url))
    barrier.wait(timeout=120)
    stored = 0
    try:
        for i in range(count):
            day = f"20{10 + writer}-{1 + i // 28:02d}-{1 + i % 28:02d}"
            with record.unit_of_work() as uow:
                save_form(
                    uow,
                    Actor(username=f"w{writer}", role="clinician"),
                    "P",
                    {"instrument": "nrs", "date": day, "answers": {"pain": i % 11}},
                )
            stored += 1
        out.put(stored)
    except Exception as exc:
        out.put(f"{type(exc).__name__} after {stored}")
    finally:
        record.close()


def _start(url: str, data: str, barrier: Any, out: Any) -> None:
    from spinestab.record import open_record
    from spinestab.settings import Settings

    barrier.wait(timeout=120)
    try:
        open_record(Settings(data_dir=Path(data), database_url=url)).close()
        out.put("ok")
    except Exception as exc:
        out.put(type(exc).__name__)


def _processes(target: Callable, args_of: Callable[[int], tuple], n: int) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(i), barrier, out)) for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def concurrency(url: str, data: Path, writers: int, per_writer: int) -> list[str]:
    from sqlalchemy import func, select

    from spinestab.record import Actor, create_patient, open_record
    from spinestab.settings import Settings
    from spinestab.store.models import Assessment

    lines = []
    started = _processes(_start, lambda i: (url, str(data)), writers)
    lines.append(f"first start by {writers} processes: {started.count('ok')} of {writers} ok")
    settings = Settings(data_dir=data, database_url=url)
    with open_record(settings) as record, record.unit_of_work() as uow:
        create_patient(uow, Actor(username="bench", role="clinician"), "P")
    same = _processes(_save_one, lambda i: (url, str(data), str(DEMO / "odi.json")), writers)

    def stored() -> int:
        with open_record(settings) as record, record.unit_of_work() as uow:
            return uow.session.scalar(select(func.count()).select_from(Assessment))

    lines.append(
        f"one form saved by {writers} writers at once: expected 1 row, stored {stored()}; "
        f"{same.count('already stored')} told 'already stored', other outcomes "
        f"{[x for x in same if x not in ('stored', 'already stored')]}"
    )
    many = _processes(_save_many, lambda i: (url, str(data), i, per_writer), writers)
    expected = writers * per_writer + 1
    lines.append(
        f"{writers} writers x {per_writer} different forms: expected {expected} rows, stored "
        f"{stored()} (writers reported {many})"
    )
    return lines


# ------------------------------------------------------------------------------ part 3
def kills(url: str, data: Path, workdir: Path, n_kills: int, n_forms: int, seed: int) -> list[str]:
    """Kill ``record import`` of ``n_forms`` forms at ``n_kills`` moments spread over its run.

    Each kill imports into a patient of its own (``K1``, ``K2``, ...), so every kill is an
    independent run against a store that already holds the earlier ones. The moments are
    spread evenly over the measured length of one import (jittered by ``seed``), so most fall
    before the import's single commit and some after it.
    """
    from sqlalchemy import func, select, text

    from spinestab.record import Actor, create_patient, open_record
    from spinestab.settings import Settings
    from spinestab.store.artifacts import FileArtifactStore
    from spinestab.store.models import Artifact, Assessment, Patient

    folder = workdir / f"import-{n_forms}"
    folder.mkdir()
    for i in range(n_forms):
        day = f"20{10 + i // 336}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}"
        (folder / f"nrs_{i:05d}.json").write_text(
            json.dumps({"instrument": "nrs", "date": day, "answers": {"pain": i % 11}})
        )
    settings = Settings(data_dir=data, database_url=url)
    patients = [f"K{k + 1}" for k in range(n_kills + 1)]
    with open_record(settings) as record, record.unit_of_work() as uow:
        for pseudonym in patients:
            create_patient(uow, Actor(username="bench", role="clinician"), pseudonym)
    env = os.environ | {
        "SPINESTAB_DATA_DIR": str(data),
        "SPINESTAB_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path]),
    }

    def command(pseudonym: str) -> list[str]:
        cli = [sys.executable, "-c", "from spinestab.cli import main; main()"]
        return [*cli, "record", "import", pseudonym, str(folder)]

    def stored(pseudonym: str) -> int:
        with open_record(settings) as record, record.unit_of_work() as uow:
            return int(
                uow.session.scalar(
                    select(func.count())
                    .select_from(Assessment)
                    .join(Patient, Patient.id == Assessment.patient_id)
                    .where(Patient.pseudonym == pseudonym)
                )
                or 0
            )

    t0 = time.monotonic()
    subprocess.run(
        command("K"),
        env=env | {"SPINESTAB_DATA_DIR": str(workdir / "dry")},
        capture_output=True,
        timeout=1800,
    )
    full = time.monotonic() - t0  # a run against another store: how long one import takes
    rng = random.Random(seed)
    lines = [f"one import of {n_forms} forms takes {full:.1f} s (into an empty store)"]
    states: dict[str, int] = defaultdict(int)
    for k in range(n_kills):
        delay = full * (k + rng.uniform(0.2, 0.8)) / n_kills
        proc = subprocess.Popen(
            command(patients[k]), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        forms = stored(patients[k])
        with open_record(settings) as record, record.unit_of_work() as uow:
            integrity = (
                uow.session.execute(text("PRAGMA integrity_check")).scalar()
                if url.startswith("sqlite")
                else "n/a (PostgreSQL)"
            )
            named = set(uow.session.scalars(select(Artifact.sha256)))
        orphans = len(FileArtifactStore(data / "artifacts").orphans(named))
        state = "all" if forms == n_forms else "none" if forms == 0 else f"PARTIAL {forms}"
        killed = "killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}"
        states[f"{state} ({killed})"] += 1
        lines.append(
            f"kill {k + 1} after {delay:.2f} s ({killed}): forms stored: {state}; "
            f"integrity {integrity}; unreferenced artifact files {orphans}"
        )
    lines.append("states after the kills: " + ", ".join(f"{n} {s}" for s, n in states.items()))
    last = patients[n_kills]
    done = subprocess.run(command(last), env=env, capture_output=True, text=True, timeout=1800)
    lines.append(
        f"then an import run to the end (exit {done.returncode}): {stored(last)} of {n_forms}"
    )
    again = subprocess.run(command(patients[0]), env=env, capture_output=True, text=True)
    lines.append(
        f"and the first killed import run again (exit {again.returncode}): "
        f"{stored(patients[0])} of {n_forms}"
    )
    return lines


# ------------------------------------------------------------------------------ main
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks record")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--forms", type=int, default=600, help="forms in the large import")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=20)
    parser.add_argument("--postgres", help="PostgreSQL URL (its database is dropped and made)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--parts", default="campaign,concurrency,kills")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    work = Path(tempfile.mkdtemp(prefix="spinestab-record-bench-"))
    try:
        if "campaign" in parts:
            results = campaign(work / "c")
            total = sum(len(v) for v in results.values())
            clear = sum(c for v in results.values() for _, c, _, _ in v)
            nothing = sum(n for v in results.values() for _, _, n, _ in v)
            print(f"bad inputs tried: {total}; clear error: {clear}; nothing written: {nothing}")
            print(f"{'command':32} {'tried':>6} {'clear':>6} {'nothing written':>16}")
            for command, cases in results.items():
                print(
                    f"{command:32} {len(cases):6d} {sum(c for _, c, _, _ in cases):6d} "
                    f"{sum(n for _, _, n, _ in cases):16d}"
                )
            for command, cases in results.items():
                for case, c, n, message in cases:
                    if not (c and n):
                        print(f"  NOT CLEAN: {command} / {case}: clear={c} nothing={n} {message}")
        backends = [("sqlite", lambda tag: f"sqlite:///{work / tag / 'db.sqlite3'}")]
        if args.postgres:
            backends.append(("postgresql", lambda tag: _fresh_pg(args.postgres, tag)))
        for name, url_of in backends:
            if "concurrency" in parts:
                (work / f"w-{name}").mkdir(parents=True, exist_ok=True)
                print(f"-- concurrent writers ({name})")
                for line in concurrency(
                    url_of(f"w-{name}"), work / f"w-{name}" / "data", args.writers, args.per_writer
                ):
                    print("  " + line)
            if "kills" in parts:
                (work / f"k-{name}").mkdir(parents=True, exist_ok=True)
                print(f"-- SIGKILL during a large import ({name})")
                for line in kills(
                    url_of(f"k-{name}"),
                    work / f"k-{name}" / "data",
                    work / f"k-{name}",
                    args.kills,
                    args.forms,
                    args.seed,
                ):
                    print("  " + line)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _fresh_pg(server_url: str, tag: str) -> str:
    from sqlalchemy import create_engine, text

    name = "bench_record_" + "".join(ch for ch in tag if ch.isalnum()).lower()
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
