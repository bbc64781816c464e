"""Facts several triage steps read: the response to active care so far (§4.4, §8 step 3, 6)."""

from __future__ import annotations

from dataclasses import dataclass

from spinestab.care.config import CareRules
from spinestab.care.profile import StabilityProfile

__all__ = ["HIERARCHY_SOURCE", "CareResponse", "care_response_facts", "response_status"]

HIERARCHY_SOURCE = "CLINICAL_LOGIC.md §4.5 stabilisation hierarchy and §8 triage algorithm"


def response_status(profile: StabilityProfile) -> tuple[str | None, str]:
    """Return the response to previous active care and how it was established.

    ``history.previous_response`` wins; otherwise the MIC status of the primary measure
    between the first and latest forms (ODI, else RMDQ, else NRS; §2.6, §8 step 6).
    """
    c = profile.clinical
    if c.history.previous_response:
        return c.history.previous_response, c.history.source_of("previous_response")
    for instrument in ("odi", "rmdq", "nrs"):
        if instrument in c.change:
            status = c.change[instrument]["status"]
            return (
                "responder" if status == "improved" else "non_responder",
                f"{instrument} change: {c.change[instrument]['rule']}",
            )
    return None, "unknown"


@dataclass(frozen=True)
class CareResponse:
    """Weeks of active care so far and the response to it (§4.4, §8 step 3)."""

    status: str | None
    status_from: str
    weeks: float | None
    failed: bool
    undocumented_weeks: bool


def care_response_facts(profile: StabilityProfile, rules: CareRules) -> CareResponse:
    """Return the weeks of active care, the response, and whether the care failed."""
    status, status_from = response_status(profile)
    weeks = profile.clinical.history.active_care_weeks
    enough = weeks is not None and weeks >= rules["failed_active_care_weeks"]
    return CareResponse(
        status,
        status_from,
        weeks,
        failed=enough and status == "non_responder",
        # §8 step 3 counts the weeks only: an undocumented response counts as failed for
        # S1 (rule unknown_response_counts_as_failed [D]); a documented responder never does
        undocumented_weeks=(
            enough and status is None and bool(rules["unknown_response_counts_as_failed"])
        ),
    )
