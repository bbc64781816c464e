"""From per-slice sums to the rows of ``muscle_quality.csv``: one label at one level.

:func:`aggregate` sums one label over the slices of one level (CSA, volume, fat, lean CSA,
intensity, vertebral-body ratio) with its flags; the study-wide flags (asymmetry, weak fat
classes, swapped sides) are added over all rows; :func:`to_muscle_row` grades the row and
compares it with a reference measured the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab.core.results import MuscleRow
from spinestab.errors import InputError
from spinestab.imaging.fat import FatMap
from spinestab.imaging.grading import GradingScheme
from spinestab.imaging.labels import LabelEntry, vertebra_order
from spinestab.imaging.muscle_sums import SliceTable
from spinestab.imaging.reference import (
    BUILTIN_REFERENCES,
    MISSING_NOTE,
    Reference,
    ReferenceQuery,
    compare_with_reference,
)

__all__ = ["LabelSlices", "RowContext", "aggregate", "to_muscle_row"]


@dataclass(frozen=True)
class LabelSlices:
    """One label's per-slice arrays (a row of a :class:`SliceTable`)."""

    count: np.ndarray
    area: np.ndarray
    int_sum: np.ndarray
    valid_n: np.ndarray
    nan_n: np.ndarray
    fat_sum: np.ndarray | None
    fat_n: np.ndarray | None
    slice_ff: np.ndarray

    @classmethod
    def of(cls, table: SliceTable, r: int) -> LabelSlices:
        """Row ``r`` of the table."""
        sums = table.sums
        return cls(
            table.count[r],
            table.area[r],
            sums["sum"][r],
            table.valid_n[r],
            sums["nan"][r],
            sums["fat_sum"][r] if table.has_fat else None,
            sums["fat_n"][r] if table.has_fat else None,
            table.slice_ff[r],
        )


def _empty(out: dict[str, Any]) -> dict[str, Any]:
    out["flags"].append("empty_at_level")
    nan = math.nan
    out.update(
        csa_max_mm2=nan,
        csa_mean_mm2=nan,
        volume_ml=0.0,
        fat_fraction_pct=nan,
        lean_csa_mean_mm2=nan,
        mean_intensity=nan,
    )
    return out


def _fat_columns(lab: LabelSlices, present: np.ndarray, a: np.ndarray) -> dict[str, Any]:
    """Fat fraction (%), lean CSA and the undefined-voxel flag over the present slices."""
    nan = math.nan
    if lab.fat_sum is None or lab.fat_n is None:
        return {"fat_fraction_pct": nan, "lean_csa_mean_mm2": nan, "flags": []}
    fn = float(lab.fat_n[present].sum())
    undefined = int(lab.count[present].sum() - fn)
    flags = [f"fat_undefined_voxels:{undefined}"] if undefined else []
    ff = float(lab.fat_sum[present].sum() / fn) if fn > 0 else nan
    lean = a * (1.0 - lab.slice_ff[present])
    lean_mean = float(np.nanmean(lean)) if np.isfinite(lean).any() else nan
    return {"fat_fraction_pct": ff * 100.0, "lean_csa_mean_mm2": lean_mean, "flags": flags}


def _body_ratio(csa_mean: float, vb_area: np.ndarray, present: np.ndarray) -> float | None:
    """``csa_mean`` over the mean vertebral-body area of the slices (None: no body there)."""
    vb = vb_area[present]
    vb = vb[vb > 0]
    return csa_mean / float(vb.mean()) if vb.size else None


def aggregate(
    entry: LabelEntry,
    value: int,
    level: str,
    in_level: np.ndarray,
    lab: LabelSlices,
    vb_area: np.ndarray | None,
    *,
    vox_ml: float,
    truncated: bool,
) -> dict[str, Any]:
    """One label over the slices of one level: the row's numbers and flags (a dict)."""
    flags: list[str] = ["note:" + entry.note.replace(";", ",")] if entry.note else []
    present = in_level & (lab.count > 0)
    n = int(present.sum())
    out: dict[str, Any] = {
        "muscle": entry.name,
        "side": entry.side,
        "level": level,
        "label_value": value,
        "n_slices": n,
        "flags": flags,
        "csa_to_vertebral_body": math.nan,
        "asymmetry_pct": math.nan,
    }
    if n == 0:
        return _empty(out)
    if truncated:
        flags.append("level_truncated_by_field_of_view")
    a = lab.area[present]
    csa_mean = float(a.mean())
    out["csa_max_mm2"] = float(a.max())
    out["csa_mean_mm2"] = csa_mean
    out["volume_ml"] = float(lab.count[present].sum() * vox_ml)
    n_nan = int(lab.nan_n[present].sum())
    if n_nan:
        flags.append(f"nan_voxels:{n_nan}")
    vn = float(lab.valid_n[present].sum())
    out["mean_intensity"] = float(lab.int_sum[present].sum() / vn) if vn > 0 else math.nan
    fat = _fat_columns(lab, present, a)
    flags.extend(fat.pop("flags"))
    out.update(fat)
    if vb_area is not None:
        ratio = _body_ratio(csa_mean, vb_area, present)
        if ratio is None:
            flags.append("no_vertebral_body_at_level")
        else:
            out["csa_to_vertebral_body"] = ratio
    return out


