"""Backends that call TotalSegmentator, MuscleMap and SPINEPS.

The tools are installed separately (extras ``totalsegmentator`` and ``spineps``; MuscleMap
from its repository). Their weights must already lie in a local folder: the argument
``weights_dir`` or ``SPINESTAB_WEIGHTS_DIR/<tool>``. spinestab never downloads weights and
turns usage statistics off:

* TotalSegmentator: ``TOTALSEG_WEIGHTS_PATH`` = weights folder, and ``TOTALSEG_HOME_DIR`` =
  a private folder whose ``config.json`` says ``"send_usage_stats": false``.
* MuscleMap: ``mm_segment -m <local model .pth>``; the tool sends no statistics.
* SPINEPS: ``SPINEPS_SEGMENTOR_MODELS`` = weights folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spinestab.imaging.segment.base import (
    Runner,
    SegmentationBackend,
    SegmentationError,
    SegmentationResult,
    subprocess_runner,
)
from spinestab.settings import get_settings

__all__ = ["MuscleMap", "Spineps", "TotalSegmentator"]

_TASK_SCHEMES = {
    "total": "totalseg_total",
    "total_mr": "totalseg_total_mr",
    "vertebrae_mr": "totalseg_vertebrae_mr",
}


class _ToolBackend(SegmentationBackend):
    executable = ""
    tool = ""
    install_hint = ""

    def __init__(
        self,
        *,
        weights_dir: str | Path | None = None,
        runner: Runner | None = None,
        executable: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.runner = runner or subprocess_runner
        self.exe = executable or self.executable
        self.extra_env = dict(extra_env or {})
        self.weights_dir = self._weights(weights_dir)

    def _weights(self, weights_dir: str | Path | None) -> Path:
        if weights_dir is None:
            base = get_settings().weights_dir
            if base is None:
                raise SegmentationError(
                    f"no weights folder for {self.tool}",
                    expected=(
                        f"weights_dir, or SPINESTAB_WEIGHTS_DIR with a '{self.name}' sub-folder "
                        "holding the downloaded weights (spinestab never downloads them)"
                    ),
                )
            weights_dir = Path(base) / self.name
        path = Path(weights_dir)
        if not path.is_dir():
            raise SegmentationError(
                f"{self.tool} weights folder not found",
                source=str(path),
                expected="a local folder with the tool's weights (spinestab never downloads them)",
            )
        return path

    def _resolve_exe(self) -> str:
        if self.runner is not subprocess_runner:
            return self.exe  # stand-in runners need no installed tool
        found = shutil.which(self.exe)
        if found is None:
            raise SegmentationError(
                f"{self.tool} is not installed ('{self.exe}' not on PATH)",
                expected=self.install_hint,
            )
        return found

    def _env(self, out_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        return env

    def _run(self, args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Any:
        proc = self.runner(list(args), env=env, cwd=str(cwd) if cwd else None)
        if getattr(proc, "returncode", 1) != 0:
            tail = (getattr(proc, "stderr", "") or getattr(proc, "stdout", "") or "")[-2000:]
            raise SegmentationError(
                f"{self.tool} failed with exit code {proc.returncode}: {tail}",
                source=" ".join(str(a) for a in args),
            )
        return proc


class TotalSegmentator(_ToolBackend):
    """TotalSegmentator (``total`` for CT, ``total_mr`` or ``vertebrae_mr`` for MR).

    Parameters
    ----------
    task : str
        ``total``, ``total_mr`` or ``vertebrae_mr``.
    device : str
        ``cpu`` or ``gpu``.

    Other Parameters
    ----------------
    weights_dir : path, optional
        Folder with the nnU-Net result folders (``Dataset*``).
    runner : callable, optional
        Stand-in for :func:`subprocess.run` (tests).

    """

    name = "totalsegmentator"
    tool = "TotalSegmentator"
    executable = "TotalSegmentator"
    install_hint = "pip install 'spinestab[totalsegmentator]' and its weights in a local folder"

    def __init__(self, *, task: str = "total_mr", device: str = "cpu", **kwargs: Any) -> None:
        if task not in _TASK_SCHEMES:
            raise SegmentationError(
                "unknown TotalSegmentator task", value=task, expected=", ".join(_TASK_SCHEMES)
            )
        self.task = task
        self.device = device
        super().__init__(**kwargs)
        if not any(p.name.startswith("Dataset") for p in self.weights_dir.iterdir()):
            raise SegmentationError(
                "no TotalSegmentator weights (Dataset* folders) in the weights folder",
                source=str(self.weights_dir),
                expected="TotalSegmentator's nnU-Net result folders (spinestab never downloads)",
            )

    def _env(self, out_dir: Path) -> dict[str, str]:
        env = super()._env(out_dir)
        home = out_dir / ".totalseg_home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.json").write_text(
            json.dumps(
                {
                    "totalseg_id": "spinestab-offline",
                    "send_usage_stats": False,
                    "prediction_counter": 0,
                }
            ),
            encoding="utf-8",
        )
        env["TOTALSEG_HOME_DIR"] = str(home)
        env["TOTALSEG_WEIGHTS_PATH"] = str(self.weights_dir)
        return env

    def segment(self, image: Path, out_dir: Path) -> SegmentationResult:
        """Run TotalSegmentator on ``image``; one multi-label file in ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"totalseg_{self.task}.nii.gz"
        args = [
            self._resolve_exe(),
            "-i",
            str(image),
            "-o",
            str(out),
            "--ml",
            "-ta",
            self.task,
            "--device",
            self.device,
        ]
        self._run(args, self._env(out_dir))
        if not out.is_file():
            raise SegmentationError("TotalSegmentator wrote no output", source=str(out))
        scheme = _TASK_SCHEMES[self.task]
        if self.task == "vertebrae_mr":
            return SegmentationResult(None, None, out, scheme, args)
        return SegmentationResult(out, scheme, out, scheme, args)


