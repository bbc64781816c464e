"""``spinestab plan``, ``spinestab plan approve`` and ``spinestab progress``.

On a patient folder (as before): ``plan DIR --out O`` and ``progress PLAN SESSIONS --out O``.
On the record: ``plan --patient P [--out O]`` stores a new plan version (draft or blocked),
``plan approve P --version N`` makes a draft the active plan, and
``progress --patient P [--sessions FILE] [--out O]`` stores the next version from the
sessions logged against the current active plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from spinestab.cli._common import (
    JsonOutput,
    JurisdictionOption,
    Language,
    console,
    exit_on_bad_input,
    language_option,
    patient_option,
    print_json,
    print_note,
    rules_option,
)
from spinestab.errors import InputError

__all__ = ["register"]


class _PlanGroup(TyperGroup):
    """``plan`` runs ``plan make`` unless the first word names a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


plan_app = typer.Typer(
    cls=_PlanGroup,
    help="Profile, triage and plan: on a patient folder (DIR --out O) or on the record "
    "(--patient P); 'plan approve' makes a draft the active plan.",
    no_args_is_help=True,
)


def _write(out: Path, documents: dict[str, str]) -> None:
    from spinestab.cli.demo import write_plan_files

    write_plan_files(out, documents)


def _made_json(pseudonym: str, made: Any, out: Path | None) -> dict[str, Any]:
    """Return the summary ``--json`` prints for a plan version made in the record."""
    plan = made.plan
    return {
        "patient": pseudonym,
        "version": plan.version,
        "status": plan.status,
        "track": plan.track,
        "previous_version": plan.previous_version,
        "superseded_drafts": list(made.superseded_drafts),
        "files": [str(out / name) for name in sorted(made.documents)] if out is not None else [],
        "inputs": made.inputs,
    }


def _made(pseudonym: str, made: Any, out: Path | None) -> None:
    plan = made.plan
    colour = "bold red" if plan.status == "blocked" else "bold"
    text = (
        f"{escape(pseudonym)}: plan version {plan.version} [{colour}]{plan.status}[/] "
        f"(track {plan.track})"
    )
    if plan.status == "blocked":
        text += ": a red flag is open; no exercise plan (see the actions)"
    elif made.superseded_drafts:
        text += f"; earlier draft(s) {made.superseded_drafts} superseded"
    if plan.status == "draft":
        text += f"; a clinician approves it: spinestab plan approve {escape(pseudonym)} " + (
            f"--version {plan.version} --by NAME"
        )
    if out is not None:
        text += f" -> {escape(str(out))}"
    console.print(text, highlight=False, soft_wrap=True)


