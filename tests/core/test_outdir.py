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


# ----------------------------------------------------------------- scratch left by a kill
_HANGING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import spinestab.core.outdir as outdir
    out, run_id, where = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    owned = ("part_*.txt", "summary.json")
    if where == "commit":  # hang after the earlier files were moved aside
        real_move = outdir._move
        def hanging_move(src, dst):
            print("moving", flush=True)
            time.sleep(600)
        outdir._move = hanging_move
    with outdir.atomic_out_dir(out, owned=owned, manifest="summary.json") as tmp:
        for i in range(3):
            (tmp / f"part_{i:02d}.txt").write_text(run_id)
        (tmp / "summary.json").write_text(run_id)
        if where == "writing":
            print("writing", flush=True)
            time.sleep(600)
    """
)


def _hanging(tmp_path, out, run_id, where):
    """A writer process stopped ``where`` (``writing`` or ``commit``); returns it."""
    script = tmp_path / "hanging_writer.py"
    script.write_text(_HANGING_WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out), run_id, where],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() in ("writing", "moving")
    return proc


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def _scratch(tmp_path, name="res"):
    return sorted(p.name for p in tmp_path.glob(f".{name}.*"))


def _write_parts(out, run_id):
    with atomic_out_dir(out, owned=("part_*.txt", "summary.json"), manifest="summary.json") as t:
        for i in range(3):
            (t / f"part_{i:02d}.txt").write_text(run_id)
        (t / "summary.json").write_text(run_id)


def test_a_killed_runs_scratch_is_removed_by_the_next_complete_run(tmp_path):
    out = tmp_path / "res"
    _write_parts(out, "0")
    # killed while writing: its unfinished outputs stay in .res.tmp-<host>-<pid>-*
    killed = _hanging(tmp_path, out, "1", "writing")
    _kill(killed)
    (left,) = _scratch(tmp_path)
    assert left.startswith(".res.tmp-") and f"-{killed.pid}-" in left  # its owner named
    assert (out / "summary.json").read_text() == "0"  # the earlier result untouched
    # killed in the commit: the earlier result moved aside into .res.old-*, out incomplete
    _kill(_hanging(tmp_path, out, "2", "commit"))
    olds = [n for n in _scratch(tmp_path) if n.startswith(".res.old-")]
    assert len(olds) == 1 and (tmp_path / olds[0] / "summary.json").read_text() == "0"
    assert not (out / "summary.json").exists()
    # the next complete run removes both, and only after its result is in place
    _write_parts(out, "3")
    assert _scratch(tmp_path) == []
    assert {p.read_text() for p in out.iterdir()} == {"3"}


def test_a_live_runs_scratch_is_kept(tmp_path):
    out = tmp_path / "res"
    live = _hanging(tmp_path, out, "1", "writing")
    try:
        (theirs,) = _scratch(tmp_path)
        time.sleep(0.05)  # the live run's folder is older than the next run's start
        _write_parts(out, "2")
        assert _scratch(tmp_path) == [theirs]  # its process is alive: not stale
    finally:
        _kill(live)
    _write_parts(out, "3")
    assert _scratch(tmp_path) == []


def test_scratch_of_unknown_owners_goes_after_the_grace_period_only(tmp_path):
    from spinestab.core.outdir import UNKNOWN_OWNER_GRACE_S

    out = tmp_path / "res"
    _write_parts(out, "0")
    day_old = time.time() - UNKNOWN_OWNER_GRACE_S - 60
    hour_old = time.time() - 3600
    made = {
        ".res.tmp-0123abcd": day_old,  # named before owners were named
        ".res.old-89abcdef": hour_old,
        ".res.tmp-00000000-4242-0123abcd": day_old,  # another host
        ".res.tmp-00000000-4243-0123abcd": hour_old,
    }
    for name, when in made.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "part_00.txt").write_text("x")
        os.utime(tmp_path / name, (when, when))
    # never removed: a file, a link (nor its target), and names that are not scratch
    (tmp_path / ".res.tmp-0000aaaa").write_text("a file")
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    (tmp_path / ".res.tmp-1111bbbb").symlink_to(target, target_is_directory=True)
    (tmp_path / ".res.tmp-notours").mkdir()
    (tmp_path / ".other.tmp-2222cccc").mkdir()
    for name in (".res.tmp-0000aaaa", ".res.tmp-notours", ".other.tmp-2222cccc"):
        os.utime(tmp_path / name, (day_old, day_old))
    _write_parts(out, "1")
    assert _scratch(tmp_path) == [
        ".res.old-89abcdef",
        ".res.tmp-00000000-4243-0123abcd",
        ".res.tmp-0000aaaa",
        ".res.tmp-1111bbbb",
        ".res.tmp-notours",
    ]
    assert (target / "keep.txt").read_text() == "keep"
    assert (tmp_path / ".other.tmp-2222cccc").exists()


def test_a_killed_file_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    script = tmp_path / "file_writer.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            import spinestab.core.outdir as outdir
            def hanging_replace(src, dst):
                print("replacing", flush=True)
                time.sleep(600)
            outdir.os.replace = hanging_replace
            outdir.write_out_file(sys.argv[1], "half")
            """
        )
    )
    out = tmp_path / "report.pdf"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "replacing"
    _kill(proc)
    (left,) = _scratch(tmp_path, "report.pdf")
    assert left.startswith(".report.pdf.tmp-") and f"-{proc.pid}-" in left
    assert not out.exists()
    from spinestab.core.outdir import write_out_file

    write_out_file(out, "whole")
    assert out.read_text() == "whole" and _scratch(tmp_path, "report.pdf") == []
