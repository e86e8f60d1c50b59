"""A read-only workspace over every workspace route, read from the app's route table.

Once a canceled plan's grace period is over, every unsafe request of staff is refused (403,
with the reason) unless its route opts out with ``OPEN_WHEN_READ_ONLY``; every page can still
be read; the portals of supervisees and HR contacts keep working. New routes are covered
without editing this test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar, Response, post
from litestar.routes import HTTPRoute

from luotsi.billing.subscription.models import PlanStatus
from luotsi.platform.tenancy import Role
from luotsi.tenants.clients.models import PersonRole
from luotsi.web.middleware import UNSAFE_METHODS
from luotsi.web.workspace import OPEN_WHEN_READ_ONLY, opens_when_read_only, workspace_router
from tests import clock
from tests.conftest import Backend, Client, start_app, with_stripe
from tests.factories import (
    Firms,
    add_member,
    add_person,
    bind_supervisee_login,
    make_user,
    set_plan,
)
from tests.web.portal.test_portal import BILLING
from tests.web.test_isolation import fill, sample_ids, workspace_routes

READ_ONLY = "The workspace is read-only"
GRACE_DAYS = 14


def read_only_plan() -> dict[str, Any]:
    """A paid plan canceled a day longer ago than the grace period."""
    return {
        "customer_id": "cus_alfa",
        "stripe_subscription_id": "sub_alfa",
        "status": PlanStatus.CANCELED,
        "canceled_at": clock.now() - timedelta(days=GRACE_DAYS + 1),
    }


def route_opens(app: Litestar, method: str, path: str) -> bool:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path == path:
            for handler in route.route_handlers:
                if method in handler.http_methods:
                    return opens_when_read_only(handler)
    raise AssertionError(f"no route {method} {path}")


@pytest.fixture
async def owner(stripe_app: Litestar, clean_db: Backend, firms: Firms) -> Client:
    """Firm A's owner, signed in, in a workspace that has turned read-only."""
    await set_plan(clean_db.owner, firms.a.tenant, **read_only_plan())
    client = Client(stripe_app)
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    return client


async def test_every_unsafe_workspace_route_refuses_staff(
    stripe_app: Litestar, owner: Client, firms: Firms
) -> None:
    ids = sample_ids(firms.a)
    unsafe = [(m, p) for m, p in workspace_routes(stripe_app) if m in UNSAFE_METHODS]
    assert len(unsafe) > 50  # the walk really walks
    wrong = []
    for method, path in unsafe:
        url = fill(path, firms.a.slug, ids)
        response = await owner.request(method, url, data={"name": "x", "email": "x@y.fi"})
        refused = response.status_code == 403 and READ_ONLY in response.text
        if refused == route_opens(stripe_app, method, path):
            wrong.append(f"{method} {url} -> {response.status_code}")
    assert wrong == []


async def test_every_workspace_page_still_opens(
    stripe_app: Litestar, owner: Client, firms: Firms
) -> None:
    ids = sample_ids(firms.a)
    broken = []
    for method, path in workspace_routes(stripe_app):
        if method == "GET":
            url = fill(path, firms.a.slug, ids)
            response = await owner.get(url)
            if response.status_code == 403 or response.status_code >= 500:
                broken.append(f"{url} -> {response.status_code}")
    assert broken == []
    dashboard = await owner.get("/t/alfa/")
    assert READ_ONLY in dashboard.text  # a positive control: the firm is read-only


async def test_a_route_that_opts_out_still_writes(clean_db: Backend, firms: Firms) -> None:
    """``OPEN_WHEN_READ_ONLY`` on a route (the owner's subscription routes use it)."""

    @post("/read-only-probe", opt=OPEN_WHEN_READ_ONLY, status_code=204)
    async def opted_out() -> Response[None]:
        return Response(None, status_code=204)

    @post("/read-only-refused", status_code=204)
    async def not_opted_out() -> Response[None]:
        return Response(None, status_code=204)

    application, end = await start_app(with_stripe(clean_db.settings))
    try:
        application.register(workspace_router([opted_out, not_opted_out]))
        await set_plan(clean_db.owner, firms.a.tenant, **read_only_plan())
        owner = Client(application)
        await owner.login(firms.a.owner.user.email)
        assert (await owner.post("/t/alfa/read-only-probe")).status_code == 204
        assert (await owner.post("/t/alfa/read-only-refused")).status_code == 403
    finally:
        await end()


async def test_the_supervisee_keeps_her_portal_and_her_data_export(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **read_only_plan())
    await bind_supervisee_login(clean_db, firms.a, firms.a.supervisee, "sanna.ro@example.fi")
    sanna = Client(stripe_app)
    await sanna.login("sanna.ro@example.fi")
    base = f"/t/alfa/me/agreements/{firms.a.agreement.id}"
    added = await sanna.post(f"{base}/goals", {"text": "Opin rajaamaan työtäni."})
    assert added.status_code == 303
    page = await sanna.get(base)
    assert "Opin rajaamaan työtäni." in page.text and READ_ONLY not in page.text
    exported = await sanna.get("/t/alfa/me/export/download")
    assert exported.status_code == 200 and exported.content[:2] == b"PK"


async def test_the_hr_contact_keeps_the_portal(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **read_only_plan())
    user = await make_user(clean_db.owner, "helmi.ro@example.fi", "Helmi HR")
    login = await add_member(clean_db.owner, firms.a.tenant, user, Role.CLIENT_CONTACT)
    await add_person(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        PersonRole.HR_CONTACT,
        "Helmi HR",
        email=user.email,
        membership_id=login.id,
    )
    helmi = Client(stripe_app)
    await helmi.login(user.email)
    saved = await helmi.post("/t/alfa/portal/billing", BILLING)
    assert saved.status_code == 303
    portal = await helmi.get("/t/alfa/portal/")
    assert "Uusikatu 2" in portal.text


async def test_an_active_plan_leaves_every_write_to_the_routes_themselves(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(
        clean_db.owner, firms.a.tenant, **{**read_only_plan(), "status": PlanStatus.ACTIVE}
    )
    owner = Client(stripe_app)
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    ids = sample_ids(firms.a)
    refused = []
    for method, path in workspace_routes(stripe_app):
        if method in UNSAFE_METHODS:
            url = fill(path, firms.a.slug, ids)
            response = await owner.request(method, url, data={"name": "x"})
            if READ_ONLY in response.text:
                refused.append(url)
    assert refused == []
