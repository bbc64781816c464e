"""``spinestab cohort references``: reference bands of a cohort, for the next patient.

From a run's ``per_level/`` table (one row per subject, muscle, side and vertebral level):
mean and SD of the fat fraction (and of the largest CSA) by muscle, level, sex, age band and
fat method, with the number of subjects and of values (sides) behind each band. The table
has the columns :func:`spinestab.imaging.reference.load_reference_table` reads
(``muscle, level, sex, age_min, age_max, method, mean_pct, sd_pct, source``) and more
(``count``, ``n_values``, ``csa_max_mean_mm2``, ``csa_max_sd_mm2``), so that::

    spinestab cohort references OUT --out bands.csv
    spinestab mri ... --reference-table bands.csv --sex F --age 47

compares the next patient with the cohort, measured the same way.

What goes in: rows with a fat fraction, a known sex (female/male) and age, level names that
were found (``named``) or confirmed, not ``assumed`` or ``doubtful``, and levels not cut by
the field of view. Each side is one value (the patient's sides are compared one by one).
Age bands are ``[lo, hi)`` years; ``age_max`` is written as ``hi - 0.001``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinestab.errors import InputError, require

__all__ = ["DEFAULT_AGE_BANDS", "DEFAULT_MIN_COUNT", "ReferenceBands", "reference_bands"]

#: Age band edges in years, decades [D: a design default; configurable].
DEFAULT_AGE_BANDS: tuple[float, ...] = tuple(float(a) for a in range(0, 130, 10))
#: Fewest subjects behind a band that is written [D: a design default, configurable]. For
#: comparison: a clinical laboratory's non-parametric 95 % reference interval needs at least
#: 120 reference individuals per partition (CLSI EP28-A3c, 2010) [R]; bands under that are
#: named in the notes.
DEFAULT_MIN_COUNT = 20
CLSI_REFERENCE_COUNT = 120
#: The columns ``spinestab mri --reference-table`` reads, then this table's own.
COLUMNS = (
    "muscle",
    "level",
    "sex",
    "age_min",
    "age_max",
    "method",
    "mean_pct",
    "sd_pct",
    "source",
    "count",
    "n_values",
    "csa_max_mean_mm2",
    "csa_max_sd_mm2",
)
_GOOD_LEVEL_NAMES = ("named", "confirmed")
_PARTIAL = ("level_truncated", "absent_from_mask")


@dataclass
class ReferenceBands:
    """The bands and what was left out.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per band (:data:`COLUMNS`).
    notes : list of str
        Rows left out and why; bands not written and why.

    """

    table: Any
    notes: list[str] = field(default_factory=list)


def _band_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} y" if math.isfinite(hi) else f">= {lo:g} y"


def reference_bands(
    run_dir: str | Path,
    *,
    age_bands: Sequence[float] = DEFAULT_AGE_BANDS,
    min_count: int = DEFAULT_MIN_COUNT,
) -> ReferenceBands:
    """Compute reference bands from a cohort run's ``per_level/`` table.

    Parameters
    ----------
    run_dir : path-like
        Folder of a ``spinestab cohort run``.
    age_bands : sequence of float, keyword-only
        Increasing band edges in years; ages outside them are left out.
    min_count : int, keyword-only
        Fewest subjects for a band to be written.

    Returns
    -------
    ReferenceBands

    """
    pd = require("pandas", extra="cohort", feature="cohort reference bands")
    np = require("numpy", extra="cohort", feature="cohort reference bands")
    from spinestab.imaging.reference import method_family

    edges = [float(a) for a in age_bands]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InputError(
            "age bands must be increasing", item="--age-bands", value=edges, expected="0,40,80"
        )
    if min_count < 2:
        raise InputError("a band needs at least 2 subjects for an SD", item="--min-count")
    folder = Path(run_dir) / "per_level"
    if not folder.is_dir():
        raise InputError(
            "no per_level/ table (no MRI done in this run)",
            source=str(run_dir),
            expected="a cohort run with MRI tasks",
        )
    rows = pd.read_parquet(folder)
    notes = []
    total = len(rows)
    keep = np.isfinite(rows["fat_fraction_pct"].to_numpy(dtype=float))
    dropped = {"no fat fraction": int((~keep).sum())}
    known = rows["sex"].isin(["female", "male"]) & rows["age"].notna()
    dropped["sex or age unknown"] = int((keep & ~known).sum())
    keep &= known.to_numpy()
    names = rows["level_names"].isin(_GOOD_LEVEL_NAMES).to_numpy()
    dropped["level names assumed or doubtful"] = int((keep & ~names).sum())
    keep &= names
    flags = rows["flags"].fillna("")
    partial = flags.str.contains("|".join(_PARTIAL)).to_numpy()
    dropped["level cut by the field of view or muscle absent"] = int((keep & partial).sum())
    keep &= ~partial
    ages = rows["age"].to_numpy(dtype=float)
    band = np.searchsorted(edges, ages, side="right") - 1
    inside = (band >= 0) & (band < len(edges) - 1)
    dropped["age outside the bands"] = int((keep & ~inside).sum())
    keep &= inside
    for why, n in dropped.items():
        if n:
            notes.append(f"{n} of {total} per-level row(s) left out: {why}")
    use = rows[keep].copy()
    use["band"] = band[keep]
    tag = use["fat_method"].fillna("").where(use["fat_method"].fillna("") != "", use["method"])
    use["family"] = [method_family(str(m)) for m in tag]
    out = []
    few: list[str] = []
    flat: list[str] = []
    thin = 0
    run_name = Path(run_dir).resolve().name
    for (muscle, level, sex, b, family), g in use.groupby(
        ["muscle", "level", "sex", "band", "family"], sort=True
    ):
        count = g["subject"].nunique()
        ff = g["fat_fraction_pct"].to_numpy(dtype=float)
        sd = float(np.std(ff, ddof=1)) if len(ff) > 1 else math.nan
        lo, hi = edges[b], edges[b + 1]
        where = f"{muscle} {level} {sex} {_band_label(lo, hi)} {family}"
        if count < min_count:
            few.append(f"{where} ({count})")
            continue
        if not (sd > 0):
            flat.append(where)
            continue
        thin += count < CLSI_REFERENCE_COUNT
        csa = g["csa_max_mm2"].to_numpy(dtype=float)
        csa = csa[np.isfinite(csa)]
        out.append(
            {
                "muscle": muscle,
                "level": level,
                "sex": sex,
                "age_min": lo,
                "age_max": round(hi - 0.001, 3),
                "method": family,
                "mean_pct": round(float(ff.mean()), 4),
                "sd_pct": round(sd, 4),
                "source": f"spinestab cohort {run_name}: {count} subjects, {len(ff)} sides, "
                f"{family} fat fraction per side at {level}, {sex}, {_band_label(lo, hi)} "
                "[cohort]",
                "count": int(count),
                "n_values": len(ff),
                "csa_max_mean_mm2": round(float(csa.mean()), 2) if csa.size else math.nan,
                "csa_max_sd_mm2": round(float(csa.std(ddof=1)), 2) if csa.size > 1 else math.nan,
            }
        )
    for group, why in ((few, f"under --min-count {min_count} subjects"), (flat, "SD 0")):
        if group:
            shown = "; ".join(group[:3]) + ("; ..." if len(group) > 3 else "")
            notes.append(f"{len(group)} band(s) not written, {why}: {shown}")
    if thin:
        notes.append(
            f"{thin} band(s) rest on fewer than {CLSI_REFERENCE_COUNT} subjects, the size a "
            "laboratory reference interval needs (CLSI EP28-A3c) [R]: read their z with care"
        )
    return ReferenceBands(pd.DataFrame(out, columns=list(COLUMNS)), notes)
