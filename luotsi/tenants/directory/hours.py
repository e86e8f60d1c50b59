"""Staff members' working hours and absences, and the one question planning and calendars ask
of them: when does this person work on this day (:func:`working_windows`)?

A week is one time range per weekday worked (Helsinki wall-clock time). Someone who has not set
their own works the firm's usual week (:func:`firm_week`, set by the office; until then
:data:`DEFAULT_WEEK`). An absence (holiday, sick leave,
other) covers whole days, first and last included; its note is for the person and the office
alone, so what planning and calendars learn is only that the person is away.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time

from sqlalchemy import func, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import parse_date, parse_time
from luotsi.platform.paging import Page, paginate
from luotsi.platform.tenancy import Membership, active_member
from luotsi.tenants.directory.models import (
    Absence,
    AbsenceKind,
    FirmWorkingHours,
    StaffProfile,
    WorkingHours,
)

Window = tuple[time, time]  # from, until (Helsinki time)
WEEKDAYS = range(7)  # 0 Monday ... 6 Sunday
DEFAULT_WEEK: dict[int, Window] = {day: (time(8), time(16)) for day in range(5)}
"""Monday to Friday 8-16: the usual week of a firm that has not set its own."""
MAX_ABSENCE_DAYS = 366  # one absence at most a year long: a longer one is a typing mistake
MAX_NOTE = 300
ABSENCE_OBJECT = "absence"  # the audit log's object type of an absence (never its note)


# --- whose hours ----------------------------------------------------------------------------


async def keeper_profile(
    db: AsyncSession, actor: Membership, profile_id: uuid.UUID
) -> StaffProfile:
    """The profile (with its membership and account) whose hours and absences ``actor`` keeps:
    their own, or anyone's for the office. Not found for colleagues, as their profile forms.
    One statement."""
    profile = await db.scalar(
        select(StaffProfile)
        .where(
            StaffProfile.id == profile_id,
            StaffProfile.membership_id.in_(select(Membership.id).where(active_member())),
        )
        .options(joinedload(StaffProfile.membership).joinedload(Membership.user))
    )
    if profile is None or not permissions.can_keep_working_hours(actor, profile.membership):
        raise NotFound("profile")
    return profile


def _require_keeper(actor: Membership, target: Membership) -> None:
    permissions.require(permissions.can_keep_working_hours(actor, target), "working hours")


# --- the week -------------------------------------------------------------------------------


async def firm_week(db: AsyncSession) -> dict[int, Window]:
    """The firm's usual week by weekday (:data:`DEFAULT_WEEK` until the office sets one)."""
    rows = await db.scalars(select(FirmWorkingHours))
    return {row.weekday: (row.starts_at, row.ends_at) for row in rows} or dict(DEFAULT_WEEK)


def week_runs(week: dict[int, Window]) -> list[tuple[int, int, Window]]:
    """A week as runs of consecutive weekdays with the same hours, for saying it in words:
    ``[(0, 4, (8.00, 16.00))]`` is "Monday to Friday, 8.00-16.00"."""
    runs: list[tuple[int, int, Window]] = []
    for day in sorted(week):
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == week[day]:
            runs[-1] = (runs[-1][0], day, week[day])
        else:
            runs.append((day, day, week[day]))
    return runs


async def own_week(db: AsyncSession, membership_id: uuid.UUID) -> dict[int, Window]:
    """The person's own week by weekday; empty when they work the firm's usual hours."""
    rows = await db.scalars(select(WorkingHours).where(WorkingHours.membership_id == membership_id))
    return {row.weekday: (row.starts_at, row.ends_at) for row in rows}


@dataclass
class WeekInput:
    """The week form as typed: ``own`` off means the firm's usual hours (the days are then
    ignored); per weekday whether it is worked and from when until when."""

    own: bool = False
    works: set[int] = field(default_factory=set)
    starts: dict[int, str] = field(default_factory=dict)
    ends: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, week: dict[int, Window], usual: dict[int, Window]) -> WeekInput:
        """A saved week as the form shows it (the firm's ``usual`` week filled in where none
        is set, and its first day's hours on the days off)."""
        shown = week or usual
        fill = next(iter(shown.values()), DEFAULT_WEEK[0])
        return cls(
            own=bool(week),
            works=set(shown),
            starts={d: shown.get(d, fill)[0].strftime("%H:%M") for d in WEEKDAYS},
            ends={d: shown.get(d, fill)[1].strftime("%H:%M") for d in WEEKDAYS},
        )


