"""Outgoing webhooks: a firm's HTTPS endpoints receive its events, signed, with retries.

The owner registers endpoints and chooses events (:mod:`.service`); the service functions
that make a change call :func:`emit` in their transaction, which queues one outbox row per
subscribed endpoint; the worker POSTs it (:mod:`.delivery`) and logs each attempt
(:class:`WebhookDelivery`). Payload shapes and the signature: docs/webhooks.md.
"""

from luotsi.platform.webhooks import delivery
from luotsi.platform.webhooks.models import (
    TEST_EVENT,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from luotsi.platform.webhooks.service import (
    add_endpoint,
    change_endpoint,
    check_url,
    delete_endpoint,
    deliveries,
    emit,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    send_test_event,
)

signature = delivery.signature

__all__ = [
    "TEST_EVENT",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "add_endpoint",
    "change_endpoint",
    "check_url",
    "delete_endpoint",
    "deliveries",
    "emit",
    "get_endpoint",
    "list_endpoints",
    "rotate_secret",
    "send_test_event",
    "signature",
]
