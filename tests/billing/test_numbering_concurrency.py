"""The unbroken series under load: concurrent issuers through separate connections, and a
rolled-back issue that gives its number back."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from luotsi.billing import invoices
from luotsi.billing.models import BillingProfile, Invoice
from luotsi.platform.errors import Invalid
from tests.billing.arrange import add_draft, complete_profile
from tests.conftest import Backend, scoped
from tests.factories import Firms

START = 5000
ISSUERS = 10
DRAFTS = 50


async def _drafts(backend: Backend, firms: Firms, count: int) -> list[uuid.UUID]:
    async with scoped(backend, firms.a.tenant) as db:
        await complete_profile(db, next_number=START)
        ids = [(await add_draft(db, firms.a.org)).id for _ in range(count)]
        await db.commit()
    return ids


async def _numbers_and_counter(backend: Backend, firms: Firms) -> tuple[list[int], int]:
    async with scoped(backend, firms.a.tenant) as db:
        numbers = list(await db.scalars(select(Invoice.number).where(Invoice.number.is_not(None))))
        counter = await db.scalar(select(BillingProfile.next_number))
    assert counter is not None
    return sorted(n for n in numbers if n is not None), counter


async def test_concurrent_issuers_share_one_gapless_series(clean_db: Backend, firms: Firms) -> None:
    if not clean_db.is_postgres:
        pytest.skip(
            "SQLite lets one connection write at a time: concurrent issuing is PostgreSQL's"
        )
    drafts = await _drafts(clean_db, firms, DRAFTS)
    start = asyncio.Event()

    async def issuer(mine: list[uuid.UUID]) -> list[int]:
        # Its own engine and connection through the app's role, as a request on another node.
        taken = []
        async with scoped(clean_db, firms.a.tenant) as db:
            await db.connection()  # connected before the start, so that all race at once
            await start.wait()
            for invoice_id in mine:
                issued = await invoices.issue(db, firms.a.owner, invoice_id)
                assert issued.number is not None
                taken.append(issued.number)
                await db.commit()
        return taken

    tasks = [asyncio.ensure_future(issuer(drafts[i::ISSUERS])) for i in range(ISSUERS)]
    start.set()
    taken = [number for numbers in await asyncio.gather(*tasks) for number in numbers]

    assert sorted(taken) == list(range(START, START + DRAFTS))  # no gap, no duplicate
    numbers, counter = await _numbers_and_counter(clean_db, firms)
    assert numbers == list(range(START, START + DRAFTS))
    assert counter == START + DRAFTS


async def test_a_rolled_back_issue_leaves_no_gap(clean_db: Backend, firms: Firms) -> None:
    first, second = await _drafts(clean_db, firms, 2)
    async with scoped(clean_db, firms.a.tenant) as db:
        abandoned = await invoices.issue(db, firms.a.owner, first)
        assert abandoned.number == START
        await db.rollback()  # e.g. a later step of the request failed
        assert (await invoices.issue(db, firms.a.owner, second)).number == START
        await db.commit()
        assert (await invoices.issue(db, firms.a.owner, first)).number == START + 1
        await db.commit()
    numbers, counter = await _numbers_and_counter(clean_db, firms)
    assert (numbers, counter) == ([START, START + 1], START + 2)


async def test_a_refused_issue_takes_no_number(clean_db: Backend, firms: Firms) -> None:
    [draft] = await _drafts(clean_db, firms, 1)
    async with scoped(clean_db, firms.a.tenant) as db:
        await invoices.issue(db, firms.a.owner, draft)
        await db.commit()
        with pytest.raises(Invalid):
            await invoices.issue(db, firms.a.owner, draft)  # already issued
        await db.rollback()
    assert await _numbers_and_counter(clean_db, firms) == ([START], START + 1)
