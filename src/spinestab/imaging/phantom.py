"""Digital phantoms of the lumbar trunk with known muscle areas and fat fractions.

Axial slices through an elliptical trunk: subcutaneous fat ring, vertebral body and
spinous process (vertebra slices) or disc (disc slices), and four paired muscles
(multifidus, erector spinae, psoas, quadratus lumborum) drawn as ellipses whose analytic
area (pi a b) and fat fraction are set per vertebral level. Inside each muscle and slice
exactly ``round(ff * n)`` voxels are fat (salt-and-pepper "marbling") and a share of the lean
voxels are partial-volume voxels (fat fraction uniform in 0..1), so the truth is known voxel
for voxel (``Phantom.fat_pct`` is the realised mean voxel fat fraction). Images:

* Dixon: water and fat magnitude images (W = 1000 (1 - f), F = 1000 f), the same
  smooth bias field on both, Gaussian noise, magnitude.
* single contrast (T1w-like): muscle 300 + 700 f (fat 1000), viscera 450, marrow 600,
  disc 250, times a smooth multiplicative bias field (posterior coil shading), Gaussian
  noise, magnitude.

Masks use MuscleMap labels; vertebrae use SPINEPS/TPTBox instance values (L1 = 20).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab.imaging.io import Volume
from spinestab.imaging.labels import get_scheme, vertebra_order

__all__ = ["DEFAULT_FAT_PCT", "Phantom", "PhantomSpec", "make_phantom", "reorient"]

# (centre x mm (patient right +), centre y mm (anterior +), semi-axis x, semi-axis y);
# centres off the pixel lattice, so that rasterised areas stay within ~1.5 % of pi a b
_SHAPES = {
    "multifidus": (15.31, -68.27, 10.0, 15.0),
    "erector_spinae": (45.17, -65.41, 17.0, 19.0),
    "psoas": (38.29, -15.13, 13.0, 13.0),
    "quadratus_lumborum": (76.23, -40.37, 13.0, 8.0),
}
# area scale per level, cranial to caudal (L1..L5)
_SCALE = {
    "multifidus": {"L1": 0.6, "L2": 0.7, "L3": 0.8, "L4": 1.0, "L5": 1.15},
    "erector_spinae": {"L1": 1.1, "L2": 1.1, "L3": 1.05, "L4": 1.0, "L5": 0.85},
    "psoas": {"L1": 0.6, "L2": 0.75, "L3": 0.9, "L4": 1.05, "L5": 1.15},
    "quadratus_lumborum": {"L1": 1.0, "L2": 1.0, "L3": 1.0, "L4": 0.9, "L5": 0.75},
}
#: Default fat fraction (%) per muscle, side and level.
DEFAULT_FAT_PCT: dict[tuple[str, str, str], float] = {}
for _lv, _mf, _es, _ps, _ql in (
    ("L1", 6.0, 8.0, 3.0, 9.0),
    ("L2", 7.0, 9.0, 3.5, 10.0),
    ("L3", 8.0, 10.0, 4.0, 10.0),
    ("L4", 15.0, 12.0, 5.0, 12.0),
    ("L5", 25.0, 16.0, 6.0, 14.0),
):
    for _side, _extra in (("right", 0.0), ("left", 3.0)):
        DEFAULT_FAT_PCT[("multifidus", _side, _lv)] = _mf + _extra
        DEFAULT_FAT_PCT[("erector_spinae", _side, _lv)] = _es + _extra / 3
        DEFAULT_FAT_PCT[("psoas", _side, _lv)] = _ps
        DEFAULT_FAT_PCT[("quadratus_lumborum", _side, _lv)] = _ql + _extra / 2

_MUSCLEMAP_VALUE = {
    ("multifidus", "right"): 1,
    ("multifidus", "left"): 2,
    ("erector_spinae", "right"): 3,
    ("erector_spinae", "left"): 4,
    ("psoas", "right"): 5,
    ("psoas", "left"): 6,
    ("quadratus_lumborum", "right"): 7,
    ("quadratus_lumborum", "left"): 8,
}


@dataclass(frozen=True)
class Phantom:
    """A phantom study with its truth.

    Attributes
    ----------
    water, fat, single : Volume
        Dixon water, Dixon fat and single-contrast images.
    mask : Volume
        Muscle labels (MuscleMap scheme).
    vertebrae : Volume
        Vertebra instance labels (SPINEPS scheme).
    vertebral_body : Volume
        Vertebral body voxels (1) on the image grid.
    discs : Volume
        Intervertebral discs between the vertebrae in view, SPINEPS IVD values
        (100 + the value of the vertebra above: L3-L4 = 122).
    bias : ndarray
        The multiplicative bias field applied.
    slice_levels : tuple of str
        True level of every slice ("" for margin slices).
    area_mm2 : dict
        Analytic area (pi a b) per (muscle, side, level).
    fat_pct : dict
        Realised fat fraction (%) per (muscle, side, level) and per (muscle, side, "all").

    """

    water: Volume
    fat: Volume
    single: Volume
    mask: Volume
    vertebrae: Volume
    vertebral_body: Volume
    bias: np.ndarray
    slice_levels: tuple[str, ...]
    area_mm2: dict[tuple[str, str, str], float]
    fat_pct: dict[tuple[str, str, str], float]
    vertebral_body_area_mm2: dict[str, float] = field(default_factory=dict)
    discs: Volume | None = None


def _ellipse(u: np.ndarray, v: np.ndarray, cx: float, cy: float, a: float, b: float) -> np.ndarray:
    return ((u - cx) / a) ** 2 + ((v - cy) / b) ** 2 <= 1.0


def _ellipse_cover(
    u: np.ndarray, v: np.ndarray, cx: float, cy: float, a: float, b: float, *, sub: int = 5
) -> np.ndarray:
    """Pixels whose area is at least half inside the ellipse (``sub`` x ``sub`` samples).

    Keeps the pixel count within a fraction of a percent of pi a b for muscle-sized shapes.
    """
    du = float(u[1] - u[0])
    dv = float(v[1] - v[0])
    offs_u = ((np.arange(sub) + 0.5) / sub - 0.5) * du
    offs_v = ((np.arange(sub) + 0.5) / sub - 0.5) * dv
    iu = np.flatnonzero(np.abs(u - cx) <= a + du)
    iv = np.flatnonzero(np.abs(v - cy) <= b + dv)
    su = (u[iu][:, None] + offs_u[None, :]).reshape(-1)
    sv = (v[iv][:, None] + offs_v[None, :]).reshape(-1)
    inside = ((su[:, None] - cx) / a) ** 2 + ((sv[None, :] - cy) / b) ** 2 <= 1.0
    frac = inside.reshape(iu.size, sub, iv.size, sub).mean(axis=(1, 3))
    out = np.zeros((u.size, v.size), bool)
    out[np.ix_(iu, iv)] = frac >= 0.5
    return out


@dataclass(frozen=True)
class PhantomSpec:
    """What a phantom looks like (see the module docstring).

    Attributes
    ----------
    levels : tuple of str
        Vertebrae from cranial to caudal, L1..L5.
    slices_per_vertebra, disc_slices, margin_slices : int
        Slices through each vertebra, between vertebrae, and above/below the first/last.
    pixel_mm, slice_mm : float
        In-plane pixel size and slice spacing.
    shape_xy : tuple of int
        In-plane size (pixels).
    fat_pct : mapping, optional
        Fat fraction (%) per (muscle, side, level); default :data:`DEFAULT_FAT_PCT`.
    dixon_noise, single_noise : float
        Noise SD relative to a signal of 1000.
    bias_strength : float
        Log-amplitude of the bias field along the antero-posterior axis per 110 mm
        (0 = none). The default 1.2 makes the paraspinal muscles about 1.8 times brighter
        than psoas and the back 11 times brighter than the front, as posterior surface-coil
        shading does (the real MuscleMap image: paraspinals about 8 times psoas).
    mixed_fraction : float
        Share of each muscle's voxels that are partial-volume voxels with a fat fraction
        drawn uniformly from 0..1 (taken from the lean voxels; they add to the truth).
    orientation : str
        Axis codes of the returned arrays (e.g. ``"LPS"``, ``"RAS"``, ``"PIR"``).
    seed : int
        Seed of the noise and of the fat voxel placement.

    """

    levels: Sequence[str] = ("L3", "L4", "L5")
    slices_per_vertebra: int = 5
    disc_slices: int = 2
    margin_slices: int = 1
    pixel_mm: float = 1.0
    slice_mm: float = 4.0
    shape_xy: tuple[int, int] = (320, 240)
    fat_pct: Mapping[tuple[str, str, str], float] | None = None
    dixon_noise: float = 0.005
    single_noise: float = 0.02
    bias_strength: float = 1.2
    mixed_fraction: float = 0.1
    orientation: str = "LPS"
    seed: int = 0

    def __post_init__(self) -> None:
        """Phantoms exist for L1..L5 only."""
        for lv in self.levels:
            vertebra_order(lv)
            if lv not in _SCALE["multifidus"]:
                raise ValueError(f"phantom supports L1..L5, not {lv}")

    def plan(self) -> list[tuple[str, str]]:
        """Slices cranial to caudal: margin, V1, disc, V2, ..., Vn, margin.

        Each is ``(kind, level used for the muscle shapes)``.
        """
        levels = list(self.levels)
        plan: list[tuple[str, str]] = [("margin", levels[0])] * self.margin_slices
        for n, lv in enumerate(levels):
            plan += [("vertebra", lv)] * self.slices_per_vertebra
            if n < len(levels) - 1:
                half = self.disc_slices // 2
                plan += [("disc", lv)] * half + [("disc", levels[n + 1])] * (
                    self.disc_slices - half
                )
        return plan + [("margin", levels[-1])] * self.margin_slices


class _Anatomy:
    """The voxel arrays of a phantom as its slices are drawn (RAS order, k superior)."""

    def __init__(self, spec: PhantomSpec, nz: int) -> None:
        nx, ny = spec.shape_xy
        # RAS-ordered arrays: i -> patient right (+x), j -> anterior (+y), k -> superior (+z)
        self.u = (np.arange(nx) - (nx - 1) / 2.0) * spec.pixel_mm
        self.v = (np.arange(ny) - (ny - 1) / 2.0) * spec.pixel_mm
        self.uu, self.vv = np.meshgrid(self.u, self.v, indexing="ij")
        uu, vv = self.uu, self.vv
        self.body = _ellipse(uu, vv, 0, 0, 150, 110)
        self.inner = _ellipse(uu, vv, 0, 0, 135, 95)
        self.vb = _ellipse(uu, vv, 0, -30, 22, 16)
        self.spinous = _ellipse(uu, vv, 0, -62, 4, 12)
        self.mask = np.zeros((nx, ny, nz), np.int16)
        self.ffv = np.zeros((nx, ny, nz))  # voxel fat fraction inside muscles
        # 0 bg, 1 viscera, 2 subcut fat, 3 marrow, 4 disc (5 muscle, set at the end)
        self.tissue = np.zeros((nx, ny, nz), np.int8)
        self.verts = np.zeros((nx, ny, nz), np.int16)
        self.discs = np.zeros((nx, ny, nz), np.int16)  # SPINEPS IVD: 100 + vertebra above
        self.body_mask = np.zeros((nx, ny, nz), np.uint8)
        self.area: dict[tuple[str, str, str], float] = {}
        self.counts: dict[tuple[str, str, str], list[float]] = {}

    def bone(self, k: int, kind: str, lv: str, upper: str, spine: Mapping[str, int]) -> None:
        """Tissue classes, vertebra and disc labels of slice ``k``."""
        t = np.where(self.body, 2, 0)
        t[self.inner] = 1
        t[self.vb] = 3 if kind in ("vertebra", "margin") else 4
        if kind == "vertebra":
            self.verts[self.vb | self.spinous, k] = spine[lv]
            self.body_mask[self.vb, k] = 1
        elif kind == "disc":
            self.discs[self.vb, k] = 100 + spine[upper]
        self.tissue[:, :, k] = t

    def muscles(
        self, k: int, lv: str, key_level: str, spec: PhantomSpec, rng: np.random.Generator
    ) -> None:
        """Draw every muscle of slice ``k`` with its fat and partial-volume voxels."""
        fat_pct = DEFAULT_FAT_PCT if spec.fat_pct is None else spec.fat_pct
        for muscle, (cx, cy, a, b) in _SHAPES.items():
            s = math.sqrt(_SCALE[muscle][lv])
            for side, sign in (("right", 1.0), ("left", -1.0)):
                m = _ellipse_cover(self.u, self.v, sign * cx, cy, a * s, b * s)
                self.mask[m, k] = _MUSCLEMAP_VALUE[(muscle, side)]
                self.area[(muscle, side, lv)] = math.pi * a * s * b * s
                idx = np.flatnonzero(m.ravel())
                n_fat = round(fat_pct[(muscle, side, lv)] / 100.0 * idx.size)
                n_mix = round(spec.mixed_fraction * idx.size)
                chosen = rng.permutation(idx)[: n_fat + n_mix]
                fs = np.zeros(m.size)
                fs[chosen[:n_fat]] = 1.0
                fs[chosen[n_fat:]] = rng.uniform(0.0, 1.0, n_mix)  # partial volume
                plane = self.ffv[:, :, k].reshape(-1)
                plane[idx] = fs[idx]
                self.ffv[:, :, k] = plane.reshape(m.shape)
                for key in ((muscle, side, key_level), (muscle, side, "all")):
                    c = self.counts.setdefault(key, [0.0, 0])
                    c[0] += float(fs[idx].sum())
                    c[1] += idx.size


def _draw(spec: PhantomSpec, rng: np.random.Generator) -> tuple[_Anatomy, list[str]]:
    """Draw every slice; return the arrays and the true level of every slice (by k)."""
    plan = spec.plan()
    nz = len(plan)
    anatomy = _Anatomy(spec, nz)
    spine = {e.name: v for v, e in get_scheme("spineps_vert").vertebrae().items()}
    upper = spec.levels[0]
    slice_levels: list[str] = []
    for z_top, (kind, lv) in enumerate(plan):
        k = nz - 1 - z_top  # k increases superiorly
        slice_levels.append("" if kind == "margin" else lv)
        anatomy.bone(k, kind, lv, upper, spine)
        if kind == "vertebra":
            upper = lv
        anatomy.muscles(k, lv, "" if kind == "margin" else lv, spec, rng)
    slice_levels.reverse()  # index by k (inferior to superior)
    anatomy.tissue[anatomy.mask > 0] = 5
    return anatomy, slice_levels


def _bias_field(anatomy: _Anatomy, spec: PhantomSpec, zz: np.ndarray) -> np.ndarray:
    """Return the multiplicative field of posterior coil shading (median 1 in muscle)."""
    strength = spec.bias_strength
    bias = np.exp(
        -strength * anatomy.vv[:, :, None] / 110.0
        + 0.1 * strength * anatomy.uu[:, :, None] / 150.0
        + 0.05 * strength * zz[None, None, :] / max(1.0, zz.max(initial=1.0))
    )
    return bias / float(np.median(bias[anatomy.mask > 0]))


def _images(
    anatomy: _Anatomy, bias: np.ndarray, spec: PhantomSpec, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Dixon water and fat, and the single-contrast image, with bias and noise."""
    tissue, ffv = anatomy.tissue, anatomy.ffv
    muscle_vox = anatomy.mask > 0
    water = np.zeros(tissue.shape)
    fatimg = np.zeros(tissue.shape)
    water[tissue == 1] = 900.0
    fatimg[tissue == 1] = 50.0
    fatimg[tissue == 2] = 1000.0
    water[tissue == 3] = 400.0
    fatimg[tissue == 3] = 500.0
    water[tissue == 4] = 1000.0
    water[muscle_vox] = 1000.0 * (1.0 - ffv[muscle_vox])
    fatimg[muscle_vox] = 1000.0 * ffv[muscle_vox]
    noise_w = rng.normal(0.0, spec.dixon_noise * 1000.0, water.shape)
    noise_f = rng.normal(0.0, spec.dixon_noise * 1000.0, water.shape)
    water = np.abs(water * bias + noise_w)
    fatimg = np.abs(fatimg * bias + noise_f)
    single = np.zeros(tissue.shape)  # T1w-like
    for code, level in ((1, 450.0), (2, 1000.0), (3, 600.0), (4, 250.0)):
        single[tissue == code] = level
    single[muscle_vox] = 300.0 + 700.0 * ffv[muscle_vox]
    noise = rng.normal(0.0, spec.single_noise * 1000.0, single.shape)
    single = np.abs(single * bias + noise)
    return {"water": water, "fat": fatimg, "single": single}


