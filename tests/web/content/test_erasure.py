"""The owner decides supervisees' erasure requests: a confirmation step, then erase or decline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import ClientPerson, PersonRole
from luotsi.tenants.content import ErasureStatus
from luotsi.tenants.sessions.models import SupervisionSession
from tests.conftest import Backend, Client, scoped
from tests.factories import Content, Firms, add_content, add_person, bind_supervisee_login

LIST = "/t/alfa/settings/erasure-requests/"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


@pytest.fixture
async def a_content(clean_db: Backend, firms: Firms) -> Content:
    return await add_content(clean_db, firms.a)


def request_url(a_content: Content) -> str:
    return f"{LIST}{a_content.request_id}"


async def owner_client(client: Client, firms: Firms) -> Client:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    return client


async def sannas_goals(backend: Backend, firms: Firms) -> list[content.GoalView]:
    """The agreement's goals as its supervisor sees them."""
    async with scoped(backend, firms.a.tenant) as db:
        reader = content.Reader(firms.a.supervisor, backend.settings.content_keys)
        return await content.list_goals(db, reader, firms.a.agreement.id)


async def latest_request(backend: Backend, firms: Firms, a_content: Content) -> Any:
    async with scoped(backend, firms.a.tenant) as db:
        return await content.latest_request_of(db, a_content.supervisee_login)


async def erasure_rows(backend: Backend) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith("erasure."))
            .order_by(AuditEvent.at)
        )
        return list(rows)


