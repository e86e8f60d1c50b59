"""The staff pages: list and filters, editing profiles, photos, and specialties."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.conftest import Backend, Client, both_stores
from tests.factories import Firms, add_member, add_profile, make_user


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def _png(size: tuple[int, int] = (900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def _black_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels: a few kB, built without ever
    holding the image in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then 8 pixels a byte
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_staff_list_gives_everyone_a_profile_and_filters(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.admin.user.email)
    page = await client.get("/t/alfa/staff/")
    assert page.status_code == 200
    # Owner and admin had no profile: the list gives them one, named as their account.
    for name in ("Maija Owner", "Maija Admin", "Maija Supervisor"):
        assert name in page.text
    assert "040 5551234" in page.text  # phone shown formatted

    async def results(query: str) -> str:
        """The list alone, as htmx gets it (the page header names the signed-in admin)."""
        fragment = await client.get(f"/t/alfa/staff/?{query}", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        return str(fragment.text)

    by_region = await results("region=05")  # Kanta-Häme, inside firm A's "Etelä-Suomi"
    assert "Maija Supervisor" in by_region and "Maija Owner" not in by_region
    assert "Maija Supervisor" not in await results("region=19")
    by_specialty = await results(f"specialty={firms.a.specialty.id}")
    assert "Maija Supervisor" in by_specialty and "Maija Admin" not in by_specialty
    assert "Maija Supervisor" not in await results("kind=mediation")
    by_name = await results("q=owner")
    assert "Maija Owner" in by_name and "Maija Admin" not in by_name
    # Nonsense filters are ignored, not errors.
    assert "Maija Supervisor" in await results("specialty=nope&region=xx&page=-3&kind=<b>")


async def test_inactive_people_are_listed_on_request(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    user = await make_user(clean_db.owner, "paussi@alfa.example", "Paula Paussilla")
    member = await add_member(clean_db.owner, firms.a.tenant, user, "supervisor")  # type: ignore[arg-type]
    await add_profile(clean_db.owner, firms.a.tenant, member, "Paula Paussilla", active=False)
    await client.login(firms.a.owner.user.email)
    assert "Paula Paussilla" not in (await client.get("/t/alfa/staff/")).text
    assert "Paula Paussilla" in (await client.get("/t/alfa/staff/?status=inactive")).text
    assert "Paula Paussilla" in (await client.get("/t/alfa/staff/?status=all")).text


async def test_pagination_keeps_the_filters(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    for n in range(22):
        user = await make_user(clean_db.owner, f"p{n}@alfa.example", f"Pekka {n:02d}")
        member = await add_member(clean_db.owner, firms.a.tenant, user, "supervisor")  # type: ignore[arg-type]
        await add_profile(clean_db.owner, firms.a.tenant, member, f"Pekka {n:02d}")
    await client.login(firms.a.owner.user.email)
    first = await client.get("/t/alfa/staff/?q=pekka")
    assert "Pekka 00" in first.text and "Pekka 21" not in first.text
    assert 'href="?q=pekka&amp;page=2"' in first.text
    second = await client.get("/t/alfa/staff/?q=pekka&page=2")
    assert "Pekka 21" in second.text and "Pekka 00" not in second.text


async def test_supervisor_edits_own_profile_but_not_a_colleagues(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    own = f"/t/alfa/staff/{firms.a.profile.id}/edit"
    form = await client.get(own)
    assert form.status_code == 200 and "Maija Supervisor" in form.text
    saved = await client.post(
        own,
        {
            "display_name": "Maija Mallikas",
            "title": "Perhetyöntekijä, työnohjaaja",
            "phone": "050 555 0199",
            "public_email": "",
            "bio_fi": "Työnohjaaja Hyvinkäältä.",
            "languages": ["fi", "en"],
            "kinds": ["individual"],
            "qualification_name": ["Työnohjaaja (STOry)", ""],
            "qualification_year": ["2015", ""],
            "region": ["r05"],
            "municipality": ["m106"],
            "place_names": "Nurmijärvi, Tusby",
            "specialties": [str(firms.a.specialty.id)],
            "visible": "on",
            "active": "on",
        },
    )
    assert saved.status_code == 303, saved.text
    profile = await client.get(f"/t/alfa/staff/{firms.a.profile.id}")
    for text in ("Maija Mallikas", "050 5550199", "Kanta-Häme", "Hyvinkää", "Nurmijärvi", "2015"):
        assert text in profile.text
    assert "Tuusula" in profile.text  # "Tusby" is its Swedish name

    # Colleagues' profiles can be read, not edited (the form does not exist for them).
    await client.login(firms.a.supervisor.user.email)
    staff = await client.get("/t/alfa/staff/")
    owner_id = staff.text.split("Maija Owner")[0].rsplit("/t/alfa/staff/", 1)[1].split('"')[0]
    assert (await client.get(f"/t/alfa/staff/{owner_id}")).status_code == 200
    assert (await client.get(f"/t/alfa/staff/{owner_id}/edit")).status_code == 404
    denied = await client.post(f"/t/alfa/staff/{owner_id}/edit", {"display_name": "Hacked"})
    assert denied.status_code == 404
    assert "Hacked" not in (await client.get("/t/alfa/staff/")).text


async def test_profile_form_errors_keep_what_was_typed(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post(
        f"/t/alfa/staff/{firms.a.profile.id}/edit",
        {
            "display_name": "Uusi Nimi",
            "phone": "123",
            "public_email": "x@",
            "region": "r99",
            "place_names": "Hyvinkää, Atlantis",
        },
    )
    assert response.status_code == 422
    assert 'value="Uusi Nimi"' in response.text and 'value="123"' in response.text
    assert "Enter a valid phone number" in response.text
    assert "Choose places from the list" in response.text
    assert "No municipality or region is called Atlantis." in response.text
    assert 'value="Hyvinkää, Atlantis"' in response.text
    # Nothing was saved.
    assert "Uusi Nimi" not in (await client.get(f"/t/alfa/staff/{firms.a.profile.id}")).text


@both_stores
async def test_photo_upload_re_encodes_and_refuses_bad_files(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/staff/{firms.a.profile.id}/photo"
    before = await client.get(url)  # the fixture's small portrait
    assert before.status_code == 200
    wrong = await client.post(url, files={"photo": ("notes.txt", b"hello", "text/plain")})
    assert wrong.status_code == 422 and "JPEG, PNG or WebP" in wrong.text
    corrupt = await client.post(url, files={"photo": ("me.jpg", _png()[:300], "image/jpeg")})
    assert corrupt.status_code == 422 and "damaged" in corrupt.text
    big = b"\x89PNG" + b"\x00" * (5 * 1024 * 1024 + 10)
    oversized = await client.post(url, files={"photo": ("big.png", big, "image/png")})
    assert oversized.status_code == 422 and "5 MB" in oversized.text
    empty = await client.post(url, files={"photo": ("", b"", "application/octet-stream")})
    assert empty.status_code == 422

    uploaded = await client.post(url, files={"photo": ("me.png", _png(), "image/png")})
    assert uploaded.status_code == 303
    served = await client.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.content != before.content
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "JPEG" and max(image.size) == 600

    removed = await client.post(f"{url}/delete")
    assert removed.status_code == 303 and (await client.get(url)).status_code == 404


async def test_specialties_are_managed_by_the_office(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    created = await client.post("/t/alfa/specialties/", {"name": "Sovittelu"})
    assert created.status_code == 303
    duplicate = await client.post("/t/alfa/specialties/", {"name": "SOVITTELU"})
    assert duplicate.status_code == 422 and "already has" in duplicate.text
    listing = await client.get("/t/alfa/specialties/")
    assert "Sovittelu" in listing.text and "Työyhteisösovittelu" in listing.text
    new_id = listing.text.split(">Sovittelu<")[0].rsplit("/t/alfa/specialties/", 1)[1].split('"')[0]

    renamed = await client.post(f"/t/alfa/specialties/{new_id}", {"name": "Sovittelu ja rauha"})
    assert renamed.status_code == 303
    no_target = await client.post(f"/t/alfa/specialties/{new_id}/merge", {"target": ""})
    assert no_target.status_code == 422
    # Firm B's specialty is not a merge target for firm A.
    foreign = await client.post(
        f"/t/alfa/specialties/{new_id}/merge", {"target": str(firms.b.specialty.id)}
    )
    assert foreign.status_code == 422
    merged = await client.post(
        f"/t/alfa/specialties/{new_id}/merge", {"target": str(firms.a.specialty.id)}
    )
    assert merged.status_code == 303
    assert "Sovittelu ja rauha" not in (await client.get("/t/alfa/specialties/")).text

    confirm = await client.get(f"/t/alfa/specialties/{firms.a.specialty.id}/delete")
    assert confirm.status_code == 200 and "1 person has this specialty" in confirm.text
    deleted = await client.post(f"/t/alfa/specialties/{firms.a.specialty.id}/delete")
    assert deleted.status_code == 303
    assert "No specialties yet" in (await client.get("/t/alfa/specialties/")).text


async def test_supervisor_cannot_manage_specialties(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert (await client.get("/t/alfa/specialties/")).status_code == 403
    assert (await client.post("/t/alfa/specialties/", {"name": "X"})).status_code == 403


async def test_a_removed_member_leaves_the_staff_list_and_the_directory(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    assert "Maija Supervisor" in (await client.get("/t/alfa/staff/")).text
    public = f"/f/alfa/people/{firms.a.profile.id}"
    assert (await client.get(public)).status_code == 200
    url = f"/t/alfa/members/{firms.a.supervisor.id}"
    await client.post(f"{url}/hand-over", {"successor": str(firms.a.admin.id)})
    assert (await client.post(f"{url}/remove")).status_code == 303
    assert "Maija Supervisor" not in (await client.get("/t/alfa/staff/")).text
    assert (await client.get(f"/t/alfa/staff/{firms.a.profile.id}")).status_code == 404
    assert (await client.get(public)).status_code == 404
    assert "Maija Supervisor" not in (await client.get("/f/alfa/")).text


async def test_the_dashboard_leads_to_ones_own_profile(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    dashboard = await client.get("/t/alfa/")
    assert "Clients find you in the firm's public directory." in dashboard.text
    assert f"/t/alfa/staff/{firms.a.profile.id}/edit" in dashboard.text
    assert f"/f/alfa/people/{firms.a.profile.id}" in dashboard.text
    # The owner had no profile yet: the dashboard makes one, hidden until they choose.
    await client.login(firms.a.owner.user.email)
    owner = await client.get("/t/alfa/")
    assert "Your profile is not shown in the firm's public directory." in owner.text


# Pillow warns between our limit and twice it (where it refuses by itself); we refuse anyway.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(8000, 6000), (12000, 12000)], ids=["48-mpx", "144-mpx"])
async def test_photo_with_too_many_pixels_is_refused_before_decoding(
    client: Client, firms: Firms, size: tuple[int, int]
) -> None:
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/staff/{firms.a.profile.id}/photo"
    before = await client.get(url)
    huge = _black_png(*size)
    assert len(huge) < 100_000
    refused = await client.post(url, files={"photo": ("huge.png", huge, "image/png")})
    assert refused.status_code == 422
    assert "The image has too many pixels; the limit is 40 megapixels." in refused.text
    assert (await client.get(url)).content == before.content
