"""A supervisee's rights over their data: a copy of it, who opened it, and its erasure.

- :func:`export_own_data`: everything the portal shows them, content included (their
  assignments and responses, goals and evaluations, the limits of confidentiality) as plain
  values for a JSON file and a readable page. Supervisors' private notes are the supervisor's
  working notes, never shared, and are not in it. Audited (``data.exported``).
- :func:`access_history`: the audit rows of their records (reads, writes, hand-overs,
  erasure, exports): who and when, never what.
- Erasure: the supervisee asks (:func:`request_erasure`), the owner confirms
  (:func:`confirm_erasure`) or declines with a reason. Confirming deletes their content and
  their contact details and ends their login; agreements, sessions and (later) invoices keep
  the facts the firm must keep, under an erased name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import audit, clock, i18n, permissions
from luotsi.platform.audit import AuditEvent
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.members import record_member_action
from luotsi.platform.notifications import NotificationKind, notify, words_of
from luotsi.platform.paging import Page, paginate
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.agreements.models import Acceptance, AgreementSupervisee
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.content.access import Reader
from luotsi.tenants.content.lifecycle import erase_agreement_content
from luotsi.tenants.content.models import (
    Assignment,
    AssignmentResponse,
    ErasureRequest,
    ErasureStatus,
    Evaluation,
    Goal,
)
from luotsi.tenants.content.shared import list_assignments, list_goals, read_limits
from luotsi.tenants.portal import supervisee as supervisee_portal
from luotsi.tenants.sessions.service import to_local

PERSON_OBJECT = "person"
ERASED_NAME = "—"  # what an erased supervisee is called where the facts stay
# What a supervisee's access history lists: touches of their records, not their own sign-ins.
HISTORY_ACTIONS = (
    audit.CONTENT_READ,
    audit.CONTENT_WRITTEN,
    audit.CONTENT_DELETED,
    audit.CONTENT_HANDED_OVER,
    audit.CONTENT_ERASED,
    audit.DATA_EXPORTED,
    audit.ERASURE_REQUESTED,
    audit.ERASURE_DECLINED,
)


# --- the copy of their data -------------------------------------------------------------------


async def export_own_data(db: AsyncSession, reader: Reader) -> dict[str, Any]:
    """The signed-in supervisee's data as plain JSON-able values (see the module docstring)."""
    view = await supervisee_portal.own_view(db, reader.actor)
    person = view.person
    agreements = []
    for line in view.agreements:
        agreement = line.agreement
        limits = await read_limits(db, reader, agreement.id)
        goals = await list_goals(db, reader, agreement.id)
        assignments = await list_assignments(db, reader, agreement.id)
        sessions = [
            s for s in [*reversed(view.past), *view.upcoming] if s.agreement_id == agreement.id
        ]
        agreements.append(
            {
                "kind": agreement.kind.label,
                "title": agreement.title,
                "organisation": agreement.org.name,
                "status": agreement.status.label,
                "start_date": agreement.start_date.isoformat(),
                "end_date": agreement.end_date.isoformat(),
                "supervisors": line.supervisors,
                "next_review_on": line.next_review_on.isoformat() if line.next_review_on else None,
                "limits_of_confidentiality": limits.text if limits else None,
                "sessions": [
                    {
                        "starts_at": to_local(s.starts_at).isoformat(),
                        "minutes": s.duration_minutes,
                        "kind": s.kind.label,
                        "status": s.status.label,
                    }
                    for s in sessions
                ],
                "goals": [
                    {
                        "source": goal.source.label,
                        "text": goal.text,
                        "written_at": to_local(goal.created_at).isoformat(),
                        "evaluations": [
                            {
                                "on": e.evaluated_on.isoformat(),
                                "rating": e.rating,
                                "comment": e.comment,
                            }
                            for e in goal.evaluations_of(person.id)
                        ],
                    }
                    for goal in goals
                ],
                "assignments": [
                    {
                        "text": a.text,
                        "due_on": a.due_on.isoformat(),
                        "set_at": to_local(a.created_at).isoformat(),
                        "response": (r.text if (r := a.response_of(person.id)) else None),
                        "done_at": (to_local(r.done_at).isoformat() if r and r.done_at else None),
                    }
                    for a in assignments
                ],
            }
        )
    await reader.audit(db, audit.DATA_EXPORTED, PERSON_OBJECT, [person.id], person.id)
    return {
        "exported_at": to_local(clock.now()).isoformat(),
        "firm": await db.scalar(select(Tenant.name).where(Tenant.id == reader.actor.tenant_id)),
        "person": {
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "title": person.title,
            "organisation": person.org.name,
        },
        "agreements": agreements,
    }


