"""Change between two assessments against the minimal important change (MIC).

Ostelo RW et al., Spine 2008;33:90-4: international consensus on minimal important change
(CLINICAL_LOGIC.md §2.6 [V]): an absolute MIC per instrument, or a 30 % relative change,
which the consensus advises when baseline severity varies. "Responder" = absolute MIC **or**
>= 30 % (CLINICAL_LOGIC.md §2.6 proposal [D]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from spinestab.clinical.result import Score
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["MIC_RULES", "Change", "MicRule", "assess_change", "compare_scores"]

ChangeStatus = Literal["improved", "unchanged", "worse"]


@dataclass(frozen=True)
class MicRule:
    """Minimal important change of one instrument.

    Attributes
    ----------
    absolute : float
        Absolute MIC in the instrument's units.
    relative : float or None
        Relative MIC as a fraction of baseline (0.30), or None where not defined.
    higher_is_better : bool
        True for PSFS (function); False for pain and disability scores.
    source : str
        Source and evidence tag.

    """

    absolute: float
    relative: float | None
    higher_is_better: bool
    source: str


_OSTELO = "Ostelo et al., Spine 2008 (CLINICAL_LOGIC.md §2.6) [V]"

#: Defaults per instrument (CLINICAL_LOGIC.md §2.6). ODI is compared in percent points.
MIC_RULES: dict[str, MicRule] = {
    "nrs": MicRule(2.0, 0.30, False, _OSTELO),
    "rmdq": MicRule(5.0, 0.30, False, _OSTELO),
    "odi": MicRule(10.0, 0.30, False, _OSTELO),
    "psfs": MicRule(
        2.0,
        None,
        True,
        "PSFS MDC90 2 points on the average (Stratford 1995; CLINICAL_LOGIC.md "
        "§2.5-2.6) [V]; used as MCID [R]",
    ),
}


@dataclass(frozen=True)
class Change:
    """Change between a baseline and a follow-up value.

    Attributes
    ----------
    instrument : str
    baseline, follow_up : float
    delta : float
        ``follow_up - baseline`` in the instrument's units.
    relative : float or None
        ``delta / baseline`` (None where baseline is 0).
    status : {"improved", "unchanged", "worse"}
    rule : str
        Which criterion decided the status, with its source.

    """

    instrument: str
    baseline: float
    follow_up: float
    delta: float
    relative: float | None
    status: ChangeStatus
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def assess_change(
    instrument: str,
    baseline: float,
    follow_up: float,
    *,
    rule: MicRule | None = None,
) -> Change:
    """Classify the change between two scores of one instrument.

    Parameters
    ----------
    instrument : {"nrs", "rmdq", "odi", "psfs"}
        Instrument (ODI in percent points).
    baseline, follow_up : float
        Scores at the two assessments.
    rule : MicRule, optional
        Override the default MIC rule.

    Returns
    -------
    Change
        ``improved`` when the change in the good direction reaches the absolute MIC or the
        relative MIC; ``worse`` when the change in the bad direction does; else ``unchanged``.

    Examples
    --------
    >>> assess_change("odi", 40, 30).status, assess_change("odi", 20, 14).status
    ('improved', 'improved')
    >>> assess_change("odi", 20, 15).status  # 5 points and 25 %: below both MICs
    'unchanged'
    >>> assess_change("nrs", 5, 4).status
    'unchanged'

    """
    if rule is None:
        check_choice(
            "instrument", instrument, MIC_RULES, message="no minimal important change defined"
        )
        rule = MIC_RULES[instrument]
    delta = float(follow_up) - float(baseline)
    relative = delta / float(baseline) if baseline else None
    gain = delta if rule.higher_is_better else -delta
    relative_gain = None if relative is None else (relative if rule.higher_is_better else -relative)
    abs_text = f"absolute MIC {rule.absolute:g} points ({rule.source})"
    rel_text = (
        f"relative MIC {rule.relative:.0%} of baseline ({rule.source})"
        if rule.relative is not None
        else ""
    )
    eps = 1e-9
    if gain >= rule.absolute - eps:
        return Change(instrument, baseline, follow_up, delta, relative, "improved", abs_text)
    if (
        rule.relative is not None
        and relative_gain is not None
        and relative_gain >= rule.relative - eps
    ):
        return Change(instrument, baseline, follow_up, delta, relative, "improved", rel_text)
    mirrored = " applied to deterioration [D]"
    if -gain >= rule.absolute - eps:
        return Change(
            instrument, baseline, follow_up, delta, relative, "worse", abs_text + mirrored
        )
    if (
        rule.relative is not None
        and relative_gain is not None
        and -relative_gain >= rule.relative - eps
    ):
        return Change(
            instrument, baseline, follow_up, delta, relative, "worse", rel_text + mirrored
        )
    text = f"change below {abs_text}" + (f" and below {rel_text}" if rel_text else "")
    return Change(instrument, baseline, follow_up, delta, relative, "unchanged", text)


def _comparable_value(score: Score) -> float:
    if not score.complete or score.score is None:
        raise InputError(
            "cannot compare an incomplete form",
            item=score.instrument,
            value=list(score.missing),
            expected="a complete form",
        )
    return score.value


def compare_scores(baseline: Score, follow_up: Score) -> Change:
    """Compare two scored forms of the same instrument (ODI by its percentage).

    STarT Back is a stratification tool without a MIC (CLINICAL_LOGIC.md §2.6); its change
    is the move between risk groups.
    """
    if baseline.instrument != follow_up.instrument:
        raise InputError(
            "cannot compare different instruments",
            value=follow_up.instrument,
            expected=baseline.instrument,
        )
    if baseline.instrument == "startback":
        order = ["low", "medium", "high"]
        if baseline.risk is None or follow_up.risk is None:
            raise InputError("cannot compare an incomplete STarT Back", item="startback")
        before, after = order.index(baseline.risk), order.index(follow_up.risk)
        status: ChangeStatus = (
            "improved" if after < before else "worse" if after > before else "unchanged"
        )
        return Change(
            "startback",
            float(baseline.score or 0),
            float(follow_up.score or 0),
            float((follow_up.score or 0) - (baseline.score or 0)),
            None,
            status,
            f"risk group {baseline.risk} -> {follow_up.risk} (no MIC for a "
            "stratification tool; CLINICAL_LOGIC.md §2.6)",
        )
    return assess_change(
        baseline.instrument, _comparable_value(baseline), _comparable_value(follow_up)
    )
