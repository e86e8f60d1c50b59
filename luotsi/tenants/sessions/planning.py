"""Planning meetings for an agreement: a series over its term and one-off meetings.

A series is previewed first (each date moved around holidays, weekends and the supervisor's
clashes, within the quota and the term), then confirmed; invitations go out on confirmation.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import parse_date, parse_time
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookEvent
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.sessions import ics
from luotsi.tenants.sessions.models import MeetingKind, SupervisionSession
from luotsi.tenants.sessions.service import (
    MAX_EVERY_WEEKS,
    MAX_SERIES,
    SESSION_MINUTES,
    Busy,
    DayCheck,
    Mailing,
    Place,
    SessionCounts,
    agreement_for_work,
    announce,
    check_day,
    check_in_period,
    check_place,
    check_when,
    choose_supervisor,
    day_errors,
    from_local,
    invite_if_ahead,
    new_session,
    next_free_day,
    parse_int,
    record_change,
    require_active,
    session_counts,
    supervisor_busy,
    supervisor_hours,
)

# --- planning a series ----------------------------------------------------------------------


@dataclass
class SeriesInput:
    """The series form as typed."""

    first_date: str = ""
    time: str = ""
    every_weeks: str = ""
    count: str = ""  # empty: as many as the end date and the quota allow
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    supervisor: str = ""

    @classmethod
    def defaults(
        cls, agreement: Agreement, actor: Membership, last: SupervisionSession | None, today: date
    ) -> SeriesInput:
        """A form that suggests the agreement's cadence and length and the last place used."""
        first = max(today, agreement.start_date)
        return cls(
            first_date=first.isoformat() if first <= agreement.end_date else "",
            time="",
            every_weeks=str(agreement.cadence_weeks),
            minutes=str(agreement.session_minutes),
            place="remote" if last is not None and last.remote else "address",
            address=last.address if last is not None else "",
            meeting_url=last.meeting_url if last is not None else "",
            supervisor=_default_supervisor(agreement, actor, last),
        )


def _default_supervisor(
    agreement: Agreement, actor: Membership, last: SupervisionSession | None
) -> str:
    """The actor if they supervise the agreement, else whoever held the last meeting."""
    if any(s.membership_id == actor.id for s in agreement.supervisors):
        return str(actor.id)
    return str(last.supervisor_id) if last is not None else ""


@dataclass(frozen=True)
class SeriesPlan:
    first_date: date
    at: time
    every_weeks: int
    count: int | None
    minutes: int
    place: Place
    supervisor_id: uuid.UUID


@dataclass(frozen=True)
class Proposal:
    """One date of a series: as the cadence gives it, and where it moves if it must."""

    index: int
    proposed_at: datetime  # UTC
    starts_at: datetime | None  # UTC after a move; None: no free working day before the end
    check: DayCheck
    past: bool

    @property
    def flagged(self) -> bool:
        return not self.check.ok

    @property
    def moved(self) -> bool:
        return self.starts_at is not None and self.starts_at != self.proposed_at


@dataclass(frozen=True)
class SeriesPreview:
    agreement: Agreement
    plan: SeriesPlan
    proposals: list[Proposal]
    counts: SessionCounts
    fit_before_end: int  # how many dates the cadence gives before the agreement ends
    stopped_by: str  # "quota", "end_date" or "count"

    @property
    def requested(self) -> int | None:
        return self.plan.count

    @property
    def over_quota(self) -> bool:
        room = self.counts.remaining
        return self.plan.count is not None and room is not None and self.plan.count > room

    @property
    def past_end(self) -> bool:
        return self.plan.count is not None and self.plan.count > self.fit_before_end

    @property
    def digest(self) -> str:
        """A fingerprint of the proposal; confirming a stale preview is refused."""
        parts = [p.starts_at.isoformat() if p.starts_at else "-" for p in self.proposals]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class SeriesChanged(Invalid):
    """The calendar changed between the preview and the confirmation."""

    def __init__(self, errors: dict[str, str], preview: SeriesPreview) -> None:
        super().__init__(errors)
        self.preview = preview


