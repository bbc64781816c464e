from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spinestab.errors import InputError
from spinestab.imaging.labels import get_scheme
from spinestab.imaging.levels import levels_from_instances
from spinestab.imaging.phantom import reorient
from spinestab.imaging.qa import display_slice, save_level_pictures
from spinestab.imaging.segment import (
    MasksFromFiles,
    MuscleMap,
    SegmentationError,
    Spineps,
    TotalSegmentator,
    get_backend,
)

from .conftest import MM_IMAGE, MM_MASK, TP_VERT


class StandIn:
    """Records the call and writes what the real tool would write."""

    def __init__(self, make_output, returncode: int = 0):
        self.calls: list[tuple[list[str], dict[str, str], str | None]] = []
        self.make_output = make_output
        self.returncode = returncode

    def __call__(self, args, *, env, cwd=None):
        self.calls.append((list(args), dict(env), cwd))
        if self.returncode == 0:
            self.make_output(list(args), dict(env), cwd)
        return subprocess.CompletedProcess(args, self.returncode, "", "boom: out of memory")


def _weights(tmp_path: Path, *parts: str) -> Path:
    d = tmp_path.joinpath("weights", *parts)
    d.mkdir(parents=True)
    return d


def test_totalsegmentator_wiring_offline_and_no_stats(tmp_path):
    w = _weights(tmp_path, "ts")
    (w / "Dataset850_TotalSegMRI_part1").mkdir()

    def fake(args, env, cwd):
        out = Path(args[args.index("-o") + 1])
        shutil.copyfile(MM_MASK, out)
        cfg = json.loads((Path(env["TOTALSEG_HOME_DIR"]) / "config.json").read_text())
        assert cfg["send_usage_stats"] is False

    runner = StandIn(fake)
    backend = TotalSegmentator(task="total_mr", weights_dir=w, runner=runner)
    res = backend.segment(MM_IMAGE, tmp_path / "out")
    args, env, _cwd = runner.calls[0]
    assert args[:3] == ["TotalSegmentator", "-i", str(MM_IMAGE)]
    assert "--ml" in args and args[args.index("-ta") + 1] == "total_mr"
    assert env["TOTALSEG_WEIGHTS_PATH"] == str(w)
    assert res.muscle_mask.is_file() and res.muscle_scheme == "totalseg_total_mr"
    assert res.vertebra_scheme == "totalseg_total_mr"
    get_scheme(res.muscle_scheme)


def test_totalsegmentator_refuses_missing_weights(tmp_path, monkeypatch):
    empty = _weights(tmp_path, "empty")
    with pytest.raises(SegmentationError, match="no TotalSegmentator weights"):
        TotalSegmentator(weights_dir=empty, runner=StandIn(lambda *a: None))
    with pytest.raises(SegmentationError, match="weights folder not found"):
        TotalSegmentator(weights_dir=tmp_path / "nope", runner=StandIn(lambda *a: None))
    monkeypatch.delenv("SPINESTAB_WEIGHTS_DIR", raising=False)
    with pytest.raises(SegmentationError, match="no weights folder"):
        TotalSegmentator(runner=StandIn(lambda *a: None))
    monkeypatch.setenv("SPINESTAB_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights" / "totalsegmentator").mkdir()
    (tmp_path / "weights" / "totalsegmentator" / "Dataset1").mkdir()
    assert TotalSegmentator(runner=StandIn(lambda *a: None)).weights_dir.name == "totalsegmentator"


def test_missing_tool_is_a_clear_message(tmp_path):
    w = _weights(tmp_path, "ts")
    (w / "Dataset1").mkdir()
    backend = TotalSegmentator(weights_dir=w, executable="no-such-totalsegmentator-binary")
    with pytest.raises(SegmentationError, match="not installed"):
        backend.segment(MM_IMAGE, tmp_path / "o")


