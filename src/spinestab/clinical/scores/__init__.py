"""Exact scoring of the back-pain questionnaires, as pure functions on answers.

Every rule cites ``../shared/clinical/CLINICAL_LOGIC.md`` (section and evidence tag:
[V] verified against a source, [R] recalled, [D] design decision) and the primary source.
An incomplete form gives ``complete=False``, names the missing items and has no score.

One module per instrument: :mod:`.startback`, :mod:`.odi`, :mod:`.rmdq`, :mod:`.nrs`,
:mod:`.psfs`.
"""

from spinestab.clinical.scores.nrs import NRS_OPTIONAL, NRS_SOURCE, score_nrs
from spinestab.clinical.scores.odi import (
    ODI_BANDS,
    ODI_SECTIONS,
    ODI_SOURCE,
    OdiRules,
    odi_band,
    score_odi,
)
from spinestab.clinical.scores.psfs import (
    PSFS_MAX_ACTIVITIES,
    PSFS_MIN_ACTIVITIES,
    PSFS_SOURCE,
    score_psfs,
)
from spinestab.clinical.scores.rmdq import RMDQ_ITEMS, RMDQ_SOURCE, RmdqRules, score_rmdq
from spinestab.clinical.scores.startback import (
    STARTBACK_ITEMS,
    STARTBACK_SOURCE,
    StartBackItem,
    score_startback,
    startback_risk,
)

__all__ = [
    "NRS_OPTIONAL",
    "NRS_SOURCE",
    "ODI_BANDS",
    "ODI_SECTIONS",
    "ODI_SOURCE",
    "PSFS_MAX_ACTIVITIES",
    "PSFS_MIN_ACTIVITIES",
    "PSFS_SOURCE",
    "RMDQ_ITEMS",
    "RMDQ_SOURCE",
    "STARTBACK_ITEMS",
    "STARTBACK_SOURCE",
    "OdiRules",
    "RmdqRules",
    "StartBackItem",
    "odi_band",
    "score_nrs",
    "score_odi",
    "score_psfs",
    "score_rmdq",
    "score_startback",
    "startback_risk",
]
