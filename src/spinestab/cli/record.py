"""``spinestab record import/show/retract/export/restore``: the patient record."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from spinestab.cli._common import JsonOutput, console, err_console, exit_on_bad_input, print_json

__all__ = [
    "cli_actor",
    "opened_record",
    "patient_output",
    "register",
    "save_result",
]

record_app = typer.Typer(
    help="The patient record: import files, show the timeline, export and restore.",
    no_args_is_help=True,
)


def cli_actor() -> Any:
    """Return the actor of a command-line run: ``SPINESTAB_USER`` as a clinician."""
    from spinestab.record import Actor
    from spinestab.settings import get_settings

    return Actor(username=get_settings().user, role="clinician")


@contextlib.contextmanager
def opened_record() -> Iterator[Any]:
    """Open the record from the settings; close its connections afterwards."""
    from spinestab.record import open_record

    record = open_record()
    try:
        yield record
    finally:
        record.close()


@contextlib.contextmanager
def patient_output(out: Path | None, patient: str | None) -> Iterator[Path]:
    """Give the folder an analysis writes into: ``--out``, or a temporary one.

    With ``--patient`` alone the outputs go to a temporary folder that is saved into the
    record and then removed. The patient is checked before any work (unknown patient,
    not allowed: a clear error, nothing computed).
    """
    import tempfile

    from spinestab.errors import InputError

    if out is None and patient is None:
        raise InputError(
            "no output given",
            item="--out",
            expected="--out FOLDER, or --patient P to save the result into the record",
        )
    if patient is not None:
        from spinestab.record import get_patient

        with opened_record() as record, record.unit_of_work() as uow:
            get_patient(uow, cli_actor(), patient)
    if out is not None:
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="spinestab-result-") as tmp:
        yield Path(tmp) / "result"


def _jsonable(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def save_result(
    kind: str,
    pseudonym: str,
    folder: Path,
    *,
    inputs: dict[str, Path | None],
    options: Any,
) -> str:
    """Save an analysis' output folder into the patient's record; say what was stored.

    ``kind``: ``imaging`` (``spinestab mri``), ``instability``, ``morphometry`` or
    ``wearable``.
    """
    from spinestab.errors import AlreadyStoredError
    from spinestab.record import (
        save_imaging_folder,
        save_instability_folder,
        save_morphometry_folder,
        save_wearable_folder,
    )

    savers: dict[str, Any] = {
        "imaging": save_imaging_folder,
        "instability": save_instability_folder,
        "morphometry": save_morphometry_folder,
        "wearable": save_wearable_folder,
    }
    given = {role: path for role, path in inputs.items() if path is not None}
    extra: dict[str, Any] = {}
    if kind == "instability":  # landmark files per view: kept in the landmark JSON schema too
        extra["landmarks"] = {
            role.removeprefix("landmarks_"): given.pop(role)
            for role in list(given)
            if role.startswith("landmarks_")
        }
    try:
        with opened_record() as record, record.unit_of_work() as uow:
            result = savers[kind](
                uow,
                cli_actor(),
                pseudonym,
                folder,
                inputs=given,
                options=_jsonable(options),
                **extra,
            )
    except AlreadyStoredError as exc:
        return f"not stored again: {exc.message}"
    return f"saved into the record of {escape(pseudonym)}: " + _describe(kind, result)


def _describe(kind: str, result: Any) -> str:
    if kind == "form":
        a = result.assessment
        score = a.score.get("score")
        text = f"{a.instrument} {a.date}: score {score if score is not None else '-'}"
        if a.score.get("complete") is False:  # e.g. a red-flag screen with items unanswered
            text += f", INCOMPLETE ({len(a.score.get('missing') or ())} unanswered)"
        if result.retracted:
            text = f"retracted {a.instrument} {a.date} (assessment {a.id})"
        if result.blocked_plans:
            text += f"; plan version(s) {result.blocked_plans} BLOCKED"
        return text
    if kind == "history":
        return f"history version {result.version}"
    if kind == "sessions":
        return (
            f"{result.stored} session row(s) against plan version {result.plan_version}"
            + (f", {result.already_stored} already stored" if result.already_stored else "")
            + (f", {result.outcomes_stored} outcome(s)" if result.outcomes_stored else "")
        )
    if kind == "imaging":
        return f"imaging study {result.id}: {len(result.rows)} row(s)"
    if kind == "instability":
        return f"instability study {result.id}: {len(result.levels)} level(s)"
    if kind == "wearable":
        return f"wearable recording {result.id}: {len(result.days)} day(s)"
    if kind == "morphometry":
        graded = [v for v in result.vertebrae if v["genant_grade"]]
        text = f"morphometry study {result.id}: {len(result.vertebrae)} vertebra(e)"
        text += "".join(
            f"; {v['level']} grade {v['genant_grade']} {v['deformity']}" for v in graded
        )
        if result.blocked_plans:
            text += f"; plan version(s) {result.blocked_plans} BLOCKED"
        return text
    return str(result)


@record_app.command("import")
def import_command(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Files or patient folders: history.json, questionnaires (JSON/YAML/FHIR), "
            "session logs, muscle_quality.csv, instability.json, morphometry.json, daily.csv."
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Import files into a patient's record (one transaction: all or nothing).

    Each file is validated as the command that reads it does today. A file already
    stored is skipped and said so; any other error stores nothing (exit code 2). Session
    logs found in a folder while the patient has no active plan yet are skipped and said
    so (import them after 'spinestab plan approve'); a session-log file named on its own
    is an error then.

    --json prints one object per file: file, kind, stored (what was stored, or why not).
    """
    from spinestab.errors import AlreadyStoredError, ConflictError, InputError
    from spinestab.record.imports import expand_paths, import_file

    actor = cli_actor()
    done: list[tuple[str, str, str]] = []
    named = {Path(f) for f in files if not Path(f).is_dir()}
    with exit_on_bad_input():
        found = expand_paths(files)
        if not found:
            raise InputError("no files to import", value=[str(f) for f in files])
        try:
            with opened_record() as record, record.unit_of_work() as uow:
                for kind, path in found:
                    try:
                        result = import_file(uow, actor, pseudonym, path, kind)
                    except AlreadyStoredError as exc:
                        done.append((str(path), kind, f"skipped: {exc.message}"))
                        continue
                    except ConflictError as exc:
                        if kind != "sessions" or path in named or exc.item != "plan":
                            raise
                        done.append(
                            (
                                str(path),
                                kind,
                                f"skipped: {exc.message} (import it after "
                                "'spinestab plan approve')",
                            )
                        )
                        continue
                    done.append((str(path), kind, _describe(kind, result)))
        except InputError:
            err_console.print("nothing was imported", style="red")
            raise
    if as_json:
        print_json([{"file": name, "kind": kind, "stored": what} for name, kind, what in done])
        return
    table = Table(title=f"record of {escape(pseudonym)}")
    table.add_column("file", overflow="fold")  # a long path wraps, never cut to "…"
    table.add_column("kind")
    table.add_column("stored")
    for name, kind, what in done:
        table.add_row(escape(name), kind, escape(what))
    console.print(table)


