"""The supervisee's portal: their own sessions and agreements, and two things they may do.

A ``supervisee`` login speaks for one person record (bound like an HR contact's, see
:func:`luotsi.tenants.clients.logins.person_of_login`) and sees only the agreements that person
is a supervisee on, never a draft: per agreement its kind, dates, status, supervisors and when
the next continuation review is due; and the meetings of those agreements (in a group agreement the
group's meetings, which are theirs too) with date, time, kind and status, and for the ones ahead
their place or meeting link. No content is shown here (notes are never the supervisee's;
assignments, goals and evaluations come through the content module).

What they may do: cancel a meeting ahead of them within the agreement's terms (the page says
first whether the cancellation is late and so billable), and invite their manager to an
evaluation meeting or withdraw that invitation: only they can, the staff at most record that
they asked, a request they confirm or decline here. All of it goes into the meeting's history
and everyone's calendar as the staff's changes do (:mod:`luotsi.tenants.sessions.changes` holds
the rules reused here).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.notifications import NotificationKind, notify, words_of
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
)
from luotsi.tenants.agreements.reviews import last_reviews, review_state, running_review_due
from luotsi.tenants.clients import logins
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.sessions.changes import (
    MANAGER_REQUEST_DECLINED,
    apply_cancellation,
    apply_manager_invitation,
    billable_kind,
    drop_manager_request,
    is_late_cancellation,
    pending_manager_requests,
    withdraw_manager_invitation,
)
from luotsi.tenants.sessions.models import (
    SESSION_NAMES,
    SESSION_WHOLE,
    MeetingKind,
    SessionStatus,
    SupervisionSession,
)
from luotsi.tenants.sessions.service import Mailing, supervisor_names, to_local


async def supervisee_person(db: AsyncSession, actor: Membership) -> ClientPerson:
    """The signed-in supervisee's person record; :class:`Forbidden` when the login is not (or
    no longer) bound to a current supervisee of a current organisation."""
    if not permissions.can_use_supervisee_portal(actor):
        raise Forbidden("supervisee_portal")
    person = await logins.person_of_login(db, actor)
    if person is None or person.is_archived or person.org.is_archived:
        raise Forbidden("supervisee_portal")
    return person


def _own_agreements(person: ClientPerson) -> Select[tuple[uuid.UUID]]:
    """The ids of the agreements ``person`` is a supervisee on (drafts are not theirs yet)."""
    return select(AgreementSupervisee.agreement_id).where(
        AgreementSupervisee.person_id == person.id
    )


@dataclass
class OwnAgreement:
    """One of the supervisee's agreements as they see it."""

    agreement: Agreement
    supervisors: list[str] = field(default_factory=list)
    last_review_on: date | None = None
    next_review_on: date | None = None
    review_state: str = ""  # "overdue", "due" (soon) or ""


@dataclass
class SuperviseeView:
    person: ClientPerson
    agreements: list[OwnAgreement]
    upcoming: list[SupervisionSession]  # earliest first
    past: list[SupervisionSession]  # latest first
    now: datetime
    manager_requested: set[uuid.UUID] = field(default_factory=set)  # meetings with a request

    def may_cancel(self, session: SupervisionSession) -> bool:
        return can_cancel(session, self.now)

    def may_invite_manager(self, session: SupervisionSession) -> bool:
        return can_invite_manager(session, self.now)

    def may_withdraw_manager(self, session: SupervisionSession) -> bool:
        return can_withdraw_manager(self.person, session, self.now)


