"""Read a patient folder into a :class:`~spinestab.care.profile.StabilityProfile`.

A patient folder holds questionnaire files (JSON/YAML in the format of ``spinestab score``,
read and scored through :mod:`spinestab.clinical`), and optionally ``muscle_quality.csv``
(``spinestab mri``), ``instability.json`` (``spinestab instability``), ``daily.csv``
(``spinestab wearable``) and ``history.json`` (history and examination, format in the
README). Every file is validated; bad input raises :class:`~spinestab.errors.InputError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import statistics
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spinestab.care.config import CareRules, load_rules
from spinestab.care.profile import (
    KNOWN_CONDITIONS,
    MEYERDING_ROMAN,
    VERDICT_ORDER,
    ClinicalState,
    History,
    InstabilityFindings,
    LevelFinding,
    MovementSummary,
    MuscleQuality,
    RedFlag,
    StabilityProfile,
    find_missing,
)
from spinestab.core.levels import level_sort_key, parse_segment
from spinestab.errors import InputError

__all__ = [
    "DAILY_COLUMNS",
    "MUSCLE_COLUMNS",
    "clinical_state_from_scores",
    "load_patient_dir",
    "read_daily",
    "read_history",
    "read_instability",
    "read_json",
    "read_muscle_quality",
    "summarise_daily",
]

log = logging.getLogger(__name__)

#: Columns ``muscle_quality.csv`` must have for the care profile (issue 3 contract).
MUSCLE_COLUMNS = ("muscle", "side", "level", "fat_fraction_pct", "fat_method")
#: Accepted fat fractions (%): the voxel range ``spinestab mri`` accepts for PDFF maps.
FAT_PCT_RANGE = (-10.0, 110.0)
#: Columns ``daily.csv`` must have (issue 4 contract).
DAILY_COLUMNS = (
    "date",
    "wear_min",
    "lying_min",
    "sitting_min",
    "standing_min",
    "upright_static_min",
    "walking_min",
    "steps",
    "forward_ge20_min",
    "forward_ge30_min",
    "forward_ge60_min",
    "forward_ge90_min",
    "longest_static_bout_min",
    "static_bouts_over_30min",
    "breaks",
    "prompts",
)
#: Files a previous ``spinestab plan`` run may have left in the folder; never read as input.
OUTPUT_NAMES = ("profile.json", "triage.json", "plan.json", "progress.json")
#: JSON files the other commands write beside their tables when run with ``--out
#: PATIENT_DIR``: ``summary.json`` (``spinestab mri``), ``wearable_summary.json``
#: (``spinestab wearable``) and the corners derived from masks (``spinestab instability``);
#: never questionnaires.
PRODUCER_JSON = ("summary.json", "wearable_summary.json")
PRODUCER_JSON_PREFIXES = ("landmarks_",)
SPECIAL_JSON = ("history.json", "instability.json")
#: Summary rows of ``muscle_quality.csv`` (every slice; slices outside the vertebrae).
_SUMMARY_LEVELS = ("all", "unassigned")

_HISTORY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "age": int,
    "pain_duration_weeks": (int, float),
    "active_care_weeks": (int, float),
    "adherence_pct": (int, float),
    "previous_response": str,
    "aberrant_movement": bool,
    "prone_instability_test": bool,
    "slr_deg": (int, float),
    "neuro_deficit": bool,
    "concordant_symptoms": bool,
    "symptoms": list,
    "slip_progression": bool,
    "conditions": list,
    "symptomatic_levels": list,
    "surgical_candidate": bool,
}
_SYMPTOMS = (
    "neurogenic_claudication",
    "radiculopathy",
    "mechanical_back_pain",
    "axial_pain",
    "leg_pain",
)


def read_json(path: Path) -> Any:
    """Read a JSON file, turning decode errors into :class:`InputError`."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable JSON ({exc})", source=str(path)) from None


