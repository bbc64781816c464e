"""Read and validate the files of a patient folder (reading only; no analysis).

A patient folder holds questionnaire files (JSON/YAML in the format of ``spinestab score``,
read through :mod:`spinestab.clinical`), and optionally ``muscle_quality.csv``
(``spinestab mri``), ``instability.json`` (``spinestab instability``), ``daily.csv``
(``spinestab wearable``) and ``history.json`` (history and examination, format in the
docs). Every file is validated; bad input raises :class:`~spinestab.errors.InputError`.
The profile is built from what these readers return by :mod:`spinestab.care.folder`
(summaries in :mod:`spinestab.care.summarise`).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spinestab.care.profile import (
    KNOWN_CONDITIONS,
    MEYERDING_ROMAN,
    VERDICT_ORDER,
    DeformityFindings,
    History,
    InstabilityFindings,
    LevelFinding,
    VertebralDeformity,
)
from spinestab.core.levels import normalise_level, parse_segment
from spinestab.core.results import (
    MUSCLE_QUALITY_REQUIRED,
    SUMMARY_LEVELS,
    MuscleQuality,
    MuscleRow,
)
from spinestab.core.safe_load import load_json
from spinestab.core.validation import check_choice, check_range, check_type
from spinestab.errors import InputError

__all__ = [
    "DAILY_COLUMNS",
    "MUSCLE_COLUMNS",
    "questionnaire_files",
    "read_daily",
    "read_history",
    "read_instability",
    "read_json",
    "read_morphometry",
    "read_muscle_quality",
]

log = logging.getLogger(__name__)

#: Columns ``muscle_quality.csv`` must have for the care profile (issue 3 contract).
MUSCLE_COLUMNS = MUSCLE_QUALITY_REQUIRED
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
SPECIAL_JSON = ("history.json", "instability.json", "morphometry.json")

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
    "known_old_deformities": list,
}
_SYMPTOMS = (
    "neurogenic_claudication",
    "radiculopathy",
    "mechanical_back_pain",
    "axial_pain",
    "leg_pain",
)


def read_json(path: Path) -> Any:
    """Read a JSON file within the limits of :func:`spinestab.core.safe_load.load_json`.

    Over 1 MB, nesting deeper than 64, integers over 18 digits and keys given twice are
    refused with an :class:`InputError` naming the file.
    """
    return load_json(path)


# ------------------------------------------------------------------------------ history
#: How each history field type is named in messages.
_KIND_TEXT = {int: "a whole number", bool: "true or false", str: "text", list: "a list"}
#: Plausible ranges of history numbers: bounds of the measurement itself, not clinical
#: thresholds (a straight-leg raise is a hip-flexion angle, at most 180 deg; an age in years
#: at most 120; adherence a percentage).
_HISTORY_RANGES: dict[str, tuple[float, float | None]] = {
    "age": (0, 120),
    "pain_duration_weeks": (0, None),
    "active_care_weeks": (0, None),
    "adherence_pct": (0, 100),
    "slr_deg": (0, 180),
}
_RESPONSES = ("responder", "non_responder")


def _history_value(key: str, value: Any, *, source: str) -> Any:
    """Check one history field's type, range and vocabulary; return the value."""
    check_choice(key, key, _HISTORY_FIELDS, source=source, message="unknown history field")
    kind = _HISTORY_FIELDS[key]
    expected = "a number" if isinstance(kind, tuple) else _KIND_TEXT[kind]
    check_type(key, value, kind, source=source, message="wrongly typed value", expected=expected)
    if key in _HISTORY_RANGES:
        lo, hi = _HISTORY_RANGES[key]
        check_range(key, value, lo, hi, source=source)
    if key == "previous_response":
        check_choice(
            key,
            value,
            _RESPONSES,
            source=source,
            message="unknown response status",
            expected="responder or non_responder",
        )
    for name, allowed in (("conditions", KNOWN_CONDITIONS), ("symptoms", _SYMPTOMS)):
        if key == name:
            for entry in value:
                check_choice(
                    key,
                    entry,
                    allowed,
                    source=source,
                    message="unknown entry",
                    expected="any of " + ", ".join(allowed),
                )
    return value


def _symptomatic_level(level: Any, *, source: str) -> str:
    text = str(level).upper()
    if parse_segment(text) is None:
        raise InputError(
            "unknown level",
            source=source,
            item="symptomatic_levels",
            value=text,
            expected="vertebral levels such as L4, L5 or a segment L4-L5",
        )
    return text


