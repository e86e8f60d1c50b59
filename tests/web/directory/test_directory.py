"""The public directory at /f/{slug}/: filters, supervisor pages, photos, and the firm's page."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from luotsi.platform import clock
from luotsi.platform.tenancy import Role
from luotsi.tenants.directory.models import Specialty, StaffProfile
from tests.conftest import Backend, Client, both_stores
from tests.factories import (
    Firm,
    Firms,
    add_member,
    add_profile,
    add_specialty,
    make_user,
    stored_portrait,
)

JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
CARD_NAME = re.compile(r'<h3><a href="/f/[\w-]+/people/[0-9a-f-]+">([^<]+)</a></h3>')


@pytest.fixture
def visitor(client: Client) -> Client:
    """An anonymous visitor reading in English (the assertions quote English wording)."""
    client.client.cookies.set("luotsi_lang", "en")
    return client


async def person(backend: Backend, firm: Firm, name: str, **fields: object) -> StaffProfile:
    """A supervisor of ``firm`` with a profile (visible and active unless said otherwise)."""
    user = await make_user(backend.owner, f"{uuid.uuid4().hex[:12]}@people.example", name)
    membership = await add_member(backend.owner, firm.tenant, user, Role.SUPERVISOR)
    return await add_profile(backend.owner, firm.tenant, membership, name, **fields)


async def names(client: Client, query: str, slug: str = "alfa") -> list[str]:
    """The supervisors listed for ``query``, in order, as the htmx fragment gives them."""
    response = await client.get(f"/f/{slug}/?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    return [html.unescape(n) for n in CARD_NAME.findall(response.text)]


def filter_form(page_text: str) -> str:
    match = re.search(r'<form id="directory-filters".*?</form>', page_text, re.S)
    assert match, page_text
    return match.group(0)


def json_ld(page_text: str) -> dict[str, object]:
    blocks = JSON_LD.findall(page_text)
    assert len(blocks) == 1, page_text
    data: dict[str, object] = json.loads(blocks[0])
    return data


# --- the list -------------------------------------------------------------------------------


async def test_firm_page_lists_visible_active_supervisors_only(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    await person(clean_db, firms.a, "Hilla Hidden", visible=False, places=["m106"])
    await person(clean_db, firms.a, "Ilkka Inactive", active=False, places=["m106"])
    page = await visitor.get("/f/alfa/")
    assert page.status_code == 200
    assert "<h1>Alfa Työnohjaus Oy</h1>" in page.text
    assert '<a class="brand" href="/f/alfa/">Alfa Työnohjaus Oy</a>' in page.text
    assert ">EN</button>" in page.text  # the language switch keeps all three languages
    assert [html.unescape(n) for n in CARD_NAME.findall(page.text)] == ["Maija Supervisor"]
    assert "Hilla Hidden" not in page.text and "Ilkka Inactive" not in page.text
    # Only what the firm publishes: no account e-mails of anyone.
    assert "@alfa.example" not in page.text
    card = page.text
    assert 'href="tel:+358405551234"' in card and "040 5551234" in card
    assert "Hyvinkää" in card and "Etelä-Suomi" in card  # a municipality and a firm area
    assert "Työyhteisösovittelu" in card and "Group supervision" in card


async def test_hidden_supervisors_specialty_is_not_offered_as_a_filter(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    secret = await add_specialty(clean_db.owner, firms.a.tenant, "Salainen erikoisala")
    await person(clean_db, firms.a, "Hilla Hidden", visible=False, specialties=[secret])
    form = filter_form((await visitor.get("/f/alfa/")).text)
    assert "Salainen erikoisala" not in form
    assert f'value="{firms.a.specialty.id}"' in form


@pytest.fixture
async def spread(firms: Firms, clean_db: Backend) -> dict[str, StaffProfile]:
    """Supervisors of firm A around Finland (Maija Supervisor: Hyvinkää + "Etelä-Suomi",
    which in firm A holds Uusimaa, Varsinais-Suomi and Kanta-Häme)."""
    return {
        "region": await person(clean_db, firms.a, "Kaisa Kanta-Häme", places=["r05"]),
        "municipality": await person(clean_db, firms.a, "Hilkka Hämeenlinna", places=["m109"]),
        "helsinki": await person(clean_db, firms.a, "Mikko Helsinki", places=["m091"]),
        "lapland": await person(clean_db, firms.a, "Lauri Lappi", places=["r19"]),
        "remote": await person(clean_db, firms.a, "Reijo Remote", remote_anywhere=True),
    }


async def test_municipality_search_finds_everyone_whose_area_contains_it(
    visitor: Client, spread: dict[str, StaffProfile]
) -> None:
    found = await names(visitor, "place=H%C3%A4meenlinna")
    # Region-level, firm-area and direct coverage; the remote supervisor comes last.
    assert found == ["Hilkka Hämeenlinna", "Kaisa Kanta-Häme", "Maija Supervisor", "Reijo Remote"]
    fragment = (await visitor.get("/f/alfa/?place=Hameenlinna")).text
    assert "Remote, anywhere in Finland" in fragment
    assert "Lauri Lappi" not in fragment and "Mikko Helsinki" not in fragment


async def test_direct_municipality_and_firm_area_coverage(
    visitor: Client, spread: dict[str, StaffProfile]
) -> None:
    assert await names(visitor, "place=Helsinki") == [
        "Maija Supervisor",
        "Mikko Helsinki",
        "Reijo Remote",
    ]
    assert await names(visitor, "place=Rovaniemi") == ["Lauri Lappi", "Reijo Remote"]


async def test_region_search_by_name_finds_people_working_inside_it(
    visitor: Client, spread: dict[str, StaffProfile]
) -> None:
    found = await names(visitor, "place=Kanta-H%C3%A4me")
    assert found == ["Hilkka Hämeenlinna", "Kaisa Kanta-Häme", "Maija Supervisor", "Reijo Remote"]


async def test_swedish_names_and_autocomplete_labels_are_understood(
    visitor: Client, spread: dict[str, StaffProfile]
) -> None:
    finnish = await names(visitor, "place=H%C3%A4meenlinna")
    assert await names(visitor, "place=Tavastehus") == finnish
    assert await names(visitor, "place=Egentliga+Tavastland") == finnish
    assert await names(visitor, "place=H%C3%A4meenlinna+%28Kanta-H%C3%A4me%29") == finnish
    assert await names(visitor, "place=m109") == finnish


async def test_another_firms_area_contents_do_not_apply(
    visitor: Client, spread: dict[str, StaffProfile], firms: Firms
) -> None:
    # Firm B's "Etelä-Suomi" holds only Uusimaa: its supervisor is not found for Hämeenlinna.
    assert await names(visitor, "place=H%C3%A4meenlinna", slug="beeta") == []
    assert await names(visitor, "place=Hyvink%C3%A4%C3%A4", slug="beeta") == ["Maija Supervisor"]


async def test_filters_by_specialty_form_and_language(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    leadership: Specialty = await add_specialty(clean_db.owner, firms.a.tenant, "Johtajuus")
    await person(
        clean_db,
        firms.a,
        "Leena Leader",
        specialties=[leadership],
        kinds=frozenset({"leadership"}),
        languages=frozenset({"en"}),
    )
    assert await names(visitor, f"specialty={leadership.id}") == ["Leena Leader"]
    assert await names(visitor, f"specialty={firms.a.specialty.id}") == ["Maija Supervisor"]
    assert await names(visitor, "kind=leadership") == ["Leena Leader"]
    assert await names(visitor, "kind=group") == ["Maija Supervisor"]
    assert await names(visitor, "language=en") == ["Leena Leader"]
    assert await names(visitor, "language=sv") == ["Maija Supervisor"]
    assert await names(visitor, "language=sv&kind=leadership") == []
    form = filter_form((await visitor.get("/f/alfa/")).text)
    assert 'value="leadership"' in form and 'value="en"' in form
    assert 'value="mediation"' not in form  # nobody offers it
    assert 'value="ru"' not in form  # nobody speaks it


async def test_no_match_shows_a_helpful_empty_state(visitor: Client, firms: Firms) -> None:
    page = await visitor.get("/f/alfa/?language=ru")
    assert page.status_code == 200
    assert "No supervisor matches all of these filters." in page.text
    assert 'href="#inquiry"' in page.text


async def test_htmx_request_gets_only_the_results(visitor: Client, firms: Firms) -> None:
    fragment = await visitor.get("/f/alfa/?kind=group", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "directory-filters" not in fragment.text
    assert 'id="directory-results"' not in fragment.text  # the inside, swapped into it
    # The live region outside the list hears only the count.
    assert '<p id="directory-announce" hx-swap-oob="innerHTML">1 supervisor</p>' in fragment.text
    assert "Maija Supervisor" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    # The back button's history restore asks for the whole page.
    restore = await visitor.get(
        "/f/alfa/?kind=group",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text and "hx-swap-oob" not in restore.text


async def test_bad_filter_values_are_ignored_with_a_note(visitor: Client, firms: Firms) -> None:
    query = (
        "place=Atlantis&specialty=not-a-uuid&kind=%3Cb%3E&language=xx&page=abc"
        f"&specialty={uuid.uuid4()}"
    )
    page = await visitor.get(f"/f/alfa/?{query}")
    assert page.status_code == 200
    assert "No place is called “Atlantis”" in page.text
    assert "That form of supervision is unknown" in page.text
    assert "That language is unknown" in page.text
    assert "Maija Supervisor" in page.text  # ignored filters narrow nothing
    assert "<b>" not in page.text
    for odd in (
        "specialty=" + str(uuid.uuid4()),
        "page=99999",
        "place=%20%20",
        "place=" + "x" * 500,
    ):
        response = await visitor.get(f"/f/alfa/?{odd}")
        assert response.status_code == 200, odd
        assert "Maija Supervisor" in response.text


async def test_an_unknown_place_suggests_similar_names(visitor: Client, firms: Firms) -> None:
    page = await visitor.get("/f/alfa/?place=hyvin")
    assert "Did you mean:" in page.text
    assert "place=Hyvink%C3%A4%C3%A4+%28Uusimaa%29" in page.text


async def test_pagination_keeps_the_filters(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    for n in range(21):
        await person(clean_db, firms.a, f"Pekka Paging {n:02d}", places=["r05"])
    first = await visitor.get("/f/alfa/?place=Kanta-H%C3%A4me&kind=")
    assert "22 supervisors" in first.text
    assert "Page 1 of 2" in first.text
    assert 'href="/f/alfa/?place=Kanta-H%C3%A4me&amp;page=2"' in first.text
    assert len(CARD_NAME.findall(first.text)) == 20
    second = await visitor.get("/f/alfa/?place=Kanta-H%C3%A4me&page=2")
    assert CARD_NAME.findall(second.text) == ["Pekka Paging 19", "Pekka Paging 20"]
    assert 'href="/f/alfa/?place=Kanta-H%C3%A4me"' in second.text  # back to the first page


async def test_autocomplete_offers_municipalities_in_the_language_typed(
    visitor: Client, firms: Firms
) -> None:
    hyv = await visitor.get("/f/alfa/places?q=hyv", headers={"HX-Request": "true"})
    assert hyv.status_code == 200
    assert '<option value="Hyvinkää (Uusimaa)">' in hyv.text
    abo = await visitor.get("/f/alfa/places?q=%C3%A5bo")
    assert '<option value="Åbo (Egentliga Finland)">' in abo.text
    # The place box sends its own name when htmx asks as the visitor types.
    assert "Hyvinkää" in (await visitor.get("/f/alfa/places?place=Hyvi")).text
    assert "<option" not in (await visitor.get("/f/alfa/places?q=")).text


# --- a supervisor's page --------------------------------------------------------------------


async def test_supervisor_page_shows_the_public_profile(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    profile = await person(
        clean_db,
        firms.a,
        "Sanna Sivu",
        title="Työnohjaaja, psykoterapeutti",
        phone="+358401234567",
        public_email="sanna@alfa-tyonohjaus.example",
        bio_fi="Suomeksi kirjoitettu esittely.",
        bio_en="An introduction written in English.",
        places=["r05", f"a{firms.a.area.id}"],
        specialties=[firms.a.specialty],
        kinds=frozenset({"leadership"}),
        languages=frozenset({"fi", "en"}),
    )
    page = await visitor.get(f"/f/alfa/people/{profile.id}")
    assert page.status_code == 200
    text = page.text
    assert "<title>Sanna Sivu, Työnohjaaja, psykoterapeutti · Alfa Työnohjaus Oy</title>" in text
    assert 'href="tel:+358401234567"' in text and "040 1234567" in text
    assert 'href="mailto:sanna@alfa-tyonohjaus.example"' in text
    assert "An introduction written in English." in text  # the reader's language
    assert "Suomeksi kirjoitettu" not in text
    assert "Kanta-Häme" in text and "Etelä-Suomi" in text and "Leadership supervision" in text
    assert 'id="inquiry"' in text  # the inquiry form is on the page
    assert '<meta name="description" content="Työnohjaaja, psykoterapeutti. An introduction' in text

    data = json_ld(text)
    assert data["@type"] == "Person" and data["name"] == "Sanna Sivu"
    assert data["jobTitle"] == "Työnohjaaja, psykoterapeutti"
    assert data["telephone"] == "+358401234567"
    assert data["email"] == "sanna@alfa-tyonohjaus.example"
    assert data["knowsLanguage"] == ["fi", "en"]
    assert set(data["areaServed"]) == {"Kanta-Häme", "Etelä-Suomi"}  # type: ignore[arg-type]
    assert data["worksFor"] == {
        "@type": "Organization",
        "name": "Alfa Työnohjaus Oy",
        "url": "https://testserver.local/f/alfa/",
    }
    assert "image" not in data  # no photo


async def test_bio_falls_back_to_the_language_written(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    profile = await person(clean_db, firms.a, "Bo Berg", bio_sv="Jag handleder på svenska.")
    page = await client.get(f"/f/alfa/people/{profile.id}")  # a Finnish reader
    assert '<section class="bio" lang="sv"' in page.text
    assert "Jag handleder på svenska." in page.text


async def test_text_in_json_ld_cannot_break_out_of_the_script(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    title = '</script><script>alert("x")</script>'
    profile = await person(clean_db, firms.a, "Olli Outo", title=title)
    page = await visitor.get(f"/f/alfa/people/{profile.id}")
    assert "<script>alert" not in page.text
    assert json_ld(page.text)["jobTitle"] == title
    listed = await visitor.get("/f/alfa/")
    assert "<script>alert" not in listed.text
    employees = json_ld(listed.text)["employee"]
    assert {"@type": "Person", "name": "Olli Outo", "jobTitle": title} == {
        k: v
        for k, v in next(e for e in employees if e["name"] == "Olli Outo").items()  # type: ignore[attr-defined]
        if k != "url"
    }


async def test_firm_page_has_organization_json_ld_and_meta(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.owner.user.email)
    saved = await client.post(
        "/t/alfa/directory/",
        {
            "description_fi": "Alfa ohjaa työyhteisöjä koko Etelä-Suomessa. " * 8,
            "description_sv": "",
            "description_en": "",
            "public_email": "info@alfa-tyonohjaus.example",
            "public_phone": "09 123 4567",
            "directory_enabled": "on",
        },
    )
    assert saved.status_code == 303
    page = await client.get("/f/alfa/")
    assert "<title>Alfa Työnohjaus Oy</title>" in page.text
    meta = re.search(r'<meta name="description" content="([^"]*)">', page.text)
    assert meta and meta.group(1).startswith("Alfa ohjaa työyhteisöjä")
    assert len(meta.group(1)) <= 160 and meta.group(1).endswith("…")
    data = json_ld(page.text)
    assert data["@type"] == "Organization" and data["name"] == "Alfa Työnohjaus Oy"
    assert data["url"] == "https://testserver.local/f/alfa/"
    assert data["email"] == "info@alfa-tyonohjaus.example"
    assert data["telephone"] == "+35891234567"
    employee = data["employee"][0]  # type: ignore[index]
    assert employee["name"] == "Maija Supervisor"
    assert employee["url"] == f"https://testserver.local/f/alfa/people/{firms.a.profile.id}"
    assert 'href="tel:+35891234567"' in page.text


# --- what never shows -----------------------------------------------------------------------


async def test_unknown_firm_other_firms_and_hidden_people_are_not_found(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    hidden = await person(clean_db, firms.a, "Hilla Hidden", visible=False)
    inactive = await person(clean_db, firms.a, "Ilkka Inactive", active=False)
    a_profile = firms.a.profile.id
    assert (await visitor.get(f"/f/alfa/people/{a_profile}")).status_code == 200
    for path in (
        "/f/no-such-firm/",
        f"/f/no-such-firm/people/{a_profile}",
        f"/f/beeta/people/{a_profile}",  # firm A's supervisor through firm B
        f"/f/beeta/people/{a_profile}/photo",
        f"/f/alfa/people/{hidden.id}",
        f"/f/alfa/people/{inactive.id}",
        f"/f/alfa/people/{uuid.uuid4()}",
    ):
        response = await visitor.get(path)
        assert response.status_code == 404, path
        assert "Hilla" not in response.text and "Maija Supervisor" not in response.text


@both_stores
async def test_photos_are_served_only_for_public_profiles(
    visitor: Client, firms: Firms, clean_db: Backend
) -> None:
    photo_key = stored_portrait(clean_db.files, firms.a.tenant)
    shown = await person(
        clean_db, firms.a, "Kuvan Kanssa", photo_key=photo_key, photo_updated_at=clock.now()
    )
    hidden = await person(
        clean_db,
        firms.a,
        "Piilo Kuva",
        photo_key=stored_portrait(clean_db.files, firms.a.tenant),
        photo_updated_at=clock.now(),
        visible=False,
    )
    no_photo = await person(clean_db, firms.a, "Ilman Kuvaa")
    photo = await visitor.get(f"/f/alfa/people/{shown.id}/photo")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg" and photo.content[:2] == b"\xff\xd8"
    assert "max-age" in photo.headers["cache-control"]
    assert photo.headers["etag"] and photo.headers["last-modified"]
    assert "set-cookie" not in photo.headers  # nothing per-visitor in a cacheable response
    again = await visitor.get(
        f"/f/alfa/people/{shown.id}/photo", headers={"If-None-Match": photo.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    since = await visitor.get(
        f"/f/alfa/people/{shown.id}/photo",
        headers={"If-Modified-Since": photo.headers["last-modified"]},
    )
    assert since.status_code == 304
    # The list and the page point at the photo; a profile without one has none.
    listed = await visitor.get("/f/alfa/")
    assert f'src="/f/alfa/people/{shown.id}/photo?v=' in listed.text
    assert f"/f/alfa/people/{no_photo.id}/photo" not in listed.text
    assert (await visitor.get(f"/f/alfa/people/{no_photo.id}/photo")).status_code == 404
    assert (await visitor.get(f"/f/alfa/people/{hidden.id}/photo")).status_code == 404
    assert (await visitor.get(f"/f/beeta/people/{shown.id}/photo")).status_code == 404
    page = await visitor.get(f"/f/alfa/people/{shown.id}")
    image = json_ld(page.text)["image"]
    assert isinstance(image, str)
    assert image.startswith(f"https://testserver.local/f/alfa/people/{shown.id}/photo?v=")


async def test_directory_switched_off_is_not_found(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    form = {"description_fi": "Kuvaus", "public_email": "", "public_phone": ""}
    assert (await client.post("/t/alfa/directory/", form)).status_code == 303  # box unticked
    anonymous = Client(client.app)
    assert (await anonymous.get("/f/alfa/")).status_code == 404
    assert (await anonymous.get(f"/f/alfa/people/{firms.a.profile.id}")).status_code == 404
    assert (await anonymous.get("/f/alfa/places?q=hyv")).status_code == 404
    assert (await anonymous.get("/f/beeta/")).status_code == 200
    edit = await client.get("/t/alfa/directory/")
    assert (
        'name="directory_enabled" ' in edit.text
        and "checked" not in edit.text.split('name="directory_enabled"')[1].split(">")[0]
    )


# --- the workspace page ---------------------------------------------------------------------


async def test_owner_edits_the_public_description(visitor: Client, firms: Firms) -> None:
    await visitor.login(firms.a.owner.user.email)
    form = await visitor.get("/t/alfa/directory/")
    assert form.status_code == 200
    assert 'href="/f/alfa/"' in form.text
    saved = await visitor.post(
        "/t/alfa/directory/",
        {
            "description_fi": "Suomeksi.",
            "description_sv": "På svenska.",
            "description_en": "Supervision for teams.\r\n\r\nAnd for managers.",
            "public_email": "info@alfa.example.fi",
            "public_phone": "040 555 0000",
            "directory_enabled": "on",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/t/alfa/directory/"
    after = await visitor.get("/t/alfa/directory/")
    assert "The public page has been saved." in after.text
    assert "På svenska." in after.text and "040 5550000" in after.text
    public = await visitor.get("/f/alfa/")
    assert "<p>Supervision for teams.</p>" in public.text  # paragraphs, in the reader's language
    assert "<p>And for managers.</p>" in public.text
    assert "Suomeksi." not in public.text
    assert "Supervision for teams." not in (await visitor.get("/f/beeta/")).text


async def test_bad_phone_keeps_the_form_with_a_message(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post(
        "/t/alfa/directory/",
        {
            "description_fi": "Tämä teksti säilyy.",
            "public_email": "not an address",
            "public_phone": "12",
            "directory_enabled": "on",
        },
    )
    assert response.status_code == 422
    assert 'id="public_phone-error"' in response.text
    assert 'id="public_email-error"' in response.text
    assert "Tämä teksti säilyy." in response.text
    page = await client.get("/t/alfa/directory/")
    assert "Tämä teksti säilyy." not in page.text  # nothing was saved


async def test_supervisor_cannot_edit_the_public_page(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert (await client.get("/t/alfa/directory/")).status_code == 403
    response = await client.post("/t/alfa/directory/", {"description_fi": "Ei saa"})
    assert response.status_code == 403
    assert "Ei saa" not in (await client.get("/f/alfa/")).text
