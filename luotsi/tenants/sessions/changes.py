"""Changes to a planned meeting: held, no-show, cancelled, rescheduled, the manager invited.

Every change is a :class:`SessionChange` with who and when; the participants' calendars are
updated in place (same ``uid``, a higher ``sequence``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_, parse_date, parse_time
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookEvent
from luotsi.tenants.sessions import ics
from luotsi.tenants.sessions.models import (
    MeetingKind,
    SessionChange,
    SessionStatus,
    SupervisionSession,
)
from luotsi.tenants.sessions.service import (
    HELD_MINUTES,
    Mailing,
    Place,
    announce,
    check_day,
    check_place,
    check_when,
    chosen_sessions,
    day_errors,
    from_local,
    get_session,
    invite_if_ahead,
    parse_int,
    participants,
    record_change,
    send_invitations,
    supervisor_busy,
    supervisor_hours,
    to_local,
)

# --- status changes -------------------------------------------------------------------------

_NOT_PLANNED = {
    "held": {
        SessionStatus.HELD: N_("The session is already marked held."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("A cancelled session can't be marked held."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("A cancelled session can't be marked held."),
        SessionStatus.NO_SHOW: N_("A no-show can't be marked held."),
    },
    "reschedule": {
        SessionStatus.HELD: N_("A held session can't be rescheduled."),
        SessionStatus.CANCELLED_BY_CLIENT: N_(
            "A cancelled session can't be rescheduled. Plan a new one instead."
        ),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_(
            "A cancelled session can't be rescheduled. Plan a new one instead."
        ),
        SessionStatus.NO_SHOW: N_("A no-show can't be rescheduled. Plan a new session instead."),
    },
    "cancel": {
        SessionStatus.HELD: N_("A held session can't be cancelled."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("The session is already cancelled."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("The session is already cancelled."),
        SessionStatus.NO_SHOW: N_("A no-show can't be cancelled."),
    },
    "no_show": {
        SessionStatus.HELD: N_("A held session can't be a no-show."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("A cancelled session can't be a no-show."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("A cancelled session can't be a no-show."),
        SessionStatus.NO_SHOW: N_("The session is already marked as a no-show."),
    },
    "manager": {
        SessionStatus.HELD: N_("The meeting has been held."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("The meeting is cancelled."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("The meeting is cancelled."),
        SessionStatus.NO_SHOW: N_("The meeting is marked as a no-show."),
    },
}


def _require_planned(session: SupervisionSession, action: str) -> None:
    if session.status != SessionStatus.PLANNED:
        raise Invalid.field("status", _(_NOT_PLANNED[action][session.status]))


def _require_started_day(session: SupervisionSession, now: datetime, message: str) -> None:
    """Held or missed is known from the meeting's day on, not before."""
    if to_local(session.starts_at).date() > to_local(now).date():
        raise Invalid.field("status", message)


def billable_kind(session: SupervisionSession) -> bool:
    """Only supervision sessions are billed; evaluation and review meetings are not."""
    return session.kind == MeetingKind.SESSION


