"""Card payment of client invoices through the firm's own Stripe account (Connect, standard).

A firm's owner connects the firm's Stripe account on the billing settings (Stripe's OAuth:
:func:`start_connect`, then :func:`finish_connect` on the way back); from then on, while Stripe
says the account takes charges, invoice e-mails and the HR contact's portal offer "Pay by
card" for an invoice with something open. The link leads to our own route, which makes a
Checkout Session on the connected account for the open sum (:func:`checkout_url`) and sends
the payer there; the money goes to the firm's account, never through Luotsi's. Stripe's
``checkout.session.completed`` event then records the payment on the invoice
(:func:`record_card_payment`), once, whatever the retries.

Without Stripe keys and a Connect client id (:attr:`Settings.card_payments_enabled`), or for
a firm whose connected account does not take charges, nothing of this exists: every function
here answers :class:`NotFound` or "no link".

The e-mailed link carries a signed token (:func:`pay_token`): the firm, the invoice and an
expiry under the app's secret key, so the page needs no sign-in and shows nothing but the
invoice's number, the open sum and the firm's name.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import Invoice, InvoiceStatus, Payment, PaymentSource
from luotsi.billing.payments import (
    OPEN_STATES,
    InvoiceState,
    announce_paid,
    balance_of,
    count_paid,
    states,
)
from luotsi.billing.subscription.gateway import (
    GatewayError,
    InvoiceCheckout,
    WebhookEvent,
    open_gateway,
)
from luotsi.billing.subscription.models import Subscription
from luotsi.billing.subscription.webhooks import handles
from luotsi.platform import clock, i18n, permissions
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import TokenPurpose, User, issue_token, use_token
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Tenant, TenantStatus, active_member

log = structlog.get_logger(__name__)

CONNECT_RETURN_PATH = "/stripe/connect/return"  # the redirect URI registered at Stripe
PAY_LINK_LIFETIME = timedelta(days=120)  # an e-mailed link outlives the due date and reminders
_STATE_PURPOSE = b"luotsi-stripe-connect:"
_PAY_PURPOSE = b"luotsi-card-payment:"


# --- the firm's connected account ---------------------------------------------------------


@dataclass(frozen=True)
class CardPayments:
    """Card payments as the billing settings show them."""

    account_id: str | None
    charges_enabled: bool
    can_change: bool  # the viewer may connect and disconnect (the owner)

    @property
    def is_on(self) -> bool:
        return self.account_id is not None and self.charges_enabled


async def card_payments_of(
    db: AsyncSession, actor: Membership, settings: Settings
) -> CardPayments | None:
    """The firm's card payments for its billing settings; None when Luotsi offers none."""
    permissions.require(permissions.can_manage_billing(actor), "billing")
    if not settings.card_payments_enabled:
        return None
    row = await db.get(Subscription, actor.tenant_id)
    return CardPayments(
        account_id=row.connected_account_id if row else None,
        charges_enabled=bool(row and row.connect_charges_enabled),
        can_change=permissions.can_connect_card_payments(actor),
    )


async def takes_cards(db: AsyncSession, settings: Settings, tenant_id: uuid.UUID) -> bool:
    """Whether the firm's clients can pay its invoices by card now."""
    if not settings.card_payments_enabled:
        return False
    row = await db.get(Subscription, tenant_id)
    return bool(row and row.connected_account_id and row.connect_charges_enabled)


async def tenant_of_account_all_tenants(db: AsyncSession, account_id: str) -> uuid.UUID | None:
    """The firm whose connected Stripe account ``account_id`` is (read across firms)."""
    return await db.scalar(
        select(Subscription.tenant_id).where(Subscription.connected_account_id == account_id)
    )


def _require_connecting(actor: Membership, settings: Settings) -> None:
    permissions.require(permissions.can_connect_card_payments(actor), "card_payments")
    if not settings.card_payments_enabled:
        raise NotFound("card_payments")


def _binding(secret: str, token: str, session_token: str) -> str:
    message = _STATE_PURPOSE + token.encode() + b":" + session_token.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def start_connect(
    db: AsyncSession, actor: Membership, settings: Settings, session_token: str
) -> str:
    """Where to send the owner to connect the firm's Stripe account: Stripe's OAuth page.

    Its ``state`` is a single-use token (30 minutes) naming the firm and the owner, bound to
    the owner's browser session by an HMAC of the session cookie: a state handed to anyone
    else, or used twice, is refused on the way back.
    """
    _require_connecting(actor, settings)
    user = await db.get(User, actor.user_id)
    if user is None:
        raise NotFound("user")
    token = await issue_token(db, user, TokenPurpose.STRIPE_CONNECT, actor.tenant_id)
    state = f"{token}.{_binding(settings.secret_key, token, session_token)}"
    async with open_gateway(settings) as gateway:
        return gateway.connect_url(state, settings.base_url + CONNECT_RETURN_PATH)