# --- who opened their records -----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    """One line of the access history: the same person doing the same to the same kind of
    record within a few minutes (opening a page reads many values at once), newest first."""

    at: datetime  # the latest of the rows
    actor_user_id: uuid.UUID | None
    actor_name: str
    action: str
    object_type: str
    count: int


@dataclass(frozen=True)
class AccessHistory:
    """A page of the audit rows touching a supervisee's records, and whose records those are
    (the supervisee and their agreements): a row of a page view lists values of other
    supervisees of a group too, and the history counts only theirs."""

    page: Page[AuditEvent]
    contexts: frozenset[uuid.UUID]

    def lines(self) -> list[HistoryLine]:
        return history_lines(self.page.items, self.contexts)


async def access_history(
    db: AsyncSession, actor: Membership, *, page: int = 1, per_page: int = 50
) -> AccessHistory:
    """Who read, wrote, handed over or exported the signed-in supervisee's records, newest
    first: rows whose context, or one of whose items' context, is the supervisee or one of
    their agreements."""
    person = await supervisee_portal.supervisee_person(db, actor)
    agreements = await db.scalars(
        select(AgreementSupervisee.agreement_id).where(AgreementSupervisee.person_id == person.id)
    )
    contexts = [person.id, *agreements]
    conditions = [
        AuditEvent.tenant_id == actor.tenant_id,
        AuditEvent.action.in_(HISTORY_ACTIONS),
        or_(AuditEvent.context_id.in_(contexts), audit.touching(db, "context", contexts)),
    ]
    order = [AuditEvent.at.desc(), AuditEvent.id.desc()]
    found = await paginate(db, AuditEvent, conditions, order, page, per_page)
    return AccessHistory(found, frozenset(contexts))


VISIT_GAP = timedelta(minutes=5)
MAX_DECLINE_REASON = 1000


def history_lines(events: list[AuditEvent], contexts: frozenset[uuid.UUID]) -> list[HistoryLine]:
    """Fold consecutive rows (newest first) of one actor, action and kind of record, each
    within :data:`VISIT_GAP` of the previous one, into one line with a count of the values of
    ``contexts`` they name."""
    lines: list[HistoryLine] = []
    last_at: datetime | None = None
    for event in events:
        for object_type, count in event.item_counts(contexts if event.items else None):
            key = (event.actor_user_id, event.action, object_type)
            previous = lines[-1] if lines else None
            if (
                previous is not None
                and last_at is not None
                and (previous.actor_user_id, previous.action, previous.object_type) == key
                and last_at - event.at <= VISIT_GAP
            ):
                lines[-1] = replace(previous, count=previous.count + count)
            else:
                lines.append(
                    HistoryLine(
                        event.at,
                        event.actor_user_id,
                        event.actor_name,
                        event.action,
                        object_type,
                        count,
                    )
                )
        last_at = event.at
    return lines


# --- erasure ----------------------------------------------------------------------------------


async def pending_request_of(db: AsyncSession, person_id: uuid.UUID) -> ErasureRequest | None:
    return await db.scalar(
        select(ErasureRequest).where(
            ErasureRequest.person_id == person_id, ErasureRequest.status == ErasureStatus.PENDING
        )
    )


async def request_erasure(
    db: AsyncSession, actor: Membership, origin: audit.Origin | None = None, *, base_url: str
) -> ErasureRequest:
    """The signed-in supervisee asks the firm to erase their data (once at a time); the owners,
    who decide it, are notified."""
    person = await supervisee_portal.supervisee_person(db, actor)
    if await pending_request_of(db, person.id) is not None:
        raise Invalid.field("erasure", _("Your request is already waiting for the firm."))
    request = ErasureRequest(
        id=uuid.uuid4(),
        person_id=person.id,
        person_name=person.name,
        requested_by_user_id=actor.user_id,
        requested_at=clock.now(),
    )
    db.add(request)
    await db.flush()
    await _record(db, actor, audit.ERASURE_REQUESTED, person.id, origin)
    owners = await db.scalars(select(Membership.id).where(Membership.role == Role.OWNER))
    await notify(
        db,
        await db.get_one(Tenant, actor.tenant_id),
        list(owners),
        NotificationKind.ERASURE_REQUEST,
        f"settings/erasure-requests/{request.id}",
        words_of(person=person.name),
        base_url=base_url,
    )
    return request


async def list_erasure_requests(
    db: AsyncSession, actor: Membership, *, page: int = 1, per_page: int = 50
) -> Page[ErasureRequest]:
    """The firm's erasure requests for the owner, waiting ones first, newest first."""
    if not permissions.can_manage_retention(actor):
        raise Forbidden("erasure")
    order = [
        ErasureRequest.status != ErasureStatus.PENDING,
        ErasureRequest.requested_at.desc(),
        ErasureRequest.id,
    ]
    return await paginate(db, ErasureRequest, [], order, page, per_page)


async def _pending(db: AsyncSession, actor: Membership, request_id: uuid.UUID) -> ErasureRequest:
    if not permissions.can_manage_retention(actor):
        raise Forbidden("erasure")
    request = await db.scalar(select(ErasureRequest).where(ErasureRequest.id == request_id))
    if request is None:
        raise NotFound("erasure_request")
    if request.status != ErasureStatus.PENDING:
        raise Invalid.field("erasure", _("This request has already been decided."))
    return request


@dataclass(frozen=True)
class ErasurePlan:
    """What confirming a request would erase, shown on the confirmation step."""

    request: ErasureRequest
    person: ClientPerson | None
    agreements_alone: int  # agreements where they are the only supervisee: all content goes
    group_agreements: int  # group agreements: their own content goes, the group's stays


