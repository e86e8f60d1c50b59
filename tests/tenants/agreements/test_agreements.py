"""Agreements: drafting rules and defaults, quota and review dates, reviews and reminders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import format_money, language
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.agreements import acceptance as agreement_acceptance
from luotsi.tenants.agreements import drafts as agreement_drafts
from luotsi.tenants.agreements import quota as agreement_quota
from luotsi.tenants.agreements import reviews as agreement_reviews
from luotsi.tenants.agreements import service as agreement_service
from luotsi.tenants.agreements import summaries as agreement_summaries
from luotsi.tenants.agreements.drafts import AgreementInput, parse_date, parse_hundredths
from luotsi.tenants.agreements.models import Agreement, AgreementStatus, Pricing
from luotsi.tenants.agreements.reviews import ReviewInput
from luotsi.tenants.agreements.service import max_end_date
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions import service as session_service
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus
from tests import clock
from tests.conftest import Backend, Outbox
from tests.factories import (
    Firms,
    add_agreement,
    add_client_org,
    add_member,
    add_person,
    add_review,
    add_session,
    draft_start,
    make_user,
)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages are asserted in English (the default language is Finnish)."""
    with language("en"):
        yield


def valid_input(firms: Firms, **changes: Any) -> AgreementInput:
    """Firm A's individual agreement for its supervisee from next month, as the form sends it."""
    values = AgreementInput(
        org_id=str(firms.a.org.id),
        supervisor_ids=[str(firms.a.supervisor.id)],
        supervisee_ids=[str(firms.a.supervisee.id)],
        manager_id=str(firms.a.manager.id),
        hr_contact_id=str(firms.a.hr_contact.id),
        start_date=clock.fi(draft_start()),
        session_quota="12",
        price="120",
    )
    for name, value in changes.items():
        setattr(values, name, value)
    return values


async def _count(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(Agreement)) or 0


async def test_a_draft_gets_the_usual_defaults(db: AsyncSession, firms: Firms) -> None:
    agreement = await agreement_drafts.create_agreement(db, firms.a.owner, valid_input(firms))
    assert agreement.status == AgreementStatus.DRAFT
    assert agreement.vat_basis_points == 2550
    assert agreement.cancellation_hours == 24
    assert agreement.review_interval_months == 6
    assert agreement.cadence_weeks == 3
    assert agreement.session_minutes == 60
    assert agreement.reminders_enabled is True
    start = draft_start()  # a first of the month: a year runs to the last of the month before
    year_later = start.replace(year=start.year + 1)
    assert (agreement.start_date, agreement.end_date) == (start, year_later - timedelta(days=1))
    assert agreement.price_cents == 12000 and agreement.price_with_vat_cents == 15060
    events = await agreement_service.list_events(db, agreement)
    assert [(e.kind, e.actor_name) for e in events] == [("created", "Maija Owner")]


async def test_a_draft_is_priced_per_session_unless_the_process_has_a_fixed_price(
    db: AsyncSession, firms: Firms
) -> None:
    per_session = await agreement_drafts.create_agreement(db, firms.a.owner, valid_input(firms))
    assert per_session.pricing == Pricing.PER_SESSION
    fixed = await agreement_drafts.create_agreement(
        db, firms.a.owner, valid_input(firms, pricing="per_process", price="3 000")
    )
    assert (fixed.pricing, fixed.price_cents) == (Pricing.PER_PROCESS, 300000)
    assert AgreementInput.of(fixed).pricing == "per_process"
    with language("en"):
        terms = dict(agreement_acceptance.agreement_terms(fixed, ["Maija Supervisor"]))
        assert "Price per session" not in terms
        price = terms["Price of the process"]  # with VAT 25.5 %: 3 765,00 €
        assert price.startswith(format_money(300000)) and price.endswith(format_money(376500))
        assert "Price per session" in dict(
            agreement_acceptance.agreement_terms(per_session, ["Maija Supervisor"])
        )


