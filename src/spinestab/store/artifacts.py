"""The artifact store: files addressed by the SHA-256 of their bytes.

Input and output files of the record (MRI and masks, landmark files, accelerometer files,
QA pictures, tables, questionnaire files) live here, under the data folder, and the
database names them by hash. :class:`ArtifactStore` is the interface (``put``, ``get``,
``open``, ``exists``, ``local_path``); :class:`FileArtifactStore` keeps them on the local
disk, and an object store (S3, MinIO...) can implement the same five methods later.

Writes are atomic (a temporary file in the same folder, ``fsync``, then a rename), files
are 0600 and folders 0700, and a file's name is its hash: the same bytes are stored once,
and a reader never sees a half-written file. A file written by a transaction that then
rolls back stays as an unreferenced orphan (harmless; :meth:`FileArtifactStore.orphans`
lists them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from spinestab.errors import InputError, NotFoundError

__all__ = ["ArtifactRef", "ArtifactStore", "FileArtifactStore", "sha256_file"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtifactRef:
    """A stored file: its SHA-256 (hex) and size in bytes."""

    sha256: str
    size_bytes: int


def sha256_file(path: str | Path) -> ArtifactRef:
    """Hash a file in 1 MiB chunks (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return ArtifactRef(digest.hexdigest(), size)


class ArtifactStore(Protocol):
    """What the record needs from a store of files addressed by SHA-256."""

    def put(self, data: bytes | BinaryIO | Path) -> ArtifactRef:
        """Store bytes, a binary stream or a local file; return its reference."""
        ...

    def get(self, sha256: str) -> bytes:
        """Return the stored bytes (raises NotFoundError)."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """Open the stored file for reading (raises NotFoundError)."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the file is stored."""
        ...

    def local_path(self, sha256: str) -> contextlib.AbstractContextManager[Path]:
        """Give a local file path holding the bytes, for readers that need a path."""
        ...


def _check_hash(sha256: str) -> str:
    if not isinstance(sha256, str) or not _HEX64.match(sha256):
        raise InputError(
            "not a SHA-256 artifact id", item="sha256", expected="64 lower-case hex digits"
        )
    return sha256


class FileArtifactStore:
    """Artifacts on the local disk: ``ROOT/ab/cd/abcd...`` (the hash as path).

    Parameters
    ----------
    root : Path
        The folder (created 0700 if missing), normally ``DATA_DIR/artifacts``.

    """

    def __init__(self, root: str | Path) -> None:
        from spinestab.store.db import private_dir

        self.root = private_dir(Path(root))

    def _path(self, sha256: str) -> Path:
        _check_hash(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _commit(self, tmp: Path, digest: str) -> None:
        from spinestab.store.db import private_dir

        target = self._path(digest)
        private_dir(target.parent)
        if target.exists():
            tmp.unlink()
            return
        os.replace(tmp, target)

    def put(self, data: bytes | BinaryIO | Path) -> ArtifactRef:
        """Store ``data`` (bytes, a binary stream read in chunks, or a local file path)."""
        digest = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(prefix=".put-", dir=self.root)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    chunk = bytes(data)
                    digest.update(chunk)
                    out.write(chunk)
                    size = len(chunk)
                else:
                    with contextlib.ExitStack() as stack:
                        stream = (
                            stack.enter_context(Path(data).open("rb"))
                            if isinstance(data, str | Path)
                            else data
                        )
                        while chunk := stream.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            ref = ArtifactRef(digest.hexdigest(), size)
            self._commit(tmp, ref.sha256)
            return ref
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def exists(self, sha256: str) -> bool:
        """Whether ``sha256`` is stored."""
        return self._path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored file for reading."""
        path = self._path(sha256)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise NotFoundError(
                "artifact missing from the artifact store", item="sha256", value=sha256
            ) from None

    def get(self, sha256: str) -> bytes:
        """Return a stored file's bytes."""
        with self.open(sha256) as handle:
            return handle.read()

    @contextlib.contextmanager
    def local_path(self, sha256: str) -> Iterator[Path]:
        """Give the stored file itself (read-only use)."""
        path = self._path(sha256)
        if not path.is_file():
            raise NotFoundError(
                "artifact missing from the artifact store", item="sha256", value=sha256
            )
        yield path

    def verify(self, sha256: str) -> bool:
        """Whether the stored bytes still hash to their name."""
        path = self._path(sha256)
        return path.is_file() and sha256_file(path).sha256 == sha256

    def stored(self) -> Iterator[str]:
        """Every stored hash."""
        for path in self.root.glob("??/??/*"):
            if _HEX64.match(path.name):
                yield path.name

    def orphans(self, referenced: Iterable[str]) -> list[str]:
        """Return the stored hashes not in ``referenced`` (e.g. from rolled-back writes)."""
        known = set(referenced)
        return sorted(h for h in self.stored() if h not in known)