def test_tool_failure_is_reported(tmp_path):
    w = _weights(tmp_path, "ts")
    (w / "Dataset1").mkdir()
    backend = TotalSegmentator(weights_dir=w, runner=StandIn(lambda *a: None, returncode=3))
    with pytest.raises(SegmentationError, match="exit code 3: boom"):
        backend.segment(MM_IMAGE, tmp_path / "o")


def test_musclemap_wiring(tmp_path):
    w = _weights(tmp_path, "mm", "abdomen")
    (w / "contrast_agnostic_abdomen_model.pth").write_bytes(b"weights")

    def fake(args, env, cwd):
        out = Path(args[args.index("-o") + 1]) / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
        shutil.copyfile(MM_MASK, out)

    runner = StandIn(fake)
    res = MuscleMap(weights_dir=w.parent, runner=runner).segment(MM_IMAGE, tmp_path / "o")
    args = runner.calls[0][0]
    assert args[0] == "mm_segment" and args[args.index("-r") + 1] == "abdomen"
    assert args[args.index("-m") + 1].endswith("contrast_agnostic_abdomen_model.pth")
    assert args[args.index("-g") + 1] == "N"
    assert res.muscle_scheme == "musclemap"
    with pytest.raises(SegmentationError, match="no MuscleMap model"):
        MuscleMap(weights_dir=_weights(tmp_path, "mm2"), runner=runner)


def test_spineps_wiring(tmp_path):
    w = _weights(tmp_path, "sp")

    def fake(args, env, cwd):
        der = Path(cwd) / "derivatives_seg"
        der.mkdir()
        shutil.copyfile(TP_VERT, der / "sub-x_seg-vert_msk.nii.gz")

    runner = StandIn(fake)
    res = Spineps(weights_dir=w, runner=runner).segment(MM_IMAGE, tmp_path / "o")
    args, env, _ = runner.calls[0]
    assert args[:2] == ["spineps", "sample"] and env["SPINEPS_SEGMENTOR_MODELS"] == str(w)
    assert res.vertebra_scheme == "spineps_vert" and res.vertebra_mask.is_file()


def test_masks_from_files_and_registry(tmp_path):
    b = get_backend("files", muscle_mask=MM_MASK, muscle_scheme="musclemap")
    assert isinstance(b, MasksFromFiles)
    assert b.segment(MM_IMAGE, tmp_path).muscle_mask == MM_MASK
    with pytest.raises(InputError, match="unknown segmentation backend"):
        get_backend("magic")
    missing = MasksFromFiles(muscle_mask=tmp_path / "x.nii.gz", muscle_scheme="musclemap")
    with pytest.raises(SegmentationError, match="not found"):
        missing.segment(MM_IMAGE, tmp_path)


def test_qa_pictures_one_per_level_and_radiological_orientation(phantom, tmp_path):
    scheme = get_scheme("musclemap")
    lv = levels_from_instances(phantom.vertebrae, get_scheme("spineps_vert"), phantom.mask)
    files = save_level_pictures(phantom.single, phantom.mask, scheme, lv, tmp_path)
    assert sorted(p.name for p in files) == ["qa_L3.png", "qa_L4.png", "qa_L5.png", "qa_all.png"]
    for p in files:
        with Image.open(p) as im:
            assert im.size[0] > 300 and im.size[1] > 200
    # the same anatomy, whatever the storage order: right muscles on the picture's left,
    # psoas (anterior) above multifidus (posterior)
    for codes in ("LPS", "RAS", "PIR"):
        mask = reorient(phantom.mask, codes)
        k = lv.slices_of("L4")[0] if codes == "LPS" else None
        if k is None:
            lv2 = levels_from_instances(
                reorient(phantom.vertebrae, codes), get_scheme("spineps_vert"), mask
            )
            k = lv2.slices_of("L4")[0]
        pic = display_slice(mask, mask.data, int(k))
        cols_r = np.nonzero(pic == 1)[1].mean()  # multifidus right
        cols_l = np.nonzero(pic == 2)[1].mean()
        assert cols_r < cols_l, codes
        assert np.nonzero(pic == 5)[0].mean() < np.nonzero(pic == 1)[0].mean(), codes
