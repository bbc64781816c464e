"""``spinestab demo``: the main job on the embedded default (SQLite, bundled demo data)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from spinestab.cli._common import console, exit_on_bad_input

__all__ = ["PROFILE_PARTS", "register"]

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


def _demo_files() -> list[Path]:
    folder = resources.files("spinestab").joinpath("data/demo")
    return sorted(
        Path(str(p))
        for p in folder.iterdir()
        if p.name.endswith((".json", ".yaml")) and p.name != "patient.json"
    )


def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the demo patients' profiles, plans and handouts "
            "(default: DATA_DIR/demo)."
        ),
    ] = None,
) -> None:
    """Run the demo: store a demo patient, score it, then the whole chain for 4 demo patients.

    The four bundled demo patients (red flag, structural, functional high risk, low risk)
    go through profile -> triage -> plan -> handout (and progression where session logs
    exist).
    """
    from spinestab.cli.score import score_table
    from spinestab.clinical import load_form, score_form
    from spinestab.settings import get_settings
    from spinestab.store import add_assessments, add_patient, get_patient, store_session

    settings = get_settings()
    info = json.loads(
        resources.files("spinestab").joinpath("data/demo/patient.json").read_text(encoding="utf-8")
    )
    with exit_on_bad_input():
        scored = [(form, score_form(form)) for form in map(load_form, _demo_files())]
        with store_session(settings) as session:
            if get_patient(session, info["pseudonym"]) is None:
                add_patient(
                    session,
                    info["pseudonym"],
                    sex=info["sex"],
                    birth_year=info["birth_year"],
                    actor="demo",
                )
                add_assessments(session, info["pseudonym"], scored, actor="demo")
                state = "created"
            else:
                state = "already in the store"
    console.print(
        Panel.fit(
            f"Demo patient [bold]{info['pseudonym']}[/] {state}\n"
            f"store: {settings.resolved_database_url()}\n"
            "spinestab supports decisions; it does not diagnose.",
            title="spinestab demo",
        )
    )
    for form, score in scored:
        console.print(score_table(score.to_dict(), title=f"{form.instrument}  {form.date}"))
    flags = next(score for form, score in scored if form.instrument == "redflags")
    if any(a.blocks_exercise for a in flags.actions):
        console.print("[bold red]Red flag open: no exercise plan until it is resolved.[/]")
    else:
        console.print("[green]No red flag blocks an exercise plan.[/]")
    console.print("\n[bold]Still missing for a full stability profile:[/]")
    for part, (command, limits) in PROFILE_PARTS.items():
        if part != "questionnaires":
            console.print(f"  - {part}: run `{command}`; without it {limits}")
    with exit_on_bad_input():
        _run_care_chain(out or settings.data_dir / "demo")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""
    app.command("demo")(demo)


def _run_care_chain(out_dir: Path) -> None:
    """Run profile -> triage -> plan (-> progress) for the bundled demo patients."""
    from spinestab.care import run_demo

    console.print(f"\n[bold]Whole chain for the demo patients[/] -> {out_dir}")
    results = run_demo(out_dir)
    table = Table("patient", "track", "exercise plan")
    for result in results:
        table.add_row(
            result["patient"],
            str(result["track"]),
            "yes" if result["plan_allowed"] else "[bold red]blocked: red flag[/]",
        )
    console.print(table)
    console.print(
        f"Profiles, triage, plans and printable handouts: {out_dir}/<patient>/"
        "{profile,triage,plan}.json and handout.html",
        highlight=False,
        soft_wrap=True,
    )