# ------------------------------------------------------------------------------ history
def read_history(data: Mapping[str, Any], *, source: str = "history.json") -> History:
    """Validate a history document (``history.json``) and return a :class:`History`.

    Unknown keys are refused so that a typo never silently drops a finding.
    """
    if not isinstance(data, Mapping):
        raise InputError(
            "not a history object",
            source=source,
            value=type(data).__name__,
            expected="a JSON object",
        )
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("patient", "notes", "sex"):
            continue
        if key not in _HISTORY_FIELDS:
            raise InputError(
                "unknown history field",
                source=source,
                item=key,
                expected="one of " + ", ".join(_HISTORY_FIELDS),
            )
        if value is None:
            continue
        kind = _HISTORY_FIELDS[key]
        if isinstance(value, bool) and kind is not bool:
            raise InputError(
                "wrongly typed value",
                source=source,
                item=key,
                value=value,
                expected="a list" if kind is list else "a number",
            )
        if not isinstance(value, kind):
            raise InputError(
                "wrongly typed value",
                source=source,
                item=key,
                value=value,
                expected=getattr(kind, "__name__", "a number"),
            )
        values[key] = value
    for key in ("pain_duration_weeks", "active_care_weeks", "slr_deg", "age"):
        if key in values and values[key] < 0:
            raise InputError(
                "negative value", source=source, item=key, value=values[key], expected=">= 0"
            )
    # Plausibility bounds of the measurement itself (not clinical thresholds): a straight-leg
    # raise is a hip-flexion angle (at most 180 deg), an age in years at most 120.
    for key, top in (("slr_deg", 180), ("age", 120)):
        if key in values and values[key] > top:
            raise InputError(
                "out of range", source=source, item=key, value=values[key], expected=f"0-{top}"
            )
    if "adherence_pct" in values and not 0 <= values["adherence_pct"] <= 100:
        raise InputError(
            "out of range",
            source=source,
            item="adherence_pct",
            value=values["adherence_pct"],
            expected="0-100",
        )
    if values.get("previous_response") not in (None, "responder", "non_responder"):
        raise InputError(
            "unknown response status",
            source=source,
            item="previous_response",
            value=values["previous_response"],
            expected="responder or non_responder",
        )
    for key, allowed in (("conditions", KNOWN_CONDITIONS), ("symptoms", _SYMPTOMS)):
        unknown = [c for c in values.get(key, []) if c not in allowed]
        if unknown:
            raise InputError(
                "unknown entry",
                source=source,
                item=key,
                value=unknown[0],
                expected="any of " + ", ".join(allowed),
            )
        values[key] = tuple(values.get(key, ()))
    values["symptomatic_levels"] = tuple(
        str(v).upper() for v in values.get("symptomatic_levels", ())
    )
    for level in values["symptomatic_levels"]:
        if parse_segment(level) is None:
            raise InputError(
                "unknown level",
                source=source,
                item="symptomatic_levels",
                value=level,
                expected="vertebral levels such as L4, L5 or a segment L4-L5",
            )
    return History(**values)


