"""What the agreement list and the agreement page show: filters, search, summaries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Forbidden
from luotsi.platform.identity import User
from luotsi.platform.paging import Page, Sort
from luotsi.platform.search import contains, search_words
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.acceptance import agreement_terms
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    SUPERVISOR_NAMES,
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
    QuotaReport,
    QuotaUsage,
    overruns_query,
    session_counts,
    session_counts_sql,
    usage_from_counts,
)
from luotsi.tenants.agreements.reviews import (
    REVIEWED_STATUSES,
    ending_conditions,
    review_state,
    reviews_due_conditions,
)
from luotsi.tenants.agreements.service import PARTY_ORDER, visible_to
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.kinds import SupervisionKind

STATUS_FILTERS = ("current", "all", *(s.value for s in AgreementStatus))
AGREEMENT_SORTS = ("organisation", "term", "review")  # the list's sortable columns
AGREEMENT_DEFAULT_SORT = Sort("organisation")
NO_REVIEW = date(9999, 12, 31)  # sorts agreements without a review due after all others


def _ordered(org: Any, sort: Sort) -> list[Any]:
    """ORDER BY of the agreement list and its export: ``sort``'s column, then the
    organisation's name and the latest start first (the default order)."""
    name = func.lower(org.name)
    running = Agreement.status.in_(REVIEWED_STATUSES)
    review = func.coalesce(case((running, Agreement.review_due_on), else_=None), NO_REVIEW)
    return sort.order(
        {
            "organisation": [name, Agreement.start_date.desc()],
            "term": [Agreement.start_date, name],
            "review": [review, name],
        },
        Agreement.id,
    )


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
    """Supervisor names, next review and quota numbers for each agreement (loaded with their
    supervisors' names, :data:`~.models.SUPERVISOR_NAMES`), in one query."""
    today = today or clock.today()
    counts = await session_counts(db, [a.id for a in agreements])
    return [
        summary_of(
            agreement, usage_from_counts(agreement, *counts.get(agreement.id, (0, 0))), today
        )
        for agreement in agreements
    ]


def summary_of(agreement: Agreement, quota: QuotaUsage, today: date) -> AgreementSummary:
    """The summary of one agreement with its quota figures."""
    due = agreement.review_due_on if agreement.is_running else None
    return AgreementSummary(
        agreement=agreement,
        supervisor_names=sorted(s.name for s in agreement.supervisors),
        next_review=due,
        review_state=review_state(due, today) if due else "",
        quota=quota,
    )


async def search_agreements(
    db: AsyncSession,
    actor: Membership,
    filters: AgreementFilter,
    page: int = 1,
    per_page: int = 20,
    sort: Sort = AGREEMENT_DEFAULT_SORT,
) -> Page[AgreementSummary]:
    """Agreements ``actor`` may see that match ``filters``, by organisation name unless
    ``sort`` says otherwise."""
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
        .order_by(*_ordered(org, sort))
        .offset((page - 1) * per_page)
        .limit(per_page)
        .options(*AGREEMENT_NAMES, selectinload(Agreement.supervisors).options(SUPERVISOR_NAMES))
    )
    agreements = list(rows.unique())
    return Page(await summarise(db, agreements), page, per_page, total)


@dataclass
class AgreementOverview:
    """Everything the agreement page shows of the agreement itself (not its sessions)."""

    agreement: Agreement
    summary: AgreementSummary
    terms: list[tuple[str, str]]
    warnings: list[str]
    acceptances: list[Acceptance]  # of the latest sending, by party and name
    reviews: list[Review]  # the latest first
    events: list[AgreementEvent]  # the latest first
    document: AgreementDocument | None  # the latest kept PDF
    user_names: dict[uuid.UUID, str]  # who recorded reviews


async def agreement_overview(
    db: AsyncSession, agreement: Agreement, quota: QuotaReport
) -> AgreementOverview:
    """The agreement page: terms, quota and review dates, acceptances, reviews, history.

    ``agreement`` is one the actor may see, with its parties (:func:`.service.get_agreement`);
    ``quota`` its figures from its sessions (:func:`.quota.quota_report`). Its history (reviews,
    events, the latest round of acceptances and the kept PDF) is one statement more.
    """
    summary = summary_of(agreement, quota.usage, clock.today())
    overview = AgreementOverview(
        agreement=agreement,
        summary=summary,
        terms=agreement_terms(agreement, summary.supervisor_names),
        warnings=quota.warnings,
        acceptances=[],
        reviews=[],
        events=[],
        document=None,
        user_names={},
    )
    for review, recorder, event, acceptance, document in await _history(db, agreement):
        if review is not None:
            overview.reviews.append(review)
            if recorder is not None and review.recorded_by is not None:
                overview.user_names[review.recorded_by] = recorder
        elif event is not None:
            overview.events.append(event)
        elif acceptance is not None:
            overview.acceptances.append(acceptance)
        elif document is not None:
            overview.document = document
    overview.acceptances.sort(key=lambda a: (PARTY_ORDER[a.party], a.person.name))
    return overview


