"""The firm's reports for owners and admins: sessions per month, hours per supervisor, quota
use per client organisation and agreement, reviews due and overdue, revenue and receivables.

It lives in billing, the top domain layer, because revenue and receivables read the invoices.
Every figure is counted by the database (GROUP BY), never row by row in Python: five
statements whatever the firm's size, and the page's choices of supervisor come with the hours.
Months are Helsinki months: a session at 00.30 on the 1st in Finland belongs to that month,
whatever UTC says. Nothing here is content: counts, minutes and cents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, and_, case, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from luotsi.billing.models import Invoice, InvoiceStatus
from luotsi.billing.payments import balance_columns
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.paging import Page
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import STAFF_ROLES, Membership, active_member
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.agreements.quota import session_counts_sql
from luotsi.tenants.agreements.service import REVIEW_DUE_SOON_DAYS
from luotsi.tenants.agreements.summaries import names_of
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession

MAX_MONTHS = 36
AGREEMENTS_PER_PAGE = 50
DEFAULT_MONTHS = 12
REPORTED_AGREEMENTS = (AgreementStatus.ACTIVE, AgreementStatus.PAUSED, AgreementStatus.ENDED)
CANCELLED = (SessionStatus.CANCELLED_BY_CLIENT, SessionStatus.CANCELLED_BY_SUPERVISOR)


def default_start(today: date | None = None) -> date:
    """The first month of the default period: the last twelve months, this one included."""
    today = today or clock.today()
    return today.replace(day=1) - relativedelta(months=DEFAULT_MONTHS - 1)


@dataclass(frozen=True)
class ReportFilter:
    """The period (whole months, ``start`` a 1st and ``end`` a last day), and optionally one
    supervisor (a staff membership) and one client organisation."""

    start: date
    end: date
    supervisor_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None

    def months(self) -> list[date]:
        """The first day of each month of the period."""
        months, month = [], self.start
        while month <= self.end:
            months.append(month)
            month += relativedelta(months=1)
        return months

    def check(self) -> None:
        if self.end < self.start:
            raise Invalid.field("to", _("The last month is before the first."))
        if len(self.months()) > MAX_MONTHS:
            raise Invalid.field(
                "to", _("Choose at most %(n)d months at a time.") % {"n": MAX_MONTHS}
            )


@dataclass
class MonthSessions:
    month: date
    held: int = 0
    cancelled: int = 0
    late_cancelled: int = 0
    no_show: int = 0


@dataclass
class SupervisorHours:
    membership_id: uuid.UUID
    name: str
    sessions: int
    minutes: int


@dataclass
class OrgQuota:
    org_id: uuid.UUID
    name: str
    agreements: int
    quota: int  # the agreements' quotas together (open-ended ones have none)
    used: int
    planned: int
    reviews_overdue: int
    reviews_due: int  # within :data:`REVIEW_DUE_SOON_DAYS`


@dataclass
class AgreementQuota:
    agreement_id: uuid.UUID
    org_name: str
    title: str
    supervisees: str
    status: AgreementStatus
    quota: int | None
    used: int
    planned: int


@dataclass
class MonthMoney:
    month: date
    invoiced_cents: int = 0  # issued invoices less credit notes, VAT included
    open_cents: int = 0  # what of them is still unpaid


@dataclass
class Report:
    filters: ReportFilter
    sessions: list[MonthSessions]
    hours: list[SupervisorHours]  # the supervisors with held sessions in the period
    supervisors: list[tuple[uuid.UUID, str]]  # every current staff member, to choose from
    org_choices: list[tuple[uuid.UUID, str]]  # every organisation, archived ones included
    orgs: list[OrgQuota]
    agreements: Page[AgreementQuota]  # one page of them, :data:`AGREEMENTS_PER_PAGE`
    money: list[MonthMoney]

    @property
    def reviews_overdue(self) -> int:
        return sum(org.reviews_overdue for org in self.orgs)

    @property
    def reviews_due(self) -> int:
        return sum(org.reviews_due for org in self.orgs)


def _month_of(column: InstrumentedAttribute[datetime], months: list[date]) -> ColumnElement[int]:
    """The index of the Helsinki month an instant falls in (the query keeps to the period):
    compared with each month's first instant, so both databases agree without time zones."""
    starts = [datetime.combine(month, time(0), HELSINKI).astimezone(UTC) for month in months[1:]]
    if not starts:  # one month: CASE needs a WHEN
        return literal(0)
    return case(
        *((column < start, index) for index, start in enumerate(starts)), else_=len(months) - 1
    )