# ------------------------------------------------------------------------------ numbers
def _number(
    value: Any, *, source: str, item: str, low: float | None = None, high: float | None = None
) -> float | None:
    """Parse a CSV/JSON number; empty, ``nan`` and ``None`` are missing (None)."""
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "nan", "na", "none", "null")
    ):
        return None
    if isinstance(value, bool):
        raise InputError("not a number", source=source, item=item, value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError("not a number", source=source, item=item, value=value) from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise InputError("not a finite number", source=source, item=item, value=value)
    if low is not None and number < low:
        raise InputError(
            "out of range", source=source, item=item, value=value, expected=f">= {low:g}"
        )
    if high is not None and number > high:
        raise InputError(
            "out of range", source=source, item=item, value=value, expected=f"<= {high:g}"
        )
    return number


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    source = str(path)
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(
                    "missing column(s): " + ", ".join(missing),
                    source=source,
                    value=header,
                    expected="columns " + ", ".join(required),
                )
            rows = [
                {(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader
            ]
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"unreadable CSV ({exc})", source=source) from None
    if not rows:
        raise InputError("no data rows", source=source, expected="at least one row")
    return rows


# ------------------------------------------------------------------------------ muscle
def _level_name(value: str) -> str:
    """Return a level in upper case (``l4`` -> ``L4``), ``all``/``unassigned`` in lower case."""
    text = value.strip()
    return text.lower() if text.lower() in _SUMMARY_LEVELS else text.upper()


def _wanted_levels(symptomatic_levels: Iterable[str]) -> set[str]:
    """Return the symptomatic levels as vertebrae: a segment ``L4-L5`` gives L4 and L5."""
    wanted: set[str] = set()
    for level in symptomatic_levels:
        wanted.update(part.strip().upper() for part in str(level).split("-") if part.strip())
    return wanted


def _fat_method_note(methods: str | None) -> str | None:
    """Say what the fat figure is, from the ``fat_method`` tags of ``spinestab mri``."""
    if not methods:
        return None
    notes = []
    for method in methods.split(", "):
        tag = method.strip().lower()
        if tag.startswith(("dixon", "pdff")):
            notes.append(f"{method}: quantitative MRI fat fraction")
        elif tag.startswith("ct_hu"):
            notes.append(
                f"{method}: share of CT voxels in the fat HU range, not an MRI fat fraction"
            )
        else:
            notes.append(f"{method}: single-contrast MRI threshold estimate, not PDFF")
    return "; ".join(notes) + (
        ""
        if all(n.endswith("quantitative MRI fat fraction") for n in notes)
        # CLINICAL_LOGIC.md §5.9: quantitative MRI (Dixon / PDFF) preferable when available [R]
        else " (CLINICAL_LOGIC.md §5.9 prefers Dixon/PDFF; grade with care)"
    )


def read_muscle_quality(path: Path, *, symptomatic_levels: Iterable[str] = ()) -> MuscleQuality:
    """Read ``muscle_quality.csv`` and summarise the multifidus.

    Parameters
    ----------
    path : Path
        The table of ``spinestab mri`` (one row per muscle, side and level).
    symptomatic_levels : iterable of str
        Levels to prefer (vertebrae such as ``L4``; a segment ``L4-L5`` counts as L4 and
        L5); when none of them is measured, all levels are used.

    Returns
    -------
    MuscleQuality
        Highest multifidus fat fraction (%) and largest left/right CSA asymmetry over the
        levels considered (per-level rows; the ``all`` summary row only when no per-level
        row exists), plus the same fat summary for every other muscle in the table.

    """
    source = str(path)
    rows = _read_csv(path, MUSCLE_COLUMNS)
    parsed = []
    for number, row in enumerate(rows, start=2):
        # PDFF maps keep small negative (noise) values so that means stay unbiased;
        # spinestab mri refuses voxels outside -10..110 %, so a mean lies within that too
        fat = _number(
            row["fat_fraction_pct"],
            source=source,
            item=f"line {number} fat_fraction_pct",
            low=FAT_PCT_RANGE[0],
            high=FAT_PCT_RANGE[1],
        )
        asym = _number(row.get("asymmetry_pct"), source=source, item=f"line {number} asymmetry_pct")
        level = _level_name(row["level"])
        if not level:
            raise InputError(
                "empty level", source=source, item=f"line {number} level", expected="e.g. L4 or all"
            )
        parsed.append(
            {
                "muscle": row["muscle"].strip().lower(),
                "level": level,
                "side": row["side"].strip().lower(),
                "fat_fraction_pct": fat,
                "fat_method": row["fat_method"],
                "asymmetry_pct": asym,
                "grade": row.get("grade") or None,
                "grade_scheme": row.get("grade_scheme") or None,
                "flags": row.get("flags") or None,
            }
        )
    wanted = _wanted_levels(symptomatic_levels)

    def considered(muscle: str) -> list[dict[str, Any]]:
        mine = [r for r in parsed if r["muscle"] == muscle]
        per_level = [r for r in mine if r["level"] not in _SUMMARY_LEVELS]
        chosen = [r for r in per_level if r["level"] in wanted] or per_level
        return chosen or [r for r in mine if r["level"] == "all"]

    def summary(chosen: list[dict[str, Any]]) -> dict[str, Any]:
        fats = [r["fat_fraction_pct"] for r in chosen if r["fat_fraction_pct"] is not None]
        methods = sorted({r["fat_method"] for r in chosen if r["fat_method"]})
        return {
            "fat_pct": max(fats) if fats else None,
            "levels": sorted({r["level"] for r in chosen}, key=level_sort_key),
            "fat_method": ", ".join(methods) if methods else None,
        }

    chosen = considered("multifidus")
    fat = summary(chosen)
    measured = {r["level"] for r in parsed if r["level"] not in _SUMMARY_LEVELS}
    note = None
    if wanted and not wanted & measured:
        note = (
            f"symptomatic levels {', '.join(sorted(wanted, key=level_sort_key))} not in the table "
            f"(measured: {', '.join(sorted(measured, key=level_sort_key)) or 'whole scan only'}): "
            "all measured levels used"
        )
    # the asymmetry of the levels considered (§5.9: "asymmetric atrophy at the symptomatic
    # level"), not of other levels or the whole-scan row
    asyms = [abs(r["asymmetry_pct"]) for r in chosen if r["asymmetry_pct"] is not None]
    others = {
        muscle: summary(considered(muscle))
        for muscle in sorted({r["muscle"] for r in parsed} - {"multifidus"})
    }
    return MuscleQuality(
        fat_method_note=_fat_method_note(fat["fat_method"]),
        note=note,
        multifidus_fat_pct=fat["fat_pct"],
        multifidus_levels=tuple(fat["levels"]),
        fat_method=fat["fat_method"],
        multifidus_asymmetry_pct=max(asyms) if asyms else None,
        rows=tuple(chosen),
        other_muscles=others,
    )


# ------------------------------------------------------------------------------ instability
def _grade(value: Any, *, source: str, item: str) -> int | None:
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "none", "null", "nan")
    ):
        return None
    if isinstance(value, str) and value.strip().upper() in MEYERDING_ROMAN:
        return MEYERDING_ROMAN[value.strip().upper()]
    number = _number(value, source=source, item=item, low=0, high=5)
    if number is None or number != int(number):
        raise InputError(
            "not a Meyerding grade", source=source, item=item, value=value, expected="0-5 or I-V"
        )
    return int(number)


