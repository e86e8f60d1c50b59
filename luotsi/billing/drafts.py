"""Drafting a period's invoice for one client organisation.

A draft bills what the organisation's agreements earned and nobody has billed yet:

- each **billable session** (held, a no-show, a late cancellation by the client:
  ``SupervisionSession.billable``) of an agreement priced per session whose start falls in the
  period (Helsinki days), one line each at the agreement's price and VAT;
- the fixed price of each agreement priced **per process**, once: in the first run whose period
  ends on or after the agreement's start.

Work already on an issued invoice that stands (:class:`BilledItem`) or on another draft invoice
is left out, so running the same period twice drafts nothing new. Lines are grouped per
agreement (by its start), sessions by date, and written in the organisation's invoice language.
They name the supervisee by initials ("S. K.") unless the firm's profile chooses full names,
and never carry anything said in supervision.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Select, exists, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import BilledItem, Invoice, InvoiceLine, InvoiceStatus
from luotsi.billing.money import line_net_cents
from luotsi.billing.profile import get_profile
from luotsi.platform import clock, i18n, permissions
from luotsi.platform.i18n import ngettext, pgettext
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    Pricing,
)
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession

# Agreements whose fixed price is billed: accepted ones (a draft or one waiting for acceptance
# has not been bought yet).
PROCESS_BILLED_STATUSES = (AgreementStatus.ACTIVE, AgreementStatus.PAUSED, AgreementStatus.ENDED)
# A line names at most this many supervisees; a larger group is named by its agreement.
NAMED_SUPERVISEES = 3


def initials(name: str) -> str:
    """``"Sanna Kivi"`` -> ``"S. K."``; a hyphenated name keeps its hyphen (``"A.-L. K."``)."""
    return " ".join(
        "-".join(f"{part[0].upper()}." for part in word.split("-") if part) for word in name.split()
    )


def _helsinki_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), clock.HELSINKI)


def _on_a_draft_invoice(*conditions: ColumnElement[bool]) -> Exists:
    """Some draft invoice (not a credit note) has a line meeting ``conditions``."""
    return exists(
        select(InvoiceLine.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.status == InvoiceStatus.DRAFT,
            Invoice.kind == DocumentKind.INVOICE,
            *conditions,
        )
    )


def _unbilled_sessions(period_start: date, period_end: date) -> Select[tuple[SupervisionSession]]:
    """Billable sessions of per-session agreements in the period, on no invoice yet."""
    s = SupervisionSession
    return (
        select(s)
        .join(Agreement, Agreement.id == s.agreement_id)
        .where(
            Agreement.pricing == Pricing.PER_SESSION,
            s.billable.is_(True),
            s.starts_at >= _helsinki_midnight(period_start),
            s.starts_at < _helsinki_midnight(period_end + timedelta(days=1)),
            ~exists(select(BilledItem.id).where(BilledItem.session_id == s.id)),
            ~_on_a_draft_invoice(InvoiceLine.session_id == s.id),
        )
    )


def _unbilled_processes(period_end: date) -> Select[tuple[Agreement]]:
    """Agreements priced per process that started by the period's end, on no invoice yet."""
    a = Agreement
    return select(a).where(
        a.pricing == Pricing.PER_PROCESS,
        a.status.in_(PROCESS_BILLED_STATUSES),
        a.start_date <= period_end,
        ~exists(select(BilledItem.id).where(BilledItem.process_agreement_id == a.id)),
        ~_on_a_draft_invoice(InvoiceLine.process.is_(True), InvoiceLine.agreement_id == a.id),
    )


async def billable_org_ids(
    db: AsyncSession, period_start: date, period_end: date
) -> list[uuid.UUID]:
    """The organisations (not archived) with anything to bill for the period, by name."""
    sessions = _unbilled_sessions(period_start, period_end).with_only_columns(
        Agreement.org_id, maintain_column_froms=True
    )
    processes = _unbilled_processes(period_end).with_only_columns(
        Agreement.org_id, maintain_column_froms=True
    )
    billable = union(sessions, processes).subquery()
    rows = await db.scalars(
        select(ClientOrg.id)
        .where(ClientOrg.id.in_(select(billable.c.org_id)), ClientOrg.archived_at.is_(None))
        .order_by(ClientOrg.name, ClientOrg.id)
    )
    return list(rows)


def _meeting_word(session: SupervisionSession, agreement: Agreement) -> str:
    """What a session's line calls the meeting, in the current language."""
    if session.kind is MeetingKind.EVALUATION:
        return pgettext("invoice line", "Evaluation meeting")
    if session.kind is MeetingKind.REVIEW:
        return pgettext("invoice line", "Review meeting")
    if agreement.kind is SupervisionKind.MEDIATION:
        return pgettext("invoice line", "Workplace mediation")
    return pgettext("invoice line", "Supervision")


