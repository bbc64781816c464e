"""A synthetic cohort on disk with known truth: for tests, benchmarks and the docs' example.

:func:`write_synthetic_cohort` writes a BIDS-like folder (``participants.tsv``,
``sub-<id>/motion/`` scripted recordings from :mod:`spinestab.wearable.synthetic`,
``sub-<id>/forms/`` questionnaires with known scores) and a manifest CSV listing the same
tasks, so that both ways in can be checked against each other.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["SyntheticCohort", "write_synthetic_cohort"]

FORMS_DATE = "2026-01-15"


@dataclass(frozen=True)
class SyntheticCohort:
    """What was written, and the truth behind it.

    Attributes
    ----------
    root : Path
        The BIDS-like folder.
    manifest : Path
        ``root/manifest.csv``: the same tasks as the tree.
    subjects : tuple of str
        ``sub-001`` ...
    sex, age : dict
        Per subject.
    fat_pct : dict
        Per subject: the phantom's realised fat fraction (%) per (muscle, side, level).
    odi_pct, nrs : dict
        True ODI percentage and NRS pain of each subject's forms.
    thigh : dict
        Whether the subject has a thigh recording.

    """

    root: Path
    manifest: Path
    subjects: tuple[str, ...]
    sex: dict[str, str] = field(default_factory=dict)
    age: dict[str, float] = field(default_factory=dict)
    fat_pct: dict[str, dict[tuple[str, str, str], float]] = field(default_factory=dict)
    odi_pct: dict[str, float] = field(default_factory=dict)
    nrs: dict[str, int] = field(default_factory=dict)
    thigh: dict[str, bool] = field(default_factory=dict)


def _write_recording(path: Path, t: np.ndarray, acc: np.ndarray, fmt: str) -> None:
    if fmt == "npz":
        np.savez(path, time=t, accel=acc)
        return
    import pandas as pd

    pd.DataFrame(
        {
            "time": pd.to_datetime(t, unit="s"),
            "x": acc[:, 0],
            "y": acc[:, 1],
            "z": acc[:, 2],
        }
    ).to_csv(path, index=False, float_format="%.4f")


def _save_nifti(path: Path, volume: object, dtype: str) -> None:
    import nibabel as nib

    data = np.asarray(volume.data).astype(dtype)  # type: ignore[attr-defined]
    nib.save(nib.Nifti1Image(data, volume.affine), str(path))  # type: ignore[attr-defined]


def _write_mri(root: Path, sub: str, scale: float, seed: int) -> tuple[dict, list[str]]:
    """Write a Dixon phantom (L3-L5), its muscle and vertebra masks; fat scaled by ``scale``."""
    from spinestab.imaging.phantom import DEFAULT_FAT_PCT, make_phantom

    fat = {k: min(90.0, v * scale) for k, v in DEFAULT_FAT_PCT.items()}
    ph = make_phantom(
        levels=("L3", "L4", "L5"),  # 5 slices per vertebra, 2 per disc (the default):
        shape_xy=(220, 200),  # with fewer, disc slices blur the levels' fat by up to 4 pp
        fat_pct=fat,
        seed=seed,
    )
    anat = root / sub / "anat"
    masks = root / "derivatives" / "musclemap" / sub / "anat"
    anat.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    files = {
        "water": anat / f"{sub}_water.nii.gz",
        "fat": anat / f"{sub}_fat.nii.gz",
        "mask": masks / f"{sub}_dseg.nii.gz",
        "vertebrae": masks / f"{sub}_desc-vertebrae_dseg.nii.gz",
    }
    _save_nifti(files["water"], ph.water, "float32")
    _save_nifti(files["fat"], ph.fat, "float32")
    _save_nifti(files["mask"], ph.mask, "int16")
    _save_nifti(files["vertebrae"], ph.vertebrae, "int16")
    row = [
        sub,
        "mri",
        str(files["water"].relative_to(root)),
        f"--fat {files['fat'].relative_to(root)} --mask {files['mask'].relative_to(root)} "
        f"--vertebrae {files['vertebrae'].relative_to(root)} "
        "--labels musclemap --vertebrae-labels spineps_vert",
    ]
    return dict(ph.fat_pct), row


def write_synthetic_cohort(
    root: str | Path,
    *,
    subjects: int = 8,
    hours: float = 3.0,
    start_hour: float = 8.0,
    fs_hz: int = 25,
    thigh_every: int = 2,
    recording_format: str = "csv",
    wearable: bool = True,
    forms: bool = True,
    mri: bool = False,
    seed: int = 0,
) -> SyntheticCohort:
    """Write a synthetic cohort (see module docstring).

    Parameters
    ----------
    root : path-like
        Folder to write (created).
    subjects : int, keyword-only
        Number of subjects (``sub-001`` ...).
    hours : float, keyword-only
        Length of each recording.
    start_hour : float, keyword-only
        Clock time it starts at on 2024-01-01, for recordings under a day (whole days
        start at midnight).
    fs_hz : int, keyword-only
        Sampling rate.
    thigh_every : int, keyword-only
        Every n-th subject also has a thigh recording (0: none).
    recording_format : {"csv", "npz"}, keyword-only
        File type of the recordings (CSV as most exports; NumPy for large benchmarks).
    wearable, forms, mri : bool, keyword-only
        Which kinds to write (MRI: a Dixon phantom of L3-L5 per subject with known fat,
        scaled by a random factor 0.6-1.6 per subject, masks under
        ``derivatives/musclemap``).
    seed : int, keyword-only
        Seed of everything random.

    Returns
    -------
    SyntheticCohort

    """
    from spinestab.wearable.synthetic import scripted_recording

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ext = "csv" if recording_format == "csv" else "npz"
    ids = tuple(f"sub-{i + 1:03d}" for i in range(subjects))
    truth = SyntheticCohort(root, root / "manifest.csv", ids)
    manifest_rows = []
    with (root / "participants.tsv").open("w", encoding="utf-8") as fh:
        fh.write("participant_id\tsex\tage\n")
        for sub in ids:
            sex = "F" if rng.random() < 0.5 else "M"
            age = float(rng.integers(20, 80))
            truth.sex[sub] = "female" if sex == "F" else "male"
            truth.age[sub] = age
            fh.write(f"{sub}\t{sex}\t{age:g}\n")
    if mri:
        deriv = root / "derivatives" / "musclemap"
        deriv.mkdir(parents=True, exist_ok=True)
        (deriv / "dseg.json").write_text(
            '{"scheme": "musclemap", "vertebrae_scheme": "spineps_vert"}\n'
        )
    for k, sub in enumerate(ids):
        if mri:
            scale = float(rng.uniform(0.6, 1.6))
            truth.fat_pct[sub], row = _write_mri(root, sub, scale, seed * 1000 + k)
            manifest_rows.append(row)
        if wearable:
            motion = root / sub / "motion"
            motion.mkdir(parents=True, exist_ok=True)
            # the script starts at midnight in bed: a short recording is cut from the day
            skip_h = 0.0 if hours >= 24 else start_hour
            syn = scripted_recording(days=(skip_h + hours) / 24, fs_hz=fs_hz, seed=seed * 1000 + k)
            first = round(skip_h * 3600 * fs_hz)
            t = syn.start_unix_s + np.arange(first, syn.trunk.shape[0]) / fs_hz
            trunk = motion / f"{sub}_task-daily_tracksys-trunk_motion.{ext}"
            _write_recording(trunk, t, syn.trunk[first:], ext)
            options = ""
            has_thigh = bool(thigh_every) and k % thigh_every == 0
            truth.thigh[sub] = has_thigh
            if has_thigh:
                thigh = motion / f"{sub}_task-daily_tracksys-thigh_motion.{ext}"
                _write_recording(thigh, t, syn.thigh[first:], ext)
                options = f"--thigh {thigh.relative_to(root)}"
            manifest_rows.append([sub, "wearable", str(trunk.relative_to(root)), options])
        if forms:
            folder = root / sub / "forms"
            folder.mkdir(parents=True, exist_ok=True)
            odi = {f"s{i}": int(rng.integers(0, 6)) for i in range(1, 11)}
            nrs = int(rng.integers(0, 11))
            truth.odi_pct[sub] = 100.0 * sum(odi.values()) / 50.0
            truth.nrs[sub] = nrs
            docs = {
                "odi.json": {"instrument": "odi", "date": FORMS_DATE, "answers": odi},
                "nrs.json": {"instrument": "nrs", "date": FORMS_DATE, "answers": {"pain": nrs}},
            }
            for name, doc in docs.items():
                (folder / name).write_text(json.dumps(doc), encoding="utf-8")
                manifest_rows.append([sub, "forms", f"{sub}/forms/{name}", ""])
    with truth.manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["subject", "kind", "path", "options"])
        writer.writerows(manifest_rows)
    return truth
