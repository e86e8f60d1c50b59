"""Closing a firm's account: a grace period, the erasure, and the invoices kept for bookkeeping.

The owner asks to close the firm (:func:`request_closure`) after typing its name or address.
For ``LUOTSI_CLOSURE_GRACE_DAYS`` (30) the workspace is read-only for staff (the same wall as
a plan that ended, :mod:`luotsi.web.workspace`), exports still work and the owner may keep the
account (:func:`cancel_closure`). Every member is told by e-mail both times.

Then the ``firm_closures`` platform job erases the firm (:func:`erase_firm`): every row of
every firm table (content, people, sessions, agreements, memberships, notifications ...) and
the stored files, except what bookkeeping needs: the issued invoices and credit notes with
their lines, payments and reminder fees, and the client organisations they were sent to. The
invoices keep the seller's and buyer's details as they stood (their ``seller`` and ``buyer``),
so nothing else is needed to read them. Those are erased by the same job once
``LUOTSI_BOOKKEEPING_YEARS`` (10) have passed from the end of the financial year of the
invoice (the calendar year of its date: Luotsi knows no other financial year), an invoice
together with the credit notes that correct it (:func:`erase_kept_records`).

The tenant row stays as a tombstone (status ``closed``, no name, business ID or address), so
that its slug is never given to another firm: links, calendar feeds and e-mails already out
there lead to nobody rather than to a stranger. User accounts are global and stay: a person
may belong to other firms, or sign up again; closing a firm removes their membership only.
The audit log is not erased with the firm: it keeps its own retention
(``LUOTSI_AUDIT_RETENTION_DAYS``) and holds no content.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.models import (
    BillingProfile,
    Delivery,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    Reminder,
)
from luotsi.billing.subscription.models import Subscription, SubscriptionPayment
from luotsi.billing.subscription.sync import is_live
from luotsi.platform import audit, clock, i18n, permissions
from luotsi.platform.db import Base, TenantScoped, tenant_session, unscoped_session
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.jobs import PlatformJobContext, scheduled_platform
from luotsi.platform.mail import render_email
from luotsi.platform.members import record_member_action
from luotsi.platform.outbox import OutboxMessage, enqueue_email
from luotsi.platform.settings import Settings
from luotsi.platform.storage import FileStore, make_file_store
from luotsi.platform.tenancy import (
    TENANT_OBJECT,
    Membership,
    Tenant,
    TenantStatus,
    active_member,
)
from luotsi.tenants.agreements.models import AgreementDocument
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.directory.models import StaffProfile

log = structlog.get_logger(__name__)

CLOSURE_JOB = "firm_closures"
# A firm the platform suspended meanwhile is erased all the same: its owner asked for it.
OPEN_STATUSES = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)
# What bookkeeping needs, kept past the erasure (with the organisations invoices name).
KEPT_TABLES = frozenset(
    {"invoices", "invoice_lines", "payments", "invoice_reminders", "subscription_payments"}
)


@dataclass
class ClosureForm:
    confirmation: str = ""


def erases_at(settings: Settings, tenant: Tenant) -> datetime | None:
    """When a firm whose owner asked to close it will be erased (None: not closing)."""
    if tenant.closure_requested_at is None:
        return None
    return tenant.closure_requested_at + timedelta(days=settings.retention.closure_grace_days)


def kept_until(settings: Settings, issued_on: date) -> date:
    """The last day an invoice of ``issued_on`` is kept: the end of its financial year plus
    the bookkeeping period."""
    return date(issued_on.year + settings.retention.bookkeeping_years, 12, 31)


async def _firm(db: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await db.scalar(select(Tenant).where(Tenant.id == tenant_id))
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def _email_members(
    db: AsyncSession,
    tenant: Tenant,
    template: str,
    erases_at: datetime | None = None,
    **context: Any,
) -> None:
    """One e-mail to every active member of the firm, in their own language."""
    users = await db.scalars(
        select(User).join(Membership, Membership.user_id == User.id).where(active_member())
    )
    for user in users:
        with i18n.language(user.locale):
            erases_on = i18n.format_date(clock.today(erases_at)) if erases_at else ""
        message = render_email(
            template,
            user.email,
            user.locale,
            name=user.name,
            firm=tenant.name,
            erases_on=erases_on,
            **context,
        )
        enqueue_email(db, message, tenant_id=tenant.id)


async def request_closure(
    db: AsyncSession,
    actor: Membership,
    settings: Settings,
    form: ClosureForm,
    *,
    origin: audit.Origin | None = None,
) -> Tenant:
    """Start closing the firm (the owner only): the confirmation must be the firm's name or its
    address (slug). The grace period starts now; members are told, the request is audited, and
    the owner's address is kept for the confirmations that follow."""
    permissions.require(permissions.can_close_firm(actor), "close the firm")
    tenant = await _firm(db, actor.tenant_id)
    if tenant.closure_requested_at is not None:
        return tenant
    typed = " ".join(form.confirmation.split()).casefold()
    if not typed or typed not in (tenant.name.casefold(), tenant.slug.casefold()):
        raise Invalid.field(
            "confirmation", _("Type the firm's name or its address exactly as shown above.")
        )
    if settings.subscriptions_enabled:
        subscription = await db.get(Subscription, tenant.id)
        if is_live(subscription) and not (subscription and subscription.cancel_at_period_end):
            raise Invalid.field(
                "confirmation",
                _("Cancel the firm's subscription to Luotsi first, on the subscription page."),
            )
    owner = await db.scalar(select(User).where(User.id == actor.user_id))
    if owner is None:
        raise NotFound("user")
    tenant.closure_requested_at = clock.now()
    tenant.closure_contact = owner.email
    tenant.closure_language = owner.locale
    await db.flush()
    await _email_members(
        db,
        tenant,
        "firm_closing",
        erases_at=erases_at(settings, tenant),
        link=f"{settings.base_url}/t/{tenant.slug}/",
    )
    await record_member_action(
        db,
        actor,
        audit.FIRM_CLOSURE_REQUESTED,
        object_type=TENANT_OBJECT,
        object_id=tenant.id,
        origin=origin,
    )
    return tenant


