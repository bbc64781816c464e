"""NIfTI answers of the imaging routes, cached by the browser and checked on every view.

Stored volumes and mask versions never change: each answer carries a strong ``ETag`` (a
hash of the stored bytes and of the variant served, e.g. a cropped mask) and
``Cache-Control: private, no-cache``, so a repeat view revalidates (304, no body) and is
still an audited read.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

__all__ = ["NIFTI", "etag_of", "nifti_response", "not_modified"]

NIFTI = "application/gzip"


def etag_of(data: bytes, variant: str = "") -> str:
    """Return a strong ETag for stored bytes (and a variant of them, e.g. a cropped mask)."""
    return '"' + hashlib.blake2b(data + variant.encode(), digest_size=16).hexdigest() + '"'


def nifti_response(request: Request, data: bytes, etag: str, headers: dict[str, str]) -> Response:
    """Return NIfTI bytes cached by the browser but checked on every view (ETag).

    ``private, no-cache``: the browser keeps the file and asks each time whether it is still
    current (every view is still an audited read); an unchanged file costs a 304 with no
    body. Stored volumes and mask versions never change, so a repeat view always gets one.
    """
    headers = headers | {"ETag": etag, "Cache-Control": "private, no-cache"}
    return not_modified(request, etag, headers) or Response(data, media_type=NIFTI, headers=headers)


def not_modified(
    request: Request, etag: str, headers: dict[str, str] | None = None
) -> Response | None:
    """Return a 304 when the browser's copy (``If-None-Match``) is current, else None."""
    wanted = request.headers.get("if-none-match", "")
    if etag in [tag.strip().removeprefix("W/") for tag in wanted.split(",")]:
        return Response(status_code=304, headers=headers or {"ETag": etag})
    return None
