"""Tenant isolation over every workspace route, read from the app's route table.

New routes under ``/t/{tenant_slug}`` are picked up automatically; a route with a path
parameter this test cannot fill makes it fail until a sample object is added below.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from luotsi.billing import invoices, payments
from luotsi.billing import settings as billing_settings
from luotsi.billing.subscription.models import PlanStatus
from luotsi.platform import apitokens, audit
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import (
    Content,
    Firm,
    Firms,
    add_content,
    add_invoice_run,
    portrait,
    set_plan,
)

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def workspace_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/t/{tenant_slug"):
            for method in sorted(route.methods - SKIPPED_METHODS):
                found.append((method, route.path))
    return found


@dataclass
class Issued:
    """Firm A's issued invoice with a payment recorded by hand."""

    invoice_id: uuid.UUID
    payment_id: uuid.UUID


@pytest.fixture
async def a_content(clean_db: Backend, firms: Firms) -> Content:
    """Content on firm A's agreement, so content routes have real objects to name (and a logo
    in its billing settings, so the logo's route has an image to serve; an invoice run for
    the billing routes that name it)."""
    async with scoped(clean_db, firms.a.tenant) as db:
        await billing_settings.set_logo(db, clean_db.files, firms.a.owner, portrait())
        await db.commit()
    async with scoped(clean_db, firms.a.tenant) as db:
        token, _text = await apitokens.create_token(
            db,
            firms.a.owner,
            apitokens.TokenInput(name="HR", scopes=["clients_read"]),
            audit.Origin(ip="", user_agent=""),
        )
        await db.commit()
    BILLING_SAMPLES[firms.a.tenant.id] = {
        "run_id": (await add_invoice_run(clean_db.owner, firms.a.tenant)).id,
        "api_token_id": token.id,
    }
    return await add_content(clean_db, firms.a)


# Billing objects and an API token of the firm made by ``a_content`` (by tenant id:
# ``sample_ids`` is sync).
BILLING_SAMPLES: dict[uuid.UUID, dict[str, uuid.UUID]] = {}


@pytest.fixture
async def a_issued(clean_db: Backend, firms: Firms) -> Issued:
    """An issued invoice of firm A with a payment, so invoice routes that need an issued one
    (its PDF, its payments) and payment routes have real objects to name."""
    async with scoped(clean_db, firms.a.tenant) as db:
        await complete_profile(db)
        draft = await add_draft(db, firms.a.org, Row("Työnohjaus", 10000))
        invoice = await invoices.issue(db, firms.a.owner, draft.id)
        payment = await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), 5000)
        await db.commit()
        return Issued(invoice.id, payment.id)


def sample_ids(
    firm: Firm, content: Content | None = None, issued: Issued | None = None
) -> dict[str, uuid.UUID]:
    """One real object of ``firm`` per path parameter name; content ids are real when
    ``content`` is given, else ids of nothing (a route must then answer 404). With ``issued``
    the invoice is an issued one (its draft-only pages say so with 200) and its payment is
    named."""
    ids = {
        "membership_id": firm.supervisor.id,
        "invitation_id": firm.invitation.id,
        "area_id": firm.area.id,
        "specialty_id": firm.specialty.id,
        "profile_id": firm.profile.id,
        "absence_id": firm.absence.id,
        "inquiry_id": firm.inquiry.id,
        "org_id": firm.org.id,
        "person_id": firm.supervisee.id,
        "agreement_id": firm.agreement.id,
        "session_id": firm.session.id,
        "review_id": firm.review.id,
        "invoice_id": firm.invoice.id,
        "line_id": firm.invoice_line.id,
        "notification_id": firm.notification.id,
        "endpoint_id": firm.webhook.id,
    }
    ids |= {
        "note_id": content.note_id if content else uuid.uuid4(),
        "assignment_id": content.assignment_id if content else uuid.uuid4(),
        "goal_id": content.goal_id if content else uuid.uuid4(),
        "evaluation_id": content.evaluation_id if content else uuid.uuid4(),
        "request_id": content.request_id if content else uuid.uuid4(),
    }
    billing = BILLING_SAMPLES.get(firm.tenant.id, {}) if content else {}
    ids["run_id"] = billing.get("run_id", uuid.uuid4())
    ids["api_token_id"] = billing.get("api_token_id", uuid.uuid4())
    ids["payment_id"] = issued.payment_id if issued else uuid.uuid4()
    if issued:
        ids["invoice_id"] = issued.invoice_id
    return ids