def _check_series(agreement: Agreement, actor: Membership, data: SeriesInput) -> SeriesPlan:
    errors: dict[str, str] = {}
    first = parse_date(data.first_date)
    if first is None:
        errors["first_date"] = _("Enter the date of the first session, e.g. 3.12.2026.")
    else:
        check_in_period(agreement, first, "first_date", errors)
    at = parse_time(data.time)
    if at is None:
        errors["time"] = _("Enter the time as hours and minutes, e.g. 10:00.")
    every = parse_int(data.every_weeks, 1, MAX_EVERY_WEEKS)
    if every is None:
        errors["every_weeks"] = _("Enter a whole number of weeks from 1 to %(n)d.") % {
            "n": MAX_EVERY_WEEKS
        }
    count = None
    if data.count.strip():
        count = parse_int(data.count, 1, MAX_SERIES)
        if count is None:
            errors["count"] = _("Enter how many sessions, from 1 to %(n)d, or leave it empty.") % {
                "n": MAX_SERIES
            }
    minutes = parse_int(data.minutes, *SESSION_MINUTES)
    if minutes is None:
        errors["minutes"] = _("Enter the length in minutes, from %(low)d to %(high)d.") % {
            "low": SESSION_MINUTES[0],
            "high": SESSION_MINUTES[1],
        }
    place = check_place(data.place, data.address, data.meeting_url, errors)
    supervisor_id = choose_supervisor(agreement, actor, data.supervisor, errors)
    if errors:
        raise Invalid(errors)
    assert first and at and every and minutes and place and supervisor_id
    return SeriesPlan(first, at, every, count, minutes, place, supervisor_id)


async def preview_series(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: SeriesInput,
    *,
    now: datetime | None = None,
) -> SeriesPreview:
    """Step 1 of planning a series: the dates, each flagged and moved where it must be.

    The cadence gives a date every ``every_weeks`` weeks from the first date until the
    agreement's end date, the quota (existing used + planned sessions count) or the requested
    number, whichever comes first. A date on a weekend, a Finnish public holiday, a day the
    supervisor is away (an absence, a day off in their week) or over another meeting of theirs
    (any agreement) moves to the next free working day at the same Helsinki time; if none is
    left before the end date, it cannot be planned. A time outside the supervisor's working
    hours is flagged but not moved.
    """
    agreement = await agreement_for_work(db, actor, agreement_id)
    require_active(agreement)
    plan = _check_series(agreement, actor, data)
    counts = await session_counts(db, agreement)
    room = counts.remaining
    if room == 0:
        raise Invalid.field(
            "series",
            _("The quota of %(quota)d sessions is already used or planned.")
            % {"quota": agreement.session_quota},
        )
    days: list[date] = []
    day = plan.first_date
    while day <= agreement.end_date and len(days) < MAX_SERIES:
        days.append(day)
        day += timedelta(weeks=plan.every_weeks)
    limits = {"end_date": len(days)}
    if room is not None:
        limits["quota"] = room
    if plan.count is not None:
        limits["count"] = plan.count
    # The first of the tightest limits names why the series stops.
    stopped_by = min(limits, key=lambda k: (limits[k], ["count", "end_date", "quota"].index(k)))
    days = days[: limits[stopped_by]]

    now = now or clock.now()
    busy = await supervisor_busy(
        db,
        plan.supervisor_id,
        from_local(plan.first_date, time(0)),
        from_local(agreement.end_date + timedelta(days=1), time(0)),
    )
    hours = await supervisor_hours(db, plan.supervisor_id, plan.first_date, agreement.end_date)
    proposals = []
    for index, day in enumerate(days):
        proposed = from_local(day, plan.at)
        check = check_day(proposed, plan.minutes, busy, hours(day))
        starts: datetime | None = proposed
        if check.blocked:
            starts = next_free_day(day, plan.at, plan.minutes, busy, agreement.end_date, hours)
        if starts is not None:
            # Later dates of the same series must not land on this one.
            busy.append(Busy(None, starts, starts + timedelta(minutes=plan.minutes)))
        proposals.append(Proposal(index, proposed, starts, check, past=proposed <= now))
    return SeriesPreview(agreement, plan, proposals, counts, limits["end_date"], stopped_by)


