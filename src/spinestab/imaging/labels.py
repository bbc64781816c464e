"""Label schemes of the segmenters, mapped to canonical names.

Canonical muscles: ``multifidus``, ``erector_spinae``, ``autochthon`` (multifidus and erector
spinae together, as TotalSegmentator segments them), ``psoas`` and ``quadratus_lumborum``.
Sides: ``left``, ``right`` (patient's side) or ``none``. Vertebrae: ``C1`` ... ``L6``, ``S1``.

Built-in schemes (sources beside each):

* ``musclemap`` - MuscleMap abdomen model labels.
* ``totalseg_total`` - TotalSegmentator v2 ``total`` (CT).
* ``totalseg_total_mr`` - TotalSegmentator v2 ``total_mr`` (one ``vertebrae`` label).
* ``totalseg_vertebrae_mr`` - TotalSegmentator ``vertebrae_mr``.
* ``spineps_vert`` - SPINEPS / TPTBox vertebra instance masks (``seg-vert``).
* ``spineps_subreg`` - SPINEPS / TPTBox subregion masks (``seg-spine`` / ``seg-subreg``).

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
from spinestab.errors import InputError

__all__ = [
    "MUSCLES",
    "SCHEMES",
    "SIDES",
    "VERTEBRAE",
    "LabelEntry",
    "LabelScheme",
    "check_labels_known",
    "get_scheme",
    "label_values",
    "load_custom_scheme",
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


def _m(value: int, name: str, side: str, note: str = "") -> tuple[int, LabelEntry]:
    return value, LabelEntry(value, "muscle", name, side, note)


def _v(value: int, name: str) -> tuple[int, LabelEntry]:
    return value, LabelEntry(value, "vertebra", name)


def _musclemap() -> LabelScheme:
    entries = dict(
        [
            _m(1, "multifidus", "right"),
            _m(2, "multifidus", "left"),
            _m(3, "erector_spinae", "right"),
            _m(4, "erector_spinae", "left"),
            _m(5, "psoas", "right"),
            _m(6, "psoas", "left"),
            _m(7, "quadratus_lumborum", "right"),
            _m(8, "quadratus_lumborum", "left"),
        ]
    )
    return LabelScheme(
        "musclemap",
        entries,
        "MuscleMap/MuscleMap models/abdomen/contrast_agnostic_abdomen_model.json "
        "(commit d2bcb64, see shared/data/imaging/MANIFEST.md)",
    )


# Class names in value order (value = index + 1), from TotalSegmentator map_to_binary.py.
_TS_TOTAL_NAMES = (
    "spleen",
    "kidney_right",
    "kidney_left",
    "gallbladder",
    "liver",
    "stomach",
    "pancreas",
    "adrenal_gland_right",
    "adrenal_gland_left",
    "lung_upper_lobe_left",
    "lung_lower_lobe_left",
    "lung_upper_lobe_right",
    "lung_middle_lobe_right",
    "lung_lower_lobe_right",
    "esophagus",
    "trachea",
    "thyroid_gland",
    "small_bowel",
    "duodenum",
    "colon",
    "urinary_bladder",
    "prostate",
    "kidney_cyst_left",
    "kidney_cyst_right",
    "sacrum",
    "vertebrae_S1",
    "vertebrae_L5",
    "vertebrae_L4",
    "vertebrae_L3",
    "vertebrae_L2",
    "vertebrae_L1",
    "vertebrae_T12",
    "vertebrae_T11",
    "vertebrae_T10",
    "vertebrae_T9",
    "vertebrae_T8",
    "vertebrae_T7",
    "vertebrae_T6",
    "vertebrae_T5",
    "vertebrae_T4",
    "vertebrae_T3",
    "vertebrae_T2",
    "vertebrae_T1",
    "vertebrae_C7",
    "vertebrae_C6",
    "vertebrae_C5",
    "vertebrae_C4",
    "vertebrae_C3",
    "vertebrae_C2",
    "vertebrae_C1",
    "heart",
    "aorta",
    "pulmonary_vein",
    "brachiocephalic_trunk",
    "subclavian_artery_right",
    "subclavian_artery_left",
    "common_carotid_artery_right",
    "common_carotid_artery_left",
    "brachiocephalic_vein_left",
    "brachiocephalic_vein_right",
    "atrial_appendage_left",
    "superior_vena_cava",
    "inferior_vena_cava",
    "portal_vein_and_splenic_vein",
    "iliac_artery_left",
    "iliac_artery_right",
    "iliac_vena_left",
    "iliac_vena_right",
    "humerus_left",
    "humerus_right",
    "scapula_left",
    "scapula_right",
    "clavicula_left",
    "clavicula_right",
    "femur_left",
    "femur_right",
    "hip_left",
    "hip_right",
    "spinal_cord",
    "gluteus_maximus_left",
    "gluteus_maximus_right",
    "gluteus_medius_left",
    "gluteus_medius_right",
    "gluteus_minimus_left",
    "gluteus_minimus_right",
    "autochthon_left",
    "autochthon_right",
    "iliopsoas_left",
    "iliopsoas_right",
    "brain",
    "skull",
    "rib_left_1",
    "rib_left_2",
    "rib_left_3",
    "rib_left_4",
    "rib_left_5",
    "rib_left_6",
    "rib_left_7",
    "rib_left_8",
    "rib_left_9",
    "rib_left_10",
    "rib_left_11",
    "rib_left_12",
    "rib_right_1",
    "rib_right_2",
    "rib_right_3",
    "rib_right_4",
    "rib_right_5",
    "rib_right_6",
    "rib_right_7",
    "rib_right_8",
    "rib_right_9",
    "rib_right_10",
    "rib_right_11",
    "rib_right_12",
    "sternum",
    "costal_cartilages",
)
_TS_TOTAL_MR_NAMES = (
    "spleen",
    "kidney_right",
    "kidney_left",
    "gallbladder",
    "liver",
    "stomach",
    "pancreas",
    "adrenal_gland_right",
    "adrenal_gland_left",
    "lung_left",
    "lung_right",
    "esophagus",
    "small_bowel",
    "duodenum",
    "colon",
    "urinary_bladder",
    "prostate",
    "sacrum",
    "vertebrae",
    "intervertebral_discs",
    "spinal_cord",
    "heart",
    "aorta",
    "inferior_vena_cava",
    "portal_vein_and_splenic_vein",
    "iliac_artery_left",
    "iliac_artery_right",
    "iliac_vena_left",
    "iliac_vena_right",
    "humerus_left",
    "humerus_right",
    "scapula_left",
    "scapula_right",
    "clavicula_left",
    "clavicula_right",
    "femur_left",
    "femur_right",
    "hip_left",
    "hip_right",
    "gluteus_maximus_left",
    "gluteus_maximus_right",
    "gluteus_medius_left",
    "gluteus_medius_right",
    "gluteus_minimus_left",
    "gluteus_minimus_right",
    "autochthon_left",
    "autochthon_right",
    "iliopsoas_left",
    "iliopsoas_right",
    "brain",
)


_TS_NOTE_ILIOPSOAS = "TotalSegmentator iliopsoas: psoas major and iliacus together"
_TS_NOTE_AUTOCHTHON = "TotalSegmentator autochthon: erector spinae and multifidus together"


def _others(names: tuple[str, ...]) -> dict[int, LabelEntry]:
    return {i + 1: LabelEntry(i + 1, "other", n) for i, n in enumerate(names)}


def _totalseg_total() -> LabelScheme:
    entries: dict[int, LabelEntry] = _others(_TS_TOTAL_NAMES)
    entries |= dict(
        [
            _m(86, "autochthon", "left", _TS_NOTE_AUTOCHTHON),
            _m(87, "autochthon", "right", _TS_NOTE_AUTOCHTHON),
            _m(88, "psoas", "left", _TS_NOTE_ILIOPSOAS),
            _m(89, "psoas", "right", _TS_NOTE_ILIOPSOAS),
        ]
    )
    # 26 vertebrae_S1, 27 L5 ... 31 L1, 32 T12 ... 43 T1, 44 C7 ... 50 C1
    names = ["S1", "L5", "L4", "L3", "L2", "L1"]
    names += [f"T{i}" for i in range(12, 0, -1)] + [f"C{i}" for i in range(7, 0, -1)]
    for offset, name in enumerate(names):
        entries[26 + offset] = LabelEntry(26 + offset, "vertebra", name)
    entries[25] = LabelEntry(25, "other", "sacrum")
    entries[79] = LabelEntry(79, "other", "spinal_cord")
    return LabelScheme(
        "totalseg_total",
        entries,
        "wasserth/TotalSegmentator totalsegmentator/map_to_binary.py class_map['total'] (v2), "
        "commit 0275d30",
    )


def _totalseg_total_mr() -> LabelScheme:
    entries: dict[int, LabelEntry] = _others(_TS_TOTAL_MR_NAMES)
    entries |= dict(
        [
            _m(46, "autochthon", "left", _TS_NOTE_AUTOCHTHON),
            _m(47, "autochthon", "right", _TS_NOTE_AUTOCHTHON),
            _m(48, "psoas", "left", _TS_NOTE_ILIOPSOAS),
            _m(49, "psoas", "right", _TS_NOTE_ILIOPSOAS),
        ]
    )
    entries[18] = LabelEntry(18, "other", "sacrum")
    entries[19] = LabelEntry(19, "vertebrae", "vertebrae", note="all vertebrae in one label")
    entries[20] = LabelEntry(20, "disc", "intervertebral_discs")
    entries[21] = LabelEntry(21, "other", "spinal_cord")
    return LabelScheme(
        "totalseg_total_mr",
        entries,
        "wasserth/TotalSegmentator totalsegmentator/map_to_binary.py class_map['total_mr'], "
        "commit 0275d30",
    )


def _totalseg_vertebrae_mr() -> LabelScheme:
    names = ["L5", "L4", "L3", "L2", "L1"]
    names += [f"T{i}" for i in range(12, 0, -1)] + [f"C{i}" for i in range(7, 0, -1)]
    entries = {1: LabelEntry(1, "other", "sacrum")}
    for offset, name in enumerate(names):
        entries[2 + offset] = LabelEntry(2 + offset, "vertebra", name)
    return LabelScheme(
        "totalseg_vertebrae_mr",
        entries,
        "wasserth/TotalSegmentator totalsegmentator/map_to_binary.py "
        "class_map['vertebrae_mr'], commit 0275d30",
    )


_TPTBOX_SOURCE = (
    "Hendrik-code/TPTBox TPTBox/core/vert_constants.py (see shared/data/imaging/MANIFEST.md): "
    "C1-C7 = 1-7, T1-T12 = 8-19, L1-L6 = 20-25, S1 = 26, T13 = 28; IVD 100+X, endplate 200+X"
)


def _tptbox_vertebra_names() -> dict[int, str]:
    names = {i: f"C{i}" for i in range(1, 8)}
    names.update({7 + i: f"T{i}" for i in range(1, 13)})
    names.update({19 + i: f"L{i}" for i in range(1, 7)})
    names[26] = "S1"
    names[28] = "T13"
    return names


def _spineps_vert() -> LabelScheme:
    entries: dict[int, LabelEntry] = {}
    for value, name in _tptbox_vertebra_names().items():
        entries[value] = LabelEntry(value, "vertebra", name)
        entries[100 + value] = LabelEntry(100 + value, "disc", f"disc_below_{name}")
        entries[200 + value] = LabelEntry(200 + value, "other", f"endplate_{name}")
    return LabelScheme("spineps_vert", entries, _TPTBOX_SOURCE)


def _spineps_subreg() -> LabelScheme:
    names = {
        41: "arcus_vertebrae",
        42: "spinosus_process",
        43: "costal_process_left",
        44: "costal_process_right",
        45: "superior_articular_left",
        46: "superior_articular_right",
        47: "inferior_articular_left",
        48: "inferior_articular_right",
        60: "spinal_cord",
        61: "spinal_canal",
        62: "endplate",
    }
    entries = {v: LabelEntry(v, "other", n) for v, n in names.items()}
    entries[49] = LabelEntry(49, "vertebral_body", "vertebra_corpus_border")
    entries[50] = LabelEntry(50, "vertebral_body", "vertebra_corpus")
    entries[100] = LabelEntry(100, "disc", "intervertebral_disc")
    return LabelScheme("spineps_subreg", entries, _TPTBOX_SOURCE + "; subregions 41-62, 100")


SCHEMES = {
    "musclemap": _musclemap,
    "totalseg_total": _totalseg_total,
    "totalseg_total_mr": _totalseg_total_mr,
    "totalseg_vertebrae_mr": _totalseg_vertebrae_mr,
    "spineps_vert": _spineps_vert,
    "spineps_subreg": _spineps_subreg,
}

_ALIASES = {
    "totalsegmentator": "totalseg_total",
    "totalsegmentator_total": "totalseg_total",
    "totalsegmentator_mr": "totalseg_total_mr",
    "totalsegmentator_total_mr": "totalseg_total_mr",
    "totalsegmentator_vertebrae_mr": "totalseg_vertebrae_mr",
    "spineps_subregion": "spineps_subreg",
    "subreg": "spineps_subreg",
    "total": "totalseg_total",
    "total_mr": "totalseg_total_mr",
    "vertebrae_mr": "totalseg_vertebrae_mr",
    "tptbox_vert": "spineps_vert",
    "tptbox_subreg": "spineps_subreg",
    "spineps": "spineps_vert",
    "tptbox": "spineps_vert",
}


def get_scheme(name_or_path: str | Path) -> LabelScheme:
    """Return a built-in scheme by name, or load a custom JSON scheme from a path.

    Raises
    ------
    InputError
        Unknown name and no such file.

    """
    key = str(name_or_path)
    key = _ALIASES.get(key.lower(), key.lower()) if key.lower() in {**_ALIASES, **SCHEMES} else key
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
    labels = doc.get("labels") if isinstance(doc, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise InputError("no 'labels' object", source=src, expected='{"labels": {"1": {...}}}')
    entries: dict[int, LabelEntry] = {}
    for key, spec in labels.items():
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
        side = str(spec.get("side", "none")).lower()
        side = {"r": "right", "l": "left"}.get(side, side)
        if side not in SIDES:
            raise InputError(
                "unknown side", source=src, item=key, value=side, expected="left/right/none"
            )
        if "muscle" in spec:
            muscle = str(spec["muscle"]).lower()
            if muscle not in MUSCLES:
                raise InputError(
                    "unknown muscle",
                    source=src,
                    item=key,
                    value=muscle,
                    expected=", ".join(MUSCLES),
                )
            entries[value] = LabelEntry(value, "muscle", muscle, side, str(spec.get("note", "")))
        elif "vertebra" in spec:
            vert = str(spec["vertebra"]).upper()
            vertebra_order(vert)
            entries[value] = LabelEntry(value, "vertebra", vert)
        elif spec.get("kind") in ("vertebrae", "vertebral_body", "disc", "other"):
            entries[value] = LabelEntry(value, spec["kind"], str(spec.get("name", spec["kind"])))
        else:
            raise InputError(
                "label spec needs 'muscle', 'vertebra' or 'kind'",
                source=src,
                item=key,
                value=spec,
                expected="'muscle' (with 'side'), 'vertebra' (e.g. L4), or 'kind' one of "
                "vertebrae, vertebral_body, disc, other",
            )
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
    return LabelScheme(str(doc.get("name", path.stem)), entries, f"custom: {src}")


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
