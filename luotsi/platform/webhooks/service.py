"""The owner's endpoints, and the events the firm's changes send to them.

:func:`emit` is called by the service functions that make the change (planning a session,
issuing an invoice...), in their transaction: it queues one outbox row per active endpoint
that subscribes to the event, so an event goes out exactly when its change commits. The
payload carries ids, dates, statuses and counts only (docs/webhooks.md), never content.
"""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import audit, clock, permissions
from luotsi.platform.db import has_code
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import too_long
from luotsi.platform.members import record_member_action
from luotsi.platform.outbox import enqueue
from luotsi.platform.paging import Page, paginate
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks.models import (
    TEST_EVENT,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

OUTBOX_KIND = "webhook"
MAX_URL = 500
MAX_ENDPOINTS = 10  # per firm
DELIVERIES_PER_PAGE = 25
ENDPOINT_OBJECT = "webhook_endpoint"
# Host names that always lead inside the machine or its network.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def new_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


def is_public_address(address: str) -> bool:
    """An IP address on the public internet (not loopback, private, link-local...)."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def check_url(raw: str, *, allow_loopback: bool) -> str:
    """The endpoint's address as it will be called, or :class:`Invalid` (field ``url``).

    HTTPS only, no user or password in it, and not an address inside our own network
    (``allow_loopback`` admits those, for tests). A name is resolved again at each delivery,
    which refuses private addresses too (:mod:`luotsi.platform.webhooks.delivery`).
    """
    url = raw.strip()
    if not url:
        raise Invalid.field("url", _("Enter the address that receives the events."))
    if len(url) > MAX_URL:
        raise Invalid.field("url", too_long(MAX_URL))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid.field(
            "url", _("Enter a web address, e.g. https://example.com/hooks.")
        ) from None
    if parts.scheme.lower() != "https":
        raise Invalid.field("url", _("The address must start with https://."))
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or port == 0:
        raise Invalid.field("url", _("Enter a web address, e.g. https://example.com/hooks."))
    if not allow_loopback and _is_local_host(host):
        raise Invalid.field(
            "url", _("The address must be on the public internet, not a local or private one.")
        )
    return url


def _is_local_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(LOCAL_SUFFIXES) or "." not in host
    return not is_public_address(host)


def check_events(raw: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(raw)
    known = {event.value for event in WebhookEvent}
    if not chosen or not chosen <= known:
        raise Invalid.field("events", _("Choose at least one event."))
    return chosen


async def list_endpoints(db: AsyncSession, actor: Membership) -> list[WebhookEndpoint]:
    """The firm's endpoints, oldest first."""
    require(permissions.can_manage_webhooks(actor), "webhooks")
    rows = await db.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))
    return list(rows)