def read_history(data: Mapping[str, Any], *, source: str = "history.json") -> History:
    """Validate a history document (``history.json``) and return a :class:`History`.

    Unknown keys are refused so that a typo never silently drops a finding; every value
    is checked for its type, its plausible range and its vocabulary.
    """
    if not isinstance(data, Mapping):
        raise InputError(
            "not a history object",
            source=source,
            value=type(data).__name__,
            expected="a JSON object",
        )
    values = {
        key: _history_value(key, value, source=source)
        for key, value in data.items()
        if key not in ("patient", "notes", "sex")
        and (value is not None or key not in _HISTORY_FIELDS)
    }
    for key in ("conditions", "symptoms"):
        values[key] = tuple(values.get(key, ()))
    values["symptomatic_levels"] = tuple(
        _symptomatic_level(v, source=source) for v in values.get("symptomatic_levels", ())
    )
    values["known_old_deformities"] = tuple(
        normalise_level(v, source=source) for v in values.get("known_old_deformities", ())
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
    return text.lower() if text.lower() in SUMMARY_LEVELS else text.upper()


def read_muscle_quality(path: Path) -> MuscleQuality:
    """Read and validate ``muscle_quality.csv`` (``spinestab mri``, or another tool's table).

    Parameters
    ----------
    path : Path
        The table: one row per muscle, side and level, with at least the columns
        :data:`~spinestab.core.results.MUSCLE_QUALITY_REQUIRED`.

    Returns
    -------
    MuscleQuality
        The rows as read (muscle and side in lower case, levels canonical: ``L4``, ``all``);
        of the other columns only ``asymmetry_pct``, ``grade``, ``grade_scheme`` and
        ``flags`` are read, the rest stay blank.

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
            MuscleRow(
                muscle=row["muscle"].strip().lower(),
                side=row["side"].strip().lower(),
                level=level,
                fat_fraction_pct=math.nan if fat is None else fat,
                fat_method=row["fat_method"],
                asymmetry_pct=math.nan if asym is None else asym,
                grade=row.get("grade") or "",
                grade_scheme=row.get("grade_scheme") or "",
                flags=row.get("flags") or "",
            )
        )
    return MuscleQuality(rows=tuple(parsed), source=source)


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
    if text is None:
        return None
    return check_choice(
        item,
        text,
        VERDICT_ORDER,
        source=source,
        message="unknown verdict",
        expected="stable, borderline or unstable",
    )


def _listhesis(value: Any, *, source: str, item: str) -> str | None:
    if value is None or value == "":
        return None
    return check_choice(
        f"{item} listhesis",
        str(value).strip().lower(),
        ("anterolisthesis", "retrolisthesis", "none"),
        source=source,
        message="unknown listhesis",
        expected="anterolisthesis, retrolisthesis or none",
    )


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
    # segments with a cervical vertebra are kept apart: reported and referred, never read by
    # the lumbar structural rules (CLINICAL_LOGIC.md §4.7)
    cervical = tuple(f for f in levels if _has_cervical(f.level))
    return InstabilityFindings(tuple(f for f in levels if f not in cervical), cervical)


def _has_cervical(segment: str) -> bool:
    parts = parse_segment(segment)
    return bool(parts) and any(p.startswith("C") for p in parts or ())


# ------------------------------------------------------------------------------ morphometry
_DEFORMITY_TYPES = ("wedge", "biconcave", "crush")


def _morphometry_entry(entry: Any, *, source: str, index: int) -> VertebralDeformity | str | None:
    """Return a deformity (grade >= 1), a grade-0 level, or None when not graded."""
    if not isinstance(entry, Mapping) or "level" not in entry:
        raise InputError(
            "vertebra entry is not an object with 'level'",
            source=source,
            item=f"vertebrae[{index}]",
            expected='{"level": "L1", "genant_grade": 0-3, "deformity": ...}',
        )
    level = normalise_level(entry["level"], source=source)
    grade = entry.get("genant_grade")
    if grade is None:
        return None
    if isinstance(grade, bool) or grade not in (0, 1, 2, 3):
        raise InputError(
            "not a Genant grade",
            source=source,
            item=f"{level} genant_grade",
            value=grade,
            expected="0, 1, 2, 3 or null",
        )
    if grade == 0:
        return level
    kind = entry.get("deformity")
    if kind not in _DEFORMITY_TYPES:
        raise InputError(
            "unknown deformity type",
            source=source,
            item=f"{level} deformity",
            value=kind,
            expected=", ".join(_DEFORMITY_TYPES) + " for grade 1-3",
        )
    flags = entry.get("flags") or ()
    if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
        raise InputError(
            "flags must be a list of words", source=source, item=f"{level} flags", value=flags
        )
    loss = _number(
        entry.get("height_loss_pct"), source=source, item=f"{level} height_loss_pct", high=100
    )
    return VertebralDeformity(level, str(kind), int(grade), loss, tuple(flags))


def read_morphometry(path: Path) -> DeformityFindings:
    """Read ``morphometry.json`` (``spinestab morphometry``): the deformities of grade >= 1.

    Grade-0 vertebrae are listed as graded; vertebrae without a grade (not measurable) are
    left out of both.
    """
    source = str(path)
    data = read_json(path)
    entries = data.get("vertebrae") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise InputError(
            "no vertebrae", source=source, item="vertebrae", expected="a list of vertebrae"
        )
    parsed = [_morphometry_entry(e, source=source, index=i) for i, e in enumerate(entries)]
    deformities = tuple(p for p in parsed if isinstance(p, VertebralDeformity))
    graded = tuple(p if isinstance(p, str) else p.level for p in parsed if p is not None)
    return DeformityFindings(deformities, graded, source=path.name)


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


def questionnaire_files(folder: Path) -> list[Path]:
    """List the questionnaire files of a patient folder (and its ``questionnaires/``).

    Outputs of earlier runs, the other commands' JSON files, ``history.json``,
    ``instability.json``, plan versions and session logs are left out.
    """
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
