"""A photo uploaded through the staff page is kept on the S3-compatible server and served
back through its URL (a real ``luotsi serve`` with ``LUOTSI_STORAGE_URL=s3://…``)."""

from __future__ import annotations

import io
import re

import httpx
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import S3_PREFIX, sign_in
from tests.s3 import BUCKET, S3Server


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (900, 1200), (40, 120, 90)).save(out, format="PNG")
    return out.getvalue()


def _photos(s3: S3Server) -> dict[str, int]:
    """The photo files in the live server's part of the bucket and their sizes (ListObjectsV2)."""
    listed = httpx.get(f"{s3.endpoint}/{BUCKET}", params={"list-type": "2", "prefix": S3_PREFIX})
    listed.raise_for_status()
    found = re.findall(r"<Key>([^<]+)</Key>.*?<Size>(\d+)</Size>", listed.text, re.S)
    return {key: int(size) for key, size in found if "/photos/" in key}


def test_a_photo_uploaded_on_the_page_is_kept_on_s3_and_served_back(
    page: Page, s3_live_server: str, s3_server: S3Server
) -> None:
    base = s3_live_server
    sign_in(page, base)
    expect(page).to_have_url(base + "/t/demo/")
    before = _photos(s3_server)

    page.goto(base + "/t/demo/staff/")
    page.get_by_role("link", name="Aino Ohjaaja").first.click()
    expect(page).to_have_url(re.compile(r"/t/demo/staff/[0-9a-f-]{36}$"))
    page.goto(page.url + "/edit")
    page.set_input_files(
        "#photo-file", files=[{"name": "me.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.get_by_role("button", name="Upload the photo").click()

    portrait = page.locator("#photo img.portrait")
    expect(portrait).to_be_visible()
    # The browser loaded it through the app: a decoded image, shrunk as uploads are.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=portrait.element_handle()
    )
    assert portrait.evaluate("img => Math.max(img.naturalWidth, img.naturalHeight)") == 600
    served = page.request.get(base + str(portrait.get_attribute("src")))
    assert served.status == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.body()[:2] == b"\xff\xd8"
    # The file is in the bucket, not on the server's disk or in its database.
    after = _photos(s3_server)
    [added] = set(after) - set(before)
    assert after[added] == len(served.body())