async def erasure_plan(db: AsyncSession, actor: Membership, request_id: uuid.UUID) -> ErasurePlan:
    request = await _pending(db, actor, request_id)
    person = await db.scalar(
        select(ClientPerson)
        .where(ClientPerson.id == request.person_id)
        .options(joinedload(ClientPerson.org))
    )
    alone, group = await _agreements_of(db, request.person_id)
    return ErasurePlan(request, person, len(alone), len(group))


async def _agreements_of(
    db: AsyncSession, person_id: uuid.UUID
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The person's agreements where they are the only supervisee, and the group ones."""
    mine = select(AgreementSupervisee.agreement_id).where(
        AgreementSupervisee.person_id == person_id
    )
    counts = await db.execute(
        select(AgreementSupervisee.agreement_id, func.count())
        .where(AgreementSupervisee.agreement_id.in_(mine))
        .group_by(AgreementSupervisee.agreement_id)
    )
    alone: list[uuid.UUID] = []
    group: list[uuid.UUID] = []
    for agreement_id, count in counts:
        (alone if count == 1 else group).append(agreement_id)
    return alone, group


async def confirm_erasure(
    db: AsyncSession,
    actor: Membership,
    request_id: uuid.UUID,
    origin: audit.Origin | None = None,
) -> ErasureRequest:
    """Erase the supervisee's data (the owner, after the confirmation step)."""
    request = await _pending(db, actor, request_id)
    person_id = request.person_id
    alone, _group = await _agreements_of(db, person_id)
    for agreement_id in alone:
        await erase_agreement_content(db, agreement_id)
    own_goals = select(Goal.id).where(Goal.person_id == person_id)
    own_assignments = select(Assignment.id).where(Assignment.person_id == person_id)
    for statement in (
        delete(AssignmentResponse).where(
            or_(
                AssignmentResponse.person_id == person_id,
                AssignmentResponse.assignment_id.in_(own_assignments),
            )
        ),
        delete(Assignment).where(Assignment.person_id == person_id),
        delete(Evaluation).where(
            or_(Evaluation.person_id == person_id, Evaluation.goal_id.in_(own_goals))
        ),
        delete(Goal).where(Goal.person_id == person_id),
    ):
        await db.execute(statement.execution_options(synchronize_session=False))
    person = await db.scalar(select(ClientPerson).where(ClientPerson.id == person_id))
    if person is not None:
        await _forget_person(db, person)
    for acceptance in await db.scalars(select(Acceptance).where(Acceptance.person_id == person_id)):
        acceptance.comment = ""
    request.status = ErasureStatus.DONE
    request.person_name = ERASED_NAME
    request.decided_by_user_id = actor.user_id
    request.decided_at = clock.now()
    await db.flush()
    await _record(db, actor, audit.ERASURE_CONFIRMED, person_id, origin)
    return request


async def _forget_person(db: AsyncSession, person: ClientPerson) -> None:
    """Contact details go, the name becomes :data:`ERASED_NAME`, the login ends."""
    if person.membership_id is not None:
        login = await db.scalar(
            select(Membership).where(
                Membership.id == person.membership_id, Membership.role == Role.SUPERVISEE
            )
        )
        if login is not None:
            login.deactivate()
    person.name = ERASED_NAME
    person.email = ""
    person.phone = ""
    person.title = ""
    person.membership_id = None
    person.invitation_id = None
    person.archived_at = person.archived_at or clock.now()


async def decline_erasure(
    db: AsyncSession,
    actor: Membership,
    request_id: uuid.UUID,
    reason: str,
    origin: audit.Origin | None = None,
) -> ErasureRequest:
    """Decline with a reason the supervisee sees (e.g. an agreement still running)."""
    request = await _pending(db, actor, request_id)
    reason = reason.strip()
    if not reason:
        raise Invalid.field("reason", _("Tell the supervisee why."))
    if len(reason) > MAX_DECLINE_REASON:
        raise Invalid.field("reason", i18n.too_long(MAX_DECLINE_REASON))
    request.status = ErasureStatus.DECLINED
    request.reason = reason
    request.decided_by_user_id = actor.user_id
    request.decided_at = clock.now()
    await db.flush()
    await _record(db, actor, audit.ERASURE_DECLINED, request.person_id, origin)
    return request


async def latest_request_of(db: AsyncSession, actor: Membership) -> ErasureRequest | None:
    """The signed-in supervisee's latest erasure request, for their portal."""
    person = await supervisee_portal.supervisee_person(db, actor)
    return await db.scalar(
        select(ErasureRequest)
        .where(ErasureRequest.person_id == person.id)
        .order_by(ErasureRequest.requested_at.desc())
        .limit(1)
    )


async def _record(
    db: AsyncSession,
    actor: Membership,
    action: str,
    person_id: uuid.UUID,
    origin: audit.Origin | None = None,
) -> None:
    await record_member_action(
        db,
        actor,
        action,
        object_type=PERSON_OBJECT,
        object_id=person_id,
        context_id=person_id,
        origin=origin,
    )