async def test_owner_lists_requests_waiting_ones_first(
    client: Client, clean_db: Backend, firms: Firms, a_content: Content
) -> None:
    # An older request by another supervisee, already declined.
    pekka = await add_person(
        clean_db.owner, firms.a.tenant, firms.a.org, PersonRole.SUPERVISEE, "Pekka Päätetty"
    )
    login = await bind_supervisee_login(clean_db, firms.a, pekka, "pekka@alfa-client.example")
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firms.a.tenant.id
        declined = await content.request_erasure(db, login, base_url="http://luotsi.test")
        await content.decline_erasure(db, firms.a.owner, declined.id, "Sopimus on kesken.")
    await owner_client(client, firms)
    page = await client.get(LIST)
    assert page.status_code == 200
    assert page.text.count('class="erasure-row') == 2
    assert page.text.index("Sanna Supervisee") < page.text.index("Pekka Päätetty")
    assert "Waiting for the owner" in page.text and "Declined" in page.text
    assert f'href="{request_url(a_content)}"' in page.text
    assert "Maija Owner" in page.text  # who decided the declined one
    fragment = await client.get(LIST, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    # The dashboard and the settings hub tell the owner one is waiting.
    dashboard = await client.get("/t/alfa/")
    assert "1 erasure request is waiting for your decision." in dashboard.text
    assert f'href="{LIST}"' in dashboard.text
    hub = await client.get("/t/alfa/settings/")
    assert "1 request is waiting for your decision." in hub.text


async def test_other_firms_requests_are_not_listed(
    client_factory: Any, firms: Firms, a_content: Content
) -> None:
    other = client_factory()
    other.client.cookies.set("luotsi_lang", "en")
    await other.login(firms.b.owner.user.email)
    page = await other.get("/t/beeta/settings/erasure-requests/")
    assert page.status_code == 200 and "No supervisee has asked for erasure." in page.text
    assert "erasure request" not in (await other.get("/t/beeta/")).text


async def test_confirmation_step_shows_what_would_be_erased(
    client: Client, firms: Firms, a_content: Content
) -> None:
    await owner_client(client, firms)
    page = await client.get(request_url(a_content))
    assert page.status_code == 200
    plan = page.text.split('id="erasure-plan"')[1]
    assert "Sanna Supervisee" in plan and "Esimerkkikunta" in plan
    assert "1 agreement where they are the only supervisee loses all its content." in plan
    assert "In 0 group agreements only their own content goes" in plan
    assert "sessions and invoices" in plan
    assert 'name="understood"' in plan and 'name="reason"' in page.text
    assert a_content.marker not in page.text  # never the content itself


async def test_erasing_needs_the_box_ticked(
    client: Client, clean_db: Backend, firms: Firms, a_content: Content
) -> None:
    await owner_client(client, firms)
    refused = await client.post(f"{request_url(a_content)}/erase", {"understood": ""})
    assert refused.status_code == 422
    assert "Tick the box to confirm that you understand." in refused.text
    assert any(goal.id == a_content.goal_id for goal in await sannas_goals(clean_db, firms))
    assert (await latest_request(clean_db, firms, a_content)).status == ErasureStatus.PENDING


async def test_confirmed_erasure_removes_content_and_login_but_keeps_the_facts(
    client_factory: Any, clean_db: Backend, firms: Firms, a_content: Content
) -> None:
    sanna = client_factory()
    await sanna.login(a_content.supervisee_login.user.email)
    assert (await sanna.get("/t/alfa/me/")).status_code == 200
    owner = await owner_client(client_factory(), firms)
    erased = await owner.post(f"{request_url(a_content)}/erase", {"understood": "yes"})
    assert erased.status_code == 303
    assert erased.headers["location"] == request_url(a_content)
    outcome = await owner.get(request_url(a_content))
    assert outcome.status_code == 200
    assert "Erased" in outcome.text and 'name="understood"' not in outcome.text
    assert "Sanna Supervisee" not in outcome.text
    # Her content is gone, her name and login too.
    assert await sannas_goals(clean_db, firms) == []
    assert (await sanna.get("/t/alfa/me/")).status_code == 404
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = firms.a.tenant.id
        person = await db.scalar(
            select(ClientPerson).where(ClientPerson.id == firms.a.supervisee.id)
        )
        assert person is not None
        assert (person.name, person.email) == (content.ERASED_NAME, "")
        # The agreement and its sessions stay.
        assert await db.scalar(select(Agreement).where(Agreement.id == firms.a.agreement.id))
        assert await db.scalar(
            select(SupervisionSession).where(SupervisionSession.id == firms.a.session.id)
        )
    rows = await erasure_rows(clean_db)
    assert [r.action for r in rows] == [audit.ERASURE_REQUESTED, audit.ERASURE_CONFIRMED]
    assert rows[1].actor_user_id == firms.a.owner.user_id
    log = (await owner.get("/t/alfa/audit/?action=erasure.confirmed")).text
    assert "Erased a supervisee&#39;s data" in log and ">Supervisee</span>" in log
    # Listed as erased, under the erased name.
    listing = await owner.get(LIST)
    assert "Erased" in listing.text and "Sanna Supervisee" not in listing.text


async def test_declining_needs_a_reason_the_supervisee_sees(
    client: Client, clean_db: Backend, firms: Firms, a_content: Content
) -> None:
    await owner_client(client, firms)
    url = f"{request_url(a_content)}/decline"
    empty = await client.post(url, {"reason": "   "})
    assert empty.status_code == 422 and "Tell the supervisee why." in empty.text
    reason = "Sopimuksesi on vielä voimassa; pyydä uudelleen sen päätyttyä."
    declined = await client.post(url, {"reason": reason})
    assert declined.status_code == 303
    request = await latest_request(clean_db, firms, a_content)
    assert (request.status, request.reason) == (ErasureStatus.DECLINED, reason)
    page = await client.get(request_url(a_content))
    assert page.status_code == 200
    assert "Declined" in page.text and reason in page.text
    assert 'name="reason"' not in page.text and 'name="understood"' not in page.text
    # Nothing was erased, and a decided request cannot be erased afterwards.
    late = await client.post(f"{request_url(a_content)}/erase", {"understood": "yes"})
    assert late.status_code == 422 and "already been decided" in late.text
    assert any(goal.id == a_content.goal_id for goal in await sannas_goals(clean_db, firms))


async def test_only_the_owner_decides(
    client_factory: Any, clean_db: Backend, firms: Firms, a_content: Content
) -> None:
    url = request_url(a_content)
    for person in (firms.a.admin, firms.a.supervisor):
        visitor = client_factory()
        await visitor.login(person.user.email)
        assert (await visitor.get(LIST)).status_code == 403
        assert (await visitor.get(url)).status_code == 403
        assert (await visitor.post(f"{url}/erase", {"understood": "yes"})).status_code == 403
        assert (await visitor.post(f"{url}/decline", {"reason": "ei"})).status_code == 403
    other = client_factory()
    other.client.cookies.set("luotsi_lang", "en")
    await other.login(firms.b.owner.user.email)
    for path in (url, url.replace("/alfa/", "/beeta/")):
        assert (await other.get(path)).status_code == 404
        assert (await other.post(f"{path}/erase", {"understood": "yes"})).status_code == 404
        assert (await other.post(f"{path}/decline", {"reason": "ei"})).status_code == 404
    sanna = client_factory()
    await sanna.login(a_content.supervisee_login.user.email)
    assert (await sanna.post(f"{url}/erase", {"understood": "yes"})).status_code == 403
    assert (await latest_request(clean_db, firms, a_content)).status == ErasureStatus.PENDING
    assert any(goal.id == a_content.goal_id for goal in await sannas_goals(clean_db, firms))