class ConnectResult(enum.StrEnum):
    CONNECTED = "connected"
    DECLINED = "declined"  # the owner cancelled at Stripe
    FAILED = "failed"  # Stripe did not give the account
    TAKEN = "taken"  # the account is another firm's in Luotsi


async def finish_connect(
    db: AsyncSession,
    user: User,
    settings: Settings,
    session_token: str,
    state: str,
    code: str,
) -> tuple[Tenant, ConnectResult]:
    """Back from Stripe's OAuth page: check ``state``, exchange ``code``, keep the account.

    A missing, forged, expired or used state, one from another session or user, or a user no
    longer allowed to connect the firm is :class:`Invalid` (field ``state``) and nothing is
    done. A valid state is used up whatever Stripe answers. ``code`` is empty when the owner
    declined.
    """
    refused = Invalid.field(
        "state", _("This connection to Stripe is not valid. Start again from the settings.")
    )
    if not settings.card_payments_enabled:
        raise NotFound("card_payments")
    token, _dot, binding = state.partition(".")
    expected = _binding(settings.secret_key, token, session_token)
    if not token or not session_token or not hmac.compare_digest(binding, expected):
        raise refused
    try:
        issued = await use_token(db, token, TokenPurpose.STRIPE_CONNECT)
    except NotFound:
        raise refused from None
    if issued.user_id != user.id or issued.tenant_id is None:
        raise refused
    await scope_to_tenant(db, issued.tenant_id)
    tenant = await db.get(Tenant, issued.tenant_id)
    actor = await db.scalar(
        select(Membership).where(Membership.user_id == user.id, active_member())
    )
    if (
        tenant is None
        or tenant.status != TenantStatus.ACTIVE
        or actor is None
        or not permissions.can_connect_card_payments(actor)
    ):
        raise refused
    if not code:
        return tenant, ConnectResult.DECLINED
    try:
        async with open_gateway(settings) as gateway:
            account = await gateway.connect_account(code)
    except GatewayError as exc:
        log.warning("stripe.connect.failed", tenant_id=str(tenant.id), error=str(exc))
        return tenant, ConnectResult.FAILED
    owner = await tenant_of_account_all_tenants(db, account.id)
    if owner is not None and owner != tenant.id:
        log.warning("stripe.connect.taken", tenant_id=str(tenant.id))
        return tenant, ConnectResult.TAKEN
    row = await db.get(Subscription, tenant.id)
    if row is None:
        row = Subscription(tenant_id=tenant.id)
        db.add(row)
    row.connected_account_id = account.id
    row.connect_charges_enabled = account.charges_enabled
    await db.flush()
    log.info("stripe.connect.connected", tenant_id=str(tenant.id))
    return tenant, ConnectResult.CONNECTED


async def disconnect(db: AsyncSession, actor: Membership, settings: Settings) -> None:
    """Forget the firm's connected account and revoke Luotsi's access to it at Stripe.

    The account is forgotten whatever Stripe answers: the firm may have disconnected Luotsi
    from its Stripe dashboard already (Stripe then refuses the revocation).
    """
    _require_connecting(actor, settings)
    row = await db.get(Subscription, actor.tenant_id)
    if row is None or row.connected_account_id is None:
        raise NotFound("card_payments")
    try:
        async with open_gateway(settings) as gateway:
            await gateway.disconnect_account(row.connected_account_id)
    except GatewayError as exc:
        log.warning(
            "stripe.connect.deauthorize_failed", tenant_id=str(row.tenant_id), error=str(exc)
        )
    row.connected_account_id = None
    row.connect_charges_enabled = False
    await db.flush()


# Where the forms of the pages that start these flows lead through a redirect; those pages'
# Content-Security-Policy ``form-action`` must allow them (Chromium checks the redirect).
AUTHORIZE_ORIGINS = ("https://connect.stripe.com",)
CHECKOUT_ORIGINS = ("https://checkout.stripe.com",)

# --- paying an invoice --------------------------------------------------------------------


def _pay_signature(secret: str, tenant_id: uuid.UUID, invoice_id: uuid.UUID, expires: str) -> str:
    message = _PAY_PURPOSE + tenant_id.bytes + invoice_id.bytes + expires.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def pay_token(
    secret: str, tenant_id: uuid.UUID, invoice_id: uuid.UUID, expires_at: datetime
) -> str:
    """``<invoice>.<expiry>.<signature>``: the e-mailed link's proof, bound to one invoice
    of one firm until ``expires_at``."""
    expires = str(int(expires_at.timestamp()))
    signature = _pay_signature(secret, tenant_id, invoice_id, expires)
    return f"{invoice_id.hex}.{expires}.{signature}"


