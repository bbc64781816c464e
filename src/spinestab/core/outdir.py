"""Output folders of the commands (``--out``): checked up front, written atomically.

Every command that writes a folder of results uses the same two steps:

1. :func:`check_out_dir` before any work: ``--out`` must not be a file and its parent
   must be creatable, so bad input fails fast and nothing is written.
2. :func:`atomic_out_dir` around the writing: the outputs go into a fresh temporary
   sibling folder (``.NAME.tmp-XXXXXXXX`` beside ``NAME``) and are put in place only when
   every file is complete.

Semantics of an existing ``--out`` folder (unchanged from before): it is accepted. The
files of an earlier run of the same command (the ``owned`` names, e.g. ``qa_*.png``) are
replaced as a whole, so the folder never mixes files of two runs (no stale picture of a
level the new run does not have); anything else in it (the user's own files, another
command's sub-folder) is left alone.

Guarantees
----------
* ``--out`` does not exist yet: the complete folder appears by one rename (atomic).
* ``--out`` exists (even empty): the earlier run's files are moved aside first, the new
  ones moved in, and the *manifest* file (e.g. ``summary.json``, which lists the outputs)
  last. A run killed at any moment therefore leaves either the earlier complete result, or
  a folder without a manifest (visibly incomplete), never a complete-looking half result.
  Files moved aside stay in a ``.NAME.old-XXXXXXXX`` sibling until the end, so nothing of
  the earlier run is lost before the new one is in place.
* A run that fails (an exception) leaves ``--out`` as it was and removes its temporary
  folder.

An existing folder is never renamed or replaced as a whole: it may be the current working
directory or hold the user's files.

A command that writes one file (``--out FILE``: a report, a Bundle, a table) uses
:func:`check_out_file` before the work and :func:`write_out_file` for the bytes: the file is
written beside its place under a temporary name and renamed over it, so it is never half
written.

Scratch folders left by a killed run
------------------------------------
A run killed (SIGKILL, power loss) leaves its scratch sibling behind: ``.NAME.tmp-*`` (its
unfinished outputs, or the unfinished file of :func:`write_out_file`) or ``.NAME.old-*``
(the earlier run's files it had moved aside). The scratch names carry their owner,
``.NAME.tmp-<host>-<pid>-<random>`` (``<host>``: 8 hex digits of a hash of the host name).
When a later run has put its own complete outputs in place, it removes the stale scratch of
the same ``--out`` (beside it, and the ``.spinestab.tmp-*`` fallback inside a folder). A
scratch folder (or file) is stale when it was last changed before this run started and

* it belongs to a process of this host that is no longer alive, or
* its owner cannot be checked (another host, or a name without an owner, as written before
  owners were named) and it was last changed more than :data:`UNKNOWN_OWNER_GRACE_S` ago.

So a folder of a run still going (on this host: its process is alive; elsewhere: changed
within the grace period) is never removed, and nothing is removed before the new result is
complete: until then a ``.NAME.old-*`` folder still holds the last complete result of a
killed run. A symbolic link is never followed or removed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from spinestab.errors import InputError

__all__ = [
    "UNKNOWN_OWNER_GRACE_S",
    "atomic_out_dir",
    "check_out_dir",
    "check_out_file",
    "make_out_dir",
    "stale_scratch",
    "write_out_file",
]

logger = logging.getLogger(__name__)

#: Age (seconds since last change) after which a scratch folder whose owner cannot be
#: checked (written on another host, or named without an owner) is taken as stale.
UNKNOWN_OWNER_GRACE_S = 24 * 3600.0
#: This host, as scratch names carry it.
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
#: What follows ``.NAME.tmp-`` / ``.NAME.old-``: ``<host>-<pid>-<random>`` or ``<random>``.
_OWNER = re.compile(r"^(?:(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-)?[0-9a-f]{8}$")
_TAGS = ("tmp", "old")


def check_out_dir(out_dir: str | Path) -> Path:
    """Check that ``out_dir`` can be an output folder, without creating anything.

    Parameters
    ----------
    out_dir : path-like
        The folder given as ``--out`` (it may or may not exist).

    Returns
    -------
    Path
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises
    ------
    InputError
        When ``out_dir`` is a file, or a parent of it is a file.

    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(
            "--out is a file, not a folder",
            source=str(out),
            item="--out",
            expected="an output folder (new, or one written before)",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    "cannot create the output folder (a parent is a file)",
                    source=str(out),
                    item="--out",
                    value=str(parent),
                    expected="a writable folder",
                )
            break
    return out


