"""Uploads: size limits per kind and content sniffing before a file enters the record.

A file is accepted for a kind only when its first bytes are one of the formats the
analysis of that kind reads (OWASP ASVS 12.1-12.2: size limits, content checked, never
trusting the name or the declared type):

=============  ==================================================================
kind           formats (how they are recognised)
=============  ==================================================================
``mri``        NIfTI-1/2 (``sizeof_hdr`` and magic; gzip-compressed read inside),
               DICOM (``DICM`` at byte 128), a ZIP of a DICOM series
``mask``       NIfTI, DICOM (e.g. DICOM-SEG), a ZIP of DICOM files
``radiograph`` DICOM, PNG, JPEG
``landmarks``  UTF-8 text (JSON or CSV)
``wearable``   Axivity CWA (``MD`` block), GENEActiv BIN (text header), ActiGraph GT3X
               (a ZIP), CSV text (gzip-compressed too), NumPy ``.npy``/``.npz``
=============  ==================================================================

The stored name gets the suffix of the format found (``scan`` sent as a gzip NIfTI is
stored as ``scan.nii.gz``), because the readers go by the suffix.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from spinestab.record import UPLOAD_KINDS
from spinestab.service import records

if TYPE_CHECKING:
    from spinestab.service.deps import AppState

__all__ = ["KIND_LIMITS_MB", "Sniffed", "sniff", "store_upload"]

#: Largest upload per kind (MiB) [D]; ``SPINESTAB_MAX_UPLOAD_MB`` caps them all.
KIND_LIMITS_MB = {"mri": 512, "mask": 128, "radiograph": 64, "landmarks": 1, "wearable": 512}
_HEAD = 4096


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file are: a format name and the suffix its readers need."""

    format: str
    suffixes: tuple[str, ...]


_ORDERS: tuple[Literal["little", "big"], ...] = ("little", "big")


def _nifti(head: bytes) -> bool:
    if len(head) >= 348:
        for order in _ORDERS:
            if int.from_bytes(head[0:4], order) == 348 and head[344:348] in (b"n+1\0", b"ni1\0"):
                return True
    if len(head) >= 540:
        for order in _ORDERS:
            if int.from_bytes(head[0:4], order) == 540 and head[4:8] in (b"n+2\0", b"ni2\0"):
                return True
    return False


def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
    except zlib.error:
        return b""


def _text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end is fine
        return exc.start >= len(head) - 3
    return True


def _gzip_formats(head: bytes) -> list[Sniffed]:
    """Return a gzip file's format from the start of its content (NIfTI or text)."""
    if head[:2] != b"\x1f\x8b":
        return []
    inner = _gunzip_head(head)
    if _nifti(inner):
        return [Sniffed("nifti", (".nii.gz",))]
    if inner and _text(inner[:512]):
        return [Sniffed("csv-gz", (".csv.gz",))]
    return []


#: Formats told by their magic bytes: (format, suffixes, test of the first bytes).
_MAGIC: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("dicom", (".dcm",), lambda h: len(h) >= 132 and h[128:132] == b"DICM"),
    ("zip", (".zip", ".gt3x"), lambda h: h[:4] == b"PK\x03\x04"),
    ("png", (".png",), lambda h: h[:8] == b"\x89PNG\r\n\x1a\n"),
    ("jpeg", (".jpg", ".jpeg"), lambda h: h[:3] == b"\xff\xd8\xff"),
    ("cwa", (".cwa",), lambda h: h[:2] == b"MD" and len(h) >= 4),
    ("npy", (".npy",), lambda h: h[:6] == b"\x93NUMPY"),
)


def _formats(head: bytes) -> list[Sniffed]:
    """Every format the first bytes fit."""
    found = [Sniffed("nifti", (".nii",))] if _nifti(head) else []
    found += _gzip_formats(head)
    found += [Sniffed(name, suffixes) for name, suffixes, test in _MAGIC if test(head)]
    if head.lstrip().startswith(b"Device Identity"):
        found.append(Sniffed("geneactiv", (".bin",)))
    elif _text(head):
        found.append(Sniffed("text", (".json", ".csv", ".txt")))
    return found


#: Formats each kind accepts.
KIND_FORMATS = {
    "mri": ("nifti", "dicom", "zip"),
    "mask": ("nifti", "dicom", "zip"),
    "radiograph": ("dicom", "png", "jpeg"),
    "landmarks": ("text",),
    "wearable": ("cwa", "geneactiv", "zip", "text", "csv-gz", "npy"),
}


def sniff(kind: str, head: bytes, name: str = "") -> Sniffed | None:
    """Return the format of a file of ``kind`` from its first bytes, or None if not one.

    A ZIP sent as a wearable file is an ActiGraph GT3X, or a NumPy ``.npz`` when so named.
    """
    allowed = KIND_FORMATS.get(kind, ())
    for found in _formats(head):
        if found.format not in allowed:
            continue
        if found.format == "zip" and kind == "wearable":
            if name.lower().endswith(".npz"):
                return Sniffed("npz", (".npz",))
            return Sniffed("gt3x", (".gt3x",))
        if found.format == "zip":
            return Sniffed("zip", (".zip",))
        return found
    return None


def stored_name(name: str, found: Sniffed) -> str:
    """Return the upload's name with a suffix its format's readers accept."""
    base = (name or "upload").strip() or "upload"
    lower = base.lower()
    if any(lower.endswith(s) for s in found.suffixes):
        return base
    if found.format == "text" and lower.endswith((".yaml", ".yml")):
        return base
    return base + found.suffixes[0]


def kind_limit_bytes(kind: str, max_upload_mb: int) -> int:
    """Largest accepted size of an upload of ``kind`` (bytes)."""
    return min(KIND_LIMITS_MB.get(kind, max_upload_mb), max_upload_mb) * 1024 * 1024


def check_upload(kind: str, name: str, head: bytes, size: int, *, max_upload_mb: int) -> str:
    """Check an upload's kind, size and content; return the name to store it under.

    Raises
    ------
    HTTPException
        422 unknown kind or an empty file, 413 too large, 415 content that is not one of
        the kind's formats.

    """
    if kind not in UPLOAD_KINDS:
        raise HTTPException(
            422, f"unknown upload kind {kind[:32]!r}; expected one of {', '.join(UPLOAD_KINDS)}"
        )
    limit = kind_limit_bytes(kind, max_upload_mb)
    if size <= 0:
        raise HTTPException(422, "the file is empty")
    if size > limit:
        raise HTTPException(
            413, f"file too large for kind {kind}: {size} bytes, at most {limit} bytes"
        )
    found = sniff(kind, head, name)
    if found is None:
        raise HTTPException(
            415,
            f"the file's content is not a {kind} file; expected "
            + ", ".join(KIND_FORMATS[kind]).replace("zip", "ZIP"),
        )
    return stored_name(name, found)


async def store_upload(
    state: AppState, user: Any, pseudonym: str, *, kind: str, upload: UploadFile
) -> dict[str, Any]:
    """Check an uploaded file and store it in the patient's record; return it (``id``)."""
    handle = upload.file
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    head = handle.read(_HEAD)
    handle.seek(0)
    name = check_upload(
        kind,
        upload.filename or "upload",
        head,
        size,
        max_upload_mb=state.settings.max_upload_mb,
    )
    return await run_in_threadpool(
        records.save_upload,
        state.record,
        user,
        pseudonym,
        handle,
        kind=kind,
        name=name,
        media_type=None,
    )
