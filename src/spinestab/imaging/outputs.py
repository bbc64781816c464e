"""Writing a muscle-quality result as files, and reading those files back.

The folder (the ``spinestab mri --out`` contract):

* ``muscle_quality.csv``: one row per muscle, side and level
  (:data:`~spinestab.imaging.muscle.MUSCLE_COLUMNS`);
* ``per_slice.csv``: one row per muscle, side and slice;
* ``qa_<level>.png``: the QA pictures;
* ``segmentation/``: a segmenter's files, when one ran;
* ``summary.json``: everything else, and the list of outputs. It is put in place last.

Writing is atomic (:func:`spinestab.core.outdir.atomic_out_dir`): the files of an earlier
run in the same folder are replaced as a whole, nothing else in it is touched, and a run
killed while writing never leaves a complete-looking half result. An earlier
``segmentation/`` folder is replaced only by a run that segmented again (it may hold the
mask this run read).

Numbers are written with 10 significant digits in the CSV tables and exactly in
``summary.json``; :func:`read_mri_outputs` takes the rows from ``summary.json``, so they
come back equal.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spinestab.core.outdir import atomic_out_dir
from spinestab.errors import InputError
from spinestab.imaging.muscle import MUSCLE_COLUMNS, PER_SLICE_COLUMNS, SliceRow
from spinestab.imaging.qa import QaPicture
from spinestab.imaging.result import TABLE_FILES, MriResult

__all__ = ["OWNED", "read_mri_outputs", "summary_json", "write_mri_outputs"]

#: the names ``spinestab mri`` writes into its folder (an earlier run's are replaced)
OWNED = (*TABLE_FILES, "qa_*.png")
SEGMENTATION_DIR = "segmentation"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.10g}"
    return str(value)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row[c]) for c in columns])


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj).__name__)


def _clean_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def summary_json(result: MriResult) -> str:
    """Return the text of ``summary.json`` (NaN as ``null``)."""
    summary = result.to_summary()
    return json.dumps(_clean_json(summary), indent=2, default=_json_default) + "\n"


def write_mri_outputs(result: MriResult, out_dir: str | Path) -> list[Path]:
    """Write ``result`` into the folder ``out_dir`` (created if missing), atomically.

    Parameters
    ----------
    result : MriResult
        What :func:`~spinestab.imaging.pipeline.analyse_mri` returned.
    out_dir : path-like
        The output folder.

    Returns
    -------
    list of Path
        The files written (in ``out_dir``), ``summary.json`` last.

    Raises
    ------
    InputError
        ``out_dir`` is a file or cannot be created.

    """
    out = Path(out_dir)
    owned = (*OWNED, SEGMENTATION_DIR) if result.segmentation else OWNED
    with atomic_out_dir(out, owned=owned, manifest="summary.json") as tmp:
        _write_csv(tmp / "muscle_quality.csv", MUSCLE_COLUMNS, [asdict(r) for r in result.rows])
        _write_csv(tmp / "per_slice.csv", PER_SLICE_COLUMNS, [asdict(r) for r in result.slices])
        for picture in result.pictures:
            (tmp / picture.name).write_bytes(picture.png)
        for rel, data in result.segmentation.items():
            path = tmp / SEGMENTATION_DIR / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (tmp / "summary.json").write_text(summary_json(result), encoding="utf-8")
    return [out / name for name in result.output_names() if name != "summary.json"] + [
        out / "summary.json"
    ]


def read_mri_outputs(out_dir: str | Path) -> MriResult:
    """Read a folder written by :func:`write_mri_outputs` (or ``spinestab mri``) back.

    Raises
    ------
    InputError
        No ``summary.json`` (an incomplete or foreign folder), or unreadable files.

    """
    folder = Path(out_dir)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise InputError(
            "no summary.json: not a complete spinestab mri result",
            source=str(folder),
            expected="a folder written by spinestab mri",
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read summary.json ({exc})", source=str(summary_path)) from exc
    slices = _read_slices(folder / "per_slice.csv")
    pictures = tuple(
        QaPicture(name[3:-4], -1, "", (folder / name).read_bytes())
        for name in summary.get("qa_pictures", [])
        if (folder / name).is_file()
    )
    seg_dir = folder / SEGMENTATION_DIR
    segmentation = {}
    if summary.get("inputs", {}).get("segmenter") and seg_dir.is_dir():
        segmentation = {
            str(p.relative_to(seg_dir)): p.read_bytes()
            for p in sorted(seg_dir.rglob("*"))
            if p.is_file()
        }
    return MriResult.from_summary(
        summary, slices=slices, pictures=pictures, segmentation=segmentation
    )


def _number(text: str) -> float:
    return float(text) if text != "" else math.nan


def _read_slices(path: Path) -> tuple[SliceRow, ...]:
    if not path.is_file():
        return ()
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(
            SliceRow(
                slice=int(r["slice"]),
                level=r["level"],
                muscle=r["muscle"],
                side=r["side"],
                area_mm2=_number(r["area_mm2"]),
                mean_intensity=_number(r["mean_intensity"]),
                fat_fraction_pct=_number(r["fat_fraction_pct"]),
            )
            for r in csv.DictReader(fh)
        )
