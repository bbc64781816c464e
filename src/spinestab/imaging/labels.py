"""Label schemes of the segmenters, mapped to canonical names.

Canonical muscles: ``multifidus``, ``erector_spinae``, ``autochthon`` (multifidus and erector
spinae together, as TotalSegmentator segments them), ``psoas`` and ``quadratus_lumborum``.
Sides: ``left``, ``right`` (patient's side) or ``none``. Vertebrae: ``C1`` ... ``L6``, ``S1``.

Built-in schemes (:mod:`~spinestab.imaging.builtin_schemes`, sources beside each):
``musclemap``, ``totalseg_total``, ``totalseg_total_mr``, ``totalseg_vertebrae_mr``,
``spineps_vert``, ``spineps_subreg``.

A custom scheme is a JSON file::

    {"name": "my_scheme",
     "labels": {"1": {"muscle": "multifidus", "side": "right"},
                "20": {"vertebra": "L1"}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from spinestab.core.levels import VERTEBRAE, vertebra_order
from spinestab.core.safe_load import load_json
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = [
    "MUSCLES",
    "SIDES",
    "VERTEBRAE",
    "LabelEntry",
    "LabelScheme",
    "check_labels_known",
    "get_scheme",
    "label_values",
    "load_custom_scheme",
    "scheme_from_mapping",
    "vertebra_order",
]

MUSCLES = ("multifidus", "erector_spinae", "autochthon", "psoas", "quadratus_lumborum")
SIDES = ("left", "right", "none")
Kind = Literal["muscle", "vertebra", "vertebrae", "vertebral_body", "disc", "other"]


@dataclass(frozen=True)
class LabelEntry:
    """What one label value means.

    Attributes
    ----------
    value : int
        The voxel value.
    kind : str
        ``muscle``, ``vertebra`` (one instance), ``vertebrae`` (all vertebrae in one label),
        ``vertebral_body``, ``disc`` or ``other``.
    name : str
        Canonical muscle or vertebra name, or the tool's own name for ``other``.
    side : str
        ``left``, ``right`` or ``none``.
    note : str
        Anything the user should know (e.g. "iliopsoas: psoas and iliacus together").

    """

    value: int
    kind: Kind
    name: str
    side: str = "none"
    note: str = ""


@dataclass(frozen=True)
class LabelScheme:
    """A label map's meaning."""

    name: str
    entries: Mapping[int, LabelEntry]
    source: str

    def muscles(self) -> dict[int, LabelEntry]:
        """Muscle labels only."""
        return {v: e for v, e in self.entries.items() if e.kind == "muscle"}

    def vertebrae(self) -> dict[int, LabelEntry]:
        """Vertebra instance labels only."""
        return {v: e for v, e in self.entries.items() if e.kind == "vertebra"}

    def of_kind(self, kind: str) -> dict[int, LabelEntry]:
        """Labels of one kind."""
        return {v: e for v, e in self.entries.items() if e.kind == kind}


def get_scheme(name_or_path: str | Path) -> LabelScheme:
    """Return a built-in scheme by name, or load a custom JSON scheme from a path.

    Raises
    ------
    InputError
        Unknown name and no such file.

    """
    from spinestab.imaging.builtin_schemes import ALIASES, SCHEMES

    key = str(name_or_path)
    key = ALIASES.get(key.lower(), key.lower()) if key.lower() in {**ALIASES, **SCHEMES} else key
    if key in SCHEMES:
        return SCHEMES[key]()
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" or path.is_file():
        return load_custom_scheme(path)
    raise InputError(
        "unknown label scheme",
        item="labels",
        value=str(name_or_path),
        expected=f"one of {', '.join(SCHEMES)} or a JSON file",
    )


_SPEC_KEYS = frozenset({"muscle", "side", "note", "vertebra", "kind", "name"})


