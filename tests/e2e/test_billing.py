"""The office finds the overdue invoice of the demo, records its payment and downloads the PDF,
whose first page the browser draws with the bank barcode that reads back as its digits."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from luotsi.billing.barcode import code128_modules
from luotsi.billing.pdf import BAR_HEIGHT_MM, MODULE_MM
from tests.e2e.conftest import sign_in
from tests.e2e.pdfjs import bar_widths, render_first_page

SCALE = 6  # pixels per PDF point: a 0.3 mm module is 5.1 pixels wide
POINTS_PER_MM = 72 / 25.4


def test_an_overdue_invoice_is_paid_and_its_pdf_downloaded(page: Page, live_server: str) -> None:
    base = live_server
    sign_in(page, base)
    expect(page).to_have_url(base + "/t/demo/")

    page.get_by_role("link", name="Billing", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    page.get_by_label("Payment state").select_option("overdue")  # htmx replaces the results
    overdue = page.locator("tr.overdue").filter(has=page.get_by_role("link"))  # not the totals
    expect(overdue.first).to_be_visible()
    expect(page).to_have_url(re.compile(r"state=overdue"))  # pushed by htmx, no reload
    overdue.first.get_by_role("link").first.click()

    expect(page.locator("#payment-state + dl .badge")).to_have_text("Overdue")
    number = re.sub(r"\D", "", page.get_by_role("heading", level=1).inner_text())
    open_text = page.locator("#payment-state + dl dd strong").inner_text()
    amount = re.sub(r"[^0-9.]", "", open_text.replace(",", ""))  # "€1,234.50" -> "1234.50"
    page.get_by_label("Amount (€)").fill(amount)
    page.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("#payment-state + dl .badge")).to_have_text("Paid")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert number and f"Lasku {number}" in text and "FI21 1234 5600 0007 85" in text

    digits = re.findall(r"\b\d{54}\b", text)  # the barcode's digits printed under it
    assert len(digits) == 1 and digits[0][0] in "45"
    image = render_first_page(page, pdf, SCALE)
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01  # an A4 page
    pixels_per_mm = POINTS_PER_MM * SCALE
    bars = bar_widths(image, MODULE_MM * pixels_per_mm, round(BAR_HEIGHT_MM * pixels_per_mm * 0.8))
    assert bars == code128_modules(digits[0])