@pytest.mark.parametrize(
    ("text", "cents"),
    [("120", 12000), ("120,50", 12050), ("1 234,50", 123450), ("99.5", 9950), ("0", 0)],
)
def test_euros_are_read_as_finns_write_them(text: str, cents: int) -> None:
    assert parse_hundredths(text) == cents


@pytest.mark.parametrize(("text", "basis_points"), [("25,5", 2550), ("0", 0), ("14", 1400)])
def test_vat_rates_are_read_in_per_cent(text: str, basis_points: int) -> None:
    assert parse_hundredths(text) == basis_points


@pytest.mark.parametrize("text", ["", "abc", "1.234,50", "-5", "12,345", "1e3"])
def test_nonsense_amounts_are_refused(text: str) -> None:
    assert parse_hundredths(text) is None


def test_saved_amounts_are_written_back_as_the_reader_writes_them() -> None:
    assert agreement_drafts.decimal_text(12050, cents=True) == "120.50"
    assert agreement_drafts.decimal_text(12000, cents=True) == "120"
    with language("fi"):
        assert agreement_drafts.decimal_text(12050, cents=True) == "120,50"
        assert agreement_drafts.decimal_text(2550, cents=False) == "25,5"
        assert agreement_drafts.decimal_text(1350, cents=False) == "13,5"
        assert parse_hundredths(agreement_drafts.decimal_text(123456, cents=True)) == 123456


def test_dates_are_read_in_finnish_and_iso_form() -> None:
    assert parse_date("1.9.2026") == parse_date("2026-09-01") == date(2026, 9, 1)
    assert parse_date("31.2.2026") is None and parse_date("tomorrow") is None
    assert parse_date("1.9.1850") is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "therapy"}, "kind"),
        ({"org_id": "not-a-uuid"}, "org_id"),
        ({"supervisor_ids": []}, "supervisor_ids"),
        ({"supervisor_ids": ["nonsense"]}, "supervisor_ids"),
        ({"supervisee_ids": []}, "supervisee_ids"),
        ({"manager_id": ""}, "manager_id"),
        ({"hr_contact_id": "not-a-uuid"}, "hr_contact_id"),
        ({"start_date": ""}, "start_date"),
        ({"start_date": "31.2.2027"}, "start_date"),  # no such day
        ({"end_date": lambda start: clock.fi(start - timedelta(days=1))}, "end_date"),
        ({"end_date": lambda start: clock.fi(start.replace(year=start.year + 3))}, "end_date"),
        ({"end_date": "someday"}, "end_date"),
        ({"session_minutes": "44"}, "session_minutes"),
        ({"session_minutes": "91"}, "session_minutes"),
        ({"session_minutes": "sixty"}, "session_minutes"),
        ({"cadence_weeks": "0"}, "cadence_weeks"),
        ({"cadence_weeks": "13"}, "cadence_weeks"),
        ({"session_quota": ""}, "session_quota"),
        ({"session_quota": "0"}, "session_quota"),
        ({"pricing": "per_hour"}, "pricing"),
        ({"pricing": ""}, "pricing"),
        ({"price": ""}, "price"),
        ({"price": "lots"}, "price"),
        ({"price": "-120"}, "price"),
        ({"vat_rate": "100"}, "vat_rate"),
        ({"vat_rate": "x"}, "vat_rate"),
        ({"cancellation_hours": "169"}, "cancellation_hours"),
        ({"review_interval_months": "0"}, "review_interval_months"),
        ({"review_interval_months": "13"}, "review_interval_months"),
        ({"title": "x" * 201}, "title"),
    ],
)
async def test_each_drafting_rule_is_checked_and_nothing_is_saved(
    db: AsyncSession, firms: Firms, changes: dict[str, Any], field: str
) -> None:
    start = draft_start()  # dates given as functions of the draft's start
    changes = {name: value(start) if callable(value) else value for name, value in changes.items()}
    before = await _count(db)
    with pytest.raises(Invalid) as caught:
        await agreement_drafts.create_agreement(db, firms.a.owner, valid_input(firms, **changes))
    assert field in caught.value.errors
    assert await _count(db) == before


