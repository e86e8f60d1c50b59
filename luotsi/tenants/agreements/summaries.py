"""What the agreement list and the agreement page show: filters, search, summaries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Forbidden
from luotsi.platform.identity import User
from luotsi.platform.paging import Page
from luotsi.platform.search import contains, search_words
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.acceptance import (
    agreement_terms,
    current_acceptances,
    latest_document,
)
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    Acceptance,
    Agreement,
    AgreementDocument,
    AgreementEvent,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
)
from luotsi.tenants.agreements.quota import (
    QuotaUsage,
    quota_warnings,
    session_counts,
    session_counts_sql,
    usage_from_counts,
)
from luotsi.tenants.agreements.reviews import (
    REVIEWED_STATUSES,
    last_reviews,
    list_reviews,
    review_due_after,
    review_state,
)
from luotsi.tenants.agreements.service import get_agreement, list_events, staff_names, visible_to
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.kinds import SupervisionKind

STATUS_FILTERS = ("current", "all", *(s.value for s in AgreementStatus))


@dataclass
class AgreementFilter:
    """What the agreement list can be narrowed by. ``current``: everything not yet ended."""

    status: str = "current"
    kind: str = ""
    org_id: uuid.UUID | None = None
    supervisor_id: uuid.UUID | None = None
    text: str = ""

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status == "current":
            conditions.append(Agreement.status != AgreementStatus.ENDED)
        elif self.status in {s.value for s in AgreementStatus}:
            conditions.append(Agreement.status == AgreementStatus(self.status))
        if self.kind in {k.value for k in SupervisionKind}:
            conditions.append(Agreement.kind == SupervisionKind(self.kind))
        if self.org_id is not None:
            conditions.append(Agreement.org_id == self.org_id)
        if self.supervisor_id is not None:
            conditions.append(
                Agreement.id.in_(
                    select(AgreementSupervisor.agreement_id).where(
                        AgreementSupervisor.membership_id == self.supervisor_id
                    )
                )
            )
        for word in search_words(self.text):
            orgs = select(ClientOrg.id).where(contains(ClientOrg.name, word))
            supervisees = (
                select(AgreementSupervisee.agreement_id)
                .join(
                    ClientPerson,
                    and_(
                        ClientPerson.tenant_id == AgreementSupervisee.tenant_id,
                        ClientPerson.id == AgreementSupervisee.person_id,
                    ),
                )
                .where(contains(ClientPerson.name, word))
            )
            conditions.append(
                or_(
                    Agreement.org_id.in_(orgs),
                    Agreement.id.in_(supervisees),
                    contains(Agreement.title, word),
                )
            )
        return conditions


@dataclass
class AgreementSummary:
    """One row of the agreement list."""

    agreement: Agreement
    supervisor_names: list[str]
    next_review: date | None  # None unless active or paused
    review_state: str  # "", "due", "overdue"
    quota: QuotaUsage


async def summarise(
    db: AsyncSession, agreements: list[Agreement], *, today: date | None = None
) -> list[AgreementSummary]:
    """Supervisor names, next review and quota numbers for each agreement, in a few queries."""
    today = today or clock.today()
    ids = [a.id for a in agreements]
    names = await staff_names(db, [s.membership_id for a in agreements for s in a.supervisors])
    last = await last_reviews(db, ids)
    counts = await session_counts(db, ids)
    result = []
    for agreement in agreements:
        due = review_due_after(agreement, last.get(agreement.id)) if agreement.is_running else None
        result.append(
            AgreementSummary(
                agreement=agreement,
                supervisor_names=sorted(
                    names[s.membership_id]
                    for s in agreement.supervisors
                    if s.membership_id in names
                ),
                next_review=due,
                review_state=review_state(due, today) if due else "",
                quota=usage_from_counts(agreement, *counts.get(agreement.id, (0, 0))),
            )
        )
    return result


async def search_agreements(
    db: AsyncSession,
    actor: Membership,
    filters: AgreementFilter,
    page: int = 1,
    per_page: int = 20,
) -> Page[AgreementSummary]:
    """Agreements ``actor`` may see that match ``filters``, by organisation name."""
    if not permissions.can_work_on_agreements(actor):
        raise Forbidden("agreements")
    conditions = [*filters.conditions(), *visible_to(actor)]
    total = await db.scalar(select(func.count()).select_from(Agreement).where(*conditions)) or 0
    page = max(1, min(page, Page.last_page(total, per_page)))
    org = aliased(ClientOrg)
    rows = await db.scalars(
        select(Agreement)
        .join(org, and_(org.tenant_id == Agreement.tenant_id, org.id == Agreement.org_id))
        .where(*conditions)
        .order_by(org.name, Agreement.start_date.desc(), Agreement.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .options(*AGREEMENT_NAMES, selectinload(Agreement.supervisors))
    )
    agreements = list(rows.unique())
    return Page(await summarise(db, agreements), page, per_page, total)


@dataclass
class AgreementOverview:
    """Everything the agreement page shows."""

    agreement: Agreement
    summary: AgreementSummary
    terms: list[tuple[str, str]]
    warnings: list[str]
    acceptances: list[Acceptance]
    reviews: list[Review]
    events: list[AgreementEvent]
    document: AgreementDocument | None
    user_names: dict[uuid.UUID, str]  # who recorded reviews


async def agreement_overview(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> AgreementOverview:
    """The agreement page: terms, quota and review dates, acceptances, reviews, history."""
    agreement = await get_agreement(db, actor, agreement_id)
    (summary,) = await summarise(db, [agreement])
    reviews = await list_reviews(db, agreement)
    recorders = {r.recorded_by for r in reviews if r.recorded_by}
    user_names = (
        dict(
            (await db.execute(select(User.id, User.name).where(User.id.in_(recorders))))
            .tuples()
            .all()
        )
        if recorders
        else {}
    )
    return AgreementOverview(
        agreement=agreement,
        summary=summary,
        terms=agreement_terms(agreement, summary.supervisor_names),
        warnings=await quota_warnings(db, agreement)
        if agreement.status != AgreementStatus.ENDED
        else [],
        acceptances=await current_acceptances(db, agreement),
        reviews=reviews,
        events=await list_events(db, agreement),
        document=await latest_document(db, agreement),
        user_names=user_names,
    )


@dataclass
class AgreementExportRow:
    """One agreement in the list's export: terms, names, counts and dates, never content."""

    org_name: str
    title: str
    kind: SupervisionKind
    status: AgreementStatus
    start_date: date
    end_date: date
    session_minutes: int
    cadence_weeks: int
    session_quota: int | None
    used: int
    planned: int
    review_due_on: date | None
    supervisors: str
    supervisees: str


