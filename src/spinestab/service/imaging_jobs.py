"""Background jobs of the imaging viewer and the landmark tool (see :mod:`spinestab.service.jobs`).

- ``mri_mask``: :func:`~spinestab.imaging.pipeline.analyse_mri` on a series and one of its
  mask versions, written with :func:`~spinestab.imaging.outputs.write_mri_outputs` and saved
  into the record with :func:`~spinestab.record.save_imaging_folder`, exactly as
  ``spinestab mri --patient`` does with the same files; the options name the series, the mask
  version, its method and author (and a slice table of level names marked in the viewer,
  as ``--levels-table``, with who marked it). The viewer's fat overlay is stored with the
  result.
- ``instability_landmarks``: :func:`~spinestab.instability.assess` on one reader's latest
  landmark versions (neutral, flexion, extension), written with
  :func:`~spinestab.instability.outputs.write_instability_outputs` and saved with
  :func:`~spinestab.record.save_instability_folder` (as ``spinestab instability --patient``);
  the six-point morphometry of the neutral film (``spinestab morphometry``) is stored beside it
  and saved as the record's morphometry study (as ``spinestab morphometry --patient``), where
  the profile and the red flags read it.

Job functions take JSON parameters and know nothing about HTTP.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spinestab.errors import InputError
from spinestab.service.jobs import JobContext, JobFunction

__all__ = [
    "IMAGING_JOBS",
    "named_as_uploaded",
    "public_message",
    "run_instability_landmarks",
    "run_mri_mask",
]

log = logging.getLogger(__name__)

#: The names of the analysis steps of ``analyse_mri``, in order, for progress.
_MRI_STEPS = ("read", "fat", "levels", "measure", "pictures")


#: A stored DICOM file's name: the upload's position (5 digits and _) before its own name.
_STORED_DICOM = r"/(?:\d{5}_)?([^\s/:;,'\"()\[\]]+)"
#: Any path left in a temporary folder of ours (uploads, jobs, NIfTI bytes read).
_TEMPORARY = re.compile(
    re.escape(tempfile.gettempdir().rstrip("/"))
    + r"/spinestab-[^\s/:;,'\"()]+((?:/[^\s/:;,'\"()]+)*)"
)


def public_message(message: str, places: Mapping[Path, str]) -> str:
    """Return a message with the server's temporary paths replaced by what the user knows.

    ``places`` maps a path to its name for the user (the uploaded file's name, "mask version
    2"); a DICOM folder's files are named as uploaded (without the position the upload
    stored them under). Any other path in a temporary folder of spinestab's is cut to its
    last part, so no server path reaches a page or a job's message.

    Examples
    --------
    >>> public_message(
    ...     "/tmp/spinestab-job-x1/in/image: CT values do not look like HU",
    ...     {Path("/tmp/spinestab-job-x1/in/image"): "the DICOM series (5 files)"},
    ... )
    'the DICOM series (5 files): CT values do not look like HU'
    >>> public_message("/tmp/spinestab-up-2/image/00003_IM4.dcm: truncated", {
    ...     Path("/tmp/spinestab-up-2/image"): "the DICOM series"})
    'IM4.dcm: truncated'

    """
    for path, name in sorted(places.items(), key=lambda item: -len(str(item[0]))):
        folder = re.escape(str(path))
        message = re.sub(folder + _STORED_DICOM, r"\1", message)
        message = re.sub(folder + r"(?![\w.-])", name.replace("\\", "\\\\"), message)
    return _TEMPORARY.sub(lambda m: (m.group(1) or "/").rsplit("/", 1)[-1] or "a file", message)


def named_as_uploaded(image: Path, upload_name: str | None = None) -> str:
    """Name an image input for the user: a NIfTI by its file name, DICOM by its file count."""
    if image.is_dir():
        count = sum(1 for p in image.rglob("*") if p.is_file())
        return f"the DICOM series ({count} files)"
    return upload_name or image.name


@contextmanager
def said_plainly(places: Mapping[Path, str]) -> Iterator[None]:
    """Re-raise a bad input's message with server paths replaced (:func:`public_message`)."""
    try:
        yield
    except InputError as exc:
        raise type(exc)(public_message(str(exc), places)) from None


def _record(context: JobContext) -> Any:
    from spinestab.record import Record
    from spinestab.store.artifacts import FileArtifactStore
    from spinestab.store.db import private_dir

    return Record(
        context.sessions, FileArtifactStore(private_dir(context.settings.data_dir) / "artifacts")
    )


