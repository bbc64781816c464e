"""``spinestab cohort``: whole studies on Dask (run), reference bands, response model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from spinestab.cli._common import (
    JsonOutput,
    console,
    err_console,
    exit_on_bad_input,
    print_json,
)

__all__ = ["EXIT_TASKS_FAILED", "register"]

#: Exit code of ``spinestab cohort run`` when the run finished but some tasks failed.
EXIT_TASKS_FAILED = 3
#: Default age-band edges of ``spinestab cohort references`` (years, 10-year bands).
_AGE_BAND_EDGES = ",".join(str(edge) for edge in range(0, 121, 10))

cohort_app = typer.Typer(
    name="cohort",
    help="Many subjects at once on Dask: tables, failures, reference bands, response model.",
    no_args_is_help=True,
)


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Tasks per second (over Rich's recent-speed window)."""

        def render(self, task: Any) -> Text:
            speed = task.speed
            if speed is None:
                return Text("-- tasks/s", style="progress.data.speed")
            return Text(f"{speed:.2f} tasks/s", style="progress.data.speed")

    return RateColumn()


def _parse_kind_options(given: list[str], base_dir: Path) -> dict[str, Any]:
    from spinestab.cohort.options import KINDS, parse_options
    from spinestab.errors import InputError

    out = {}
    for item in given:
        kind, eq, text = item.partition("=")
        kind = kind.strip().lower()
        if not eq or kind not in KINDS:
            raise InputError(
                "options must name their kind",
                item="--options",
                value=item,
                expected="KIND=OPTIONS with KIND one of " + ", ".join(KINDS),
            )
        out[kind] = parse_options(kind, text, base_dir=base_dir, source=f"--options {kind}")
        if kind == "mri":  # checked once here rather than failing every MRI task
            from spinestab.cohort.dataset import check_mri_settings

            problem = check_mri_settings(out[kind].settings)
            if problem:
                raise InputError(f"--options mri: {problem}")
    return out


