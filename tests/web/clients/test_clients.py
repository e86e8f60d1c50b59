"""The client pages: organisations and their people, through the browser's eyes."""

from __future__ import annotations

import html
import re

import pytest

from luotsi.billing.profile import get_profile
from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.clients.models import PersonRole
from tests.conftest import Backend, Client, scoped
from tests.factories import Firms, add_agreement, add_client_org, add_person

GOOD_ORG = {
    "name": "Hyvinkään kaupunki",
    "business_id": "07375462",
    "org_type": "municipality",
    "billing_street": "Kankurinkatu 4-6",
    "billing_postal_code": "05800",
    "billing_city": "Hyvinkää",
    "einvoice_address": "0037 0737 5462",
    "einvoice_operator": "003721291126",
    "invoice_email": "",
    "invoice_language": "fi",
    "payment_term_days": "21",
    "internal_notes": "Laskut kuukauden lopussa.",
}


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def _org_id(location: str) -> str:
    match = re.fullmatch(r"/t/alfa/clients/([0-9a-f-]{36})", location)
    assert match, location
    return match.group(1)


async def _list(client: Client, query: str = "") -> str:
    """The result list alone, as htmx gets it."""
    page = await client.get(f"/t/alfa/clients/?{query}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "<html" not in page.text
    return str(page.text)


# --- organisations --------------------------------------------------------------------------


async def test_owner_adds_an_organisation_with_every_field(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    form = await client.get("/t/alfa/clients/new")
    assert form.status_code == 200 and 'name="einvoice_operator"' in form.text
    saved = await client.post("/t/alfa/clients/new", GOOD_ORG)
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert "The organisation has been saved." in page.text
    for shown in (
        "Hyvinkään kaupunki",
        "0737546-2",  # stored with its hyphen
        "Municipality",
        "05800 Hyvinkää",
        "003707375462",  # spaces removed
        "21 days",
        "Laskut kuukauden lopussa.",
    ):
        assert shown in page.text
    # Firm B does not see it.
    other = Client(client.app)
    await other.login(firms.b.owner.user.email)
    assert "Hyvinkään kaupunki" not in (await other.get("/t/beeta/clients/")).text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("business_id", "0737546-3", "The check digit (the last digit) does not match"),
        ("billing_postal_code", "580", "A postal code has five digits"),
        ("einvoice_operator", "", "Enter the operator of the e-invoice address"),
        ("einvoice_address", "003707375463", "An OVT code is 0037"),
        ("payment_term_days", "121", "Enter a payment term from 0 to 120 days"),
        ("payment_term_days", "-5", "Enter a payment term from 0 to 120 days"),
        ("payment_term_days", "fourteen", "Enter a payment term from 0 to 120 days"),
        ("invoice_language", "de", "Choose the language of the invoices"),
        ("org_type", "castle", "Choose the type of the organisation"),
        ("name", "   ", "Enter the name of the organisation"),
    ],
)
async def test_a_wrong_field_is_explained_and_nothing_is_saved(
    client: Client, firms: Firms, field: str, value: str, message: str
) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post("/t/alfa/clients/new", {**GOOD_ORG, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}"' in response.text and 'aria-invalid="true"' in response.text
    # The error summary at the top links the message to its field.
    assert re.search(rf'class="error-summary"[^>]*>.*<a href="#{field}">', response.text, re.S)
    # What was typed is kept.
    assert "Kankurinkatu 4-6" in response.text
    assert "Hyvinkään kaupunki" not in await _list(client, "archived=1")


async def test_editing_keeps_errors_on_the_form_and_the_old_values_in_place(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.admin.user.email)
    url = f"/t/alfa/clients/{firms.a.org.id}/edit"
    form = await client.get(url)
    assert 'value="0737546-2"' in form.text and 'value="Kunnantie 1"' in form.text
    bad = await client.post(url, {**GOOD_ORG, "name": "Esimerkkikunta", "billing_city": ""})
    assert bad.status_code == 422 and "An address needs a street" in bad.text
    assert "Hyvinkää</dd>" in (await client.get(f"/t/alfa/clients/{firms.a.org.id}")).text
    good = await client.post(url, {**GOOD_ORG, "name": "Esimerkkikunta", "payment_term_days": "30"})
    assert good.status_code == 303
    assert "30 days" in (await client.get(f"/t/alfa/clients/{firms.a.org.id}")).text


async def test_search_by_name_or_business_id_and_pagination(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    for n in range(22):
        await add_client_org(clean_db.owner, firms.a.tenant, f"Yhdistys {n:02d} ry", business_id="")
    await add_client_org(clean_db.owner, firms.a.tenant, "Tunnus Oy", business_id="1234567-1")
    await client.login(firms.a.supervisor.user.email)  # supervisors may look
    first = await _list(client, "q=yhdistys")
    assert "22 organisations" in first
    assert "Yhdistys 00 ry" in first and "Yhdistys 21 ry" not in first
    assert 'href="?q=yhdistys&amp;page=2"' in first
    second = await _list(client, "q=yhdistys&page=2")
    assert "Yhdistys 21 ry" in second and "Yhdistys 00 ry" not in second
    for query in ("1234567-1", "12345671", "tunnus"):
        found = await _list(client, f"q={query}")
        assert "Tunnus Oy" in found and "Yhdistys" not in found
    nothing = await _list(client, "q=%25_nothing")
    assert "No organisation matches the search." in nothing
    # The full page without htmx has the search form too.
    full = await client.get("/t/alfa/clients/?q=tunnus&page=99")
    assert full.status_code == 200 and "Tunnus Oy" in full.text and 'role="search"' in full.text


async def test_empty_list_invites_the_first_organisation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.owner.user.email)
    # Firm A's only organisation, archived: the plain list is empty.
    org = await add_client_org(clean_db.owner, firms.a.tenant, "Vain Arkistossa Oy")
    assert (await client.post(f"/t/alfa/clients/{org.id}/archive")).status_code == 303
    page = await client.get("/t/alfa/clients/?q=arkistossa")
    assert "No organisation matches the search." in page.text


async def test_archive_and_restore_an_organisation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    org = await add_client_org(clean_db.owner, firms.a.tenant, "Päättynyt Oy")
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/clients/{org.id}/archive")
    assert confirm.status_code == 200 and "Archive Päättynyt Oy?" in confirm.text
    assert 'action="/t/alfa/clients/' in confirm.text
    archived = await client.post(f"/t/alfa/clients/{org.id}/archive")
    assert archived.status_code == 303
    page = await client.get(archived.headers["location"])
    assert "The organisation has been archived." in page.text and "Restore" in page.text
    assert "Päättynyt Oy" not in await _list(client)
    assert "Päättynyt Oy" in await _list(client, "archived=1")
    restored = await client.post(f"/t/alfa/clients/{org.id}/restore")
    assert restored.status_code == 303
    assert "Päättynyt Oy" in await _list(client)


async def test_an_organisation_with_an_agreement_in_force_is_not_archived(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/clients/{firms.a.org.id}/archive")
    assert "has 1 current agreement" in confirm.text
    assert f'action="/t/alfa/clients/{firms.a.org.id}/archive"' not in confirm.text
    refused = await client.post(f"/t/alfa/clients/{firms.a.org.id}/archive")
    assert refused.status_code == 422
    assert "Esimerkkikunta" in await _list(client)


async def test_delete_only_an_organisation_without_history(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    fresh = await add_client_org(clean_db.owner, firms.a.tenant, "Virhe Oy")
    await add_person(clean_db.owner, firms.a.tenant, fresh, PersonRole.MANAGER, "Väärä Henkilö")
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/clients/{fresh.id}/delete")
    assert "Its 1 person is deleted too" in confirm.text
    deleted = await client.post(f"/t/alfa/clients/{fresh.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/t/alfa/clients/"
    assert (await client.get(f"/t/alfa/clients/{fresh.id}")).status_code == 404
    kept = await client.get(f"/t/alfa/clients/{firms.a.org.id}/delete")
    assert "cannot be deleted. Archive it instead." in kept.text
    refused = await client.post(f"/t/alfa/clients/{firms.a.org.id}/delete")
    assert refused.status_code == 422
    assert (await client.get(f"/t/alfa/clients/{firms.a.org.id}")).status_code == 200


async def test_a_supervisor_views_but_does_not_change(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    # Another supervisor's agreement with the same organisation stays out of sight.
    await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.admin,
        [firms.a.supervisee],
        title="Johtoryhmä",
        status=AgreementStatus.ACTIVE,
    )
    await client.login(firms.a.supervisor.user.email)
    org_url = f"/t/alfa/clients/{firms.a.org.id}"
    page = await client.get(org_url)
    assert page.status_code == 200
    assert "Hanna HR" in page.text and "Sanna Supervisee" in page.text
    assert f"/t/alfa/agreements/{firms.a.agreement.id}" in page.text
    assert "Johtoryhmä" not in page.text
    assert "/edit" not in page.text and "Add a person" not in page.text
    person_url = f"/t/alfa/clients/people/{firms.a.hr_contact.id}"
    assert (await client.get(person_url)).status_code == 200
    for url in (
        "/t/alfa/clients/new",
        f"{org_url}/edit",
        f"{org_url}/archive",
        f"{org_url}/delete",
        f"{org_url}/people/new",
        f"{person_url}/edit",
        f"{person_url}/archive",
    ):
        assert (await client.get(url)).status_code == 403, url
    for url in (
        "/t/alfa/clients/new",
        f"{org_url}/edit",
        f"{org_url}/archive",
        f"{person_url}/invite",
        f"{person_url}/delete",
    ):
        assert (await client.post(url, GOOD_ORG)).status_code == 403, url
    assert "Hyvinkään kaupunki" not in await _list(client)


async def test_a_bad_id_in_the_address_is_not_found(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    assert (await client.get("/t/alfa/clients/not-a-uuid")).status_code == 404
    assert (await client.get(f"/t/alfa/clients/people/{firms.b.hr_contact.id}")).status_code == 404


# --- people ---------------------------------------------------------------------------------


async def test_an_over_long_phone_is_refused_not_cut_to_a_valid_number(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    new_url = f"/t/alfa/clients/{firms.a.org.id}/people/new"
    typed = "040 555 9876" + " " * 40 + "ext. 12"  # its first 40 characters are a number
    refused = await client.post(
        new_url, {"role": "manager", "name": "Pitkä Numero", "phone": typed, "title": ""}
    )
    assert refused.status_code == 422
    assert "Enter a valid phone number" in html.unescape(refused.text)
    assert "Pitkä Numero" not in (await client.get(f"/t/alfa/clients/{firms.a.org.id}")).text


async def test_people_are_added_edited_and_grouped_by_role(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    new_url = f"/t/alfa/clients/{firms.a.org.id}/people/new"
    form = await client.get(new_url + "?role=manager")
    assert 'value="manager" checked' in form.text
    bad = await client.post(
        new_url, {"role": "manager", "name": "", "email": "nope", "phone": "12", "title": ""}
    )
    assert bad.status_code == 422
    for message in ("Enter the person's name.", "Enter a valid e-mail address.", "valid phone"):
        assert message in html.unescape(bad.text)
    saved = await client.post(
        new_url,
        {
            "role": "manager",
            "name": "Leena Lähiesihenkilö",
            "email": "Leena@Esimerkki.fi",
            "phone": "040 555 9876",
            "title": "Palvelupäällikkö",
        },
    )
    assert saved.status_code == 303
    person = await client.get(saved.headers["location"])
    assert "leena@esimerkki.fi" in person.text and "040 5559876" in person.text
    org = await client.get(f"/t/alfa/clients/{firms.a.org.id}")
    managers = org.text.split("<h3>Managers</h3>")[1].split("<h3>")[0]
    assert "Leena Lähiesihenkilö" in managers and "Matti Manager" in managers
    edit_url = saved.headers["location"] + "/edit"
    edited = await client.post(
        edit_url, {"role": "supervisee", "name": "Leena L.", "email": "", "phone": "", "title": ""}
    )
    assert edited.status_code == 303
    after = await client.get(saved.headers["location"])
    assert "Leena L." in after.text and "Supervisee" in after.text


async def test_a_person_on_an_agreement_keeps_their_role_and_is_archived_not_deleted(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    url = f"/t/alfa/clients/people/{firms.a.supervisee.id}"
    form = await client.get(url + "/edit")
    assert 'name="role"' not in form.text and "The role stays as it is" in form.text
    # A forged role is ignored; the other changes are saved.
    changed = await client.post(
        url + "/edit", {"role": "manager", "name": "Sanna S.", "email": "", "phone": ""}
    )
    assert changed.status_code == 303
    assert "Supervisee" in (await client.get(url)).text
    assert "cannot be deleted" in (await client.get(url + "/delete")).text
    assert (await client.post(url + "/delete")).status_code == 422
    assert "Archive Sanna S.?" in (await client.get(url + "/archive")).text
    assert (await client.post(url + "/archive")).status_code == 303
    org = await client.get(f"/t/alfa/clients/{firms.a.org.id}")
    assert "1 archived person" in org.text
    assert (await client.post(url + "/restore")).status_code == 303
    assert "archived person" not in (await client.get(f"/t/alfa/clients/{firms.a.org.id}")).text


async def test_a_person_without_history_is_deleted(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    person = await add_person(
        clean_db.owner, firms.a.tenant, firms.a.org, PersonRole.SUPERVISEE, "Kirjoitusvirhe"
    )
    await client.login(firms.a.owner.user.email)
    url = f"/t/alfa/clients/people/{person.id}"
    assert "Delete Kirjoitusvirhe?" in (await client.get(url + "/delete")).text
    deleted = await client.post(url + "/delete")
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/t/alfa/clients/{firms.a.org.id}"
    assert (await client.get(url)).status_code == 404


async def test_people_search_across_organisations(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    other = await add_client_org(clean_db.owner, firms.a.tenant, "Toinen Oy")
    await add_person(clean_db.owner, firms.a.tenant, other, PersonRole.HR_CONTACT, "Hanna Toinen")
    await client.login(firms.a.supervisor.user.email)

    async def people(query: str) -> str:
        page = await client.get(f"/t/alfa/clients/people/?{query}", headers={"HX-Request": "true"})
        assert page.status_code == 200
        return str(page.text)

    hannas = await people("q=hanna")
    assert "Hanna HR" in hannas and "Hanna Toinen" in hannas and "Toinen Oy" in hannas
    hr = await people("role=hr_contact")
    assert "Hanna HR" in hr and "Matti Manager" not in hr
    by_email = await people("q=manager@alfa-client")
    assert "Matti Manager" in by_email and "Hanna" not in by_email
    assert "Nobody matches the search." in await people("q=zzz&role=bogus&page=-1")


async def test_a_new_organisation_starts_with_the_billing_profiles_term_and_language(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with scoped(clean_db, firms.a.tenant) as db:
        profile = await get_profile(db)
        profile.payment_term_days, profile.language = 30, "sv"
        await db.commit()
    await client.login(firms.a.owner.user.email)
    form = await client.get("/t/alfa/clients/new")
    assert 'name="payment_term_days" type="number" value="30"' in form.text
    assert re.search(r'<option value="sv"[^>]*selected', form.text)


async def test_the_office_archives_several_people_at_once(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    gone = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.MANAGER, "Aino Arkistossa")
    await client.login(a.owner.user.email)
    await client.get(f"/t/alfa/clients/people/{gone.id}/archive")
    await client.post(f"/t/alfa/clients/people/{gone.id}/archive", {})
    listed = await client.get("/t/alfa/clients/people/?archived=1")
    boxes = set(re.findall(r'name="person" value="([0-9a-f-]{36})"', listed.text))
    assert str(a.hr_contact.id) in boxes and str(gone.id) not in boxes  # archived: no box

    chosen = [a.hr_contact.id, a.manager.id, gone.id, firms.b.manager.id]
    query = "&".join(f"person={i}" for i in chosen) + "&person=nonsense"
    confirm = await client.get(f"/t/alfa/clients/people/archive?{query}")
    assert confirm.status_code == 200
    assert "These 2 people are archived" in confirm.text
    assert "The other chosen people are archived already." in confirm.text
    # Another firm's id chooses nobody.
    assert f'name="person" value="{firms.b.manager.id}"' not in confirm.text

    done = await client.post("/t/alfa/clients/people/archive", {"person": [str(i) for i in chosen]})
    assert done.status_code == 303
    assert "The chosen people are archived." in (await client.get(done.headers["location"])).text
    remaining = await client.get("/t/alfa/clients/people/")
    assert a.hr_contact.name not in remaining.text and a.manager.name not in remaining.text
    async with scoped(clean_db, firms.b.tenant) as db:
        theirs = await db.get(type(firms.b.manager), (firms.b.tenant.id, firms.b.manager.id))
        assert theirs is not None and theirs.archived_at is None  # the other firm's, untouched


async def test_supervisors_cannot_archive_people_in_bulk(client: Client, firms: Firms) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    listed = await client.get("/t/alfa/clients/people/")
    assert listed.status_code == 200 and 'name="person"' not in listed.text
    url = f"/t/alfa/clients/people/archive?person={a.manager.id}"
    assert (await client.get(url)).status_code == 403
    refused = await client.post("/t/alfa/clients/people/archive", {"person": [str(a.manager.id)]})
    assert refused.status_code == 403


async def test_the_lists_sort_by_a_column_and_keep_their_filters(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    big = await add_client_org(clean_db.owner, a.tenant, "Aakkoskunta", business_id="")
    for i in range(4):  # one more than the fixture's organisation has
        await add_person(clean_db.owner, a.tenant, big, PersonRole.MANAGER, f"Zeta Esihenkilö {i}")
    await client.login(a.owner.user.email)

    def names(text: str) -> list[str]:
        return re.findall(r'<td><a href="/t/alfa/clients/[0-9a-f-]{36}">([^<]+)</a>', text)

    by_name = await _list(client)
    assert names(by_name) == ["Aakkoskunta", a.org.name]
    assert 'aria-sort="ascending"' in by_name and "sort=-name" in by_name  # the header toggles
    by_people = await _list(client, "sort=-people")
    assert names(by_people) == ["Aakkoskunta", a.org.name]
    assert names(await _list(client, "sort=people")) == [a.org.name, "Aakkoskunta"]
    assert 'aria-sort="descending"' in by_people
    # A filter keeps the order, and the order's links keep the filter; nonsense is the default.
    filtered = await _list(client, "sort=-name&q=kunta")
    assert "q=kunta" in filtered and names(filtered) == [a.org.name, "Aakkoskunta"]
    assert names(await _list(client, "sort=nonsense")) == names(by_name)

    async def people(query: str) -> list[str]:
        page = await client.get(f"/t/alfa/clients/people/?{query}", headers={"HX-Request": "true"})
        return re.findall(
            r'<td><a href="/t/alfa/clients/people/[0-9a-f-]{36}">([^<]+)</a>', page.text
        )

    zetas = [f"Zeta Esihenkilö {i}" for i in range(4)]
    assert (await people("sort=org"))[:4] == zetas  # Aakkoskunta's people first
    assert (await people("sort=-org"))[-4:] == zetas
    assert (await people("sort=-name"))[:4] == zetas[::-1]