async def mark_held(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    actual_minutes: str,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Record that a planned session took place and how long it lasted (1-240 minutes)."""
    now = now or clock.now()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "held")
    _require_started_day(session, now, _("A session can be marked held on its day or later."))
    minutes = parse_int(actual_minutes, *HELD_MINUTES)
    if minutes is None:
        raise Invalid.field(
            "actual_minutes",
            _("Enter the actual length in minutes, from %(low)d to %(high)d.")
            % {"low": HELD_MINUTES[0], "high": HELD_MINUTES[1]},
        )
    session.status = SessionStatus.HELD
    session.actual_minutes = minutes
    session.billable = billable_kind(session)
    record_change(db, actor, session, SessionStatus.HELD.value)
    await announce(db, WebhookEvent.SESSION_HELD, [session])
    await db.flush()
    return session


def markable_from(now: datetime) -> datetime:
    """Sessions starting before this instant (tomorrow, Helsinki) can be marked held today."""
    return from_local(to_local(now).date() + timedelta(days=1), time())


async def markable_sessions(
    db: AsyncSession,
    actor: Membership,
    session_ids: Iterable[uuid.UUID],
    *,
    now: datetime | None = None,
) -> list[SupervisionSession]:
    """Of the chosen sessions, those ``actor`` may mark held now: planned, from their day on."""
    before = markable_from(now or clock.now())
    return await chosen_sessions(db, actor, session_ids, SupervisionSession.starts_at < before)


async def mark_many_held(
    db: AsyncSession,
    actor: Membership,
    session_ids: Iterable[uuid.UUID],
    *,
    now: datetime | None = None,
) -> list[SupervisionSession]:
    """Mark the chosen sessions held, each with its planned length: a week's sessions in one go.

    Only the sessions ``actor`` holds or works on, still planned and on their day or later, are
    marked (one statement loads them); any other id is left as it is. A session held longer or
    shorter is marked on its own page, with its actual length.
    """
    sessions = await markable_sessions(db, actor, session_ids, now=now)
    for session in sessions:
        session.status = SessionStatus.HELD
        session.actual_minutes = session.duration_minutes
        session.billable = billable_kind(session)
        record_change(db, actor, session, SessionStatus.HELD.value)
    await announce(db, WebhookEvent.SESSION_HELD, sessions)
    await db.flush()
    return sessions


async def mark_no_show(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID, *, now: datetime | None = None
) -> SupervisionSession:
    """The supervisee did not come and did not cancel: the session is billable."""
    now = now or clock.now()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "no_show")
    _require_started_day(
        session, now, _("A session can be marked as a no-show on its day or later.")
    )
    session.status = SessionStatus.NO_SHOW
    session.billable = billable_kind(session)
    record_change(db, actor, session, SessionStatus.NO_SHOW.value)
    await db.flush()
    return session


@dataclass
class CancelInput:
    by: str = ""  # client or supervisor
    date: str = ""  # when the client cancelled (Helsinki); empty: now
    time: str = ""


def is_late_cancellation(session: SupervisionSession, cancelled_at: datetime) -> bool:
    """Late: less than the agreement's ``cancellation_hours`` before the start."""
    notice = timedelta(hours=session.agreement.cancellation_hours)
    return session.starts_at - cancelled_at < notice


async def cancel_session(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    data: CancelInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Cancel a planned meeting and send everyone the cancellation (``METHOD:CANCEL``).

    By the client: late (billable) when they cancelled less than the agreement's cancellation
    hours before the start, exactly that many hours is on time. By the supervisor: never billable.
    """
    now = now or clock.now()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "cancel")
    errors: dict[str, str] = {}
    if data.by not in ("client", "supervisor"):
        errors["by"] = _("Choose who cancelled.")
    cancelled_at = now
    if data.date.strip() or data.time.strip():
        day, at = parse_date(data.date), parse_time(data.time)
        if day is None or at is None:
            errors["cancelled_at"] = _(
                "Enter when the cancellation came as a date and a time, e.g. 2.12.2026 9:30."
            )
        else:
            cancelled_at = from_local(day, at)
            if cancelled_at > now + timedelta(minutes=1):
                errors["cancelled_at"] = _("The cancellation can't be in the future.")
    if errors:
        raise Invalid(errors)
    await apply_cancellation(
        db, actor, session, mailing, by_client=data.by == "client", at=cancelled_at, now=now
    )
    return session


async def apply_cancellation(
    db: AsyncSession,
    actor: Membership,
    session: SupervisionSession,
    mailing: Mailing,
    *,
    by_client: bool,
    at: datetime,
    now: datetime,
) -> None:
    """Cancel a planned meeting the caller may change (staff or its own supervisee).

    By the client: late (billable) when it came less than the agreement's cancellation hours
    before the start. By the supervisor: never billable. Everyone gets ``METHOD:CANCEL``.
    """
    session.cancelled_at = at
    if by_client:
        session.status = SessionStatus.CANCELLED_BY_CLIENT
        session.late_cancellation = is_late_cancellation(session, at)
        session.billable = session.late_cancellation and billable_kind(session)
    else:
        session.status = SessionStatus.CANCELLED_BY_SUPERVISOR
        session.late_cancellation = False
        session.billable = False
    session.sequence += 1
    record_change(db, actor, session, session.status.value)
    await announce(db, WebhookEvent.SESSION_CANCELLED, [session])
    await db.flush()
    await invite_if_ahead(db, session, mailing, ics.CANCEL, now)
    await db.flush()


@dataclass
class RescheduleInput:
    date: str = ""
    time: str = ""
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    anyway: str = ""

    @classmethod
    def of(cls, session: SupervisionSession) -> RescheduleInput:
        local = to_local(session.starts_at)
        return cls(
            date=local.date().isoformat(),
            time=local.strftime("%H:%M"),
            minutes=str(session.duration_minutes),
            place="remote" if session.remote else "address",
            address=session.address,
            meeting_url=session.meeting_url,
        )


async def reschedule_session(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    data: RescheduleInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Move a planned meeting (time, length or place); the change is kept in its history.

    The ICS ``sequence`` grows and everyone gets the update; a new reminder goes out before the
    new time. Held, cancelled and missed sessions can't be moved.
    """
    now = now or clock.now()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "reschedule")
    agreement = session.agreement
    errors: dict[str, str] = {}
    day, at, minutes = check_when(agreement, data.date, data.time, data.minutes, errors)
    place = check_place(data.place, data.address, data.meeting_url, errors)
    if not errors:
        assert day and at and minutes
        start = from_local(day, at)
        busy = await supervisor_busy(
            db,
            session.supervisor_id,
            start,
            start + timedelta(minutes=minutes),
            exclude=session.id,
        )
        hours = await supervisor_hours(db, session.supervisor_id, day, day)
        # What the meeting already had is not asked again: its day, or its day and hours.
        anyway = data.anyway == "on"
        same_day = to_local(session.starts_at).date() == day
        same_time = same_day and session.starts_at == start and session.duration_minutes == minutes
        day_errors(
            check_day(start, minutes, busy, hours(day)),
            day,
            errors,
            anyway_day=anyway or same_day,
            anyway_time=anyway or same_time,
        )
    if errors:
        raise Invalid(errors)
    assert day and at and minutes and place
    old = session.starts_at
    new = from_local(day, at)
    unchanged = (
        new == old
        and minutes == session.duration_minutes
        and place == Place(session.remote, session.address, session.meeting_url)
    )
    if unchanged:
        raise Invalid.field("date", _("Nothing changed: enter a new time, length or place."))
    session.starts_at = new
    session.duration_minutes = minutes
    session.remote, session.address, session.meeting_url = (
        place.remote,
        place.address,
        place.meeting_url,
    )
    session.sequence += 1
    if new != old:
        session.reminder_sent_at = None
    record_change(db, actor, session, "rescheduled" if new != old else "changed", old=old, new=new)
    await db.flush()
    await invite_if_ahead(db, session, mailing, ics.REQUEST, now, update=True)
    await db.flush()
    return session


# --- the manager at an evaluation meeting ---------------------------------------------------
#
# The manager joins an evaluation meeting only on the supervisee's own invitation, given in
# their portal (:mod:`luotsi.tenants.portal.supervisee`). The staff may record that the
# supervisee asked for it: a *request*, kept in the meeting's history and shown in the
# supervisee's portal, which invites nobody until the supervisee confirms it there.

MANAGER_REQUESTED = "manager_requested"
MANAGER_REQUEST_DROPPED = "manager_request_dropped"  # taken back by the staff
MANAGER_REQUEST_DECLINED = "manager_request_declined"  # declined by the supervisee
MANAGER_INVITED = "manager_invited"
MANAGER_UNINVITED = "manager_uninvited"
_MANAGER_CHANGES = (
    MANAGER_REQUESTED,
    MANAGER_REQUEST_DROPPED,
    MANAGER_REQUEST_DECLINED,
    MANAGER_INVITED,
    MANAGER_UNINVITED,
)


async def pending_manager_requests(
    db: AsyncSession, session_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Of ``session_ids``, the meetings with a request for the manager that the supervisee has
    neither confirmed nor declined (and the staff not taken back): the latest manager change."""
    ids = list(session_ids)
    if not ids:
        return set()
    rows = await db.execute(
        select(SessionChange.session_id, SessionChange.kind)
        .where(SessionChange.session_id.in_(ids), SessionChange.kind.in_(_MANAGER_CHANGES))
        .order_by(SessionChange.at, SessionChange.id)
    )
    latest = {session_id: kind for session_id, kind in rows}
    return {session_id for session_id, kind in latest.items() if kind == MANAGER_REQUESTED}


def _require_manager_possible(session: SupervisionSession) -> None:
    if session.kind != MeetingKind.EVALUATION:
        raise Invalid.field("manager", _("The manager can join only an evaluation meeting."))
    _require_planned(session, "manager")
    if session.agreement.manager is None:
        raise Invalid.field("manager", _("The agreement names no manager."))


async def request_manager_invitation(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> SupervisionSession:
    """Record that the supervisee asked for their manager at this evaluation meeting.

    Nobody is invited: the request waits in the supervisee's portal until they confirm it
    (or decline it); it is in the meeting's history under the name of who recorded it.
    """
    session = await get_session(db, actor, session_id)
    if not permissions.can_request_manager_invitation(actor):
        raise NotFound("session")
    _require_manager_possible(session)
    if session.manager_invited_by is not None:
        raise Invalid.field("manager", _("The manager is already invited."))
    if session.id in await pending_manager_requests(db, [session.id]):
        raise Invalid.field("manager", _("The request already waits for the supervisee."))
    record_change(db, actor, session, MANAGER_REQUESTED)
    await db.flush()
    return session


async def drop_manager_request(
    db: AsyncSession, actor: Membership, session: SupervisionSession, kind: str
) -> None:
    """End a request for the manager that still waits for the supervisee: ``kind`` says how
    (the staff took it back, or the supervisee declined it)."""
    if session.id not in await pending_manager_requests(db, [session.id]):
        raise Invalid.field("manager", _("No request for the manager is waiting."))
    record_change(db, actor, session, kind)
    await db.flush()


async def drop_manager_request_as_staff(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> SupervisionSession:
    """The staff take back a request they recorded, before the supervisee confirmed it."""
    session = await get_session(db, actor, session_id)
    if not permissions.can_request_manager_invitation(actor):
        raise NotFound("session")
    await drop_manager_request(db, actor, session, MANAGER_REQUEST_DROPPED)
    return session


async def apply_manager_invitation(
    db: AsyncSession,
    actor: Membership,
    session: SupervisionSession,
    inviter: uuid.UUID,
    mailing: Mailing,
    *,
    now: datetime,
) -> None:
    """Supervisee ``inviter`` invites their manager to this evaluation meeting (the caller has
    checked :func:`permissions.can_invite_manager_to_evaluation`): the only way a manager
    becomes a participant. The manager gets an invitation; the others a notice that the
    participants changed, with the updated calendar entry."""
    _require_manager_possible(session)
    before = await participants(db, session)
    session.manager_invited_by = inviter
    session.manager_invited_at = now
    session.sequence += 1
    record_change(db, actor, session, MANAGER_INVITED)
    await db.flush()
    if session.starts_at > now:
        after = await participants(db, session)
        managers = [p for p in after if p.role == "manager"]
        await send_invitations(db, session, mailing, ics.REQUEST, only=managers, everyone=after)
        await send_invitations(
            db, session, mailing, ics.REQUEST, only=before, everyone=after, manager_joins=True
        )
    await db.flush()


async def withdraw_manager_invitation(
    db: AsyncSession,
    actor: Membership,
    session: SupervisionSession,
    mailing: Mailing,
    *,
    now: datetime,
) -> None:
    """The inviting supervisee takes the invitation back (the caller has checked
    :func:`permissions.can_withdraw_manager_invitation`): the manager gets a cancellation, the
    others a notice that the participants changed."""
    _require_planned(session, "manager")
    if session.manager_invited_by is None:
        raise Invalid.field("manager", _("The manager is not invited."))
    before = await participants(db, session)
    session.manager_invited_by = None
    session.manager_invited_at = None
    session.sequence += 1
    record_change(db, actor, session, MANAGER_UNINVITED)
    await db.flush()
    if session.starts_at > now:
        managers = [p for p in before if p.role == "manager"]
        others = [p for p in before if p.role != "manager"]
        await send_invitations(db, session, mailing, ics.CANCEL, only=managers, everyone=before)
        await send_invitations(
            db, session, mailing, ics.REQUEST, only=others, everyone=others, manager_joins=False
        )
    await db.flush()


@dataclass(frozen=True)
class HistoryLine:
    change: SessionChange
    actor_name: str


async def session_history(db: AsyncSession, session: SupervisionSession) -> list[HistoryLine]:
    """The session's changes, oldest first, with who made them."""
    changes = list(
        await db.scalars(
            select(SessionChange)
            .where(SessionChange.session_id == session.id)
            .order_by(SessionChange.at, SessionChange.id)
        )
    )
    user_ids = {c.actor_user_id for c in changes if c.actor_user_id}
    names = {}
    if user_ids:
        users = await db.scalars(select(User).where(User.id.in_(user_ids)))
        names = {u.id: u.name for u in users}
    return [
        HistoryLine(c, names.get(c.actor_user_id, "") if c.actor_user_id else "") for c in changes
    ]