def _check_week(data: WeekInput) -> dict[int, Window]:
    errors: dict[str, str] = {}
    week: dict[int, Window] = {}
    for day in sorted(data.works & set(WEEKDAYS)):
        start = parse_time(data.starts.get(day, ""))
        end = parse_time(data.ends.get(day, ""))
        if start is None:
            errors[f"start_{day}"] = _("Enter the time as hours and minutes, e.g. 8:00.")
        if end is None:
            errors[f"end_{day}"] = _("Enter the time as hours and minutes, e.g. 16:00.")
        elif start is not None and end <= start:
            errors[f"end_{day}"] = _("The day must end after it starts.")
        if start is not None and end is not None and end > start:
            week[day] = (start, end)
    if not data.works & set(WEEKDAYS) and not errors:
        errors["works"] = _("Tick at least one working day, or choose the usual hours.")
    if errors:
        raise Invalid(errors)
    return week


async def save_week(
    db: AsyncSession, actor: Membership, target: Membership, data: WeekInput
) -> dict[int, Window]:
    """Set ``target``'s own week, or (``own`` off) return them to the firm's usual hours."""
    _require_keeper(actor, target)
    week = _check_week(data) if data.own else {}
    rows = {
        row.weekday: row
        for row in await db.scalars(
            select(WorkingHours).where(WorkingHours.membership_id == target.id)
        )
    }
    for day, row in rows.items():
        if day not in week:
            await db.delete(row)
    for day, (start, end) in week.items():
        row = rows.get(day) or WorkingHours(membership_id=target.id, weekday=day)
        row.starts_at, row.ends_at = start, end
        db.add(row)
    await db.flush()
    return week


async def save_firm_week(db: AsyncSession, actor: Membership, data: WeekInput) -> dict[int, Window]:
    """Set the firm's usual week, or (``own`` off) return it to :data:`DEFAULT_WEEK`. Everyone
    without a week of their own works it from now on (the office only)."""
    permissions.require(permissions.can_set_firm_hours(actor), "firm working hours")
    week = _check_week(data) if data.own else {}
    rows = {row.weekday: row for row in await db.scalars(select(FirmWorkingHours))}
    for day, row in rows.items():
        if day not in week:
            await db.delete(row)
    for day, (start, end) in week.items():
        row = rows.get(day) or FirmWorkingHours(weekday=day)
        row.starts_at, row.ends_at = start, end
        db.add(row)
    await db.flush()
    return week or dict(DEFAULT_WEEK)


# --- absences -------------------------------------------------------------------------------


@dataclass
class AbsenceInput:
    """An absence as typed: its kind's value, first and last day, and the optional note."""

    kind: str = AbsenceKind.HOLIDAY.value
    starts_on: str = ""
    ends_on: str = ""
    note: str = ""

    @classmethod
    def of(cls, absence: Absence) -> AbsenceInput:
        return cls(
            absence.kind.value,
            absence.starts_on.isoformat(),
            absence.ends_on.isoformat(),
            absence.note,
        )


async def _check_absence(
    db: AsyncSession, target: Membership, data: AbsenceInput, editing: uuid.UUID | None
) -> tuple[AbsenceKind, date, date, str]:
    errors: dict[str, str] = {}
    kind = AbsenceKind.OTHER
    try:
        kind = AbsenceKind(data.kind)
    except ValueError:
        errors["kind"] = _("Choose the kind of absence.")
    first, last = parse_date(data.starts_on), parse_date(data.ends_on)
    if first is None:
        errors["starts_on"] = _("Enter the first day of the absence, e.g. 3.12.2026.")
    if last is None:
        errors["ends_on"] = _("Enter the last day of the absence, e.g. 5.12.2026.")
    elif first is not None and last < first:
        errors["ends_on"] = _("The last day can't be before the first.")
    elif first is not None and (last - first).days + 1 > MAX_ABSENCE_DAYS:
        errors["ends_on"] = _(
            "An absence can be at most %(n)d days long; enter a longer one in parts."
        ) % {"n": MAX_ABSENCE_DAYS}
    note = " ".join(data.note.split())
    if len(note) > MAX_NOTE:
        errors["note"] = i18n.too_long(MAX_NOTE)
    if not errors:
        assert first is not None and last is not None
        conditions = [
            Absence.membership_id == target.id,
            Absence.starts_on <= last,
            Absence.ends_on >= first,
        ]
        if editing is not None:
            conditions.append(Absence.id != editing)
        overlapping = await db.scalar(select(Absence).where(*conditions).limit(1))
        if overlapping is not None:
            errors["starts_on"] = _(
                "These days overlap another absence, %(first)s–%(last)s. Change that one instead."
            ) % {
                "first": i18n.format_date(overlapping.starts_on),
                "last": i18n.format_date(overlapping.ends_on),
            }
    if errors:
        raise Invalid(errors)
    assert first is not None and last is not None
    return kind, first, last, note


async def add_absence(
    db: AsyncSession, actor: Membership, target: Membership, data: AbsenceInput
) -> Absence:
    """Record an absence of ``target``; it may not overlap another of theirs."""
    _require_keeper(actor, target)
    kind, first, last, note = await _check_absence(db, target, data, None)
    absence = Absence(membership_id=target.id, kind=kind, starts_on=first, ends_on=last, note=note)
    db.add(absence)
    await db.flush()
    return absence


