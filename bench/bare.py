"""The framework's ceiling: a bare Litestar app answering a constant page, served by uvicorn
exactly as ``luotsi serve`` serves Luotsi (one process, no access log). bench/load.py runs it
beside Luotsi in the same run, and every page's rate is reported as a share of this one's."""

from __future__ import annotations

from litestar import Litestar, MediaType, get

PAGE = "<!doctype html><title>ok</title><p>ok</p>"


@get("/", media_type=MediaType.HTML, sync_to_thread=False)
def constant() -> str:
    return PAGE


app = Litestar([constant])
