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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from spinestab.errors import InputError

__all__ = [
    "BUILTIN_REFERENCES",
    "Reference",
    "ReferenceQuery",
    "compare_with_reference",
    "load_reference_table",
    "span_levels",
]

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
                    ref = Reference(
                        (row["muscle"] or "").strip().lower(),
                        (row["level"] or "").strip().upper(),
                        _SEX.get((row["sex"] or "").strip().lower(), (row["sex"] or "").strip()),
                        float(row["age_min"]),
                        float(row["age_max"]),
                        (row["method"] or "").strip().lower(),
                        float(row["mean_pct"]),
                        float(row["sd_pct"]),
                        (row["source"] or "").strip(),
                    )
                except (TypeError, ValueError) as exc:
                    raise InputError(
                        f"bad number ({exc})", source=str(path), item=f"line {n}"
                    ) from exc
                _check_reference(ref, source=str(path), item=f"line {n}")
                out.append(ref)
    except FileNotFoundError as exc:
        raise InputError("reference table not found", source=str(path)) from exc
    return tuple(out)


_SEX = {"f": "female", "w": "female", "female": "female", "m": "male", "male": "male"}
_SEX |= {"any": "any", "all": "any", "both": "any"}
_METHODS = ("dixon", "pdff", "ct_hu", "t1w", "t2w")


def _check_reference(ref: Reference, *, source: str, item: str) -> None:
    """Refuse a reference row that could never be matched or would give a wrong z."""
    from spinestab.imaging.labels import MUSCLES, vertebra_order

    problems: list[tuple[str, object, str]] = []
    if ref.muscle not in MUSCLES:
        problems.append(("unknown muscle", ref.muscle, ", ".join(MUSCLES)))
    try:
        if span_levels(ref.level) is None:
            vertebra_order(ref.level)
    except InputError:
        problems.append(("unknown level", ref.level, "a vertebra (L5) or a span (L1-L5)"))
    if ref.sex not in ("female", "male", "any"):
        problems.append(("unknown sex", ref.sex, "female, male or any"))
    if ref.method not in _METHODS:
        problems.append(("unknown method", ref.method, ", ".join(_METHODS)))
    if not (0 <= ref.age_min <= ref.age_max):
        problems.append(("bad age range", (ref.age_min, ref.age_max), "0 <= age_min <= age_max"))
    if not (0 <= ref.mean_pct <= 100):
        problems.append(("mean_pct outside 0-100 %", ref.mean_pct, "a percentage"))
    if not (ref.sd_pct > 0 and math.isfinite(ref.sd_pct)):
        problems.append(("sd_pct must be positive", ref.sd_pct, "a standard deviation > 0"))
    if problems:
        what, value, expected = problems[0]
        raise InputError(
            f"reference table: {what}", source=source, item=item, value=value, expected=expected
        )


def method_family(fat_method: str) -> str:
    """Family of a fat method tag: ``dixon``, ``pdff``, ``ct_hu`` or the contrast (``t1w``)."""
    if fat_method.startswith("ct_hu"):
        return "ct_hu"
    return fat_method.split("_", 1)[0]


def span_levels(ref_level: str) -> list[str] | None:
    """Levels of a span reference such as ``"L1-L5"``; None for a single level."""
    if "-" not in ref_level:
        return None
    from spinestab.imaging.labels import VERTEBRAE

    lo, hi = ref_level.split("-", 1)
    if lo not in VERTEBRAE or hi not in VERTEBRAE:
        return None
    return list(VERTEBRAE[VERTEBRAE.index(lo) : VERTEBRAE.index(hi) + 1])


def _not(reason: str) -> tuple[str, None, None]:
    return f"{reason}: not compared", None, None


