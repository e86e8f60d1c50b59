"""Render a PDF's first page to an image in the browser, with pdf.js from the npm registry.

Headless Chromium has no PDF viewer, so the test page loads ``pdfjs-dist`` (a dev dependency in
package.json, installed by ``npm ci``) from ``node_modules`` through Playwright's routing, draws
page 1 on a canvas and hands the PNG back.
"""

from __future__ import annotations

import base64
import mimetypes
from io import BytesIO
from itertools import groupby
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, Route

PDFJS = (Path(__file__).resolve().parents[2] / "node_modules" / "pdfjs-dist").resolve()
ORIGIN = "http://pdfjs.localhost"
PAGE = """<!doctype html><meta charset="utf-8"><canvas id="page"></canvas>
<script type="module">
import * as pdfjs from "/build/pdf.mjs";
pdfjs.GlobalWorkerOptions.workerSrc = "/build/pdf.worker.mjs";
const task = pdfjs.getDocument({url: "/document.pdf", standardFontDataUrl: "/standard_fonts/"});
const doc = await task.promise;
const first = await doc.getPage(1);
const viewport = first.getViewport({scale: SCALE});
const canvas = document.getElementById("page");
canvas.width = viewport.width;
canvas.height = viewport.height;
await first.render({canvas, viewport}).promise;
window.rendered = canvas.toDataURL("image/png");
</script>"""


def render_first_page(page: Page, pdf: bytes, scale: float) -> Image.Image:
    """Page 1 of ``pdf`` drawn by pdf.js at ``scale`` (1 = 72 pixels per inch), in grey."""
    if not (PDFJS / "build" / "pdf.mjs").exists():
        raise FileNotFoundError(f"{PDFJS} is missing: run `npm ci` (make install does)")

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/":
            route.fulfill(body=PAGE.replace("SCALE", str(scale)), content_type="text/html")
        elif path == "/document.pdf":
            route.fulfill(body=pdf, content_type="application/pdf")
        else:
            file = (PDFJS / path.lstrip("/")).resolve()
            if PDFJS not in file.parents or not file.is_file():
                route.fulfill(status=404)
                return
            kind = "text/javascript" if file.suffix == ".mjs" else mimetypes.guess_type(file)[0]
            route.fulfill(body=file.read_bytes(), content_type=kind or "application/octet-stream")

    page.route(ORIGIN + "/**", serve)
    page.goto(ORIGIN + "/")
    page.wait_for_function("window.rendered !== undefined", timeout=20_000)
    data_url = str(page.evaluate("window.rendered"))
    png = base64.b64decode(data_url.split(",", 1)[1])
    return Image.open(BytesIO(png)).convert("L")


def bar_widths(image: Image.Image, module_px: float, bar_px: int) -> str:
    """The modules of the barcode on ``image``, read off the pixels: ``1`` dark, ``0`` light.

    The barcode is the row with the most bars among the rows that stay the same for ``bar_px``
    pixels down (text never does). Each run of dark or light pixels becomes as many modules as
    its width holds (rounded), so the string compares with the modules it was drawn from.
    """
    width, height = image.size
    ink = image.point(lambda value: 1 if value < 128 else 0).tobytes()
    rows = [ink[y * width : (y + 1) * width] for y in range(height)]

    def transitions(y: int) -> int:
        return sum(a != b for a, b in zip(rows[y], rows[y][1:], strict=False))

    bars = [y for y in range(height - bar_px) if rows[y] == rows[y + bar_px] and any(rows[y])]
    dark = [bool(value) for value in rows[max(bars, key=transitions)]]
    first, last = dark.index(True), len(dark) - 1 - dark[::-1].index(True)
    return "".join(
        ("1" if is_dark else "0") * round(len(list(run)) / module_px)
        for is_dark, run in groupby(dark[first : last + 1])
    )