def invoice_of_pay_token(secret: str, tenant_id: uuid.UUID, token: str, now: datetime) -> uuid.UUID:
    """The invoice a genuine, unexpired ``token`` of the firm names; :class:`NotFound` else."""
    invoice_hex, _dot, rest = token.partition(".")
    expires, _dot, signature = rest.partition(".")
    try:
        invoice_id = uuid.UUID(hex=invoice_hex)
    except ValueError:
        raise NotFound("invoice") from None
    if not (expires.isdigit() and len(expires) <= 12):
        raise NotFound("invoice")
    expected = _pay_signature(secret, tenant_id, invoice_id, expires)
    if not hmac.compare_digest(signature, expected):
        raise NotFound("invoice")
    if datetime.fromtimestamp(int(expires), UTC) < now:
        raise NotFound("invoice")
    return invoice_id


async def email_pay_link(
    db: AsyncSession, settings: Settings, tenant_id: uuid.UUID, invoice_id: uuid.UUID
) -> str:
    """The "Pay by card" address for an invoice e-mail, or "" when there is none to offer
    (the firm takes no cards, or nothing is open on the invoice)."""
    if not await takes_cards(db, settings, tenant_id):
        return ""
    if (await balance_of(db, invoice_id)).state not in OPEN_STATES:
        return ""
    tenant = await db.get(Tenant, tenant_id)
    if tenant is None:
        return ""
    token = pay_token(settings.secret_key, tenant_id, invoice_id, clock.now() + PAY_LINK_LIFETIME)
    return f"{settings.base_url}/pay/{tenant.slug}/{token}"


@dataclass(frozen=True)
class PayableInvoice:
    """What a payer is shown: the invoice's number, its open sum, the firm's name."""

    tenant_id: uuid.UUID
    firm_name: str
    invoice_id: uuid.UUID
    number: int
    open_cents: int
    state: InvoiceState

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES and self.open_cents > 0


async def _payable(
    db: AsyncSession, settings: Settings, tenant: Tenant, invoice_id: uuid.UUID, *where: Any
) -> PayableInvoice:
    """``db`` is scoped to ``tenant``; an issued invoice (not a credit note) or NotFound."""
    if not await takes_cards(db, settings, tenant.id):
        raise NotFound("invoice")
    invoice = await db.scalar(
        select(Invoice).where(
            Invoice.id == invoice_id,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.kind == DocumentKind.INVOICE,
            *where,
        )
    )
    if invoice is None or invoice.number is None:
        raise NotFound("invoice")
    balance = await balance_of(db, invoice.id)
    return PayableInvoice(
        tenant_id=tenant.id,
        firm_name=tenant.name,
        invoice_id=invoice.id,
        number=invoice.number,
        open_cents=max(0, balance.open_cents),
        state=balance.state,
    )


async def payable_by_token(
    db: AsyncSession, settings: Settings, tenant_slug: str, token: str
) -> PayableInvoice:
    """The invoice an e-mailed link names, for anyone holding the link (no sign-in).

    An unknown firm, a token that is not genuine, has expired or names another firm's
    invoice, and a firm that takes no cards are all the same :class:`NotFound`.
    """
    if not settings.card_payments_enabled:
        raise NotFound("invoice")
    tenant = await db.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None or tenant.status != TenantStatus.ACTIVE:
        raise NotFound("invoice")
    invoice_id = invoice_of_pay_token(settings.secret_key, tenant.id, token, clock.now())
    await scope_to_tenant(db, tenant.id)
    return await _payable(db, settings, tenant, invoice_id)


async def payable_for_org(
    db: AsyncSession, settings: Settings, tenant: Tenant, org_id: uuid.UUID, invoice_id: uuid.UUID
) -> PayableInvoice:
    """One of organisation ``org_id``'s invoices, for its HR contact in the portal."""
    return await _payable(db, settings, tenant, invoice_id, Invoice.org_id == org_id)