def _period(filters: ReportFilter) -> tuple[datetime, datetime]:
    first = datetime.combine(filters.start, time(0), HELSINKI).astimezone(UTC)
    after = datetime.combine(filters.end + timedelta(days=1), time(0), HELSINKI).astimezone(UTC)
    return first, after


def _session_conditions(filters: ReportFilter) -> list[ColumnElement[bool]]:
    s = SupervisionSession
    first, after = _period(filters)
    conditions = [s.kind == MeetingKind.SESSION, s.starts_at >= first, s.starts_at < after]
    if filters.supervisor_id is not None:
        conditions.append(s.supervisor_id == filters.supervisor_id)
    if filters.org_id is not None:
        of_org = select(Agreement.id).where(Agreement.org_id == filters.org_id)
        conditions.append(s.agreement_id.in_(of_org))
    return conditions


async def _sessions_per_month(db: AsyncSession, filters: ReportFilter) -> list[MonthSessions]:
    s = SupervisionSession
    months = filters.months()
    cancelled = s.status.in_(CANCELLED)
    rows = (
        select(
            _month_of(s.starts_at, months).label("month"),
            case((s.status == SessionStatus.HELD, 1), else_=0).label("held"),
            case((and_(cancelled, s.late_cancellation.is_(False)), 1), else_=0).label("early"),
            case((and_(cancelled, s.late_cancellation.is_(True)), 1), else_=0).label("late"),
            case((s.status == SessionStatus.NO_SHOW, 1), else_=0).label("no_show"),
        )
        .select_from(s)
        .where(*_session_conditions(filters))
        .subquery("per_session")
    )
    found = await db.execute(
        select(
            rows.c.month,
            func.sum(rows.c.held),
            func.sum(rows.c.early),
            func.sum(rows.c.late),
            func.sum(rows.c.no_show),
        ).group_by(rows.c.month)
    )
    result = [MonthSessions(month) for month in months]
    for index, held, early, late, no_show in found.tuples():
        result[int(index)] = MonthSessions(
            months[int(index)], int(held or 0), int(early or 0), int(late or 0), int(no_show or 0)
        )
    return result


async def _hours(
    db: AsyncSession, filters: ReportFilter
) -> tuple[list[SupervisorHours], list[tuple[uuid.UUID, str]]]:
    """Held sessions and their minutes per staff member (as recorded, else as planned), and
    the current staff to choose from: one statement."""
    s = SupervisionSession
    held = (
        select(
            s.supervisor_id.label("membership_id"),
            func.count().label("sessions"),
            func.sum(func.coalesce(s.actual_minutes, s.duration_minutes)).label("minutes"),
        )
        .select_from(s)
        .where(*_session_conditions(filters), s.status == SessionStatus.HELD)
        .group_by(s.supervisor_id)
        .subquery("held")
    )
    current = and_(Membership.role.in_(STAFF_ROLES), active_member())
    rows = await db.execute(
        select(Membership.id, User.name, current, held.c.sessions, held.c.minutes)
        .join(User, User.id == Membership.user_id)
        .outerjoin(held, held.c.membership_id == Membership.id)
        .where(Membership.role.in_(STAFF_ROLES))
        .order_by(User.name, Membership.id)
    )
    hours, choices = [], []
    for membership_id, name, is_current, sessions, minutes in rows.tuples():
        if is_current:
            choices.append((membership_id, name))
        if sessions:
            hours.append(SupervisorHours(membership_id, name, int(sessions), int(minutes or 0)))
    return hours, choices


def _agreement_conditions(filters: ReportFilter) -> list[ColumnElement[bool]]:
    conditions = [
        Agreement.status.in_(REPORTED_AGREEMENTS),
        Agreement.start_date <= filters.end,
        Agreement.end_date >= filters.start,
    ]
    if filters.org_id is not None:
        conditions.append(Agreement.org_id == filters.org_id)
    if filters.supervisor_id is not None:
        conditions.append(
            Agreement.id.in_(
                select(AgreementSupervisor.agreement_id).where(
                    AgreementSupervisor.membership_id == filters.supervisor_id
                )
            )
        )
    return conditions