def _actor(context: JobContext) -> Any:
    from spinestab.record import Actor

    return Actor(username=context.actor, role="clinician")


def _mri_options(labels: str, params: dict[str, Any], actor: str) -> Any:
    from spinestab.imaging.options import LevelNames, MriOptions

    values = dict(params.get("options") or {})
    values["labels"] = labels
    names = params.get("level_names")
    if isinstance(names, dict):
        rename = names.get("rename") or {}
        if not isinstance(rename, dict):
            raise InputError("level_names.rename must be an object", expected='{"L5": "L1"}')
        values["level_names"] = LevelNames(rename=rename, by=actor)
    return MriOptions.from_mapping(values)


def _slice_levels(params: dict[str, Any]) -> dict[str, tuple[int, int]] | None:
    """Return the slice table of the job (as ``spinestab mri --levels-table``), if any."""
    table = params.get("slice_levels")
    if not table:
        return None
    if not isinstance(table, dict):
        raise InputError("slice_levels must be an object", expected='{"L4": [first, last]}')
    return {str(k): (int(v[0]), int(v[1])) for k, v in table.items()}


def run_mri_on_files(
    image: Path,
    mask: Path,
    options: Any,
    out: Path,
    progress: Any,
    *,
    slice_levels: dict[str, tuple[int, int]] | None = None,
) -> Any:
    """Analyse and write the ``spinestab mri`` folder; return the result and the fat overlay.

    ``slice_levels`` is a slice table (as ``--levels-table``) for the level names.
    """
    from spinestab.imaging.inputs import LevelInputs
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import analyse_mri
    from spinestab.imaging.viewer import fat_overlay

    levels = LevelInputs(levels_table=slice_levels) if slice_levels else None
    result = analyse_mri(image, mask, options=options, levels=levels, progress=progress)
    write_mri_outputs(result, out)
    return result, fat_overlay(image, mask, options=options)


