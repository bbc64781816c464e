"""``spinestab plan`` and ``spinestab progress``: triage, plan and progression on files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spinestab.cli._common import console, exit_on_bad_input

__all__ = ["register"]


def plan_command(
    patient_dir: Annotated[
        Path,
        typer.Argument(
            help="Patient folder: questionnaire files, "
            "optional muscle_quality.csv, "
            "instability.json, daily.csv, history.json."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Handout language: en or de (default: SPINESTAB_LANGUAGE)."),
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(
            "--jurisdiction",
            help="Guideline set where guidelines disagree: NICE or ACP "
            "(default: SPINESTAB_JURISDICTION).",
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="YAML file overriding care rules (thresholds) of rules.yaml."),
    ] = None,
) -> None:
    """Write profile.json, triage.json, plan.json and handout.html for one patient."""
    with exit_on_bad_input():
        from spinestab.care.pipeline import run_plan

        result = run_plan(
            patient_dir, out, language=lang, jurisdiction=jurisdiction, rules_path=rules
        )
        console.print(
            f"{result['patient']}: track [bold]{result['track']}[/], plan "
            f"{result['status']} ({result['language']}, {result['jurisdiction']}) "
            f"-> {out}",
            highlight=False,
            soft_wrap=True,
        )


def progress_command(
    plan: Annotated[Path, typer.Argument(help="The current plan.json.")],
    sessions: Annotated[Path, typer.Argument(help="Session logs, CSV or JSON.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    lang: Annotated[str | None, typer.Option("--lang", help="Handout language: en or de.")] = None,
    forms: Annotated[
        Path | None,
        typer.Option(
            "--forms", help="Folder of follow-up questionnaires for the 6/12-week review."
        ),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Care rule overrides (YAML).")
    ] = None,
) -> None:
    """Write the next plan version (plan.json, plan_vN.json, progress.json, handout.html)."""
    with exit_on_bad_input():
        from spinestab.care.pipeline import run_progress

        result = run_progress(plan, sessions, out, language=lang, forms_dir=forms, rules_path=rules)
        if result.get("status") == "blocked":
            console.print(
                f"{result['patient']}: plan version {result['version']} BLOCKED: the follow-up "
                f"red-flag screen is positive; no exercise plan (see plan.json actions) -> {out}",
                highlight=False,
                soft_wrap=True,
            )
            return
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(result["decisions"].items()))
        console.print(
            f"{result['patient']}: plan version {result['version']} ({decisions}); "
            f"review {result['review'] or 'not due'} -> {out}",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``progress`` to the CLI."""
    app.command("plan")(plan_command)
    app.command("progress")(progress_command)
