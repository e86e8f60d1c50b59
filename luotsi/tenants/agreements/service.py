"""Agreements: access, status changes, events and the choices the forms offer.

The tables are in :mod:`.models`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role, Tenant, active_member
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    Agreement,
    AgreementEvent,
    AgreementStatus,
    AgreementSupervisor,
    EventKind,
    Party,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.directory.models import supervising_staff

# --- services -------------------------------------------------------------------------------
#
# Every service takes the database session (scoped to the firm) and the acting membership,
# checks the permission and raises domain errors. Owners and admins see and manage every
# agreement; a supervisor sees only the agreements they are on, and any other is "not found".

MAX_TERM = relativedelta(years=3)  # an agreement runs at most three years from its start
DEFAULT_TERM = relativedelta(years=1)
ACCEPTANCE_LIFETIME = timedelta(days=30)
REVIEW_DUE_SOON_DAYS = 14
MAX_PRICE_CENTS = 10_000_000  # 100 000 € per session: anything above is a typing error
MAX_QUOTA = 500
MAX_TITLE, MAX_NOTE, MAX_COMMENT = 200, 1000, 2000
PARTY_ORDER = {Party.SUPERVISEE: 0, Party.MANAGER: 1, Party.HR_CONTACT: 2}


def term_end(start: date, term: relativedelta) -> date:
    """The last day of a term of ``term`` from ``start``: the day before its anniversary.

    The anniversary of 29 February in a year without one is 1 March, so such a term ends on
    28 February (relativedelta gives 28 February itself; a day less would cut the term short).
    """
    anniversary = start + term
    if anniversary.day != start.day:  # 29 February moved back to the 28th
        return anniversary
    return anniversary - timedelta(days=1)


def max_end_date(start: date) -> date:
    """The last day an agreement starting on ``start`` may run (three years)."""
    return term_end(start, MAX_TERM)


def default_end_date(start: date) -> date:
    """One year: 1.9.2026 -> 31.8.2027; 29.2.2028 -> 28.2.2029."""
    return term_end(start, DEFAULT_TERM)


def visible_to(actor: Membership) -> list[ColumnElement[bool]]:
    """Conditions limiting agreements to those ``actor`` may see."""
    if permissions.can_manage_agreements(actor):
        return []
    return [
        Agreement.id.in_(
            select(AgreementSupervisor.agreement_id).where(
                AgreementSupervisor.membership_id == actor.id
            )
        )
    ]


async def get_agreement(db: AsyncSession, actor: Membership, agreement_id: uuid.UUID) -> Agreement:
    """One agreement ``actor`` may see; any other (or none) is :class:`NotFound`."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("agreement")
    agreement = (
        (
            await db.scalars(
                select(Agreement)
                .where(Agreement.id == agreement_id, *visible_to(actor))
                .options(*AGREEMENT_WHOLE)
            )
        )
        .unique()
        .one_or_none()
    )
    if agreement is None:
        raise NotFound("agreement")
    return agreement


def set_status(agreement: Agreement, status: AgreementStatus, user_id: uuid.UUID | None) -> None:
    """Move ``agreement`` to ``status``, noting when and by whom (None: a party or the system)."""
    agreement.status = status
    agreement.status_changed_at = clock.now()
    agreement.status_changed_by = user_id


def record_event(
    db: AsyncSession,
    agreement: Agreement,
    kind: EventKind,
    *,
    actor: Membership | None = None,
    name: str = "",
    note: str = "",
) -> AgreementEvent:
    """Add an entry to the agreement's history: by ``actor``, or by ``name`` (a party)."""
    event = AgreementEvent(
        agreement_id=agreement.id,
        kind=kind.value,
        actor_user_id=actor.user_id if actor else None,
        actor_name=(actor.user.name if actor else name)[:120],
        note=note,
    )
    db.add(event)
    return event


