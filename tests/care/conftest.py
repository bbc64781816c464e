"""Builders for patient folders written in the real file formats of the other commands."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from spinestab.clinical import load_red_flag_rules

DATE = "2024-03-04"
SBST_KEYS = (
    "leg_pain",
    "shoulder_neck_pain",
    "walking",
    "dressing",
    "fear",
    "anxiety",
    "catastrophising",
    "depression",
)
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
MUSCLE_COLUMNS = (
    "muscle",
    "side",
    "level",
    "csa_max_mm2",
    "csa_mean_mm2",
    "volume_ml",
    "fat_fraction_pct",
    "fat_method",
    "lean_csa_mean_mm2",
    "grade",
    "asymmetry_pct",
    "reference_note",
)


def startback_answers(risk: str) -> dict[str, Any]:
    """Answers giving a known STarT Back group (scoring per CLINICAL_LOGIC §2.1).

    low: total 2; medium: total 5 with psychosocial 2; high: total 7 with psychosocial 5.
    """
    positive = {
        "low": {"leg_pain", "walking"},
        "medium": {"leg_pain", "walking", "dressing", "fear", "anxiety"},
        "high": {"leg_pain", "walking", "fear", "anxiety", "catastrophising", "depression"},
    }[risk]
    answers: dict[str, Any] = {k: k in positive for k in SBST_KEYS}
    answers["bothersomeness"] = 4 if risk == "high" else 2
    return answers


def write_form(folder: Path, name: str, instrument: str, answers: Any, date: str = DATE) -> None:
    (folder / name).write_text(
        json.dumps({"instrument": instrument, "date": date, "answers": answers})
    )


PatientFactory = Callable[..., Path]


@pytest.fixture
def make_patient(tmp_path: Path) -> PatientFactory:
    """Return a function that writes a patient folder and returns its path."""
    counter = {"n": 0}
    items = list(load_red_flag_rules().items)

    def make(
        *,
        red_flags: Iterable[str] | None = (),
        risk: str | None = "medium",
        nrs: int | None = 5,
        odi: list[int | None] | None = None,
        odi_baseline: list[int | None] | None = None,
        history: Mapping | None = None,
        instability: Any = None,
        multifidus_fat: float | None = None,
        daily: list[dict[str, Any]] | None = None,
        name: str | None = None,
    ) -> Path:
        counter["n"] += 1
        folder = tmp_path / (name or f"patient{counter['n']}")
        folder.mkdir()
        if red_flags is not None:
            positive = set(red_flags)
            write_form(folder, "redflags.json", "redflags", {i: i in positive for i in items})
        if risk is not None:
            write_form(folder, "startback.json", "startback", startback_answers(risk))
        if nrs is not None:
            write_form(folder, "nrs.json", "nrs", {"pain": nrs})
        if odi is not None:
            write_form(folder, "odi.json", "odi", {f"s{i + 1}": v for i, v in enumerate(odi)})
        if odi_baseline is not None:
            write_form(
                folder,
                "odi_base.json",
                "odi",
                {f"s{i + 1}": v for i, v in enumerate(odi_baseline)},
                "2023-11-06",
            )
        if history is not None:
            (folder / "history.json").write_text(json.dumps(dict(history)))
        if instability is not None:
            (folder / "instability.json").write_text(json.dumps(instability))
        if multifidus_fat is not None:
            with (folder / "muscle_quality.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(MUSCLE_COLUMNS)
                for level in ("L4", "L5"):
                    for side in ("left", "right"):
                        writer.writerow(
                            [
                                "multifidus",
                                side,
                                level,
                                900,
                                850,
                                3.4,
                                multifidus_fat - (2 if level == "L4" else 0),
                                "dixon",
                                500,
                                "",
                                4.0,
                                "test",
                            ]
                        )
                writer.writerow(
                    [
                        "psoas",
                        "left",
                        "L4",
                        1500,
                        1400,
                        6.0,
                        80.0,
                        "dixon",
                        300,
                        "",
                        "",
                        "high fat in another muscle: ignored",
                    ]
                )
        if daily is not None:
            with (folder / "daily.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=DAILY_COLUMNS)
                writer.writeheader()
                for row in daily:
                    writer.writerow(row)
        return folder

    return make


def slip_level(
    level: str = "L4-L5", *, slip_mm: float = 9.0, grade: int = 2, verdict: str = "stable"
) -> dict[str, Any]:
    """One instability.json level entry."""
    return {
        "level": level,
        "slip_mm": slip_mm,
        "slip_pct": slip_mm / 38 * 100,
        "meyerding_grade": grade,
        "translation_mm": 1.0,
        "translation_pct": 2.6,
        "angulation_deg": 6.0,
        "verdict": verdict,
        "reasons": ["test"],
    }


def daily_row(
    day: int, *, wear: int = 840, walking: int = 40, bouts: int = 6, longest: int = 90
) -> dict[str, Any]:
    """One daily.csv row (trunk + thigh: upright_static 0; postures add up to <= wear)."""
    scale = max(0.0, min(1.0, (wear - walking) / 700))
    return {
        "date": f"2024-02-{day:02d}",
        "wear_min": wear,
        "lying_min": round(30 * scale),
        "sitting_min": round(500 * scale),
        "standing_min": round(150 * scale),
        "upright_static_min": 0,
        "walking_min": walking,
        "steps": 5000,
        "forward_ge20_min": 50,
        "forward_ge30_min": 30,
        "forward_ge60_min": 5,
        "forward_ge90_min": 1,
        "longest_static_bout_min": longest,
        "static_bouts_over_30min": bouts,
        "breaks": 40,
        "prompts": 4,
    }
