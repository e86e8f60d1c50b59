"""Exports: each list as CSV, and the owner's zip of all of the firm's data.

A list's export (``/exports/sessions.csv`` and the others) has every row the list shows with
the same query string (filters, search, order), all pages, for whoever may see the list: a
supervisor's export holds what their list shows. The files are written by
:mod:`luotsi.platform.exports` (Excel in Finnish opens them, formulas are defused) and hold no
content. The owner's zip (:mod:`luotsi.billing.firm_export`) is made by a POST after a
confirmation page, and audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Response, get, post

from luotsi.billing import firm_export
from luotsi.platform import audit, clock, permissions
from luotsi.platform.exports import csv_bytes, csv_day, csv_hours
from luotsi.platform.i18n import gettext as _
from luotsi.tenants import content
from luotsi.tenants.agreements import summaries as agreement_summaries
from luotsi.tenants.clients import organisations, people
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.content.retention import TENANT_OBJECT
from luotsi.tenants.sessions import service as session_service
from luotsi.web.agreements.agreements import agreement_filters, agreement_sort
from luotsi.web.clients.clients import org_filters, people_filters
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_value
from luotsi.web.reauth import require_recent_authentication
from luotsi.web.sessions.sessions import session_filters
from luotsi.web.templating import attachment, render
from luotsi.web.workspace import OPEN_WHEN_READ_ONLY, content_reader, record_in_workspace, requires


def _csv(name: str, table: list[list[object]]) -> Response[bytes]:
    return attachment(csv_bytes(table), "text/csv", f"{name}-{clock.today().isoformat()}.csv")


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


def sessions_table(rows: list[session_service.SessionExportRow]) -> list[list[object]]:
    table: list[list[object]] = [
        [
            _("Date"),
            _("Starts"),
            _("Ends"),
            _("Planned length (h)"),
            _("Held length (h)"),
            _("Meeting"),
            _("Status"),
            _("Late cancellation"),
            _("Billable"),
            _("Remote"),
            _("Organisation"),
            _("Agreement"),
            _("Supervisees"),
            _("Supervisor"),
        ]
    ]
    for row in rows:
        starts = session_service.to_local(row.starts_at)
        ends = starts + timedelta(minutes=row.duration_minutes)
        table.append(
            [
                csv_day(starts.date()),
                f"{starts:%H:%M}",
                f"{ends:%H:%M}",
                csv_hours(row.duration_minutes),
                csv_hours(row.actual_minutes) if row.actual_minutes is not None else "",
                row.kind.label,
                row.status.label,
                _yes(row.late_cancellation),
                _yes(row.billable),
                _yes(row.remote),
                row.org_name,
                row.agreement_title,
                row.supervisees,
                row.supervisor,
            ]
        )
    return table


def agreements_table(rows: list[agreement_summaries.AgreementExportRow]) -> list[list[object]]:
    table: list[list[object]] = [
        [
            _("Organisation"),
            _("Title"),
            _("Kind"),
            _("Status"),
            _("Start"),
            _("End"),
            _("Session length (min)"),
            _("Cadence (weeks)"),
            _("Quota"),
            _("Used"),
            _("Planned"),
            _("Next review"),
            _("Supervisors"),
            _("Supervisees"),
        ]
    ]
    for row in rows:
        table.append(
            [
                row.org_name,
                row.title,
                row.kind.label,
                row.status.label,
                csv_day(row.start_date),
                csv_day(row.end_date),
                row.session_minutes,
                row.cadence_weeks,
                row.session_quota if row.session_quota is not None else "",
                row.used,
                row.planned,
                csv_day(row.review_due_on),
                row.supervisors,
                row.supervisees,
            ]
        )
    return table


def orgs_table(rows: list[organisations.OrgRow]) -> list[list[object]]:
    table: list[list[object]] = [
        [
            _("Name"),
            _("Business ID"),
            _("Type"),
            _("Street address"),
            _("Postal code"),
            _("City"),
            _("Invoice e-mail"),
            _("E-invoice address"),
            _("Payment term (days)"),
            _("People"),
            _("Open agreements"),
            _("Archived"),
        ]
    ]
    for row in rows:
        org = row.org
        table.append(
            [
                org.name,
                org.business_id,
                org.org_type.label,
                org.billing_street,
                org.billing_postal_code,
                org.billing_city,
                org.invoice_email,
                org.einvoice_address,
                org.payment_term_days,
                row.people,
                row.open_agreements,
                csv_day(clock.today(org.archived_at)) if org.archived_at else "",
            ]
        )
    return table


def people_table(rows: list[ClientPerson]) -> list[list[object]]:
    table: list[list[object]] = [
        [
            _("Name"),
            _("Role"),
            _("Organisation"),
            _("Title"),
            _("E-mail"),
            _("Phone"),
            _("Archived"),
        ]
    ]
    for person in rows:
        table.append(
            [
                person.name,
                person.role.label,
                person.org.name,
                person.title,
                person.email,
                person.phone_display,
                csv_day(clock.today(person.archived_at)) if person.archived_at else "",
            ]
        )
    return table


class ExportsController(Controller):
    path = "/exports"

    @get(
        "/sessions.csv",
        name="export_sessions",
        guards=[requires(permissions.can_work_on_agreements)],
    )
    async def sessions(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        rows = await session_service.export_sessions(db, ws.membership, session_filters(request))
        return _csv("sessions", sessions_table(rows))

    @get(
        "/agreements.csv",
        name="export_agreements",
        guards=[requires(permissions.can_work_on_agreements)],
    )
    async def agreements(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        filters, sort = agreement_filters(request, ws), agreement_sort(request)
        rows = await agreement_summaries.export_agreements(db, ws.membership, filters, sort)
        return _csv("agreements", agreements_table(rows))

    @get("/clients.csv", name="export_clients", guards=[requires(permissions.can_view_clients)])
    async def clients(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        filters, sort = org_filters(request)
        rows = await organisations.export_orgs(db, ws.membership, filters, sort)
        return _csv("client-organisations", orgs_table(rows))

    @get("/people.csv", name="export_people", guards=[requires(permissions.can_view_clients)])
    async def people(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        filters, sort = people_filters(request)
        rows = await people.export_people(db, ws.membership, filters, sort)
        return _csv("client-people", people_table(rows))

    @get("/firm", name="confirm_firm_export", guards=[requires(permissions.can_export_firm_data)])
    async def confirm_firm(self, request: Req, db: DB, ws: WS) -> Any:
        require_recent_authentication(request)
        kinds = ["staff", *(name for name, _model in firm_export.KINDS)]
        kept_notes = await content.count_kept_notes(db, ws.membership)
        return render(
            request, "firm/export.html", {"ws": ws, "kinds": kinds, "kept_notes": kept_notes}
        )

    # A read (and an audit row): open in a read-only workspace, a closing firm's above all.
    @post(
        "/firm.zip",
        name="export_firm",
        guards=[requires(permissions.can_export_firm_data)],
        opt=OPEN_WHEN_READ_ONLY,
    )
    async def firm(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        require_recent_authentication(request, ws.url("exports/firm"))
        tables = await firm_export.firm_tables(db, ws.membership)
        own_notes = None
        if await form_value(request, "own_notes") == "yes":
            own_notes = await content.export_kept_notes(db, content_reader(request, ws))
        data = firm_export.firm_zip(ws.tenant, tables, own_notes)
        await record_in_workspace(
            request, db, ws, audit.FIRM_DATA_EXPORTED, TENANT_OBJECT, ws.tenant.id
        )
        name = f"{ws.tenant.slug}-{clock.today().isoformat()}.zip"
        return attachment(data, "application/zip", name)