class _NotCompared(Exception):  # noqa: N818 - a result, not an error
    """Raised by a step of :func:`compare_with_reference`: the note saying why not."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


@dataclass(frozen=True)
class ReferenceQuery:
    """One measured row to compare with a reference, and what the study says about it.

    Attributes
    ----------
    muscle, level : str
        The row (``level="all"``: every slice).
    levels_covered : tuple of str
        Levels assigned in the image, cranial to caudal.
    fat_method : str
        The method tag of the fat estimate.
    sex : str, optional
        ``female`` or ``male``.
    age : float, optional
        Years.
    truncated_levels : frozenset of str
        Levels cut by the field of view (their mean is over part of the level).
    outside_levels : bool
        The muscle has voxels in slices without a level (for the ``all`` row).
    level_names : str
        ``""``, ``"assumed"`` (compared, and said) or ``"doubtful"`` (not compared).
    span_values : mapping, optional
        For the ``all`` row: the fat fraction (%) over the slices of each span (e.g.
        ``{"L1-L5": 17.2}``, voxel-weighted). With it an image reaching beyond the span is
        compared on the span's own value (named in the note); without it the image must
        cover exactly the span.

    """

    muscle: str
    level: str
    levels_covered: Sequence[str] = ()
    fat_method: str = ""
    sex: str | None = None
    age: float | None = None
    truncated_levels: Iterable[str] = ()
    outside_levels: bool = False
    level_names: str = ""
    span_values: Mapping[str, float] | None = None

    @property
    def span_text(self) -> str:
        """The levels covered as ``first-last`` (``none`` without levels)."""
        covered = list(self.levels_covered)
        return "-".join(covered[:1] + covered[-1:]) or "none"


def compare_with_reference(
    ff_pct: float,
    query: ReferenceQuery,
    *,
    references: Iterable[Reference] = BUILTIN_REFERENCES,
) -> tuple[str, Reference | None, float | None]:
    """Compare one fat fraction with a reference measured the same way, or say why not.

    A reference is used only when all of these match: muscle, method family (Dixon signal
    fat fraction is not PDFF, and neither is a single-contrast threshold or CT), level
    (a span such as ``L1-L5`` only for the row over all slices, when the image covers
    exactly that span, no level of it is cut by the field of view and the muscle has no
    voxels outside it), sex, and age within the reference cohort's range.

    Parameters
    ----------
    ff_pct : float
        The measured fat fraction (%).
    query : ReferenceQuery
        The row and what the study says about it (levels, sex, age...).
    references : iterable of Reference
        The table to search.

    Returns
    -------
    note : str
        What was compared (with the source), or why nothing was.
    reference : Reference or None
    z : float or None
        ``(ff - mean) / sd``.

    """
    try:
        same_method = _same_method(ff_pct, query, list(references))
        cands, ff_pct, span_note = _at_level(ff_pct, query, same_method)
        ref = _for_subject(query, cands)
    except _NotCompared as why:
        return why.note, None, None
    z = (ff_pct - ref.mean_pct) / ref.sd_pct if ref.sd_pct > 0 else None
    ztxt = f", z = {z:+.2f}" if z is not None else ""
    caveat = "level names assumed (anchor); " if query.level_names == "assumed" else ""
    note = (
        f"{caveat}{span_note}{ff_pct:.1f} % vs {ref.mean_pct:.2f} +- {ref.sd_pct:.2f} % "
        f"({ref.source}, {ref.sex}, {ref.level}){ztxt}"
    )
    return note, ref, z


def _same_method(
    ff_pct: float, query: ReferenceQuery, references: list[Reference]
) -> list[Reference]:
    """Return the muscle's references measured by the same method family."""
    muscle = query.muscle
    refs = [r for r in references if r.muscle == muscle]
    if not refs:
        raise _NotCompared(f"no reference for {muscle}: not compared; {MISSING_NOTE}")
    if not math.isfinite(ff_pct):
        raise _NotCompared("fat fraction undefined; not compared")
    family = method_family(query.fat_method)
    same_method = [r for r in refs if r.method == family]
    if not same_method:
        methods = sorted({r.method for r in refs})
        raise _NotCompared(
            f"references for {muscle} are measured by {', '.join(methods)}, not {family}: "
            f"not compared; {MISSING_NOTE}"
        )
    return same_method


def _at_level(
    ff_pct: float, query: ReferenceQuery, same_method: list[Reference]
) -> tuple[list[Reference], float, str]:
    """Return the level's (or a span's) references, the value to compare and a note."""
    level = query.level
    at_level = [r for r in same_method if r.level == level]
    spans = [r for r in same_method if level == "all" and span_levels(r.level) is not None]
    if not at_level and not spans:
        have = ", ".join(sorted({r.level for r in same_method}))
        family = method_family(query.fat_method)
        raise _NotCompared(
            f"no {family} reference for {query.muscle} at level {level} (references: {have}; "
            f"levels covered: {query.span_text}): not compared; {MISSING_NOTE}"
        )
    if query.level_names == "doubtful":
        raise _NotCompared(_not("level names doubtful (see flags)")[0])
    if at_level:
        if level in set(query.truncated_levels):
            reason = f"{level} is cut by the field of view; the reference is the whole level"
            raise _NotCompared(_not(reason)[0])
        return at_level, ff_pct, ""
    return _over_span(ff_pct, query, spans)


def _over_span(
    ff_pct: float, query: ReferenceQuery, spans: list[Reference]
) -> tuple[list[Reference], float, str]:
    """Return a span reference (``L1-L5``) for the ``all`` row: covered, uncut."""
    covered = list(query.levels_covered)
    span_values = query.span_values or {}
    exact = [r for r in spans if sorted(span_levels(r.level) or []) == sorted(covered)]
    within = [
        r
        for r in spans
        if r.level in span_values and set(span_levels(r.level) or []) <= set(covered)
    ]
    cands = exact or within
    if not cands:
        want = ", ".join(sorted({r.level for r in spans}))
        raise _NotCompared(
            f"the {want} reference is a mean over {want}; levels covered: {query.span_text}: "
            f"not compared; {MISSING_NOTE}"
        )
    span = span_levels(cands[0].level) or []
    cut = [lv for lv in span if lv in set(query.truncated_levels)]
    if cut:
        raise _NotCompared(
            _not(f"{', '.join(cut)} cut by the field of view; the reference spans it")[0]
        )
    if exact and not query.outside_levels:
        return cands, ff_pct, ""
    if cands[0].level not in span_values:
        raise _NotCompared(_not(f"the muscle reaches slices outside {query.span_text}")[0])
    value = float(span_values[cands[0].level])
    if not math.isfinite(value):
        raise _NotCompared(_not(f"fat fraction over {cands[0].level} undefined")[0])
    return cands, value, f"{cands[0].level} slices only: "


def _for_subject(query: ReferenceQuery, cands: list[Reference]) -> Reference:
    """Return the first reference of the patient's sex whose age range holds the age."""
    if query.sex is None:
        raise _NotCompared("sex not given; not compared with sex-specific references")
    cands = [r for r in cands if r.sex in (query.sex, "any")]
    if not cands:
        raise _NotCompared(_not(f"no {query.muscle} reference for sex {query.sex}")[0])
    ages = ", ".join(sorted({f"{r.age_min:g}-{r.age_max:g}" for r in cands}))
    if query.age is None:
        raise _NotCompared(_not(f"age not given; the reference cohort is aged {ages} y")[0])
    in_age = [r for r in cands if r.age_min <= query.age <= r.age_max]
    if not in_age:
        raise _NotCompared(_not(f"age {query.age:g} outside the reference cohort's {ages} y")[0])
    return in_age[0]
