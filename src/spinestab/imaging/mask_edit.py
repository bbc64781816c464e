"""A mask drawn or corrected in the viewer: checked against its image, compared with the last.

The viewer sends the whole label map it holds (NIfTI on the image's header). Before it
becomes a mask version it must fit: :func:`check_drawn_mask` refuses a map that is not on
the image's grid, holds values that are not integers, or labels the scheme does not know.
:func:`summarise_edit` says what changed against the version it was drawn from (voxels
added and removed per label, the slices touched), and :func:`edit_method` names the new
version ``manual`` (drawn from nothing) or ``edited`` (a correction of an earlier mask,
whoever or whatever made it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.io import Volume, conform_to
from spinestab.imaging.io.volume import as_label_volume, slice_axis
from spinestab.imaging.labels import LabelScheme

__all__ = [
    "METHODS",
    "LabelChange",
    "MaskEdit",
    "check_drawn_mask",
    "edit_method",
    "summarise_edit",
]

#: How a mask version was made: drawn from nothing, a segmenter's output, or a correction.
METHODS = ("manual", "segmenter", "edited", "imported")


@dataclass(frozen=True)
class LabelChange:
    """Voxels of one label added and removed by an edit."""

    value: int
    name: str
    added: int
    removed: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "value": self.value,
            "name": self.name,
            "added": self.added,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class MaskEdit:
    """What an edit changed: voxels, labels, and the slices (along the slice axis) touched."""

    changed_voxels: int
    labels: tuple[LabelChange, ...]
    slices: tuple[int, ...]
    muscle_voxels: int

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return self.changed_voxels == 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "changed_voxels": self.changed_voxels,
            "labels": [c.to_dict() for c in self.labels],
            "slices": list(self.slices),
            "muscle_voxels": self.muscle_voxels,
        }


def check_drawn_mask(drawn: Volume, image: Volume, scheme: LabelScheme) -> Volume:
    """Return the drawn label map on the image's grid, or refuse it.

    Parameters
    ----------
    drawn : Volume
        The label map as sent (e.g. read from the viewer's NIfTI).
    image : Volume
        The study's image (the grid the analysis measures on).
    scheme : LabelScheme
        The label scheme of the study's masks.

    Raises
    ------
    InputError
        Another grid (shape, spacing, orientation or origin), non-integer values, or a
        label value the scheme does not name; nothing is kept.

    """
    labels = as_label_volume(drawn)
    placed = conform_to(image, labels, what="drawn mask")
    values = np.unique(placed.data)
    unknown = sorted(int(v) for v in values if v != 0 and int(v) not in scheme.entries)
    if unknown:
        raise InputError(
            f"labels not in the scheme {scheme.name}",
            source=drawn.source or None,
            value=unknown[:10],
            expected=f"labels {', '.join(str(v) for v in sorted(scheme.entries)[:20])}",
        )
    return placed


def _name(scheme: LabelScheme, value: int) -> str:
    entry = scheme.entries.get(value)
    if entry is None:
        return str(value)
    return entry.name + (f" {entry.side}" if entry.side in ("left", "right") else "")


def summarise_edit(
    previous: np.ndarray | None, new: np.ndarray, *, scheme: LabelScheme, affine: np.ndarray
) -> MaskEdit:
    """Compare a new label map with the one it was drawn from.

    Parameters
    ----------
    previous : ndarray or None
        The earlier version's labels (None: drawn from nothing).
    new : ndarray
        The new labels, same shape.
    scheme : LabelScheme
        For the label names.
    affine : (4, 4) ndarray
        The grid's affine (which array axis holds the slices).

    Returns
    -------
    MaskEdit

    """
    before = np.zeros_like(new) if previous is None else previous
    if before.shape != new.shape:
        raise InputError(
            "the earlier mask has another shape",
            value=(tuple(before.shape), tuple(new.shape)),
            expected="two masks on one grid",
        )
    changed = before != new
    axis = slice_axis(affine)
    other_axes = tuple(i for i in range(3) if i != axis)
    slices = tuple(int(i) for i in np.flatnonzero(changed.any(axis=other_axes)))
    changes = []
    values = np.union1d(np.unique(before[changed]), np.unique(new[changed]))
    for value in (int(v) for v in values if v != 0):
        added = int(np.count_nonzero(changed & (new == value)))
        removed = int(np.count_nonzero(changed & (before == value)))
        changes.append(LabelChange(value, _name(scheme, value), added, removed))
    muscles = list(scheme.muscles())
    return MaskEdit(
        changed_voxels=int(np.count_nonzero(changed)),
        labels=tuple(changes),
        slices=slices,
        muscle_voxels=int(np.count_nonzero(np.isin(new, muscles))),
    )


def edit_method(previous_method: str | None, edit: MaskEdit) -> str:
    """Return the method of a new version: ``manual`` from nothing, else ``edited``.

    Raises
    ------
    InputError
        An edit that changes nothing (the earlier version stands), or a mask with no
        muscle voxel.

    """
    if edit.muscle_voxels == 0:
        raise InputError(
            "the mask has no muscle",
            item="mask",
            expected="at least one muscle outline (multifidus, erector spinae, psoas or "
            "quadratus lumborum) on one slice",
        )
    if previous_method is None:
        return "manual"
    if edit.empty:
        raise InputError(
            "nothing changed: the mask equals the version it was drawn from",
            item="mask",
            expected="a mask that differs from its earlier version",
        )
    return "edited"


def slices_with_muscle(
    labels: np.ndarray, *, scheme: LabelScheme, affine: np.ndarray
) -> Sequence[int]:
    """Return the slice indices that hold any muscle label."""
    axis = slice_axis(affine)
    other_axes = tuple(i for i in range(3) if i != axis)
    present = np.isin(labels, list(scheme.muscles())).any(axis=other_axes)
    return [int(i) for i in np.flatnonzero(present)]