async def _quota(
    db: AsyncSession, filters: ReportFilter, today: date, agreement_page: int
) -> tuple[list[OrgQuota], Page[AgreementQuota]]:
    """Quota use of the agreements running in the period (all their sessions, whenever held),
    per organisation with its reviews due and overdue, and per agreement (one page, with the
    count of all of them in the same statement): two statements."""
    used, planned = session_counts_sql()
    per_agreement = (
        select(
            Agreement.id.label("agreement_id"),
            Agreement.org_id.label("org_id"),
            Agreement.session_quota.label("quota"),
            used.label("used"),
            planned.label("planned"),
            case(
                (
                    and_(
                        Agreement.status == AgreementStatus.ACTIVE,
                        Agreement.review_due_on < today,
                    ),
                    1,
                ),
                else_=0,
            ).label("overdue"),
            case(
                (
                    and_(
                        Agreement.status == AgreementStatus.ACTIVE,
                        Agreement.review_due_on >= today,
                        Agreement.review_due_on <= today + timedelta(days=REVIEW_DUE_SOON_DAYS),
                    ),
                    1,
                ),
                else_=0,
            ).label("due"),
        )
        .select_from(Agreement)
        .where(*_agreement_conditions(filters))
        .subquery("per_agreement")
    )
    org = aliased(ClientOrg)
    a = per_agreement.c
    orgs = await db.execute(
        select(
            org.id,
            org.name,
            func.count(),
            func.coalesce(func.sum(a.quota), 0),
            func.sum(a.used),
            func.sum(a.planned),
            func.sum(a.overdue),
            func.sum(a.due),
        )
        .select_from(per_agreement)
        .join(org, org.id == a.org_id)
        .group_by(org.id, org.name)
        .order_by(org.name, org.id)
    )
    per_page = AGREEMENTS_PER_PAGE
    agreements = await db.execute(
        select(Agreement.id, org.name, Agreement.title, names_of(AgreementSupervisee))
        .add_columns(Agreement.status, Agreement.session_quota, used, planned)
        .join(org, org.id == Agreement.org_id)
        .where(*_agreement_conditions(filters))
        .order_by(org.name, Agreement.start_date, Agreement.id)
        .limit(per_page)
        .offset((agreement_page - 1) * per_page)
    )
    per_org = [
        OrgQuota(oid, name, int(n), int(q), int(u or 0), int(p or 0), int(o or 0), int(d or 0))
        for oid, name, n, q, u, p, o, d in orgs.tuples()
    ]
    page = [
        AgreementQuota(aid, name, title, people, status, quota, int(u or 0), int(p or 0))
        for aid, name, title, people, status, quota, u, p in agreements.tuples()
    ]
    total = sum(org.agreements for org in per_org)
    return per_org, Page(page, agreement_page, per_page, total)


async def _money(db: AsyncSession, filters: ReportFilter) -> list[MonthMoney]:
    """Issued invoices less credit notes per month of issue, and what of them is still open
    today: one statement."""
    months = filters.months()
    year = extract("year", Invoice.issued_on).label("year")
    month = extract("month", Invoice.issued_on).label("month")
    balance = balance_columns()
    conditions = [
        Invoice.status == InvoiceStatus.ISSUED,
        Invoice.issued_on >= filters.start,
        Invoice.issued_on <= filters.end,
    ]
    if filters.org_id is not None:
        conditions.append(Invoice.org_id == filters.org_id)
    open_cents = case((balance.open_cents > 0, balance.open_cents), else_=0)
    rows = await db.execute(
        select(year, month, func.sum(Invoice.gross_cents), func.sum(open_cents))
        .select_from(Invoice)
        .where(*conditions)
        .group_by(year, month)
    )
    found = {date(int(y), int(m), 1): (int(g or 0), int(o or 0)) for y, m, g, o in rows.tuples()}
    return [MonthMoney(first, *found.get(first, (0, 0))) for first in months]


async def firm_report(
    db: AsyncSession,
    actor: Membership,
    filters: ReportFilter,
    *,
    agreement_page: int = 1,
    today: date | None = None,
) -> Report:
    """Every figure of the reports page for ``filters`` (:class:`Invalid` for a bad period),
    the per-agreement table as its page ``agreement_page``."""
    require(permissions.can_view_reports(actor), "reports")
    filters.check()
    today = today or clock.today()
    hours, supervisors = await _hours(db, filters)
    orgs, agreements = await _quota(db, filters, today, agreement_page)
    return Report(
        filters,
        await _sessions_per_month(db, filters),
        hours,
        supervisors,
        await _org_choices(db),
        orgs,
        agreements,
        await _money(db, filters),
    )


async def _org_choices(db: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    rows = await db.execute(select(ClientOrg.id, ClientOrg.name).order_by(ClientOrg.name))
    return list(rows.tuples().all())
