"""A cohort's tasks, read from a BIDS-like folder or from a manifest CSV.

Long module: BIDS and manifest discovery share the rules that make a task.

One task per subject, session and kind (``mri``, ``wearable``, ``forms``). A problem that
concerns one subject (a thigh file without a trunk file, an unknown option in a manifest
row) becomes that task's failure, never a stop of the whole cohort; a problem with the
dataset itself (no such folder, a manifest without its columns) is an
:class:`~spinestab.errors.InputError` before any work.

BIDS-like tree (see ``docs/cohort.md``)::

    participants.tsv                         participant_id, sex, age (and any other columns)
    sub-<id>/[ses-<id>/]motion/*_tracksys-<trunk|thigh>_*.<csv|cwa|bin|gt3x|...>
    sub-<id>/[ses-<id>/]forms/*.json|yaml
    sub-<id>/[ses-<id>/]anat/*.nii.gz        (MRI; masks under derivatives/<tool>/)

Manifest CSV: columns ``subject, kind, path, options`` and optionally ``session``, ``sex``,
``age``; paths relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinestab.cohort.options import KINDS, TaskOptions, parse_options
from spinestab.core.validation import check_range
from spinestab.errors import InputError

__all__ = [
    "Participant",
    "TaskSpec",
    "discover",
    "read_bids",
    "read_manifest",
    "read_participants",
]

log = logging.getLogger(__name__)

#: File endings read as wearable recordings (those of ``spinestab wearable --trunk``).
RECORDING_SUFFIXES = (
    ".cwa",
    ".bin",
    ".gt3x",
    ".csv",
    ".csv.gz",
    ".txt",
    ".npy",
    ".npz",
    ".parquet",
)
FORM_SUFFIXES = (".json", ".yaml", ".yml")
_TRACKSYS = re.compile(r"(?:^|_)tracksys-([A-Za-z0-9]+)(?:_|\.|$)")
_SEX = {"f": "female", "female": "female", "w": "female", "m": "male", "male": "male"}
_MISSING = ("", "n/a", "na", "nan", "none")


@dataclass(frozen=True)
class Participant:
    """What the cohort knows of one subject (``participants.tsv`` or manifest columns).

    Attributes
    ----------
    subject : str
        Identifier as in the dataset (``sub-01``).
    sex : {"female", "male"} or None
    age : float or None
        Years.
    extra : dict
        Other columns of ``participants.tsv`` (e.g. a trial arm, an outcome), as text.

    """

    subject: str
    sex: str | None = None
    age: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One unit of work: a subject's session of one kind.

    Attributes
    ----------
    subject : str
    session : str or None
    kind : {"mri", "wearable", "forms"}
    inputs : tuple of (str, str)
        ``(role, absolute path)``: ``trunk``/``thigh``, ``form``, ``image``/``mask``...
    settings : dict
        Validated options (JSON-ready).
    sex, age : participant data the task's rows carry (reference bands use them).
    origin : str
        Where the task was found (manifest line, folder), for messages.
    problem : str or None
        Why the task cannot run; it is then recorded as failed without running.

    """

    subject: str
    session: str | None
    kind: str
    inputs: tuple[tuple[str, str], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    sex: str | None = None
    age: float | None = None
    origin: str = ""
    problem: str | None = None

    @property
    def task_id(self) -> str:
        """``subject/session/kind`` (``subject/kind`` without a session)."""
        parts = [self.subject, self.session, self.kind]
        return "/".join(p for p in parts if p)


def _sex(value: str | None, *, source: str, item: str) -> str | None:
    text = (value or "").strip().lower()
    if text in _MISSING:
        return None
    if text in _SEX:
        return _SEX[text]
    if text in ("o", "other", "x", "u", "unknown"):
        return None  # reference bands are by female/male; others are counted apart
    raise InputError("unknown sex", source=source, item=item, value=value, expected="F or M")


def _age(value: str | None, *, source: str, item: str) -> float | None:
    text = (value or "").strip().lower()
    if text in _MISSING:
        return None
    if text.endswith("+"):  # BIDS de-identification: "89+"
        text = text[:-1]
    try:
        age = float(text)
    except ValueError:
        raise InputError("age is not a number", source=source, item=item, value=value) from None
    check_range(item, age, 0, 120, source=source, message="age out of range")
    return age


def _sniff_delimiter(path: Path, first: str) -> str:
    if path.suffix.lower() == ".tsv" or "\t" in first:
        return "\t"
    return ";" if first.count(";") > first.count(",") else ","


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable file ({exc.__class__.__name__})", source=str(path)) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError("table is empty", source=str(path))
    reader = csv.DictReader(lines, delimiter=_sniff_delimiter(path, lines[0]))
    names = [(n or "").strip() for n in reader.fieldnames or []]
    reader.fieldnames = names
    return names, [{k: (v or "").strip() for k, v in r.items() if k} for r in reader]


def read_participants(path: str | Path) -> dict[str, Participant]:
    """Read ``participants.tsv``: ``participant_id`` (or ``subject``), ``sex``, ``age``...

    Raises
    ------
    InputError
        Missing id column, a subject listed twice, an unreadable sex or age.

    """
    path = Path(path)
    names, rows = _read_table(path)
    id_col = next((c for c in ("participant_id", "subject") if c in names), None)
    if id_col is None:
        raise InputError(
            "no participant_id column", source=str(path), value=names, expected="participant_id"
        )
    out: dict[str, Participant] = {}
    for n, row in enumerate(rows, start=2):
        subject = row.get(id_col, "")
        if not subject:
            raise InputError("empty participant_id", source=str(path), item=f"line {n}")
        if subject in out:
            raise InputError("subject listed twice", source=str(path), item=f"line {n}")
        extra = {k: v for k, v in row.items() if k not in (id_col, "sex", "age")}
        out[subject] = Participant(
            subject,
            _sex(row.get("sex"), source=str(path), item=f"line {n} sex"),
            _age(row.get("age"), source=str(path), item=f"line {n} age"),
            extra,
        )
    return out


# ------------------------------------------------------------------------------ BIDS tree
def _entity(name: str, key: str) -> str | None:
    m = re.search(rf"(?:^|_){key}-([A-Za-z0-9]+)", name)
    return m.group(1) if m else None


def _is_recording(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith(RECORDING_SUFFIXES) and not name.startswith(".")


def _wearable_task(
    subject: str, session: str | None, folder: Path, options: TaskOptions
) -> TaskSpec | None:
    by_loc: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if not _is_recording(path):
            continue
        m = _TRACKSYS.search(path.name)
        loc = m.group(1).lower() if m else None
        if loc in ("trunk", "thigh"):
            by_loc.setdefault(loc, []).append(path)
    if not by_loc:
        return None
    base = TaskSpec(subject, session, "wearable", origin=str(folder))
    problem = None
    for loc, files in by_loc.items():
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            problem = f"{len(files)} {loc} recordings in {folder} ({names}): one per session"
    if problem is None and "trunk" not in by_loc:
        problem = f"a thigh recording without a trunk recording in {folder}"
    if problem is not None:
        return _with(base, problem=problem)
    inputs = [("trunk", str(by_loc["trunk"][0]))]
    if "thigh" in by_loc:
        inputs.append(("thigh", str(by_loc["thigh"][0])))
    return _with(base, inputs=tuple(inputs), settings=dict(options.settings))


def _forms_task(subject: str, session: str | None, folder: Path) -> TaskSpec | None:
    files = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in FORM_SUFFIXES and not p.name.startswith(".")
    ]
    if not files:
        return None
    return TaskSpec(
        subject,
        session,
        "forms",
        inputs=tuple(("form", str(p)) for p in files),
        origin=str(folder),
    )


_ANAT_SUFFIX = {  # BIDS-like suffix of an image -> (role, settings it implies)
    "t1w": ("image", {"contrast": "t1w"}),
    "t2w": ("image", {"contrast": "t2w"}),
    "ct": ("image", {"modality": "ct"}),
    "water": ("water", {}),
    "fat": ("fat", {}),
    "pdff": ("ff", {}),
    "ff": ("ff", {}),
}
_NIFTI = (".nii", ".nii.gz")


def _suffix(path: Path) -> str:
    stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem
    return stem.rsplit("_", 1)[-1].lower()


def _mri_problem(roles: Mapping[str, str]) -> str | None:
    images = [r for r in ("image", "water", "ff") if r in roles]
    if len(images) != 1 or ("water" in roles) != ("fat" in roles):
        return "give exactly one image: --image, --water with --fat, or --ff"
    if "mask" not in roles:
        return "no muscle mask (--mask; in a tree: derivatives/<tool>/sub-<id>/anat/*_dseg.nii.gz)"
    return None


def check_mri_settings(settings: Mapping[str, Any]) -> str | None:
    """Validate MRI settings with :class:`~spinestab.imaging.options.MriOptions`."""
    from spinestab.imaging.options import MriOptions

    try:
        MriOptions.from_mapping({k: v for k, v in settings.items() if k != "qa"})
    except InputError as exc:
        return str(exc)
    except TypeError as exc:
        return f"bad MRI option ({exc})"
    return None


def _finish_mri(spec: TaskSpec, roles: dict[str, str], settings: dict[str, Any]) -> TaskSpec:
    """Make an MRI task of its inputs and settings; sex and age from the participant."""
    settings = dict(settings)
    if spec.sex is not None and "sex" not in settings:
        settings["sex"] = spec.sex
    if spec.age is not None and "age" not in settings:
        settings["age"] = spec.age
    problem = _mri_problem(roles) or check_mri_settings(settings)
    if problem and spec.origin:
        problem = f"{spec.origin}: {problem}"
    return _with(spec, inputs=tuple(sorted(roles.items())), settings=settings, problem=problem)


def _derivative_masks(root: Path, rel: Path) -> tuple[dict[str, str], dict[str, Any], str | None]:
    """Masks of one subject/session under ``derivatives/<tool>/`` and the tool's scheme."""
    found = []
    deriv = root / "derivatives"
    for tool in sorted(p for p in deriv.iterdir() if p.is_dir()) if deriv.is_dir() else []:
        folder = tool / rel / "anat"
        if not folder.is_dir():
            continue
        dsegs = [
            p for p in sorted(folder.iterdir()) if p.name.endswith(("_dseg.nii.gz", "_dseg.nii"))
        ]
        if dsegs:
            found.append((tool, dsegs))
    if not found:
        return {}, {}, None
    if len(found) > 1:
        tools = ", ".join(t.name for t, _ in found)
        return {}, {}, f"masks from several tools ({tools}): list the task in a manifest CSV"
    tool, dsegs = found[0]
    roles: dict[str, str] = {}
    for p in dsegs:
        desc = _entity(p.name, "desc")
        role = {"vertebrae": "vertebrae", "bodies": "vertebral_body"}.get(desc or "", "mask")
        if role in roles:
            return {}, {}, f"two {role} masks in {p.parent}"
        roles[role] = str(p)
    settings: dict[str, Any] = {}
    scheme = tool / "dseg.json"
    if scheme.is_file():
        import json

        try:
            doc = json.loads(scheme.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return {}, {}, f"{scheme}: unreadable ({exc.__class__.__name__})"
        if isinstance(doc, dict) and "labels" in doc:
            settings["labels"] = str(scheme)  # a spinestab label-scheme JSON
        elif isinstance(doc, dict) and isinstance(doc.get("scheme"), str):
            settings["labels"] = doc["scheme"]
            if isinstance(doc.get("vertebrae_scheme"), str):
                settings["vertebrae_labels"] = doc["vertebrae_scheme"]
        else:
            return {}, {}, f"{scheme}: expected {{'scheme': NAME}} or a label-scheme JSON"
    return roles, settings, None


def _mri_task(
    root: Path,
    subject: str,
    session: str | None,
    folder: Path,
    options: TaskOptions,
    who: Participant,
) -> TaskSpec | None:
    images = [p for p in sorted(folder.iterdir()) if p.name.lower().endswith(_NIFTI)]
    if not images:
        return None
    spec = TaskSpec(subject, session, "mri", origin=str(folder), sex=who.sex, age=who.age)
    by_role: dict[str, list[Path]] = {}
    implied: dict[str, dict[str, Any]] = {}
    for p in images:
        role, role_settings = _ANAT_SUFFIX.get(_suffix(p), (None, {}))
        if role is not None:
            by_role.setdefault(role, []).append(p)
            implied[role] = role_settings
    many = [f"{len(v)} {k} images" for k, v in by_role.items() if len(v) > 1]
    if many:
        return _with(spec, problem=f"{folder}: {', '.join(many)}: one per session")
    roles: dict[str, str] = {}
    settings: dict[str, Any] = {}
    if "water" in by_role and "fat" in by_role:  # Dixon first, then a fat map, then one image
        roles = {"water": str(by_role["water"][0]), "fat": str(by_role["fat"][0])}
    elif "ff" in by_role:
        roles = {"ff": str(by_role["ff"][0])}
    elif "image" in by_role:
        roles = {"image": str(by_role["image"][0])}
        settings = implied["image"]
    else:
        names = ", ".join(p.name for p in images)
        return _with(spec, problem=f"{folder}: no image named *_T1w, *_T2w, *_CT, *_water with "
                                   f"*_fat, or *_PDFF ({names})")  # fmt: skip
    rel = Path(subject) / session if session else Path(subject)
    masks, scheme, problem = _derivative_masks(root, rel)
    if problem:
        return _with(spec, problem=problem)
    merged = {**scheme, **settings, **options.settings}
    return _finish_mri(spec, {**roles, **masks, **options.inputs}, merged)


def _with(spec: TaskSpec, **changes: Any) -> TaskSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def read_bids(
    root: str | Path,
    *,
    options: Mapping[str, TaskOptions] | None = None,
    participants: Mapping[str, Participant] | None = None,
) -> list[TaskSpec]:
    """List the tasks of a BIDS-like folder (see the module docstring).

    Parameters
    ----------
    root : path-like
        The dataset folder.
    options : mapping of kind to TaskOptions, optional
        Options for every task of a kind (``--options`` of ``spinestab cohort run``).
    participants : mapping, optional
        Subject data; default: ``root/participants.tsv`` when present.

    """
    root = Path(root)
    options = dict(options or {})
    if participants is None:
        pfile = root / "participants.tsv"
        participants = read_participants(pfile) if pfile.exists() else {}
    subjects = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("sub-"))
    if not subjects:
        raise InputError(
            "no subject folders", source=str(root), expected="sub-<id>/ folders (BIDS-like)"
        )
    tasks: list[TaskSpec] = []
    for sub in subjects:
        sessions = sorted(p for p in sub.iterdir() if p.is_dir() and p.name.startswith("ses-"))
        units: list[tuple[str | None, Path]] = [(s.name, s) for s in sessions] or [(None, sub)]
        who = participants.get(sub.name, Participant(sub.name))
        for session, folder in units:
            found = []
            if (folder / "motion").is_dir():
                found.append(
                    _wearable_task(
                        sub.name, session, folder / "motion", options.get("wearable", TaskOptions())
                    )
                )
            if (folder / "forms").is_dir():
                found.append(_forms_task(sub.name, session, folder / "forms"))
            base = [_with(t, sex=who.sex, age=who.age) for t in found if t is not None]
            if (folder / "anat").is_dir():
                mri = _mri_task(
                    root,
                    sub.name,
                    session,
                    folder / "anat",
                    options.get("mri", TaskOptions()),
                    who,
                )
                base += [mri] if mri is not None else []
            tasks += base
    return tasks


# ------------------------------------------------------------------------------ manifest CSV
_KIND_NAMES = {"mri": "mri", "wearable": "wearable", "forms": "forms", "form": "forms"}


def read_manifest(
    path: str | Path,
    *,
    options: Mapping[str, TaskOptions] | None = None,
    participants: Mapping[str, Participant] | None = None,
) -> list[TaskSpec]:
    """List the tasks of a manifest CSV (``subject, kind, path, options``).

    Rows of one subject, session and kind make one task: one row for ``wearable`` (the
    trunk file; ``--thigh`` in its options) and ``mri``, one row per form (or a folder of
    forms) for ``forms``. Relative paths are read from the manifest's folder.
    """
    path = Path(path)
    base_dir = path.resolve().parent
    options = dict(options or {})
    names, rows = _read_table(path)
    need = ["subject", "kind", "path"]
    if not set(need) <= set(names):
        raise InputError(
            "manifest lacks columns",
            source=str(path),
            value=names,
            expected="subject, kind, path, options (session, sex, age optional)",
        )
    if participants is None:
        pfile = base_dir / "participants.tsv"
        participants = read_participants(pfile) if pfile.exists() else {}
    groups: dict[tuple[str, str | None, str], list[tuple[int, dict[str, str]]]] = {}
    bad: list[TaskSpec] = []
    people: dict[str, Participant] = dict(participants)
    for n, row in enumerate(rows, start=2):
        where = f"{path}:{n}"
        subject, session = row.get("subject", ""), row.get("session") or None
        if not subject:
            raise InputError("empty subject", source=str(path), item=f"line {n}")
        kind = _KIND_NAMES.get(row.get("kind", "").lower())
        sex = _sex(row.get("sex"), source=str(path), item=f"line {n} sex")
        age = _age(row.get("age"), source=str(path), item=f"line {n} age")
        if sex is not None or age is not None:
            known = people.get(subject, Participant(subject))
            people[subject] = Participant(
                subject, sex or known.sex, age if age is not None else known.age, known.extra
            )
        if kind is None:
            bad.append(
                TaskSpec(
                    subject,
                    session,
                    row.get("kind", "") or "unknown",
                    origin=where,
                    problem=f"{where}: unknown kind {row.get('kind')!r}; expected "
                    + ", ".join(KINDS),
                )
            )
            continue
        groups.setdefault((subject, session, kind), []).append((n, row))
    tasks = []
    for (subject, session, kind), members in groups.items():
        who = people.get(subject, Participant(subject))
        tasks.append(_manifest_task(who, session, kind, members, path, base_dir, options))
    return tasks + [_with(t, sex=people.get(t.subject, Participant(t.subject)).sex) for t in bad]


def _manifest_task(
    who: Participant,
    session: str | None,
    kind: str,
    members: list[tuple[int, dict[str, str]]],
    manifest: Path,
    base_dir: Path,
    defaults: Mapping[str, TaskOptions],
) -> TaskSpec:
    lines = ", ".join(str(n) for n, _ in members)
    where = f"{manifest}:{lines}"
    spec = TaskSpec(who.subject, session, kind, origin=where, sex=who.sex, age=who.age)
    if kind != "forms" and len(members) > 1:
        return _with(spec, problem=f"{where}: {len(members)} {kind} rows for one session")
    try:
        texts = {row.get("options", "") for _, row in members}
        if len(texts) > 1:
            raise InputError("rows of one task give different options", source=where)
        given = parse_options(kind, texts.pop(), base_dir=base_dir, source=where)
    except InputError as exc:
        return _with(spec, problem=str(exc))
    opts = defaults.get(kind, TaskOptions()).merged(given)
    paths = []
    for _, row in members:
        p = Path(row["path"]).expanduser()
        paths.append(p if p.is_absolute() or not row["path"] else base_dir / p)
    if kind == "wearable":
        inputs = [("trunk", str(paths[0]))]
        if "thigh" in opts.inputs:
            inputs.append(("thigh", opts.inputs["thigh"]))
    elif kind == "forms":
        inputs = []
        for p in paths:
            if p.is_dir():
                inputs += [
                    ("form", str(f))
                    for f in sorted(p.iterdir())
                    if f.is_file() and f.suffix.lower() in FORM_SUFFIXES
                ]
            else:
                inputs.append(("form", str(p)))
    else:
        return _manifest_mri(spec, row_path=members[0][1].get("path", ""), path=paths[0], opts=opts)
    return _with(spec, inputs=tuple(inputs), settings=dict(opts.settings))


def _manifest_mri(spec: TaskSpec, *, row_path: str, path: Path, opts: TaskOptions) -> TaskSpec:
    """Make an MRI task of a row: the path fills --image, or --water beside a --fat option."""
    roles = dict(opts.inputs)
    if row_path:
        if "fat" in roles and "water" not in roles:
            roles["water"] = str(path)
        elif not any(r in roles for r in ("image", "water", "ff")):
            roles["image"] = str(path)
        else:
            return _with(
                spec, problem=f"{spec.origin}: the path and the options both name the image"
            )
    return _finish_mri(spec, roles, dict(opts.settings))


def discover(
    dataset: str | Path,
    *,
    options: Mapping[str, TaskOptions] | None = None,
    participants: str | Path | None = None,
) -> tuple[list[TaskSpec], dict[str, Participant]]:
    """Read a cohort: a BIDS-like folder or a manifest CSV.

    Returns
    -------
    tasks : list of TaskSpec
        Sorted by task id.
    participants : dict
        Subject data by subject (from ``participants.tsv`` and manifest columns).

    """
    if not Path(dataset).exists():
        raise InputError("dataset not found", source=str(dataset))
    dataset = Path(dataset).resolve()  # workers elsewhere need whole paths
    if participants is not None:
        people = read_participants(participants)
    elif dataset.is_dir() and (dataset / "participants.tsv").exists():
        people = read_participants(dataset / "participants.tsv")
    elif dataset.is_file() and (dataset.resolve().parent / "participants.tsv").exists():
        people = read_participants(dataset.resolve().parent / "participants.tsv")
    else:
        people = {}
    if dataset.is_dir():
        tasks = read_bids(dataset, options=options, participants=people)
    else:
        tasks = read_manifest(dataset, options=options, participants=people)
    for t in tasks:  # subjects only in the manifest
        if t.subject not in people:
            people[t.subject] = Participant(t.subject, t.sex, t.age)
        elif people[t.subject].sex is None and t.sex is not None:
            p = people[t.subject]
            people[t.subject] = Participant(p.subject, t.sex, t.age, p.extra)
    counts = Counter(t.task_id for t in tasks)
    duplicated = sorted(i for i, k in counts.items() if k > 1)
    if duplicated:
        raise InputError("task listed twice", source=str(dataset), value=duplicated[:5])
    return sorted(tasks, key=lambda t: t.task_id), people


def subjects_of(tasks: Iterable[TaskSpec]) -> list[str]:
    """Sorted distinct subjects of ``tasks``."""
    return sorted({t.subject for t in tasks})
