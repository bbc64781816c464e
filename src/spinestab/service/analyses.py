"""Analyses as background jobs: job kind -> job function (see :mod:`spinestab.service.jobs`).

``POST /patients/{p}/analyses`` checks the request now (:func:`submit_analysis`: the
uploads belong to the patient and fit the kind, the options are known) and queues a job.
A job function takes a :class:`~spinestab.service.jobs.JobContext` and JSON parameters,
lays the uploads out as files with their names (a DICOM series ZIP unpacked), runs the
library's analysis (:func:`spinestab.imaging.pipeline.analyse_mri`,
:func:`spinestab.instability.assess`, :func:`spinestab.wearable.pipeline.analyse`), writes
its output folder as the command line does, and saves that folder into the record with
the record's save function (``save_imaging_folder``, ...). None of them knows about HTTP,
so the same functions run in another worker process or on Dask.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from spinestab.errors import InputError
from spinestab.record import Actor
from spinestab.service import records
from spinestab.service.imaging_jobs import IMAGING_JOBS
from spinestab.service.jobs import JobContext, JobFunction, submit_job

__all__ = ["ANALYSES", "ROLES", "run_instability", "run_mri", "run_wearable", "submit_analysis"]

#: Roles a file may play in each analysis, and the upload kind each role takes.
ROLES: dict[str, dict[str, str]] = {
    "mri": {
        "image": "mri",
        "water": "mri",
        "fat": "mri",
        "ff": "mri",
        "mask": "mask",
        "vertebrae": "mask",
        "vertebral_body": "mask",
    },
    "instability": {
        "neutral": "landmarks",
        "flexion": "landmarks",
        "extension": "landmarks",
        "mask": "mask",
        "subreg": "mask",
    },
    "wearable": {"trunk": "wearable", "thigh": "wearable"},
}
#: Role of a file named by its id alone, by upload kind (in the order given).
_DEFAULT_ROLES = {
    "mri": {"mri": ["image"], "mask": ["mask", "vertebrae"]},
    "instability": {"landmarks": ["neutral"], "mask": ["mask", "subreg"]},
    "wearable": {"wearable": ["trunk", "thigh"]},
}
#: Options of each analysis a web request may set (server paths are never taken from it).
INSTABILITY_OPTIONS = (
    "thresholds",
    "cervical_thresholds",
    "translation_method",
    "labels",
    "corners",
    "margin",
)
WEARABLE_OPTIONS = (
    "units",
    "fs_hz",
    "start",
    "standing",
    "static_limit_min",
    "utc_offset_h",
    "sit_to_stand",
    "language",
)
MRI_PATH_OPTIONS = ("weights_dir",)
#: Most files and bytes unpacked from one ZIP of a DICOM series.
MAX_ZIP_MEMBERS = 5000
MAX_ZIP_BYTES = 4 * 1024**3


def _assign_roles(kind: str, files: Sequence[Any], uploads: list[dict[str, Any]]) -> list[dict]:
    """Each upload with the role it plays; refuse a role that does not fit its kind."""
    roles = ROLES[kind]
    free = {k: list(v) for k, v in _DEFAULT_ROLES[kind].items()}
    taken: set[str] = set()
    out = []
    for given, upload in zip(files, uploads, strict=True):
        role = given.get("role") if isinstance(given, Mapping) else None
        if role is None:
            candidates = [r for r in free.get(upload["kind"], []) if r not in taken]
            if not candidates:
                raise InputError(
                    f"no role left for a {upload['kind']} file in a {kind} analysis",
                    item="files",
                    value=upload["id"],
                    expected="files with their roles: " + ", ".join(roles),
                )
            role = candidates[0]
        if role not in roles:
            raise InputError(
                f"unknown role for a {kind} analysis",
                item="files",
                value=str(role)[:32],
                expected=", ".join(roles),
            )
        if roles[role] != upload["kind"]:
            raise InputError(
                f"the {role} of a {kind} analysis must be a {roles[role]} upload",
                item="files",
                value=f"{upload['id']} ({upload['kind']})",
            )
        if role in taken:
            raise InputError("a role is given twice", item="files", value=role)
        taken.add(role)
        out.append(
            {"id": upload["id"], "role": role, "name": upload["name"], "sha256": upload["sha256"]}
        )
    _check_complete(kind, taken)
    return out


def _check_complete(kind: str, roles: set[str]) -> None:
    if kind == "mri":
        images = roles & {"image", "water", "ff"}
        if len(images) != 1 or ("water" in roles) != ("fat" in roles):
            raise InputError(
                "an MRI analysis needs exactly one image: an image, water with fat, or a "
                "fat-fraction map",
                item="files",
                expected="an upload of kind mri (and one of kind mask)",
            )
    elif kind == "instability":
        if not roles & {"neutral", "flexion", "extension", "mask"}:
            raise InputError(
                "an instability analysis needs landmarks (or a vertebra mask)",
                item="files",
                expected="uploads of kind landmarks with roles neutral/flexion/extension",
            )
        if ("flexion" in roles) != ("extension" in roles):
            raise InputError(
                "flexion and extension landmarks go together", item="files", expected="both"
            )
        if {"neutral", "mask"} <= roles:
            raise InputError("give neutral landmarks or a vertebra mask, not both", item="files")
    elif "trunk" not in roles:
        raise InputError(
            "a wearable analysis needs the trunk sensor's file",
            item="files",
            expected="an upload of kind wearable",
        )


def check_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse unknown options and options that name files on the server; return them."""
    if not isinstance(options, Mapping):
        raise InputError("options must be an object", item="options")
    options = dict(options)
    if kind == "mri":
        from spinestab.imaging.options import MriOptions

        for key in MRI_PATH_OPTIONS:
            if options.get(key) is not None:
                raise InputError(
                    "this option names a folder on the server and is not taken from a request",
                    item=key,
                    expected="set by the server's administrator",
                )
        MriOptions.from_mapping(options)  # unknown keys and values refused now
        return options
    allowed = INSTABILITY_OPTIONS if kind == "instability" else WEARABLE_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown {kind} option", item="options", value=unknown, expected=", ".join(allowed)
        )
    if kind == "instability":
        from spinestab.instability import available_sets

        for key in ("thresholds", "cervical_thresholds"):
            value = options.get(key)
            if value is not None and value not in available_sets():
                raise InputError(
                    "unknown threshold set (files on the server are not taken from a request)",
                    item=key,
                    value=str(value)[:64],
                    expected=", ".join(available_sets()),
                )
    return options


