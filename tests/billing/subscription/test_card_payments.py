"""Card payment of client invoices through the firm's connected Stripe account (Connect).

localstripe has no Connect (accounts, OAuth) and no Checkout: the tests play Stripe's part
with signed Connect events (``account`` set, signed with the Connect endpoint's secret), and
arrange a firm's connected account in ``subscriptions`` as the OAuth return would leave it.
What only Stripe can do is listed in docs/decisions.md.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, payments
from luotsi.billing import settings as billing_settings
from luotsi.billing.delivery import send_invoice
from luotsi.billing.models import Invoice, Payment, PaymentSource
from luotsi.billing.payments import InvoiceState
from luotsi.billing.subscription.connect import pay_token
from luotsi.billing.subscription.models import Subscription
from luotsi.platform.clock import HELSINKI
from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.outbox import OutboxMessage
from luotsi.tenants.clients.models import ClientOrg
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.billing.subscription.stripe_side import (
    CONNECT_CLIENT_ID,
    CONNECT_WEBHOOK_SECRET,
    LocalStripe,
    signed_event,
)
from tests.conftest import Backend, Client, scoped
from tests.factories import Firm, Firms, add_content
from tests.test_confidentiality import MARKER, leaks_in
from tests.web.portal.test_portal import _contact

ACCOUNT_A = "acct_alfa_connected"
ACCOUNT_B = "acct_beta_connected"
HR_EMAIL = "helmi.hr@alfa-client.example"


# --- arranging ----------------------------------------------------------------------------


async def connect_account(
    backend: Backend, firm: Firm, account_id: str, charges_enabled: bool = True
) -> None:
    """The firm's Stripe account as the OAuth return leaves it (Stripe only: no localstripe)."""
    async with scoped(backend, firm.tenant) as db:
        db.add(
            Subscription(
                tenant_id=firm.tenant.id,
                connected_account_id=account_id,
                connect_charges_enabled=charges_enabled,
            )
        )
        await db.commit()


async def ready_to_invoice(db: AsyncSession, firm: Firm) -> ClientOrg:
    """The firm's billing profile complete (once) and its organisation's invoicing address."""
    if not await billing_settings.series_started(db):
        await complete_profile(db)
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == firm.org.id))
    assert org is not None
    org.invoice_email = "laskut@esimerkkikunta.example"
    return org


async def issue(backend: Backend, firm: Firm, cents: int = 20000, paid: int = 0) -> Invoice:
    """An issued invoice of ``firm`` to its organisation for ``cents`` (0 % VAT), ``paid``
    of it recorded by hand."""
    async with scoped(backend, firm.tenant) as db:
        org = await ready_to_invoice(db, firm)
        draft = await add_draft(db, org, Row("Ohjauskerrat kesäkuu", cents, vat_basis_points=0))
        invoice = await invoices.issue(db, firm.owner, draft.id)
        if paid:
            await payments.record_payment(db, firm.owner, invoice.id, clock.today(), paid)
        await db.commit()
    return invoice


def checkout_session(
    firm: Firm, invoice: Invoice, amount: int, intent: str = "pi_alfa_1", **overrides: Any
) -> dict[str, Any]:
    """A completed Checkout Session on the firm's account, as our route made it."""
    return {
        "id": f"cs_{uuid.uuid4().hex[:16]}",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
        "amount_total": amount,
        "currency": "eur",
        "payment_intent": intent,
        "metadata": {"tenant_id": str(firm.tenant.id), "invoice_id": str(invoice.id)},
        **overrides,
    }


