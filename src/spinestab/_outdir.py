"""The output folder of a command (``--out``): created if missing, refused if unusable."""

from __future__ import annotations

from pathlib import Path

from spinestab.errors import InputError

__all__ = ["make_out_dir"]


def make_out_dir(out_dir: Path) -> None:
    """Create the output folder ``out_dir`` (and its parents) if it does not exist.

    Parameters
    ----------
    out_dir : Path
        The folder given as ``--out``.

    Raises
    ------
    InputError
        When ``out_dir`` is a file, or the folder cannot be created.

    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("--out is a file", source=str(out_dir), expected="a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the output folder ({exc.__class__.__name__})",
            source=str(out_dir),
            expected="a writable folder",
        ) from None