async def own_view(
    db: AsyncSession, actor: Membership, *, now: datetime | None = None
) -> SuperviseeView:
    """Everything the portal shows the signed-in supervisee: only what the module docstring
    lists, and only of their own agreements."""
    now = now or clock.now()
    person = await supervisee_person(db, actor)
    rows = await db.scalars(
        select(Agreement)
        .where(Agreement.id.in_(_own_agreements(person)), Agreement.status != AgreementStatus.DRAFT)
        .order_by(Agreement.start_date.desc(), Agreement.id)
        .options(*AGREEMENT_WHOLE)
    )
    agreements = list(rows.unique())
    ids = [a.id for a in agreements]
    names = await supervisor_names(db)
    reviewed = await last_reviews(db, ids)
    today = to_local(now).date()
    own = []
    for agreement in agreements:
        line = OwnAgreement(
            agreement,
            supervisors=sorted(
                names[s.membership_id] for s in agreement.supervisors if s.membership_id in names
            ),
            last_review_on=reviewed.get(agreement.id),
        )
        line.next_review_on = running_review_due(agreement, line.last_review_on)
        if line.next_review_on is not None:
            line.review_state = review_state(line.next_review_on, today)
        own.append(line)
    meetings: list[SupervisionSession] = []
    if ids:
        found = await db.scalars(
            select(SupervisionSession)
            .where(SupervisionSession.agreement_id.in_(ids))
            .order_by(SupervisionSession.starts_at, SupervisionSession.id)
            .options(*SESSION_NAMES)
        )
        meetings = list(found.unique())
    upcoming = [m for m in meetings if m.starts_at > now]
    past = [m for m in reversed(meetings) if m.starts_at <= now]
    requested = await pending_manager_requests(
        db, [m.id for m in upcoming if can_invite_manager(m, now)]
    )
    return SuperviseeView(person, own, upcoming, past, now, requested)


@dataclass
class OwnAgreementView:
    """One of the supervisee's agreements with its meetings, for the agreement's own page."""

    person: ClientPerson
    line: OwnAgreement
    upcoming: list[SupervisionSession]  # earliest first
    past: list[SupervisionSession]  # latest first
    now: datetime

    @property
    def agreement(self) -> Agreement:
        return self.line.agreement

    @property
    def today(self) -> date:
        return to_local(self.now).date()

    @property
    def sessions_by_id(self) -> dict[uuid.UUID, SupervisionSession]:
        return {s.id: s for s in [*self.upcoming, *self.past]}


async def own_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, *, now: datetime | None = None
) -> OwnAgreementView:
    """One of the signed-in supervisee's agreements (as :func:`own_view` shows it) with its
    meetings; :class:`NotFound` for any other id, a colleague's or a draft alike."""
    view = await own_view(db, actor, now=now)
    line = next((a for a in view.agreements if a.agreement.id == agreement_id), None)
    if line is None:
        raise NotFound("agreement")
    return OwnAgreementView(
        view.person,
        line,
        [s for s in view.upcoming if s.agreement_id == agreement_id],
        [s for s in view.past if s.agreement_id == agreement_id],
        view.now,
    )


def can_cancel(session: SupervisionSession, now: datetime) -> bool:
    """A planned meeting ahead, of an agreement with this supervisee alone: a group's meeting
    is not called off by one member (they tell the supervisor they can't come)."""
    return (
        session.status == SessionStatus.PLANNED
        and session.starts_at > now
        and len(session.agreement.supervisees) == 1
    )


def can_invite_manager(session: SupervisionSession, now: datetime) -> bool:
    """An evaluation meeting ahead whose agreement names a manager not yet invited."""
    return (
        session.kind == MeetingKind.EVALUATION
        and session.status == SessionStatus.PLANNED
        and session.starts_at > now
        and session.agreement.manager is not None
        and session.manager_invited_by is None
    )


def can_withdraw_manager(person: ClientPerson, session: SupervisionSession, now: datetime) -> bool:
    """The manager this supervisee invited to a planned meeting still ahead."""
    return (
        session.manager_invited_by == person.id
        and session.status == SessionStatus.PLANNED
        and session.starts_at > now
    )


