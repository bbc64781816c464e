"""The built-in label schemes of the segmenters, each with its source.

* ``musclemap`` - MuscleMap abdomen model labels.
* ``totalseg_total`` - TotalSegmentator v2 ``total`` (CT).
* ``totalseg_total_mr`` - TotalSegmentator v2 ``total_mr`` (one ``vertebrae`` label).
* ``totalseg_vertebrae_mr`` - TotalSegmentator ``vertebrae_mr``.
* ``spineps_vert`` - SPINEPS / TPTBox vertebra instance masks (``seg-vert``).
* ``spineps_subreg`` - SPINEPS / TPTBox subregion masks (``seg-spine`` / ``seg-subreg``).

Data only (value tables and their sources); :func:`spinestab.imaging.labels.get_scheme`
looks names and aliases up here.
"""

from __future__ import annotations

from spinestab.imaging.labels import LabelEntry, LabelScheme

__all__ = ["ALIASES", "SCHEMES"]


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

ALIASES = {
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
