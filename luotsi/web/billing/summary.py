"""Sales and VAT per month for the accountant, on a page and as CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, get

from luotsi.billing import summary
from luotsi.billing.lines import vat_rate_label
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import month_range
from luotsi.web.templating import attachment, render
from luotsi.web.workspace import requires


def _months(request: Req) -> tuple[str, str, date, date, dict[str, str]]:
    """The from and to months as asked (this year until this month when not asked)."""
    return month_range(request, date(clock.today().year, 1, 1))


class SummaryController(Controller):
    path = "/billing"
    guards = [requires(permissions.can_manage_billing)]

    @get("/summary", name="billing_summary")
    async def show(self, request: Req, db: DB, ws: WS) -> Any:
        return await _page(request, db, ws)

    @get("/summary.csv", name="billing_summary_csv")
    async def export(self, request: Req, db: DB, ws: WS) -> Any:
        _raw_from, _raw_to, start, end, errors = _months(request)
        if errors:
            return await _page(request, db, ws)  # the page says what is wrong
        try:
            found = await summary.sales_summary(db, ws.membership, start, end)
        except Invalid:
            return await _page(request, db, ws)
        filename = f"sales-{start:%Y-%m}-{end:%Y-%m}.csv"
        return attachment(summary.summary_csv(found), "text/csv", filename)


async def _page(request: Req, db: DB, ws: WS) -> Any:
    raw_from, raw_to, start, end, errors = _months(request)
    found = None
    if not errors:
        try:
            found = await summary.sales_summary(db, ws.membership, start, end)
        except Invalid as exc:
            errors = exc.errors
    context = {
        "ws": ws,
        "raw_from": raw_from,
        "raw_to": raw_to,
        "summary": found,
        "errors": errors,
        "vat_rate_label": vat_rate_label,
    }
    status = 422 if errors else 200
    return render(request, "billing/summary.html", context, status_code=status)
