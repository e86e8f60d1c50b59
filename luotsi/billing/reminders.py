"""Payment reminders for overdue invoices: sent by the worker, or by hand.

The worker's job (:func:`send_payment_reminders`) reminds of an invoice that still has an open
balance a week after its due date, again two weeks after that, and then no more: what is still
unpaid after two reminders is the firm's to handle in person. A reminder goes to the client
organisation's invoicing address in the invoice's language, and records a :class:`Reminder`
with the fee the firm's profile asks, in the same transaction as the e-mail is queued.

The e-mail names the invoice only by its number, dates, sums, reference and IBAN: never its
lines (which name supervisees and sessions). When the firm's clients can pay by card, it carries
the same "Pay by card" link as the invoice's own e-mail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.models import Invoice, Reminder
from luotsi.billing.payments import Balance, InvoiceState, balance_columns, balance_of
from luotsi.billing.profile import get_profile
from luotsi.billing.references import formatted
from luotsi.billing.subscription import connect
from luotsi.platform import clock, i18n, permissions
from luotsi.platform.db import TENANT_KEY
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.jobs import JobContext, claimed, scheduled
from luotsi.platform.notifications import Notification, NotificationKind, notify, words_of
from luotsi.platform.permissions import require
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.agreements.service import queue_firm_email
from luotsi.tenants.clients.models import ClientOrg

FIRST_AFTER_DAYS = 7  # days past the due date
# Who is notified of an overdue invoice: those who may manage billing.
BILLING_MANAGERS = (Role.OWNER, Role.ADMIN)
AGAIN_AFTER_DAYS = 14  # days after the previous reminder
MAX_REMINDERS = 2  # by the worker; a reminder sent by hand counts too


@dataclass(frozen=True)
class _Due:
    invoice: Invoice
    to: str
    open_cents: int


def _address(invoice: Invoice, org_email: str) -> str:
    """The organisation's invoicing address now, or as the invoice was issued to."""
    return org_email or (invoice.buyer or {}).get("email", "")


async def _remind(
    db: AsyncSession,
    settings: Settings,
    tenant: Tenant,
    invoice: Invoice,
    to: str,
    open_cents: int,
    fee: int,
    on: date,
) -> Reminder:
    """Queue the reminder e-mail and record it, in the caller's transaction.

    Like the invoice's own e-mail, it offers "Pay by card" when the firm takes cards.
    """
    pay_link = await connect.email_pay_link(db, settings, tenant.id, invoice.id)
    language = invoice.language if invoice.language in i18n.LANGUAGES else "fi"
    with i18n.language(language):
        open_text, fee_text = i18n.format_money(open_cents), i18n.format_money(fee)
        total_text = i18n.format_money(open_cents + fee)
    seller = invoice.seller or {}
    queue_firm_email(
        db,
        tenant,
        "payment_reminder",
        to,
        language,
        number=invoice.number,
        issued=invoice.issued_on,
        due=invoice.due_on,
        open=open_text,
        fee=fee_text if fee else "",
        total=total_text,
        reference=formatted(invoice.reference),
        iban=seller.get("iban", ""),
        bic=seller.get("bic", ""),
        seller=seller.get("name", "") or tenant.name,
        contact=seller.get("email", ""),
        pay_link=pay_link,
    )
    reminder = Reminder(invoice_id=invoice.id, sent_on=on, fee_cents=fee, sent_to=to)
    db.add(reminder)
    return reminder


async def _notify_overdue(job: JobContext, today: date) -> None:
    """Notify the billing managers of each invoice that fell overdue, once per invoice (its
    id is the notification's subject)."""
    db = job.db
    query = (
        select(Invoice.id, Invoice.number, Invoice.due_on, ClientOrg.name)
        .join(ClientOrg, ClientOrg.id == Invoice.org_id)
        .where(balance_columns(today).state == InvoiceState.OVERDUE.value)
    )
    overdue = list((await db.execute(query)).tuples())
    if not overdue:
        return
    notified = set(
        await db.scalars(
            select(Notification.subject).where(
                Notification.kind == NotificationKind.INVOICE_OVERDUE.value,
                Notification.subject.in_([str(row[0]) for row in overdue]),
            )
        )
    )
    managers = list(
        await db.scalars(select(Membership.id).where(Membership.role.in_(BILLING_MANAGERS)))
    )
    fresh = [row for row in overdue if str(row[0]) not in notified]
    for invoice_id, number, due_on, organisation in fresh:
        assert due_on is not None  # an overdue invoice was issued with a due date
        await notify(
            db,
            job.tenant,
            managers,
            NotificationKind.INVOICE_OVERDUE,
            f"billing/invoices/{invoice_id}",
            words_of(number=str(number), organisation=organisation, due=due_on),
            base_url=job.settings.base_url,
            subject=str(invoice_id),
        )


