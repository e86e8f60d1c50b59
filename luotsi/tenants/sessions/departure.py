"""A member leaving the firm: the work that still waits for them, handing it to another
supervisor, and the removal itself (the membership is deactivated, never deleted).

Removal is refused while the member holds planned sessions or is a supervisor of an agreement
that has not ended. Their private session notes are not part of this: a note is its keeper's
alone, and only the keeper hands it over (``luotsi.tenants.content.hand_over_notes``), which
they can do once the agreement has its new supervisor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from luotsi.platform import clock
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.members import check_removal, deactivate_member, get_member
from luotsi.platform.tenancy import STAFF_ROLES, Membership
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementStatus,
    AgreementSupervisor,
    EventKind,
)
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from luotsi.tenants.sessions.service import record_change

SUPERVISOR_CHANGED = "supervisor_changed"  # a session's history entry


@dataclass
class OpenWork:
    """What still waits for a member: their planned sessions from now on, and the agreements
    (every one that has not ended, drafts included) they are a supervisor of."""

    sessions: list[SupervisionSession]
    agreements: list[Agreement]

    @property
    def is_empty(self) -> bool:
        return not self.sessions and not self.agreements


async def open_work(db: AsyncSession, actor: Membership, target: Membership) -> OpenWork:
    """The work that blocks ``target``'s removal, for someone who may remove them."""
    check_removal(actor, target)
    sessions = await db.scalars(
        select(SupervisionSession)
        .options(joinedload(SupervisionSession.agreement).joinedload(Agreement.org))
        .where(
            SupervisionSession.supervisor_id == target.id,
            SupervisionSession.status == SessionStatus.PLANNED,
            SupervisionSession.starts_at >= clock.now(),
        )
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
    )
    agreements = await db.scalars(
        select(Agreement)
        .options(joinedload(Agreement.org), selectinload(Agreement.supervisors))
        .join(AgreementSupervisor, AgreementSupervisor.agreement_id == Agreement.id)
        .where(
            AgreementSupervisor.membership_id == target.id,
            Agreement.status != AgreementStatus.ENDED,
        )
        .order_by(Agreement.start_date, Agreement.id)
    )
    return OpenWork(sessions=list(sessions.unique()), agreements=list(agreements.unique()))


async def successor_choices(db: AsyncSession, target: Membership) -> list[tuple[uuid.UUID, str]]:
    """Who can take the work over: the firm's other current staff, as (id, name)."""
    staff = await db.scalars(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(
            Membership.role.in_(STAFF_ROLES),
            Membership.deactivated_at.is_(None),
            Membership.id != target.id,
        )
    )
    return sorted(((m.id, m.user.name) for m in staff.unique()), key=lambda c: c[1])


async def _successor(db: AsyncSession, target: Membership, raw: str) -> Membership:
    refused = Invalid.field("successor", _("Choose who takes the work over."))
    try:
        chosen = uuid.UUID(raw.strip())
    except ValueError:
        raise refused from None
    try:
        successor = await get_member(db, chosen)
    except NotFound:
        raise refused from None
    if successor.id == target.id or successor.role not in STAFF_ROLES:
        raise refused
    return successor


async def hand_over_work(
    db: AsyncSession, actor: Membership, membership_id: uuid.UUID, successor_id: str
) -> tuple[Membership, OpenWork]:
    """Give a leaving member's planned sessions and open agreements to another supervisor.

    Each session gets the successor as its supervisor (a new ICS sequence, so calendars
    update, and an entry in its history); on each agreement the successor takes the member's
    place among the supervisors (recorded in the agreement's history). Returns the successor
    and what moved.
    """
    target = await get_member(db, membership_id)
    work = await open_work(db, actor, target)
    successor = await _successor(db, target, successor_id)
    for session in work.sessions:
        session.supervisor_id = successor.id
        session.sequence += 1
        record_change(db, actor, session, SUPERVISOR_CHANGED)
    note = f"{target.user.name} → {successor.user.name}"
    for agreement in work.agreements:
        on_it = {link.membership_id: link for link in agreement.supervisors}
        agreement.supervisors.remove(on_it[target.id])
        if successor.id not in on_it:
            agreement.supervisors.append(AgreementSupervisor(membership_id=successor.id))
        db.add(
            AgreementEvent(
                agreement_id=agreement.id,
                kind=EventKind.SUPERVISOR_CHANGED.value,
                actor_user_id=actor.user_id,
                actor_name=actor.user.name[:120],
                note=note,
            )
        )
    await db.flush()
    return successor, work


async def remove_member(
    db: AsyncSession, actor: Membership, membership_id: uuid.UUID
) -> Membership:
    """Remove a member from the firm: refused while work still waits for them (hand it over
    first), and for the last owner. The membership is deactivated: they can no longer open the
    firm, and their name stays wherever the history points at them."""
    target = await get_member(db, membership_id)
    work = await open_work(db, actor, target)
    if not work.is_empty:
        raise Invalid.field(
            "work",
            _(
                "%(name)s still has planned sessions or agreements. Hand them over to another"
                " supervisor first."
            )
            % {"name": target.user.name},
        )
    return await deactivate_member(db, actor, target)
