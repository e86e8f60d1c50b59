"""Sessions of an agreement against its quota and its term (used, planned, remaining)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, Subquery, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n
from luotsi.platform.i18n import gettext as _
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.agreements.service import visible_to
from luotsi.tenants.sessions.models import (
    MeetingKind,
    SessionStatus,
    SupervisionSession,
    uses_quota,
    uses_quota_sql,
)


class QuotaUsage(NamedTuple):
    """Sessions of an agreement against its quota.

    ``used``: held sessions plus billable cancellations and no-shows; ``planned``: sessions
    still planned; ``remaining``: what the quota leaves to plan (never below 0), or None for an
    open-ended agreement.
    """

    used: int
    planned: int
    remaining: int | None


def usage_from_counts(agreement: Agreement, used: int, planned: int) -> QuotaUsage:
    """The :class:`QuotaUsage` of ``agreement`` from its counts (see :func:`session_counts`)."""
    if agreement.session_quota is None:
        return QuotaUsage(used, planned, None)
    return QuotaUsage(used, planned, max(0, agreement.session_quota - used - planned))


async def session_counts(
    db: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(used, planned) supervision sessions per agreement; other meetings do not count."""
    if not agreement_ids:
        return {}
    s = SupervisionSession
    used = uses_quota_sql()
    rows = await db.execute(
        select(
            s.agreement_id,
            func.sum(case((used, 1), else_=0)),
            func.sum(case((s.status == SessionStatus.PLANNED, 1), else_=0)),
        )
        .where(s.agreement_id.in_(agreement_ids), s.kind == MeetingKind.SESSION)
        .group_by(s.agreement_id)
    )
    return {aid: (int(u or 0), int(p or 0)) for aid, u, p in rows.tuples()}


def session_counts_sql() -> tuple[ColumnElement[int], ColumnElement[int]]:
    """:func:`session_counts` as two scalar subqueries correlated to :class:`Agreement`:
    (used, planned), for a query that selects agreements."""
    s = SupervisionSession
    counted = (
        select(func.count())
        .select_from(s)
        .where(s.agreement_id == Agreement.id, s.kind == MeetingKind.SESSION)
        .correlate(Agreement)
    )
    used = counted.where(uses_quota_sql()).scalar_subquery()
    planned = counted.where(s.status == SessionStatus.PLANNED).scalar_subquery()
    return used, planned


async def quota_usage(db: AsyncSession, agreement: Agreement) -> QuotaUsage:
    """Used, planned and remaining sessions of ``agreement`` (see :class:`QuotaUsage`)."""
    used, planned = (await session_counts(db, [agreement.id])).get(agreement.id, (0, 0))
    return usage_from_counts(agreement, used, planned)


def overruns_query(actor: Membership) -> tuple[Subquery, Select[tuple[Agreement]]]:
    """The per-agreement session counts (a subquery) and the active agreements ``actor`` may
    see whose used and planned sessions exceed the quota, joined to them."""
    s = SupervisionSession
    candidates = (
        Agreement.status == AgreementStatus.ACTIVE,
        *visible_to(actor),
        Agreement.session_quota.is_not(None),
    )
    # Only the sessions of the candidates are counted (few agreements have a quota): grouping
    # the whole firm's sessions read all of them, 42 ms in the largest benchmark firm.
    counts = (
        select(
            s.agreement_id,
            func.sum(case((uses_quota_sql(), 1), else_=0)).label("used"),
            func.sum(case((s.status == SessionStatus.PLANNED, 1), else_=0)).label("planned"),
        )
        .where(
            s.kind == MeetingKind.SESSION,
            s.agreement_id.in_(select(Agreement.id).where(*candidates)),
        )
        .group_by(s.agreement_id)
        .subquery()
    )
    query = (
        select(Agreement)
        .join(counts, counts.c.agreement_id == Agreement.id)
        .where(*candidates, counts.c.used + counts.c.planned > Agreement.session_quota)
    )
    return counts, query


async def sessions_allowed(db: AsyncSession, agreement: Agreement, count: int) -> int:
    """How many of ``count`` new sessions the quota still allows (all of them if open-ended).

    For session planning: plan at most this many; the end date is checked with
    :func:`within_term`.
    """
    usage = await quota_usage(db, agreement)
    if usage.remaining is None:
        return max(0, count)
    return max(0, min(count, usage.remaining))


def within_term(agreement: Agreement, day: date) -> bool:
    """Whether ``day`` (a date in Finland) falls within the agreement's start and end date."""
    return agreement.start_date <= day <= agreement.end_date


def _end_of_term_utc(agreement: Agreement) -> datetime:
    """The first moment after the end date, in UTC (the end date is a day in Finland)."""
    after = datetime.combine(agreement.end_date + timedelta(days=1), time(0), i18n.HELSINKI)
    return after.astimezone(UTC)


class QuotaReport(NamedTuple):
    """An agreement's quota figures and the notices its page shows about them."""

    usage: QuotaUsage
    warnings: list[str]


def quota_report(agreement: Agreement, sessions: Iterable[SupervisionSession]) -> QuotaReport:
    """Used, planned and remaining sessions and the notices for the agreement page (planned
    sessions beyond the quota or the end date), from the agreement's meetings the page has
    loaded anyway: the same rule as :func:`session_counts`, without another query."""
    counted = [s for s in sessions if s.kind == MeetingKind.SESSION]
    planned = [s for s in counted if s.status == SessionStatus.PLANNED]
    usage = usage_from_counts(
        agreement, sum(uses_quota(s.status, s.billable) for s in counted), len(planned)
    )
    warnings: list[str] = []
    quota = agreement.session_quota
    if agreement.status == AgreementStatus.ENDED:
        return QuotaReport(usage, warnings)
    if quota is not None and usage.used + usage.planned > quota:
        warnings.append(
            _(
                "%(used)d sessions used and %(planned)d planned exceed the quota of %(quota)d"
                " sessions."
            )
            % {"used": usage.used, "planned": usage.planned, "quota": quota}
        )
    end = _end_of_term_utc(agreement)
    late = sum(s.starts_at >= end for s in planned)
    if late:
        warnings.append(
            i18n.ngettext(
                "%(num)d planned session falls after the end date %(date)s.",
                "%(num)d planned sessions fall after the end date %(date)s.",
                late,
            )
            % {"num": late, "date": i18n.format_date(agreement.end_date)}
        )
    return QuotaReport(usage, warnings)
