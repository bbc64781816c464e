"""What the browser viewer needs from the imaging library: volumes as NIfTI, colours, slices.

The viewer (NiiVue in the web app) reads NIfTI. A DICOM series is converted once on the
server with :func:`volume_to_nifti` (the geometry of :func:`~spinestab.imaging.io.read_volume`,
so a mask drawn on the converted volume lies on the DICOM series' grid); masks go the same
way. :func:`muscle_palette` gives one colour per muscle (the QA pictures' colours), the two
sides apart (right solid, left lighter) and named in the legend. :func:`level_slices` turns
``summary.json``'s per-slice level names into the slice span of each level, so a click on a
row of the per-level table can show that level's slices; :func:`check_slice_levels` checks a
clinician's slice table (the levels marked by slice in the viewer, where no vertebra mask
names them) against a series' grid before an analysis is queued.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinestab.errors import InputError, require
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme

__all__ = [
    "MUSCLE_COLOURS",
    "CroppedLabels",
    "FatOverlay",
    "LevelSlices",
    "PaletteEntry",
    "check_slice_levels",
    "crop_to_labels",
    "fat_overlay",
    "level_slices",
    "muscle_palette",
    "read_nifti_bytes",
    "summary_levels",
    "volume_to_nifti",
]

#: One colour per muscle, as the QA pictures draw them (:mod:`spinestab.imaging.qa`).
MUSCLE_COLOURS: dict[str, str] = {
    "multifidus": "#e6194b",
    "erector_spinae": "#3cb44b",
    "autochthon": "#3cb44b",
    "psoas": "#4363d8",
    "quadratus_lumborum": "#f58231",
}
_OTHER_MUSCLE = "#ffe119"
_VERTEBRA = "#bfbfbf"
#: Share of white mixed into a left side's colour (the right side is the pure colour).
LEFT_TINT = 0.45


@dataclass(frozen=True)
class PaletteEntry:
    """How one label value is shown and named in the viewer's legend."""

    value: int
    kind: str
    name: str
    side: str
    colour: str
    editable: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "value": self.value,
            "kind": self.kind,
            "name": self.name,
            "side": self.side,
            "colour": self.colour,
            "editable": self.editable,
            "label": self.name + (f" {self.side}" if self.side in ("left", "right") else ""),
        }


def _tint(colour: str, share: float) -> str:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    mixed = np.rint(rgb + (255.0 - rgb) * share).astype(int)
    return "#" + "".join(f"{v:02x}" for v in mixed)


def muscle_palette(scheme: LabelScheme) -> list[PaletteEntry]:
    """Return the legend of a label scheme: muscles (editable) first, then vertebrae.

    Each muscle has its QA colour; its left side a lighter tint of it, so sides are told
    apart on the overlay as well as in the legend. Labels of other kinds (organs of a
    TotalSegmentator mask, discs) are kept in the mask but not drawn.

    Examples
    --------
    >>> from spinestab.imaging.labels import get_scheme
    >>> [(p.value, p.name, p.side, p.colour) for p in muscle_palette(get_scheme("musclemap"))][:2]
    [(1, 'multifidus', 'right', '#e6194b'), (2, 'multifidus', 'left', '#f1809c')]

    """
    entries = []
    for value, entry in sorted(scheme.muscles().items()):
        base = MUSCLE_COLOURS.get(entry.name, _OTHER_MUSCLE)
        colour = _tint(base, LEFT_TINT) if entry.side == "left" else base
        entries.append(PaletteEntry(int(value), "muscle", entry.name, entry.side, colour, True))
    for value, entry in sorted(scheme.entries.items()):
        if entry.kind in ("vertebra", "vertebrae", "vertebral_body"):
            entries.append(
                PaletteEntry(int(value), entry.kind, entry.name, entry.side, _VERTEBRA, False)
            )
    return entries


def volume_to_nifti(volume: Volume, *, labels: bool = False, compress: bool = True) -> bytes:
    """Return a volume as NIfTI-1 bytes with its affine (sform and qform).

    Parameters
    ----------
    volume : Volume
        Image or label map (e.g. a DICOM series read with ``read_volume``).
    labels : bool
        Store as a label map: ``uint8`` when every label fits (the viewer can then edit it
        as a drawing), else ``int16``; non-integer values fail.
    compress : bool
        gzip the bytes (``.nii.gz``).

    Raises
    ------
    InputError
        Labels outside 0..32767.

    """
    nib = require("nibabel", extra="imaging", feature="Writing NIfTI")
    data = volume.data
    if labels:
        if data.size and (int(data.min()) < 0 or int(data.max()) > 32767):
            raise InputError(
                "label values out of range",
                source=volume.source or None,
                value=(int(data.min()), int(data.max())),
                expected="labels 0..32767",
            )
        dtype = np.uint8 if not data.size or int(data.max()) <= 255 else np.int16
        data = data.astype(dtype)
    elif data.dtype.kind == "f":
        data = data.astype(np.float32)
    elif data.dtype.kind in "iu" and data.size and int(np.abs(data).max()) < 32768:
        data = data.astype(np.int16)
    else:
        data = data.astype(np.float32)
    image = nib.Nifti1Image(np.asarray(data), volume.affine)
    image.header.set_xyzt_units("mm", "sec")
    image.set_sform(volume.affine, code=1)
    image.set_qform(volume.affine, code=1)
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw


@dataclass(frozen=True)
class CroppedLabels:
    """A label map cropped to the box of its non-zero voxels, and where that box lies.

    ``volume`` is a label map of its own (its affine places it in the world exactly where
    the box lies in the full grid); ``origin`` is the box's first voxel ``(i, j, k)`` in the
    full grid and ``full_shape`` the full grid's shape, so a viewer can put it back.
    """

    volume: Volume
    origin: tuple[int, int, int]
    full_shape: tuple[int, int, int]


def crop_to_labels(labels: Volume) -> CroppedLabels:
    """Crop a label map to the bounding box of its non-zero voxels, keeping its geometry.

    The cropped affine is the full one moved to the box's first voxel
    (``A @ [i0, j0, k0, 1]``), so every kept voxel keeps its world position. A map with no
    label is cropped to its first voxel.

    Examples
    --------
    >>> import numpy as np
    >>> data = np.zeros((6, 5, 4), dtype=np.uint8)
    >>> data[2:4, 1, 3] = 7
    >>> box = crop_to_labels(Volume(data, np.diag([2.0, 2.0, 3.0, 1.0])))
    >>> box.origin, box.volume.shape, box.volume.affine[:3, 3].tolist()
    ((2, 1, 3), (2, 1, 1), [4.0, 2.0, 9.0])

    """
    data = np.asarray(labels.data)
    full_shape = (int(data.shape[0]), int(data.shape[1]), int(data.shape[2]))
    nonzero = [np.flatnonzero(data.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1))]
    if any(n.size == 0 for n in nonzero):
        first, last = (0, 0, 0), (0, 0, 0)
    else:
        first = (int(nonzero[0][0]), int(nonzero[1][0]), int(nonzero[2][0]))
        last = (int(nonzero[0][-1]), int(nonzero[1][-1]), int(nonzero[2][-1]))
    box = data[first[0] : last[0] + 1, first[1] : last[1] + 1, first[2] : last[2] + 1]
    affine = np.array(labels.affine, dtype=float)
    affine[:, 3] = affine @ np.array([*first, 1.0])
    cropped = Volume(np.ascontiguousarray(box), affine, labels.modality, labels.source, labels.meta)
    return CroppedLabels(cropped, first, full_shape)


def read_nifti_bytes(data: bytes, *, source: str, as_labels: bool = False) -> Volume:
    """Read NIfTI bytes (gzip or plain) into a :class:`Volume` (as ``read_nifti`` does).

    Raises
    ------
    InputError
        Not NIfTI, truncated, or not 3-D.

    """
    import tempfile
    from pathlib import Path

    from spinestab.imaging.io.nifti import read_nifti

    suffix = ".nii.gz" if data[:2] == b"\x1f\x8b" else ".nii"
    with tempfile.TemporaryDirectory(prefix="spinestab-nifti-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            volume = read_nifti(path, as_labels=as_labels)
        except InputError as exc:
            raise InputError(exc.message, source=source, expected=exc.expected) from None
        data_copy = np.array(volume.data)  # detach from the temporary file
    return Volume(data_copy, volume.affine, volume.modality, source, volume.meta)


@dataclass(frozen=True)
class LevelSlices:
    """The slices of one vertebral level along the slice axis (first, last, middle)."""

    level: str
    first: int
    last: int

    @property
    def middle(self) -> int:
        """The slice shown when the level is chosen."""
        return (self.first + self.last) // 2

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"level": self.level, "first": self.first, "last": self.last, "middle": self.middle}


def level_slices(per_slice: Sequence[str], *, slice_count: int | None = None) -> list[LevelSlices]:
    """Return each level's slice span from the per-slice level names of ``summary.json``.

    A level named on slices that are not contiguous gets its outermost span. ``all`` (the
    whole study) spans every slice.

    Examples
    --------
    >>> [s.to_dict() for s in level_slices(["", "L4", "L4", "L5", ""])][0]
    {'level': 'all', 'first': 0, 'last': 4, 'middle': 2}

    """
    count = slice_count if slice_count is not None else len(per_slice)
    spans: dict[str, list[int]] = {}
    for index, name in enumerate(per_slice):
        if name:
            spans.setdefault(str(name), []).append(index)
    out = [LevelSlices("all", 0, max(count - 1, 0))]
    out += [LevelSlices(name, min(idx), max(idx)) for name, idx in spans.items()]
    return out


