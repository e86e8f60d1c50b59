"""``Agreement.review_due_on`` follows whatever moves the next review: the term, the interval
and the reviews, however they change (services, factories), so the review reminders and the
dashboards read only what is due."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.tenants.agreements import drafts as agreement_drafts
from luotsi.tenants.agreements import reviews as agreement_reviews
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.agreements.reviews import ReviewInput
from tests import clock
from tests.conftest import Backend
from tests.factories import Firms, add_agreement, add_review
from tests.tenants.agreements.test_agreements import valid_input


async def stored_due(db: AsyncSession, agreement_id: uuid.UUID) -> date | None:
    return await db.scalar(select(Agreement.review_due_on).where(Agreement.id == agreement_id))


def review(held_on: date, decision: str = "continue", new_end: date | None = None) -> ReviewInput:
    return ReviewInput(
        held_on=clock.fi(held_on),
        decision=decision,
        new_end_date=clock.fi(new_end) if new_end else "",
    )


async def test_the_due_date_is_the_last_review_plus_the_interval_or_the_end_date(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    # The fixture's agreement was reviewed a month ago, every six months.
    a = firms.a
    expected = min(a.review.held_on + relativedelta(months=6), a.agreement.end_date)
    assert await stored_due(db, a.agreement.id) == expected

    # A review added any way (here by the factory, not a service) moves it.
    held_on = clock.days(-2)
    await add_review(clean_db.owner, a.tenant, a.agreement, held_on=held_on)
    expected = min(held_on + relativedelta(months=6), a.agreement.end_date)
    assert await stored_due(db, a.agreement.id) == expected


async def test_a_review_moves_the_due_date_and_an_extension_lets_it_pass_the_old_end(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    today = clock.today()
    start, end = today - timedelta(days=300), today + timedelta(days=60)
    running = await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.supervisor,
        [firms.a.supervisee],
        start_date=start,
        end_date=end,
    )
    assert await stored_due(db, running.id) == start + relativedelta(months=6)  # overdue

    held_on = today - timedelta(days=1)
    await agreement_reviews.record_review(
        db, firms.a.supervisor, running.id, review(held_on), today=today
    )
    assert await stored_due(db, running.id) == end  # six months on would pass the end

    new_end = today + timedelta(days=300)
    await agreement_reviews.record_review(
        db, firms.a.supervisor, running.id, review(today, "extend", new_end), today=today
    )
    assert await stored_due(db, running.id) == today + relativedelta(months=6)
    # The agreement as the service returns it shows the same date.
    agreement = await db.scalar(select(Agreement).where(Agreement.id == running.id))
    assert agreement is not None and agreement.review_due_on == today + relativedelta(months=6)


async def test_editing_a_drafts_start_or_interval_moves_its_due_date(
    db: AsyncSession, firms: Firms
) -> None:
    draft = await agreement_drafts.create_agreement(db, firms.a.owner, valid_input(firms))
    assert draft.review_due_on == draft.start_date + relativedelta(months=6)

    later = draft.start_date + timedelta(days=10)
    changed = valid_input(firms, start_date=clock.fi(later), review_interval_months="3")
    edited = await agreement_drafts.update_draft(db, firms.a.owner, draft.id, changed)
    assert edited.review_due_on == later + relativedelta(months=3)
    assert await stored_due(db, draft.id) == later + relativedelta(months=3)