@plan_app.command("make")
def plan_command(
    patient_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Patient folder: questionnaire files, "
            "optional muscle_quality.csv, "
            "instability.json, daily.csv, history.json."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (required with a patient folder)."),
    ] = None,
    patient: Annotated[
        str | None,
        patient_option("Make the plan from this patient's record and store it as a new version."),
    ] = None,
    lang: Annotated[Language | None, language_option("Handout language")] = None,
    jurisdiction: JurisdictionOption = None,
    rules: Annotated[
        Path | None, rules_option("YAML file overriding care rules (thresholds) of rules.yaml.")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write profile.json, triage.json, plan.json and handout.html for one patient.

    With --patient: from the record, stored as a new plan version (draft, or blocked while
    a red flag is open); --out also writes the files.

    --json prints the summary as JSON: patient, track, status, language, files (with
    --patient: patient, version, status, track, superseded_drafts, files).
    """
    with exit_on_bad_input():
        if patient is not None:
            if patient_dir is not None:
                raise InputError(
                    "give a patient folder or --patient, not both",
                    item="--patient",
                    expected="spinestab plan DIR --out O, or spinestab plan --patient P",
                )
            from spinestab.cli.record import cli_actor, opened_record
            from spinestab.record import make_plan

            with opened_record() as record, record.unit_of_work() as uow:
                made = make_plan(
                    uow,
                    cli_actor(),
                    patient,
                    language=lang,
                    jurisdiction=jurisdiction,
                    rules_path=rules,
                )
                if out is not None:
                    _write(out, made.documents)
            if as_json:
                print_json(_made_json(patient, made, out))
                return
            _made(patient, made, out)
            return
        if patient_dir is None:
            raise InputError(
                "no patient given",
                expected="a patient folder (spinestab plan DIR --out O) or --patient P",
            )
        if out is None:
            raise InputError("--out is required with a patient folder", item="--out")
        from spinestab.care.pipeline import run_plan

        result = run_plan(
            patient_dir, out, language=lang, jurisdiction=jurisdiction, rules_path=rules
        )
        if as_json:
            print_json(result)
            return
        console.print(
            f"{escape(str(result['patient']))}: track [bold]{result['track']}[/], plan "
            f"{result['status']} ({result['language']}, {result['jurisdiction']}) "
            f"-> {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )


def approving_clinician(by: str | None) -> Any:
    """Return the clinician who approves a plan: ``--by``, else the setting ``SPINESTAB_USER``.

    An approval names a person: without either (the settings' default user ``cli`` is a
    program, not a person) or with a blank name it is refused with an :class:`InputError`.
    """
    from spinestab.record import Actor
    from spinestab.settings import get_settings

    settings = get_settings()
    name = by if by is not None else settings.user if "user" in settings.model_fields_set else ""
    name = name.strip()
    if not name or len(name) > 128:
        raise InputError(
            "an approval names the clinician who approves; nothing was stored",
            item="--by" if by is not None else "approver",
            value=name or None,
            expected="--by NAME (1-128 characters) or the setting SPINESTAB_USER=NAME",
        )
    return Actor(username=name, role="clinician")


@plan_app.command("approve")
def approve_command(
    pseudonym: Annotated[str, typer.Argument(help="Pseudonymous patient id.")],
    version: Annotated[int, typer.Option("--version", help="The draft version to approve.")],
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="NAME",
            help="The clinician who approves (default: the setting SPINESTAB_USER; "
            "without either the approval is refused).",
        ),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Approve a draft plan version: it becomes the active plan.

    The approver is recorded: ``--by NAME``, else ``SPINESTAB_USER``; without either the
    approval is refused (exit 2, nothing stored). --json prints the plan version approved
    (without its plan.json document).
    """
    from spinestab.cli.record import opened_record
    from spinestab.record import approve_plan

    with exit_on_bad_input():
        approver = approving_clinician(by)
        with opened_record() as record, record.unit_of_work() as uow:
            plan = approve_plan(uow, approver, pseudonym, version=version)
    if as_json:
        print_json(plan.model_dump(mode="json", exclude={"plan"}))
        return
    console.print(
        f"{escape(pseudonym)}: plan version {plan.version} is the active plan "
        f"(track {plan.track}), approved by {escape(plan.approved_by or '?')} "
        f"at {plan.approved_at:%Y-%m-%d %H:%M} UTC",
        highlight=False,
        soft_wrap=True,
    )


def progress_command(
    plan: Annotated[
        Path | None, typer.Argument(help="The current plan.json (folder mode).")
    ] = None,
    sessions: Annotated[
        Path | None, typer.Argument(help="Session logs, CSV or JSON (folder mode).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (required in folder mode)."),
    ] = None,
    patient: Annotated[
        str | None,
        patient_option(
            "Progress this patient's current active plan in the record "
            "(from the sessions stored against it)."
        ),
    ] = None,
    sessions_file: Annotated[
        Path | None,
        typer.Option(
            "--sessions", help="With --patient: session logs to store first (CSV or JSON)."
        ),
    ] = None,
    lang: Annotated[Language | None, language_option("Handout language")] = None,
    forms: Annotated[
        Path | None,
        typer.Option(
            "--forms", help="Folder of follow-up questionnaires for the 6/12-week review."
        ),
    ] = None,
    rules: Annotated[Path | None, rules_option("Care rule overrides (YAML).")] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write the next plan version (plan.json, plan_vN.json, progress.json, handout.html).

    With --patient: the next version of the current active plan in the record, stored as
    a draft for a clinician to approve; any other plan (blocked, draft, superseded) is
    refused.

    --json prints the summary as JSON: patient, version, decisions, review, files (with
    --patient: patient, version, status, track, decisions, sessions stored, files).
    """
    with exit_on_bad_input():
        if patient is not None:
            if plan is not None or sessions is not None:
                raise InputError(
                    "give PLAN SESSIONS or --patient, not both",
                    item="--patient",
                    expected="spinestab progress --patient P [--sessions FILE]",
                )
            if forms is not None:
                raise InputError(
                    "--forms is for folder mode",
                    item="--forms",
                    expected="follow-up forms imported into the record (spinestab record import)",
                )
            _progress_record(
                patient, sessions_file, out, language=lang, rules=rules, as_json=as_json
            )
            return
        if sessions_file is not None:
            raise InputError("--sessions needs --patient", item="--sessions")
        if plan is None or sessions is None:
            raise InputError(
                "no plan given",
                expected="PLAN SESSIONS --out O (folder mode) or --patient P (record)",
            )
        if out is None:
            raise InputError("--out is required in folder mode", item="--out")
        from spinestab.care.pipeline import run_progress

        result = run_progress(plan, sessions, out, language=lang, forms_dir=forms, rules_path=rules)
        if as_json:
            print_json(result)
            return
        if result.get("status") == "blocked":
            console.print(
                f"{escape(str(result['patient']))}: plan version {result['version']} BLOCKED: "
                "the follow-up red-flag screen is positive; no exercise plan "
                f"(see plan.json actions) -> {escape(str(out))}",
                highlight=False,
                soft_wrap=True,
            )
            return
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(result["decisions"].items()))
        console.print(
            f"{escape(str(result['patient']))}: plan version {result['version']} ({decisions}); "
            f"review {result['review'] or 'not due'} -> {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )


def _progress_record(
    patient: str,
    sessions_file: Path | None,
    out: Path | None,
    *,
    language: str | None,
    rules: Path | None,
    as_json: bool,
) -> None:
    from spinestab.cli.record import cli_actor, opened_record
    from spinestab.errors import AlreadyStoredError
    from spinestab.record import progress_plan, save_sessions_file

    actor = cli_actor()
    stored: dict[str, Any] | None = None
    with opened_record() as record, record.unit_of_work() as uow:
        if sessions_file is not None:
            try:
                saved = save_sessions_file(uow, actor, patient, sessions_file)
                stored = saved.model_dump(mode="json")
                print_note(
                    f"stored {saved.stored} session row(s) against plan version "
                    f"{saved.plan_version}"
                    + (f" ({saved.already_stored} already stored)" if saved.already_stored else ""),
                    as_json=as_json,
                )
            except AlreadyStoredError:
                stored = {"stored": 0, "already_stored": "all"}
                print_note("the session rows are already stored", as_json=as_json)
        made = progress_plan(uow, actor, patient, language=language, rules_path=rules)
        if out is not None:
            _write(out, made.documents)
    decisions: dict[str, int] = {}
    for d in (made.plan.plan or {}).get("decisions", ()):
        decisions[d["decision"]] = decisions.get(d["decision"], 0) + 1
    if as_json:
        print_json(_made_json(patient, made, out) | {"decisions": decisions, "sessions": stored})
        return
    shown = ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())) or "no decisions"
    console.print(f"{escape(patient)}: ({shown})", highlight=False)
    _made(patient, made, out)


def register(app: typer.Typer) -> None:
    """Add ``plan`` (with ``plan approve``) and ``progress`` to the CLI."""
    app.add_typer(plan_app, name="plan")
    app.command("progress")(progress_command)
