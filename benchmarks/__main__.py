"""Run area benchmarks: ``python -m benchmarks [AREA ...] [--option ...]``.

Each area is a module ``benchmarks/<area>_bench.py`` with ``main(argv) -> int``; with no
area named, every one found runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    found = sorted(p.stem[: -len("_bench")] for p in here.glob("*_bench.py"))
    # leading words are area names; everything from the first option on goes to the areas
    first_opt = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    areas = argv[:first_opt] or found
    options = argv[first_opt:]
    rc = 0
    for area in areas:
        if area not in found:
            print(f"unknown benchmark area {area!r}; known: {', '.join(found)}")
            return 2
        mod = importlib.import_module(f"benchmarks.{area}_bench")
        print(f"== {area} ==")
        rc |= int(mod.main(options) or 0)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