async def deliver(
    http: httpx.AsyncClient, event_type: str, data: dict[str, Any], **signing: Any
) -> httpx.Response:
    signing.setdefault("secret", CONNECT_WEBHOOK_SECRET)
    body, headers = signed_event(event_type, data, **signing)
    response = await http.post("/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def card_payments(backend: Backend, firm: Firm) -> list[Payment]:
    async with scoped(backend, firm.tenant) as db:
        return list(await db.scalars(select(Payment).where(Payment.source == PaymentSource.CARD)))


async def state_of(backend: Backend, firm: Firm, invoice: Invoice) -> payments.Balance:
    async with scoped(backend, firm.tenant) as db:
        return await payments.balance_of(db, invoice.id)


def text_of(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


async def signed_in(app: Litestar, email: str) -> Client:
    client = Client(app)
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(email)
    return client


# --- the webhook records the payment ------------------------------------------------------


async def test_a_completed_checkout_marks_the_invoice_paid_on_its_finnish_day(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    invoice = await issue(stripe_db, firms.a, 20000)
    # Half past midnight in Helsinki is the previous day in UTC: the Finnish day counts.
    made = datetime.combine(clock.days(-1), time(0, 30), tzinfo=HELSINKI)
    assert made.astimezone(UTC).date() == clock.days(-2)
    data = checkout_session(firms.a, invoice, 20000, customer_details={"name": "Kunta Oy"})
    response = await deliver(
        stripe_http, "checkout.session.completed", data, account=ACCOUNT_A, created=made
    )
    assert response.json() == {"received": "processed"}

    [payment] = await card_payments(stripe_db, firms.a)
    assert (payment.invoice_id, payment.amount_cents, payment.paid_on) == (
        invoice.id,
        20000,
        clock.days(-1),
    )
    assert payment.archive_ref == "pi_alfa_1" and payment.payer == "Kunta Oy"
    assert payment.reference == invoice.reference
    assert (await state_of(stripe_db, firms.a, invoice)).state is InvoiceState.PAID
    assert await card_payments(stripe_db, firms.b) == []


async def test_a_part_payment_leaves_the_invoice_partly_paid(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    invoice = await issue(stripe_db, firms.a, 20000)
    data = checkout_session(firms.a, invoice, 7550)
    await deliver(stripe_http, "checkout.session.completed", data, account=ACCOUNT_A)
    balance = await state_of(stripe_db, firms.a, invoice)
    assert (balance.state, balance.open_cents) == (InvoiceState.PARTLY_PAID, 12450)


async def test_a_repeated_event_or_another_about_the_same_payment_adds_one_payment(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    invoice = await issue(stripe_db, firms.a, 20000)
    data = checkout_session(firms.a, invoice, 20000)
    first = await deliver(
        stripe_http, "checkout.session.completed", data, account=ACCOUNT_A, event_id="evt_c1"
    )
    again = await deliver(
        stripe_http, "checkout.session.completed", data, account=ACCOUNT_A, event_id="evt_c1"
    )
    other = await deliver(
        stripe_http, "checkout.session.completed", data, account=ACCOUNT_A, event_id="evt_c2"
    )
    assert [r.json()["received"] for r in (first, again, other)] == [
        "processed",
        "duplicate",
        "processed",
    ]
    assert len(await card_payments(stripe_db, firms.a)) == 1
    assert (await state_of(stripe_db, firms.a, invoice)).state is InvoiceState.PAID


async def test_events_that_do_not_add_up_write_nothing(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient, caplog: Any
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    await connect_account(stripe_db, firms.b, ACCOUNT_B)
    invoice_a = await issue(stripe_db, firms.a, 20000)
    invoice_b = await issue(stripe_db, firms.b, 20000)
    wrong = [
        # An account no firm has connected.
        ("acct_unknown", checkout_session(firms.a, invoice_a, 20000)),
        # Firm A's account, but the metadata names firm B (and B's invoice).
        (ACCOUNT_A, checkout_session(firms.b, invoice_b, 20000)),
        # Firm A's account and tenant, but firm B's invoice.
        (
            ACCOUNT_A,
            checkout_session(
                firms.a,
                invoice_a,
                20000,
                metadata={"tenant_id": str(firms.a.tenant.id), "invoice_id": str(invoice_b.id)},
            ),
        ),
        # Firm B's account for firm A's invoice.
        (ACCOUNT_B, checkout_session(firms.a, invoice_a, 20000)),
        # Not paid yet.
        (ACCOUNT_A, checkout_session(firms.a, invoice_a, 20000, payment_status="unpaid")),
    ]
    for account, data in wrong:
        response = await deliver(stripe_http, "checkout.session.completed", data, account=account)
        assert response.status_code == 200
    # Luotsi's own Checkout (no account): not a client's payment either.
    await deliver(
        stripe_http,
        "checkout.session.completed",
        checkout_session(firms.a, invoice_a, 20000),
        secret="whsec_luotsi_not_a_real_secret",
    )
    assert await card_payments(stripe_db, firms.a) == []
    assert await card_payments(stripe_db, firms.b) == []
    assert (await state_of(stripe_db, firms.a, invoice_a)).state is InvoiceState.OPEN


async def test_account_events_turn_charges_on_and_off_and_deauthorising_forgets_it(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A, charges_enabled=False)
    account = {"id": ACCOUNT_A, "object": "account", "charges_enabled": True}
    await deliver(stripe_http, "account.updated", account, account=ACCOUNT_A)
    async with scoped(stripe_db, firms.a.tenant) as db:
        row = await db.get(Subscription, firms.a.tenant.id)
        assert row is not None and row.connect_charges_enabled
    application = {"id": "ca_x", "object": "application"}
    await deliver(stripe_http, "account.application.deauthorized", application, account=ACCOUNT_A)
    async with scoped(stripe_db, firms.a.tenant) as db:
        row = await db.get(Subscription, firms.a.tenant.id)
        assert row is not None
        assert (row.connected_account_id, row.connect_charges_enabled) == (None, False)


# --- where the link shows -----------------------------------------------------------------


async def portal_page(app: Litestar, backend: Backend, firm: Firm) -> tuple[Client, httpx.Response]:
    await _contact(backend, firm, firm.org, HR_EMAIL)
    hr = await signed_in(app, HR_EMAIL)
    return hr, await hr.get(f"/t/{firm.slug}/portal/invoices")


async def test_the_portal_offers_card_payment_for_open_invoices_only(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    open_ = await issue(stripe_db, firms.a, 20000)
    paid = await issue(stripe_db, firms.a, 10000, paid=10000)
    hr, page = await portal_page(stripe_app, stripe_db, firms.a)
    assert page.status_code == 200
    assert f"/portal/invoices/{open_.id}/pay" in page.text
    # Its form leads by redirect to Stripe's Checkout, which the policy must let it reach.
    assert page.headers["content-security-policy"].endswith(
        "; form-action 'self' https://checkout.stripe.com"
    )
    assert f"/portal/invoices/{paid.id}/pay" not in page.text
    assert "Already paid" in text_of(page)
    # The button reaches our route, which asks Stripe for Checkout: localstripe has none, so
    # the contact is told card payment is not available now (never a 500).
    refused = await hr.post(f"/t/{firms.a.slug}/portal/invoices/{open_.id}/pay")
    assert refused.status_code == 409
    assert "Card payment is not available right now" in text_of(refused)
    # A paid invoice is not paid twice.
    twice = await hr.post(f"/t/{firms.a.slug}/portal/invoices/{paid.id}/pay")
    assert twice.status_code == 409 and "already been paid" in text_of(twice)


@pytest.mark.parametrize("connected", ["nothing", "charges_disabled"])
async def test_no_card_payment_without_an_account_that_takes_charges(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms, connected: str
) -> None:
    if connected == "charges_disabled":
        await connect_account(stripe_db, firms.a, ACCOUNT_A, charges_enabled=False)
    invoice = await issue(stripe_db, firms.a, 20000)
    hr, page = await portal_page(stripe_app, stripe_db, firms.a)
    assert page.status_code == 200 and str(invoice.number) in page.text
    assert "/pay" not in page.text and "Pay by card" not in page.text
    refused = await hr.post(f"/t/{firms.a.slug}/portal/invoices/{invoice.id}/pay")
    assert refused.status_code == 404
    async with scoped(stripe_db, firms.a.tenant) as db:
        await send_invoice(db, stripe_db.files, firms.a.owner, invoice.id, stripe_db.settings)
        await db.commit()
    assert "/pay/" not in (await emailed(stripe_db))["text"]


async def test_without_stripe_keys_nothing_of_card_payments_shows(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await connect_account(clean_db, firms.a, ACCOUNT_A)  # left over from before, say
    invoice = await issue(clean_db, firms.a, 20000)
    _hr, page = await portal_page(app, clean_db, firms.a)
    assert page.status_code == 200 and "Pay by card" not in page.text
    owner = await signed_in(app, firms.a.owner.user.email)
    settings = await owner.get(f"/t/{firms.a.slug}/billing/settings/")
    assert settings.status_code == 200 and "Card payments" not in settings.text
    token = pay_token(
        clean_db.settings.secret_key, firms.a.tenant.id, invoice.id, clock.now() + timedelta(1)
    )
    assert (await owner.get(f"/pay/{firms.a.slug}/{token}")).status_code == 404
    assert (await owner.get("/stripe/connect/return?state=x&code=y")).status_code == 404
    async with scoped(clean_db, firms.a.tenant) as db:
        await send_invoice(db, clean_db.files, firms.a.owner, invoice.id, clean_db.settings)
        await db.commit()
    assert "/pay/" not in (await emailed(clean_db))["text"]


# --- the e-mailed link and its page -------------------------------------------------------


async def emailed(backend: Backend) -> dict[str, Any]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        [row] = list(await db.scalars(select(OutboxMessage)))
    return dict(row.payload)


def pay_path(payload: dict[str, Any]) -> str:
    found = re.search(r"https?://[^/\s]+(/pay/\S+)", payload["text"])
    assert found, payload["text"]
    return found.group(1)


async def test_the_invoice_email_links_to_a_page_that_shows_only_number_amount_and_firm(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    invoice = await issue(stripe_db, firms.a, 20000, paid=5000)
    async with scoped(stripe_db, firms.a.tenant) as db:
        await send_invoice(db, stripe_db.files, firms.a.owner, invoice.id, stripe_db.settings)
        await db.commit()
    payload = await emailed(stripe_db)
    path = pay_path(payload)
    assert path in payload["html"]

    visitor = Client(stripe_app)  # nobody signed in
    visitor.client.cookies.set("luotsi_lang", "en")
    page = await visitor.get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].endswith(
        "; form-action 'self' https://checkout.stripe.com"
    )
    shown = text_of(page)
    assert f"Invoice {invoice.number} from {firms.a.tenant.name}" in shown
    assert "150,00" in shown  # the open sum, not the invoice's 200,00
    assert "200,00" not in shown
    for private in (firms.a.org.name, "Ohjauskerrat", invoice.reference):
        assert private not in shown
    assert page.headers["cache-control"] == "private, no-store"

    # Its button asks Stripe for Checkout on the firm's account: not on localstripe.
    refused = await visitor.post(path)
    assert refused.status_code == 409
    assert "Card payment is not available right now" in text_of(refused)

    # Paid in full meanwhile: the page says so and offers nothing.
    async with scoped(stripe_db, firms.a.tenant) as db:
        await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), 15000)
        await db.commit()
    paid = await visitor.get(path)
    assert paid.status_code == 200 and "already been paid" in text_of(paid)
    assert "<form" not in paid.text.split("<main", 1)[-1]


async def test_paid_and_credited_invoices_are_emailed_without_a_link(
    stripe_db: Backend, firms: Firms
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    invoice = await issue(stripe_db, firms.a, 20000, paid=20000)
    async with scoped(stripe_db, firms.a.tenant) as db:
        await send_invoice(db, stripe_db.files, firms.a.owner, invoice.id, stripe_db.settings)
        await db.commit()
    assert "/pay/" not in (await emailed(stripe_db))["text"]


async def test_payment_reminders_offer_the_same_link_as_the_invoice_email(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)  # firm B takes no cards
    invoices_of = {firm.slug: await issue(stripe_db, firm, 20000) for firm in (firms.a, firms.b)}
    due_on = invoices_of[firms.a.slug].due_on
    assert due_on is not None
    engine = make_engine(stripe_db.settings.runtime_database_url)
    try:  # the worker's job, a week past the due date
        week_late = clock.at(due_on + timedelta(days=7), 12)
        job = JOBS["payment_reminders"]
        assert await run_job(make_sessionmaker(engine), stripe_db.settings, job, week_late) == 2
    finally:
        await engine.dispose()
    async with unscoped_session(make_sessionmaker(stripe_db.owner)) as db:
        rows = list(await db.scalars(select(OutboxMessage)))
    by_firm = {row.tenant_id: row.payload for row in rows}
    reminder_b = by_firm[firms.b.tenant.id]
    assert "/pay/" not in reminder_b["text"] + reminder_b["html"]
    reminder_a = by_firm[firms.a.tenant.id]
    path = pay_path(reminder_a)
    assert f'href="{stripe_db.settings.base_url}{path}"' in reminder_a["html"]

    visitor = Client(stripe_app)
    visitor.client.cookies.set("luotsi_lang", "en")
    page = await visitor.get(path)
    assert page.status_code == 200
    assert f"Invoice {invoices_of[firms.a.slug].number} from {firms.a.tenant.name}" in text_of(page)


@pytest.mark.parametrize("flaw", ["expired", "tampered", "other_invoice", "other_firm"])
async def test_a_link_that_is_not_genuine_and_current_is_404(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms, flaw: str
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    await connect_account(stripe_db, firms.b, ACCOUNT_B)
    invoice = await issue(stripe_db, firms.a, 20000)
    secret, tenant = stripe_db.settings.secret_key, firms.a.tenant.id
    valid = pay_token(secret, tenant, invoice.id, clock.now() + timedelta(days=1))
    visitor = Client(stripe_app)
    assert (await visitor.get(f"/pay/{firms.a.slug}/{valid}")).status_code == 200  # control
    slug = firms.a.slug
    if flaw == "expired":
        token = pay_token(secret, tenant, invoice.id, clock.now() - timedelta(seconds=1))
    elif flaw == "tampered":
        other = await issue(stripe_db, firms.a, 100)
        token = other.id.hex + valid[32:]
    elif flaw == "other_invoice":
        token = pay_token(secret, tenant, uuid.uuid4(), clock.now() + timedelta(days=1))
    else:  # firm A's genuine token on firm B's address
        slug = firms.b.slug
        token = valid
    for method in ("GET", "POST"):
        response = await visitor.request(method, f"/pay/{slug}/{token}")
        assert response.status_code == 404, method
        assert "Pay by card" not in response.text


async def test_no_confidential_content_reaches_the_email_or_the_pay_page(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    """An invoice billing a session whose content is marked (tests/test_confidentiality.py)."""
    await add_content(stripe_db, firms.a, MARKER)
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    async with scoped(stripe_db, firms.a.tenant) as db:
        org = await ready_to_invoice(db, firms.a)
        row = Row("Työnohjaus", 12000, session_id=firms.a.session.id)
        draft = await add_draft(db, org, row)
        invoice = await invoices.issue(db, firms.a.owner, draft.id)
        await send_invoice(db, stripe_db.files, firms.a.owner, invoice.id, stripe_db.settings)
        await db.commit()
    payload = await emailed(stripe_db)
    assert MARKER not in payload["text"] and MARKER not in payload["html"]
    page = await Client(stripe_app).get(pay_path(payload))
    assert page.status_code == 200 and str(invoice.number) in page.text  # control
    assert not leaks_in(page)


# --- connecting the firm's account --------------------------------------------------------


async def start(owner: Client, firm: Firm) -> dict[str, list[str]]:
    """The owner presses Connect: off to Stripe's OAuth page; its query."""
    response = await owner.post(f"/t/{firm.slug}/billing/settings/card-payments/connect")
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def test_the_owner_is_sent_to_stripes_oauth_for_a_standard_account(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    owner = await signed_in(stripe_app, firms.a.owner.user.email)
    settings = await owner.get(f"/t/{firms.a.slug}/billing/settings/")
    assert "Connect your Stripe account" in settings.text
    policy = settings.headers["content-security-policy"]
    assert policy.endswith("; form-action 'self' https://connect.stripe.com")
    response = await owner.post(f"/t/{firms.a.slug}/billing/settings/card-payments/connect")
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == localstripe.base
    assert location.path == "/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [CONNECT_CLIENT_ID]
    assert query["scope"] == ["read_write"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{stripe_db.settings.base_url}/stripe/connect/return"]
    assert query["state"][0]


async def test_admins_see_card_payments_but_only_the_owner_connects(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    admin = await signed_in(stripe_app, firms.a.admin.user.email)
    page = await admin.get(f"/t/{firms.a.slug}/billing/settings/")
    assert "Card payments" in page.text and "Connect your Stripe account" not in page.text
    refused = await admin.post(f"/t/{firms.a.slug}/billing/settings/card-payments/connect")
    assert refused.status_code == 403


async def test_the_return_from_stripe_checks_its_state(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    owner = await signed_in(stripe_app, firms.a.owner.user.email)
    state = (await start(owner, firms.a))["state"][0]
    token, _dot, binding = state.partition(".")
    back = "/stripe/connect/return"
    refused = [
        f"{back}?code=ac_1",  # no state
        f"{back}?code=ac_1&state={token}.{'0' * 64}",  # forged binding
        f"{back}?code=ac_1&state={'x' * 43}.{binding}",  # made-up token
    ]
    for url in refused:
        response = await owner.get(url)
        assert response.status_code == 400, url
        assert "not valid" in text_of(response)
    # The same owner signed in elsewhere (another session) cannot use it either.
    elsewhere = await signed_in(stripe_app, firms.a.owner.user.email)
    assert (await elsewhere.get(f"{back}?code=ac_1&state={state}")).status_code == 400
    # The owner declined at Stripe: back to the settings, the state used up.
    declined = await owner.get(f"{back}?error=access_denied&state={state}")
    assert declined.status_code == 303
    assert declined.headers["location"] == f"/t/{firms.a.slug}/billing/settings#card-payments"
    assert (await owner.get(f"{back}?code=ac_1&state={state}")).status_code == 400


async def test_a_valid_state_reaches_the_code_exchange(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    """The exchange itself is Stripe's (localstripe has no OAuth): it fails here, is told to
    the owner, and connects nothing."""
    owner = await signed_in(stripe_app, firms.a.owner.user.email)
    state = (await start(owner, firms.a))["state"][0]
    back = await owner.get(f"/stripe/connect/return?code=ac_1&state={state}")
    assert back.status_code == 303
    settings = await owner.get(back.headers["location"])
    assert "Stripe did not connect the account" in text_of(settings)
    async with scoped(stripe_db, firms.a.tenant) as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.connected_account_id.is_not(None))
        )
    assert count == 0


async def test_the_owner_disconnects_after_confirming(
    stripe_app: Litestar, stripe_db: Backend, firms: Firms
) -> None:
    await connect_account(stripe_db, firms.a, ACCOUNT_A)
    owner = await signed_in(stripe_app, firms.a.owner.user.email)
    page = await owner.get(f"/t/{firms.a.slug}/billing/settings/")
    assert ACCOUNT_A in page.text and "Disconnect" in page.text
    confirm = await owner.get(f"/t/{firms.a.slug}/billing/settings/card-payments/disconnect")
    assert confirm.status_code == 200 and "Stop card payments" in confirm.text
    done = await owner.post(f"/t/{firms.a.slug}/billing/settings/card-payments/disconnect")
    assert done.status_code == 303
    async with scoped(stripe_db, firms.a.tenant) as db:
        row = await db.get(Subscription, firms.a.tenant.id)
        assert row is not None and row.connected_account_id is None
    page = await owner.get(f"/t/{firms.a.slug}/billing/settings/")
    assert "Connect your Stripe account" in page.text
    # Firm B's owner has nothing to disconnect, and cannot reach A's.
    other = await signed_in(stripe_app, firms.b.owner.user.email)
    url = f"/t/{firms.a.slug}/billing/settings/card-payments/disconnect"
    assert (await other.get(url)).status_code == 404
