"""Outgoing webhooks against a real HTTPS receiver: the events the real service functions
emit arrive once each, signed with the secret shown; a failing receiver is retried with the
outbox's backoff and given up after eight attempts; addresses are checked; the log is pruned."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.billing import invoices, payments
from luotsi.platform import clock, webhooks
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import language
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.mail import Mailer
from luotsi.platform.outbox import MAX_ATTEMPTS, OutboxMessage, backoff, run_once
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookDelivery, WebhookEvent
from luotsi.tenants.agreements import acceptance
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.sessions import changes, planning
from luotsi.tenants.sessions.changes import CancelInput
from luotsi.tenants.sessions.planning import MeetingInput
from luotsi.tenants.sessions.service import Mailing
from tests import clock as test_clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend
from tests.factories import Firm, Firms, add_session
from tests.receiver import Receiver, receiver_fixture  # noqa: F401  (the fixture)

MAILING = Mailing("https://luotsi.example", "Luotsi <no-reply@luotsi.example>")
BASE_URL = "https://luotsi.example"


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[Any]:
    """Runs ``fn(db, member, ...)`` in a transaction of the app's role in ``member``'s firm."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)

    async def call(firm: Firm, member: Membership, fn: Any, *args: Any, **kw: Any) -> Any:
        async with maker() as db, db.begin():
            db.info[TENANT_KEY] = firm.tenant.id
            actor = await db.get_one(
                Membership, (firm.tenant.id, member.id), options=[joinedload(Membership.user)]
            )
            return await fn(db, actor, *args, **kw)

    yield call
    await engine.dispose()


async def deliver(settings: Settings) -> int:
    """Run the worker until nothing is due; returns how many rows it handled."""
    engine = make_engine(settings.runtime_database_url)
    handled = 0
    try:
        while done := await run_once(make_sessionmaker(engine), Mailer(settings)):
            handled += done
    finally:
        await engine.dispose()
    return handled