async def get_absence(
    db: AsyncSession, actor: Membership, target: Membership, absence_id: uuid.UUID
) -> Absence:
    """One of ``target``'s absences; not found for anyone else's."""
    _require_keeper(actor, target)
    absence = await db.scalar(
        select(Absence).where(Absence.id == absence_id, Absence.membership_id == target.id)
    )
    if absence is None:
        raise NotFound("absence")
    return absence


async def change_absence(
    db: AsyncSession,
    actor: Membership,
    target: Membership,
    absence_id: uuid.UUID,
    data: AbsenceInput,
) -> Absence:
    """Change one of ``target``'s absences (it may not come to overlap another of theirs)."""
    absence = await get_absence(db, actor, target, absence_id)
    kind, first, last, note = await _check_absence(db, target, data, absence.id)
    absence.kind, absence.starts_on, absence.ends_on, absence.note = kind, first, last, note
    await db.flush()
    return absence


async def delete_absence(
    db: AsyncSession, actor: Membership, target: Membership, absence_id: uuid.UUID
) -> None:
    """Delete one of ``target``'s absences (the page asks first)."""
    await db.delete(await get_absence(db, actor, target, absence_id))
    await db.flush()


async def list_absences(
    db: AsyncSession, actor: Membership, target: Membership, page: int = 1, per_page: int = 20
) -> Page[Absence]:
    """``target``'s absences, the latest first (notes included: only keepers get here)."""
    _require_keeper(actor, target)
    conditions = [Absence.membership_id == target.id]
    order = [Absence.starts_on.desc(), Absence.id]
    return await paginate(db, Absence, conditions, order, page, per_page)


# --- what planning and calendars ask ----------------------------------------------------------


async def working_span(db: AsyncSession) -> Window:
    """The earliest start and the latest end of a working day in the firm, of its people's own
    weeks and of the usual week (the firm's, else ours: someone without a week of their own
    works it), absences aside: the hours of everyone's week calendar, in one statement
    however many people the firm has (:func:`working_windows` answers per person and day)."""
    own = (
        select(WorkingHours.starts_at, WorkingHours.ends_at)
        .join(Membership, Membership.id == WorkingHours.membership_id)
        .where(active_member())
    )
    firm = select(FirmWorkingHours.starts_at, FirmWorkingHours.ends_at)
    hours = union_all(own, firm).subquery()
    row = (
        await db.execute(
            select(
                func.min(hours.c.starts_at),
                func.max(hours.c.ends_at),
                select(FirmWorkingHours.id).exists(),
            )
        )
    ).one()
    first, last, firm_has_week = row
    spans = [] if first is None else [(first, last)]
    if not firm_has_week:
        spans += DEFAULT_WEEK.values()
    return min(start for start, _end in spans), max(end for _start, end in spans)


async def working_windows(
    db: AsyncSession, member_ids: Iterable[uuid.UUID], days: Iterable[date]
) -> dict[tuple[uuid.UUID, date], Window | None]:
    """For each staff member and day, the hours they work (Helsinki time), or None when they
    do not work that day: away (an absence) or not a weekday of their week. Public holidays
    are not weighed here (the planner and calendars mark them themselves). Two statements:
    the people's own weeks with the firm's usual one, and the absences."""
    members = list(dict.fromkeys(member_ids))
    wanted = sorted(set(days))
    if not members or not wanted:
        return {}
    weeks: dict[uuid.UUID, dict[int, Window]] = {m: {} for m in members}
    usual: dict[int, Window] = {}
    own = select(
        WorkingHours.membership_id,
        WorkingHours.weekday,
        WorkingHours.starts_at,
        WorkingHours.ends_at,
    ).where(WorkingHours.membership_id.in_(members))
    firm = select(
        null().label("membership_id"),
        FirmWorkingHours.weekday,
        FirmWorkingHours.starts_at,
        FirmWorkingHours.ends_at,
    )
    both = union_all(own, firm).subquery()
    for member_id, weekday, start, end in (await db.execute(select(both))).tuples():
        if member_id is None:  # the firm's usual week
            usual[weekday] = (start, end)
        else:
            weeks[uuid.UUID(str(member_id))][weekday] = (start, end)
    usual = usual or DEFAULT_WEEK
    away: dict[uuid.UUID, list[tuple[date, date]]] = {m: [] for m in members}
    absences = await db.execute(
        select(Absence.membership_id, Absence.starts_on, Absence.ends_on).where(
            Absence.membership_id.in_(members),
            Absence.starts_on <= wanted[-1],
            Absence.ends_on >= wanted[0],
        )
    )
    for member_id, first, last in absences.tuples():
        away[member_id].append((first, last))
    windows: dict[tuple[uuid.UUID, date], Window | None] = {}
    for member_id in members:
        week = weeks[member_id] or usual
        for day in wanted:
            absent = any(first <= day <= last for first, last in away[member_id])
            windows[member_id, day] = None if absent else week.get(day.weekday())
    return windows