def _why_billed(session: SupervisionSession) -> str:
    """Why a session that was not held is billed, or nothing for a held one."""
    if session.status is SessionStatus.NO_SHOW:
        return pgettext("invoice line", "no-show")
    if session.status is SessionStatus.CANCELLED_BY_CLIENT:
        return pgettext("invoice line", "late cancellation")
    return ""


def _who(agreement: Agreement, full_names: bool) -> str:
    """The agreement's supervisees as a line names them: initials unless ``full_names``."""
    names = sorted(s.person.name for s in agreement.supervisees)
    if len(names) > NAMED_SUPERVISEES:
        return agreement.title or i18n.interpolate(
            ngettext("%(n)d supervisee", "%(n)d supervisees", len(names)), {"n": len(names)}
        )
    return ", ".join(name if full_names else initials(name) for name in names)


def _describe(*parts: str) -> str:
    """A line's description from its non-empty parts, within the column's 300 characters."""
    text = ", ".join(part for part in parts if part)
    return text if len(text) <= 300 else text[:299] + "…"


def _session_line(
    session: SupervisionSession, agreement: Agreement, full_names: bool
) -> InvoiceLine:
    day = clock.today(session.starts_at)
    what = f"{_meeting_word(session, agreement)} {i18n.format_date(day)}"
    return InvoiceLine(
        agreement_id=agreement.id,
        session_id=session.id,
        day=day,
        description=_describe(what, _who(agreement, full_names), _why_billed(session)),
        quantity=Decimal(1),
        unit=pgettext("invoice line", "pcs"),
        unit_cents=agreement.price_cents,
        net_cents=line_net_cents(Decimal(1), agreement.price_cents),
        vat_basis_points=agreement.vat_basis_points,
        minutes=session.actual_minutes or session.duration_minutes,
    )


def _process_line(agreement: Agreement, full_names: bool) -> InvoiceLine:
    what = pgettext("invoice line", "%(kind)s %(start)s–%(end)s, fixed price") % {
        "kind": agreement.kind.label,
        "start": i18n.format_date(agreement.start_date),
        "end": i18n.format_date(agreement.end_date),
    }
    return InvoiceLine(
        agreement_id=agreement.id,
        process=True,
        description=_describe(what, _who(agreement, full_names)),
        quantity=Decimal(1),
        unit=pgettext("invoice line", "pcs"),
        unit_cents=agreement.price_cents,
        net_cents=line_net_cents(Decimal(1), agreement.price_cents),
        vat_basis_points=agreement.vat_basis_points,
    )


async def draft_for_org(
    db: AsyncSession,
    actor: Membership | None,
    org_id: uuid.UUID,
    period_start: date,
    period_end: date,
    run_id: uuid.UUID | None = None,
) -> Invoice | None:
    """Draft one invoice to organisation ``org_id`` for the period (days inclusive).

    ``actor`` is the office member drafting it, or None for an invoice run (the worker, the
    command line). Returns None, and writes nothing, when there is nothing to bill or the
    organisation is archived.
    """
    if actor is not None:
        require(permissions.can_manage_billing(actor), "billing")
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == org_id))
    if org is None or org.archived_at is not None:
        return None
    supervisees = selectinload(Agreement.supervisees).joinedload(AgreementSupervisee.person)
    sessions = list(
        await db.scalars(
            _unbilled_sessions(period_start, period_end)
            .where(Agreement.org_id == org_id)
            .order_by(SupervisionSession.starts_at, SupervisionSession.id)
        )
    )
    processes = list(
        await db.scalars(
            _unbilled_processes(period_end).where(Agreement.org_id == org_id).options(supervisees)
        )
    )
    if not sessions and not processes:
        return None
    agreements = {a.id: a for a in processes}
    session_ids = {s.agreement_id for s in sessions} - agreements.keys()
    if session_ids:
        agreements.update(
            (a.id, a)
            for a in await db.scalars(
                select(Agreement).where(Agreement.id.in_(session_ids)).options(supervisees)
            )
        )
    by_agreement: dict[uuid.UUID, list[SupervisionSession]] = defaultdict(list)
    for session in sessions:
        by_agreement[session.agreement_id].append(session)
    full_names = (await get_profile(db)).full_names_on_lines
    lines: list[InvoiceLine] = []
    with i18n.language(org.invoice_language):
        language = i18n.current_language()
        for agreement in sorted(
            agreements.values(), key=lambda a: (a.start_date, a.title, str(a.id))
        ):
            if agreement.pricing is Pricing.PER_PROCESS:
                lines.append(_process_line(agreement, full_names))
            lines.extend(
                _session_line(session, agreement, full_names)
                for session in by_agreement[agreement.id]
            )
    invoice = Invoice(
        org_id=org.id,
        run_id=run_id,
        language=language,
        period_start=period_start,
        period_end=period_end,
        created_by=actor.id if actor else None,
    )
    db.add(invoice)
    await db.flush()
    for position, line in enumerate(lines):
        line.invoice_id, line.position = invoice.id, position
    db.add_all(lines)
    await db.flush()
    return invoice