def summary_levels(summary: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return :func:`level_slices` of a ``summary.json`` document (empty without one)."""
    if not isinstance(summary, Mapping):
        return []
    levels = summary.get("levels")
    per_slice = levels.get("per_slice") if isinstance(levels, Mapping) else None
    if not isinstance(per_slice, list):
        return []
    count = summary.get("n_slices")
    names = [str(x or "") for x in per_slice]
    spans = level_slices(names, slice_count=count if isinstance(count, int) else None)
    return [s.to_dict() for s in spans]


def check_slice_levels(
    table: Mapping[str, Sequence[Any]], geometry: Mapping[str, Any]
) -> dict[str, tuple[int, int]]:
    """Check a slice table against a series' grid; return it as ``{level: (first, last)}``.

    The table is what ``spinestab mri --levels-table`` reads: 0-based, inclusive slice
    numbers along the slice axis. It is checked as the analysis will check it (the grid's
    slice count, and the levels' cranio-caudal order against the slices' world position).

    Parameters
    ----------
    table : mapping
        ``{"L4": [first, last], ...}``.
    geometry : mapping
        The series' geometry (``shape`` and ``affine``, as
        :class:`~spinestab.imaging.result.Geometry` writes them).

    Raises
    ------
    InputError
        An empty table, a level named twice or unknown, slices out of range or given two
        levels, levels out of anatomical order.

    Examples
    --------
    >>> grid = {"shape": [8, 8, 6], "affine": np.diag([1.0, 1.0, 4.0, 1.0]).tolist()}
    >>> check_slice_levels({"L5": [0, 2], "L4": [3, 5]}, grid)
    {'L5': (0, 2), 'L4': (3, 5)}

    """
    from spinestab.imaging.io.volume import slice_axis
    from spinestab.imaging.levels import levels_from_table
    from spinestab.imaging.slice_levels import slice_positions_s

    if not isinstance(table, Mapping) or not table:
        raise InputError(
            "no levels marked", item="slice_levels", expected='{"L4": [first, last], ...}'
        )
    affine = np.asarray(geometry["affine"], dtype=np.float64)
    shape = tuple(int(n) for n in geometry["shape"])
    rows = [(str(name), *_span(name, span)) for name, span in table.items()]
    levels_from_table(
        rows,
        shape[slice_axis(affine)],
        slice_s=slice_positions_s(affine, shape),
        source="slice levels",
    )
    return {name: (int(first), int(last)) for name, first, last in rows}


def _span(name: str, span: Any) -> tuple[Any, Any]:
    if isinstance(span, (str, bytes)) or not isinstance(span, Sequence) or len(span) != 2:
        raise InputError(
            "a level's slices are not a pair",
            item=str(name),
            value=span,
            expected="[first, last] (0-based, inclusive)",
        )
    return span[0], span[1]


@dataclass(frozen=True)
class FatOverlay:
    """The voxel fat fraction a run measured, for the viewer's fat overlay.

    Attributes
    ----------
    volume : Volume
        Fat fraction in percent (0-100) inside the muscles, 0 elsewhere (float32).
    method : str
        The fat method tag (as in ``muscle_quality.csv``).
    classes : bool
        True when the values are classes (single-contrast MR, CT in a HU range: every voxel
        is fat or not), False for a continuous map (Dixon, PDFF).

    """

    volume: Volume
    method: str
    classes: bool


def fat_overlay(image: Any, mask: Any, *, options: Any) -> FatOverlay:
    """Return the fat fraction per voxel as ``analyse_mri`` measures it, for display.

    The same reading, modality and fat steps as
    :func:`~spinestab.imaging.pipeline.analyse_mri`, so the overlay shows what the rows
    beside it were measured from.

    Parameters
    ----------
    image : path, Volume, DixonPair or FatFractionMap
        As for ``analyse_mri``.
    mask : path or Volume
        The muscle mask.
    options : MriOptions
        The run's options.

    """
    from spinestab.imaging.inputs import LevelInputs
    from spinestab.imaging.pipeline import _fat_map, _modality, _prepare, _read_image, _read_mask

    run = _prepare(image, mask, options, LevelInputs(), None, None)
    base, fat_image = _read_image(image, options)
    mask_volume = _read_mask(run, mask, base)
    modality, _ = _modality(image, base, options)
    fat = _fat_map(run, image, base, fat_image, mask_volume, modality)
    percent = np.where(np.isfinite(fat.fraction), fat.fraction * 100.0, 0.0).astype(np.float32)
    percent[~np.isin(mask_volume.data, list(run.scheme.muscles()))] = 0.0
    return FatOverlay(
        volume=base.with_data(percent),
        method=fat.method,
        classes=not fat.method.startswith(("dixon", "pdff")),
    )
