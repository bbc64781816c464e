"""The web app's static files: versioned URLs, long caching and gzip.

Pages name a static file by :func:`static_url` (``/static/PATH?v=VERSION``, the version
being the start of the file's SHA-256). A request carrying the file's current version is
answered ``Cache-Control: public, max-age=31536000, immutable``: a clinician's browser keeps
NiiVue's 2.2 MB script and the app's scripts and styles until spinestab is upgraded (the
version then changes, and so does the URL). A request without a version, or with an old
one, gets the content with an ETag and the app's default caching (the security middleware's
``public, max-age=3600``). Scripts, styles, SVG and JSON are sent gzip-compressed to a
browser that accepts it (compressed once per file and process, deterministic: mtime 0), with
``Vary: Accept-Encoding`` and an ETag of their own; ``If-None-Match`` gets 304.

Compression lives here, in the static mount, not in the middleware chain: API answers
(health data, NIfTI already gzipped) are not touched.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["AppStaticFiles", "static_url"]

#: Suffixes worth compressing (text); images other than SVG are compressed already.
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html", ".txt", ".map"}
#: Smaller files are sent as they are (the gzip header would eat the saving).
MIN_COMPRESS_BYTES = 1024
IMMUTABLE = "public, max-age=31536000, immutable"
VERSION_CHARS = 16


@dataclass(frozen=True)
class StaticEntry:
    """One static file as served: its version and, for text, its gzip form."""

    version: str
    gzipped: bytes | None


@lru_cache(maxsize=256)
def _entry(path: str, mtime_ns: int, size: int) -> StaticEntry:
    """Read, hash and (for text) compress a static file once per content."""
    del mtime_ns, size  # part of the cache key: a changed file is read again
    data = Path(path).read_bytes()
    version = hashlib.sha256(data).hexdigest()[:VERSION_CHARS]
    compress = Path(path).suffix.lower() in COMPRESSIBLE and len(data) >= MIN_COMPRESS_BYTES
    gzipped = gzip.compress(data, compresslevel=6, mtime=0) if compress else None
    if gzipped is not None and len(gzipped) >= len(data):
        gzipped = None
    return StaticEntry(version=version, gzipped=gzipped)


def entry_for(path: str | os.PathLike[str]) -> StaticEntry:
    """Return the :class:`StaticEntry` of a file (cached by path, mtime and size)."""
    info = os.stat(path)
    return _entry(str(path), info.st_mtime_ns, info.st_size)


def _static_root() -> Path:
    return Path(str(resources.files("spinestab.service").joinpath("static")))


def static_url(path: str) -> str:
    """Return the versioned URL of a static file, e.g. ``static_url("app.css")``.

    Raises
    ------
    FileNotFoundError
        When the package has no such static file (a typo in a template fails loudly).

    """
    file = _static_root() / path
    return f"/static/{path}?v={entry_for(file).version}"


def _etag_matches(request: Headers, etag: str) -> bool:
    given = request.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return etag in tags or "*" in tags


def _accepts_gzip(request: Headers) -> bool:
    for part in request.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class AppStaticFiles(StaticFiles):
    """:class:`StaticFiles` with versioned long caching, gzip and ETags of the content."""

    def file_response(
        self,
        full_path: Any,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """Answer one static file (see the module's docstring)."""
        request = Headers(scope=scope)
        entry = _entry(str(full_path), stat_result.st_mtime_ns, stat_result.st_size)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers: dict[str, str] = {}
        if query.get("v") == [entry.version]:
            headers["Cache-Control"] = IMMUTABLE
        zipped = entry.gzipped is not None and _accepts_gzip(request)
        if entry.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        etag = f'"{entry.version}-gz"' if zipped else f'"{entry.version}"'
        headers["ETag"] = etag
        if _etag_matches(request, etag):
            return Response(status_code=304, headers=headers)
        if zipped:
            media_type = FileResponse(full_path, stat_result=stat_result).media_type
            headers["Content-Encoding"] = "gzip"
            return Response(
                entry.gzipped, status_code=status_code, media_type=media_type, headers=headers
            )
        return FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, headers=headers
        )
