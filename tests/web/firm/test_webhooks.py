"""The owner's webhook pages: adding an endpoint (the secret shown once), a non-HTTPS or
private address refused with a form error, rotating the secret with a confirmation, turning
an endpoint off, deleting it, sending a test event and reading the delivery log with paging;
nobody but the owner reaches them."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, make_sessionmaker
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms
from tests.platform.test_webhooks import deliver
from tests.receiver import Receiver, receiver_fixture  # noqa: F401  (the fixture)

PAGE = "/t/alfa/settings/webhooks/"


async def _as(client_factory: Any, member: Membership) -> Client:
    client: Client = client_factory()
    await client.login(member.user.email)
    await client.post("/language", {"language": "en", "next": "/"})
    return client


async def _endpoints(backend: Backend, firm: Firm) -> list[WebhookEndpoint]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        rows = await db.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id != firm.webhook.id)
            .order_by(WebhookEndpoint.created_at)
        )
        return list(rows)


def _form(url: str, *events: WebhookEvent) -> dict[str, Any]:
    return {"url": url, "events": [e.value for e in events]}


async def test_the_owner_adds_an_endpoint_and_sees_its_secret_once(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    owner = await _as(client_factory, firms.a.owner)
    form = _form("https://hooks.example.com/luotsi", WebhookEvent.SESSION_PLANNED)
    added = await owner.post(PAGE, form)
    assert added.status_code == 200
    (endpoint,) = await _endpoints(clean_db, firms.a)
    assert endpoint.url == "https://hooks.example.com/luotsi"
    assert endpoint.events == {"session_planned"}
    assert endpoint.secret in added.text
    assert "no-store" in added.headers.get("cache-control", "")
    listing = await owner.get(PAGE)
    page = await owner.get(f"{PAGE}{endpoint.id}")
    assert "hooks.example.com/luotsi" in listing.text and page.status_code == 200
    assert endpoint.secret not in listing.text and endpoint.secret not in page.text


async def test_an_address_without_https_is_refused_with_a_form_error(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    owner = await _as(client_factory, firms.a.owner)
    refused = await owner.post(PAGE, _form("http://hooks.example.com/x", WebhookEvent.SESSION_HELD))
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text
    assert "The address must start with https://." in refused.text
    assert 'value="http://hooks.example.com/x"' in refused.text  # kept for correcting
    private = await owner.post(PAGE, _form("https://192.168.1.10/x", WebhookEvent.SESSION_HELD))
    assert private.status_code == 422 and "not a local or private one" in private.text
    no_events = await owner.post(PAGE, _form("https://hooks.example.com/x"))
    assert no_events.status_code == 422 and "Choose at least one event." in no_events.text
    assert await _endpoints(clean_db, firms.a) == []


async def test_rotating_the_secret_needs_a_confirmation_and_shows_the_new_one(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    owner = await _as(client_factory, firms.a.owner)
    await owner.post(PAGE, _form("https://hooks.example.com/r", WebhookEvent.INVOICE_PAID))
    (endpoint,) = await _endpoints(clean_db, firms.a)
    url = f"{PAGE}{endpoint.id}/rotate"
    assert (await owner.get(url)).status_code == 200
    unconfirmed = await owner.post(url, {})
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.text
    assert (await _endpoints(clean_db, firms.a))[0].secret == endpoint.secret
    rotated = await owner.post(url, {"confirm": "on"})
    (after,) = await _endpoints(clean_db, firms.a)
    assert rotated.status_code == 200
    assert after.secret != endpoint.secret and after.secret in rotated.text


async def test_the_owner_turns_an_endpoint_off_and_deletes_it(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    owner = await _as(client_factory, firms.a.owner)
    await owner.post(PAGE, _form("https://hooks.example.com/o", WebhookEvent.INVOICE_PAID))
    (endpoint,) = await _endpoints(clean_db, firms.a)
    form = _form("https://hooks.example.com/o2", WebhookEvent.INVOICE_ISSUED)
    saved = await owner.post(f"{PAGE}{endpoint.id}", form)  # "active" unticked: off
    assert saved.status_code == 303
    (changed,) = await _endpoints(clean_db, firms.a)
    assert not changed.active and changed.url.endswith("/o2")
    assert changed.events == {"invoice_issued"}
    bad = await owner.post(f"{PAGE}{endpoint.id}", {**form, "url": "http://x.example"})
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    assert (await owner.get(f"{PAGE}{endpoint.id}/delete")).status_code == 200
    assert (await owner.post(f"{PAGE}{endpoint.id}/delete")).status_code == 303
    assert await _endpoints(clean_db, firms.a) == []
    assert (await owner.get(f"{PAGE}{endpoint.id}")).status_code == 404


async def test_a_test_event_is_delivered_and_shows_in_the_delivery_log(
    client_factory: Any, firms: Firms, clean_db: Backend, receiver: Receiver
) -> None:
    a = firms.a
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        endpoint = WebhookEndpoint(
            url=f"{receiver.base_url}/ping", events={"invoice_paid"}, secret="whsec_test"
        )
        db.add(endpoint)
    owner = await _as(client_factory, a.owner)
    sent = await owner.post(f"{PAGE}{endpoint.id}/test")
    assert sent.status_code == 303
    await deliver(receiver.settings(clean_db.settings))
    (request,) = receiver.requests
    assert request.headers["Luotsi-Event"] == "ping"
    page = await owner.get(f"{PAGE}{endpoint.id}")
    assert page.text.count('class="delivery-row"') == 1
    assert "<code>ping</code>" in page.text and "204" in page.text and "Delivered" in page.text


async def test_the_delivery_log_pages(client_factory: Any, firms: Firms, clean_db: Backend) -> None:
    a = firms.a
    start = clock.now() - timedelta(hours=1)
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        for minute in range(30):
            db.add(
                WebhookDelivery(
                    endpoint_id=a.webhook.id,
                    delivery_id=uuid.uuid4(),
                    event="invoice_paid",
                    attempt=1,
                    at=start + timedelta(minutes=minute),
                    status_code=200,
                    outcome="delivered",
                )
            )
    owner = await _as(client_factory, a.owner)
    first = await owner.get(f"{PAGE}{a.webhook.id}")
    second = await owner.get(f"{PAGE}{a.webhook.id}?page=2")
    assert first.text.count('class="delivery-row"') == 25
    assert second.text.count('class="delivery-row"') == 5
    assert re.search(r'href="\?page=2"', first.text)


async def test_only_the_owner_reaches_the_webhook_pages(client_factory: Any, firms: Firms) -> None:
    for member in (firms.a.admin, firms.a.supervisor):
        client = await _as(client_factory, member)
        assert (await client.get(PAGE)).status_code == 403
        endpoint_page = await client.get(f"{PAGE}{firms.a.webhook.id}")
        assert endpoint_page.status_code == 403
    owner = await _as(client_factory, firms.a.owner)
    assert (await owner.get(PAGE)).status_code == 200
    settings = await owner.get("/t/alfa/settings/")
    assert 'href="/t/alfa/settings/webhooks/"' in settings.text
