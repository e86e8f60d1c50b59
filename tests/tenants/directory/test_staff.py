"""Staff profiles: who is found where, what a profile accepts, specialties and photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.i18n import language
from luotsi.tenants.directory import models as directory_models
from luotsi.tenants.directory import staff
from luotsi.tenants.directory.regions import places
from luotsi.tenants.directory.staff import ProfileInput, StaffFilter
from tests.conftest import Backend, scoped
from tests.factories import Firms, add_area, add_member, add_profile, add_specialty, make_user


async def _person(clean_db: Backend, firms: Firms, name: str, **fields: object) -> str:
    login = name.lower().replace(" ", ".")
    user = await make_user(clean_db.owner, f"{login}@alfa.example", name)
    membership = await add_member(clean_db.owner, firms.a.tenant, user, "supervisor")  # type: ignore[arg-type]
    await add_profile(clean_db.owner, firms.a.tenant, membership, name, **fields)  # type: ignore[arg-type]
    return name


async def _names(db: AsyncSession, place: str, public: bool = True) -> list[str]:
    found = await staff.search_staff(db, StaffFilter(public=public, place=places().resolve(place)))
    return [p.display_name for p in found.items]


async def test_a_place_is_found_inside_regions_and_areas(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    capital = await add_area(
        clean_db.owner, firms.a.tenant, "Pääkaupunkiseutu", municipalities=["091", "049", "092"]
    )
    await _person(clean_db, firms, "Kanta Häme", places=["r05"])
    await _person(clean_db, firms, "Linna Kunta", places=["m109"])
    await _person(clean_db, firms, "Capital Area", places=[f"a{capital.id}"])
    await _person(clean_db, firms, "Lappi Only", places=["r19"])
    await _person(clean_db, firms, "Remote Anywhere", remote_anywhere=True)
    southern = "Maija Supervisor"  # fixture: Hyvinkää and firm A's "Etelä-Suomi" (01, 02, 05)

    hameenlinna = await _names(db, "Hämeenlinna")
    # Local people first (by name), remote-only people after them.
    assert hameenlinna == ["Kanta Häme", "Linna Kunta", southern, "Remote Anywhere"]
    assert await _names(db, "Tavastehus") == hameenlinna  # the Swedish name, same place
    assert await _names(db, "Helsinki") == ["Capital Area", southern, "Remote Anywhere"]
    assert await _names(db, "Inari") == ["Lappi Only", "Remote Anywhere"]
    # A region also finds those who work somewhere inside it.
    assert await _names(db, "Kanta-Häme") == [
        "Kanta Häme",
        "Linna Kunta",
        southern,
        "Remote Anywhere",
    ]
    assert await _names(db, "Uusimaa") == ["Capital Area", southern, "Remote Anywhere"]


async def test_firm_b_areas_do_not_count_for_firm_a(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    # Firm B's "Etelä-Suomi" is Uusimaa only; firm A's includes Kanta-Häme. Firm B's own
    # supervisor covers its area: not found in firm A's directory at all.
    assert await _names(db, "Hämeenlinna") == ["Maija Supervisor"]
    async with scoped(clean_db, firms.b.tenant) as b:
        assert await _names(b, "Hämeenlinna") == []
        assert await _names(b, "Hyvinkää") == ["Maija Supervisor"]


async def test_hidden_and_inactive_people_stay_out_of_the_public_list(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    await _person(clean_db, firms, "Hidden Person", places=["m106"], visible=False)
    await _person(clean_db, firms, "Inactive Person", places=["m106"], active=False)
    assert await _names(db, "Hyvinkää") == ["Maija Supervisor"]
    everyone = await _names(db, "Hyvinkää", public=False)
    assert set(everyone) == {"Maija Supervisor", "Hidden Person", "Inactive Person"}
    inactive = await staff.search_staff(db, StaffFilter(status="inactive"))
    assert [p.display_name for p in inactive.items] == ["Inactive Person"]


async def test_filters_by_specialty_kind_language_and_text(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    other = await add_specialty(clean_db.owner, firms.a.tenant, "Lastensuojelu")
    await _person(
        clean_db,
        firms,
        "Ruotsin Puhuja",
        specialties=[other],
        kinds=frozenset({"work_community"}),
        languages=frozenset({"sv", "en"}),
        title="Handledare",
    )

    async def names(**kw: object) -> list[str]:
        page = await staff.search_staff(db, StaffFilter(public=True, **kw))  # type: ignore[arg-type]
        return [p.display_name for p in page.items]

    assert await names(specialty_id=firms.a.specialty.id) == ["Maija Supervisor"]
    assert await names(specialty_id=other.id) == ["Ruotsin Puhuja"]
    assert await names(kind="work_community") == ["Ruotsin Puhuja"]
    assert await names(kind="group") == ["Maija Supervisor"]
    assert await names(language="sv") == ["Maija Supervisor", "Ruotsin Puhuja"]
    assert await names(language="en") == ["Ruotsin Puhuja"]
    assert await names(text="handled") == ["Ruotsin Puhuja"]
    assert await names(text="maija super") == ["Maija Supervisor"]
    assert await names(text="%") == []  # a wildcard is a character, not a pattern


async def test_pages_are_counted_and_clamped(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    for n in range(4):
        await _person(clean_db, firms, f"Person {n}")
    first = await staff.search_staff(db, StaffFilter(public=True), page=1, per_page=2)
    last = await staff.search_staff(db, StaffFilter(public=True), page=99, per_page=2)
    assert (first.total, first.pages, first.next, first.previous) == (5, 3, 2, None)
    assert last.number == 3 and len(last.items) == 1 and last.next is None


async def test_saving_a_profile_checks_every_part(firms: Firms, db: AsyncSession) -> None:
    profile = await staff.get_profile(db, firms.a.profile.id)
    bad = ProfileInput(
        display_name=" ",
        phone="12345",
        public_email="not-an-address",
        languages=["fi", "xx"],
        kinds=["therapy"],
        qualifications=[("Certified supervisor", "15"), ("", "")],
        place_keys=["m999", "r01"],
        specialty_ids=[str(firms.b.specialty.id)],  # another firm's specialty
    )
    with pytest.raises(Invalid) as caught:
        await staff.save_profile(db, firms.a.owner, profile, bad)
    assert set(caught.value.errors) == {
        "display_name",
        "phone",
        "public_email",
        "languages",
        "kinds",
        "qualifications",
        "places",
        "specialties",
    }

    good = ProfileInput(
        display_name="Maija Mallikas",
        title="Perhetyöntekijä, työnohjaaja",
        phone="040 555 1234",
        public_email="Maija@Alfa.example",
        bio_sv="Handledare.",
        languages=["fi", "sv"],
        kinds=["individual", "mediation"],
        qualifications=[("Työnohjaaja (STOry)", "2015"), ("", ""), ("Sosionomi", "")],
        place_keys=["r05", "m106", f"a{firms.a.area.id}"],
        remote_anywhere=True,
        specialty_ids=[str(firms.a.specialty.id)],
        visible=True,
        active=True,
    )
    saved = await staff.save_profile(db, firms.a.owner, profile, good)
    await db.commit()
    assert saved.phone == "+358405551234" and saved.phone_display == "040 5551234"
    assert saved.public_email == "maija@alfa.example"
    assert [(q.name, q.year) for q in saved.qualifications] == [
        ("Työnohjaaja (STOry)", 2015),
        ("Sosionomi", None),
    ]
    assert sorted(a.key for a in saved.areas) == sorted(["r05", "m106", f"a{firms.a.area.id}"])
    assert saved.bio("en") == "Handledare."  # falls back to a language that has a bio
    assert [s.name for s in saved.specialties] == ["Työyhteisösovittelu"]


async def test_only_the_person_or_the_office_edits_a_profile(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    await _person(clean_db, firms, "Toinen Ohjaaja")
    others = await staff.search_staff(db, StaffFilter(text="toinen"))
    other = others.items[0]
    with pytest.raises(Forbidden):
        await staff.save_profile(db, firms.a.supervisor, other, ProfileInput(display_name="X"))
    own = await staff.get_profile(db, firms.a.profile.id)
    await staff.save_profile(db, firms.a.supervisor, own, ProfileInput(display_name="Oma Nimi"))
    assert own.display_name == "Oma Nimi"


async def test_specialties_merge_rename_and_delete(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    target = firms.a.specialty  # Maija has it
    source = await add_specialty(clean_db.owner, firms.a.tenant, "Sovittelu")
    await _person(clean_db, firms, "Only Source", specialties=[source])
    profile = await staff.get_profile(db, firms.a.profile.id)
    profile.specialty_links.append(
        directory_models.StaffSpecialty(specialty_id=source.id)
    )  # Maija has both
    await db.flush()

    with pytest.raises(Invalid):
        await staff.create_specialty(db, firms.a.admin, "työyhteisösovittelu")  # case-insensitive
    with pytest.raises(Invalid):
        await staff.merge_specialty(db, firms.a.admin, source.id, source.id)
    with pytest.raises(Forbidden):
        await staff.merge_specialty(db, firms.a.supervisor, source.id, target.id)
    await staff.merge_specialty(db, firms.a.admin, source.id, target.id)
    counts = {s.name: n for s, n in await staff.list_specialties(db)}
    assert counts == {"Työyhteisösovittelu": 2}

    renamed = await staff.rename_specialty(
        db, firms.a.admin, target.id, "  Työyhteisö-  sovittelu "
    )
    assert renamed.name == "Työyhteisö- sovittelu"
    await staff.delete_specialty(db, firms.a.admin, target.id)
    assert await staff.list_specialties(db) == []
    db.expire_all()
    assert (await staff.get_profile(db, firms.a.profile.id)).specialties == []


def _image(fmt: str, size: tuple[int, int] = (1200, 800), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format=fmt, **save)
    return out.getvalue()


def test_photos_are_checked_and_re_encoded() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Maker"  # Make
    jpeg = staff.reencode_photo(_image("JPEG", exif=exif.tobytes()))
    with Image.open(io.BytesIO(jpeg)) as stored:
        assert stored.format == "JPEG" and max(stored.size) == staff.PHOTO_SIZE
        assert stored.getexif().get(0x010F) is None  # metadata is not carried over
    for fmt in ("PNG", "WEBP"):
        assert staff.reencode_photo(_image(fmt, (300, 300)))[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose a photo"),
        (b"GIF89a" + b"\x00" * 100, "JPEG, PNG or WebP"),
        (_image("GIF", (10, 10)), "JPEG, PNG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "JPEG, PNG or WebP"),
        (_image("JPEG")[:400], "damaged"),
        (b"\x00" * (staff.MAX_PHOTO_BYTES + 1), "5 MB"),
    ],
    ids=["empty", "gif-header", "gif", "svg", "truncated-jpeg", "oversized"],
)
def test_bad_photos_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with language("en"), pytest.raises(Invalid) as caught:
        staff.reencode_photo(data)
    assert message in caught.value.errors["photo"]