@record_app.command("show")
def show_command(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    as_json: JsonOutput = False,
) -> None:
    """Show a patient's record: open red flags first, then the timeline.

    --json prints the whole timeline (patient, open red flags, forms, history, results,
    plans, sessions).
    """
    from spinestab.record import show_record

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        timeline = show_record(uow, cli_actor(), pseudonym)
    data = timeline.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    _print_timeline(data)


def _print_timeline(data: dict[str, Any]) -> None:
    p = data["patient"]
    console.print(
        f"[bold]{escape(p['pseudonym'])}[/]  sex: {escape(p['sex'] or '?')}  "
        f"born: {p['birth_year'] or '?'}  episode {p['episode']}",
        highlight=False,
    )
    for flag in data["open_red_flags"]:
        colour = "bold red" if flag["blocking"] else "yellow"
        console.print(
            f"[{colour}]RED FLAG {flag['urgency'].upper()}[/] {escape(flag['label'])}: "
            f"{escape(flag['action'])}",
            highlight=False,
            soft_wrap=True,
        )
    if not data["open_red_flags"]:
        console.print("[green]no open red flag[/]")
    table = Table("date", "what", "detail", title="timeline", title_justify="left")
    events: list[tuple[str, str, str]] = []
    for a in data["assessments"]:
        score = a["score"].get("score")
        extra = a["score"].get("risk") or a["score"].get("band") or ""
        state = "" if a["status"] == "stored" else f" ({a['status']})"
        events.append((a["date"], f"{a['instrument']}{state}", f"score {score} {extra}".strip()))
    if data["history"]:
        h = data["history"]
        events.append(
            (
                str(h["recorded_on"]),
                "history",
                f"version {h['version']} of {data['history_versions']}",
            )
        )
    for s in data["imaging"]:
        events.append((s["created_at"][:10], "imaging", f"study {s['id']}, {len(s['rows'])} rows"))
    for s in data["instability"]:
        verdicts = ", ".join(
            f"{lv.get('level')} "
            + str(lv.get("verdict_reported") or lv.get("verdict") or "no verdict").replace("_", " ")
            for lv in s["levels"]
        )
        events.append((s["created_at"][:10], "instability", verdicts))
    for s in data["morphometry"]:
        grades = ", ".join(
            f"{v['level']} grade {v['genant_grade']} {v['deformity']}"
            for v in s["vertebrae"]
            if v["genant_grade"]
        )
        detail = grades or f"{len(s['vertebrae'])} vertebra(e), no deformity"
        events.append((s["created_at"][:10], "morphometry", detail))
    for s in data["wearable"]:
        events.append(
            (str(s["first_date"]), "wearable", f"{len(s['days'])} day(s), {s['prompts']} prompts")
        )
    for plan in data["plans"]:
        who = f", approved by {plan['approved_by']}" if plan["approved_by"] else ""
        events.append(
            (
                plan["created_at"][:10],
                f"plan v{plan['version']}",
                f"{plan['status']} {plan['track']}{who}",
            )
        )
    if data["sessions"]:
        dates = sorted(s["date"] for s in data["sessions"])
        events.append((dates[-1], "sessions", f"{len(dates)} row(s) from {dates[0]}"))
    for date, what, detail in sorted(events, key=lambda e: e[0]):
        table.add_row(date, escape(what), escape(detail))
    console.print(table)


