"""Page weight: what the browser downloads for each main page on a first visit, as sent.

Not part of the test suite; run it by hand against a database filled by ``bench.seed`` (the
same pages and people as ``bench.load``) and write the figures down (docs/performance.md):

    LUOTSI_MASTER_KEYS=... LUOTSI_SECRET_KEY=... .venv/bin/python -m bench.weight \\
        --database-url postgresql://postgres@127.0.0.1:5432/luotsi_bench

For each page it asks for the HTML with ``Accept-Encoding: gzip, br`` as a browser does and
then for each style sheet and script the page links, and counts the bytes on the wire (what
the server sent, compressed or not). A later visit takes the static files from the cache
(hashed names, cached for a year), so it costs the HTML alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from bench.load import Target, firm_people, free_port, start, targets

ACCEPT = {"accept-encoding": "gzip, br"}
LINKED = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"')


def weigh(http: httpx.Client, target: Target, base: str) -> tuple[int, int, bool]:
    """The page's HTML and its static files, in bytes on the wire; whether HTML was gzipped."""
    page = http.get(target.url, headers={**target.headers, **ACCEPT})
    if page.status_code != 200:
        raise SystemExit(f"{target.name}: HTTP {page.status_code}")
    html = page.num_bytes_downloaded  # as sent: before httpx decodes it
    assets = 0
    for path in sorted(set(LINKED.findall(page.text))):
        asset = http.get(base + path, headers=ACCEPT)
        assets += asset.num_bytes_downloaded
    return html, assets, page.headers.get("content-encoding") == "gzip"


def run(database_url: str, large: str, small: str) -> str:
    env = {
        **os.environ,
        "LUOTSI_DATABASE_URL": database_url,
        "LUOTSI_LOG_LEVEL": "WARNING",
        "LUOTSI_WORKER_IN_PROCESS": "0",
    }
    port = free_port()
    serve = [str(Path(sys.executable).with_name("luotsi")), "serve", "--port", str(port)]
    server = start(serve, env, port, "/healthz")
    rows = [
        "| page | HTML | static files | first visit | later visits |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        firms = [
            (label, asyncio.run(firm_people(database_url, slug)))
            for label, slug in (("largest firm", large), ("smallest firm", small))
        ]
        with httpx.Client(timeout=60) as http:
            for target in targets(base, base, firms):
                if target.method != "GET" or "bare" in target.name or "htmx" in target.name:
                    continue
                html, assets, gzipped = weigh(http, target, base)
                kind = "gzip" if gzipped else "uncompressed"
                rows.append(
                    f"| {target.name} | {html / 1024:.1f} kB ({kind}) | {assets / 1024:.1f} kB "
                    f"| {(html + assets) / 1024:.1f} kB | {html / 1024:.1f} kB |"
                )
    finally:
        server.terminate()
        server.wait(timeout=60)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("LUOTSI_DATABASE_URL", ""))
    parser.add_argument("--large", default="f0001")
    parser.add_argument("--small", default="f2000")
    args = parser.parse_args()
    print(run(args.database_url, args.large, args.small))


if __name__ == "__main__":
    main()