async def checkout_url(
    db: AsyncSession,
    settings: Settings,
    payable: PayableInvoice,
    *,
    channel: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """Stripe's Checkout page for paying what is open on the invoice, on the firm's account.

    Keyed by the invoice, its open sum and ``channel`` (the e-mail's page or the portal,
    whose return addresses differ): a double click, or a second payer while nothing was
    paid, gets the same session. An invoice with nothing open is :class:`Invalid`.
    """
    if not payable.is_open:
        raise Invalid.field("invoice", _("The invoice has already been paid."))
    row = await db.get(Subscription, payable.tenant_id)
    if row is None or row.connected_account_id is None:
        raise NotFound("invoice")
    description = _("Invoice %(number)s / %(firm)s") % {
        "number": payable.number,
        "firm": payable.firm_name,
    }
    payment = InvoiceCheckout(
        tenant_id=str(payable.tenant_id),
        invoice_id=str(payable.invoice_id),
        amount_cents=payable.open_cents,
        description=description,
        locale=i18n.current_language(),
        success_url=success_url,
        cancel_url=cancel_url,
    )
    key = f"invoice-{payable.invoice_id}-{payable.open_cents}-{channel}"
    try:
        async with open_gateway(settings) as gateway:
            return await gateway.create_invoice_checkout(row.connected_account_id, payment, key)
    except GatewayError as exc:
        log.warning("stripe.checkout.failed", tenant_id=str(payable.tenant_id), error=str(exc))
        raise Invalid.field(
            "invoice",
            _("Card payment is not available right now. Try again later, or pay by bank transfer."),
        ) from None


# --- Stripe's events about connected accounts ---------------------------------------------


def _ignored(event: WebhookEvent, reason: str) -> None:
    log.warning("stripe.connect.event_ignored", event_id=event.id, type=event.type, reason=reason)


@handles("checkout.session.completed")
async def record_card_payment(
    db: AsyncSession, settings: Settings, event: WebhookEvent
) -> uuid.UUID | None:
    """A client paid an invoice on a firm's connected account: record the payment.

    The account names the firm (``subscriptions``); the session's metadata must name the same
    firm and one of its issued invoices, else nothing is written. The payment is dated by the
    event's time in Finland and keyed by the PaymentIntent (``archive_ref``, unique per firm):
    another event about the same payment adds nothing.
    """
    data = event.object
    if event.account is None:
        return None  # Luotsi's own Checkout (a subscription): its subscription events tell
    if data.get("mode") != "payment" or data.get("payment_status") != "paid":
        _ignored(event, "not a completed payment")
        return None
    tenant_id = await tenant_of_account_all_tenants(db, event.account)
    if tenant_id is None:
        _ignored(event, "unknown account")
        return None
    metadata = data.get("metadata") or {}
    if metadata.get("tenant_id") != str(tenant_id):
        _ignored(event, "metadata names another firm")
        return None
    intent = data.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    amount = data.get("amount_total")
    if not intent or not isinstance(amount, int) or amount <= 0:
        _ignored(event, "no payment")
        return None
    if str(data.get("currency") or "").lower() != "eur":
        _ignored(event, "not in euros")
        return None
    try:
        invoice_id = uuid.UUID(str(metadata.get("invoice_id")))
    except ValueError:
        _ignored(event, "no invoice")
        return None
    await scope_to_tenant(db, tenant_id)
    invoice = await db.scalar(
        select(Invoice).where(
            Invoice.id == invoice_id,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.kind == DocumentKind.INVOICE,
        )
    )
    if invoice is None:
        _ignored(event, "no such invoice of the firm")
        return None
    archive_ref = str(intent)[:64]
    if await db.scalar(select(Payment.id).where(Payment.archive_ref == archive_ref)):
        return tenant_id  # another event about the same payment
    payer = (data.get("customer_details") or {}).get("name") or ""
    before = await states(db, [invoice.id])
    db.add(
        Payment(
            invoice_id=invoice.id,
            paid_on=clock.today(event.created_at),
            amount_cents=amount,
            source=PaymentSource.CARD,
            reference=invoice.reference,
            payer=str(payer)[:140],
            archive_ref=archive_ref,
        )
    )
    await db.flush()
    await count_paid(db, {invoice.id: amount})
    await announce_paid(db, before)
    log.info("stripe.connect.payment", tenant_id=str(tenant_id), event_id=event.id)
    return tenant_id


@handles("account.updated")
async def refresh_connected_account(
    db: AsyncSession, settings: Settings, event: WebhookEvent
) -> uuid.UUID | None:
    """A connected account changed: whether it takes charges is taken from the event.

    The event's object is the account as it stood when the event was made (localstripe has
    no accounts to fetch; docs/decisions.md).
    """
    if event.object.get("id") != event.account:
        return None
    row = await _account_row(db, event)
    if row is None:
        return None
    row.connect_charges_enabled = bool(event.object.get("charges_enabled"))
    await db.flush()
    return row.tenant_id


@handles("account.application.deauthorized")
async def forget_connected_account(
    db: AsyncSession, settings: Settings, event: WebhookEvent
) -> uuid.UUID | None:
    """The firm disconnected Luotsi from its Stripe dashboard: forget the account."""
    row = await _account_row(db, event)
    if row is None:
        return None
    row.connected_account_id = None
    row.connect_charges_enabled = False
    await db.flush()
    return row.tenant_id


async def _account_row(db: AsyncSession, event: WebhookEvent) -> Subscription | None:
    """The row of the firm whose connected account the event is about (read across firms)."""
    if event.account is None:
        return None
    tenant_id = await tenant_of_account_all_tenants(db, event.account)
    if tenant_id is None:
        _ignored(event, "unknown account")
        return None
    return await db.get(Subscription, tenant_id)
