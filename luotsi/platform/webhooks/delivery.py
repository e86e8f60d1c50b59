"""Delivering a queued event: a signed POST, each attempt written to the delivery log.

The outbox worker calls :func:`deliver_webhook` for a ``webhook`` row. A 2xx answer delivers
it; anything else (another status, a timeout, a refused address) raises, and the outbox tries
again after its backoff, up to :data:`~luotsi.platform.outbox.MAX_ATTEMPTS` times, then marks
the row failed. The attempt is logged first, in the firm's own session, with the time of the
next try. Redirects are never followed, and the host's addresses are checked at every attempt
so that a name cannot be pointed inside our network after it was saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from luotsi.platform import clock
from luotsi.platform.db import tenant_session
from luotsi.platform.outbox import MAX_ATTEMPTS, OutboxMessage, Worker, backoff, outbox_kind
from luotsi.platform.settings import Settings
from luotsi.platform.webhooks.models import TEST_EVENT, WebhookDelivery, WebhookEndpoint
from luotsi.platform.webhooks.service import OUTBOX_KIND, is_public_address

log = structlog.get_logger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Luotsi-Webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not take the event (its status, or why there was none)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Luotsi-Signature`` header: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def _check_resolves_publicly(url: str, settings: Settings) -> None:
    if settings.webhooks_allow_loopback:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
    except OSError as exc:
        raise DeliveryFailed(f"the name did not resolve ({type(exc).__name__})") from None
    if not found or not all(is_public_address(str(info[4][0])) for info in found):
        raise DeliveryFailed("the address is not on the public internet")


def _verify(settings: Settings) -> ssl.SSLContext | bool:
    if settings.webhooks_ca_file:
        return ssl.create_default_context(cafile=settings.webhooks_ca_file)
    return True


async def _post(url: str, headers: dict[str, str], body: bytes, settings: Settings) -> int:
    await _check_resolves_publicly(url, settings)
    async with httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, verify=_verify(settings), trust_env=False
    ) as client:
        response = await client.post(url, content=body, headers=headers)
    return response.status_code


@outbox_kind(OUTBOX_KIND)
async def deliver_webhook(row: OutboxMessage, worker: Worker) -> dict[str, Any] | None:
    """POST one queued event to its endpoint, signed with the endpoint's current secret."""
    assert row.tenant_id is not None
    payload = row.payload
    endpoint_id = uuid.UUID(payload["endpoint_id"])
    body = body_bytes(payload["body"])
    event = payload["body"]["event"]
    async with tenant_session(worker.maker, row.tenant_id) as db:
        endpoint = await db.get(WebhookEndpoint, (row.tenant_id, endpoint_id))
        if endpoint is None or (not endpoint.active and event != TEST_EVENT):
            return None  # deleted or disabled since: nothing to send
        url, secret = endpoint.url, endpoint.secret
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Luotsi-Event": event,
        "Luotsi-Delivery": payload["delivery_id"],
        "Luotsi-Signature": signature(secret, int(clock.now().timestamp()), body),
    }
    status: int | None = None
    error: str | None = None
    try:
        status = await _post(url, headers, body, worker.settings)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except DeliveryFailed as exc:
        error = str(exc)
    except httpx.HTTPError as exc:
        error = type(exc).__name__  # not the message: it may quote the address's query
    last = row.attempts >= MAX_ATTEMPTS
    outcome = "delivered" if error is None else "failed" if last else "retrying"
    async with tenant_session(worker.maker, row.tenant_id) as db:
        db.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                delivery_id=uuid.UUID(payload["delivery_id"]),
                event=event,
                attempt=row.attempts,
                status_code=status,
                error=error,
                outcome=outcome,
                next_retry_at=(
                    clock.now() + backoff(row.attempts) if outcome == "retrying" else None
                ),
            )
        )
    if error is not None:
        raise DeliveryFailed(error)
    log.info("webhook.delivered", endpoint_id=str(endpoint_id), webhook_event=event)
    return None