async def plan_series(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: SeriesInput,
    include: Iterable[int],
    digest: str,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> list[SupervisionSession]:
    """Step 2: create the ticked sessions of the preview, moves applied, and invite everyone.

    Raises :class:`SeriesChanged` (with a fresh preview) if the proposal is no longer what the
    user saw, e.g. another meeting was planned meanwhile.
    """
    now = now or clock.now()
    preview = await preview_series(db, actor, agreement_id, data, now=now)
    if digest != preview.digest:
        raise SeriesChanged(
            {"series": _("The calendar changed meanwhile. Check the dates again and confirm.")},
            preview,
        )
    chosen = set(include)
    wanted = [p for p in preview.proposals if p.index in chosen and p.starts_at is not None]
    if not wanted:
        raise SeriesChanged({"include": _("Tick at least one session to plan.")}, preview)
    plan = preview.plan
    created = []
    for proposal in wanted:
        assert proposal.starts_at is not None
        session = new_session(
            preview.agreement,
            plan.supervisor_id,
            MeetingKind.SESSION,
            proposal.starts_at,
            plan.minutes,
            plan.place,
        )
        db.add(session)
        created.append(session)
    await db.flush()
    for session in created:
        record_change(db, actor, session, "planned", new=session.starts_at)
        await invite_if_ahead(db, session, mailing, ics.REQUEST, now)
    await announce(db, WebhookEvent.SESSION_PLANNED, created)
    await db.flush()
    return created


# --- one-off meetings -----------------------------------------------------------------------


@dataclass
class MeetingInput:
    """A single session, evaluation meeting or review meeting as typed."""

    kind: str = MeetingKind.SESSION.value
    date: str = ""
    time: str = ""
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    supervisor: str = ""
    anyway: str = ""  # "on": plan it on a weekend, a holiday or outside working hours all the same

    @classmethod
    def defaults(
        cls, agreement: Agreement, actor: Membership, last: SupervisionSession | None
    ) -> MeetingInput:
        return cls(
            minutes=str(agreement.session_minutes),
            place="remote" if last is not None and last.remote else "address",
            address=last.address if last is not None else "",
            meeting_url=last.meeting_url if last is not None else "",
            supervisor=_default_supervisor(agreement, actor, last),
        )


async def plan_meeting(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: MeetingInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Plan one session, evaluation meeting or review meeting, and invite its participants.

    A supervision session needs room in the quota; any meeting must fall within the agreement
    and not over another meeting of the supervisor.
    """
    now = now or clock.now()
    agreement = await agreement_for_work(db, actor, agreement_id)
    require_active(agreement)
    errors: dict[str, str] = {}
    try:
        kind = MeetingKind(data.kind)
    except ValueError:
        kind = MeetingKind.SESSION
        errors["kind"] = _("Choose what kind of meeting this is.")
    day, at, minutes = check_when(agreement, data.date, data.time, data.minutes, errors)
    place = check_place(data.place, data.address, data.meeting_url, errors)
    supervisor_id = choose_supervisor(agreement, actor, data.supervisor, errors)
    if kind == MeetingKind.SESSION and (await session_counts(db, agreement)).remaining == 0:
        errors["kind"] = _("The quota of %(quota)d sessions is already used or planned.") % {
            "quota": agreement.session_quota
        }
    if not errors:
        assert day and at and minutes and supervisor_id
        start = from_local(day, at)
        busy = await supervisor_busy(db, supervisor_id, start, start + timedelta(minutes=minutes))
        hours = await supervisor_hours(db, supervisor_id, day, day)
        check = check_day(start, minutes, busy, hours(day))
        anyway = data.anyway == "on"
        day_errors(check, day, errors, anyway_day=anyway, anyway_time=anyway)
    if errors:
        raise Invalid(errors)
    assert day and at and minutes and place and supervisor_id
    session = new_session(agreement, supervisor_id, kind, from_local(day, at), minutes, place)
    db.add(session)
    await db.flush()
    record_change(db, actor, session, "planned", new=session.starts_at)
    await invite_if_ahead(db, session, mailing, ics.REQUEST, now)
    await announce(db, WebhookEvent.SESSION_PLANNED, [session])
    await db.flush()
    return session
