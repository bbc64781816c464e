"""The imaging viewer's state, as the API sends it: a series, its mask versions, analyses, jobs.

:func:`series_state` is everything the viewer page needs about one series (audited reads
through the record's services); :func:`series_jobs` the series' analysis jobs, so the page
can follow one that runs; :func:`slice_levels_json` reads a slice table sent as JSON text
(a form field or query parameter of a mask save).
"""

from __future__ import annotations

import json
from typing import Any

from spinestab.errors import InputError

__all__ = [
    "SERVER_ONLY_OPTIONS",
    "check_browser_options",
    "result_view",
    "series_jobs",
    "series_state",
    "slice_levels_json",
]


def result_view(pseudonym: str, series_id: int, analysis: Any) -> dict[str, Any]:
    """Return one analysis as the viewer shows it: rows, level slices and names, pictures."""
    from urllib.parse import quote

    from spinestab.imaging.viewer import summary_levels

    summary = analysis.summary
    base = f"/api/v1/patients/{quote(pseudonym, safe='')}/imaging/{series_id}/files"
    pictures = [
        {"name": f["name"], "url": f"{base}/{f['id']}"}
        for f in analysis.files
        if f["role"] == "qa_picture"
    ]
    fat = [f for f in analysis.files if f["role"] == "fat_map"]
    levels: dict[str, Any] = summary["levels"] if isinstance(summary.get("levels"), dict) else {}
    return {
        "id": analysis.id,
        "mask_version": analysis.mask_version,
        "mask_method": analysis.mask_method,
        "mask_author": analysis.mask_author,
        "analysed_by": analysis.analysed_by,
        "analysed_at": analysis.analysed_at.isoformat() if analysis.analysed_at else None,
        "fat_method": analysis.fat_method,
        "rows": analysis.rows,
        "level_slices": summary_levels(summary),
        "level_names": summary.get("level_names"),
        "levels_present": list(levels.get("present") or []),
        "flags": list(summary.get("flags") or []),
        "pictures": pictures,
        "fat_url": f"{base}/{fat[-1]['id']}" if fat else None,
        "fat_classes": bool(fat) and fat[-1]["name"].startswith("fat_classes"),
        "options": {
            k: v
            for k, v in analysis.options.items()
            if k in ("labels", "level_names", "fat_method")
        },
        "slice_levels": analysis.options.get("slice_levels"),
        "slice_levels_by": analysis.options.get("slice_levels_by"),
    }


def series_state(uow: Any, actor: Any, pseudonym: str, series_id: int) -> dict[str, Any]:
    """Return everything the viewer page needs about a series (audited reads)."""
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.viewer import muscle_palette
    from spinestab.record.image_series import get_series
    from spinestab.record.series_analyses import series_analyses

    series = get_series(uow, actor, pseudonym, series_id)
    analyses = series_analyses(uow, actor, pseudonym, series_id)
    return {
        "study": series.model_dump(mode="json", exclude={"mask_versions"}),
        "mask_versions": [v.model_dump(mode="json") for v in series.mask_versions],
        "palette": [p.to_dict() for p in muscle_palette(get_scheme(series.labels))],
        "results": [result_view(pseudonym, series_id, a) for a in analyses],
        "jobs": series_jobs(uow.session, pseudonym, series_id),
    }


def series_jobs(session: Any, pseudonym: str, series_id: int) -> list[dict[str, Any]]:
    """Return the analysis jobs of a series, oldest first: what runs, what failed.

    The viewer follows a queued or running job of the mask version it shows (a mask given
    at upload is analysed after the page opens) and says why a failed one failed.
    """
    from sqlalchemy import select

    from spinestab.service.jobs import job_public
    from spinestab.service.models import Job

    jobs = session.scalars(
        select(Job)
        .where(Job.patient_pseudonym == pseudonym, Job.kind == "mri_mask")
        .order_by(Job.created_at.desc())
        .limit(100)
    ).all()
    mine = [j for j in reversed(jobs) if (j.params or {}).get("series") == series_id]
    return [
        {
            "job_id": j.id,
            "mask_version": (j.params or {}).get("mask_version"),
            "status": j.status,
            "progress": job_public(j)["progress"],
            "errors": job_public(j)["errors"],
        }
        for j in mine
    ]


def slice_levels_json(text: str | None) -> dict[str, Any] | None:
    """Return a slice table sent as JSON text (``None`` for none).

    Raises
    ------
    InputError
        Text that is not JSON, or not an object.

    """
    if not text:
        return None
    try:
        table = json.loads(text)
    except ValueError:
        raise InputError(
            "slice_levels is not JSON", item="slice_levels", expected='{"L4": [first, last]}'
        ) from None
    if not isinstance(table, dict):
        raise InputError("slice_levels must be an object", expected='{"L4": [first, last]}')
    return table


#: MRI options a browser may not set: the mask version is the analysis' input (no segmenter
#: runs from here), and no option may name a file on the server.
SERVER_ONLY_OPTIONS = ("weights_dir", "segment", "segment_task")


def check_browser_options(options: dict[str, Any]) -> None:
    """Refuse MRI options that name server files or run a segmenter (422, nothing queued)."""
    from spinestab.imaging.builtin_schemes import ALIASES, SCHEMES

    refused = sorted(k for k in options if k in SERVER_ONLY_OPTIONS)
    if refused:
        raise InputError(
            "not an option of an analysis asked from the browser",
            item="options",
            value=refused,
            expected="options without " + ", ".join(SERVER_ONLY_OPTIONS),
        )
    scheme = options.get("vertebrae_labels")
    if scheme is not None and str(scheme).lower() not in {**ALIASES, **SCHEMES}:
        raise InputError(
            "unknown vertebra label scheme",
            item="vertebrae_labels",
            value=str(scheme),
            expected="one of " + ", ".join(SCHEMES),
        )
