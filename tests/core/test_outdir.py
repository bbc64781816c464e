"""The shared output-folder helper: checks up front, atomic writing, a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from spinestab.core.outdir import atomic_out_dir, check_out_dir, make_out_dir
from spinestab.errors import InputError

OWNED = ("table.csv", "pic_*.png", "summary.json")


def _write_run(out, run_id, pictures):
    with atomic_out_dir(out, owned=OWNED, manifest="summary.json") as tmp:
        (tmp / "table.csv").write_text(run_id)
        for p in pictures:
            (tmp / f"pic_{p}.png").write_text(run_id)
        (tmp / "summary.json").write_text(run_id)


def test_new_folder_appears_complete_and_nothing_is_left_beside_it(tmp_path):
    out = tmp_path / "a" / "res"
    _write_run(out, "1", ["L4", "L5"])
    assert sorted(p.name for p in out.iterdir()) == [
        "pic_L4.png",
        "pic_L5.png",
        "summary.json",
        "table.csv",
    ]
    assert [p.name for p in out.parent.iterdir()] == ["res"]  # no temporary sibling left


def test_second_run_replaces_the_earlier_files_and_keeps_foreign_ones(tmp_path):
    out = tmp_path / "res"
    _write_run(out, "1", ["L3", "L4", "L5"])
    (out / "my_notes.txt").write_text("mine")
    (out / "sub").mkdir()
    (out / "sub" / "pic_L9.png").write_text("not at the top level: not owned")
    _write_run(out, "2", ["L4"])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["my_notes.txt", "pic_L4.png", "sub", "summary.json", "table.csv"]
    assert {(out / n).read_text() for n in ("pic_L4.png", "summary.json", "table.csv")} == {"2"}
    assert (out / "my_notes.txt").read_text() == "mine"
    assert (out / "sub" / "pic_L9.png").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_failed_run_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "res"
    _write_run(out, "1", ["L4"])
    with pytest.raises(RuntimeError), atomic_out_dir(out, owned=OWNED) as tmp:
        (tmp / "table.csv").write_text("half")
        raise RuntimeError("killed by a bug")
    assert {p.read_text() for p in out.iterdir()} == {"1"}
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_a_file_not_owned_by_the_command_is_refused_not_written(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "other.txt").write_text("mine")
    with pytest.raises(InputError, match="not among"), atomic_out_dir(out, owned=OWNED) as tmp:
        (tmp / "other.txt").write_text("would replace the user's file")
    assert (out / "other.txt").read_text() == "mine"


def test_current_folder_as_out_is_written_into_not_replaced(tmp_path, monkeypatch):
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    _write_run(".", "1", [])
    assert (here / "summary.json").read_text() == "1"
    assert os.path.samefile(os.getcwd(), here)  # the folder itself was never renamed


def test_out_that_is_a_file_or_under_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("x")
    for out in (tmp_path / "taken", tmp_path / "taken" / "sub"):
        with pytest.raises(InputError, match="--out"):
            check_out_dir(out)
        with pytest.raises(InputError):
            make_out_dir(out)
        with pytest.raises(InputError), atomic_out_dir(out, owned=OWNED):
            pytest.fail("never reached")
    assert (tmp_path / "taken").read_text() == "x"


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from spinestab.core.outdir import atomic_out_dir
    out, run_id = Path(sys.argv[1]), sys.argv[2]
    owned = ("part_*.txt", "summary.json")
    with atomic_out_dir(out, owned=owned, manifest="summary.json") as tmp:
        for i in range(40):
            (tmp / f"part_{i:02d}.txt").write_text(run_id)
            time.sleep(0.002)
        (tmp / "summary.json").write_text(run_id)
        print("committing", flush=True)
    """
)


def _state(out):
    """'old', 'new' or 'incomplete' (no manifest); a mix with a manifest fails the test."""
    if not out.exists() or not (out / "summary.json").exists():
        return "incomplete"
    parts = {p.read_text() for p in out.glob("part_*.txt")}
    manifest = (out / "summary.json").read_text()
    assert parts == {manifest} and len(list(out.glob("part_*.txt"))) == 40, "mixed runs"
    return {"0": "old", "1": "new"}[manifest]


@pytest.mark.slow
def test_sigkill_at_any_moment_never_leaves_a_complete_looking_mix(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    seen = set()
    for trial in range(12):
        out = tmp_path / f"res{trial}"
        subprocess.run([sys.executable, str(script), str(out), "0"], check=True, env=env)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(out), "1"], env=env, stdout=subprocess.DEVNULL
        )
        time.sleep(0.05 + 0.03 * trial)  # from start-up to after the commit
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.add(_state(out))
        # nothing lost: the earlier run's files are in place or kept in a sibling
        kept = [p for p in tmp_path.glob(f".res{trial}.old-*") if (p / "summary.json").exists()]
        assert _state(out) != "incomplete" or kept or not out.exists()
    assert "old" in seen  # killed before the commit: the earlier complete result stays
