"""Options of the MRI/CT muscle-quality run (:func:`~spinestab.imaging.pipeline.analyse_mri`).

:class:`MriOptions` holds every choice and number of a run, validated when it is made:
a mistyped value is an :class:`~spinestab.errors.InputError` naming the CLI option
(``--fat-method``), also where the option is not used by that run. Choices are
:class:`~enum.StrEnum` members (they compare equal to their text and print as it);
strings are accepted case-insensitively. The object is frozen, picklable and
round-trips through JSON (:meth:`MriOptions.to_dict`, :meth:`MriOptions.from_mapping`),
so the web app and the record can store and send it.

The input *files* (image, mask, vertebrae, slice table...) are not options: they are
:class:`~spinestab.imaging.pipeline.MriInputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from spinestab.core.validation import check_choice, check_range
from spinestab.errors import InputError

__all__ = [
    "AnchorIs",
    "Contrast",
    "FatMethod",
    "FfUnits",
    "LevelNames",
    "Modality",
    "MriOptions",
    "N4Mask",
    "Pool",
    "Segmenter",
]

#: plausibility bound for the age (a typing error above it, e.g. a birth year) [D]
MAX_AGE_YEARS = 120


class Modality(StrEnum):
    """Image modality: from the DICOM header or guessed (``auto``), or given."""

    AUTO = "auto"
    MR = "mr"
    CT = "ct"


class Contrast(StrEnum):
    """Single-contrast MR weighting (fat bright in both)."""

    T1W = "t1w"
    T2W = "t2w"


class FatMethod(StrEnum):
    """Intensity classifier of single-contrast MR (see :mod:`spinestab.imaging.fat`)."""

    OTSU = "otsu"
    KMEANS = "kmeans"
    GMM = "gmm"


class Pool(StrEnum):
    """Classify each muscle label apart, or all muscle voxels together."""

    LABEL = "label"
    ALL = "all"


class N4Mask(StrEnum):
    """Voxels the N4 bias field is fitted on."""

    MUSCLE = "muscle"
    FOREGROUND = "foreground"


class AnchorIs(StrEnum):
    """Which vertebra (or disc) the anchor names."""

    LOWEST = "lowest"
    HIGHEST = "highest"


class FfUnits(StrEnum):
    """Units of a fat-fraction (PDFF) map."""

    AUTO = "auto"
    PERCENT = "percent"
    FRACTION = "fraction"


class Segmenter(StrEnum):
    """Segmentation tools run when no mask is given (installed separately, local weights)."""

    TOTALSEGMENTATOR = "totalsegmentator"
    MUSCLEMAP = "musclemap"
    SPINEPS = "spineps"


_SEX = {"f": "female", "w": "female", "female": "female", "m": "male", "male": "male"}


@dataclass(frozen=True)
class LevelNames:
    """A clinician's confirmation or correction of the vertebral level names.

    Level names found from a single vertebrae label, a default anchor or a segmenter may be
    wrong (e.g. no sacrum in view). The clinician who looks at the images says which names
    are right; the run then uses them and says so (``level_names`` in ``summary.json``).

    Attributes
    ----------
    rename : mapping of str to str
        Computed name to the right name. Empty: the names are confirmed as they are. One
        pair is an anchor ("the vertebra named L5 is L1"): every other level moves along
        the vertebral column by the same number of vertebrae. Several pairs must name
        every level present.
    by : str
        Who confirmed or corrected them (for the record), may be empty.

    Examples
    --------
    >>> LevelNames.parse("L5=L1").rename
    {'L5': 'L1'}

    """

    rename: Mapping[str, str] = field(default_factory=dict)
    by: str = ""

    def __post_init__(self) -> None:
        """Upper-case the names and refuse anything that is not a vertebra."""
        from spinestab.core.levels import vertebra_order

        clean: dict[str, str] = {}
        for old, new in dict(self.rename).items():
            pair = (str(old).strip().upper(), str(new).strip().upper())
            for name in pair:
                try:
                    vertebra_order(name)
                except InputError:
                    raise InputError(
                        "unknown vertebra in a level correction",
                        item="--rename-levels",
                        value=name,
                        expected="vertebra names such as L5=L1 (computed=right)",
                    ) from None
            if pair[0] in clean:
                raise InputError("level renamed twice", item="--rename-levels", value=pair[0])
            clean[pair[0]] = pair[1]
        if len(set(clean.values())) != len(clean):
            raise InputError(
                "two levels renamed to the same vertebra", item="--rename-levels", value=clean
            )
        object.__setattr__(self, "rename", clean)

    @classmethod
    def parse(cls, text: str, *, by: str = "") -> LevelNames:
        """Read ``"L5=L1"`` or ``"L4=T12,L5=L1"`` (computed name = right name)."""
        pairs = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            old, sep, new = part.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise InputError(
                    "bad level correction",
                    item="--rename-levels",
                    value=part,
                    expected="COMPUTED=RIGHT, e.g. L5=L1",
                )
            if old.strip().upper() in pairs:
                raise InputError("level renamed twice", item="--rename-levels", value=old)
            pairs[old.strip().upper()] = new
        return cls(rename=pairs, by=by)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"rename": dict(self.rename), "by": self.by}


def _choice(enum: type[StrEnum], value: Any, option: str) -> StrEnum:
    """Return the member of ``enum`` named by ``value`` (any case); refuse others."""
    text = str(value.value if isinstance(value, StrEnum) else value).strip().lower()
    check_choice(option, text, [m.value for m in enum], message=f"unknown value of {option}")
    return enum(text)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class MriOptions:
    """Every option of a muscle-quality run (defaults as ``spinestab mri``).

    Attributes
    ----------
    labels : str
        Muscle mask scheme: ``musclemap``, ``totalseg_total`` (``total``),
        ``totalseg_total_mr`` (``total_mr``) or a custom JSON file.
    vertebrae_labels : str
        Scheme of the vertebra mask (``spineps_vert``, ``total_mr``...; see the CLI help).
    vertebral_body_labels : str
        Scheme of the vertebral-body (subregion) mask.
    anchor : str
        With a single vertebrae label: the vertebra (``L5``) or disc (``L5-S1``) that the
        lowest (or highest) piece is; upper-cased.
    anchor_is : AnchorIs
        ``lowest`` or ``highest``.
    level_names : LevelNames, optional
        A clinician's confirmation or correction of the level names.
    segment : Segmenter, optional
        Without a mask: the segmenter to run.
    segment_task : str
        TotalSegmentator task (``total_mr`` or ``total``).
    weights_dir : Path, optional
        Segmenter weights (default: setting ``SPINESTAB_WEIGHTS_DIR``).
    sex : str, optional
        ``female`` or ``male`` (``f``/``m``/``w`` accepted), for the reference values.
    age : float, optional
        Years, 0 to :data:`MAX_AGE_YEARS`.
    modality : Modality
        ``auto`` (DICOM header, else guessed from the values), ``mr`` or ``ct``.
    contrast : Contrast
        Single-contrast MR weighting.
    fat_method : FatMethod
        Single-contrast MR classifier.
    classes : int
        2 or 3 intensity classes.
    bias_correction : bool
        N4 before classifying single-contrast MR.
    pool : Pool
        Classify each label apart or all together.
    n4_mask : N4Mask
        Fit N4 on the muscle voxels or the foreground.
    derive_autochthon : bool
        Add multifidus + erector spinae rows per side as ``autochthon``.
    ct_fat_range : tuple of float
        Fat HU range of CT [R: Mitsiopoulos 1998].
    ff_units : FfUnits
        Units of a fat-fraction map.
    grade_scheme : str
        ``three_grade_20_50`` (default), ``three_grade_10_50`` or ``goutallier``.
    grade_cutoffs : tuple of float, optional
        Own cut-offs in percent.
    series_uid : str, optional
        SeriesInstanceUID in a mixed DICOM folder.
    qa : bool
        Draw the QA pictures.

    """

    labels: str = "musclemap"
    vertebrae_labels: str = "spineps_vert"
    vertebral_body_labels: str = "spineps_subreg"
    anchor: str = "L5"
    anchor_is: AnchorIs = AnchorIs.LOWEST
    level_names: LevelNames | None = None
    segment: Segmenter | None = None
    segment_task: str = "total_mr"
    weights_dir: Path | None = None
    sex: str | None = None
    age: float | None = None
    modality: Modality = Modality.AUTO
    contrast: Contrast = Contrast.T1W
    fat_method: FatMethod = FatMethod.OTSU
    classes: int = 2
    bias_correction: bool = True
    pool: Pool = Pool.LABEL
    n4_mask: N4Mask = N4Mask.MUSCLE
    derive_autochthon: bool = False
    ct_fat_range: tuple[float, float] = (-190.0, -30.0)
    ff_units: FfUnits = FfUnits.AUTO
    grade_scheme: str = "three_grade_20_50"
    grade_cutoffs: tuple[float, ...] | None = None
    series_uid: str | None = None
    qa: bool = True

    def __post_init__(self) -> None:
        """Normalise and check every option; a bad one is an InputError naming it."""
        set_ = object.__setattr__
        enums = {
            "modality": Modality,
            "contrast": Contrast,
            "fat_method": FatMethod,
            "pool": Pool,
            "n4_mask": N4Mask,
            "anchor_is": AnchorIs,
            "ff_units": FfUnits,
        }
        for name, enum in enums.items():
            set_(self, name, _choice(enum, getattr(self, name), _option(name)))
        if self.segment is not None:
            set_(self, "segment", _choice(Segmenter, self.segment, "--segment"))
        check_choice("--classes", self.classes, (2, 3), message="unknown value of --classes")
        self._check_ct_fat_range()
        set_(self, "anchor", _check_anchor(self.anchor))
        set_(self, "sex", _check_sex(self.sex))
        _check_age(self.age)
        if self.grade_cutoffs is not None:
            set_(self, "grade_cutoffs", tuple(float(c) for c in self.grade_cutoffs))
        if self.weights_dir is not None:
            set_(self, "weights_dir", Path(self.weights_dir))
        if isinstance(self.level_names, Mapping):
            set_(self, "level_names", LevelNames(**self.level_names))

    def _check_ct_fat_range(self) -> None:
        try:
            lo, hi = (float(x) for x in self.ct_fat_range)
        except (TypeError, ValueError):
            raise InputError(
                "bad HU range", item="--ct-fat-range", value=self.ct_fat_range, expected="LOW,HIGH"
            ) from None
        if not lo < hi:
            raise InputError("fat HU range is empty", item="--ct-fat-range", value=(lo, hi))
        object.__setattr__(self, "ct_fat_range", (lo, hi))

    def replace(self, **changes: Any) -> MriOptions:
        """Return a copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the options as JSON-ready values (choices as their text)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, LevelNames):
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MriOptions:
        """Make options from a mapping (e.g. a web request's JSON); unknown keys refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError("unknown MRI option", value=unknown, expected=", ".join(sorted(known)))
        values = dict(data)
        for key in ("ct_fat_range", "grade_cutoffs"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)


def _check_anchor(anchor: str) -> str:
    """Upper-case a vertebra (``L5``) or disc (``L5-S1``) anchor; refuse anything else."""
    from spinestab.imaging.labels import vertebra_order
    from spinestab.imaging.levels import parse_disc_name

    name = str(anchor).strip().upper()
    try:
        vertebra_order(name)
    except InputError:
        if parse_disc_name(name) is None:
            raise InputError(
                "unknown anchor",
                item="--anchor",
                value=anchor,
                expected="a vertebra (e.g. L5) or a disc (e.g. L5-S1)",
            ) from None
    return name


def _check_sex(sex: str | None) -> str | None:
    if sex is None:
        return None
    value = str(sex).strip().lower()
    value = _SEX.get(value, value)
    check_choice("--sex", value, ("female", "male"), message="unknown sex")
    return value


def _check_age(age: float | None) -> None:
    if age is not None:
        check_range("--age", age, 0, MAX_AGE_YEARS, message="age out of range (years)")
