"""``spinestab demo``: the main job on the record (embedded SQLite, bundled demo data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from spinestab.cli._common import console, exit_on_bad_input

__all__ = ["PLAN_FILES", "PROFILE_PARTS", "register", "write_plan_files"]

#: The parts of a full stability profile, the command that makes each, and what its
#: absence limits (DESIGN.md, data flow).
PROFILE_PARTS = {
    "questionnaires": ("spinestab score", "clinical state, risk group and red flags"),
    "muscle_quality": (
        "spinestab mri",
        "multifidus fatty infiltration cannot adjust emphasis and dose (CLINICAL_LOGIC.md §5.9)",
    ),
    "instability": (
        "spinestab instability",
        "no structural screen: triage cannot consider "
        "S1/S2 structural tracks (CLINICAL_LOGIC.md §8 step 3)",
    ),
    "movement": (
        "spinestab wearable",
        "no movement-break goal from the patient's own static bouts (CLINICAL_LOGIC.md §5.7)",
    ),
}

#: The files a plan version is written as (those of an earlier run are replaced).
PLAN_FILES = (
    "profile.json",
    "triage.json",
    "plan.json",
    "plan_v*.json",
    "progress.json",
    "handout.html",
)


def write_plan_files(out: Path, files: dict[str, str]) -> None:
    """Write a plan version's files into ``out`` atomically (``plan.json`` last)."""
    from spinestab.core.outdir import atomic_out_dir

    with atomic_out_dir(out, owned=PLAN_FILES, manifest="plan.json") as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")


def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the demo patients' profiles, plans and handouts "
            "(default: DATA_DIR/demo)."
        ),
    ] = None,
) -> None:
    """Run the demo on the record: seed the demo patients, show their scores and plans.

    The bundled patients go into the record (once): demo-001 with six questionnaires, and
    four demo patients (red flag, structural, functional high risk, low risk) whose files
    are imported, whose plan is made from the record and approved by the demo clinician,
    and whose sessions move the plan on. Their plan files are written to OUT/<patient>/.
    """
    from spinestab.cli.record import opened_record
    from spinestab.cli.score import score_table
    from spinestab.record import plan_files, show_record
    from spinestab.record.demo import DEMO_CLINICIAN, demo_summary, seed_demo
    from spinestab.settings import get_settings

    settings = get_settings()
    out_dir = out or settings.data_dir / "demo"
    with exit_on_bad_input(), opened_record() as record:
        seeded = seed_demo(record)
        with record.unit_of_work() as uow:
            first = show_record(uow, DEMO_CLINICIAN, seeded[0].pseudonym)
        rows = demo_summary(record)
        for row in rows:
            with record.unit_of_work() as uow:
                versions = [
                    p.version for p in show_record(uow, DEMO_CLINICIAN, row["patient"]).plans
                ]
                files = plan_files(uow, DEMO_CLINICIAN, row["patient"], version=row["version"])
                newer = [v for v in versions if v > row["version"]]
                later = (
                    plan_files(uow, DEMO_CLINICIAN, row["patient"], version=newer[-1])
                    if newer
                    else None
                )
            write_plan_files(out_dir / row["patient"], files)
            if later is not None:
                write_plan_files(out_dir / row["patient"] / "progress", later)
    state = "created" if seeded[0].created else "already in the record"
    console.print(
        Panel.fit(
            f"Demo patient [bold]{escape(first.patient.pseudonym)}[/] {state}\n"
            f"record: {escape(settings.resolved_database_url())}\n"
            "spinestab supports decisions; it does not diagnose.",
            title="spinestab demo",
        )
    )
    for assessment in first.assessments:
        console.print(
            score_table(assessment.score, title=f"{assessment.instrument}  {assessment.date}")
        )
    if any(flag.blocking for flag in first.open_red_flags):
        console.print("[bold red]Red flag open: no exercise plan until it is resolved.[/]")
    else:
        console.print("[green]No red flag blocks an exercise plan.[/]")
    console.print("\n[bold]Still missing for a full stability profile:[/]")
    for part, (command, limits) in PROFILE_PARTS.items():
        if part != "questionnaires":
            console.print(f"  - {part}: run `{command}`; without it {limits}")
    console.print(f"\n[bold]Demo patients in the record[/] (plan files -> {escape(str(out_dir))})")
    table = Table("patient", "track", "plan in force")
    for row in rows:
        status = row["status"] or "-"
        shown = "[bold red]blocked: red flag[/]" if status == "blocked" else status
        table.add_row(row["patient"], str(row["track"]), f"v{row['version']} {shown}")
    console.print(table)
    console.print(
        "Timelines: spinestab record show PATIENT; plan files: "
        f"{escape(str(out_dir))}/<patient>/{{profile,triage,plan}}.json and handout.html",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""
    app.command("demo")(demo)
