"""The workspace's search box: what each role finds, and what nobody finds."""

from __future__ import annotations

import html
import re

import pytest

from luotsi.tenants.clients.models import PersonRole
from tests.conftest import Backend, Client
from tests.factories import Firms, add_agreement, add_client_org, add_content, add_person
from tests.queries import count_queries


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def _search(client: Client, text: str) -> dict[str, list[str]]:
    """The hits of a search as htmx gets them: {group heading: [hit titles]}."""
    page = await client.get(f"/t/alfa/search?q={text}", headers={"HX-Request": "true"})
    assert page.status_code == 200, page.text
    assert "<html" not in page.text
    groups: dict[str, list[str]] = {}
    for section in page.text.split('<section class="card search-group"')[1:]:
        heading = re.search(r"<h2[^>]*>([^<]*)</h2>", section)
        assert heading is not None
        titles = re.findall(r'<li>\s*<a href="[^"]+">([^<]*)</a>', section)
        groups[html.unescape(heading.group(1))] = [html.unescape(t) for t in titles]
    return groups


async def test_the_owner_finds_every_kind_by_name_and_business_id(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, b = firms.a, firms.b
    org = await add_client_org(clean_db.owner, a.tenant, "Äänekosken kaupunki", business_id="")
    await add_client_org(clean_db.owner, b.tenant, "Äänekosken seurakunta", business_id="")
    person = await add_person(clean_db.owner, a.tenant, org, PersonRole.SUPERVISEE, "Åsa Öhman")
    await add_agreement(clean_db.owner, a.tenant, org, a.supervisor, [person])
    await client.login(a.owner.user.email)

    # Upper case, letters beyond ASCII, part of a word: on SQLite as on PostgreSQL.
    found = await _search(client, "ÄÄNEK")
    assert found == {
        "Client organisations": ["Äänekosken kaupunki"],
        "Agreements": ["Äänekosken kaupunki"],
    }
    assert (await _search(client, "öhm")) == {
        "People": ["Åsa Öhman"],
        "Agreements": ["Äänekosken kaupunki"],  # her agreement, by its supervisee's name
    }
    # The fixture's organisation by its business ID with or without the hyphen, its draft
    # invoice by the organisation's name; the other firm's namesake never.
    by_id = await _search(client, "07375462")
    assert by_id["Client organisations"] == [a.org.name]
    assert (await _search(client, a.org.name.split()[0].lower()))["Invoices"] == [a.org.name]
    assert (await _search(client, a.profile.display_name))["Staff"] == [a.profile.display_name]
    assert (await _search(client, "seurakunta")) == {}


async def test_a_supervisor_finds_only_their_own_agreements_and_no_invoices(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    other = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Olli Muu")
    await add_agreement(clean_db.owner, a.tenant, a.org, a.admin, [other])
    await client.login(a.supervisor.user.email)

    found = await _search(client, a.org.name)
    assert found["Agreements"] == [a.org.name]  # the fixture's agreement, not the admin's
    assert "Invoices" not in found
    assert "Client organisations" in found and "People" not in found
    assert (await _search(client, "Olli"))["People"] == ["Olli Muu"]  # contacts are for all staff
    assert "Agreements" not in await _search(client, "Olli")


async def test_portal_users_and_other_firms_cannot_search(
    client_factory: object, firms: Firms
) -> None:
    make = client_factory
    assert callable(make)
    stranger: Client = make()
    await stranger.login(firms.b.owner.user.email)
    assert (await stranger.get("/t/alfa/search?q=a")).status_code == 404
    anonymous: Client = make()
    response = await anonymous.get("/t/alfa/search?q=a")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


async def test_confidential_content_is_never_found(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    written = await add_content(clean_db, firms.a)
    await client.login(firms.a.owner.user.email)
    page = await client.get(f"/t/alfa/search?q={written.marker}")
    assert page.status_code == 200
    assert "Nothing matches" in page.text
    assert "search-group" not in page.text  # no kind found anything


async def test_a_long_list_links_to_the_rest_and_costs_one_statement(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    for i in range(12):
        name = f"Pekka Esihenkilö {i:02d}"
        await add_person(clean_db.owner, a.tenant, a.org, PersonRole.MANAGER, name)
    await client.login(a.owner.user.email)
    await client.get("/t/alfa/search?q=pekka")  # the session's first touch
    async with count_queries(client.app) as counted:
        page = await client.get("/t/alfa/search?q=pekka", headers={"HX-Request": "true"})
    titles = re.findall(r"Pekka Esihenkilö (\d\d)", page.text)
    assert titles == [f"{i:02d}" for i in range(8)]  # alphabetical, the first eight
    assert "/t/alfa/clients/people/?q=pekka" in page.text  # "All matches in People"
    async with count_queries(client.app) as empty:
        await client.get("/t/alfa/search?q=", headers={"HX-Request": "true"})
    assert counted.statements == empty.statements + 1  # every kind in one statement