def fill(path: str, slug: str, ids: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "tenant_slug":
            return slug
        assert name in ids, f"add a sample object for path parameter {name!r} ({path})"
        return str(ids[name])

    return PARAM.sub(one, path)


def has_object_params(path: str) -> bool:
    return any(name != "tenant_slug" for name in PARAM.findall(path))


async def test_route_table_is_found(app: Litestar) -> None:
    routes = workspace_routes(app)
    assert ("GET", "/t/{tenant_slug:str}") in routes
    assert ("POST", "/t/{tenant_slug:str}/members/{membership_id:uuid}/remove") in routes


async def test_member_of_another_firm_gets_404_everywhere(
    app: Litestar, client: Client, firms: Firms, a_content: Content, a_issued: Issued
) -> None:
    await client.login(firms.b.owner.user.email)
    a_ids = sample_ids(firms.a, a_content, a_issued)
    leaks = []
    for method, path in workspace_routes(app):
        for slug in (firms.a.slug, firms.b.slug):
            if slug == firms.b.slug and not has_object_params(path):
                continue  # B's own pages without firm A's objects are B's to see
            url = fill(path, slug, a_ids)
            response = await client.request(method, url, data={"role": "admin", "email": "x@y.fi"})
            if response.status_code != 404:
                leaks.append(f"{method} {url} -> {response.status_code}")
    assert leaks == []
    # Nothing of firm A changed through those requests.
    owner_a = Client(app)
    await owner_a.login(firms.a.owner.user.email)
    members = await owner_a.get("/t/alfa/members/")
    assert "supervisor@alfa.example" in members.text and "invitee@shared.example" in members.text


async def test_unknown_firm_and_non_member_get_the_same_page(
    app: Litestar, client: Client, firms: Firms
) -> None:
    await client.login(firms.b.owner.user.email)
    foreign = await client.get("/t/alfa/")
    unknown = await client.get("/t/no-such-firm/")
    assert foreign.status_code == unknown.status_code == 404
    strip = re.compile(r'x-csrftoken": "[^"]+"|value="[0-9a-f]{64,}"|value="/t/[^"]*"')
    assert strip.sub("", foreign.text) == strip.sub("", unknown.text)


async def test_routes_that_only_exist_with_stripe_are_isolated_too(
    app: Litestar, stripe_app: Litestar, firms: Firms, clean_db: Backend
) -> None:
    """The owner's subscription pages are mounted only with Stripe keys: the same checks on
    the app that has them (another firm 404, anonymous to sign-in, and as a positive control
    the owner opens every page, also as an htmx fragment). Its pages read stored rows only."""
    without = set(workspace_routes(app))
    routes = [route for route in workspace_routes(stripe_app) if route not in without]
    assert ("GET", "/t/{tenant_slug:str}/settings/subscription") in routes
    # A running subscription, so that the cancel confirmation has one to name.
    await set_plan(
        clean_db.owner,
        firms.a.tenant,
        customer_id="cus_alfa",
        stripe_subscription_id="sub_alfa",
        status=PlanStatus.ACTIVE,
        seats=2,
        seat_cents=2900,
        current_period_end=clock.now() + timedelta(days=20),
    )
    other, anonymous, owner = Client(stripe_app), Client(stripe_app), Client(stripe_app)
    await other.login(firms.b.owner.user.email)
    await owner.login(firms.a.owner.user.email)
    leaks = []
    for method, path in routes:
        url = fill(path, firms.a.slug, sample_ids(firms.a))
        response = await other.request(method, url, data={"interval": "month"})
        if response.status_code != 404:
            leaks.append(f"{method} {url} -> {response.status_code}")
        sent = await anonymous.request(method, url, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].startswith("/login?next=")
        if method == "GET":
            assert (await owner.get(url)).status_code == 200, url
            assert (await owner.get(url, headers={"HX-Request": "true"})).status_code == 200
    assert leaks == []


CONTENT_PARAMS = ("{note_id", "{assignment_id", "{goal_id", "{evaluation_id")


def sample_reader(path: str, firm: Firm, content: Content) -> str:
    """Who may open a sample URL: content is its supervisor's (or, in the portal, its
    supervisee's); everything else the owner's."""
    if any(param in path for param in CONTENT_PARAMS):
        if path.startswith("/t/{tenant_slug:str}/me/"):
            return content.supervisee_login.user.email
        return firm.supervisor.user.email
    return firm.owner.user.email


async def test_samples_are_real_objects_for_their_own_firm(
    app: Litestar, firms: Firms, a_content: Content, a_issued: Issued
) -> None:
    # Guards the isolation test against passing because its URLs are wrong.
    ids = sample_ids(firms.a, a_content, a_issued)
    clients: dict[str, Client] = {}
    for method, path in workspace_routes(app):
        if method == "GET":
            email = sample_reader(path, firms.a, a_content)
            if email not in clients:
                clients[email] = Client(app)
                await clients[email].login(email)
            response = await clients[email].get(fill(path, firms.a.slug, ids))
            assert response.status_code == NOT_OPENABLE.get(path, (200, ""))[0], path


# Routes whose sample object is not one their reader can open, with the answer and why.
NOT_OPENABLE = {
    "/t/{tenant_slug:str}/notifications/{notification_id:uuid}": (
        303,
        "opening a notification marks it read and goes on to what it is about",
    ),
    "/t/{tenant_slug:str}/portal/invoices/{invoice_id:uuid}/pdf": (
        404,
        "the sample invoice is a draft and the portal hands out issued ones only, to HR"
        " contacts (tests/web/portal/test_portal_invoices.py downloads real ones)",
    ),
    "/t/{tenant_slug:str}/billing/settings/card-payments/disconnect": (
        404,
        "this app has no Stripe keys, so no firm has card payments to disconnect"
        " (tests/billing/subscription/test_card_payments.py opens it with a connected account)",
    ),
}


async def test_anonymous_visitor_is_sent_to_sign_in(
    app: Litestar, client: Client, firms: Firms, a_content: Content, a_issued: Issued
) -> None:
    for method, path in workspace_routes(app):
        url = fill(path, firms.a.slug, sample_ids(firms.a, a_content, a_issued))
        response = await client.request(method, url, follow_redirects=False)
        assert response.status_code == 303, f"{method} {url}"
        assert response.headers["location"].startswith("/login?next=")


async def test_every_workspace_page_also_renders_as_an_htmx_fragment(
    app: Litestar, client: Client, firms: Firms, a_content: Content, a_issued: Issued
) -> None:
    """A page's htmx fragment renders on its own (macros imported inside the block)."""
    await client.login(firms.a.owner.user.email)
    broken = []
    for method, path in workspace_routes(app):
        if method == "GET":
            url = fill(path, firms.a.slug, sample_ids(firms.a, a_content, a_issued))
            response = await client.get(url, headers={"HX-Request": "true"})
            if response.status_code >= 500:
                broken.append(url)
    assert broken == []
