"""Kept for imports made before :mod:`spinestab.core.outdir` (same functions)."""

from __future__ import annotations

from spinestab.core.outdir import make_out_dir

__all__ = ["make_out_dir"]