def submit_analysis(
    state: Any,
    user: Any,
    pseudonym: str,
    *,
    kind: str,
    files: Sequence[Any],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Check an analysis request and queue its job; return the job's public view.

    Raises
    ------
    InputError
        Unknown kind, files or options (nothing queued); ``NotFoundError`` for an upload
        that is not the patient's.

    """
    from spinestab.service.jobs import job_public
    from spinestab.store import session_scope

    if kind not in ANALYSES:
        raise InputError(
            "unknown analysis kind", item="kind", value=kind, expected="mri, instability, wearable"
        )
    ids: list[Any] = [f.get("id") if isinstance(f, Mapping) else f for f in files]
    uploads = records.get_uploads(state.record, user, pseudonym, ids)
    named = _assign_roles(kind, files, uploads)
    params = {"files": named, "options": check_options(kind, options)}
    with session_scope(state.sessions) as session:
        job = submit_job(
            session,
            kind=kind,
            params=params,
            actor=user.username,
            patient=pseudonym,
            registry=state.registry,
        )
        view = job_public(job)
    if state.pool is not None:
        state.pool.notify()
    return view


# ------------------------------------------------------------------------------ job side
def _actor(context: JobContext) -> Actor:
    return Actor(username=context.actor, role="clinician")


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or name.endswith("/"):
        return None
    return path


def _unzip(source: Path, folder: Path) -> None:
    """Unpack a ZIP of DICOM files safely (no paths outside, bounded count and size)."""
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise InputError("not a readable ZIP file", source=source.name) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise InputError(
                "too many files in the ZIP", source=source.name, expected=f"<= {MAX_ZIP_MEMBERS}"
            )
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise InputError("the ZIP unpacks too large", source=source.name)
        for member in members:
            path = _safe_member(member.filename)
            if path is None:
                raise InputError("unsafe file name in the ZIP", source=source.name)
            if path.name.startswith(".") or "__MACOSX" in path.parts:
                continue
            target = folder.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


@contextlib.contextmanager
def laid_out(record: Any, files: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Path]]:
    """Give each file a path under its own name (role -> path) in a temporary folder.

    NIfTI, landmark and accelerometer files are links to the artifact store; a ZIP of a
    DICOM series is unpacked into a folder, a single DICOM file goes into a folder of its own.
    """
    with tempfile.TemporaryDirectory(prefix="spinestab-job-") as tmp:
        paths: dict[str, Path] = {}
        for f in files:
            folder = Path(tmp) / f["role"]
            folder.mkdir()
            name = Path(f["name"]).name or "upload"
            with record.artifacts.local_path(f["sha256"]) as stored:
                lower = name.lower()
                if lower.endswith(".zip"):
                    series = folder / "series"
                    series.mkdir()
                    _unzip(Path(stored), series)
                    paths[f["role"]] = series
                    continue
                target = folder / name
                try:
                    os.symlink(stored, target)
                except OSError:
                    shutil.copyfile(stored, target)
                paths[f["role"]] = folder if lower.endswith(".dcm") else target
        yield paths


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _save(context: JobContext, kind: str, folder: Path, inputs: dict, options: Any) -> dict:
    record = records.open_service_record(context.sessions, Path(context.settings.data_dir))
    saved = records.save_result(
        record,
        _actor(context),
        context.patient or "",
        kind=kind,
        folder=folder,
        inputs=inputs,
        options=_jsonable(options),
    )
    return saved


def run_mri(context: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Muscle quality from an uploaded image and mask, saved as an imaging study."""
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import DixonPair, FatFractionMap, LevelInputs, analyse_mri

    options = MriOptions.from_mapping(check_options("mri", params.get("options") or {}))
    record = records.open_service_record(context.sessions, Path(context.settings.data_dir))
    steps = ["read", "fat", "levels", "measure", "pictures"]
    context.progress(0.02, "reading")
    with laid_out(record, params["files"]) as paths, tempfile.TemporaryDirectory() as tmp:
        if "water" in paths:
            image: Any = DixonPair(paths["water"], paths["fat"])
        elif "ff" in paths:
            image = FatFractionMap(paths["ff"])
        else:
            image = paths["image"]

        def advance(name: str) -> None:
            done = steps.index(name) + 1 if name in steps else 1
            context.progress(0.05 + 0.8 * done / len(steps), name)

        result = analyse_mri(
            image,
            paths.get("mask"),
            options=options,
            levels=LevelInputs(
                vertebrae=paths.get("vertebrae"), vertebral_body=paths.get("vertebral_body")
            ),
            progress=advance,
        )
        out = Path(tmp) / "result"
        write_mri_outputs(result, out)
        context.progress(0.9, "saving")
        return _save(context, "imaging", out, dict(paths), options)


def run_instability(context: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Structural instability from uploaded landmarks (or a vertebra mask)."""
    from spinestab.instability import assess, load_threshold_set, read_landmarks
    from spinestab.instability.outputs import write_instability_outputs

    options = check_options("instability", params.get("options") or {})
    record = records.open_service_record(context.sessions, Path(context.settings.data_dir))
    margin = bool(options.get("margin", True))
    context.progress(0.05, "reading")
    with laid_out(record, params["files"]) as paths, tempfile.TemporaryDirectory() as tmp:
        neutral = None
        if "mask" in paths:
            from spinestab.instability.masks import corners_from_masks

            neutral = corners_from_masks(
                paths["mask"],
                labels=options.get("labels") or "spineps",
                subregions=paths.get("subreg"),
                method=options.get("corners") or "linefit",
            )
        elif "neutral" in paths:
            neutral = read_landmarks(paths["neutral"], view="neutral")
        views = {
            "neutral": neutral,
            "flexion": read_landmarks(paths["flexion"], view="flexion")
            if "flexion" in paths
            else None,
            "extension": read_landmarks(paths["extension"], view="extension")
            if "extension" in paths
            else None,
        }
        cervical = options.get("cervical_thresholds")
        report = assess(
            **views,
            thresholds=load_threshold_set(options.get("thresholds"), margin=margin),
            translation_method=options.get("translation_method") or "corner",
            cervical_thresholds=load_threshold_set(cervical, margin=margin, region="cervical")
            if cervical
            else None,
        )
        context.progress(0.6, "writing")
        out = Path(tmp) / "result"
        write_instability_outputs(
            report, out, mask_landmarks=neutral if "mask" in paths else None, pictures=True
        )
        context.progress(0.9, "saving")
        inputs = {
            f"landmarks_{v}": paths[v] for v in ("neutral", "flexion", "extension") if v in paths
        }
        inputs |= {k: paths[k] for k in ("mask", "subreg") if k in paths}
        return _save(context, "instability", out, inputs, options)


def run_wearable(context: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Posture, daily table and prompts from uploaded accelerometer files."""
    from spinestab.core.i18n import resolve_language
    from spinestab.wearable.config import PromptConfig, WearableConfig
    from spinestab.wearable.io import parse_time, read_recording
    from spinestab.wearable.outputs import write_outputs
    from spinestab.wearable.pipeline import analyse
    from spinestab.wearable.transfers import sit_to_stand_detector

    options = check_options("wearable", params.get("options") or {})
    record = records.open_service_record(context.sessions, Path(context.settings.data_dir))
    units = options.get("units") or "auto"
    fs = options.get("fs_hz")
    start = options.get("start")
    start_s = parse_time(start, "start") if start else None
    standing = options.get("standing")
    standing_s = None
    if standing:
        parts = str(standing).split("/")
        if len(parts) != 2:
            raise InputError(
                "standing period needs START/END",
                item="standing",
                expected="2024-01-01T08:00/2024-01-01T08:01",
            )
        standing_s = (parse_time(parts[0], "standing"), parse_time(parts[1], "standing"))
    cfg = WearableConfig(
        prompts=PromptConfig(
            static_limit_min=options.get("static_limit_min") or PromptConfig().static_limit_min
        ),
        sit_to_stand_method=options.get("sit_to_stand") or WearableConfig().sit_to_stand_method,
    )
    sit_to_stand_detector(cfg.sit_to_stand_method)
    language = resolve_language(options.get("language"))
    context.progress(0.02, "reading")
    with laid_out(record, params["files"]) as paths, tempfile.TemporaryDirectory() as tmp:
        trunk = read_recording(
            paths["trunk"], units=units, fs_hz=fs, start_unix_s=start_s, location="trunk"
        )
        thigh = (
            read_recording(
                paths["thigh"], units=units, fs_hz=fs, start_unix_s=start_s, location="thigh"
            )
            if "thigh" in paths
            else None
        )
        total = trunk.duration_s + (thigh.duration_s if thigh is not None else 0.0)
        done = [0.0]

        def advance(k: float) -> None:
            done[0] += k
            context.progress(0.1 + 0.7 * min(1.0, done[0] / total) if total else 0.5, "analysing")

        result = analyse(
            trunk,
            thigh,
            cfg=cfg,
            standing_s=standing_s,
            utc_offset_h=float(options.get("utc_offset_h") or 0.0),
            progress=advance,
        )
        out = Path(tmp) / "result"
        write_outputs(result, out, pictures=True, language=language)
        context.progress(0.9, "saving")
        return _save(context, "wearable", out, dict(paths), options | {"language": language})


ANALYSES: dict[str, JobFunction] = {
    "mri": run_mri,
    "instability": run_instability,
    "wearable": run_wearable,
    **IMAGING_JOBS,  # mri_mask, instability_landmarks: the imaging viewer and landmark tool
}