def load_custom_scheme(path: str | Path) -> LabelScheme:
    """Load a custom label scheme from JSON (see module docstring for the format)."""
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise InputError("label scheme file not found", source=src)
    try:
        doc = load_json(path)  # bounded (core.safe_load): size, nesting, integers, duplicates
    except InputError as exc:  # the limit or syntax error, under this file's own heading
        raise InputError(
            f"cannot read label scheme JSON: {exc.message}",
            source=src,
            item=exc.item,
            value=exc.value,
            expected=exc.expected,
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read label scheme JSON ({exc})", source=src) from exc
    return scheme_from_mapping(doc, source=src, default_name=path.stem)


def scheme_from_mapping(doc: object, *, source: str, default_name: str = "custom") -> LabelScheme:
    """Make a custom scheme from its JSON document (see the module docstring).

    Raises
    ------
    InputError
        No ``labels`` object, a value that is not an integer, an unknown key, side or muscle,
        a spec that is none of muscle, vertebra or kind, two labels for one muscle and side.

    """
    labels = doc.get("labels") if isinstance(doc, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise InputError("no 'labels' object", source=source, expected='{"labels": {"1": {...}}}')
    entries = {}
    for key, spec in labels.items():
        entry = _entry(str(key), spec, source)
        entries[entry.value] = entry
    _check_one_label_per_muscle(entries, source)
    name = doc.get("name", default_name) if isinstance(doc, dict) else default_name
    return LabelScheme(str(name), entries, f"custom: {source}")


def _entry(key: str, spec: object, src: str) -> LabelEntry:
    """One label of a custom scheme."""
    try:
        value = int(key)
    except ValueError as exc:
        raise InputError("label value is not an integer", source=src, item=key) from exc
    if not isinstance(spec, dict):
        raise InputError("label spec is not an object", source=src, item=key, value=spec)
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:  # a typo such as "sdie" would otherwise silently drop the side
        raise InputError(
            "unknown key in label spec",
            source=src,
            item=key,
            value=unknown,
            expected=", ".join(sorted(_SPEC_KEYS)),
        )
    if "muscle" in spec:
        return _muscle_entry(value, key, spec, src)
    if "vertebra" in spec:
        vert = str(spec["vertebra"]).upper()
        vertebra_order(vert)
        return LabelEntry(value, "vertebra", vert)
    if spec.get("kind") in ("vertebrae", "vertebral_body", "disc", "other"):
        return LabelEntry(value, spec["kind"], str(spec.get("name", spec["kind"])))
    raise InputError(
        "label spec needs 'muscle', 'vertebra' or 'kind'",
        source=src,
        item=key,
        value=spec,
        expected="'muscle' (with 'side'), 'vertebra' (e.g. L4), or 'kind' one of "
        "vertebrae, vertebral_body, disc, other",
    )


def _muscle_entry(value: int, key: str, spec: dict, src: str) -> LabelEntry:
    side = str(spec.get("side", "none")).lower()
    side = {"r": "right", "l": "left"}.get(side, side)
    check_choice(key, side, SIDES, source=src, message="unknown side", expected="left/right/none")
    muscle = str(spec["muscle"]).lower()
    check_choice(
        key, muscle, MUSCLES, source=src, message="unknown muscle", expected=", ".join(MUSCLES)
    )
    return LabelEntry(value, "muscle", muscle, side, str(spec.get("note", "")))


def _check_one_label_per_muscle(entries: Mapping[int, LabelEntry], src: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for value, entry in sorted(entries.items()):
        if entry.kind != "muscle":
            continue
        other = seen.setdefault((entry.name, entry.side), value)
        if other != value:  # two rows with one muscle and side could not be told apart
            raise InputError(
                f"labels {other} and {value} both name {entry.name} {entry.side}",
                source=src,
                item=str(value),
                expected="one label per muscle and side (a typo in 'side'?)",
            )


def label_values(labels: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a label map (fast path for small non-negative labels).

    Examples
    --------
    >>> label_values(np.array([[0, 3], [3, 1]])).tolist()
    [0, 1, 3]

    """
    arr = np.asarray(labels)
    if arr.size and np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < 1_000_000:
            flat = arr.ravel(order="K")  # no copy, whatever the memory order
            return np.flatnonzero(np.bincount(flat, minlength=hi + 1))
    return np.unique(arr)


def check_labels_known(
    values: Iterable[int],
    scheme: LabelScheme,
    *,
    source: str | None = "",
    kinds: Iterable[str] = (),
    option: str = "--labels",
) -> None:
    """Fail if a label map holds values the scheme does not know.

    Parameters
    ----------
    values : iterable of int
        Label values present (0 is background and ignored).
    scheme : LabelScheme
        The scheme the map should follow.
    source : str
        For the message.
    kinds : iterable of str
        If given, at least one label of these kinds must be present.
    option : str
        The option that names the scheme, for the hint (``--labels`` for the muscle mask,
        ``--vertebrae-labels`` for the vertebra mask).

    """
    present = sorted(int(v) for v in values if int(v) != 0)
    unknown = [v for v in present if v not in scheme.entries]
    if unknown:
        raise InputError(
            f"label values not in scheme '{scheme.name}'",
            source=source or None,
            value=unknown[:20],
            expected=f"values of {scheme.name} ({scheme.source}); wrong {option} scheme?",
        )
    kinds = tuple(kinds)
    if kinds and not any(scheme.entries[v].kind in kinds for v in present):
        raise InputError(
            f"no {'/'.join(kinds)} labels in the map under scheme '{scheme.name}'",
            source=source or None,
            value=present[:20],
        )


def laterality_consistent(labels: np.ndarray, affine: np.ndarray, scheme: LabelScheme) -> list[str]:
    """Check that every right muscle lies at larger world x (RAS+) than its left partner.

    Returns
    -------
    list of str
        Muscles whose sides look swapped (empty when all is well).

    """
    from scipy import ndimage

    muscles = scheme.muscles()
    present = set(label_values(labels).tolist())
    values = np.asarray([v for v in sorted(muscles) if v in present], dtype=np.int64)
    if values.size == 0:
        return []
    centres = ndimage.center_of_mass(np.ones(labels.shape, np.uint8), labels, values)
    world_x = {}
    for value, c in zip(values, centres, strict=True):
        if np.all(np.isfinite(c)):
            world_x[int(value)] = float((affine @ np.r_[np.asarray(c), 1.0])[0])
    swapped = []
    for v, e in muscles.items():
        if e.side != "right" or v not in world_x:
            continue
        partner = [
            w for w, f in muscles.items() if f.name == e.name and f.side == "left" and w in world_x
        ]
        if partner and world_x[v] < world_x[partner[0]]:
            swapped.append(e.name)
    return swapped