async def _history(
    db: AsyncSession, agreement: Agreement
) -> list[
    tuple[
        Review | None,
        str | None,
        AgreementEvent | None,
        Acceptance | None,
        AgreementDocument | None,
    ]
]:
    """The agreement's reviews (with their recorders' names), events, the acceptances of its
    latest sending and its latest kept PDF, in one statement: the ids of each (a UNION ALL),
    each row joined to its own table; reviews and events in their order, the latest first."""
    latest_round = (
        select(func.max(Acceptance.sent_at))
        .where(Acceptance.agreement_id == agreement.id)
        .scalar_subquery()
    )
    latest_document = (
        select(AgreementDocument.id)
        .where(AgreementDocument.agreement_id == agreement.id)
        .order_by(AgreementDocument.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    keys = union_all(
        select(literal("review").label("kind"), Review.id.label("id")).where(
            Review.agreement_id == agreement.id
        ),
        select(literal("event"), AgreementEvent.id).where(
            AgreementEvent.agreement_id == agreement.id
        ),
        select(literal("acceptance"), Acceptance.id).where(
            Acceptance.agreement_id == agreement.id, Acceptance.sent_at == latest_round
        ),
        select(literal("document"), AgreementDocument.id).where(
            AgreementDocument.id == latest_document
        ),
    ).subquery()
    recorder = aliased(User)
    rows = await db.execute(
        select(Review, recorder.name, AgreementEvent, Acceptance, AgreementDocument)
        .select_from(keys)
        .outerjoin(Review, and_(keys.c.kind == "review", Review.id == keys.c.id))
        .outerjoin(recorder, recorder.id == Review.recorded_by)
        .outerjoin(AgreementEvent, and_(keys.c.kind == "event", AgreementEvent.id == keys.c.id))
        .outerjoin(Acceptance, and_(keys.c.kind == "acceptance", Acceptance.id == keys.c.id))
        .outerjoin(
            AgreementDocument, and_(keys.c.kind == "document", AgreementDocument.id == keys.c.id)
        )
        .order_by(
            Review.held_on.desc(),
            Review.created_at.desc(),
            AgreementEvent.at.desc(),
            AgreementEvent.id,
        )
        .options(joinedload(Acceptance.person))
    )
    return list(rows.tuples())


@dataclass
class Attention:
    """The dashboard's lists of agreements that need attention: at most a limit of each (the
    first ones), with how many there are in all."""

    reviews: list[tuple[Agreement, date]] = field(default_factory=list)  # with the due date
    reviews_total: int = 0
    ending: list[Agreement] = field(default_factory=list)
    ending_total: int = 0
    overruns: list[tuple[Agreement, QuotaUsage]] = field(default_factory=list)
    overruns_total: int = 0


async def needing_attention(
    db: AsyncSession,
    actor: Membership,
    *,
    reviews_within: int,
    ending_within: int,
    limit: int,
    today: date | None = None,
) -> Attention:
    """Agreements ``actor`` may see whose review is due (the earliest first), that end soon
    (the soonest first) or whose sessions exceed the quota (the largest overrun first), in one
    statement: each list ranked and counted by window functions, the three joined by UNION ALL
    (and one more for the supervisees' names)."""
    found = Attention()
    if not permissions.can_work_on_agreements(actor):
        return found
    counts, overruns = overruns_query(actor)
    overrun = counts.c.used + counts.c.planned - Agreement.session_quota
    none = literal(0)

    def ranked(
        panel: str,
        query: Select[tuple[Agreement]],
        order: tuple[Any, ...],
        used: ColumnElement[Any] = none,
        planned: ColumnElement[Any] = none,
    ) -> Select[Any]:
        return query.with_only_columns(
            literal(panel).label("panel"),
            Agreement.id.label("agreement_id"),
            func.row_number().over(order_by=order).label("position"),
            func.count().over().label("total"),
            used.label("used"),
            planned.label("planned"),
        )

    lists = union_all(
        ranked(
            "reviews",
            select(Agreement).where(*reviews_due_conditions(actor, reviews_within, today)),
            (Agreement.review_due_on, Agreement.id),
        ),
        ranked(
            "ending",
            select(Agreement).where(*ending_conditions(actor, ending_within, today)),
            (Agreement.end_date, Agreement.id),
        ),
        ranked(
            "overruns",
            overruns,
            (overrun.desc(), Agreement.id),
            counts.c.used,
            counts.c.planned,
        ),
    ).subquery()
    rows = await db.execute(
        select(Agreement, lists.c.panel, lists.c.total, lists.c.used, lists.c.planned)
        .join(lists, lists.c.agreement_id == Agreement.id)
        .where(lists.c.position <= limit)
        .order_by(lists.c.panel, lists.c.position)
        .options(*AGREEMENT_NAMES)
    )
    for agreement, panel, total, used, planned in rows.tuples():
        if panel == "reviews" and agreement.review_due_on is not None:
            found.reviews.append((agreement, agreement.review_due_on))
            found.reviews_total = int(total)
        elif panel == "ending":
            found.ending.append(agreement)
            found.ending_total = int(total)
        elif panel == "overruns":
            found.overruns.append(
                (agreement, usage_from_counts(agreement, int(used), int(planned)))
            )
            found.overruns_total = int(total)
    return found


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
    db: AsyncSession,
    actor: Membership,
    filters: AgreementFilter,
    sort: Sort = AGREEMENT_DEFAULT_SORT,
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
        .order_by(*_ordered(org, sort))
    )
    return [AgreementExportRow(*row) for row in rows.tuples()]
