"""Fat-infiltration grades from a fat fraction, under configurable schemes.

Every scheme names its source and evidence tag ([V] verified, [R] recalled, [D] design
decision; see shared/clinical/CLINICAL_LOGIC.md). Built-in schemes:

* ``three_grade_20_50`` (default): 0 = < 20 %, 1 = 20-50 %, 2 = > 50 % of the total
  (left plus right) multifidus cross-section. [V: "Fat in the lumbar multifidus muscles -
  predictive value and change following disc prosthesis surgery and multidisciplinary
  rehabilitation ...", BMC Musculoskelet Disord 2017, doi 10.1186/s12891-017-1505-5, Fig. 2
  legend; authors (Storheim K et al.) and volume [R]]. A visual scale of fat area; applying it
  per side to a measured fat fraction is a design decision [D].
* ``three_grade_10_50``: 0 = 0-10 %, 1 = 10-50 %, 2 = > 50 % (Kjaer 2007 style, as cited in
  CLINICAL_LOGIC.md 5.9 from Hildebrandt 2017, doi 10.1186/s12891-016-1376-1). Flagged
  **unconfirmed**: issue 3 could not confirm these cut-offs in the cited source.
* ``goutallier``: 0 normal, 1 some fatty streaks, 2 more muscle than fat, 3 as much fat as
  muscle, 4 more fat than muscle [R: Goutallier 1994; lumbar use e.g. Battaglia 2014,
  J Manipulative Physiol Ther 37:190-7]. It is a visual scale without published
  fat-fraction cut-offs, so it needs user-given cut-offs (four numbers, %).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["GRADING_SCHEMES", "GradingScheme", "get_grading_scheme"]


@dataclass(frozen=True)
class GradingScheme:
    """Grades from fat fraction cut-offs.

    Attributes
    ----------
    name : str
    cutoffs_pct : tuple of float or None
        Increasing cut-offs in percent; grade = number of cut-offs strictly below the value.
        ``None``: the scheme needs user cut-offs.
    source : str
        Citation and evidence tag.
    confirmed : bool
        False when the cut-offs could not be confirmed in their source.

    """

    name: str
    cutoffs_pct: tuple[float, ...] | None
    source: str
    confirmed: bool = True

    def grade(self, ff_pct: float) -> str:
        """Grade of one fat fraction (percent); ``""`` when undefined.

        Examples
        --------
        >>> GRADING_SCHEMES["three_grade_20_50"].grade(35.0)
        '1'

        """
        if self.cutoffs_pct is None:
            raise InputError(
                f"grading scheme '{self.name}' has no fat-fraction cut-offs",
                expected="cut-offs given by the user (e.g. --grade-cutoffs 5,25,45,55)",
            )
        if ff_pct is None or not math.isfinite(ff_pct):
            return ""
        return str(int(np.searchsorted(np.asarray(self.cutoffs_pct), ff_pct, side="left")))

    @property
    def label(self) -> str:
        """Name with an ``(unconfirmed)`` mark where needed."""
        return self.name if self.confirmed else f"{self.name} (unconfirmed)"


GRADING_SCHEMES = {
    "three_grade_20_50": GradingScheme(
        "three_grade_20_50",
        (20.0, 50.0),
        "BMC Musculoskelet Disord 2017, doi 10.1186/s12891-017-1505-5, Fig. 2 legend [V] "
        "(Storheim K et al. [R]); applied per side to a measured fat fraction [D]",
    ),
    "three_grade_10_50": GradingScheme(
        "three_grade_10_50",
        (10.0, 50.0),
        "Kjaer 2007 style as cited in CLINICAL_LOGIC 5.9 (Hildebrandt 2017, "
        "doi 10.1186/s12891-016-1376-1); cut-offs unconfirmed (issue 3)",
        confirmed=False,
    ),
    "goutallier": GradingScheme(
        "goutallier",
        None,
        "Goutallier 1994 visual 0-4 scale [R]; lumbar: Battaglia 2014 JMPT 37:190-7 [R]; "
        "no published fat-fraction cut-offs: user-given",
    ),
}


def get_grading_scheme(name: str, *, cutoffs_pct: Sequence[float] | None = None) -> GradingScheme:
    """Return a built-in scheme, optionally with user cut-offs (percent, increasing)."""
    check_choice(
        "grade_scheme",
        name,
        GRADING_SCHEMES,
        message="unknown grading scheme",
        expected=", ".join(GRADING_SCHEMES),
    )
    scheme = GRADING_SCHEMES[name]
    if cutoffs_pct is None:
        return scheme
    cut = tuple(float(c) for c in cutoffs_pct)
    if any(b <= a for a, b in itertools.pairwise(cut)) or not cut:
        raise InputError("cut-offs must be increasing", value=cut)
    # all cut-offs at or below 1 % are fractions typed for percent (0.25 for 25 %) [D]
    if not all(math.isfinite(c) and 0.0 < c < 100.0 for c in cut) or max(cut) <= 1.0:
        raise InputError(
            "cut-offs must be fat fractions in percent, between 0 and 100",
            item="--grade-cutoffs",
            value=cut,
            expected="e.g. 5,25,45,55 (percent, not fractions)",
        )
    expected_n = 4 if name == "goutallier" else 2
    if len(cut) != expected_n:
        raise InputError(f"scheme {name} needs {expected_n} cut-offs", value=cut)
    return GradingScheme(name, cut, scheme.source + "; cut-offs given by the user [D]", False)
