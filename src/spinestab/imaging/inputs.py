"""The inputs of a muscle-quality run: files, folders or volumes already read.

A :data:`Source` is a NIfTI file, a DICOM series folder (or a DICOM-SEG for a mask) or a
:class:`~spinestab.imaging.io.Volume` held in memory (a web app, a Dask task). The image
type decides the fat method: one image (MR or CT), a :class:`DixonPair` or a
:class:`FatFractionMap`. :func:`fingerprint` gives the SHA-256 a result's provenance records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.imaging.io import Volume

__all__ = [
    "DixonPair",
    "FatFractionMap",
    "ImageInput",
    "LevelInputs",
    "Source",
    "fingerprint",
    "primary",
    "read_source",
    "source_name",
]

#: A file or folder to read, or a volume already read.
Source = str | Path | Volume


@dataclass(frozen=True)
class DixonPair:
    """Dixon water and fat images (same grid): fat fraction = F / (W + F)."""

    water: Source
    fat: Source


@dataclass(frozen=True)
class FatFractionMap:
    """A fat-fraction (PDFF) map, in percent or as fractions (``ff_units``)."""

    map: Source


@dataclass(frozen=True)
class LevelInputs:
    """Where the vertebral levels (and the vertebral-body areas) come from.

    Attributes
    ----------
    vertebrae : Source, optional
        Vertebra mask on any grid sharing the world frame (scheme: ``vertebrae_labels``).
        Without it, vertebra labels of the muscle mask are used where its scheme has them.
    levels_table : path or mapping, optional
        Explicit slice table: CSV ``level,first_slice,last_slice``, JSON, or a mapping
        ``{"L4": (first, last)}``. Not together with ``vertebrae``.
    vertebral_body : Source, optional
        Subregion mask with the vertebral bodies, on the image grid.

    """

    vertebrae: Source | None = None
    levels_table: str | Path | Mapping[str, tuple[int, int]] | None = None
    vertebral_body: Source | None = None


ImageInput = Source | DixonPair | FatFractionMap


def source_name(src: Source | None) -> str | None:
    """How a source is named in messages and in ``summary.json``."""
    if src is None:
        return None
    if isinstance(src, Volume):
        return src.source or "<in memory>"
    return str(Path(src))


def read_source(
    src: Source, *, series_uid: str | None = None, modality: str | None = None, labels: bool = False
) -> Volume:
    """Read a source (a volume is used as it is; ``labels``: as integer labels)."""
    from spinestab.imaging.io import as_label_volume, read_volume

    if isinstance(src, Volume):
        vol = as_label_volume(src) if labels else src
        return vol.with_data(vol.data, modality=modality) if modality else vol
    return read_volume(src, series_uid=series_uid, modality=modality, as_labels=labels)


def primary(image: ImageInput) -> Source:
    """Return the image the metrics are measured on (Dixon: water; a map: the map)."""
    if isinstance(image, DixonPair):
        return image.water
    if isinstance(image, FatFractionMap):
        return image.map
    return image


def fingerprint(src: Source | Mapping[str, Any] | None) -> str | None:
    """SHA-256 of an input: a file's bytes, a folder's files, or a volume's voxels."""
    if src is None:
        return None
    digest = hashlib.sha256()
    if isinstance(src, Volume):
        digest.update(np.ascontiguousarray(src.data).tobytes())
        digest.update(np.asarray(src.affine, dtype=np.float64).tobytes())
        return digest.hexdigest()
    if isinstance(src, Mapping):
        digest.update(repr(sorted(src.items())).encode())
        return digest.hexdigest()
    path = Path(src)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
