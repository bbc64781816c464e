"""NIfTI files (``.nii``, ``.nii.gz``) read with nibabel into a :class:`~.volume.Volume`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io.volume import Volume, _as_labels, _squeeze_to_3d

__all__ = ["read_nifti"]

logger = logging.getLogger(__name__)


def read_nifti(path: str | Path, *, modality: str = "unknown", as_labels: bool = False) -> Volume:
    """Read a 3-D NIfTI file (``.nii`` or ``.nii.gz``).

    Parameters
    ----------
    path : str or Path
        The file.
    modality : str, optional
        ``"CT"``, ``"MR"`` or ``"unknown"``; NIfTI does not record it.
    as_labels : bool, optional
        Return integer labels; non-integer values fail.

    Returns
    -------
    Volume

    Raises
    ------
    InputError
        Missing, corrupt or truncated file, or not 3-D.

    """
    nib = require("nibabel", extra="imaging", feature="Reading NIfTI")
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("file not found", source=src, expected="an existing NIfTI file")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds for corrupt files
        raise InputError(
            f"cannot read NIfTI ({type(exc).__name__}: {exc})",
            source=src,
            expected="a complete, uncorrupted .nii or .nii.gz file",
        ) from exc
    affine = np.asarray(img.affine, dtype=float)
    data = _squeeze_to_3d(data, src)
    if as_labels:
        data = _as_labels(data, src)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError("the affine is singular or not finite", source=src, value=affine.tolist())
    return Volume(data=data, affine=affine, modality=modality, source=src)