async def get_endpoint(
    db: AsyncSession, actor: Membership, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    require(permissions.can_manage_webhooks(actor), "webhooks")
    endpoint = await db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound("webhook endpoint")
    return endpoint


async def _audit(db: AsyncSession, actor: Membership, endpoint: WebhookEndpoint) -> None:
    await record_member_action(
        db, actor, audit.SETTINGS_CHANGED, object_type=ENDPOINT_OBJECT, object_id=endpoint.id
    )


async def add_endpoint(
    db: AsyncSession,
    actor: Membership,
    url: str,
    events: Iterable[str],
    *,
    allow_loopback: bool = False,
) -> WebhookEndpoint:
    """Register an endpoint; its new signing secret is on the returned row (show it once)."""
    require(permissions.can_manage_webhooks(actor), "webhooks")
    errors: dict[str, str] = {}
    checked_url, chosen = "", frozenset[str]()
    try:
        checked_url = check_url(url, allow_loopback=allow_loopback)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        chosen = check_events(events)
    except Invalid as exc:
        errors.update(exc.errors)
    if len(await list_endpoints(db, actor)) >= MAX_ENDPOINTS:
        errors["url"] = _("A firm can have at most %(num)d endpoints.") % {"num": MAX_ENDPOINTS}
    if errors:
        raise Invalid(errors)
    endpoint = WebhookEndpoint(url=checked_url, events=chosen, secret=new_secret())
    db.add(endpoint)
    await db.flush()
    await _audit(db, actor, endpoint)
    return endpoint


async def change_endpoint(
    db: AsyncSession,
    actor: Membership,
    endpoint_id: uuid.UUID,
    url: str,
    events: Iterable[str],
    *,
    active: bool,
    allow_loopback: bool = False,
) -> WebhookEndpoint:
    """Change an endpoint's address, events, or whether it receives anything (disabled)."""
    endpoint = await get_endpoint(db, actor, endpoint_id)
    errors: dict[str, str] = {}
    checked_url, chosen = "", frozenset[str]()
    try:
        checked_url = check_url(url, allow_loopback=allow_loopback)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        chosen = check_events(events)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    endpoint.url, endpoint.events, endpoint.active = checked_url, chosen, active
    await db.flush()
    await _audit(db, actor, endpoint)
    return endpoint


async def rotate_secret(
    db: AsyncSession, actor: Membership, endpoint_id: uuid.UUID, *, confirmed: bool
) -> WebhookEndpoint:
    """A new signing secret; the old one stops signing at once. Needs a confirmation."""
    endpoint = await get_endpoint(db, actor, endpoint_id)
    if not confirmed:
        raise Invalid.field("confirm", _("Confirm that the receiver will be given the new secret."))
    endpoint.secret, endpoint.secret_rotated_at = new_secret(), clock.now()
    await db.flush()
    await _audit(db, actor, endpoint)
    return endpoint


async def delete_endpoint(db: AsyncSession, actor: Membership, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint and its delivery log; queued events to it are dropped."""
    endpoint = await get_endpoint(db, actor, endpoint_id)
    await db.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    await db.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    await _audit(db, actor, endpoint)


async def deliveries(
    db: AsyncSession,
    actor: Membership,
    endpoint_id: uuid.UUID,
    page: int = 1,
    per_page: int = DELIVERIES_PER_PAGE,
) -> Page[WebhookDelivery]:
    """One page of an endpoint's delivery attempts, the latest first."""
    endpoint = await get_endpoint(db, actor, endpoint_id)
    return await paginate(
        db,
        WebhookDelivery,
        [WebhookDelivery.endpoint_id == endpoint.id],
        [WebhookDelivery.at.desc(), WebhookDelivery.attempt.desc(), WebhookDelivery.id],
        page,
        per_page,
    )


# --- events ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _queue(db: AsyncSession, endpoint: WebhookEndpoint, event: str, data: dict[str, Any]) -> None:
    delivery_id = uuid.uuid4()
    body = {
        "id": str(delivery_id),
        "event": event,
        "created_at": clock.now().isoformat(),
        "data": {key: _plain(value) for key, value in data.items()},
    }
    payload = {"endpoint_id": str(endpoint.id), "delivery_id": str(delivery_id), "body": body}
    enqueue(db, OUTBOX_KIND, payload, tenant_id=endpoint.tenant_id)


async def emit(db: AsyncSession, event: WebhookEvent, *items: dict[str, Any]) -> int:
    """Queue ``event`` once per item (its data: ids, dates, statuses, counts) to every active
    endpoint of the session's firm that subscribes to it, in the caller's transaction.

    Returns how many deliveries were queued; one statement whatever the number of items.
    """
    if not items:
        return 0
    endpoints = await db.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.active.is_(True), has_code(WebhookEndpoint.events, event.value)
        )
    )
    queued = 0
    for endpoint in endpoints:
        for data in items:
            _queue(db, endpoint, event.value, data)
            queued += 1
    return queued


async def send_test_event(db: AsyncSession, actor: Membership, endpoint_id: uuid.UUID) -> None:
    """Queue a ``ping`` to one endpoint, disabled or not, to check the receiver."""
    endpoint = await get_endpoint(db, actor, endpoint_id)
    _queue(db, endpoint, TEST_EVENT, {"endpoint_id": endpoint.id})
