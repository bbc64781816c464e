"""Where the vertebral levels of a run come from.

A slice table, a vertebra mask (instances, or one label split into pieces), the muscle
mask's own vertebra labels, or none.

:func:`find_levels` returns a :class:`~spinestab.imaging.result.LevelAssignment` with the
clinician's confirmation or correction (``MriOptions.level_names``) applied;
:func:`vertebral_body_mask` gives the bodies for ``csa_to_vertebral_body``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError
from spinestab.imaging.inputs import LevelInputs, Source, read_source, source_name
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.options import MriOptions
from spinestab.imaging.result import LevelAssignment

__all__ = ["LevelContext", "find_levels", "vertebral_body_mask"]


@dataclass(frozen=True)
class LevelContext:
    """What the level steps need of a run: its options and the muscle mask's scheme."""

    options: MriOptions
    scheme: LabelScheme
    mask_name: str


def find_levels(
    ctx: LevelContext,
    levels: LevelInputs,
    seg_vertebrae: tuple[Path, str] | None,
    base: Volume,
    mask_vol: Volume,
) -> LevelAssignment:
    """Find the level of every slice, and where the names came from."""
    from spinestab.imaging.io import read_slice_table, slice_axis
    from spinestab.imaging.levels import levels_from_table, slice_positions_s

    if levels.levels_table is not None:
        table = levels.levels_table
        rows: Mapping[str, tuple[int, int]] | list[tuple[str, Any, Any]]
        if isinstance(table, Mapping):
            rows, source = table, "slice table"
        else:
            rows, source = read_slice_table(table), str(Path(table))
        from_table = levels_from_table(
            rows,
            base.shape[slice_axis(base.affine)],
            slice_s=slice_positions_s(base.affine, base.shape),
            source=source,
        )
        return LevelAssignment.of(
            from_table, source, len(from_table.levels), correction=ctx.options.level_names
        )
    vertebrae: Source | None = levels.vertebrae
    vertebrae_labels = ctx.options.vertebrae_labels
    if vertebrae is None and seg_vertebrae is not None:
        vertebrae, vertebrae_labels = seg_vertebrae
    found, source = _levels_from_vertebrae(ctx, vertebrae, vertebrae_labels, base, mask_vol)
    n_slices = base.shape[slice_axis(base.affine)]
    return LevelAssignment.of(found, source, n_slices, correction=ctx.options.level_names)


def _levels_from_vertebrae(
    ctx: LevelContext,
    vertebrae: Source | None,
    vertebrae_labels: str,
    base: Volume,
    mask_vol: Volume,
) -> tuple[SliceLevels | None, str]:
    from spinestab.imaging.labels import check_labels_known, get_scheme, label_values

    scheme = ctx.scheme
    if vertebrae is not None:
        vsrc, vscheme = read_source(vertebrae, labels=True), get_scheme(vertebrae_labels)
        check_labels_known(
            label_values(vsrc.data),
            vscheme,
            source=source_name(vertebrae),
            option="--vertebrae-labels",
        )
    elif scheme.vertebrae() or scheme.of_kind("vertebrae"):
        vsrc, vscheme = mask_vol, scheme
    else:
        return None, "none"
    found = _split_or_instances(ctx, vsrc, vscheme, base, given=vertebrae is not None)
    source = (
        source_name(vertebrae) if vertebrae is not None else f"{ctx.mask_name} (vertebra labels)"
    )
    if found is not None and vertebrae is not None and not any(found.levels):
        raise InputError(  # e.g. a mask of another study or another field of view
            "no image slice lies within the vertebrae of the vertebra mask",
            source=source_name(vertebrae),
            value=_s_range(vsrc),
            expected=f"a vertebra mask overlapping the image (image S range {_s_range(base)} mm)",
        )
    return found, str(source)


def _split_or_instances(
    ctx: LevelContext, vsrc: Volume, vscheme: LabelScheme, base: Volume, *, given: bool
) -> SliceLevels | None:
    """Levels from vertebra instances, or from one vertebrae label split into pieces."""
    from spinestab.imaging.labels import label_values
    from spinestab.imaging.levels import levels_from_instances, levels_from_single_label

    present = set(label_values(vsrc.data).tolist())
    if any(v in present for v in vscheme.vertebrae()):
        return levels_from_instances(vsrc, vscheme, base)
    single = any(v in present for v in vscheme.of_kind("vertebrae"))
    bodies = given and any(v in present for v in vscheme.of_kind("vertebral_body"))
    if single or bodies:  # one label for all vertebrae, or the bodies of a SPINEPS subregion map
        options = ctx.options
        return levels_from_single_label(
            vsrc, vscheme, base, anchor=options.anchor, anchor_is=options.anchor_is.value
        )
    if given:
        raise InputError(
            f"no vertebra labels of scheme '{vscheme.name}' in the vertebra mask",
            source=vsrc.source or None,
            value=sorted(int(v) for v in present if v)[:20],
            expected="the scheme the vertebra mask was made with (--vertebrae-labels)",
        )
    return None


def _s_range(volume: Volume) -> tuple[float, float]:
    """World S extent (mm) of a volume's voxel centres."""
    corners = np.array(
        [
            [i, j, k, 1.0]
            for i in (0, volume.shape[0] - 1)
            for j in (0, volume.shape[1] - 1)
            for k in (0, volume.shape[2] - 1)
        ]
    )
    s = (corners @ np.asarray(volume.affine, dtype=np.float64).T)[:, 2]
    return round(float(s.min()), 1), round(float(s.max()), 1)


def vertebral_body_mask(
    ctx: LevelContext, vertebral_body: Source | None, base: Volume, mask_vol: Volume
) -> np.ndarray | None:
    """Vertebral-body voxels on the image grid, for ``csa_to_vertebral_body``."""
    from spinestab.imaging.io import conform_to
    from spinestab.imaging.labels import get_scheme

    if vertebral_body is not None:
        vb_vol = conform_to(
            base, read_source(vertebral_body, labels=True), what="vertebral body mask"
        )
        vb_scheme = get_scheme(ctx.options.vertebral_body_labels)
        vb_values = list(vb_scheme.of_kind("vertebral_body"))
        if not vb_values:
            raise InputError(
                "scheme has no vertebral body labels", value=ctx.options.vertebral_body_labels
            )
        return np.isin(vb_vol.data, vb_values)
    if ctx.scheme.of_kind("vertebral_body"):
        body = np.isin(mask_vol.data, list(ctx.scheme.of_kind("vertebral_body")))
        return body if body.any() else None  # the muscle mask also holds vertebral bodies
    return None
