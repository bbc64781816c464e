"""Vertebra masks: label schemes (label value -> level) and reading NIfTI label volumes.

Supported label schemes:

- ``spineps`` / ``tptbox`` (also ``spineps_vert``): SPINEPS ``seg-vert`` instance masks
  (C1-C7 = 1-7, T1-T12 = 8-19, L1-L6 = 20-25, S1 = 26, T13 = 28;
  ``TPTBox/core/vert_constants.py``), with the SPINEPS ``seg-subreg`` mask for the body
  (subregions 49 and 50, corpus border and corpus) given or found beside the file by its
  BIDS name;
- ``totalsegmentator`` (also ``totalseg_total``): TotalSegmentator v2 ``total`` task
  (S1 = 26, L5 = 27 ... L1 = 31, T12 = 32 ... T1 = 43, C7 = 44 ... C1 = 50;
  ``totalsegmentator/map_to_binary.py``);
- ``totalseg_vertebrae_mr``: TotalSegmentator ``vertebrae_mr`` (L5 = 2 ... C1 = 25);
- a JSON file mapping label values to level names, e.g. ``{"21": "L2", "22": "L3"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinestab.core.levels import normalise_level
from spinestab.core.safe_load import load_json
from spinestab.errors import InputError, require

__all__ = [
    "LABEL_SCHEMES",
    "SPINEPS_BODY_SUBREGIONS",
    "VertebraMasks",
    "label_map",
    "read_mask",
    "read_vertebra_masks",
]


_SPINEPS = {
    **{i: f"C{i}" for i in range(1, 8)},
    **{7 + i: f"T{i}" for i in range(1, 13)},
    **{19 + i: f"L{i}" for i in range(1, 7)},
    26: "S1",
    28: "T13",
}
_TOTALSEG = {
    26: "S1",
    **{32 - i: f"L{i}" for i in range(1, 6)},
    **{44 - i: f"T{i}" for i in range(1, 13)},
    **{51 - i: f"C{i}" for i in range(1, 8)},
}
#: Built-in label schemes: label value -> level.
LABEL_SCHEMES: dict[str, dict[int, str]] = {
    "spineps": _SPINEPS,
    "tptbox": _SPINEPS,
    "totalsegmentator": _TOTALSEG,
}
_TOTALSEG_VERTEBRAE_MR = {
    2 + i: name
    for i, name in enumerate(
        ["L5", "L4", "L3", "L2", "L1"]
        + [f"T{i}" for i in range(12, 0, -1)]
        + [f"C{i}" for i in range(7, 0, -1)]
    )
}
#: Built-in label schemes: label value -> level (``totalseg_vertebrae_mr``: TotalSegmentator
#: ``vertebrae_mr`` task, ``totalsegmentator/map_to_binary.py``; its sacrum label 1 is the
#: whole sacrum, not an S1 body, and is left out).
LABEL_SCHEMES["totalseg_vertebrae_mr"] = _TOTALSEG_VERTEBRAE_MR
# the names of ``spinestab mri --vertebrae-labels`` are accepted too
_ALIASES = {
    "total": "totalsegmentator",
    "ts": "totalsegmentator",
    "totalseg_total": "totalsegmentator",
    "totalsegmentator_total": "totalsegmentator",
    "spineps-vert": "spineps",
    "spineps_vert": "spineps",
    "tptbox_vert": "spineps",
    "vertebrae_mr": "totalseg_vertebrae_mr",
    "totalsegmentator_vertebrae_mr": "totalseg_vertebrae_mr",
}
#: SPINEPS subregions that form the vertebral body (Vertebra_Corpus_border, Vertebra_Corpus).
SPINEPS_BODY_SUBREGIONS = (49, 50)


def label_map(scheme: str | Path) -> dict[int, str]:
    """Label value -> level for a scheme name or a JSON mapping file.

    Raises
    ------
    InputError
        Unknown scheme name, or an invalid mapping file.

    """
    key = str(scheme).strip().lower()
    key = _ALIASES.get(key, key)
    if key in LABEL_SCHEMES:
        return dict(LABEL_SCHEMES[key])
    path = Path(str(scheme))
    if path.suffix.lower() != ".json":
        raise InputError(
            "unknown label scheme",
            item="--labels",
            value=str(scheme),
            expected="spineps, tptbox, totalsegmentator, totalseg_vertebrae_mr or a .json "
            "mapping file",
        )
    if not path.is_file():
        raise InputError(
            "label mapping file not found",
            source=str(path),
            expected='a JSON object such as {"21": "L2"}',
        )
    try:
        raw = load_json(path)  # bounded (core.safe_load): size, nesting, integers, duplicates
    except InputError as exc:  # the limit or syntax error, under this file's own heading
        raise InputError(
            f"label mapping is not valid JSON: {exc.message}",
            source=str(path),
            item=exc.item,
            value=exc.value,
            expected=exc.expected,
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"label mapping is not valid JSON: {exc}", source=str(path)) from None
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(
            "label mapping must be a non-empty JSON object",
            source=str(path),
            expected='{"21": "L2", "22": "L3"}',
        )
    out: dict[int, str] = {}
    for k, v in raw.items():
        try:
            value = int(k)
        except ValueError:
            raise InputError(
                "label value is not an integer",
                source=str(path),
                item=str(k),
                expected="integer label values as keys",
            ) from None
        out[value] = normalise_level(v, source=str(path))
    if len(set(out.values())) != len(out):
        raise InputError(
            "two labels map to the same level",
            source=str(path),
            value=sorted(out.values()),
            expected="one label per level",
        )
    return out


def read_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an integer label volume from NIfTI with nibabel (imaging extra).

    Returns
    -------
    labels : (I, J, K) int ndarray
    affine : (4, 4) ndarray
        Voxel to world (RAS+ mm).

    """
    nib = require("nibabel", extra="imaging", feature="Reading vertebra masks")
    path = Path(path)
    if not path.is_file():
        raise InputError("mask file not found", source=str(path), expected="a NIfTI file")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for bad files
        raise InputError(
            f"cannot read as NIfTI: {exc}",
            source=str(path),
            expected="a .nii or .nii.gz label volume",
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(
            "mask must be a 3-D volume", source=str(path), value=data.shape, expected="(I, J, K)"
        )
    if not np.issubdtype(data.dtype, np.integer) and (
        not np.all(np.isfinite(data)) or not np.all(data == np.round(data))
    ):
        raise InputError(
            "mask holds non-integer values",
            source=str(path),
            value=str(data.dtype),
            expected="an integer label map",
        )
    return np.asarray(data).astype(np.int32, copy=False), np.asarray(img.affine, float)


def _sibling_subreg(path: Path) -> Path | None:
    name = path.name
    if "seg-vert" in name:
        candidate = path.with_name(name.replace("seg-vert", "seg-subreg"))
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class VertebraMasks:
    """A vertebra label volume with its scheme and, optionally, the body subregions.

    Attributes
    ----------
    labels : (I, J, K) int ndarray
        Vertebra instance labels.
    affine : (4, 4) ndarray
        Voxel to world (RAS+ mm).
    mapping : dict of int to str
        Label value -> level.
    body : (I, J, K) int ndarray or None
        SPINEPS subregion labels on the same grid.
    source : str
        ``mask:<file>[+<subregion file>]``.

    """

    labels: np.ndarray
    affine: np.ndarray
    mapping: dict[int, str]
    body: np.ndarray | None
    source: str


def read_vertebra_masks(
    path: str | Path, *, labels: str | Path = "spineps", subregions: str | Path | None = None
) -> VertebraMasks:
    """Read a vertebra mask, its label scheme and (SPINEPS) its subregion mask.

    Parameters
    ----------
    path : str or Path
        Vertebra instance mask (NIfTI).
    labels : str or Path
        Label scheme name or JSON mapping file (see the module docstring).
    subregions : str or Path, optional
        SPINEPS subregion mask; for the ``spineps``/``tptbox`` schemes it is looked up
        beside ``path`` (``seg-vert`` -> ``seg-subreg``) when not given.

    Raises
    ------
    InputError
        Unknown scheme, unreadable file, or a subregion mask on another grid or without
        vertebral-body labels.

    """
    path = Path(path)
    mapping = label_map(labels)
    data, affine = read_mask(path)
    scheme = str(labels).strip().lower()
    sub_path = Path(subregions) if subregions is not None else None
    if sub_path is None and _ALIASES.get(scheme, scheme) in ("spineps", "tptbox"):
        sub_path = _sibling_subreg(path)
    body = None
    if sub_path is not None:
        body, sub_affine = read_mask(sub_path)
        if body.shape != data.shape or not np.allclose(sub_affine, affine, atol=1e-3):
            raise InputError(
                "subregion mask is not on the vertebra mask's grid",
                source=str(sub_path),
                value=body.shape,
                expected=f"shape {data.shape} and the same affine",
            )
        if not np.isin(body, SPINEPS_BODY_SUBREGIONS).any():
            raise InputError(
                "subregion mask has no vertebral-body labels",
                source=str(sub_path),
                expected=f"labels {SPINEPS_BODY_SUBREGIONS} (SPINEPS corpus)",
            )
    src = f"mask:{path.name}" + (f"+{sub_path.name}" if sub_path is not None else "")
    return VertebraMasks(data, affine, mapping, body, src)