async def cancel_closure(
    db: AsyncSession,
    actor: Membership,
    settings: Settings,
    *,
    origin: audit.Origin | None = None,
) -> Tenant:
    """Keep the firm's account (the owner, during the grace period): the workspace opens again,
    members are told and the cancellation is audited."""
    permissions.require(permissions.can_close_firm(actor), "keep the firm")
    tenant = await _firm(db, actor.tenant_id)
    if tenant.closure_requested_at is None:
        return tenant
    tenant.closure_requested_at = None
    tenant.closure_contact = None
    tenant.closure_language = None
    await db.flush()
    await _email_members(
        db, tenant, "firm_closure_cancelled", link=f"{settings.base_url}/t/{tenant.slug}/"
    )
    await record_member_action(
        db,
        actor,
        audit.FIRM_CLOSURE_CANCELLED,
        object_type=TENANT_OBJECT,
        object_id=tenant.id,
        origin=origin,
    )
    return tenant


# --- the erasure ----------------------------------------------------------------------------


def _firm_models_children_first() -> list[type[Any]]:
    """Every firm table's model, a table before the tables it points to."""
    by_table = {
        mapper.local_table: mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    }
    ordered = [by_table[t] for t in Base.metadata.sorted_tables if t in by_table]
    return list(reversed(ordered))


async def _run(db: AsyncSession, statement: Any) -> int:
    result = await db.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_firm(
    db: AsyncSession, tenant: Tenant, settings: Settings, files: FileStore, now: datetime
) -> int:
    """Erase a firm whose grace period is over, in ``db`` scoped to it; returns rows deleted.

    The firm is marked closed first: the database's guard of issued invoices lets a closed
    firm's invoices be unlinked from the rows that go (their creators, sessions, agreements).
    """
    contact, language, name = tenant.closure_contact, tenant.closure_language or "fi", tenant.name
    tenant.status = TenantStatus.CLOSED
    tenant.closed_at = now
    await db.flush()
    keys = [
        *await db.scalars(
            select(StaffProfile.photo_key).where(StaffProfile.photo_key.is_not(None))
        ),
        *await db.scalars(select(AgreementDocument.pdf_key)),
    ]
    keys += [k for k in await db.scalars(select(BillingProfile.logo_key)) if k]
    for key in keys:
        files.delete_after_commit(db, key)
    # Every statement names the firm although the session is scoped to it: the wall and row
    # security are the second line here, not the only one.
    firm = tenant.id
    deleted = await _run(
        db,
        delete(Invoice).where(Invoice.tenant_id == firm, Invoice.status == InvoiceStatus.DRAFT),
    )
    await _run(
        db,
        update(Invoice)
        .where(Invoice.tenant_id == firm)
        .values(created_by=None, issued_by=None, run_id=None),
    )
    await _run(
        db,
        update(InvoiceLine)
        .where(InvoiceLine.tenant_id == firm)
        .values(agreement_id=None, session_id=None),
    )
    await _run(db, update(Payment).where(Payment.tenant_id == firm).values(created_by=None))
    billed_orgs = select(Invoice.org_id).where(Invoice.tenant_id == firm)
    for model in _firm_models_children_first():
        table = model.__table__.name
        if table in KEPT_TABLES:
            continue
        statement = delete(model).where(model.tenant_id == firm)
        if model is ClientOrg:
            statement = statement.where(ClientOrg.id.not_in(billed_orgs))
        deleted += await _run(db, statement)
    await _run(db, delete(Subscription).where(Subscription.tenant_id == tenant.id))
    await _run(
        db,
        delete(OutboxMessage).where(
            OutboxMessage.tenant_id == tenant.id, OutboxMessage.status == "pending"
        ),
    )
    tenant.name = ""
    tenant.business_id = ""
    tenant.closure_contact = None
    tenant.closure_language = None
    await audit.record(
        db,
        audit.FIRM_ERASED,
        actor_user_id=None,
        actor_name="",
        object_type=TENANT_OBJECT,
        object_id=tenant.id,
    )
    if contact:
        enqueue_email(
            db,
            render_email(
                "firm_erased",
                contact,
                language,
                firm=name,
                bookkeeping_years=settings.retention.bookkeeping_years,
            ),
            tenant_id=tenant.id,
        )
    return deleted


