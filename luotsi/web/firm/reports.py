"""``/t/{slug}/reports/``: the firm's reports for owners and admins, each chart beside its
table. The figures come from :mod:`luotsi.billing.reports`; the charts are drawn here on the
server (:func:`luotsi.web.charts.bars_svg`)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get
from markupsafe import Markup

from luotsi.billing import reports
from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.web.charts import Series, bars_svg
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import month_range, query_text
from luotsi.web.templating import render
from luotsi.web.workspace import requires


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def hours(minutes: int) -> str:
    """Minutes as hours in the reader's language: 90 -> 1,5 h."""
    return _("%(hours)s h") % {"hours": i18n.format_number(round(minutes / 60, 1))}


def month_label(month: Any) -> str:
    return f"{month.month}/{month.year}"


def _charts(report: reports.Report) -> dict[str, Markup]:
    months = [month_label(m.month) for m in report.sessions]
    reviewed = [org for org in report.orgs if org.reviews_overdue or org.reviews_due]
    return {
        "sessions": bars_svg(
            months,
            [
                Series(_("Held"), [m.held for m in report.sessions]),
                Series(_("Cancelled"), [m.cancelled for m in report.sessions]),
                Series(_("Cancelled late"), [m.late_cancelled for m in report.sessions]),
                Series(_("No-show"), [m.no_show for m in report.sessions]),
            ],
            _("Sessions per month"),
        ),
        "hours": bars_svg(
            [h.name for h in report.hours],
            [Series(_("Hours"), [h.minutes for h in report.hours])],
            _("Hours of held sessions per supervisor"),
            hours,
        ),
        "quota": bars_svg(
            [org.name for org in report.orgs],
            [
                Series(_("Quota"), [org.quota for org in report.orgs]),
                Series(_("Used"), [org.used for org in report.orgs]),
                Series(_("Planned"), [org.planned for org in report.orgs]),
            ],
            _("Quota use per client organisation"),
        ),
        "reviews": bars_svg(
            [org.name for org in reviewed],
            [
                Series(_("Overdue"), [org.reviews_overdue for org in reviewed]),
                Series(_("Due within two weeks"), [org.reviews_due for org in reviewed]),
            ],
            _("Reviews due and overdue"),
        ),
        "money": bars_svg(
            [month_label(m.month) for m in report.money],
            [
                Series(_("Invoiced"), [m.invoiced_cents for m in report.money]),
                Series(_("Still open"), [m.open_cents for m in report.money]),
            ],
            _("Revenue and receivables per month"),
            i18n.format_money,
        ),
    }


class ReportsController(Controller):
    path = "/reports"
    guards = [requires(permissions.can_view_reports)]

    @get("/", name="reports")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        raw_from, raw_to, start, end, errors = month_range(request, reports.default_start())
        filters = reports.ReportFilter(
            start,
            end,
            supervisor_id=_uuid(query_text(request, "supervisor")),
            org_id=_uuid(query_text(request, "org")),
        )
        report = None
        if not errors:
            try:
                page = page_number(query_text(request, "page"))
                report = await reports.firm_report(db, ws.membership, filters, agreement_page=page)
            except Invalid as exc:
                errors = exc.errors
        context = {
            "ws": ws,
            "raw_from": raw_from,
            "raw_to": raw_to,
            "filters": filters,
            "report": report,
            "charts": _charts(report) if report else {},
            "errors": errors,
            "hours": hours,
            "month_label": month_label,
            "query": request.query_params,
        }
        return render(request, "firm/reports.html", context, status_code=422 if errors else 200)
