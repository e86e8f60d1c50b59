"""The one module that talks to Stripe, through its official SDK.

Nothing else in Luotsi imports ``stripe`` (an import-linter contract says so). What leaves this
module is our own plain dataclasses, never Stripe objects: the rest of the code cannot come to
depend on the SDK's types, and the tests of the services read like the domain.

Every call that changes something at Stripe takes an idempotency key that the caller derives
from its own operation (docs/decisions.md, "Stripe: idempotency keys"), so a retried request,
a double submit or a re-delivered outbox row never does the thing twice.

The Luotsi product is sold per seat (an active supervisor) through two legacy plans, monthly
and yearly, whose ids carry the price (``luotsi-seat-month-2900``): a new price in the settings
is a new plan, and existing subscriptions keep theirs until changed. Plans, not prices, because
localstripe (the tests' Stripe) has only plans; Stripe accepts a plan id wherever a price id
goes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from luotsi.platform.settings import Settings

PRODUCT_ID = "luotsi"
# How far a webhook's signed timestamp may be from our clock (Stripe's own default).
WEBHOOK_TOLERANCE = timedelta(minutes=5)
CURRENCY = "eur"


class GatewayError(Exception):
    """Stripe refused a call or could not be reached."""


class CardDeclined(GatewayError):
    """The card was refused (when attached or charged)."""


class WebhookRejected(Exception):
    """A webhook whose signature or timestamp does not hold: nothing is done with it."""


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str


@dataclass(frozen=True)
class StripeSubscription:
    """A subscription as Stripe reports it now."""

    id: str
    customer_id: str
    status: str  # Stripe's: active, past_due, unpaid, canceled, incomplete, ...
    interval: str  # month or year
    seats: int
    seat_cents: int
    current_period_end: datetime | None
    cancel_at_period_end: bool
    # When it ended (status canceled): Stripe's ended_at, else its canceled_at.
    ended_at: datetime | None


@dataclass(frozen=True)
class StripeInvoice:
    id: str
    amount_cents: int
    currency: str
    status: str  # draft, open, paid, void, uncollectible
    period_start: datetime | None
    period_end: datetime | None
    created_at: datetime | None
    paid_at: datetime | None


@dataclass(frozen=True)
class ConnectedAccount:
    """A firm's own Stripe account connected to Luotsi (Connect, standard)."""

    id: str
    charges_enabled: bool