async def test_three_years_is_the_longest_term(db: AsyncSession, firms: Firms) -> None:
    start = draft_start()
    third_anniversary = start.replace(year=start.year + 3)  # a first of the month: it exists
    last_day = third_anniversary - timedelta(days=1)
    longest = await agreement_drafts.create_agreement(
        db, firms.a.owner, valid_input(firms, end_date=clock.fi(last_day))
    )
    assert longest.end_date == last_day
    with pytest.raises(Invalid) as caught:
        await agreement_drafts.create_agreement(
            db, firms.a.owner, valid_input(firms, end_date=clock.fi(third_anniversary))
        )
    assert clock.en_date(last_day) in caught.value.errors["end_date"]


async def test_a_term_from_a_leap_day_is_not_a_day_short(db: AsyncSession, firms: Firms) -> None:
    """A year from 29.2.2028 runs to 28.2.2029, the day before its anniversary (1.3.2029 in a
    year without a 29 February); three years run to 28.2.2031. Drafting reads no clock: these
    calendar facts hold on any day."""
    one_year = await agreement_drafts.create_agreement(
        db, firms.a.owner, valid_input(firms, start_date="29.2.2028")
    )
    assert one_year.end_date == date(2029, 2, 28)
    longest = await agreement_drafts.create_agreement(
        db, firms.a.owner, valid_input(firms, start_date="29.2.2028", end_date="28.2.2031")
    )
    assert longest.end_date == date(2031, 2, 28)
    with pytest.raises(Invalid) as caught:
        await agreement_drafts.create_agreement(
            db, firms.a.owner, valid_input(firms, start_date="29.2.2028", end_date="1.3.2031")
        )
    assert "28 Feb 2031" in caught.value.errors["end_date"]
    # A year that takes in a 29 February keeps it.
    through = await agreement_drafts.create_agreement(
        db, firms.a.owner, valid_input(firms, start_date="1.3.2027")
    )
    assert through.end_date == date(2028, 2, 29)