async def _add(app_db: Any, firm: Firm, url: str, events: Any = tuple(WebhookEvent)) -> Any:
    async def add(db: AsyncSession, actor: Membership) -> Any:
        endpoint = await webhooks.add_endpoint(
            db, actor, url, [e.value for e in events], allow_loopback=True
        )
        return endpoint.id, endpoint.secret

    return await app_db(firm, firm.owner, add)


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in headers["Luotsi-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(parts["v1"], expected.hexdigest())


async def _log(backend: Backend, firm: Firm) -> list[WebhookDelivery]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        query = select(WebhookDelivery).order_by(WebhookDelivery.at, WebhookDelivery.attempt)
        return list(await db.scalars(query))


async def _outbox(backend: Backend, kind: str = "webhook") -> list[OutboxMessage]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        return list(await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


# --- the events of the real service functions -----------------------------------------------


async def _make_every_event(app_db: Any, backend: Backend, a: Firm) -> None:
    """Plan a session and cancel it, mark a past one held, accept an agreement, issue an
    invoice and pay it in full: each through the service function the pages call."""
    day = test_clock.working_day(21)
    meeting = MeetingInput(date=day.isoformat(), time="10:00", minutes="60", address="Salainen 1")

    async def plan(db: AsyncSession, actor: Membership) -> uuid.UUID:
        return (await planning.plan_meeting(db, actor, a.agreement.id, meeting, MAILING)).id

    planned = await app_db(a, a.supervisor, plan)
    cancel = CancelInput(by="supervisor")
    await app_db(a, a.supervisor, changes.cancel_session, planned, cancel, MAILING)
    past = await add_session(
        backend.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=test_clock.at(test_clock.days(-1)),
    )
    await app_db(a, a.supervisor, changes.mark_held, past.id, "55")
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        await db.execute(
            update(Agreement)
            .where(Agreement.id == a.agreement.id)
            .values(status=AgreementStatus.DRAFT)
        )
    await app_db(
        a,
        a.owner,
        lambda db, actor: acceptance.mark_accepted_on_paper(
            db, backend.files, actor, a.agreement.id, confirmed=True, base_url=BASE_URL
        ),
    )

    async def issue_and_pay(db: AsyncSession, actor: Membership) -> None:
        await complete_profile(db)
        draft = await add_draft(db, a.org, Row("Työnohjaus", 10000))
        invoice = await invoices.issue(db, actor, draft.id)
        half = invoice.gross_cents // 2
        await payments.record_payment(db, actor, invoice.id, test_clock.today(), half)
        rest = invoice.gross_cents - half
        await payments.record_payment(db, actor, invoice.id, test_clock.today(), rest)
        # Paid already: an over-payment does not say "paid" again.
        await payments.record_payment(db, actor, invoice.id, test_clock.today(), 100)

    await app_db(a, a.owner, issue_and_pay)


async def test_each_event_of_the_service_functions_arrives_once_signed_with_the_secret_shown(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a, b = firms.a, firms.b
    _a_id, secret = await _add(app_db, a, f"{receiver.base_url}/alfa")
    await _add(app_db, b, f"{receiver.base_url}/beta")
    await _make_every_event(app_db, clean_db, a)

    await deliver(receiver.settings(clean_db.settings))

    received = receiver.to("/alfa")
    assert sorted(r.headers["Luotsi-Event"] for r in received) == sorted(
        e.value for e in WebhookEvent
    )
    assert receiver.to("/beta") == []  # another firm's endpoint hears nothing of firm A
    assert len({r.headers["Luotsi-Delivery"] for r in received}) == len(received)
    for request in received:
        assert request.headers["Content-Type"] == "application/json"
        assert verified(secret, request.headers, request.body)
        assert not verified("whsec_other", request.headers, request.body)
        body = json.loads(request.body)
        assert body["event"] == request.headers["Luotsi-Event"]
        assert body["id"] == request.headers["Luotsi-Delivery"]
    log = await _log(clean_db, a)
    assert [row.outcome for row in log] == ["delivered"] * len(WebhookEvent)
    assert {row.status_code for row in log} == {204}


async def test_payloads_carry_ids_dates_and_statuses_never_content_or_names(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    await _add(app_db, a, f"{receiver.base_url}/alfa")
    await _make_every_event(app_db, clean_db, a)
    await deliver(receiver.settings(clean_db.settings))
    bodies = {r.headers["Luotsi-Event"]: json.loads(r.body) for r in receiver.requests}
    text = " ".join(r.body.decode() for r in receiver.requests)
    for secret_word in (
        "Salainen",  # the meeting's address
        "Kunnantie",
        a.org.name,
        a.supervisee.name,
        a.supervisor.user.name,
        a.supervisor.user.email,
        "Työnohjaus",  # the invoice line's text
        "@",
    ):
        assert secret_word not in text, secret_word
    held = bodies["session_held"]["data"]
    assert held["status"] == "held" and held["actual_minutes"] == 55
    assert bodies["session_cancelled"]["data"]["status"] == "cancelled_by_firm"
    assert bodies["agreement_accepted"]["data"]["agreement_id"] == str(a.agreement.id)
    assert bodies["invoice_paid"]["data"]["open_cents"] == 0
    assert bodies["invoice_issued"]["data"]["number"] >= 1


async def test_only_active_endpoints_subscribed_to_the_event_get_it(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    await _add(app_db, a, f"{receiver.base_url}/invoices", [WebhookEvent.INVOICE_ISSUED])
    off_id, _secret = await _add(app_db, a, f"{receiver.base_url}/off")

    async def switch_off(db: AsyncSession, actor: Membership) -> None:
        endpoint = await webhooks.get_endpoint(db, actor, off_id)
        await webhooks.change_endpoint(
            db, actor, off_id, endpoint.url, endpoint.events, active=False, allow_loopback=True
        )

    await app_db(a, a.owner, switch_off)
    await _make_every_event(app_db, clean_db, a)
    await deliver(receiver.settings(clean_db.settings))
    assert [r.headers["Luotsi-Event"] for r in receiver.requests] == ["invoice_issued"]


# --- retries ----------------------------------------------------------------------------------


async def test_a_failing_receiver_is_retried_with_backoff_and_fails_after_eight_attempts(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    endpoint_id, _secret = await _add(app_db, a, f"{receiver.base_url}/down")
    receiver.status = 500
    await app_db(a, a.owner, webhooks.send_test_event, endpoint_id)
    settings = receiver.settings(clean_db.settings)

    moment = clock.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with time_machine.travel(moment, tick=False):
            assert await deliver(settings) == 1
            # Not due again until its backoff has passed.
            assert await deliver(settings) == 0
        (row,) = await _outbox(clean_db)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert row.status == "pending"
            assert row.next_attempt_at == moment + backoff(attempt)
            moment = row.next_attempt_at
    assert row.status == "failed"
    with time_machine.travel(moment + timedelta(days=1), tick=False):
        assert await deliver(settings) == 0

    assert len(receiver.requests) == MAX_ATTEMPTS
    assert len({r.headers["Luotsi-Delivery"] for r in receiver.requests}) == 1
    log = await _log(clean_db, a)
    assert [row.attempt for row in log] == list(range(1, MAX_ATTEMPTS + 1))
    assert {row.status_code for row in log} == {500}
    assert [row.outcome for row in log] == ["retrying"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert log[0].next_retry_at == log[1].at
    assert log[-1].next_retry_at is None


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    endpoint_id, _secret = await _add(app_db, a, f"{receiver.base_url}/moved")
    receiver.status, receiver.location = 302, f"{receiver.base_url}/elsewhere"
    await app_db(a, a.owner, webhooks.send_test_event, endpoint_id)
    await deliver(receiver.settings(clean_db.settings))
    assert [r.path for r in receiver.requests] == ["/moved"]
    (row,) = await _log(clean_db, a)
    assert (row.status_code, row.outcome) == (302, "retrying")


async def test_a_loopback_address_is_refused_at_delivery_unless_allowed(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    endpoint_id, _secret = await _add(app_db, a, f"{receiver.base_url}/inside")
    await app_db(a, a.owner, webhooks.send_test_event, endpoint_id)
    strict = replace(receiver.settings(clean_db.settings), webhooks_allow_loopback=False)
    await deliver(strict)
    assert receiver.requests == []
    (row,) = await _log(clean_db, a)
    assert row.status_code is None and row.error == "the address is not on the public internet"


# --- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/luotsi",
        "ftp://hooks.example.com/",
        "https://",
        "https://user:pw@hooks.example.com/",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://printer.local/hook",
        "https://169.254.169.254/latest/meta-data",
        "hooks.example.com/luotsi",
    ],
)
def test_an_address_not_https_or_not_public_is_refused(url: str) -> None:
    with language("en"), pytest.raises(Invalid) as caught:
        webhooks.check_url(url, allow_loopback=False)
    assert set(caught.value.errors) == {"url"}


def test_a_public_https_address_is_accepted_and_loopback_only_when_allowed() -> None:
    assert webhooks.check_url(" https://hooks.example.com/x ", allow_loopback=False) == (
        "https://hooks.example.com/x"
    )
    assert webhooks.check_url("https://127.0.0.1:9/x", allow_loopback=True)
    with pytest.raises(Invalid):
        webhooks.check_url("http://127.0.0.1:9/x", allow_loopback=True)


# --- retention ----------------------------------------------------------------------------


async def test_the_delivery_log_is_pruned_after_its_retention(
    clean_db: Backend, firms: Firms, app_db: Any, receiver: Receiver
) -> None:
    a = firms.a
    endpoint_id, _secret = await _add(app_db, a, f"{receiver.base_url}/alfa")
    await app_db(a, a.owner, webhooks.send_test_event, endpoint_id)
    await deliver(receiver.settings(clean_db.settings))
    job = JOBS["webhook_retention"]
    kept = timedelta(days=clean_db.settings.retention.webhook_days)
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        maker = make_sessionmaker(engine)
        soon = clock.now() + kept - timedelta(days=1)
        assert await run_job(maker, clean_db.settings, job, soon) == 0
        assert len(await _log(clean_db, a)) == 1
        later = clock.now() + kept + timedelta(days=1)
        assert await run_job(maker, clean_db.settings, job, later) == 1
    finally:
        await engine.dispose()
    assert await _log(clean_db, a) == []
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        assert await db.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