def make_phantom(spec: PhantomSpec | None = None, /, **fields: Any) -> Phantom:
    """Build a phantom (see module docstring).

    Parameters
    ----------
    spec : PhantomSpec, optional
        What the phantom looks like.
    **fields
        Instead of (or changing) ``spec``: any :class:`PhantomSpec` field, e.g.
        ``make_phantom(levels=("L4", "L5"), seed=3)``.

    """
    spec = dataclasses.replace(spec or PhantomSpec(), **fields)
    rng = np.random.default_rng(spec.seed)
    anatomy, slice_levels = _draw(spec, rng)
    nz = len(slice_levels)
    zz = (np.arange(nz) - (nz - 1) / 2.0) * spec.slice_mm
    bias = _bias_field(anatomy, spec, zz)
    images = _images(anatomy, bias, spec, rng)
    affine = np.diag([spec.pixel_mm, spec.pixel_mm, spec.slice_mm, 1.0])
    affine[:3, 3] = [anatomy.u[0], anatomy.v[0], zz[0]]
    counts = anatomy.counts
    truth_ff = {key: 100.0 * c[0] / c[1] for key, c in counts.items() if key[2] != ""}
    arrays = {
        **images,
        "mask": anatomy.mask,
        "vertebrae": anatomy.verts,
        "vertebral_body": anatomy.body_mask,
        "discs": anatomy.discs,
    }
    vols = {name: Volume(arr, affine, "MR", f"phantom:{name}") for name, arr in arrays.items()}
    if spec.orientation != "RAS":
        vols, bias, slice_levels = _reoriented(vols, bias, affine, slice_levels, spec.orientation)
    pix2 = spec.pixel_mm * spec.pixel_mm
    vb_area = {lv: float(anatomy.vb.sum()) * pix2 for lv in spec.levels}
    return Phantom(
        water=vols["water"],
        fat=vols["fat"],
        single=vols["single"],
        mask=vols["mask"],
        vertebrae=vols["vertebrae"],
        vertebral_body=vols["vertebral_body"],
        bias=bias,
        slice_levels=tuple(slice_levels),
        area_mm2=anatomy.area,
        fat_pct=truth_ff,
        vertebral_body_area_mm2=vb_area,
        discs=vols["discs"],
    )