@record_app.command("retract")
def retract_command(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    assessment: Annotated[int, typer.Argument(help="The assessment id (record show --json).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is retracted.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Retract a stored questionnaire entered in error (kept, never scored again).

    --json prints the retracted form and the plan versions blocked by it.
    """
    from spinestab.record import retract_assessment

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        result = retract_assessment(uow, cli_actor(), pseudonym, assessment, reason=reason)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    a = result.assessment
    console.print(f"retracted assessment {a.id} ({a.instrument} {a.date})", highlight=False)


@record_app.command("export")
def export_command(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    out: Annotated[Path, typer.Option("--out", help="The archive to write (a new .zip file).")],
    as_json: JsonOutput = False,
) -> None:
    """Export a patient's whole record and its files to one archive (mode 0600).

    --json prints path, pseudonym, rows (per table), artifacts and bytes.
    """
    from spinestab.record.archive import export_record

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        result = export_record(uow, cli_actor(), pseudonym, out)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    rows = sum(result.rows.values())
    console.print(
        f"exported {escape(pseudonym)}: {rows} row(s), {result.artifacts} file(s), "
        f"{result.bytes} bytes -> {escape(result.path)}",
        highlight=False,
        soft_wrap=True,
    )


@record_app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="An archive of 'spinestab record export'.")],
    as_json: JsonOutput = False,
) -> None:
    """Restore a patient's record from an archive (into a store without that patient).

    --json prints pseudonym, rows (per table) and artifacts.
    """
    from spinestab.record.archive import restore_record

    with exit_on_bad_input(), opened_record() as record, record.unit_of_work() as uow:
        result = restore_record(uow, cli_actor(), archive)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"restored {escape(result.pseudonym)}: {sum(result.rows.values())} row(s), "
        f"{result.artifacts} file(s)",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``record`` group to the app."""
    app.add_typer(record_app, name="record")
