"""The segmentation backend interface."""

from __future__ import annotations

import abc
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spinestab.errors import InputError

__all__ = [
    "Runner",
    "SegmentationBackend",
    "SegmentationError",
    "SegmentationResult",
    "get_backend",
    "subprocess_runner",
]


class SegmentationError(InputError):
    """A segmentation tool is missing, lacks weights, or failed."""


class Runner(Protocol):
    """Run a command like :func:`subprocess.run`.

    ``runner(args, env=..., cwd=...)`` returns an object with ``returncode``, ``stdout``
    and ``stderr`` (as :class:`subprocess.CompletedProcess`).
    """

    def __call__(
        self, args: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None
    ) -> Any:
        """Run ``args``."""


def subprocess_runner(
    args: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command with :func:`subprocess.run`, capturing output."""
    return subprocess.run(
        list(args), env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )


@dataclass(frozen=True)
class SegmentationResult:
    """Masks a backend produced.

    Attributes
    ----------
    muscle_mask : Path or None
        Muscle label map and its scheme name.
    muscle_scheme : str or None
    vertebra_mask : Path or None
        Vertebra instance (or single-label) map and its scheme name.
    vertebra_scheme : str or None
    command : list of str
        The command that ran (empty for files).

    """

    muscle_mask: Path | None
    muscle_scheme: str | None
    vertebra_mask: Path | None = None
    vertebra_scheme: str | None = None
    command: list[str] = field(default_factory=list)


class SegmentationBackend(abc.ABC):
    """One way of getting masks for an image."""

    name: str = "backend"

    @abc.abstractmethod
    def segment(self, image: Path, out_dir: Path) -> SegmentationResult:
        """Segment ``image`` into ``out_dir`` and say where the masks are."""


def get_backend(name: str, **options: Any) -> SegmentationBackend:
    """Backend by name: ``files``, ``totalsegmentator``, ``musclemap`` or ``spineps``."""
    from spinestab.imaging.segment.files import MasksFromFiles
    from spinestab.imaging.segment.tools import MuscleMap, Spineps, TotalSegmentator

    table: dict[str, type[SegmentationBackend]] = {
        "files": MasksFromFiles,
        "totalsegmentator": TotalSegmentator,
        "musclemap": MuscleMap,
        "spineps": Spineps,
    }
    if name not in table:
        raise InputError("unknown segmentation backend", value=name, expected=", ".join(table))
    return table[name](**options)


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise SegmentationError(f"{what} not found", source=str(path))
    return path
