"""Comparison of fat fractions with reference values measured the same way.

Only values whose source was read are built in. What is missing is said, never filled in:

* Si F et al., Quant Imaging Med Surg 2023;13:4526-39 (doi 10.21037/qims-22-1131,
  PMC10347357): 336 asymptomatic Chinese adults aged 20-69, fat signal fraction (FSF) by
  MRI, mean over L1-L5, by sex. Only the abstract's means +- SD were available here
  [V: abstract]; the per-level and per-age tables were not, and the acquisition is taken to
  be chemical-shift (Dixon-type) FSF [R]. So they are compared only with Dixon fat
  fractions averaged over exactly L1-L5.
* Crawford RJ et al., AJNR 2016;37:742-8 (doi 10.3174/ajnr.A4596): 80 healthy volunteers
  aged 20-62, 2-point Dixon 3T fat signal fraction of multifidus and erector spinae together
  (our ``autochthon``): over L1-L5 and at L5, by sex [V: abstract]. Its per-level, per-muscle
  and per-decade tables were not available here.

Users can pass their own table (CSV columns ``muscle, level, sex, age_min, age_max,
method, mean_pct, sd_pct, source``) measured the way they measure.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spinestab.errors import InputError

__all__ = ["BUILTIN_REFERENCES", "Reference", "compare_with_reference", "load_reference_table"]

_SI_2023 = (
    "Si 2023 QIMS 13:4526 (PMC10347357), asymptomatic Chinese adults 20-69 y, "
    "FSF mean over L1-L5 [V: abstract]"
)


@dataclass(frozen=True)
class Reference:
    """One reference value: mean +- SD of fat fraction (%)."""

    muscle: str
    level: str  # a vertebra name, or "L1-L5" for a mean over those levels
    sex: str  # "female", "male" or "any"
    age_min: float
    age_max: float
    method: str  # fat method family: dixon, pdff, ct_hu, t1w...
    mean_pct: float
    sd_pct: float
    source: str


_CRAWFORD_2016 = (
    "Crawford 2016 AJNR 37:742 (doi 10.3174/ajnr.A4596), healthy volunteers 20-62 y, "
    "2-point Dixon FSF of multifidus + erector spinae together [V: abstract]"
)

BUILTIN_REFERENCES: tuple[Reference, ...] = (
    Reference("autochthon", "L1-L5", "female", 20, 62, "dixon", 17.8, 10.7, _CRAWFORD_2016),
    Reference("autochthon", "L1-L5", "male", 20, 62, "dixon", 14.7, 7.8, _CRAWFORD_2016),
    Reference("autochthon", "L5", "female", 20, 62, "dixon", 31.9, 9.3, _CRAWFORD_2016),
    Reference("autochthon", "L5", "male", 20, 62, "dixon", 25.7, 8.0, _CRAWFORD_2016),
    Reference("multifidus", "L1-L5", "female", 20, 69, "dixon", 21.14, 6.77, _SI_2023),
    Reference("multifidus", "L1-L5", "male", 20, 69, "dixon", 16.21, 6.26, _SI_2023),
    Reference("erector_spinae", "L1-L5", "female", 20, 69, "dixon", 15.97, 5.56, _SI_2023),
    Reference("erector_spinae", "L1-L5", "male", 20, 69, "dixon", 12.37, 4.80, _SI_2023),
)

MISSING_NOTE = "per-level reference tables (Crawford 2016; Si 2023 by level and age) not available"


def load_reference_table(path: str | Path) -> tuple[Reference, ...]:
    """Read a user reference table (CSV; see module docstring)."""
    path = Path(path)
    need = [
        "muscle",
        "level",
        "sex",
        "age_min",
        "age_max",
        "method",
        "mean_pct",
        "sd_pct",
        "source",
    ]
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not set(need) <= set(reader.fieldnames):
                raise InputError(
                    "reference table lacks columns",
                    source=str(path),
                    value=reader.fieldnames,
                    expected=", ".join(need),
                )
            out = []
            for n, row in enumerate(reader, start=2):
                try:
                    out.append(
                        Reference(
                            row["muscle"].strip(),
                            row["level"].strip(),
                            row["sex"].strip().lower(),
                            float(row["age_min"]),
                            float(row["age_max"]),
                            row["method"].strip(),
                            float(row["mean_pct"]),
                            float(row["sd_pct"]),
                            row["source"].strip(),
                        )
                    )
                except ValueError as exc:
                    raise InputError(
                        f"bad number ({exc})", source=str(path), item=f"line {n}"
                    ) from exc
    except FileNotFoundError as exc:
        raise InputError("reference table not found", source=str(path)) from exc
    return tuple(out)


def method_family(fat_method: str) -> str:
    """Family of a fat method tag: ``dixon``, ``pdff``, ``ct_hu`` or the contrast (``t1w``)."""
    if fat_method.startswith("ct_hu"):
        return "ct_hu"
    return fat_method.split("_", 1)[0]


def _level_matches(ref_level: str, level: str, levels_covered: Sequence[str]) -> bool:
    if ref_level == level:
        return True
    if level == "all" and "-" in ref_level:
        lo, hi = ref_level.split("-", 1)
        from spinestab.imaging.labels import VERTEBRAE

        span = VERTEBRAE[VERTEBRAE.index(lo) : VERTEBRAE.index(hi) + 1]
        return sorted(levels_covered) == sorted(span)
    return False


def compare_with_reference(
    ff_pct: float,
    *,
    muscle: str,
    level: str,
    levels_covered: Sequence[str],
    fat_method: str,
    sex: str | None,
    age: float | None,
    references: Iterable[Reference] = BUILTIN_REFERENCES,
) -> tuple[str, Reference | None, float | None]:
    """Compare one fat fraction with a matching reference.

    Returns
    -------
    note : str
        What was compared, or why nothing was.
    reference : Reference or None
    z : float or None
        ``(ff - mean) / sd``.

    """
    refs = [r for r in references if r.muscle == muscle]
    if not refs:
        return f"no reference for {muscle}; {MISSING_NOTE}", None, None
    if not math.isfinite(ff_pct):
        return "fat fraction undefined; not compared", None, None
    if sex is None:
        return "sex not given; not compared with sex-specific references", None, None
    family = method_family(fat_method)
    same_method = [r for r in refs if r.method == family]
    if not same_method:
        methods = sorted({r.method for r in refs})
        return (
            f"references for {muscle} are measured by {', '.join(methods)}, not {family}: "
            f"not compared; {MISSING_NOTE}",
            None,
            None,
        )
    cands = [
        r
        for r in same_method
        if r.sex in (sex, "any")
        and (age is None or r.age_min <= age <= r.age_max)
        and _level_matches(r.level, level, levels_covered)
    ]
    if not cands:
        return (
            f"no reference for {muscle} at level {level} (levels covered: "
            f"{'-'.join(levels_covered[:1] + levels_covered[-1:]) or 'none'}), sex {sex}, "
            f"method {family}; {MISSING_NOTE}",
            None,
            None,
        )
    ref = cands[0]
    z = (ff_pct - ref.mean_pct) / ref.sd_pct if ref.sd_pct > 0 else None
    ztxt = f", z = {z:+.2f}" if z is not None else ""
    note = (
        f"{ff_pct:.1f} % vs {ref.mean_pct:.2f} +- {ref.sd_pct:.2f} % "
        f"({ref.source}, {ref.sex}){ztxt}"
    )
    return note, ref, z