def _reoriented(
    vols: dict[str, Volume],
    bias: np.ndarray,
    affine: np.ndarray,
    slice_levels: list[str],
    orientation: str,
) -> tuple[dict[str, Volume], np.ndarray, list[str]]:
    """Return the volumes in another axis order; levels follow the new slice axis."""
    from spinestab.imaging.io import slice_axis

    vols = {k: reorient(vol, orientation) for k, vol in vols.items()}
    bias = reorient(Volume(bias, affine), orientation).data
    ax = slice_axis(vols["mask"].affine)
    if vols["mask"].affine[2, ax] < 0:
        slice_levels = slice_levels[::-1]
    return vols, bias, slice_levels


def reorient(volume: Volume, axcodes: str) -> Volume:
    """Return the same volume stored in another axis order / direction (world unchanged).

    Parameters
    ----------
    volume : Volume
        The volume to reorient.
    axcodes : str
        Target orientation, e.g. ``"LPS"`` or ``"PIR"``.

    """
    from nibabel import orientations as nio

    start = nio.io_orientation(volume.affine)
    target = nio.axcodes2ornt(tuple(axcodes))
    transform = nio.ornt_transform(start, target)
    data = nio.apply_orientation(volume.data, transform)
    affine = volume.affine @ nio.inv_ornt_aff(transform, volume.data.shape)
    return Volume(np.ascontiguousarray(data), affine, volume.modality, volume.source, volume.meta)
