"""The clinician report: one letter from typed inputs, as HTML or A4 PDF.

Order of the letter (issue 14): open red flags first with the action; triage track and
reasons with their sources; scores over time against the MIC; muscle quality per level with
the reference band and method (figure, table, one QA overlay per level); instability figures
and measures; posture timeline and movement summary; the plan version in force and who
approved it; what is missing and what it limits. Every sentence comes from the ``report``
catalogue of the chosen language; numbers are printed as measured, with their method.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from spinestab.care.profile import StabilityProfile
from spinestab.care.triage import Triage
from spinestab.clinical.change import MIC_RULES
from spinestab.core.i18n import Translator
from spinestab.core.results import MuscleRow, level_names_state
from spinestab.errors import require
from spinestab.report import figures
from spinestab.report.pdf import html_to_pdf, page_css

__all__ = [
    "ImagingPart",
    "InstabilityPart",
    "PlanInForce",
    "ReportInputs",
    "render_report_html",
    "render_report_pdf",
]

logger = logging.getLogger(__name__)

#: red-flag urgencies listed first in the letter (CLINICAL_LOGIC.md §3)
URGENCY_ORDER = ("emergency", "same_day", "urgent", "routine")
#: instruments plotted against their MIC, in this order
SCORE_INSTRUMENTS = ("nrs", "odi", "rmdq", "psfs")
MUSCLE_ORDER = ("multifidus", "erector_spinae", "autochthon", "psoas", "quadratus_lumborum")
POSTURE_COLUMNS = ("lying_min", "sitting_min", "standing_min", "upright_static_min", "walking_min")


@dataclass(frozen=True)
class PlanInForce:
    """The plan version in force and its approval.

    ``exercises`` are ``(exercise id, level L0-L3, dose text)``.
    """

    version: int
    status: str
    track: str
    approved_by: str | None = None
    approved_at: str | None = None
    exercises: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class ImagingPart:
    """A muscle analysis: rows of ``muscle_quality.csv`` and QA overlays (PNG) by level."""

    rows: tuple[MuscleRow, ...]
    qa_pictures: Mapping[str, bytes] = field(default_factory=dict)
    study: str = ""
    made_by: str = ""  # the mask version and who drew it, who named the levels
    #: the study each row comes from, by (muscle, side, level), where rows come from several
    row_studies: Mapping[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstabilityPart:
    """An instability study: its picture (PNG) and the threshold set it was judged by."""

    picture: bytes | None = None
    threshold_set: str = ""
    study: str = ""
    made_by: str = ""  # who placed the landmarks


@dataclass(frozen=True)
class ReportInputs:
    """Everything the letter shows, typed.

    Attributes
    ----------
    profile : StabilityProfile
        Clinical state (with every scored form), muscle, instability and movement summaries,
        and what is missing.
    triage : Triage
        Track, reasons and actions with their sources.
    plan : PlanInForce or None
        The plan version in force (None: no plan, e.g. blocked by a red flag).
    imaging : ImagingPart or None
    instability : InstabilityPart or None
    daily : tuple of mapping
        ``daily.csv`` rows of the wearable recording (posture timeline).
    date : datetime.date
        Date of the letter.

    """

    profile: StabilityProfile
    triage: Triage
    plan: PlanInForce | None = None
    imaging: ImagingPart | None = None
    instability: InstabilityPart | None = None
    daily: tuple[Mapping[str, Any], ...] = ()
    date: dt.date = field(default_factory=dt.date.today)

    @property
    def patient(self) -> str:
        """The pseudonym."""
        return self.profile.patient


def _uri(data: bytes | str, mime: str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return f"data:{mime};base64," + base64.b64encode(raw).decode("ascii")


def _level_text(level: str, flags: str, t: Translator) -> str:
    """Return a level as the muscle table shows it: marked when its name is assumed or doubtful."""
    state = level_names_state(level, flags)
    return f"{level} {t(f'imaging.level_{state}')}" if state else level


def _num(value: Any, digits: int = 1) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.{digits}f}" if math.isfinite(v) else "–"


def _score_points(profile: StabilityProfile) -> list[figures.ScorePoint]:
    points = []
    for s in profile.clinical.scores:
        if s.instrument not in SCORE_INSTRUMENTS or not s.complete or s.date is None:
            continue
        value = s.percent if s.instrument == "odi" else s.score
        if value is None:
            continue
        points.append(figures.ScorePoint(s.instrument, s.date.isoformat(), float(value)))
    return points


@dataclass(frozen=True)
class Said:
    """A text of the letter.

    ``english`` marks a rule text shown in English in another language's letter (no
    translation in the catalogues).
    """

    text: str
    english: bool = False


class _Texts:
    """Texts of care's rules in the letter's language, where a catalogue has one.

    Triage actions and exercise names have entries in the ``care`` catalogue (``action.<code>``,
    ``ex.<id>.name``); the rule texts without one (reasons, red-flag actions, what is
    missing, movement notes, instability reasons) stay in English and are marked as such.
    """

    def __init__(self, language: str) -> None:
        from spinestab.care.i18n import Translator as CareTranslator

        self.language = language
        self.care = CareTranslator(language)
        self.untranslated: set[str] = set()

    def rule(self, english: str, key: str | None = None) -> Said:
        if self.language == "en":
            return Said(english)
        if key is not None and self.care.has(key):
            return Said(self.care(key))
        self.untranslated.add(key or english[:60])
        return Said(english, english=True)

    def exercise(self, exercise_id: str) -> str:
        key = f"ex.{exercise_id}.name"
        return f"{self.care(key)} ({exercise_id})" if self.care.has(key) else exercise_id


def _context(inputs: ReportInputs, t: Translator) -> dict[str, Any]:
    profile, tri = inputs.profile, inputs.triage
    texts = _Texts(t.language)
    flags = sorted(
        (a for a in tri.actions if a.urgency in URGENCY_ORDER[:3]),
        key=lambda a: URGENCY_ORDER.index(a.urgency),
    )
    red_flags = [
        {
            "condition": f.condition,
            "urgency": t(f"urgency.{f.urgency}"),
            "urgency_code": f.urgency,
            "action": texts.rule(f.action),
            "positive": ", ".join(f.items),
            "source": f"{f.source} [{f.evidence}]",
        }
        for f in sorted(profile.open_red_flags, key=lambda f: URGENCY_ORDER.index(f.urgency))
    ]
    ctx: dict[str, Any] = {
        "t": t,
        "lang": t.language,
        "patient": inputs.patient,
        "date": inputs.date.isoformat(),
        "profile_date": profile.date.isoformat() if profile.date else "–",
        "track": tri.track,
        "track_text": t(f"track.{tri.track}"),
        "red_flags": red_flags,
        "urgent_actions": [
            {
                "text": texts.rule(a.text, f"action.{a.code}"),
                "urgency": t(f"urgency.{a.urgency}"),
                "source": a.source,
            }
            for a in flags
            # the red-flag table already shows each flag's own action
            if not any(f.action in a.text for f in profile.open_red_flags)
        ],
        "reasons": [
            {"text": texts.rule(r.text), "source": f"{r.source} [{r.evidence}]"}
            for r in tri.reasons
        ],
        "actions": [
            {
                "text": texts.rule(a.text, f"action.{a.code}"),
                "urgency": t(f"urgency.{a.urgency}"),
                "source": f"{a.source} [{a.evidence}]",
            }
            for a in tri.actions
            if a.urgency not in URGENCY_ORDER[:3]
        ],
        "missing": [
            {"part": texts.rule(m.part), "limits": texts.rule(m.limits)} for m in profile.missing
        ],
        "num": _num,
    }
    # scores over time against the MIC
    points = _score_points(profile)
    labels = {i: t(f"score.{i}") for i in SCORE_INSTRUMENTS}
    ctx["scores"] = [
        {"instrument": labels[p.instrument], "date": p.date, "value": _num(p.value)}
        for p in sorted(points, key=lambda p: (SCORE_INSTRUMENTS.index(p.instrument), p.date))
    ]
    ctx["mic_rules"] = [
        {
            "instrument": labels[i],
            "mic": f"{MIC_RULES[i].absolute:g}",
            "source": MIC_RULES[i].source,
        }
        for i in SCORE_INSTRUMENTS
        if any(p.instrument == i for p in points)
    ]
    ctx["scores_figure"] = (
        _uri(
            figures.scores_svg(
                points,
                {i: (r.absolute, r.higher_is_better) for i, r in MIC_RULES.items()},
                labels,
                mic_label=t("fig.mic_band"),
            ),
            "image/svg+xml",
        )
        if points
        else ""
    )
    ctx["changes"] = [
        {
            "instrument": labels.get(k, k),
            "status": t(f"change.{c.get('status')}"),
            "rule": c.get("rule", ""),
            "delta": _num(c.get("delta")),
        }
        for k, c in profile.clinical.change.items()
    ]
    # muscle quality
    ctx["imaging"] = None
    if inputs.imaging is not None and inputs.imaging.rows:
        rows = list(inputs.imaging.rows)
        muscles = [m for m in MUSCLE_ORDER if any(r.muscle == m for r in rows)]
        muscle_labels = {m: t(f"muscle.{m}") for m in MUSCLE_ORDER}
        side_labels = {s: t(f"side.{s}") for s in ("right", "left", "none")}
        methods = sorted({r.fat_method for r in rows if r.fat_method})
        ctx["imaging"] = {
            "study": inputs.imaging.study,
            "made_by": inputs.imaging.made_by,
            "methods": ", ".join(methods),
            "by_study": bool(inputs.imaging.row_studies),
            "level_notes": [
                t(f"imaging.level_names_{state}")
                for state in ("assumed", "doubtful")
                if any(level_names_state(r.level, r.flags) == state for r in rows)
            ],
            "figure": _uri(
                figures.fat_by_level_svg(
                    rows,
                    muscles=muscles,
                    muscle_labels=muscle_labels,
                    side_labels=side_labels,
                    ylabel=t("fig.fat_pct"),
                    band_label=t("fig.reference_band"),
                ),
                "image/svg+xml",
            ),
            "rows": [
                {
                    "muscle": muscle_labels.get(r.muscle, r.muscle),
                    "side": side_labels.get(r.side, r.side),
                    "level": _level_text(r.level, r.flags, t),
                    "csa": _num(r.csa_mean_mm2 / 100.0, 2),
                    "lean": _num(r.lean_csa_mean_mm2 / 100.0, 2),
                    "fat": _num(r.fat_fraction_pct),
                    "method": r.fat_method,
                    "grade": r.grade or "–",
                    "reference": _num(r.reference_mean_pct)
                    + (
                        f" ± {_num(r.reference_sd_pct)}"
                        if math.isfinite(r.reference_sd_pct)
                        else ""
                    )
                    if math.isfinite(r.reference_mean_pct)
                    else "–",
                    "note": r.reference_note,
                    "flags": r.flags,
                    "study": inputs.imaging.row_studies.get((r.muscle, r.side, r.level), ""),
                }
                for r in sorted(
                    rows,
                    key=lambda r: (
                        MUSCLE_ORDER.index(r.muscle) if r.muscle in MUSCLE_ORDER else 99,
                        figures._level_key(r.level) if r.level != "all" else (99, 0.0, ""),
                        r.side,
                    ),
                )
            ],
            "qa": [
                {"level": level, "uri": _uri(png, "image/png")}
                for level, png in sorted(
                    inputs.imaging.qa_pictures.items(),
                    key=lambda kv: figures._level_key(kv[0]) if kv[0] != "all" else (99, 0.0, ""),
                )
            ],
        }
    # instability
    ctx["instability"] = None
    if profile.instability is not None:
        part = inputs.instability or InstabilityPart()
        ctx["instability"] = {
            "study": part.study,
            "made_by": part.made_by,
            "threshold_set": part.threshold_set,
            "picture": _uri(part.picture, "image/png") if part.picture else "",
            "levels": [
                {
                    "level": f.level,
                    "slip_mm": _num(f.slip_mm),
                    "slip_pct": _num(f.slip_pct),
                    "grade": "–" if f.meyerding_grade is None else str(f.meyerding_grade),
                    "translation_mm": _num(f.translation_mm),
                    "translation_pct": _num(f.translation_pct),
                    "angulation": _num(f.angulation_deg),
                    "verdict": t(f"verdict.{f.verdict}") if f.verdict else "–",
                    "reasons": texts.rule("; ".join(f.reasons)) if f.reasons else None,
                }
                for f in profile.instability.all_levels
            ],
        }
    # movement
    ctx["movement"] = None
    if profile.movement is not None or inputs.daily:
        mv = profile.movement
        ctx["movement"] = {
            "figure": _uri(
                figures.posture_timeline_svg(
                    inputs.daily,
                    columns={c: t(f"posture.{c}") for c in POSTURE_COLUMNS},
                    ylabel=t("fig.minutes_per_day"),
                ),
                "image/svg+xml",
            )
            if inputs.daily
            else "",
            "summary": []
            if mv is None
            else [
                (t("movement.days"), f"{mv.valid_days} / {mv.days}"),
                (t("movement.period"), f"{mv.first_date or '–'} – {mv.last_date or '–'}"),
                (t("movement.sitting"), _num(mv.sitting_min, 0)),
                (t("movement.walking"), _num(mv.walking_min, 0)),
                (t("movement.steps"), _num(mv.steps, 0)),
                (t("movement.longest_bout"), _num(mv.longest_static_bout_min, 0)),
                (t("movement.breaks"), _num(mv.breaks, 0)),
            ],
            "notes": [texts.rule(n) for n in mv.notes] if mv else [],
        }
    # plan
    plan = inputs.plan
    ctx["plan"] = (
        None
        if plan is None
        else {
            "version": plan.version,
            "status": t(f"plan_status.{plan.status}"),
            "track": plan.track,
            "approved": t("plan.approved_by", who=plan.approved_by, when=plan.approved_at or "–")
            if plan.approved_by
            else t("plan.not_approved"),
            "exercises": [
                {"id": texts.exercise(e), "level": lv, "dose": d} for e, lv, d in plan.exercises
            ],
        }
    )
    ctx["untranslated"] = bool(texts.untranslated)
    return ctx


def render_report_html(inputs: ReportInputs, *, language: str | None = None) -> str:
    """Render the clinician report as one self-contained HTML page (figures embedded).

    Parameters
    ----------
    inputs : ReportInputs
        What the letter shows.
    language : {"en", "de"}, optional
        Defaults to the ``SPINESTAB_LANGUAGE`` setting.

    """
    jinja2 = require("jinja2", extra="report", feature="the clinician report")
    t = Translator("report", language)
    template = resources.files("spinestab.report").joinpath("templates/report.html.j2")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(template.read_text("utf-8")).render(**_context(inputs, t))
    logger.info("report for %s: %d characters of HTML", inputs.patient, len(html))
    return html


def render_report_pdf(inputs: ReportInputs, *, language: str | None = None) -> bytes:
    """Render the clinician report as an A4 PDF: page numbers, pseudonym and date on each page."""
    t = Translator("report", language)
    html = render_report_html(inputs, language=t.language)
    css = page_css(
        left=t("page.footer", patient=inputs.patient, date=inputs.date.isoformat()),
        right_template=(t("page.page"), t("page.of")),
    )
    return html_to_pdf(html, extra_css=css)


def plan_in_force_from_doc(
    doc: Mapping[str, Any], *, dose_texts: Sequence[str] = ()
) -> PlanInForce:
    """Build :class:`PlanInForce` from a ``plan.json`` document (the record's plan version)."""
    exercises = []
    for n, ex in enumerate(doc.get("exercises") or []):
        level = ex.get("level")
        level_name = f"L{level}" if isinstance(level, int) else str(level)
        dose = dose_texts[n] if n < len(dose_texts) else ""
        exercises.append((str(ex.get("id")), level_name, dose))
    return PlanInForce(
        version=int(doc.get("version") or 1),
        status=str(doc.get("status") or "draft"),
        track=str(doc.get("track") or ""),
        approved_by=doc.get("approved_by"),
        approved_at=doc.get("approved_at"),
        exercises=tuple(exercises),
    )
