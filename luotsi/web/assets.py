"""Static files under names that carry a hash of their content, cached for a year.

Pages link ``static_url("luotsi.css")``, which is ``/static/luotsi.<hash>.css``: a browser or
proxy keeps that file for a year without asking again, and a new release, whose file has a new
hash, is a new URL. The plain name (``/static/luotsi.css``) still answers, revalidated on every
use (``no-cache`` with an ETag), for what cannot know the hash (a bookmark, an old e-mail).

The manifest is read once per process from the files shipped with the code: the static files
change only with a release (``luotsi serve`` restarts then).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.datastructures import ETag
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File, Response

STATIC = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Asset:
    name: str  # the plain path under static/, e.g. "vendor/htmx.min.js"
    digest: str  # the first hex digits of the content's SHA-256

    @property
    def hashed(self) -> str:
        path = Path(self.name)
        return str(path.with_name(f"{path.stem}.{self.digest}{path.suffix}"))


@dataclass(frozen=True)
class Manifest:
    by_name: dict[str, Asset]
    by_hashed: dict[str, Asset]


@cache
def manifest() -> Manifest:
    assets = [
        Asset(
            name=path.relative_to(STATIC).as_posix(),
            digest=hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        )
        for path in sorted(STATIC.rglob("*"))
        if path.is_file()
    ]
    return Manifest({a.name: a for a in assets}, {a.hashed: a for a in assets})


def static_url(name: str) -> str:
    """The URL of the static file ``name`` that may be cached for ever (a KeyError for a file
    that does not exist: a template linking one fails in the tests, not in a browser)."""
    return f"/static/{manifest().by_name[name].hashed}"


@get("/static/{path:path}", name="static", include_in_schema=False, sync_to_thread=False)
def static_file(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes] | File:
    wanted = path.lstrip("/")
    files = manifest()
    if (asset := files.by_hashed.get(wanted)) is not None:
        cache_control = IMMUTABLE
    elif (asset := files.by_name.get(wanted)) is not None:
        cache_control = REVALIDATE
    else:
        raise NotFoundException()
    etag = ETag(value=asset.digest)
    if request.headers.get("if-none-match") == etag.to_header():
        return Response(
            b"", status_code=304, headers={"cache-control": cache_control, "etag": etag.to_header()}
        )
    media_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
    return File(
        path=STATIC / asset.name,
        filename=Path(asset.name).name,
        content_disposition_type="inline",
        media_type=media_type,
        headers={"cache-control": cache_control},
        etag=etag,
    )