@dataclass(frozen=True)
class InvoiceCheckout:
    """What a client pays by card on the firm's connected account: one invoice's open sum."""

    tenant_id: str
    invoice_id: str
    amount_cents: int
    description: str  # what Stripe's page and receipt name, e.g. "Invoice 1042 / Firm Oy"
    locale: str  # the page's language: fi, sv or en
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event: its id and type, whose it is, and its object as plain data."""

    id: str
    type: str
    created_at: datetime
    customer_id: str | None
    account: str | None  # a connected account's events (Connect) name it
    object: dict[str, Any] = field(repr=False)


def _at(timestamp: Any) -> datetime | None:
    return datetime.fromtimestamp(int(timestamp), UTC) if timestamp else None


def _error(exc: stripe.StripeError) -> GatewayError:
    if isinstance(exc, stripe.CardError):
        return CardDeclined(exc.user_message or "card declined")
    # The message of Stripe's error, never the request (it may carry the key's prefix).
    return GatewayError(f"{type(exc).__name__}: {exc.user_message or exc.http_status}")


class StripeGateway:
    """Luotsi's calls to Stripe; built by :func:`open_gateway`."""

    def __init__(self, settings: Settings, http_client: stripe.HTTPXClient) -> None:
        base: Any = None
        if settings.stripe_api_base:  # localstripe: Connect's OAuth calls go there too
            base = {"api": settings.stripe_api_base, "connect": settings.stripe_api_base}
        self._client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base,
            client_id=settings.stripe_connect_client_id or None,
            http_client=http_client,
            max_network_retries=2,
        )
        self._v1 = self._client.v1
        self._plans = settings.plans
        self._client_id = settings.stripe_connect_client_id

    def __repr__(self) -> str:  # the client holds the secret key
        return "StripeGateway()"

    def plan_id(self, interval: str) -> str:
        """The legacy plan of a seat for ``interval`` at the price the settings name."""
        cents = self.seat_cents(interval)
        return f"luotsi-seat-{interval}-{cents}"

    def seat_cents(self, interval: str) -> int:
        if interval == "year":
            return self._plans.yearly_seat_cents
        return self._plans.monthly_seat_cents

    # --- catalogue ------------------------------------------------------------------------

    async def ensure_plans(self) -> None:
        """The Luotsi product and its two seat plans exist at Stripe (retrieved, else created)."""
        try:
            if not await self._exists(self._v1.products.retrieve_async, PRODUCT_ID):
                await self._v1.products.create_async(
                    params={"id": PRODUCT_ID, "name": "Luotsi"},
                    options={"idempotency_key": f"product-{PRODUCT_ID}"},
                )
            for interval in ("month", "year"):
                plan = self.plan_id(interval)
                if not await self._exists(self._v1.plans.retrieve_async, plan):
                    await self._v1.plans.create_async(
                        params={
                            "id": plan,
                            "product": PRODUCT_ID,
                            "amount": self.seat_cents(interval),
                            "currency": CURRENCY,
                            "interval": interval,
                        },
                        options={"idempotency_key": f"plan-{plan}"},
                    )
        except stripe.StripeError as exc:
            raise _error(exc) from exc

    @staticmethod
    async def _exists(retrieve: Any, object_id: str) -> bool:
        try:
            await retrieve(object_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    # --- customers and cards --------------------------------------------------------------

    async def create_customer(self, tenant_id: str, name: str, email: str, key: str) -> str:
        """A new customer for the firm; returns its id."""
        try:
            customer = await self._v1.customers.create_async(
                params={"name": name, "email": email, "metadata": {"tenant_id": tenant_id}},
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return str(customer.id)

    async def set_default_card(self, customer_id: str, payment_method_id: str, key: str) -> Card:
        """Attach a payment method (from Stripe.js) and make it what the invoices charge."""
        try:
            method = await self._v1.payment_methods.attach_async(
                payment_method_id,
                params={"customer": customer_id},
                options={"idempotency_key": f"{key}-attach"},
            )
            await self._v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
                options={"idempotency_key": f"{key}-default"},
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        card = method.to_dict().get("card") or {}
        return Card(brand=str(card.get("brand") or ""), last4=str(card.get("last4") or ""))

    async def create_setup_intent(self, customer_id: str) -> str:
        """A SetupIntent through which Stripe.js turns the owner's card details into a
        PaymentMethod for the customer (the direct path); returns its client secret.

        No idempotency key of ours: it charges nothing, and each attempt at entering a card
        needs a fresh one (a declined card cancels its intent). The SDK keys its own retries.
        """
        try:
            params: Any = {
                "customer": customer_id,
                "payment_method_types": ["card"],
                "usage": "off_session",
            }
            intent = await self._v1.setup_intents.create_async(params=params)
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return str(intent.client_secret)

    async def default_card(self, customer_id: str) -> Card | None:
        """The card the customer's invoices charge, if any."""
        try:
            customer = await self._v1.customers.retrieve_async(
                customer_id, params={"expand": ["invoice_settings.default_payment_method"]}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        method = (customer.to_dict().get("invoice_settings") or {}).get("default_payment_method")
        if not isinstance(method, dict) or not method.get("card"):
            return None
        return Card(brand=str(method["card"].get("brand", "")), last4=str(method["card"]["last4"]))

    async def remove_card(self, customer_id: str, key: str) -> None:
        """Forget the card the customer's invoices charge: no longer the default, and detached
        from the customer (Stripe keeps no way to charge it for us)."""
        try:
            customer = await self._v1.customers.retrieve_async(customer_id)
            method = (customer.to_dict().get("invoice_settings") or {}).get(
                "default_payment_method"
            )
            await self._v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": ""}},
                options={"idempotency_key": f"{key}-default"},
            )
            if isinstance(method, str) and method:
                await self._v1.payment_methods.detach_async(
                    method, options={"idempotency_key": f"{key}-detach"}
                )
        except stripe.StripeError as exc:
            raise _error(exc) from exc

    # --- subscriptions --------------------------------------------------------------------

    async def create_subscription(
        self, customer_id: str, interval: str, seats: int, key: str
    ) -> StripeSubscription:
        """Subscribe the customer to ``seats`` seats, charging the default card now.

        A declined first payment leaves no subscription behind: :class:`CardDeclined`. Stripe
        refuses it outright (``error_if_incomplete``); localstripe makes an ``incomplete`` one,
        which is cancelled here.
        """
        try:
            created = await self._v1.subscriptions.create_async(
                params={
                    "customer": customer_id,
                    "items": [{"plan": self.plan_id(interval), "quantity": seats}],
                    "payment_behavior": "error_if_incomplete",
                },
                options={"idempotency_key": key},
            )
            if created.status == "incomplete":
                await self._v1.subscriptions.cancel_async(
                    created.id, options={"idempotency_key": f"{key}-abandon"}
                )
                raise CardDeclined("the first payment was declined")
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _subscription(created.to_dict())

    async def retrieve_subscription(self, subscription_id: str) -> StripeSubscription:
        try:
            found = await self._v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _subscription(found.to_dict())

    async def current_subscription(self, customer_id: str) -> StripeSubscription | None:
        """The customer's subscription now: the newest that has not ended, else the newest.

        Asked of Stripe rather than taken from our row, so that a subscription made elsewhere
        (Checkout, the portal, a resubscription) is found too.
        """
        try:
            found = await self._v1.subscriptions.list_async(
                params={"customer": customer_id, "status": "all", "limit": 100}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        ranked = sorted(
            (item.to_dict() for item in found.data),
            key=lambda data: (
                data.get("status") not in ("canceled", "incomplete_expired"),
                int(data.get("created") or 0),
                str(data["id"]),
            ),
        )
        return _subscription(ranked[-1]) if ranked else None

    async def change_seats(self, subscription_id: str, seats: int, key: str) -> StripeSubscription:
        """Change the seat count; Stripe prorates (its default) on the next invoice."""
        return await self._change_item(subscription_id, {"quantity": seats}, key)

    async def change_interval(
        self, subscription_id: str, interval: str, seats: int, key: str
    ) -> StripeSubscription:
        """Move to the monthly or yearly plan; Stripe charges the new period at once."""
        item = {"plan": self.plan_id(interval), "quantity": seats}
        return await self._change_item(subscription_id, item, key)

    async def _change_item(
        self, subscription_id: str, item: dict[str, Any], key: str
    ) -> StripeSubscription:
        try:
            current = (await self._v1.subscriptions.retrieve_async(subscription_id)).to_dict()
            params: Any = {"items": [{"id": current["items"]["data"][0]["id"], **item}]}
            changed = await self._v1.subscriptions.update_async(
                subscription_id,
                params=params,
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _subscription(changed.to_dict())

    async def cancel_at_period_end(
        self, subscription_id: str, cancel: bool, key: str
    ) -> StripeSubscription:
        """End the subscription when the paid period ends (``cancel``), or keep it going."""
        try:
            changed = await self._v1.subscriptions.update_async(
                subscription_id,
                params={"cancel_at_period_end": cancel},
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _subscription(changed.to_dict())

    async def cancel_now(self, subscription_id: str, key: str) -> StripeSubscription:
        """End the subscription at once (Stripe does so itself at a period's end)."""
        try:
            ended = await self._v1.subscriptions.cancel_async(
                subscription_id, options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _subscription(ended.to_dict())

    # --- invoices -------------------------------------------------------------------------

    async def list_invoices(self, customer_id: str) -> list[StripeInvoice]:
        """The customer's invoices, newest first (Stripe's most recent hundred)."""
        try:
            found = await self._v1.invoices.list_async(
                params={"customer": customer_id, "limit": 100}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return [_invoice(invoice.to_dict()) for invoice in found.data]

    async def pay_invoice(self, invoice_id: str, key: str) -> StripeInvoice:
        """Charge an open invoice to the default card now (after the owner fixed the card)."""
        try:
            paid = await self._v1.invoices.pay_async(invoice_id, options={"idempotency_key": key})
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return _invoice(paid.to_dict())

    # --- Connect: the firm's own Stripe account ------------------------------------------

    def connect_url(self, state: str, redirect_uri: str) -> str:
        """Where the owner authorises Luotsi on their Stripe account (OAuth, standard
        accounts): Stripe sends them back to ``redirect_uri`` with a code and ``state``."""
        return self._client.oauth.authorize_url(
            params={"scope": "read_write", "state": state, "redirect_uri": redirect_uri}
        )

    async def connect_account(self, code: str) -> ConnectedAccount:
        """Exchange the OAuth ``code`` for the connected account; whether it takes charges.

        Neither call exists on localstripe: this is exercised against Stripe only.
        """
        try:
            response = await self._client.raw_request_async(
                "post",
                "/oauth/token",
                grant_type="authorization_code",
                code=code,
                base="connect",
            )
            token = self._client.deserialize(response, api_mode="V1").to_dict()
            account = await self._v1.accounts.retrieve_async(str(token["stripe_user_id"]))
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        except KeyError as exc:
            raise GatewayError("Stripe returned no account") from exc
        return ConnectedAccount(id=str(account.id), charges_enabled=bool(account.charges_enabled))

    async def disconnect_account(self, account_id: str) -> None:
        """Revoke Luotsi's access to the connected account (Stripe only, like the exchange)."""
        try:
            await self._client.raw_request_async(
                "post",
                "/oauth/deauthorize",
                client_id=self._client_id,
                stripe_user_id=account_id,
                base="connect",
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc

    # --- production only: Stripe's hosted pages -------------------------------------------

    async def create_checkout_session(
        self,
        customer_id: str,
        interval: str,
        seats: int,
        success_url: str,
        cancel_url: str,
        key: str,
    ) -> str:
        """A Checkout Session that subscribes the customer; returns the page's address.

        localstripe has no Checkout: this is exercised against Stripe only.
        """
        try:
            session = await self._v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "customer": customer_id,
                    "line_items": [{"price": self.plan_id(interval), "quantity": seats}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return str(session.url)

    async def create_invoice_checkout(
        self, account_id: str, payment: InvoiceCheckout, key: str
    ) -> str:
        """A Checkout Session on the firm's connected account for paying one client invoice
        by card; returns the page's address. Stripe pays the money to the firm's account.

        localstripe has no Checkout: this is exercised against Stripe only.
        """
        metadata = {"tenant_id": payment.tenant_id, "invoice_id": payment.invoice_id}
        params: Any = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": CURRENCY,
                        "unit_amount": payment.amount_cents,
                        "product_data": {"name": payment.description},
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "locale": payment.locale,
            "success_url": payment.success_url,
            "cancel_url": payment.cancel_url,
        }
        try:
            session = await self._v1.checkout.sessions.create_async(
                params=params, options={"stripe_account": account_id, "idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return str(session.url)

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """A session of Stripe's customer portal (cards, invoices, cancelling); its address.

        localstripe has no billing portal: this is exercised against Stripe only.
        """
        try:
            session = await self._v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url}
            )
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        return str(session.url)


def verify_webhook(
    settings: Settings, payload: bytes, signature: str, now: datetime
) -> WebhookEvent:
    """The event in ``payload`` if Stripe signed it with one of our secrets within the
    tolerance: the endpoint's (Luotsi's own account) or the Connect endpoint's (connected
    accounts' events, delivered to the same address by a second endpoint at Stripe).

    The signature is checked by the SDK on the raw body; the signed timestamp against ``now``
    (Luotsi's clock: the SDK would read the machine's). :class:`WebhookRejected` otherwise.
    """
    secrets = [
        secret
        for secret in (settings.stripe_webhook_secret, settings.stripe_connect_webhook_secret)
        if secret
    ]
    if not secrets:
        raise WebhookRejected("no webhook secret is configured")
    if not any(_signed_with(payload, signature, secret) for secret in secrets):
        raise WebhookRejected("bad signature")
    signed_at = _signed_at(signature)
    if abs(now - signed_at) > WEBHOOK_TOLERANCE:
        raise WebhookRejected("timestamp outside the tolerance")
    try:
        event = json.loads(payload)
        data = event["data"]["object"]
        return WebhookEvent(
            id=str(event["id"]),
            type=str(event["type"]),
            created_at=_at(event.get("created")) or signed_at,
            customer_id=_customer_of(data),
            account=event.get("account"),
            object=data,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected("not an event") from exc


def _signed_with(payload: bytes, signature: str, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        return False
    return True


def _signed_at(signature: str) -> datetime:
    for part in signature.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "t" and value.strip().isdigit():
            return datetime.fromtimestamp(int(value), UTC)
    raise WebhookRejected("no timestamp")


def _customer_of(data: dict[str, Any]) -> str | None:
    if data.get("object") == "customer":
        return str(data["id"])
    customer = data.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return str(customer) if customer else None


def _subscription(data: dict[str, Any]) -> StripeSubscription:
    item = data["items"]["data"][0]
    plan = item.get("plan") or item.get("price") or {}
    recurring = plan.get("recurring") or {}
    # Newer API versions keep the period on the item; older ones (and localstripe) on both.
    period_end = item.get("current_period_end") or data.get("current_period_end")
    ended = None
    if data.get("status") in ("canceled", "incomplete_expired"):
        ended = _at(data.get("ended_at") or data.get("canceled_at"))
    return StripeSubscription(
        id=str(data["id"]),
        customer_id=str(data["customer"]),
        status=str(data["status"]),
        interval=str(plan.get("interval") or recurring.get("interval") or "month"),
        seats=int(item.get("quantity") or 0),
        seat_cents=int(plan.get("amount") or plan.get("unit_amount") or 0),
        current_period_end=_at(period_end),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        ended_at=ended,
    )


def _invoice(data: dict[str, Any]) -> StripeInvoice:
    transitions = data.get("status_transitions") or {}
    return StripeInvoice(
        id=str(data["id"]),
        amount_cents=int(data.get("total") or data.get("amount_due") or 0),
        currency=str(data.get("currency") or CURRENCY),
        status=str(data.get("status") or ""),
        period_start=_at(data.get("period_start")),
        period_end=_at(data.get("period_end")),
        created_at=_at(data.get("created")),
        paid_at=_at(transitions.get("paid_at")),
    )


@asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    """A gateway for the duration of one operation; its connections are closed after it."""
    if not settings.subscriptions_enabled:
        raise GatewayError("Stripe is not configured")
    http_client = stripe.HTTPXClient()
    try:
        yield StripeGateway(settings, http_client)
    finally:
        await http_client.close_async()