@scheduled("payment_reminders", 3600)
async def send_payment_reminders(job: JobContext) -> int:
    """Remind of each overdue invoice a week past due, again two weeks later, at most twice;
    the billing managers are notified of each invoice once, when it falls overdue.

    Only invoices with an open balance and an invoicing e-mail address are reminded of.
    Returns how many reminders were queued (a notice is done once, and due again never).
    """
    db, today = job.db, clock.today(job.now)
    await _notify_overdue(job, today)
    sent = (
        select(
            Reminder.invoice_id,
            func.count().label("count"),
            func.max(Reminder.sent_on).label("last"),
        )
        .group_by(Reminder.invoice_id)
        .subquery("sent")
    )
    balance = balance_columns(today)
    query = (
        select(Invoice, ClientOrg.invoice_email, balance.open_cents)
        .join(ClientOrg, ClientOrg.id == Invoice.org_id)
        .outerjoin(sent, sent.c.invoice_id == Invoice.id)
        .where(
            balance.state == InvoiceState.OVERDUE.value,
            Invoice.due_on <= today - timedelta(days=FIRST_AFTER_DAYS),
            func.coalesce(sent.c.count, 0) < MAX_REMINDERS,
            or_(sent.c.last.is_(None), sent.c.last <= today - timedelta(days=AGAIN_AFTER_DAYS)),
        )
        .order_by(Invoice.number)
    )
    due = [
        _Due(invoice, _address(invoice, org_email), int(open_cents))
        for invoice, org_email, open_cents in (
            await db.execute(claimed(db, query, Invoice))
        ).tuples()
    ]
    due = [d for d in due if d.to]
    if not due:
        return 0
    fee = (await get_profile(db)).reminder_fee_cents
    for d in due:
        await _remind(db, job.settings, job.tenant, d.invoice, d.to, d.open_cents, fee, today)
    await db.flush()
    return len(due)


async def reminders_of(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID
) -> list[Reminder]:
    """The reminders sent of an invoice, oldest first."""
    require(permissions.can_manage_billing(actor), "billing")
    rows = await db.scalars(
        select(Reminder).where(Reminder.invoice_id == invoice_id).order_by(Reminder.sent_on)
    )
    return list(rows)


async def send_reminder(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID, settings: Settings
) -> Reminder:
    """Send a payment reminder of an overdue invoice now (the office's button)."""
    require(permissions.can_manage_billing(actor), "billing")
    row = (
        await db.execute(
            select(Invoice, ClientOrg.invoice_email)
            .join(ClientOrg, ClientOrg.id == Invoice.org_id)
            .where(Invoice.id == invoice_id)
        )
    ).first()
    if row is None:
        raise NotFound("invoice")
    invoice, org_email = row
    today = clock.today()
    balance: Balance = await balance_of(db, invoice.id, today)
    if balance.state is not InvoiceState.OVERDUE:
        raise Invalid.field(
            "invoice", _("Only an overdue invoice with an open balance is reminded of.")
        )
    to = _address(invoice, org_email)
    if not to:
        raise Invalid.field(
            "invoice", _("The organisation has no invoicing e-mail address to send a reminder to.")
        )
    already = await db.scalar(
        select(func.count())
        .select_from(Reminder)
        .where(Reminder.invoice_id == invoice.id, Reminder.sent_on == today)
    )
    if already:
        raise Invalid.field("invoice", _("A reminder of this invoice was already sent today."))
    tenant = await db.get_one(Tenant, db.info[TENANT_KEY])
    fee = (await get_profile(db)).reminder_fee_cents
    reminder = await _remind(db, settings, tenant, invoice, to, balance.open_cents, fee, today)
    await db.flush()
    return reminder