async def erase_kept_records(
    db: AsyncSession, tenant: Tenant, settings: Settings, today: date
) -> int:
    """Erase a closed firm's invoices (with their credit notes, lines, payments and reminders)
    whose bookkeeping period is over, and the organisations no invoice names any more; returns
    how many invoices went."""
    invoices = select(Invoice.id, Invoice.issued_on, Invoice.credited_id).where(
        Invoice.tenant_id == tenant.id
    )
    rows = (await db.execute(invoices)).all()
    # An invoice goes with the credit notes that correct it, once the latest of them is due.
    group_of = {row.id: row.credited_id or row.id for row in rows}
    last_day: dict[uuid.UUID, date] = defaultdict(lambda: date.min)
    for row in rows:
        day = kept_until(settings, row.issued_on or today)
        group = group_of[row.id]
        last_day[group] = max(last_day[group], day)
    due = [row.id for row in rows if last_day[group_of[row.id]] < today]
    # Payments matched to no invoice (a bank statement's strays) go by their own date.
    unmatched_rows = await db.execute(
        select(Payment.id, Payment.paid_on).where(Payment.invoice_id.is_(None))
    )
    unmatched = [
        pid for pid, paid_on in unmatched_rows.all() if kept_until(settings, paid_on) < today
    ]
    erased_payments = await _run(db, delete(Payment).where(Payment.id.in_(unmatched)))
    old_fees = [
        sid
        for sid, created in (
            await db.execute(select(SubscriptionPayment.id, SubscriptionPayment.created_at))
        ).all()
        if kept_until(settings, clock.today(created)) < today
    ]
    erased_payments += await _run(
        db, delete(SubscriptionPayment).where(SubscriptionPayment.id.in_(old_fees))
    )
    if due:
        await _run(db, delete(Payment).where(Payment.invoice_id.in_(due)))
        await _run(db, delete(Reminder).where(Reminder.invoice_id.in_(due)))
        await _run(db, delete(Delivery).where(Delivery.invoice_id.in_(due)))
        await _run(
            db,
            update(InvoiceLine).values(credits_line_id=None).where(InvoiceLine.invoice_id.in_(due)),
        )
        await _run(db, delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(due)))
        await _run(db, update(Invoice).values(credited_id=None).where(Invoice.id.in_(due)))
        await _run(db, delete(Invoice).where(Invoice.id.in_(due)))
        billed_orgs = select(Invoice.org_id).where(Invoice.tenant_id == tenant.id)
        await _run(
            db,
            delete(ClientOrg).where(
                ClientOrg.tenant_id == tenant.id, ClientOrg.id.not_in(billed_orgs)
            ),
        )
    if due or erased_payments:
        await audit.record(
            db,
            audit.FIRM_RECORDS_ERASED,
            actor_user_id=None,
            actor_name="",
            object_type=TENANT_OBJECT,
            object_id=tenant.id,
        )
    return len(due) + erased_payments


@scheduled_platform(CLOSURE_JOB, 3600)
async def close_firms(job: PlatformJobContext) -> int:
    """Erase the firms whose grace period is over, and closed firms' invoices whose bookkeeping
    period is over; returns how many firms and invoices went. Each firm in a transaction of its
    own, scoped to it."""
    cutoff = job.now - timedelta(days=job.settings.retention.closure_grace_days)
    async with unscoped_session(job.maker) as db:
        due = list(
            await db.scalars(
                select(Tenant.id).where(
                    Tenant.status.in_(OPEN_STATUSES), Tenant.closure_requested_at <= cutoff
                )
            )
        )
        closed = list(
            await db.scalars(select(Tenant.id).where(Tenant.status == TenantStatus.CLOSED))
        )
    files = make_file_store(job.settings)
    done = 0
    for tenant_id in due:
        async with tenant_session(job.maker, tenant_id) as db:
            tenant = await _firm(db, tenant_id)
            if tenant.status not in OPEN_STATUSES or tenant.closure_requested_at is None:
                continue  # kept, or erased by another worker, meanwhile
            await erase_firm(db, tenant, job.settings, files, job.now)
            log.info("firm.erased")
            done += 1
    today = clock.today(job.now)
    for tenant_id in closed:
        async with tenant_session(job.maker, tenant_id) as db:
            done += await erase_kept_records(db, await _firm(db, tenant_id), job.settings, today)
    return done
