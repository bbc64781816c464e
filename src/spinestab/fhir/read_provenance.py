"""Read the Provenance of a Bundle's analyses: mask and landmark versions and their makers.

The counterpart of the Provenance that :mod:`spinestab.fhir.build` writes per analysis (its
target the DiagnosticReport, its agents the software, the segmenter, the mask's author, who
named the levels and who placed the landmarks; its entities the mask and landmark versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from spinestab.errors import InputError
from spinestab.fhir import codes as c
from spinestab.fhir.model import ImagingExport, InstabilityExport, LandmarkTrace, MaskTrace

__all__ = ["study_provenance", "with_landmarks", "with_mask"]


def study_provenance(by_type: dict) -> dict[str, dict]:
    """Return each analysis' Provenance by its ImagingStudy (the target DiagnosticReport's)."""
    study_of = {
        f"urn:uuid:{dr['id']}": (dr.get("imagingStudy") or [{}])[0].get("reference")
        for dr in by_type.get("DiagnosticReport", [])
    }
    out = {}
    for prov in by_type.get("Provenance", []):
        targets = prov.get("target") or [{}]
        study = study_of.get(targets[0].get("reference", ""))
        if study:
            out[study] = prov
    return out


def _agent_named(prov: Mapping[str, Any] | None, role: str) -> Mapping[str, Any] | None:
    for agent in (prov or {}).get("agent", []):
        if any(r.get("text") == role for r in agent.get("role", [])):
            return agent
    return None


def _user(agent: Mapping[str, Any] | None) -> str | None:
    if agent is None:
        return None
    who = agent.get("who", {})
    return (who.get("identifier") or {}).get("value") or who.get("display")


def _version_id(entity: Mapping[str, Any], system: str) -> tuple[int, int] | None:
    ident = entity.get("what", {}).get("identifier") or {}
    if ident.get("system") != system:
        return None
    first, _, second = str(ident.get("value", "")).partition("/")
    if not (first.isdigit() and second.isdigit()):
        raise InputError(
            "a Provenance entity names a version badly",
            item=system,
            value=ident.get("value"),
            expected="ID/VERSION",
        )
    return int(first), int(second)


def with_mask(study: ImagingExport, prov: Mapping[str, Any] | None) -> ImagingExport:
    """Add what the analysis' Provenance says: mask version and author, mask file, segmenter."""
    segmenter = _agent_named(prov, "segmenter of the muscle mask")
    levels = _agent_named(prov, "named the vertebral levels")
    trace = mask_file = None
    for entity in (prov or {}).get("entity", []):
        display = entity.get("what", {}).get("display", "")
        mask_file = display.partition(": ")[2] or None
        ids = _version_id(entity, c.MASK_VERSION_SYSTEM)
        if ids is None:
            continue
        agents = entity.get("agent") or []
        roles = [r.get("text", "") for a in agents for r in a.get("role", [])]
        method = next((r.removeprefix("mask method: ") for r in roles), None)
        if method is None:  # no author said: the method is in the display
            method = display.partition(": ")[0].rpartition("(")[2].rstrip(")")
        trace = MaskTrace(ids[0], ids[1], method, _user(agents[0]) if agents else None)
    return replace(
        study,
        segmenter=(
            segmenter["who"]["display"].removesuffix(" (automatic segmentation)")
            if segmenter
            else None
        ),
        mask_file=mask_file,
        mask_version=trace,
        mask_author=trace.author if trace else None,
        levels_by=_user(levels),
    )


def with_landmarks(study: InstabilityExport, prov: Mapping[str, Any] | None) -> InstabilityExport:
    """Add the reader and the landmark versions the analysis' Provenance names."""
    traces = []
    for entity in (prov or {}).get("entity", []):
        ids = _version_id(entity, c.LANDMARK_VERSION_SYSTEM)
        if ids is None:
            continue
        view = entity["what"].get("display", "").partition(" film")[0]
        agents = entity.get("agent") or []
        traces.append(LandmarkTrace(view, ids[0], ids[1], _user(agents[0]) if agents else None))
    return replace(
        study,
        landmarks_author=_user(_agent_named(prov, "placed the landmarks")),
        landmarks=tuple(traces),
    )
