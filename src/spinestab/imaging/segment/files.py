"""Masks that already exist as files."""

from __future__ import annotations

from pathlib import Path

from spinestab.imaging.labels import get_scheme
from spinestab.imaging.segment.base import SegmentationBackend, SegmentationResult, _require_file

__all__ = ["MasksFromFiles"]


class MasksFromFiles(SegmentationBackend):
    """Use masks made elsewhere.

    Parameters
    ----------
    muscle_mask : path
        Muscle label map.
    muscle_scheme : str
        Its label scheme (name or JSON path).
    vertebra_mask : path, optional
    vertebra_scheme : str, optional

    """

    name = "files"

    def __init__(
        self,
        *,
        muscle_mask: str | Path,
        muscle_scheme: str,
        vertebra_mask: str | Path | None = None,
        vertebra_scheme: str | None = None,
    ) -> None:
        self.muscle_mask = Path(muscle_mask)
        self.muscle_scheme = muscle_scheme
        self.vertebra_mask = Path(vertebra_mask) if vertebra_mask else None
        self.vertebra_scheme = vertebra_scheme
        get_scheme(muscle_scheme)
        if vertebra_scheme:
            get_scheme(vertebra_scheme)

    def segment(self, image: Path, out_dir: Path) -> SegmentationResult:
        """Return the given files (after checking they exist)."""
        _require_file(self.muscle_mask, "muscle mask")
        if self.vertebra_mask is not None:
            _require_file(self.vertebra_mask, "vertebra mask")
        return SegmentationResult(
            self.muscle_mask, self.muscle_scheme, self.vertebra_mask, self.vertebra_scheme
        )
