"""Clinical questionnaires, their exact scoring, change against the MIC, and red flags.

Sources and evidence tags: ``../shared/clinical/CLINICAL_LOGIC.md`` §2 (instruments) and
§3 (red flags). An incomplete form never yields a guessed score.
"""

from spinestab.clinical.change import MIC_RULES, Change, MicRule, assess_change, compare_scores
from spinestab.clinical.forms import INSTRUMENTS, Form, load_form, parse_form, score_form
from spinestab.clinical.redflags import RedFlagRules, load_red_flag_rules, screen_red_flags
from spinestab.clinical.result import RedFlagAction, Score
from spinestab.clinical.scores import (
    OdiRules,
    RmdqRules,
    odi_band,
    score_nrs,
    score_odi,
    score_psfs,
    score_rmdq,
    score_startback,
    startback_risk,
)

__all__ = [
    "INSTRUMENTS",
    "MIC_RULES",
    "Change",
    "Form",
    "MicRule",
    "OdiRules",
    "RedFlagAction",
    "RedFlagRules",
    "RmdqRules",
    "Score",
    "assess_change",
    "compare_scores",
    "load_form",
    "load_red_flag_rules",
    "odi_band",
    "parse_form",
    "score_form",
    "score_nrs",
    "score_odi",
    "score_psfs",
    "score_rmdq",
    "score_startback",
    "screen_red_flags",
    "startback_risk",
]