def make_out_dir(out_dir: str | Path) -> None:
    """Create the output folder ``out_dir`` (and its parents) if it does not exist.

    Parameters
    ----------
    out_dir : path-like
        The folder given as ``--out``.

    Raises
    ------
    InputError
        When ``out_dir`` is a file, or the folder cannot be created.

    """
    out = check_out_dir(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_create(out, exc) from None


def _cannot_create(out: Path, exc: OSError) -> InputError:
    return InputError(
        f"cannot create the output folder ({exc.__class__.__name__})",
        source=str(out),
        item="--out",
        expected="a writable folder",
    )


def _owned_name(out: Path, tag: str) -> Path:
    """Return a hidden sibling name of ``out`` with its owner (``.NAME.tag-<host>-<pid>-*``)."""
    return out.parent / f".{out.name}.{tag}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _sibling(out: Path, tag: str) -> Path:
    """Create an empty hidden sibling folder of ``out`` (mode from the umask, as mkdir)."""
    path = _owned_name(out, tag)
    path.mkdir()
    return path


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (when unsure: yes)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True


def _is_stale(path: Path, owner: re.Match[str], *, started: float, now: float, files: bool) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    kind_ok = stat.S_ISREG(info.st_mode) if files else stat.S_ISDIR(info.st_mode)
    if not kind_ok or info.st_mtime >= started:
        return False  # a link or another kind (never ours), or changed during this run
    if owner["pid"] is not None and owner["host"] == _HOST:
        return not _alive(int(owner["pid"]))
    return now - info.st_mtime > UNKNOWN_OWNER_GRACE_S


def stale_scratch(out_dir: str | Path, *, started: float, files: bool = False) -> list[Path]:
    """Return the stale scratch folders (or files) of earlier runs writing ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        The output folder (``--out``), or with ``files=True`` the output file.
    started : float
        When this run started (``time.time()``): entries changed since are never stale.
    files : bool
        Look for the temporary files of :func:`write_out_file` (``.NAME.tmp-*`` beside the
        file) instead of folders.

    Returns
    -------
    list of Path
        ``.NAME.tmp-*`` and ``.NAME.old-*`` beside ``out_dir`` and ``.spinestab.tmp-*`` /
        ``.spinestab.old-*`` inside it, stale by the rule of the module docstring.

    """
    out = Path(os.path.abspath(out_dir))
    places = [(out.parent, out.name)] + ([] if files else [(out, "spinestab")])
    now = time.time()
    found = []
    for folder, name in places:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            for tag in _TAGS:
                prefix = f".{name}.{tag}-"
                if not entry.name.startswith(prefix):
                    continue
                owner = _OWNER.match(entry.name[len(prefix) :])
                path = Path(entry.path)
                if owner and _is_stale(path, owner, started=started, now=now, files=files):
                    found.append(path)
    return sorted(found)


def _remove_stale(
    out: Path, *, started: float, keep: Sequence[Path] = (), files: bool = False
) -> None:
    """Remove the stale scratch of killed runs (after this run's result is in place)."""
    for path in stale_scratch(out, started=started, files=files):
        if path in keep:
            continue
        if files:
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
        logger.info("removed %s, left by a run that was killed", path)


def _scratch_folder(out: Path, tag: str) -> Path:
    """Create a scratch folder beside ``out`` (inside it if only ``out`` is writable)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return _sibling(out, tag)
    except OSError as exc:
        if out.is_dir():
            with contextlib.suppress(OSError):
                return _sibling(out / "spinestab", tag)  # out/.spinestab.tmp-...
        raise _cannot_create(out, exc) from None


def _is_owned(name: str, owned: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in owned)


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (replacing a file there); across file systems, move."""
    try:
        os.replace(src, dst)
    except OSError:  # another file system (``--out`` a mount point), or a folder in the way
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        shutil.move(str(src), str(dst))


@contextlib.contextmanager
def atomic_out_dir(
    out_dir: str | Path, *, owned: Sequence[str], manifest: str | None = None
) -> Iterator[Path]:
    """Write a command's outputs into a temporary sibling folder, then put them in place.

    Parameters
    ----------
    out_dir : path-like
        The output folder (``--out``).
    owned : sequence of str
        Names (shell patterns, e.g. ``"qa_*.png"``) of the entries this command writes;
        in an existing folder they are the earlier run's files and are replaced as a
        whole. Everything the command writes must match one of them.
    manifest : str, optional
        The file put in place last (it lists the outputs, so a folder without it is
        visibly incomplete).

    Yields
    ------
    Path
        The empty temporary folder to write into.

    Raises
    ------
    InputError
        ``out_dir`` is a file or cannot be created; the command wrote an entry that is not
        ``owned`` (a programming error, refused so that no user file is ever replaced).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with atomic_out_dir(root / "res", owned=("a.txt",)) as tmp:
    ...     _ = (tmp / "a.txt").write_text("new")
    >>> sorted(p.name for p in root.iterdir()), (root / "res" / "a.txt").read_text()
    (['res'], 'new')
    >>> import shutil
    >>> shutil.rmtree(root)

    """
    out = Path(os.path.abspath(check_out_dir(out_dir)))  # "." has a name and a parent
    started = time.time()
    tmp = _scratch_folder(out, "tmp")
    try:
        yield tmp
        written = sorted(p.name for p in tmp.iterdir())
        stray = [n for n in written if not _is_owned(n, owned)]
        if stray:
            raise InputError(
                "an output is not among the command's own file names",
                value=stray,
                expected=", ".join(owned),
            )
        _commit(tmp, out, written, owned=owned, manifest=manifest)
        _remove_stale(out, started=started, keep=[tmp])
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _commit(
    tmp: Path, out: Path, written: list[str], *, owned: Sequence[str], manifest: str | None
) -> None:
    """Put the complete temporary folder's entries in place (see the module docstring)."""
    if not out.exists():
        os.rename(tmp, out)  # the whole folder at once: atomic
        return
    earlier = [p for p in out.iterdir() if _is_owned(p.name, owned)]
    old = _scratch_folder(out, "old") if earlier else None
    if old is not None:  # the manifest first: from now on the folder looks incomplete
        for path in sorted(earlier, key=lambda p: p.name != manifest):
            os.replace(path, old / path.name)
    for name in sorted(written, key=lambda n: n == manifest):
        _move(tmp / name, out / name)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    logger.debug("wrote %d outputs into %s", len(written), out)


def check_out_file(
    out_file: str | Path,
    *,
    suffixes: Sequence[str] = (),
    expected: str | None = None,
    message: str = "unknown file type",
) -> Path:
    """Check that ``out_file`` can be written as one output file, without writing anything.

    Parameters
    ----------
    out_file : path-like
        The file given as ``--out``.
    suffixes : sequence of str, optional
        The accepted suffixes (lower case, with the dot, e.g. ``(".pdf", ".html")``); any
        when empty.
    expected : str, optional
        How to name the accepted files in the message (default: the suffixes).
    message : str
        What is wrong when the suffix is not accepted.

    Returns
    -------
    Path
        ``out_file`` as a :class:`~pathlib.Path`.

    Raises
    ------
    InputError
        ``out_file`` is a folder, its folder does not exist, or its suffix is not accepted.

    Examples
    --------
    >>> check_out_file("a.docx", suffixes=(".pdf", ".html"))
    Traceback (most recent call last):
    ...
    spinestab.errors.InputError: a.docx: unknown file type (got '.docx'); expected .pdf or .html

    """
    out = Path(out_file)
    if suffixes and out.suffix.lower() not in suffixes:
        raise InputError(
            message,
            source=str(out),
            value=out.suffix,
            expected=expected or " or ".join(suffixes),
        )
    if out.is_dir():
        raise InputError("--out is a folder", source=str(out), expected="a file name")
    if not out.parent.is_dir():
        raise InputError(
            "folder of --out does not exist", source=str(out.parent), expected="an existing folder"
        )
    return out


def write_out_file(out_file: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``out_file`` through a temporary sibling and a rename (never half).

    Parameters
    ----------
    out_file : path-like
        The file to write (checked with :func:`check_out_file`).
    data : bytes or str
        The content; text is written as UTF-8.

    Returns
    -------
    Path
        ``out_file`` as a :class:`~pathlib.Path`.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_out_file(folder / "a.txt", "whole").read_text()
    'whole'
    >>> sorted(p.name for p in folder.iterdir())  # no temporary file left
    ['a.txt']
    >>> shutil.rmtree(folder)

    """
    out = check_out_file(out_file)
    started = time.time()
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = _owned_name(out, "tmp")  # mode 0600, as tempfile.mkstemp made it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _remove_stale(Path(os.path.abspath(out)), started=started, files=True)
    return out
