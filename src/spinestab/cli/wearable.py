"""``spinestab wearable``: posture, exposures, bouts and prompts from accelerometer files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from spinestab.cli._common import (
    JsonOutput,
    Language,
    OutDirOrRecord,
    PatientOption,
    console,
    err_console,
    exit_on_bad_input,
    language_option,
    pictures_option,
    print_json,
    print_note,
)

__all__ = ["register"]


class Units(StrEnum):
    """Units the accelerations are stored in (``read_recording(units=...)``)."""

    AUTO = "auto"
    G = "g"
    M_S2 = "m/s2"


class SitToStand(StrEnum):
    """Sit-to-stand methods (``spinestab.wearable.transfers.SIT_TO_STAND_DETECTORS``)."""

    STILLNESS = "stillness"
    DISPLACEMENT = "displacement"


def wearable_command(
    trunk: Annotated[
        Path,
        typer.Option(
            "--trunk",
            help="Trunk (lower-back) sensor file. A CSV/Parquet holding back_x.. and thigh_x.. "
            "columns side by side (HARTH layout) gives both sensors.",
            show_default=False,
        ),
    ],
    out: OutDirOrRecord = None,
    thigh: Annotated[
        Path | None, typer.Option("--thigh", help="Optional thigh sensor file.")
    ] = None,
    units: Annotated[Units, typer.Option("--units", help="Stored units: auto, g or m/s2.")] = (
        Units.AUTO
    ),
    fs: Annotated[
        float | None,
        typer.Option("--fs", help="Sampling rate (Hz) for files without timestamps."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="Start time (ISO 8601) for files without timestamps."),
    ] = None,
    standing: Annotated[
        str | None,
        typer.Option(
            "--standing",
            help="Declared standing period START/END (ISO 8601) for the upright reference.",
        ),
    ] = None,
    static_limit: Annotated[
        float, typer.Option("--static-limit-min", help="Prompt after this many static minutes.")
    ] = 30.0,
    utc_offset: Annotated[
        float, typer.Option("--utc-offset-h", help="Local clock offset for days/quiet hours.")
    ] = 0.0,
    pictures: Annotated[bool, pictures_option(help="Write daily timeline PNGs.")] = True,
    sit_to_stand: Annotated[
        SitToStand,
        typer.Option(
            "--sit-to-stand",
            help="Sit-to-stand method: stillness (default) or displacement "
            "(Adamowicz 2020; also finds transitions that start during activity).",
        ),
    ] = SitToStand.STILLNESS,
    lang: Annotated[Language | None, language_option("Language of the prompt messages")] = None,
    patient: PatientOption = None,
    as_json: JsonOutput = False,
) -> None:
    """Analyse trunk (and thigh) accelerometry: posture per second, daily table, prompts.

    Writes OUT/per_second.parquet, daily.csv, prompts.csv, wearable_summary.json, timeline_*.png.

    --json prints {"summary": wearable_summary.json, "files": [...]} on stdout (with
    --patient also "record": what was saved; "files" empty without --out).

    Exit code 2 on bad input.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from spinestab.cli.record import patient_output, save_result
    from spinestab.core.outdir import check_out_dir
    from spinestab.core.validation import check_range
    from spinestab.errors import InputError
    from spinestab.wearable.config import PromptConfig, WearableConfig
    from spinestab.wearable.io import parse_time, read_recording, table_locations
    from spinestab.wearable.outputs import write_outputs
    from spinestab.wearable.pipeline import analyse
    from spinestab.wearable.transfers import sit_to_stand_detector

    shown_out = out is not None
    with exit_on_bad_input(), patient_output(out, patient) as out:
        from spinestab.core.i18n import resolve_language

        language = resolve_language(lang)
        check_out_dir(out)  # before the work, not after it
        if fs is not None:
            check_range(
                "--fs",
                fs,
                0,
                float("inf"),
                inclusive=(False, False),
                message="sampling rate must be positive",
                expected="> 0 Hz",
            )
        check_range(
            "--utc-offset-h",
            utc_offset,
            -14.0,
            14.0,
            message="UTC offset out of range",
            expected="-14 to +14 hours",
        )
        start_s = parse_time(start, "--start") if start else None
        standing_s = None
        if standing:
            parts = standing.split("/")
            if len(parts) != 2:
                raise InputError(
                    "standing period needs START/END",
                    item="--standing",
                    value=standing,
                    expected="2024-01-01T08:00/2024-01-01T08:01",
                )
            standing_s = (
                parse_time(parts[0], "--standing"),
                parse_time(parts[1], "--standing"),
            )
        cfg = WearableConfig(
            prompts=PromptConfig(static_limit_min=static_limit),
            sit_to_stand_method=sit_to_stand.value,
        )
        sit_to_stand_detector(cfg.sit_to_stand_method)  # an unknown name: before the work
        shown = err_console if as_json else console  # stdout holds the JSON alone
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=shown,
            transient=True,
        ) as bar:
            task = bar.add_task("reading", total=None)
            if thigh is None and "thigh" in table_locations(trunk):
                thigh = trunk  # one table with both sensors side by side (HARTH layout)
                shown.print(f"  thigh: read from the thigh columns of {trunk}", markup=False)
            rec_t = read_recording(
                trunk, units=units.value, fs_hz=fs, start_unix_s=start_s, location="trunk"
            )
            rec_h = (
                read_recording(
                    thigh, units=units.value, fs_hz=fs, start_unix_s=start_s, location="thigh"
                )
                if thigh is not None
                else None
            )
            total = rec_t.duration_s + (rec_h.duration_s if rec_h is not None else 0.0)
            bar.update(task, description="analysing", total=total, completed=0)
            result = analyse(
                rec_t,
                rec_h,
                cfg=cfg,
                standing_s=standing_s,
                utc_offset_h=utc_offset,
                progress=lambda k: bar.advance(task, k),
            )
            bar.update(task, description="writing")
            paths = write_outputs(result, out, pictures=pictures, language=language)
        saved = None
        if patient is not None:
            options = {
                "units": units,
                "fs_hz": fs,
                "start": start,
                "standing": standing,
                "static_limit_min": static_limit,
                "utc_offset_h": utc_offset,
                "sit_to_stand": sit_to_stand,
                "language": language,
            }
            inputs = {"trunk": trunk, "thigh": thigh if thigh != trunk else None}
            saved = save_result("wearable", patient, out, inputs=inputs, options=options)
    if as_json:
        # with --patient alone the files were in a temporary folder, now in the record
        doc: dict[str, Any] = {
            "summary": result.info,
            "files": [str(p) for p in paths] if shown_out else [],
        }
        if saved is not None:
            doc["record"] = saved
        print_json(doc)
        return
    _report(result, paths if shown_out else [], saved)


def _report(result: Any, paths: list[Path], saved: str | None) -> None:
    """Print the run's summary: days, setup, prompts, calibration, notes, files written."""
    d = result.daily
    console.print(
        f"[bold]{len(d['date'])}[/] day(s), {result.info['setup']}, "
        f"{int(result.prompts_unix_s.size)} prompt(s); "
        f"trunk calibration: {result.info['trunk']['calibration']['status']}"
    )
    for sensor in ("trunk", "thigh"):
        sinfo = result.info.get(sensor)
        for note in sinfo.get("notes", []) if isinstance(sinfo, dict) else []:
            console.print(f"  {sensor}: {note}", markup=False)
    for p in paths[:4]:
        console.print(f"  wrote {p}")
    if len(paths) > 4:
        console.print(f"  wrote {len(paths) - 4} timeline picture(s)")
    if saved is not None:
        print_note(saved, as_json=False)


def register(app: typer.Typer) -> None:
    """Add ``spinestab wearable`` to the app."""
    app.command("wearable")(wearable_command)
