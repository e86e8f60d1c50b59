"""Stripe's side of the tests: localstripe's API spoken directly, and signed webhook events.

What a browser does with Stripe.js (making a PaymentMethod from card details) and what Stripe
does on its own (a renewal that fails, a subscription ending at its period's end, webhooks)
the tests do here, with plain HTTP: Luotsi's own calls all go through its gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests import clock

SECRET_KEY = "sk_test_luotsi_not_a_real_key"
WEBHOOK_SECRET = "whsec_luotsi_not_a_real_secret"
CONNECT_WEBHOOK_SECRET = "whsec_luotsi_connect_not_a_real_secret"  # the Connect endpoint's
CONNECT_CLIENT_ID = "ca_luotsi_not_a_real_client"
PUBLISHABLE_KEY = "pk_test_luotsi"  # what Stripe.js (localstripe's mock) is given
GOOD_CARD = "4242424242424242"
FAILING_CARD = "4000000000000341"  # attaches, then every charge is declined


@dataclass(frozen=True)
class LocalStripe:
    base: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET_KEY}"}

    async def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.base, headers=self.headers) as client:
            response = await client.request(method, path, data=data)
        assert response.status_code == 200, response.text
        return response.json()

    async def card(self, number: str = GOOD_CARD) -> str:
        """A PaymentMethod as Stripe.js makes it from the card's details; its id."""
        method = await self._call(
            "POST",
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": str(clock.today().year + 3),
                "card[cvc]": "123",
            },
        )
        return str(method["id"])

    async def get(self, path: str) -> Any:
        return await self._call("GET", path)

    async def fail_renewal(self, customer_id: str, subscription_id: str) -> None:
        """Stripe's next charge is declined: the card stops working and the subscription
        bills a new period (localstripe charges at once when the plan's interval changes)."""
        failing = await self.card(FAILING_CARD)
        await self._call("POST", f"/v1/payment_methods/{failing}/attach", {"customer": customer_id})
        await self._call(
            "POST",
            f"/v1/customers/{customer_id}",
            {"invoice_settings[default_payment_method]": failing},
        )
        subscription = await self.get(f"/v1/subscriptions/{subscription_id}")
        item = subscription["items"]["data"][0]
        plans = (await self.get("/v1/plans?limit=100"))["data"]
        other = next(
            plan
            for plan in plans
            if plan["product"] == item["plan"]["product"]
            and plan["interval"] != item["plan"]["interval"]
        )
        await self._call(
            "POST",
            f"/v1/subscriptions/{subscription_id}",
            {
                "items[0][id]": item["id"],
                "items[0][plan]": other["id"],
                "items[0][quantity]": str(item["quantity"]),
            },
        )

    async def end(self, subscription_id: str) -> Any:
        """The paid period is over: Stripe ends a subscription cancelled at period end."""
        return await self._call("DELETE", f"/v1/subscriptions/{subscription_id}")

    async def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> None:
        await self._call(
            "POST",
            f"/v1/subscriptions/{subscription_id}",
            {"cancel_at_period_end": "true" if cancel else "false"},
        )


def signed_event(
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime | None = None,
    event_id: str | None = None,
    secret: str = WEBHOOK_SECRET,
    account: str | None = None,
    created: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """An event's body and headers as Stripe delivers it: ``Stripe-Signature: t=…,v1=…``
    with the HMAC-SHA256 of ``"{t}.{body}"`` under the endpoint secret, signed at ``at``
    (the app's clock by default). A connected ``account``'s event (Connect) names it; the
    event was made at ``created`` (when signed by default)."""
    at = at or clock.now()
    timestamp = int(at.timestamp())
    event: dict[str, Any] = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int((created or at).timestamp()),
        "livemode": False,
        "data": {"object": data},
    }
    if account is not None:
        event["account"] = account
    body = json.dumps(event).encode()
    signature = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "Stripe-Signature": f"t={timestamp},v1={signature}",
        "Content-Type": "application/json",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_localstripe(folder: Path) -> Iterator[LocalStripe]:
    """``localstripe --port N --from-scratch`` on a free loopback port, answering; terminated
    at the end. Its log and the state it pickles after every request stay in ``folder``."""
    port = _free_port()
    executable = Path(sys.executable).parent / "localstripe"
    log = folder / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(folder)},
        )
    server = LocalStripe(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{server.base}/v1/products", headers=server.headers, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"localstripe did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