async def test_individual_supervision_has_one_supervisee_and_a_manager(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    second = await add_person(
        clean_db.owner, firms.a.tenant, firms.a.org, PersonRole.SUPERVISEE, "Toinen Ohjattava"
    )
    both = [str(firms.a.supervisee.id), str(second.id)]
    with pytest.raises(Invalid) as two:
        await agreement_drafts.create_agreement(
            db, firms.a.owner, valid_input(firms, supervisee_ids=both)
        )
    assert "exactly one" in two.value.errors["supervisee_ids"]
    with pytest.raises(Invalid) as no_manager:
        await agreement_drafts.create_agreement(
            db, firms.a.owner, valid_input(firms, manager_id="")
        )
    assert "manager" in no_manager.value.errors["manager_id"]
    group = await agreement_drafts.create_agreement(
        db,
        firms.a.owner,
        valid_input(firms, kind="group", supervisee_ids=both, manager_id="", open_ended=True),
    )
    assert group.kind == SupervisionKind.GROUP and group.session_quota is None
    assert sorted(p.name for p in group.supervisee_people) == [
        "Sanna Supervisee",
        "Toinen Ohjattava",
    ]


async def test_people_must_belong_to_the_organisation_in_their_role(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    other_org = await add_client_org(clean_db.owner, firms.a.tenant, "Toinen Oy")
    outsider = await add_person(
        clean_db.owner, firms.a.tenant, other_org, PersonRole.SUPERVISEE, "Ulko Puolinen"
    )
    archived = await add_client_org(
        clean_db.owner, firms.a.tenant, "Vanha Oy", archived_at=clock.now()
    )
    cases = {
        "supervisee_ids": {"supervisee_ids": [str(outsider.id)]},
        "manager_id": {"manager_id": str(firms.a.hr_contact.id)},
        "hr_contact_id": {"hr_contact_id": str(firms.a.manager.id)},
        "org_id": {"org_id": str(archived.id)},
    }
    for field, changes in cases.items():
        with pytest.raises(Invalid) as caught:
            await agreement_drafts.create_agreement(
                db, firms.a.owner, valid_input(firms, **changes)
            )
        assert field in caught.value.errors
    # Firm B's supervisor is no one in firm A.
    with pytest.raises(Invalid) as caught:
        await agreement_drafts.create_agreement(
            db, firms.a.owner, valid_input(firms, supervisor_ids=[str(firms.b.supervisor.id)])
        )
    assert "supervisor_ids" in caught.value.errors


async def test_only_owners_and_admins_draft(db: AsyncSession, firms: Firms) -> None:
    with pytest.raises(Forbidden):
        await agreement_drafts.create_agreement(db, firms.a.supervisor, valid_input(firms))
    assert await agreement_drafts.create_agreement(db, firms.a.admin, valid_input(firms))


async def test_only_a_draft_is_edited(db: AsyncSession, firms: Firms) -> None:
    draft = await agreement_drafts.create_agreement(db, firms.a.owner, valid_input(firms))
    half_year = draft_start() + relativedelta(months=6, days=-1)
    edited = await agreement_drafts.update_draft(
        db,
        firms.a.owner,
        draft.id,
        valid_input(firms, price="130,50", end_date=clock.fi(half_year)),
    )
    assert (edited.price_cents, edited.end_date) == (13050, half_year)
    fixture_end = firms.a.agreement.end_date
    later = clock.fi(fixture_end + relativedelta(months=4))
    with pytest.raises(Invalid) as caught:
        await agreement_drafts.update_draft(
            db, firms.a.owner, firms.a.agreement.id, valid_input(firms, end_date=later)
        )
    assert "status" in caught.value.errors
    fixture = await agreement_service.get_agreement(db, firms.a.owner, firms.a.agreement.id)
    assert fixture.end_date == fixture_end


async def test_next_review_follows_the_last_review_or_the_start(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    agreement = await agreement_service.get_agreement(db, firms.a.owner, firms.a.agreement.id)
    reviews = await agreement_reviews.list_reviews(db, agreement)  # the fixture's, a month ago
    due = firms.a.review.held_on + relativedelta(months=6)
    assert agreement_reviews.next_review_due(agreement, reviews) == due
    assert agreement_reviews.next_review_due(agreement, []) == (
        agreement.start_date + relativedelta(months=6)
    )
    assert agreement_reviews.review_state(due, due - timedelta(days=14)) == "due"
    assert agreement_reviews.review_state(due, due - timedelta(days=15)) == ""
    assert agreement_reviews.review_state(due, due + timedelta(days=1)) == "overdue"


async def test_the_sql_review_date_is_the_python_one_at_month_ends(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    """31st + 1 month is the last day of the next month, as relativedelta has it (SQLite's
    date() would overflow into the month after)."""
    a, today = firms.a, clock.today()
    expected = {}
    for months_ago in range(1, 14):
        # The last day of a month (28th to 31st) about ``months_ago`` months back.
        start = (today - relativedelta(months=months_ago)).replace(day=1) - timedelta(days=1)
        for interval in (1, 6):
            agreement = await add_agreement(
                clean_db.owner,
                a.tenant,
                a.org,
                a.supervisor,
                [a.supervisee],
                start_date=start,
                end_date=start + relativedelta(years=2),
                review_interval_months=interval,
            )
            expected[agreement.id] = agreement_reviews.review_due_after(agreement, None)
    reviewed = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee],
        start_date=today - relativedelta(months=14),
        end_date=today + relativedelta(months=10),
        review_interval_months=1,
    )
    last = (today - relativedelta(months=1)).replace(day=1) - timedelta(days=1)  # a month end
    await add_review(clean_db.owner, a.tenant, reviewed, held_on=last)
    expected[reviewed.id] = agreement_reviews.review_due_after(reviewed, last)

    listed = (await _attention(db, a.owner, reviews=400, limit=100)).reviews
    got = {agreement.id: due for agreement, due in listed if agreement.id in expected}
    assert got == expected


async def _attention(
    db: AsyncSession, actor: Membership, *, reviews: int = 14, ending: int = 60, limit: int = 10
) -> agreement_summaries.Attention:
    """The dashboard's lists: reviews due within ``reviews`` days, agreements ending within
    ``ending`` days and quota overruns, at most ``limit`` of each."""
    return await agreement_summaries.needing_attention(
        db, actor, reviews_within=reviews, ending_within=ending, limit=limit, today=clock.today()
    )


async def test_reviews_due_are_limited_and_counted(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    a, today = firms.a, clock.today()
    for months_ago in range(7, 12):  # five overdue reviews, the oldest the most overdue
        await add_agreement(
            clean_db.owner,
            a.tenant,
            a.org,
            a.supervisor,
            [a.supervisee],
            start_date=today - relativedelta(months=months_ago),
            end_date=today + relativedelta(months=6),
        )
    every = await _attention(db, a.owner, ending=200)
    assert len(every.reviews) == every.reviews_total == 5
    assert len(every.ending) == every.ending_total == 5
    first = await _attention(db, a.owner, ending=200, limit=3)
    assert first.reviews == every.reviews[:3] and first.reviews_total == 5
    assert first.ending == every.ending[:3] and first.ending_total == 5
    for member in (a.supervisor, a.admin):
        assert (await _attention(db, member, limit=2)).reviews_total == 5


async def test_quota_overruns_are_the_largest_first_limited_and_counted(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    a = firms.a
    over = {}
    for planned in (2, 4, 3):  # quota 1: overruns of 1, 3 and 2
        agreement = await add_agreement(
            clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], session_quota=1
        )
        for week in range(planned):
            await add_session(
                clean_db.owner,
                a.tenant,
                agreement,
                a.supervisor,
                starts_at=clock.at(clock.working_day(7 * (week + 1))),
            )
        over[planned] = agreement.id
    listed = (await _attention(db, a.owner)).overruns
    assert [agreement.id for agreement, _usage in listed] == [over[4], over[3], over[2]]
    assert [usage.planned for _agreement, usage in listed] == [4, 3, 2]
    limited = await _attention(db, a.owner, limit=2)
    assert [agreement.id for agreement, _usage in limited.overruns] == [over[4], over[3]]
    assert limited.overruns_total == 3
    assert (await _attention(db, a.supervisor, limit=1)).overruns_total == 3


async def test_reviews_due_and_agreements_ending_are_listed_for_whom_may_see_them(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    today = clock.today()
    # Started 13 months ago, never reviewed, ends in 27 days.
    start = today - relativedelta(months=13)
    admins = await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.admin,
        [firms.a.supervisee],
        start_date=start,
        end_date=today + timedelta(days=27),
    )
    overdue = start + relativedelta(months=6)
    owner = await _attention(db, firms.a.owner)
    assert [(a.id, d) for a, d in owner.reviews] == [(admins.id, overdue)]
    assert [a.id for a in owner.ending] == [admins.id]
    # The fixture's next review: six months after the one a month ago.
    fixture_due = firms.a.review.held_on + relativedelta(months=6)
    within = (fixture_due - today).days
    later = (await _attention(db, firms.a.owner, reviews=within)).reviews
    assert [a.id for a, _d in later] == [admins.id, firms.a.agreement.id]
    supervisor = await _attention(db, firms.a.supervisor)
    assert supervisor.reviews == supervisor.ending == []
    assert supervisor.reviews_total == supervisor.ending_total == 0


async def test_quota_counts_held_and_billable_sessions_and_warns(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    tenant, supervisor = firms.a.tenant, firms.a.supervisor
    small = await add_agreement(
        clean_db.owner,
        tenant,
        firms.a.org,
        supervisor,
        [firms.a.supervisee],
        session_quota=4,
        start_date=date(2026, 1, 1),  # a term of its own around New Year; quotas read no clock
        end_date=date(2026, 12, 31),
    )
    at = datetime(2026, 10, 1, 8, tzinfo=UTC)
    for status, billable in (
        (SessionStatus.HELD, True),
        (SessionStatus.NO_SHOW, True),
        (SessionStatus.CANCELLED_BY_CLIENT, True),  # late: billable
        (SessionStatus.CANCELLED_BY_CLIENT, False),  # in time
        (SessionStatus.CANCELLED_BY_SUPERVISOR, False),
    ):
        await add_session(
            clean_db.owner,
            tenant,
            small,
            supervisor,
            starts_at=at,
            status=status,
            billable=billable,
        )
    await add_session(clean_db.owner, tenant, small, supervisor, starts_at=at)
    # 1.1.2027 00:30 in Helsinki is after the end date 31.12.2026, though still 2026 in UTC.
    late = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    await add_session(clean_db.owner, tenant, small, supervisor, starts_at=late)
    await add_session(
        clean_db.owner, tenant, small, supervisor, starts_at=at, kind=MeetingKind.EVALUATION
    )

    agreement = await agreement_service.get_agreement(db, firms.a.owner, small.id)
    assert await agreement_quota.quota_usage(db, agreement) == (3, 2, 0)
    assert await agreement_quota.sessions_allowed(db, agreement, 5) == 0
    # The agreement page counts the same from the meetings it lists.
    meetings = await session_service.sessions_of_agreement(db, firms.a.owner, agreement)
    report = agreement_quota.quota_report(agreement, meetings)
    assert report.usage == (3, 2, 0)
    assert report.warnings == [
        "3 sessions used and 2 planned exceed the quota of 4 sessions.",
        "1 planned session falls after the end date 31 Dec 2026.",
    ]
    fixture = await agreement_service.get_agreement(db, firms.a.owner, firms.a.agreement.id)
    assert await agreement_quota.quota_usage(db, fixture) == (0, 1, 14)
    assert await agreement_quota.sessions_allowed(db, fixture, 20) == 14
    meetings = await session_service.sessions_of_agreement(db, firms.a.owner, fixture)
    assert agreement_quota.quota_report(fixture, meetings) == ((0, 1, 14), [])


async def test_a_supervisor_sees_only_their_own_agreements(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    others = await add_agreement(
        clean_db.owner, firms.a.tenant, firms.a.org, firms.a.admin, [firms.a.supervisee]
    )
    with pytest.raises(NotFound):
        await agreement_service.get_agreement(db, firms.a.supervisor, others.id)
    page = await agreement_summaries.search_agreements(
        db, firms.a.supervisor, agreement_summaries.AgreementFilter(status="all")
    )
    assert [row.agreement.id for row in page.items] == [firms.a.agreement.id]
    with pytest.raises(NotFound):  # another firm's agreement does not exist here
        await agreement_service.get_agreement(db, firms.a.owner, firms.b.agreement.id)


def _review(**changes: Any) -> ReviewInput:
    """A review held four days ago (after the fixture agreement's start, three months ago)."""
    values = ReviewInput(held_on=clock.fi(clock.days(-4)), decision="continue")
    for name, value in changes.items():
        setattr(values, name, value)
    return values


async def test_extending_needs_a_later_end_date_within_three_years(
    db: AsyncSession, firms: Firms
) -> None:
    today = clock.today()
    agreement_id = firms.a.agreement.id
    end = firms.a.agreement.end_date
    limit = max_end_date(firms.a.agreement.start_date)  # three years (see the leap day test)
    for new_end, message in (
        ("", "new end date"),
        (clock.fi(end), "after"),
        (clock.fi(limit + timedelta(days=1)), "three"),
    ):
        with pytest.raises(Invalid) as caught:
            await agreement_reviews.record_review(
                db,
                firms.a.supervisor,
                agreement_id,
                _review(decision="extend", new_end_date=new_end),
                today=today,
            )
        assert message in caught.value.errors["new_end_date"]
    review = await agreement_reviews.record_review(
        db,
        firms.a.supervisor,
        agreement_id,
        _review(decision="extend", new_end_date=clock.fi(limit)),
        today=today,
    )
    agreement = await agreement_service.get_agreement(db, firms.a.owner, agreement_id)
    assert agreement.end_date == limit and review.new_end_date == limit
    kinds = [(e.kind, e.actor_name) for e in await agreement_service.list_events(db, agreement)]
    assert ("extended", "Maija Supervisor") in kinds and ("reviewed", "Maija Supervisor") in kinds


async def test_a_review_decision_to_end_ends_the_agreement_on_the_review_date(
    db: AsyncSession, firms: Firms
) -> None:
    today, held_on = clock.today(), clock.days(-4)
    await agreement_reviews.record_review(
        db,
        firms.a.owner,
        firms.a.agreement.id,
        _review(decision="end", held_on=clock.fi(held_on)),
        today=today,
    )
    agreement = await agreement_service.get_agreement(db, firms.a.owner, firms.a.agreement.id)
    assert agreement.status == AgreementStatus.ENDED
    assert agreement.end_date == held_on
    assert agreement.status_changed_by == firms.a.owner.user_id
    with pytest.raises(Invalid) as caught:  # an ended agreement is not reviewed again
        await agreement_reviews.record_review(
            db, firms.a.owner, agreement.id, _review(), today=today
        )
    assert "status" in caught.value.errors


async def test_continuing_changes_nothing_but_the_review_clock(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    # Seven months into a year's term, never reviewed: the review is overdue.
    start = clock.today() - relativedelta(months=7)
    end = start + relativedelta(years=1, days=-1)
    running = await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.supervisor,
        [firms.a.supervisee],
        start_date=start,
        end_date=end,
    )
    await agreement_reviews.record_review(
        db, firms.a.supervisor, running.id, _review(), today=clock.today()
    )
    agreement = await agreement_service.get_agreement(db, firms.a.owner, running.id)
    assert (agreement.status, agreement.end_date) == (AgreementStatus.ACTIVE, end)
    reviews = await agreement_reviews.list_reviews(db, agreement)
    # Six months after the review would be past the end: the review is due by the end date.
    assert agreement_reviews.next_review_due(agreement, reviews) == end


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"held_on": lambda start: clock.fi(clock.days(1))}, "held_on"),  # tomorrow
        ({"held_on": lambda start: clock.fi(start - timedelta(days=1))}, "held_on"),  # too early
        ({"held_on": "soon"}, "held_on"),
        ({"decision": "maybe"}, "decision"),
        (
            {"supervisee_present": False, "supervisor_present": False, "manager_present": False},
            "present",
        ),
        ({"note": "x" * 1001}, "note"),
    ],
)
async def test_review_rules(
    db: AsyncSession, firms: Firms, changes: dict[str, Any], field: str
) -> None:
    start = firms.a.agreement.start_date  # dates given as functions of the agreement's start
    changes = {name: value(start) if callable(value) else value for name, value in changes.items()}
    with pytest.raises(Invalid) as caught:
        await agreement_reviews.record_review(
            db, firms.a.owner, firms.a.agreement.id, _review(**changes), today=clock.today()
        )
    assert field in caught.value.errors


async def test_pause_and_resume_are_recorded_with_who(db: AsyncSession, firms: Firms) -> None:
    with pytest.raises(Forbidden):
        await agreement_service.pause_agreement(db, firms.a.supervisor, firms.a.agreement.id)
    paused = await agreement_service.pause_agreement(
        db, firms.a.admin, firms.a.agreement.id, "leave"
    )
    assert paused.status == AgreementStatus.PAUSED
    assert paused.status_changed_by == firms.a.admin.user_id
    with pytest.raises(Invalid):
        await agreement_service.pause_agreement(db, firms.a.admin, firms.a.agreement.id)
    resumed = await agreement_service.resume_agreement(db, firms.a.owner, firms.a.agreement.id)
    assert resumed.status == AgreementStatus.ACTIVE
    events = [
        (e.kind, e.actor_name, e.note) for e in await agreement_service.list_events(db, resumed)
    ]
    assert ("paused", "Maija Admin", "leave") in events and ("resumed", "Maija Owner", "") in events


async def remind_of_reviews(backend: Backend, day: date) -> int:
    """Run the review reminders for every firm as the worker would at noon on ``day``."""
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        job = JOBS["review_reminders"]
        return await run_job(make_sessionmaker(engine), backend.settings, job, clock.at(day, 12))
    finally:
        await engine.dispose()


async def test_review_reminder_goes_once_two_weeks_before(
    clean_db: Backend, firms: Firms, outbox: Outbox
) -> None:
    # Both firms' agreements were reviewed a month ago, every 6 months: due in five months.
    due = firms.a.review.held_on + relativedelta(months=6)
    assert await remind_of_reviews(clean_db, due - timedelta(days=15)) == 0
    assert await remind_of_reviews(clean_db, due - timedelta(days=14)) == 2  # A and B
    assert await remind_of_reviews(clean_db, due - timedelta(days=13)) == 0
    mails = await outbox.deliver()
    to_a = sorted(m.to for m in mails if "alfa" in m.to)
    assert to_a == ["hr@alfa-client.example", "supervisor@alfa.example"]
    reminder = next(m for m in mails if m.to == "supervisor@alfa.example")
    assert clock.fi(due) in reminder.subject and "Esimerkkikunta" in reminder.subject
    # A review held moves the due date; the next one is reminded of in its turn.
    held_on = due - timedelta(days=12)
    await add_review(clean_db.owner, firms.a.tenant, firms.a.agreement, held_on=held_on)
    assert await remind_of_reviews(clean_db, held_on + timedelta(days=1)) == 0
    # A's next review is due six months later, or by the end date if that comes first; B's
    # (still not held) was already reminded of.
    next_due = min(held_on + relativedelta(months=6), firms.a.agreement.end_date)
    assert await remind_of_reviews(clean_db, next_due - timedelta(days=10)) == 1


async def test_paused_and_ended_agreements_get_no_reminder(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    await agreement_service.pause_agreement(db, firms.a.owner, firms.a.agreement.id)
    await db.commit()
    two_weeks_before = firms.b.review.held_on + relativedelta(months=6, days=-14)
    assert await remind_of_reviews(clean_db, two_weeks_before) == 1


async def test_every_agreement_due_is_reminded_of_to_its_own_supervisor(
    clean_db: Backend, firms: Firms, outbox: Outbox
) -> None:
    user = await make_user(clean_db.owner, "toinen@alfa.example", "Toinen Ohjaaja")
    member = await add_member(clean_db.owner, firms.a.tenant, user, Role.SUPERVISOR)
    await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        member,
        [firms.a.supervisee],
        start_date=firms.a.review.held_on - timedelta(days=1),  # never reviewed
    )
    # A week before the fixtures' reviews are due, and this one's (six months from its start).
    week_before = firms.a.review.held_on + relativedelta(months=6, days=-7)
    assert await remind_of_reviews(clean_db, week_before) == 3
    assert "toinen@alfa.example" in [m.to for m in await outbox.deliver()]
