"""The platform operator's console beyond the list: who gets in, a firm's account, support's
actions (suspend, reactivate, plan override, trial extension) and what the firm then sees,
and the health page."""

from __future__ import annotations

import html
import io
import zipfile
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

from luotsi.billing.subscription.models import PlanStatus, SubscriptionPayment
from luotsi.billing.subscription.operator import this_month
from luotsi.platform.clock import today as finnish_date
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Role
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import (
    Firms,
    add_member,
    add_session,
    bind_supervisee_login,
    make_user,
    paid_plan,
    set_plan,
)
from tests.web.operator.test_firms import operator, row_of

FIRM = "/platform/firms/alfa"


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def console_routes(app: Litestar) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path.replace("{slug:str}", "alfa"))
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/platform")
        for method in route.methods - {"HEAD", "OPTIONS"}
    )


async def english(app: Litestar, email: str) -> Client:
    client = Client(app)
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(email)
    return client


# --- who gets in ------------------------------------------------------------------------------


async def test_nobody_but_an_operator_finds_any_console_page(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    routes = console_routes(app)
    assert ("GET", "/platform/health") in routes and ("POST", f"{FIRM}/suspend") in routes
    sanna = await bind_supervisee_login(
        clean_db, firms.a, firms.a.supervisee, "sanna.login@alfa-client.example"
    )
    anonymous = Client(app)
    owner = await english(app, firms.a.owner.user.email)
    supervisee = await english(app, sanna.user.email)
    for client in (anonymous, owner, supervisee):
        for method, path in routes:
            response = await client.request(method, path, data={"reason": "x", "days": "3"})
            assert response.status_code == 404, (method, path, response.status_code)
    staff = await operator(clean_db, app)  # the positive control
    for method, path in routes:
        if method == "GET":
            assert (await staff.get(path)).status_code == 200, path
    assert (await owner.get("/t/alfa/")).status_code == 200  # nothing was suspended


# --- the list ---------------------------------------------------------------------------------


async def test_the_list_counts_members_and_this_months_sessions_and_supervisors(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, app)
    before = row_of((await client.get("/platform/")).text, "alfa")
    a = firms.a
    user = await make_user(clean_db.owner, "uusi@alfa.example", "Ulla Uusi")
    newcomer = await add_member(clean_db.owner, a.tenant, user, Role.SUPERVISOR)
    start, _end = this_month()
    for hours in (10, 30):  # two sessions early this month, by a supervisor of none before
        await add_session(
            clean_db.owner,
            a.tenant,
            a.agreement,
            newcomer,
            starts_at=start + timedelta(hours=hours),
        )

    def numbers(row: str) -> list[int]:
        return [
            int(row.split(f'<td class="{name}">', 1)[1].split("<", 1)[0])
            for name in ("members", "sessions", "supervisors")
        ]

    after = row_of((await client.get("/platform/")).text, "alfa")
    members, sessions, supervisors = numbers(before)
    assert numbers(after) == [members + 1, sessions + 2, supervisors + 1]
    assert numbers(row_of((await client.get("/platform/")).text, "beeta"))[0] == 4


async def test_the_list_sorts_by_a_column_both_ways(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    user = await make_user(clean_db.owner, "uusi@beeta.example", "Ulla Uusi")
    await add_member(clean_db.owner, firms.b.tenant, user, Role.SUPERVISOR)  # beeta: more members
    client = await operator(clean_db, app)

    def order(page: str) -> list[str]:
        return [part.split("</code>", 1)[0] for part in page.split("<code>")[1:]]

    assert order((await client.get("/platform/")).text) == ["alfa", "beeta"]
    assert order((await client.get("/platform/?sort=-name")).text) == ["beeta", "alfa"]
    assert order((await client.get("/platform/?sort=-members")).text) == ["beeta", "alfa"]
    assert order((await client.get("/platform/?sort=members")).text) == ["alfa", "beeta"]
    page = await client.get("/platform/?sort=nonsense")
    assert page.status_code == 200 and order(page.text) == ["alfa", "beeta"]


async def test_search_finds_a_firm_by_its_business_id(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, app)
    found = await client.get("/platform/", params={"q": "0737546"})
    assert "<code>alfa</code>" in found.text and "<code>beeta</code>" not in found.text


# --- a firm's page ----------------------------------------------------------------------------


async def test_the_firm_page_shows_the_owner_the_plan_payments_and_members_by_role(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan())
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firms.a.tenant.id
        db.add(
            SubscriptionPayment(
                stripe_invoice_id="in_alfa_1",
                amount_cents=8700,
                status="paid",
                created_at=clock.now() - timedelta(days=10),
                paid_at=clock.now() - timedelta(days=10),
            )
        )
    client = await operator(clean_db, stripe_app)
    page = text_of(await client.get(FIRM))
    owner = firms.a.owner.user
    assert f'{owner.name} · <a href="mailto:{owner.email}">' in page
    assert "Alfa Työnohjaus Oy" in page and "0737546-2" in page
    assert 'id="plan-status">Active<' in page and "cus_alfa" in page
    assert "in_alfa_1" in page and "87,00" in page
    assert '<dd class="role-owner">1</dd>' in page
    assert '<dd class="role-supervisor">2</dd>' in page  # Kaisa is in both firms
    assert (await client.get("/platform/firms/nobody")).status_code == 404


# --- suspension -------------------------------------------------------------------------------


async def suspend(client: Client, reason: str = "Laskut maksamatta") -> Any:
    return await client.post(f"{FIRM}/suspend", {"reason": reason})


async def test_suspending_needs_a_reason_and_a_confirmation(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, app)
    confirm = await client.get(f"{FIRM}/suspend")
    assert confirm.status_code == 200 and "Suspend Alfa Työnohjaus Oy?" in text_of(confirm)
    refused = await suspend(client, "   ")
    assert refused.status_code == 422 and "Write the reason" in refused.text
    too_long = await suspend(client, "x" * 501)
    assert too_long.status_code == 422 and "Shorten this to 500 characters" in too_long.text
    owner = await english(app, firms.a.owner.user.email)
    assert (await owner.get("/t/alfa/")).status_code == 200  # still open


async def test_a_suspended_firms_members_see_a_notice_and_cannot_open_it(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    sanna = await bind_supervisee_login(
        clean_db, firms.a, firms.a.supervisee, "sanna.login@alfa-client.example"
    )
    client = await operator(clean_db, app)
    done = await suspend(client)
    assert done.status_code == 303 and done.headers["location"] == FIRM
    firm_page = text_of(await client.get(FIRM))
    assert 'id="firm-status">Suspended<' in firm_page and "Laskut maksamatta" in firm_page

    for email in (firms.a.owner.user.email, firms.a.supervisor.user.email):
        member = await english(app, email)
        for path in ("/t/alfa/", "/t/alfa/agreements/", "/t/alfa/me/export"):
            shut = await member.get(path)
            assert shut.status_code == 403, path
            assert "The workspace is suspended" in shut.text
        assert "/t/alfa/" in (await member.get("/account")).text  # listed, to explain
        write = await member.post("/t/alfa/settings/firm/", {"name": "x"})
        assert write.status_code == 403
    outsider = await english(app, firms.b.owner.user.email)
    assert (await outsider.get("/t/alfa/")).status_code == 404  # no oracle for others
    assert (await outsider.get("/t/beeta/")).status_code == 200  # the other firm is open

    supervisee = await english(app, sanna.user.email)
    portal = await supervisee.get("/t/alfa/me/")
    assert portal.status_code == 403 and 'href="/t/alfa/me/export"' in portal.text
    assert (await supervisee.get("/t/alfa/me/export")).status_code == 200
    download = await supervisee.get("/t/alfa/me/export/download")
    assert download.status_code == 200
    assert "data.json" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()


async def test_reactivating_opens_the_workspace_again_and_the_firm_sees_both_in_its_log(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, app)
    assert (await suspend(client)).status_code == 303
    assert (await client.get(f"{FIRM}/suspend")).status_code == 200
    again = await suspend(client)
    assert again.status_code == 422 and "Only an active firm can be suspended" in again.text
    refused = await client.post(f"{FIRM}/reactivate", {"reason": ""})
    assert refused.status_code == 422
    done = await client.post(f"{FIRM}/reactivate", {"reason": "Maksettu"})
    assert done.status_code == 303
    owner = await english(app, firms.a.owner.user.email)
    assert (await owner.get("/t/alfa/")).status_code == 200
    log = text_of(await owner.get("/t/alfa/audit/"))
    assert "Luotsi support suspended the workspace" in log
    assert "Luotsi support reopened the workspace" in log
    assert "Oona Operaattori" not in log and "Laskut maksamatta" not in log  # internal only
    other = text_of(await (await english(app, firms.b.owner.user.email)).get("/t/beeta/audit/"))
    assert "Luotsi support" not in other


# --- plan override and trial extension ------------------------------------------------------


async def test_a_complimentary_plan_is_what_the_firm_sees_and_brings_no_revenue(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    ended = clock.now() - timedelta(days=90)  # and the grace period is over: read-only
    await set_plan(
        clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.CANCELED, canceled_at=ended)
    )
    owner = await english(stripe_app, firms.a.owner.user.email)
    assert (await owner.post("/t/alfa/settings/firm/", {"name": ""})).status_code == 403
    client = await operator(clean_db, stripe_app)
    bad = await client.post(f"{FIRM}/plan", {"plan": "platinum", "reason": "Kumppani"})
    assert bad.status_code == 422 and "Choose a plan from the list" in bad.text
    done = await client.post(f"{FIRM}/plan", {"plan": "complimentary", "reason": "Kumppani"})
    assert done.status_code == 303
    assert "Complimentary" in row_of((await client.get("/platform/")).text, "alfa")
    page = text_of(await owner.get("/t/alfa/settings/subscription"))
    assert "Complimentary" in page and "complimentary plan" in page
    assert (await owner.post("/t/alfa/settings/firm/", {"name": ""})).status_code == 422
    assert "Luotsi support changed the firm's plan" in text_of(await owner.get("/t/alfa/audit/"))

    back = await client.post(f"{FIRM}/plan", {"plan": "", "reason": "Kumppanuus päättyi"})
    assert back.status_code == 303
    assert "Canceled" in text_of(await owner.get("/t/alfa/settings/subscription"))


async def test_a_trial_extension_moves_the_end_the_owner_sees(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, stripe_app)
    owner = await english(stripe_app, firms.a.owner.user.email)
    trial_days = clean_db.settings.plans.trial_days
    ends = finnish_date(firms.a.tenant.created_at + timedelta(days=trial_days))
    assert clock.en_date(ends) in text_of(await owner.get("/t/alfa/settings/subscription"))
    for days in ("", "abc", "0", "366"):
        refused = await client.post(f"{FIRM}/trial", {"days": days, "reason": "Pyyntö"})
        assert refused.status_code == 422 and "from 1 to 365" in refused.text, days
    done = await client.post(f"{FIRM}/trial", {"days": "30", "reason": "Pyyntö"})
    assert done.status_code == 303
    later = clock.en_date(finnish_date(firms.a.tenant.created_at + timedelta(days=trial_days + 30)))
    assert f"The trial runs until {later}" in text_of(
        await owner.get("/t/alfa/settings/subscription")
    )
    assert later in text_of(await client.get(FIRM))
    log = text_of(await owner.get("/t/alfa/audit/"))
    assert "Luotsi support extended the firm's trial" in log


async def test_a_firm_that_stripe_bills_has_no_trial_to_extend(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan())
    client = await operator(clean_db, stripe_app)
    refused = await client.post(f"{FIRM}/trial", {"days": "30", "reason": "Pyyntö"})
    assert refused.status_code == 422 and "no trial to extend" in refused.text


# --- health -----------------------------------------------------------------------------------


async def test_the_health_page_shows_the_outbox_backlog_and_failed_deliveries(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    now = clock.now()
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        for status, age in (("pending", 3), ("pending", 1), ("failed", 5), ("sent", 9)):
            db.add(
                OutboxMessage(
                    tenant_id=firms.a.tenant.id,
                    kind="mail",
                    payload={"to": "x@example.com"},
                    status=status,
                    created_at=now - timedelta(hours=age),
                    next_attempt_at=now,
                )
            )
    client = await operator(clean_db, app)
    page = await client.get("/platform/health")
    assert page.status_code == 200
    text = text_of(page)
    assert 'id="outbox-waiting">2<' in text
    assert 'id="outbox-oldest">3 hours<' in text
    assert 'id="outbox-failed">1<' in text
    assert "x@example.com" not in text  # counts only, never a message
    assert 'id="check-database"><span class="badge check-ok">OK<' in text
    assert 'id="check-migrations"><span class="badge check-ok">OK<' in text
    assert "No worker has been heard of." in text