def _verdict(value: Any, *, source: str, item: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower().replace("-", "_")
    text = {
        "unstable_likely": "unstable",
        "not_assessed": None,
        "not_assessable": None,
        "n/a": None,
    }.get(text, text)
    if text is not None and text not in VERDICT_ORDER:
        raise InputError(
            "unknown verdict",
            source=source,
            item=item,
            value=value,
            expected="stable, borderline or unstable",
        )
    return text


def _listhesis(value: Any, *, source: str, item: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text not in ("anterolisthesis", "retrolisthesis", "none"):
        raise InputError(
            "unknown listhesis",
            source=source,
            item=f"{item} listhesis",
            value=value,
            expected="anterolisthesis, retrolisthesis or none",
        )
    return text


def _level_entries(data: Any, source: str) -> list[tuple[str | None, Mapping[str, Any]]]:
    if isinstance(data, list):
        return [(None, e) for e in data]
    if isinstance(data, Mapping):
        for key in ("levels", "segments", "results", "motion_segments"):
            if key in data:
                return _level_entries(data[key], source)
        if data and all(isinstance(v, Mapping) for v in data.values()):
            return [(str(k), v) for k, v in data.items()]
    raise InputError(
        "no per-level results",
        source=source,
        expected="a list of levels, or an object with 'levels'",
    )


def read_instability(path: Path) -> InstabilityFindings:
    """Read ``instability.json``: per level slip, Meyerding grade, dynamic verdict.

    Accepted layouts: a list of level objects; an object with ``levels`` (or ``segments``)
    holding that list or a mapping level -> object.
    """
    source = str(path)
    entries = _level_entries(read_json(path), source)
    levels = []
    for key, entry in entries:
        if not isinstance(entry, Mapping):
            raise InputError("level entry is not an object", source=source, value=entry)
        level = str(entry.get("level") or entry.get("segment") or key or "")
        if not level:
            raise InputError("level entry without 'level'", source=source, value=dict(entry))
        item = f"level {level}"
        reasons = entry.get("reasons") or ()
        if isinstance(reasons, str):
            reasons = (reasons,)
        levels.append(
            LevelFinding(
                level=level,
                slip_mm=_number(entry.get("slip_mm"), source=source, item=f"{item} slip_mm"),
                slip_pct=_number(entry.get("slip_pct"), source=source, item=f"{item} slip_pct"),
                meyerding_grade=_grade(
                    entry.get("meyerding_grade"), source=source, item=f"{item} meyerding_grade"
                ),
                translation_mm=_number(
                    entry.get("translation_mm"), source=source, item=f"{item} translation_mm"
                ),
                translation_pct=_number(
                    entry.get("translation_pct"), source=source, item=f"{item} translation_pct"
                ),
                angulation_deg=_number(
                    entry.get("angulation_deg"), source=source, item=f"{item} angulation_deg"
                ),
                # spinestab instability: ``verdict`` is the worse of the dynamic and the
                # resting-film verdict; §8 (S1/S2) means dynamic instability, so its
                # ``dynamic_verdict`` is used where the key exists (null: no pair)
                verdict=(
                    _verdict(
                        entry.get("dynamic_verdict"),
                        source=source,
                        item=f"{item} dynamic_verdict",
                    )
                    if "dynamic_verdict" in entry
                    else _verdict(entry.get("verdict"), source=source, item=f"{item} verdict")
                ),
                static_verdict=_verdict(
                    entry.get("static_verdict"), source=source, item=f"{item} static_verdict"
                ),
                verdict_reported=(
                    None if entry.get("verdict") in (None, "") else str(entry["verdict"]).strip()
                ),
                listhesis=_listhesis(entry.get("listhesis"), source=source, item=item),
                reasons=tuple(
                    str(r)
                    if not isinstance(r, Mapping)
                    else str(r.get("text") or r.get("reason") or dict(r))
                    for r in reasons
                ),
            )
        )
    if not levels:
        raise InputError("no levels", source=source, expected="at least one motion segment")
    return InstabilityFindings(tuple(levels))


# ------------------------------------------------------------------------------ movement
def read_daily(path: Path) -> list[dict[str, Any]]:
    """Read ``daily.csv`` of ``spinestab wearable`` into validated rows."""
    source = str(path)
    rows = _read_csv(path, DAILY_COLUMNS)
    out = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            raise InputError(
                "not a date",
                source=source,
                item=f"line {number} date",
                value=row["date"],
                expected="YYYY-MM-DD",
            ) from None
        if day.isoformat() in seen:
            raise InputError(
                "date listed twice",
                source=source,
                item=f"line {number} date",
                value=row["date"],
                expected="one row per day",
            )
        seen.add(day.isoformat())
        parsed: dict[str, Any] = {"date": day.isoformat()}
        for col in DAILY_COLUMNS[1:]:
            high = 1440 if col.endswith("_min") else None
            parsed[col] = _number(
                row[col], source=source, item=f"line {number} {col}", low=0, high=high
            )
        flag = (row.get("valid_day") or "").strip().lower()
        parsed["valid_day"] = {
            "true": True,
            "1": True,
            "1.0": True,
            "false": False,
            "0": False,
            "0.0": False,
        }.get(flag)
        _check_day_minutes(row, parsed, source=source, item=f"line {number}")
        out.append(parsed)
    return out


#: Posture columns of ``daily.csv`` that partition the wear time (``spinestab wearable``).
_POSTURE_COLUMNS = (
    "lying_min",
    "sitting_min",
    "standing_min",
    "upright_static_min",
    "moving_min",
    "walking_min",
    "running_min",
    "stairs_min",
)


def _check_day_minutes(
    row: Mapping[str, str], parsed: Mapping[str, Any], *, source: str, item: str
) -> None:
    """Refuse a day whose posture minutes add up to more than its wear time.

    ``spinestab wearable`` writes posture classes that partition the worn seconds, so their
    sum equals ``wear_min`` up to rounding (0.5 min allowed); more means mixed-up columns
    or units (e.g. hours, seconds), which would silently distort the movement summary.
    """
    wear = parsed.get("wear_min")
    if wear is None:
        return
    total = 0.0
    for col in _POSTURE_COLUMNS:
        value = parsed.get(col)
        if col not in parsed and row.get(col, "").strip():
            value = _number(row[col], source=source, item=f"{item} {col}", low=0, high=1440)
        total += value or 0.0
    if total > wear + 0.5:
        raise InputError(
            "posture minutes add up to more than the wear time",
            source=source,
            item=item,
            value=f"{total:g} min of postures, wear_min {wear:g}",
            expected="lying + sitting + standing + upright_static + walking (+ moving, "
            "running, stairs) <= wear_min",
        )


def summarise_daily(rows: list[dict[str, Any]], *, rules: CareRules) -> MovementSummary:
    """Summarise daily rows over the valid wear days (rule ``valid_wear_day_min``)."""
    min_wear = float(rules["valid_wear_day_min"])
    # the wearable command's own valid_day flag when present, else the wear-time rule
    valid = [
        r
        for r in rows
        if (r["valid_day"] if r.get("valid_day") is not None else (r["wear_min"] or 0) >= min_wear)
    ]

    def mean(col: str) -> float | None:
        vals = [r[col] for r in valid if r[col] is not None]
        return float(statistics.fmean(vals)) if vals else None

    def median(col: str) -> float | None:
        vals = [r[col] for r in valid if r[col] is not None]
        return float(statistics.median(vals)) if vals else None

    # Trunk-only recordings cannot tell sitting from standing: spinestab wearable then puts
    # both into upright_static and writes 0 for sitting and standing. 0 is not "never sat".
    separated = not any(
        (r["upright_static_min"] or 0) > 0
        and not (r["sitting_min"] or 0) > 0
        and not (r["standing_min"] or 0) > 0
        for r in valid
    )
    notes = []
    if not separated:
        notes.append(
            "sitting and standing not separated (trunk-only recording: both are "
            "upright_static); sitting_min and standing_min unknown"
        )
    dates = sorted(r["date"] for r in rows)
    return MovementSummary(
        days=len(rows),
        valid_days=len(valid),
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
        wear_min=mean("wear_min"),
        sitting_min=mean("sitting_min") if separated else None,
        standing_min=mean("standing_min") if separated else None,
        walking_min=mean("walking_min"),
        upright_static_min=mean("upright_static_min"),
        steps=median("steps"),
        static_bouts_over_30min=mean("static_bouts_over_30min"),
        longest_static_bout_min=median("longest_static_bout_min"),
        breaks=mean("breaks"),
        forward_ge20_min=mean("forward_ge20_min"),
        forward_ge60_min=mean("forward_ge60_min"),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------ clinical
def clinical_state_from_scores(scores: Iterable[Any], history: History) -> ClinicalState:
    """Combine scored questionnaires (``spinestab.clinical.Score``) and the history.

    The latest complete score per instrument is the current value; the earliest complete
    one is the baseline; the MIC status between them comes from
    :func:`spinestab.clinical.compare_scores`. Red flags come from the latest screen.
    """
    from spinestab.clinical import compare_scores

    by_instrument: dict[str, list[Any]] = {}
    for score in scores:
        by_instrument.setdefault(score.instrument, []).append(score)
    for instrument, items in by_instrument.items():
        items.sort(key=lambda s: s.date)
        dates = [s.date for s in items]
        if len(set(dates)) != len(dates):
            raise InputError(
                "two forms of the same instrument on the same date",
                item=instrument,
                value=str(dates),
                expected="one form per instrument and date",
            )
    current: dict[str, Any] = {}
    baseline: dict[str, float] = {}
    change: dict[str, dict[str, Any]] = {}
    for instrument, items in by_instrument.items():
        complete = [s for s in items if s.complete]
        if not complete:
            continue
        current[instrument] = complete[-1]
        if instrument in ("odi", "rmdq", "nrs", "psfs"):
            first = complete[0]
            baseline[instrument] = float(first.percent if instrument == "odi" else first.score)
            if len(complete) > 1:
                change[instrument] = compare_scores(first, complete[-1]).to_dict()
    red = by_instrument.get("redflags", [])
    latest_screen = red[-1] if red else None
    flags = tuple(
        RedFlag(
            a.condition,
            a.urgency,
            a.action,
            tuple(a.items),
            a.source,
            a.evidence,
            bool(a.blocks_exercise),
        )
        for a in (latest_screen.actions if latest_screen else ())
    )
    sbst = current.get("startback")
    nrs = current.get("nrs")
    dates = [s.date for items in by_instrument.values() for s in items if s.date]
    return ClinicalState(
        date=max(dates) if dates else None,
        startback_risk=sbst.risk if sbst else None,
        startback_total=float(sbst.score) if sbst else None,
        startback_psychosocial=sbst.psychosocial if sbst else None,
        odi_pct=float(current["odi"].percent) if "odi" in current else None,
        rmdq=float(current["rmdq"].score) if "rmdq" in current else None,
        nrs=float(nrs.score) if nrs else None,
        leg_pain_nrs=(
            float(nrs.details["leg_pain"]) if nrs and "leg_pain" in nrs.details else None
        ),
        psfs=float(current["psfs"].score) if "psfs" in current else None,
        red_flag_screen=latest_screen is not None,
        red_flag_screen_complete=bool(latest_screen and latest_screen.complete),
        red_flags=flags,
        baseline=baseline,
        change=change,
        scores=tuple(s.to_dict() for items in by_instrument.values() for s in items),
        history=history,
    )


def _questionnaire_files(folder: Path) -> list[Path]:
    files = []
    for base in (folder, folder / "questionnaires"):
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            name = path.name.lower()
            if not path.is_file() or path.suffix.lower() not in (".json", ".yaml", ".yml"):
                continue
            if base == folder and (
                name in SPECIAL_JSON
                or name in OUTPUT_NAMES
                or name in PRODUCER_JSON
                or name.startswith(("plan_v", "sessions", *PRODUCER_JSON_PREFIXES))
            ):
                continue
            files.append(path)
    return files


def load_patient_dir(folder: str | Path, *, rules: CareRules | None = None) -> StabilityProfile:
    """Read and validate a patient folder and build the stability profile.

    Parameters
    ----------
    folder : path-like
        The patient folder (see module docstring).
    rules : CareRules, optional
        Care rules (bundled defaults if omitted).

    Returns
    -------
    StabilityProfile

    """
    from spinestab.clinical import load_form, score_form

    rules = rules or load_rules()
    folder = Path(folder)
    if folder.is_file():
        raise InputError(
            "a file was given where a patient folder is expected",
            source=str(folder),
            expected="a folder with questionnaire files",
        )
    if not folder.is_dir():
        raise InputError(
            "patient folder not found",
            source=str(folder),
            expected="a folder with questionnaire files",
        )
    history = History()
    if (folder / "history.json").is_file():
        history = read_history(
            read_json(folder / "history.json"), source=str(folder / "history.json")
        )
    scores = []
    seen: dict[tuple[str, Any], Path] = {}
    for path in _questionnaire_files(folder):
        form = load_form(path)
        key = (form.instrument, form.date)
        if key in seen:
            raise InputError(
                "two forms of the same instrument on the same date",
                source=str(path),
                item=form.instrument,
                value=f"{form.date.isoformat()} (also in {seen[key].name})",
                expected="one form per instrument and date",
            )
        seen[key] = path
        scores.append(score_form(form))
    if not scores:
        raise InputError(
            "no questionnaire files",
            source=str(folder),
            expected="JSON/YAML files {instrument, date, answers}",
        )
    clinical = clinical_state_from_scores(scores, history)
    muscle = None
    if (folder / "muscle_quality.csv").is_file():
        muscle = read_muscle_quality(
            folder / "muscle_quality.csv", symptomatic_levels=history.symptomatic_levels
        )
    instability = None
    if (folder / "instability.json").is_file():
        instability = read_instability(folder / "instability.json")
    movement = None
    if (folder / "daily.csv").is_file():
        movement = summarise_daily(read_daily(folder / "daily.csv"), rules=rules)
    missing = find_missing(clinical, muscle, instability, movement)
    log.info("profile of %s: %d scores, %d missing parts", folder.name, len(scores), len(missing))
    return StabilityProfile(
        folder.name, clinical.date, clinical, muscle, instability, movement, missing
    )
