"""What the client pages and the client rules ask about agreements: counts, lists, history.

An organisation with an agreement pending, active or paused is a current client (it cannot be
archived); an organisation or person that was ever on an agreement has history (it is archived,
never deleted). The client records themselves are in :mod:`luotsi.tenants.clients`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import permissions
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    Acceptance,
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson

OPEN_STATUSES = (AgreementStatus.PENDING, AgreementStatus.ACTIVE, AgreementStatus.PAUSED)
"""Agreement statuses that keep an organisation a current client."""


def open_agreements_per_org() -> ColumnElement[int]:
    """A scalar subquery: the open agreements of the organisation of the enclosing query."""
    return (
        select(func.count())
        .select_from(Agreement)
        .where(Agreement.org_id == ClientOrg.id, Agreement.status.in_(OPEN_STATUSES))
        .correlate(ClientOrg)
        .scalar_subquery()
    )


async def open_agreement_count(db: AsyncSession, org_id: uuid.UUID) -> int:

    return int(
        await db.scalar(
            select(func.count())
            .select_from(Agreement)
            .where(Agreement.org_id == org_id, Agreement.status.in_(OPEN_STATUSES))
        )
        or 0
    )


async def org_has_history(db: AsyncSession, org_id: uuid.UUID) -> bool:
    """Whether the organisation has ever had an agreement or one of its people was on one."""

    agreements = await db.scalar(
        select(func.count()).select_from(Agreement).where(Agreement.org_id == org_id)
    )
    people = select(ClientPerson.id).where(ClientPerson.org_id == org_id)
    return bool(agreements) or await _on_agreements(db, people)


async def person_has_history(db: AsyncSession, person_id: uuid.UUID) -> bool:
    """Whether the person is on an agreement (as supervisee, manager or HR contact) or was
    asked to accept one: such a record is archived, never deleted."""
    return await _on_agreements(db, select(ClientPerson.id).where(ClientPerson.id == person_id))


async def _on_agreements(db: AsyncSession, people: Select[tuple[uuid.UUID]]) -> bool:
    """Whether any of ``people`` (a query of person ids) appears on an agreement."""

    for query in (
        select(func.count())
        .select_from(Agreement)
        .where(or_(Agreement.manager_id.in_(people), Agreement.hr_contact_id.in_(people))),
        select(func.count())
        .select_from(AgreementSupervisee)
        .where(AgreementSupervisee.person_id.in_(people)),
        select(func.count()).select_from(Acceptance).where(Acceptance.person_id.in_(people)),
    ):
        if await db.scalar(query):
            return True
    return False


async def org_agreements(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> list[Agreement]:
    """The organisation's agreements, newest first (a supervisor sees their own only)."""

    return await _visible_agreements(db, actor, Agreement.org_id == org_id)


async def _visible_agreements(
    db: AsyncSession, actor: Membership, condition: ColumnElement[bool]
) -> list[Agreement]:
    """Agreements meeting ``condition``, newest first: every one for those who manage
    agreements, a supervisor's own for a supervisor."""

    query = (
        select(Agreement)
        .where(condition)
        .order_by(Agreement.start_date.desc(), Agreement.id)
        .options(*AGREEMENT_NAMES)
    )
    if not permissions.can_manage_agreements(actor):
        own = select(AgreementSupervisor.agreement_id).where(
            AgreementSupervisor.membership_id == actor.id
        )
        query = query.where(Agreement.id.in_(own))
    return list((await db.scalars(query)).unique())


async def person_agreements(
    db: AsyncSession, actor: Membership, person_id: uuid.UUID
) -> list[Agreement]:
    """Agreements the person is on (as supervisee, manager or HR contact), newest first; a
    supervisor sees their own only."""

    as_supervisee = select(AgreementSupervisee.agreement_id).where(
        AgreementSupervisee.person_id == person_id
    )
    return await _visible_agreements(
        db,
        actor,
        or_(
            Agreement.manager_id == person_id,
            Agreement.hr_contact_id == person_id,
            Agreement.id.in_(as_supervisee),
        ),
    )
