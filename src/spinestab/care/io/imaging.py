"""Imaging results: ``muscle_quality.csv``, ``instability.json`` and ``morphometry.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinestab.care.io._common import parse_number, read_csv_rows, read_json
from spinestab.care.profile import (
    MEYERDING_ROMAN,
    VERDICT_ORDER,
    DeformityFindings,
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
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = [
    "FAT_PCT_RANGE",
    "MUSCLE_COLUMNS",
    "read_instability",
    "read_morphometry",
    "read_muscle_quality",
]

#: Columns ``muscle_quality.csv`` must have for the care profile (issue 3 contract).
MUSCLE_COLUMNS = MUSCLE_QUALITY_REQUIRED
#: Accepted fat fractions (%): the voxel range ``spinestab mri`` accepts for PDFF maps.
FAT_PCT_RANGE = (-10.0, 110.0)


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
    rows = read_csv_rows(path, MUSCLE_COLUMNS)
    parsed = []
    for number, row in enumerate(rows, start=2):
        # PDFF maps keep small negative (noise) values so that means stay unbiased;
        # spinestab mri refuses voxels outside -10..110 %, so a mean lies within that too
        fat = parse_number(
            row["fat_fraction_pct"],
            source=source,
            item=f"line {number} fat_fraction_pct",
            low=FAT_PCT_RANGE[0],
            high=FAT_PCT_RANGE[1],
        )
        asym = parse_number(
            row.get("asymmetry_pct"), source=source, item=f"line {number} asymmetry_pct"
        )
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


def _grade(value: Any, *, source: str, item: str) -> int | None:
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "none", "null", "nan")
    ):
        return None
    if isinstance(value, str) and value.strip().upper() in MEYERDING_ROMAN:
        return MEYERDING_ROMAN[value.strip().upper()]
    number = parse_number(value, source=source, item=item, low=0, high=5)
    if number is None or number != int(number):
        raise InputError(
            "not a Meyerding grade", source=source, item=item, value=value, expected="0-5 or I-V"
        )
    return int(number)


def _verdict(value: Any, *, source: str, item: str) -> str | None:
    if value is None or value == "":
        return None
    written = str(value).strip().lower().replace("-", "_")
    text = {
        "unstable_likely": "unstable",
        "not_assessed": None,
        "not_assessable": None,
        "n/a": None,
    }.get(written, written)
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
                slip_mm=parse_number(entry.get("slip_mm"), source=source, item=f"{item} slip_mm"),
                slip_pct=parse_number(
                    entry.get("slip_pct"), source=source, item=f"{item} slip_pct"
                ),
                meyerding_grade=_grade(
                    entry.get("meyerding_grade"), source=source, item=f"{item} meyerding_grade"
                ),
                translation_mm=parse_number(
                    entry.get("translation_mm"), source=source, item=f"{item} translation_mm"
                ),
                translation_pct=parse_number(
                    entry.get("translation_pct"), source=source, item=f"{item} translation_pct"
                ),
                angulation_deg=parse_number(
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
    check_choice(
        f"{level} genant_grade",
        grade,
        (0, 1, 2, 3),
        source=source,
        message="not a Genant grade",
        expected="0, 1, 2, 3 or null",
    )
    if grade == 0:
        return level
    kind = entry.get("deformity")
    check_choice(
        f"{level} deformity",
        kind,
        _DEFORMITY_TYPES,
        source=source,
        message="unknown deformity type",
        expected=", ".join(_DEFORMITY_TYPES) + " for grade 1-3",
    )
    flags = entry.get("flags") or ()
    if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
        raise InputError(
            "flags must be a list of words", source=source, item=f"{level} flags", value=flags
        )
    loss = parse_number(
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