def weakly_separated(
    fat: FatMap | None, entries: Sequence[LabelEntry], values: Sequence[int]
) -> set[tuple[str, str]]:
    """(muscle, side) whose single-contrast fat classes explain too little of the variance."""
    from spinestab.imaging.fat import MIN_CLASS_SEPARATION

    if fat is None:
        return set()
    by_label = fat.details.get("classifier_by_label") or {}
    weak_keys = {
        k for k, info in by_label.items() if info.get("separation", 1.0) < MIN_CLASS_SEPARATION
    }
    if not weak_keys:
        return set()
    weak = {
        (e.name, e.side)
        for e, v in zip(entries, values, strict=True)
        if v >= 0 and ("all" in weak_keys or str(v) in weak_keys)
    }
    for e in entries:  # derived rows inherit the flag of their parts
        if e.value == -1 and any(
            (part, e.side) in weak for part in ("multifidus", "erector_spinae")
        ):
            weak.add((e.name, e.side))
    return weak


def swapped_sides(entries: Sequence[LabelEntry], x_sum: np.ndarray, count: np.ndarray) -> set[str]:
    """Muscles whose right label does not lie at larger world x than the left one."""
    centre = {
        (e.name, e.side): float(x_sum[r] / count[r]) for r, e in enumerate(entries) if count[r] > 0
    }
    return {
        name
        for (name, side), x in centre.items()
        if side == "right" and (name, "left") in centre and x < centre[(name, "left")]
    }


def add_asymmetry(raw: list[dict[str, Any]]) -> None:
    index = {(d["muscle"], d["side"], d["level"]): d for d in raw}
    for (muscle, side, level), d in index.items():
        if side != "right":
            continue
        left = index.get((muscle, "left", level))
        if left is None:
            continue
        r, lft = d["csa_mean_mm2"], left["csa_mean_mm2"]
        if math.isfinite(r) and math.isfinite(lft) and r + lft > 0:
            asym = 100.0 * (r - lft) / ((r + lft) / 2.0)
            d["asymmetry_pct"] = asym
            left["asymmetry_pct"] = asym


def add_study_flags(
    raw: list[dict[str, Any]],
    *,
    weak: set[tuple[str, str]],
    swapped: set[str],
    name_flag: str,
) -> None:
    """Flag rows of weakly separated fat classes, swapped sides and doubtful level names."""
    for d in raw:
        if d["n_slices"] and (d["muscle"], d["side"]) in weak:
            d["flags"].append("fat_classes_weakly_separated")
    for d in raw:
        if d["muscle"] in swapped:
            d["flags"].append("laterality_suspect")  # right side not at larger world x
    for d in raw:
        if name_flag and d["level"] != "all":
            d["flags"].append(name_flag)


@dataclass(frozen=True)
class RowContext:
    """What grading and the reference comparison of every row share."""

    fat_method: str
    has_fat: bool
    grading: GradingScheme
    present_levels: list[str]
    truncated: set[str]
    names_state: str
    sex: str | None = None
    age: float | None = None
    references: tuple[Reference, ...] = field(default=BUILTIN_REFERENCES)


def to_muscle_row(d: dict[str, Any], ctx: RowContext) -> MuscleRow:
    """Grade one aggregated row and compare it with a reference: a :class:`MuscleRow`."""
    query = ReferenceQuery(
        muscle=d["muscle"],
        level=d["level"],
        levels_covered=ctx.present_levels,
        fat_method=ctx.fat_method,
        sex=ctx.sex,
        age=ctx.age,
        truncated_levels=ctx.truncated,
        outside_levels=d["outside"],
        level_names=ctx.names_state,
        span_values=d["span_ff"] if d["level"] == "all" else None,
    )
    note, ref, z = compare_with_reference(d["fat_fraction_pct"], query, references=ctx.references)
    if not ctx.has_fat:
        note = "no fat estimate; " + MISSING_NOTE
    return MuscleRow(
        muscle=d["muscle"],
        side=d["side"],
        level=d["level"],
        csa_max_mm2=d["csa_max_mm2"],
        csa_mean_mm2=d["csa_mean_mm2"],
        volume_ml=d["volume_ml"],
        fat_fraction_pct=d["fat_fraction_pct"],
        fat_method=ctx.fat_method,
        lean_csa_mean_mm2=d["lean_csa_mean_mm2"],
        grade=ctx.grading.grade(d["fat_fraction_pct"]),
        asymmetry_pct=d["asymmetry_pct"],
        reference_note=note,
        n_slices=d["n_slices"],
        mean_intensity=d["mean_intensity"],
        csa_to_vertebral_body=d["csa_to_vertebral_body"],
        grade_scheme=ctx.grading.label,
        reference_mean_pct=ref.mean_pct if ref else math.nan,
        reference_sd_pct=ref.sd_pct if ref else math.nan,
        reference_z=z if z is not None else math.nan,
        label_value=d["label_value"],
        flags=fmt_flags(d["flags"]),
    )


def fmt_flags(flags: Iterable[str]) -> str:
    return ";".join(sorted(set(flags)))


def level_rank(level: str) -> int:
    if level == "all":
        return 10_000
    try:
        return vertebra_order(level)
    except InputError:
        return 9_999
