"""Imaging benchmark: spinestab vs pyradiomics (per-slice table) and the whole MuscleMap study.

Run: ``python -m benchmarks imaging [--repeat N] [--no-pyradiomics]``.

1. Per-slice area and mean intensity of every label in every slice of the real MuscleMap
   pair (142 label-slices): spinestab's ``measure`` (and its bincount core) against
   pyradiomics (shape2D PixelSurface + firstorder Mean, force2D, one call per label-slice on
   the single-slice image, as in the equality test). Prints the ratio; goal >= 50x.
2. The whole study through ``spinestab mri`` (read, N4 bias correction on a shrunk copy,
   Otsu per label, metrics, QA picture, CSV/JSON): goal < 5 s. SimpleITK's N4 with its
   default settings on a 4x shrunk copy is timed beside it as the peer figure.
3. Peak Python memory (tracemalloc) of ``measure``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "imaging" / "musclemap"
IMAGE = DATA / "sub-0001_axial_lumbar_mri.nii.gz"
MASK = DATA / "sub-0001_axial_lumbar_mri_dseg.nii.gz"


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _pyradiomics_per_slice() -> tuple[float, int]:
    import radiomics
    import SimpleITK as sitk  # noqa: N813
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = featureextractor.RadiomicsFeatureExtractor(force2D=True, force2Ddimension=0)
        ext.disableAllFeatures()
        ext.enableFeaturesByName(firstorder=["Mean"], shape2D=["PixelSurface"])
        image = sitk.ReadImage(str(IMAGE), sitk.sitkFloat64)
        mask = sitk.ReadImage(str(MASK))
        mask.CopyInformation(image)
        n = 0
        t = time.perf_counter()
        for z in range(image.GetSize()[2]):
            im2, m2 = image[:, :, z : z + 1], mask[:, :, z : z + 1]
            for lab in np.unique(sitk.GetArrayViewFromImage(m2)):
                if lab:
                    ext.execute(im2, m2, label=int(lab))
                    n += 1
        return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks imaging")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pyradiomics", action="store_true")
    parser.add_argument(
        "--large", action="store_true", help="also time measure on a 512x512x200 CT-sized map"
    )
    args = parser.parse_args(argv or [])

    from spinestab.imaging.fat import n4_bias_correct
    from spinestab.imaging.io import read_volume
    from spinestab.imaging.labels import get_scheme
    from spinestab.imaging.muscle import measure, per_slice_sums

    img = read_volume(IMAGE)
    msk = read_volume(MASK, as_labels=True)
    scheme = get_scheme("musclemap")
    values = sorted(scheme.muscles())

    t_core = _median_time(lambda: per_slice_sums(msk.data, values, 2, image=img.data), args.repeat)
    t_measure = _median_time(lambda: measure(img, msk, scheme), args.repeat)
    n_rows = len(measure(img, msk, scheme).slices)
    print(f"per-slice table, MuscleMap pair ({n_rows} label-slices), median of {args.repeat}:")
    print(f"  spinestab bincount core        {t_core * 1000:8.1f} ms")
    print(f"  spinestab measure (all rows)   {t_measure * 1000:8.1f} ms")
    if not args.no_pyradiomics:
        try:
            t_pyr, n_pyr = _pyradiomics_per_slice()
        except ImportError:
            print("  pyradiomics not installed: no ratio")
        else:
            print(f"  pyradiomics ({n_pyr} executions)  {t_pyr * 1000:8.1f} ms")
            print(f"  ratio pyradiomics / spinestab core    {t_pyr / t_core:7.1f}x  (goal >= 50x)")
            print(f"  ratio pyradiomics / spinestab measure {t_pyr / t_measure:7.1f}x")

    tracemalloc.start()
    measure(img, msk, scheme)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    image_mb = img.data.nbytes / 2**20
    print(f"  measure peak Python memory     {peak / 2**20:8.1f} MiB", end="")
    print(f" (image itself {image_mb:.1f} MiB)")

    import SimpleITK as sitk  # noqa: N813

    def peer_n4() -> None:
        s = sitk.GetImageFromArray(np.ascontiguousarray(img.data.astype(np.float32).T))
        s.SetSpacing(img.spacing_mm)
        small = sitk.Shrink(s, [4, 4, 1])
        small_mask = sitk.OtsuThreshold(small, 0, 1, 200)
        corr = sitk.N4BiasFieldCorrectionImageFilter()
        corr.Execute(small, small_mask)
        corr.GetLogBiasFieldAsImage(s)

    t_peer = _median_time(peer_n4, 1)
    muscles = msk.data > 0
    t_n4 = _median_time(lambda: n4_bias_correct(img.data, img.spacing_mm, mask=muscles), 3)
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import analyse_mri

    with tempfile.TemporaryDirectory() as tmp:
        t_lib = _median_time(lambda: analyse_mri(IMAGE, MASK), 3)
        t_study = _median_time(
            lambda: write_mri_outputs(analyse_mri(IMAGE, MASK), Path(tmp) / "o"), 3
        )
    print("whole MuscleMap study (read, N4, Otsu per label, metrics, QA PNG, CSV/JSON):")
    print(f"  spinestab mri (analyse_mri + write_mri_outputs) {t_study:6.2f} s  (goal < 5 s)")
    print(f"  of which analyse_mri (nothing written)         {t_lib:6.2f} s")
    print(f"  of which N4 (spinestab)        {t_n4:8.2f} s")
    print(f"  SimpleITK N4 defaults, 4x shrunk copy (peer) {t_peer:6.2f} s")
    if args.large:
        from spinestab.imaging.io import Volume

        shape = (512, 512, 200)
        lab = np.zeros(shape, np.uint8)
        lab[100:200, 300:400, :] = 86  # TotalSegmentator autochthon left / right, iliopsoas
        lab[300:400, 300:400, :] = 87
        lab[200:260, 150:200, :] = 88
        big = np.random.default_rng(0).normal(40, 20, shape).astype(np.float32)
        vol = Volume(big, np.diag([0.8, 0.8, 1.5, 1.0]), "CT")
        masks = Volume(lab, vol.affine, "CT")
        t_big = _median_time(lambda: measure(vol, masks, get_scheme("total")), 1)
        print(f"measure on 512x512x200 (52 M voxels, 10 M muscle): {t_big:6.2f} s")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