class MuscleMap(_ToolBackend):
    """MuscleMap ``mm_segment`` (abdomen region: the lumbar muscles).

    Parameters
    ----------
    region : str
        MuscleMap region; ``abdomen`` gives the scheme ``musclemap``.
    model : path, optional
        The ``.pth`` model; default: the first ``*.pth`` under ``weights_dir/<region>`` or
        ``weights_dir``.
    use_gpu : bool

    """

    name = "musclemap"
    tool = "MuscleMap"
    executable = "mm_segment"
    install_hint = (
        "install MuscleMap (github.com/MuscleMap/MuscleMap) and put its model in the weights folder"
    )

    def __init__(
        self,
        *,
        region: str = "abdomen",
        model: str | Path | None = None,
        use_gpu: bool = False,
        **kwargs: Any,
    ) -> None:
        self.region = region
        self.use_gpu = use_gpu
        super().__init__(**kwargs)
        if model is None:
            candidates = sorted((self.weights_dir / region).glob("*.pth")) or sorted(
                self.weights_dir.glob("*.pth")
            )
            if not candidates:
                raise SegmentationError(
                    f"no MuscleMap model (*.pth) for region {region}",
                    source=str(self.weights_dir),
                    expected="the model file in the weights folder (spinestab never downloads)",
                )
            model = candidates[0]
        self.model = Path(model)
        if not self.model.is_file():
            raise SegmentationError("MuscleMap model not found", source=str(self.model))

    def segment(self, image: Path, out_dir: Path) -> SegmentationResult:
        """Run ``mm_segment``; the mask is ``<image stem>_dseg.nii.gz`` in ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self._resolve_exe(),
            "-i",
            str(image),
            "-r",
            self.region,
            "-o",
            str(out_dir),
            "-m",
            str(self.model),
            "-g",
            "Y" if self.use_gpu else "N",
        ]
        self._run(args, self._env(out_dir))
        stem = image.name.removesuffix(".gz").removesuffix(".nii")
        out = out_dir / f"{stem}_dseg.nii.gz"
        if not out.is_file():
            raise SegmentationError("MuscleMap wrote no mask", source=str(out))
        scheme = "musclemap" if self.region == "abdomen" else None
        if scheme is None:
            raise SegmentationError(
                "only the abdomen region maps to lumbar muscles", value=self.region
            )
        return SegmentationResult(out, scheme, None, None, args)


class Spineps(_ToolBackend):
    """SPINEPS (sagittal T2w spine MRI): vertebra instance mask for levels."""

    name = "spineps"
    tool = "SPINEPS"
    executable = "spineps"
    install_hint = "pip install 'spinestab[spineps]' and its models in a local folder"

    def __init__(
        self, *, model_semantic: str = "t2w", model_instance: str = "instance", **kwargs: Any
    ) -> None:
        self.model_semantic = model_semantic
        self.model_instance = model_instance
        super().__init__(**kwargs)

    def _env(self, out_dir: Path) -> dict[str, str]:
        env = super()._env(out_dir)
        env["SPINEPS_SEGMENTOR_MODELS"] = str(self.weights_dir)
        return env

    def segment(self, image: Path, out_dir: Path) -> SegmentationResult:
        """Run ``spineps sample`` on a copy of ``image`` in ``out_dir``; find ``*seg-vert*``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        local = out_dir / image.name
        if local.resolve() != image.resolve():
            shutil.copyfile(image, local)
        args = [
            self._resolve_exe(),
            "sample",
            "-i",
            str(local),
            "-model_semantic",
            self.model_semantic,
            "-model_instance",
            self.model_instance,
        ]
        self._run(args, self._env(out_dir), cwd=out_dir)
        found = sorted(out_dir.rglob("*seg-vert*_msk.nii.gz"))
        if not found:
            raise SegmentationError("SPINEPS wrote no seg-vert mask", source=str(out_dir))
        return SegmentationResult(None, None, found[0], "spineps_vert", args)