def names_of(link: type[AgreementSupervisor] | type[AgreementSupervisee]) -> ColumnElement[str]:
    """The names of an agreement's supervisors or supervisees, gathered in SQL."""
    if link is AgreementSupervisor:
        names = (
            select(func.aggregate_strings(User.name, ", "))
            .select_from(AgreementSupervisor)
            .join(Membership, Membership.id == AgreementSupervisor.membership_id)
            .join(User, User.id == Membership.user_id)
            .where(AgreementSupervisor.agreement_id == Agreement.id)
        )
    else:
        names = (
            select(func.aggregate_strings(ClientPerson.name, ", "))
            .select_from(AgreementSupervisee)
            .join(ClientPerson, ClientPerson.id == AgreementSupervisee.person_id)
            .where(AgreementSupervisee.agreement_id == Agreement.id)
        )
    return func.coalesce(names.correlate(Agreement).scalar_subquery(), "")


async def export_agreements(
    db: AsyncSession, actor: Membership, filters: AgreementFilter
) -> list[AgreementExportRow]:
    """Every agreement the list shows with ``filters`` (all pages), in its order, with its
    used and planned sessions (as :func:`~.quota.session_counts` counts them) and the names of
    its supervisors and supervisees: one statement."""
    if not permissions.can_work_on_agreements(actor):
        raise Forbidden("agreements")
    used, planned = session_counts_sql()
    running = Agreement.status.in_(REVIEWED_STATUSES)
    org = aliased(ClientOrg)
    rows = await db.execute(
        select(
            org.name,
            Agreement.title,
            Agreement.kind,
            Agreement.status,
            Agreement.start_date,
            Agreement.end_date,
            Agreement.session_minutes,
            Agreement.cadence_weeks,
            Agreement.session_quota,
            used,
            planned,
            case((running, Agreement.review_due_on), else_=None),
            names_of(AgreementSupervisor),
            names_of(AgreementSupervisee),
        )
        .join(org, and_(org.tenant_id == Agreement.tenant_id, org.id == Agreement.org_id))
        .where(*filters.conditions(), *visible_to(actor))
        .order_by(org.name, Agreement.start_date.desc(), Agreement.id)
    )
    return [AgreementExportRow(*row) for row in rows.tuples()]
