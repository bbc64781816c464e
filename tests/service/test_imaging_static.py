"""Static files as the viewer loads them: versioned URLs cached for a year, text gzipped.

Independent truths: the bytes on disk (the gzip body decompresses to them, the version is
their SHA-256), and the HTTP rules (a matching If-None-Match is 304 without a body; an old
version is not cached as immutable).
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

from .conftest import login

STATIC = Path(str(resources.files("spinestab.service").joinpath("static")))
NIIVUE = "vendor/niivue/niivue.umd.js"


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_pages_name_static_files_by_their_content(client):
    login(client, "doc")
    urls = _urls(client.get("/login").text)
    assert urls, "the login page links no static file"
    for url in urls:
        path, _, query = url.partition("?v=")
        data = (STATIC / path.removeprefix("/static/")).read_bytes()
        assert query == hashlib.sha256(data).hexdigest()[:16], url


def test_versioned_script_is_cached_gzipped_and_revalidated(client):
    data = (STATIC / NIIVUE).read_bytes()
    version = hashlib.sha256(data).hexdigest()[:16]
    url = f"/static/{NIIVUE}?v={version}"
    got = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200
    assert got.headers["content-encoding"] == "gzip"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "accept-encoding" in got.headers["vary"].lower()
    assert got.content == data  # httpx undoes the gzip: the same bytes as on disk
    assert int(got.headers["content-length"]) < len(data) / 2  # sent compressed
    assert got.headers["content-security-policy"]  # the security headers still apply
    again = client.get(url, headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_plain_and_stale_requests_are_not_immutable(client):
    data = (STATIC / "app.css").read_bytes()
    plain = client.get("/static/app.css", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.content == data
    assert "content-encoding" not in plain.headers
    assert "immutable" not in plain.headers["cache-control"]
    stale = client.get("/static/app.css?v=0123456789abcdef", headers={"Accept-Encoding": "gzip"})
    assert "immutable" not in stale.headers["cache-control"]
    assert stale.headers["content-encoding"] == "gzip" and stale.content == data
    # the gzip and the plain forms are different representations: different ETags
    assert plain.headers["etag"] != stale.headers["etag"]
    assert client.get("/static/missing.js").status_code == 404