def run_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A BIDS-like folder (sub-<id>/...) or a manifest CSV (subject, kind, path, "
            "options).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run folder.", show_default=False)],
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes of the local cluster (default: cores)."),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit", help="Memory limit per worker, e.g. 4GiB (auto: shared out)."
        ),
    ] = "auto",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="A running Dask scheduler, e.g. tcp://host:8786."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run in --out: skip tasks done, unchanged."),
    ] = False,
    options: Annotated[
        list[str] | None,
        typer.Option(
            "--options",
            help="Options for every task of a kind, as its command takes them, e.g. "
            "'wearable=--units g --utc-offset-h 1' (repeat per kind).",
        ),
    ] = None,
    participants: Annotated[
        Path | None,
        typer.Option("--participants", help="participants.tsv (default: the dataset's)."),
    ] = None,
    dashboard: Annotated[
        str | None,
        typer.Option("--dashboard", help="Serve the Dask dashboard of the local cluster here."),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Run a cohort: one Dask task per subject, session and kind.

    Writes the Parquet tables OUT/daily/, scores/, profiles/, muscle_quality/, per_level/.

    Writes OUT/manifest.jsonl (one line per task) and OUT/failed.csv.

    Exit code 0 when every task is done, 3 when some failed (see failed.csv), 2 on bad input.

    --json prints the summary (out, total, done, failed, skipped, seconds, worker_threads,
    profiles, failures; the progress bar on stderr).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from spinestab.cohort import discover, run_cohort
    from spinestab.core.outdir import check_out_dir
    from spinestab.core.validation import check_range
    from spinestab.errors import InputError

    shown = err_console if as_json else console  # stdout holds the JSON alone
    with exit_on_bad_input():
        if workers is not None:
            check_range("--workers", workers, 1, message="at least one worker")
        check_out_dir(out)
        if workers is not None and scheduler:
            raise InputError(
                "--workers sizes the local cluster; a scheduler brings its own workers",
                item="--workers",
                expected="--workers or --scheduler",
            )
        base = dataset.resolve() if dataset.is_dir() else dataset.resolve().parent
        kind_options = _parse_kind_options(options or [], base)
        tasks, people = discover(dataset, options=kind_options, participants=participants)
        shown.print(f"{len(tasks)} task(s) of {len(people)} subject(s) in {dataset}")
        with Progress(
            TextColumn("[bold]cohort[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/]"),
            _rate_column(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=shown,
            transient=False,
        ) as bar:
            bar_task = None

            def progress(counts: Any) -> None:
                nonlocal bar_task
                if bar_task is None:  # the skipped tasks are there from the start
                    bar_task = bar.add_task(
                        "cohort", total=counts.total, completed=counts.skipped, failed=0
                    )
                bar.update(bar_task, completed=counts.finished, failed=counts.failed)

            summary = run_cohort(
                tasks,
                out,
                participants=people,
                workers=workers,
                memory_limit=memory_limit,
                scheduler=scheduler,
                resume=resume,
                dashboard=dashboard,
                progress=progress,
            )
    c = summary.counts
    if as_json:
        print_json(
            {
                "out": str(summary.out_dir),
                "total": c.total,
                "done": c.done,
                "failed": c.failed,
                "skipped": c.skipped,
                "seconds": round(summary.seconds, 3),
                "worker_threads": summary.workers,
                "profiles": summary.profiles,
                "failures": [{"task": t, "error": e} for t, e in summary.failures],
            }
        )
        if summary.failures:
            raise typer.Exit(EXIT_TASKS_FAILED)
        return
    where = f"on {summary.workers} worker thread(s)" if summary.workers else "(nothing to run)"
    console.print(
        f"[bold]{c.done}[/] done, [bold]{c.failed}[/] failed, {c.skipped} skipped (done before) "
        f"in {summary.seconds:.1f} s {where} -> {out}",
        highlight=False,
    )
    for task_id, error in summary.failures[:20]:
        console.print(f"  [red]failed[/] {escape(task_id)}: {escape(error)}", highlight=False)
    if len(summary.failures) > 20:
        console.print(f"  ... {len(summary.failures) - 20} more in {out / 'failed.csv'}")
    if summary.failures:
        raise typer.Exit(EXIT_TASKS_FAILED)


def fit_response_command(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a cohort run.", show_default=False)],
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            help="A 0/1 participants column, or odi, rmdq, nrs or psfs: improved by the MIC "
            "from first to last session.",
            show_default=False,
        ),
    ],
    arm: Annotated[
        str,
        typer.Option(
            "--arm", help="Participants column naming each programme.", show_default=False
        ),
    ],
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Comma-separated predictors (profile or participants columns; 'female'). "
            "Default: the complete, varying numeric baseline columns.",
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap refits per arm (intervals).")
    ] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default RUN_DIR/response).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Fit the response model (who responds to which programme) with its calibration report.

    Writes calibration.json, calibration.csv and predictions.parquet. Exit code 2 on bad
    input (e.g. too few patients or outcomes of one kind in an arm).
    """
    from rich.table import Table

    from spinestab.cohort.response import fit_cohort_response
    from spinestab.core.validation import check_range

    with exit_on_bad_input():
        check_range("--bootstrap", bootstrap, 0, message="bootstrap count must be >= 0")
        chosen = [f.strip() for f in features.split(",") if f.strip()] if features else None
        report = fit_cohort_response(
            run_dir,
            outcome=outcome,
            arm=arm,
            features=chosen,
            n_bootstrap=bootstrap,
            random_state=seed,
            out_dir=out,
        )
    where = out or run_dir / "response"
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"response model: {report.outcome}", title_justify="left")
    for col in ("arm", "n", "responders", "Brier", "cal. slope", "cal. intercept"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for name, cal in report.calibration.items():
        table.add_row(
            escape(name),
            str(cal["n"]),
            str(cal["responders"]),
            f"{cal['brier']:.3f}",
            f"{cal['calibration_slope']:.2f}",
            f"{cal['calibration_intercept']:+.2f}",
        )
    console.print(table)
    console.print(f"predictors: {escape(', '.join(report.features))}", highlight=False)
    for note in report.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    console.print(f"wrote {where / 'calibration.json'}, calibration.csv, predictions.parquet")


def references_command(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a cohort run.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Table to write (default RUN_DIR/references.csv)."),
    ] = None,
    age_bands: Annotated[
        str,
        typer.Option("--age-bands", help="Band edges in years, e.g. 20,40,60,80 ([lo, hi))."),
    ] = _AGE_BAND_EDGES,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Fewest subjects behind a band written.")
    ] = 20,
    as_json: JsonOutput = False,
) -> None:
    """Write reference bands (fat fraction, CSA) by muscle, level, sex and age band.

    The table is the one `spinestab mri --reference-table` reads.

    A cohort becomes the reference for the next patient.

    --json prints {"out", "bands", "notes"} on stdout. Exit code 2 on bad input.
    """
    from spinestab.cohort.references import reference_bands
    from spinestab.core.outdir import check_out_dir, make_out_dir, write_out_file
    from spinestab.errors import InputError

    with exit_on_bad_input():
        try:
            edges = [float(x) for x in age_bands.split(",") if x.strip()]
        except ValueError:
            raise InputError("bad age bands", item="--age-bands", value=age_bands) from None
        target = out or run_dir / "references.csv"
        if target.is_dir():
            raise InputError("--out is a folder", source=str(target), expected="a CSV file")
        check_out_dir(target.parent)  # before the work; a missing folder is made
        bands = reference_bands(run_dir, age_bands=edges, min_count=min_count)
        make_out_dir(target.parent)
        write_out_file(target, bands.table.to_csv(index=False, float_format="%.10g"))
    if as_json:
        print_json({"out": str(target), "bands": len(bands.table), "notes": bands.notes})
        return
    for note in bands.notes[:30]:
        console.print(f"note: {escape(note)}", highlight=False)
    if len(bands.notes) > 30:
        console.print(f"... {len(bands.notes) - 30} more note(s)")
    console.print(f"[bold]{len(bands.table)}[/] band(s) -> {target}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``spinestab cohort`` to the app."""
    cohort_app.command("run")(run_command)
    cohort_app.command("references")(references_command)
    cohort_app.command("fit-response")(fit_response_command)
    app.add_typer(cohort_app, name="cohort")