async def staff_names(
    db: AsyncSession, membership_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of staff memberships, those who have left the firm included (for history)."""
    ids = set(membership_ids)
    if not ids:
        return {}
    rows = await db.execute(
        select(Membership.id, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(ids))
    )
    return dict(rows.tuples().all())


async def staff_choices(db: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    """The firm's current staff who take clients, as (membership id, name), for choosing
    supervisors (an owner or admin once their profile says they supervise)."""
    rows = await db.execute(
        select(Membership.id, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role.in_(STAFF_ROLES), supervising_staff(), active_member())
        .order_by(User.name)
    )
    return list(rows.tuples().all())


async def org_choices(db: AsyncSession, *, include_archived: bool = False) -> list[ClientOrg]:
    """Organisations an agreement can be drafted for (not archived), by name.

    ``include_archived``: every organisation, for filtering lists that include old agreements.
    """
    query = select(ClientOrg).order_by(ClientOrg.name, ClientOrg.id)
    if not include_archived:
        query = query.where(ClientOrg.archived_at.is_(None))
    return list(await db.scalars(query))


async def people_choices(
    db: AsyncSession, org_id: uuid.UUID | None
) -> dict[PersonRole, list[ClientPerson]]:
    """The organisation's current people by role (supervisees, managers, HR contacts)."""
    found: dict[PersonRole, list[ClientPerson]] = {role: [] for role in PersonRole}
    if org_id is None:
        return found
    rows = await db.scalars(
        select(ClientPerson)
        .where(ClientPerson.org_id == org_id, ClientPerson.archived_at.is_(None))
        .order_by(ClientPerson.name)
    )
    for person in rows:
        found[person.role].append(person)
    return found


# --- e-mail from the firm ------------------------------------------------------------------


def mail_language(org: ClientOrg) -> str:
    """The language the organisation's people are written to (its invoice language)."""
    return org.invoice_language if org.invoice_language in i18n.LANGUAGES else "fi"


def firm_email(
    tenant: Tenant, template: str, to: str, language: str, **context: object
) -> dict[str, Any]:
    """An e-mail from the firm; dates in ``context`` are written as the reader writes them."""
    with i18n.language(language):
        context = {
            key: i18n.format_date(value)
            if isinstance(value, date) and not isinstance(value, datetime)
            else value
            for key, value in context.items()
        }
    return render_email(template, to, language, firm=tenant.name, **context)


def queue_firm_email(
    db: AsyncSession, tenant: Tenant, template: str, to: str, language: str, **context: object
) -> None:
    """Queue :func:`firm_email` in the caller's transaction."""
    enqueue_email(db, firm_email(tenant, template, to, language, **context), tenant_id=tenant.id)


async def supervisors_and_office(db: AsyncSession, agreement: Agreement) -> list[uuid.UUID]:
    """Whom an agreement's acceptance concerns: its supervisors and the owners and admins (the
    members' ids; :func:`~luotsi.platform.notifications.notify` skips those who left)."""
    office = await db.scalars(
        select(Membership.id).where(Membership.role.in_((Role.OWNER, Role.ADMIN)))
    )
    return [*{s.membership_id for s in agreement.supervisors}, *office]


# --- status changes -------------------------------------------------------------------------


async def pause_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, note: str = ""
) -> Agreement:
    """Active -> paused (e.g. the supervisee's long leave); recorded with who and when."""
    return await _change_status(
        db,
        actor,
        agreement_id,
        AgreementStatus.ACTIVE,
        AgreementStatus.PAUSED,
        EventKind.PAUSED,
        note,
    )


async def resume_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, note: str = ""
) -> Agreement:
    """Paused -> active."""
    return await _change_status(
        db,
        actor,
        agreement_id,
        AgreementStatus.PAUSED,
        AgreementStatus.ACTIVE,
        EventKind.RESUMED,
        note,
    )


async def _change_status(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    source: AgreementStatus,
    target: AgreementStatus,
    kind: EventKind,
    note: str,
) -> Agreement:
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != source:
        raise Invalid.field(
            "status",
            _("This agreement is %(status)s; that change is not possible now.")
            % {"status": agreement.status.label.lower()},
        )
    if len(note.strip()) > MAX_NOTE:
        raise Invalid.field("note", i18n.too_long(MAX_NOTE))
    set_status(agreement, target, actor.user_id)
    record_event(db, agreement, kind, actor=actor, note=note.strip())
    await db.flush()
    return agreement


async def list_events(db: AsyncSession, agreement: Agreement) -> list[AgreementEvent]:
    """The agreement's history, the latest first."""
    rows = await db.scalars(
        select(AgreementEvent)
        .where(AgreementEvent.agreement_id == agreement.id)
        .order_by(AgreementEvent.at.desc(), AgreementEvent.id)
    )
    return list(rows)