async def own_session(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> tuple[ClientPerson, SupervisionSession]:
    """A meeting of one of the signed-in supervisee's agreements; not found otherwise (the same
    answer for a colleague's meeting and one that does not exist)."""
    person = await supervisee_person(db, actor)
    session = (
        (
            await db.scalars(
                select(SupervisionSession)
                .where(
                    SupervisionSession.id == session_id,
                    SupervisionSession.agreement_id.in_(_own_agreements(person)),
                )
                .options(*SESSION_WHOLE)
            )
        )
        .unique()
        .one_or_none()
    )
    if session is None or session.agreement.status == AgreementStatus.DRAFT:
        raise NotFound("session")
    return person, session


@dataclass(frozen=True)
class CancellationTerms:
    """What cancelling ``session`` now would mean, shown before the supervisee confirms."""

    person: ClientPerson  # the supervisee
    session: SupervisionSession
    late: bool  # less than the agreement's cancellation hours before the start
    billable: bool  # late, and a kind of meeting that is billed

    @property
    def hours(self) -> int:
        return self.session.agreement.cancellation_hours


async def cancellation_terms(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID, *, now: datetime | None = None
) -> CancellationTerms:
    """Whether the supervisee may cancel the meeting now, and whether that would be billable."""
    now = now or clock.now()
    person, session = await own_session(db, actor, session_id)
    if not can_cancel(session, now):
        raise NotFound("session")
    late = is_late_cancellation(session, now)
    return CancellationTerms(person, session, late, late and billable_kind(session))


async def cancel_own_session(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """The supervisee cancels a meeting ahead: a cancellation by the client, late (billable)
    under the same rule as when the staff record it, and everyone gets the cancellation; its
    supervisor is notified."""
    now = now or clock.now()
    terms = await cancellation_terms(db, actor, session_id, now=now)
    session = terms.session
    await apply_cancellation(db, actor, session, mailing, by_client=True, at=now, now=now)
    await notify(
        db,
        await db.get_one(Tenant, actor.tenant_id),
        [session.supervisor_id],
        NotificationKind.SESSION_CANCELLED,
        f"sessions/{session.id}",
        words_of(person=terms.person.name, starts=session.starts_at),
        base_url=mailing.base_url,
    )
    return session


async def invite_own_manager(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """The supervisee invites their manager to an evaluation meeting ahead (on their own, or
    confirming the request the staff recorded): the only way a manager becomes a participant.
    The manager gets the invitation, the others a notice that the participants changed."""
    now = now or clock.now()
    person, session = await own_session(db, actor, session_id)
    supervisees = {link.person_id for link in session.agreement.supervisees}
    if not permissions.can_invite_manager_to_evaluation(actor, person.id, supervisees):
        raise NotFound("session")
    if not can_invite_manager(session, now):
        raise Invalid.field(
            "manager", _("The manager can be invited only to a planned evaluation meeting ahead.")
        )
    await apply_manager_invitation(db, actor, session, person.id, mailing, now=now)
    return session


async def withdraw_own_manager_invitation(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """The supervisee who invited their manager takes the invitation back: the manager gets a
    cancellation, the others a notice that the participants changed."""
    now = now or clock.now()
    person, session = await own_session(db, actor, session_id)
    if not permissions.can_withdraw_manager_invitation(
        actor, person.id, session.manager_invited_by
    ) or not can_withdraw_manager(person, session, now):
        raise Invalid.field("manager", _("You have no invitation of your manager to withdraw."))
    await withdraw_manager_invitation(db, actor, session, mailing, now=now)
    return session


async def decline_manager_request(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> SupervisionSession:
    """The supervisee declines the request for their manager that the staff recorded: nobody
    is invited, and the history says the supervisee declined."""
    person, session = await own_session(db, actor, session_id)
    supervisees = {link.person_id for link in session.agreement.supervisees}
    if not permissions.can_invite_manager_to_evaluation(actor, person.id, supervisees):
        raise NotFound("session")
    await drop_manager_request(db, actor, session, MANAGER_REQUEST_DECLINED)
    return session
