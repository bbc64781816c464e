"""DICOM SEG and SR of an imaging study stored in the record.

A study saved by ``spinestab mri --patient`` keeps its input files in the artifact store:
the source DICOM series (role ``input:image``), the mask (``input:mask``), and the
``muscle_quality.csv`` it wrote. :func:`export_stored_study` lays them out in a private
temporary folder and writes ``muscle_seg.dcm`` and ``muscle_sr.dcm`` with
:func:`~spinestab.dicom_out.export.export_muscle_study`, so the SR's values are the stored
rows and the SEG references the stored series.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinestab.dicom_out.export import DicomExport, export_muscle_study
from spinestab.errors import InputError, NotFoundError

__all__ = ["MaskOrigin", "StoredStudy", "export_stored_study", "stored_study"]


@dataclass(frozen=True)
class StoredStudy:
    """What the record says about how a study's mask was made."""

    study_id: int
    labels: str
    segmenter: str | None
    series_uid: str | None
    mask_method: str | None = None  # a viewer's mask version: manual, edited, segmenter NAME
    mask_author: str | None = None  # who stored that mask version


def _find(timeline: Any, study_id: int) -> Any:
    for study in timeline.imaging:
        if study.id == study_id:
            return study
    known = ", ".join(str(s.id) for s in timeline.imaging) or "none"
    raise NotFoundError(
        "no such imaging study for this patient",
        item="--study",
        value=study_id,
        expected=f"one of the patient's imaging studies (spinestab record show): {known}",
    )


def stored_study(uow: Any, actor: Any, pseudonym: str, study_id: int) -> tuple[Any, StoredStudy]:
    """Return the study's typed view and how its mask was made (an audited read)."""
    from spinestab.record import show_record

    study = _find(show_record(uow, actor, pseudonym), study_id)
    options = study.options or {}
    labels = options.get("labels")
    if not labels:
        raise InputError(
            "the stored study names no label scheme",
            item=f"imaging study {study_id}",
            expected="a study saved by spinestab mri --patient (its options name --labels)",
        )
    summary = next((f for f in study.files if f.role == "summary"), None)
    segmenter = None
    if summary is not None:
        import json

        doc = json.loads(uow.files().get(summary.sha256))
        segmenter = (doc.get("inputs") or {}).get("segmenter") if isinstance(doc, dict) else None
    # the viewer's analyses name the mask version's method and author in their options
    method, author = options.get("mask_method"), options.get("mask_author")
    method = method if isinstance(method, str) and "mask_version" in options else None
    if segmenter is None and method and method.startswith("segmenter "):
        segmenter = method.removeprefix("segmenter ")
    return study, StoredStudy(
        study_id,
        str(labels),
        segmenter,
        options.get("series_uid"),
        mask_method=method,
        mask_author=author if method and isinstance(author, str) else None,
    )


@dataclass(frozen=True)
class MaskOrigin:
    """How a mask was made, when the record does not say (see ``make_segmentation``).

    ``algorithm_type`` AUTOMATIC (with ``algorithm_name``) or MANUAL; ``mask_author`` who
    drew or checked it.
    """

    algorithm_type: str | None = None
    algorithm_name: str | None = None
    algorithm_version: str | None = None
    mask_author: str | None = None


def export_stored_study(
    uow: Any,
    actor: Any,
    pseudonym: str,
    study_id: int,
    out_dir: str | Path,
    *,
    origin: MaskOrigin | None = None,
) -> DicomExport:
    """Write the SEG and SR of a stored imaging study whose input was a DICOM series.

    Parameters
    ----------
    uow, actor
        An open unit of work (with its artifact store) and who reads.
    pseudonym : str
        The patient.
    study_id : int
        The imaging study (its id in ``spinestab record show``).
    out_dir : path-like
        Folder for ``muscle_seg.dcm`` and ``muscle_sr.dcm`` (written together or not at all).
    origin : MaskOrigin, optional
        How the mask was made. Default: what the record says: the viewer's mask version
        (traced by hand: manual; ``segmenter NAME``: automatic) and its author, else the
        segmenter the run names (automatic); a mask supplied as a file, or an edited or
        imported mask version, needs an ``algorithm_name`` (automatic) or ``MANUAL``.

    Raises
    ------
    NotFoundError
        Unknown patient or study.
    InputError
        The study's input was not a DICOM series, or its files are missing; how the mask
        was made is unknown and not given.

    """
    origin = origin or MaskOrigin()
    study, info = stored_study(uow, actor, pseudonym, study_id)
    files = uow.files()
    images = [f for f in study.files if f.role == "input:image"]
    masks = [f for f in study.files if f.role == "input:mask"]
    table = next((f for f in study.files if f.role == "table"), None)
    where = f"imaging study {study_id}"
    if not images:
        raise InputError(
            "the stored study has no input image",
            item=where,
            expected="a study analysed by spinestab mri --patient from a DICOM series",
        )
    if len(masks) != 1 or table is None:
        raise InputError(
            "the stored study lacks its mask or its muscle_quality.csv",
            item=where,
            expected="a study analysed by spinestab mri --patient with --mask",
        )
    name = origin.algorithm_name or info.segmenter
    # a mask traced by hand in the viewer is MANUAL; a segmenter's is AUTOMATIC
    traced = info.mask_method == "manual" and not origin.algorithm_name
    kind = origin.algorithm_type or ("MANUAL" if traced else "AUTOMATIC" if name else None)
    if kind is None:
        raise InputError(
            "the record does not say how the mask was made",
            item=where,
            expected="--segmenter NAME (an automatic segmenter) or --manual (drawn by hand)",
        )
    with tempfile.TemporaryDirectory(prefix="spinestab-dicom-") as tmp:
        root = Path(tmp)
        series = root / "series"
        for f in images:
            target = (series / f.name).resolve()
            if not target.is_relative_to(series.resolve()):
                raise InputError("a stored file name leaves its folder", value=f.name, item=where)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.write_bytes(files.get(f.sha256))
        if len(images) == 1 and not _is_dicom(series / images[0].name):
            raise InputError(
                "the study's input was not a DICOM series",
                item=where,
                value=images[0].name,
                expected="DICOM SEG and SR reference a DICOM source series",
            )
        mask = root / Path(masks[0].name).name
        mask.write_bytes(files.get(masks[0].sha256))
        csv = root / "muscle_quality.csv"
        csv.write_bytes(files.get(table.sha256))
        return export_muscle_study(
            series=series,
            mask=mask,
            labels=info.labels,
            muscle_quality=csv,
            out_dir=out_dir,
            series_uid=info.series_uid,
            algorithm_type=kind,
            algorithm_name=name,
            algorithm_version=origin.algorithm_version,
            mask_author=origin.mask_author or _person_name(info.mask_author),
        )


def _person_name(user: str | None) -> str | None:
    """Return a record user name as a DICOM person name (one component: trailing caret)."""
    if not user or "^" in user:
        return user
    return f"{user}^"


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(132)
    return head[128:132] == b"DICM"