def run_mri_mask(context: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Analyse one mask version of a series and save the result into the record."""
    from spinestab.imaging.viewer import volume_to_nifti
    from spinestab.record.series_analyses import analysis_inputs, save_series_analysis

    record, actor = _record(context), _actor(context)
    pseudonym = str(context.patient)
    with tempfile.TemporaryDirectory(prefix="spinestab-job-") as tmp:
        folder = Path(tmp)
        with record.unit_of_work() as uow:
            given = analysis_inputs(
                uow,
                actor,
                pseudonym,
                int(params["series"]),
                params.get("mask_version"),
                folder / "in",
            )
        image, mask = Path(given.image), Path(given.mask)
        trace = given.trace
        places = {
            image: named_as_uploaded(image),
            mask: f"mask version {trace['mask_version']} ({trace['mask_method']}, "
            f"{trace['mask_author']})",
            folder: "the analysis",
        }
        options = _mri_options(given.labels, params, context.actor)
        context.progress(0.05, "read")
        done = iter(range(1, len(_MRI_STEPS) + 1))

        def step(name: str) -> None:
            context.progress(0.05 + 0.75 * next(done, len(_MRI_STEPS)) / len(_MRI_STEPS), name)

        out = folder / "out"
        slice_levels = _slice_levels(params)
        with said_plainly(places):
            _, overlay = run_mri_on_files(
                image, mask, options, out, step, slice_levels=slice_levels
            )
            marked = (
                {
                    "slice_levels": {k: list(v) for k, v in slice_levels.items()},
                    "slice_levels_by": context.actor,
                }
                if slice_levels
                else {}
            )
            context.progress(0.9, "saving")
            with record.unit_of_work() as uow:
                study, new = save_series_analysis(
                    uow,
                    actor,
                    pseudonym,
                    out,
                    inputs={"image": image, "mask": mask},
                    options=options.to_dict() | given.trace | marked,
                    fat_overlay=volume_to_nifti(overlay.volume),
                    fat_name="fat_classes.nii.gz" if overlay.classes else "fat_map.nii.gz",
                )
    return {
        "entity": "imaging",
        "imaging_study": study,
        "already_stored": not new,
        **({} if new else {"message": f"analysed before with the same options: study {study}"}),
        **given.trace,
    }


def run_instability_landmarks(context: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Assess one reader's landmark versions; save the study and morphometry into the record."""
    from spinestab.instability import assess, load_threshold_set, read_landmarks
    from spinestab.instability.morphometry import measure_morphometry
    from spinestab.instability.outputs import write_instability_outputs, write_morphometry_outputs
    from spinestab.record.landmark_studies import reader_landmarks, save_landmark_analysis

    record, actor = _record(context), _actor(context)
    pseudonym = str(context.patient)
    reader = str(params.get("reader") or context.actor)
    with tempfile.TemporaryDirectory(prefix="spinestab-job-") as tmp:
        folder = Path(tmp)
        with record.unit_of_work() as uow:
            chosen = reader_landmarks(uow, actor, pseudonym, reader=reader)
        paths: dict[str, Path] = {}
        for view, found in chosen.items():
            paths[view] = folder / f"{view}.json"
            paths[view].write_text(json.dumps(found.pop("landmarks"), indent=2), encoding="utf-8")
        context.progress(0.2, "measure")
        places = {
            path: f"{reader}'s landmarks on the {view} film "
            f"(version {chosen[view].get('landmark_version')})"
            for view, path in paths.items()
        } | {folder: "the analysis"}
        with said_plainly(places):
            views = {view: read_landmarks(path, view=view) for view, path in paths.items()}
            tset = load_threshold_set(params.get("thresholds"))
            report = assess(
                neutral=views.get("neutral"),
                flexion=views.get("flexion"),
                extension=views.get("extension"),
                thresholds=tset,
            )
            out = folder / "out"
            write_instability_outputs(report, out)
            morpho_view = "neutral" if "neutral" in views else sorted(views)[0]
            morpho_out = folder / "morphometry"
            morpho = write_morphometry_outputs(
                measure_morphometry(views[morpho_view]),
                morpho_out,
                inputs={"landmarks": f"{morpho_view} film, reader {reader}"},
            )
            context.progress(0.8, "saving")
            options = {
                "thresholds": tset.name,
                "reader": reader,
                "landmark_versions": chosen,
                "morphometry_view": morpho_view,
            }
            with record.unit_of_work() as uow:
                study = save_landmark_analysis(
                    uow,
                    actor,
                    pseudonym,
                    out,
                    landmarks=paths,
                    options=options,
                    morphometry=morpho_out / "morphometry.json",
                    morphometry_pictures=[
                        morpho_out / n for n in sorted(morpho["pictures"].values())
                    ],
                )
                morphometry = _save_morphometry(
                    uow,
                    actor,
                    pseudonym,
                    morpho_out,
                    landmarks=paths[morpho_view],
                    options={
                        "reader": reader,
                        "view": morpho_view,
                        "landmarks": chosen[morpho_view],
                    },
                )
    return {
        "entity": "instability",
        "instability_study": study,
        "morphometry_study": morphometry if not isinstance(morphometry, str) else None,
        "morphometry_not_in_record": morphometry if isinstance(morphometry, str) else None,
        "reader": reader,
        "verdicts": {lv["level"]: lv.get("verdict") for lv in report.levels},
    }


def _save_morphometry(
    uow: Any, actor: Any, pseudonym: str, folder: Path, *, landmarks: Path, options: Any
) -> int | str | None:
    """Save the film's morphometry as the record's morphometry study; return its id.

    As ``spinestab morphometry --patient`` does, so a deformity found with the landmark tool
    is a finding of the profile and, with acute pain, the suspected-fracture red flag.
    ``None`` when the same study is already stored (the same landmarks analysed again);
    the record's refusal as text when it refuses the study (the instability study is kept,
    and the job's result says why the morphometry is not in the record).
    """
    from spinestab.errors import AlreadyStoredError
    from spinestab.record import save_morphometry_folder

    try:
        stored = save_morphometry_folder(
            uow,
            actor,
            pseudonym,
            folder,
            inputs={"landmarks": landmarks},
            options=options,
            source="spinestab morphometry (landmark tool)",
        )
    except AlreadyStoredError:
        return None
    except InputError as exc:
        log.warning("morphometry of the landmark tool not saved in the record: %s", exc)
        return str(exc).replace(str(folder) + "/", "")
    return int(stored.id)


IMAGING_JOBS: dict[str, JobFunction] = {
    "mri_mask": run_mri_mask,
    "instability_landmarks": run_instability_landmarks,
}
