"""Timing of spinestab.instability: `python -m benchmarks instability`.

There is no peer tool for corner-landmark instability measures in our environment, so this
prints absolute figures: landmarks -> report for a 6-level neutral + flexion + extension
study, corners from the TPTBox CT L2-L4 masks, the overlay picture, six-point morphometry
(from landmarks and from the masks, with the mid-point tracing), and peak memory.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

from spinestab.instability import assess, corners_from_masks, draw_overlay
from spinestab.instability.morphometry import measure_morphometry
from spinestab.instability.phantom import analytic_vertebrae, example_study

HERE = Path(__file__).resolve().parent
VERT = HERE.parent / "tests/data/instability/tptbox_ct_L2-L4/sub-ct_seg-vert_label-22_msk.nii.gz"
TS_SEG = HERE.parent / "tests/data/imaging/totalsegmentator/example_seg.nii.gz"


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main(argv: list[str] | None = None) -> int:
    study = example_study()
    t_assess = _time(lambda: assess(**study).to_dict(), 50)
    t_mask = _time(lambda: corners_from_masks(VERT), 10)
    t_mask_ext = _time(lambda: corners_from_masks(VERT, method="extremes"), 10)
    t_ts = (
        _time(lambda: corners_from_masks(TS_SEG, labels="totalsegmentator"), 5)
        if TS_SEG.is_file()
        else None
    )
    film = analytic_vertebrae({f"T{i}": (24.0, 21.0, 25.0) for i in range(4, 13)})
    t_morph = _time(lambda: measure_morphometry(film).to_dict(), 50)
    t_morph_mask = _time(
        lambda: measure_morphometry(corners_from_masks(VERT, midpoints=True)).to_dict(), 10
    )
    report = assess(**study)
    out = Path("/tmp/spinestab_instability_bench.png")
    t_png = _time(lambda: draw_overlay(report, out), 3)
    tracemalloc.start()
    assess(neutral=corners_from_masks(VERT)).to_dict()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"assess, 6 levels x 3 views:        {1e3 * t_assess:8.2f} ms")
    print(f"corners from TPTBox masks (73x47x73): {1e3 * t_mask:8.2f} ms (linefit)")
    print(f"  same, outline extremes:             {1e3 * t_mask_ext:8.2f} ms")
    if t_ts is not None:
        print(f"corners from TotalSegmentator 3 mm CT:  {1e3 * t_ts:8.2f} ms (linefit)")
    print(f"overlay PNG, 3 panels:             {1e3 * t_png:8.2f} ms")
    print(f"morphometry, 9 vertebrae (landmarks): {1e3 * t_morph:8.2f} ms")
    print(f"morphometry from TPTBox masks:        {1e3 * t_morph_mask:8.2f} ms (with mid-points)")
    print(f"peak Python memory, mask -> report:  {peak / 2**20:8.2f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
