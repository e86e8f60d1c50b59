"""``POST /stripe/webhook``: Stripe's events, verified on the raw body.

Outside the workspace (Stripe is no member of a firm) and the one route exempt from CSRF: the
signature made with the endpoint's secret is the proof of origin. The app mounts it only when
Stripe is configured; without keys the address is a 404 like any unknown one.
"""

from __future__ import annotations

import structlog
from litestar import Response, post

from luotsi.billing.subscription import webhooks
from luotsi.billing.subscription.gateway import GatewayError, WebhookRejected, verify_webhook
from luotsi.platform import clock
from luotsi.web.deps import Req

log = structlog.get_logger(__name__)


@post("/stripe/webhook", name="stripe_webhook", opt={"exclude_from_csrf": True}, status_code=200)
async def stripe_webhook(request: Req) -> Response[dict[str, str]]:
    settings = request.app.state["settings"]
    payload = await request.body()
    try:
        event = verify_webhook(
            settings, payload, request.headers.get("stripe-signature", ""), clock.now()
        )
    except WebhookRejected as exc:
        log.warning("stripe.webhook.rejected", reason=str(exc))
        return Response({"error": str(exc)}, status_code=400)
    try:
        outcome = await webhooks.handle_event(request.app.state["sessionmaker"], settings, event)
    except GatewayError as exc:  # Stripe unreachable while we fetch: Stripe retries later
        log.warning("stripe.webhook.unavailable", event_id=event.id, error=str(exc))
        return Response({"error": "try again"}, status_code=503)
    return Response({"received": outcome.value})
