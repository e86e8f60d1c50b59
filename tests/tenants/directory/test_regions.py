"""Finland's regions and municipalities, firm areas, and matching by containment."""

from __future__ import annotations

from sqlalchemy import func, select

from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.i18n import language
from luotsi.tenants.directory import regions
from luotsi.tenants.directory.models import Municipality, Region
from luotsi.tenants.directory.regions import Place, read_reference
from tests.conftest import Backend, Client
from tests.factories import Firms, add_area

# Statistics Finland's classification in the bundled file (see its header for source and year).
REGION_COUNT = 19
MUNICIPALITY_COUNT = 308  # 2025 classification (Pertunmaa joined Mäntyharju on 1.1.2025)


def test_reference_file_has_19_regions_and_every_municipality_in_one() -> None:
    rows = read_reference()
    region_codes = {r.code for r in rows if r.kind == "region"}
    municipalities = [r for r in rows if r.kind == "municipality"]
    assert len(region_codes) == REGION_COUNT
    assert len(municipalities) == MUNICIPALITY_COUNT
    assert all(m.region_code in region_codes for m in municipalities)
    assert len({m.code for m in municipalities}) == len(municipalities)
    assert all(len(m.code) == 3 and m.name_fi and m.name_sv for m in municipalities)


def test_reference_file_names_its_source_and_year() -> None:
    header = [
        line
        for line in regions.DATA_FILE.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    text = " ".join(header)
    assert "Statistics Finland" in text or "Tilastokeskus" in text
    assert any(str(year) in text for year in range(2020, 2030))


async def test_migration_loaded_the_reference(clean_db: Backend) -> None:
    rows = read_reference()
    async with clean_db.owner.connect() as conn:
        region_count = (await conn.execute(select(func.count()).select_from(Region))).scalar()
        municipality_count = (
            await conn.execute(select(func.count()).select_from(Municipality))
        ).scalar()
    assert region_count == REGION_COUNT
    assert (
        municipality_count == MUNICIPALITY_COUNT == sum(1 for r in rows if r.kind == "municipality")
    )


async def _session(backend: Backend, firms: Firms | None = None):  # type: ignore[no-untyped-def]
    engine = make_engine(backend.settings.runtime_database_url)
    maker = make_sessionmaker(engine)
    db = maker()
    if firms is not None:
        db.info[TENANT_KEY] = firms.a.tenant.id
    return engine, db


async def test_known_municipalities_are_in_their_regions(clean_db: Backend) -> None:
    engine, db = await _session(clean_db)
    try:
        facts = {
            name: (await db.scalar(select(Municipality).where(Municipality.name_fi == name)))
            for name in ("Hyvinkää", "Nurmijärvi", "Tuusula", "Hämeenlinna", "Helsinki", "Turku")
        }
    finally:
        await db.close()
        await engine.dispose()
    assert {facts[n].region_code for n in ("Hyvinkää", "Nurmijärvi", "Tuusula", "Helsinki")} == {
        "01"
    }
    assert facts["Hämeenlinna"].region_code == "05"  # Kanta-Häme
    assert facts["Helsinki"].name_sv == "Helsingfors"
    assert facts["Turku"].name_sv == "Åbo"


def test_place_search_finds_finnish_and_swedish_names() -> None:
    index = regions.places()
    with language("fi"):
        by_fi = index.search("hämeenl")
        by_sv = index.search("Helsingf")
        region_hit = index.search("kanta")
        unaccented = index.search("hameenlinna")
        label = index.resolve("Hyvinkää (Uusimaa)")
    with language("sv"):
        swedish = index.search("åbo")
        exact = index.resolve("Tavastehus")
    assert [p.code for p in by_fi] == ["109"]
    assert by_fi[0].label.startswith("Hämeenlinna (Kanta-Häme")
    assert [p.code for p in by_sv] == ["091"]
    assert Place("region", "05", "Kanta-Häme") in region_hit
    assert [p.code for p in unaccented] == ["109"]
    assert label == Place("municipality", "106", "Hyvinkää (Uusimaa)")
    assert swedish[0].label.startswith("Åbo")
    assert exact == Place("municipality", "109", "Tavastehus (Egentliga Tavastland)")
    assert index.search("") == [] and index.resolve("Atlantis") is None


async def test_municipality_lies_in_areas_of_its_region_and_its_own(
    clean_db: Backend, firms: Firms
) -> None:
    capital = await add_area(
        clean_db.owner,
        firms.a.tenant,
        "Pääkaupunkiseutu",
        municipalities=["091", "049", "092", "235"],
    )
    engine, db = await _session(clean_db, firms)
    try:
        hameenlinna = await regions.areas_containing(db, Place("municipality", "109", ""))
        helsinki = await regions.areas_containing(db, Place("municipality", "091", ""))
        lapland = await regions.areas_containing(db, Place("region", "19", ""))
        uusimaa = await regions.areas_containing(db, Place("region", "01", ""))
    finally:
        await db.close()
        await engine.dispose()
    southern = firms.a.area.id  # firm A's "Etelä-Suomi": Uusimaa, Varsinais-Suomi, Kanta-Häme
    assert hameenlinna == [southern]
    assert set(helsinki) == {southern, capital.id}
    assert lapland == []
    assert uusimaa == [southern]  # firm B's area of the same name is not firm A's
    assert firms.b.area.id not in helsinki


async def test_owner_creates_edits_and_deletes_an_area(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    form = await client.get("/t/alfa/areas/new")
    assert form.status_code == 200 and "Kanta-Häme" in form.text
    created = await client.post(
        "/t/alfa/areas/new", {"name": "Hyvinkään seutu", "municipality": ["106", "543", "858"]}
    )
    assert created.status_code == 303
    listing = (await client.get("/t/alfa/areas/")).text
    assert "Hyvinkään seutu" in listing and "Nurmijärvi" in listing and "Tuusula" in listing
    assert "beeta" not in listing


async def test_area_form_errors(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    nameless = await client.post("/t/alfa/areas/new", {"name": "", "region": "01"})
    assert nameless.status_code == 422
    empty = await client.post("/t/alfa/areas/new", {"name": "Tyhjä"})
    assert empty.status_code == 422
    unknown = await client.post("/t/alfa/areas/new", {"name": "Outo", "municipality": "999"})
    assert unknown.status_code == 422
    duplicate = await client.post("/t/alfa/areas/new", {"name": "Etelä-Suomi", "region": "01"})
    assert duplicate.status_code == 422
    # Firm B's area of the same name does not block firm B... and firm A's edit keeps its name.
    same = await client.post(
        f"/t/alfa/areas/{firms.a.area.id}", {"name": "Etelä-Suomi", "region": ["01", "02"]}
    )
    assert same.status_code == 303


async def test_deleting_an_area_asks_first(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/areas/{firms.a.area.id}/delete")
    assert confirm.status_code == 200 and "Etelä-Suomi" in confirm.text
    deleted = await client.post(f"/t/alfa/areas/{firms.a.area.id}/delete")
    assert deleted.status_code == 303
    assert f"/t/alfa/areas/{firms.a.area.id}" not in (await client.get("/t/alfa/areas/")).text


async def test_supervisor_does_not_manage_areas(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert (await client.get("/t/alfa/areas/")).status_code == 403


async def test_area_municipalities_can_be_added_by_name(client: Client, firms: Firms) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    unknown = await client.post(
        "/t/alfa/areas/new", {"name": "Kehyskunnat", "place_names": "Kerava, Nowhere"}
    )
    assert unknown.status_code == 422
    assert "No municipality or region is called Nowhere." in unknown.text
    assert 'value="Kerava, Nowhere"' in unknown.text
    created = await client.post(
        "/t/alfa/areas/new",
        {"name": "Kehyskunnat", "municipality": "245", "place_names": "Träskända, Sibbo"},
    )
    assert created.status_code == 303
    listing = (await client.get("/t/alfa/areas/")).text
    assert "Kerava, Järvenpää, Sipoo" in listing or all(
        name in listing for name in ("Kerava", "Järvenpää", "Sipoo")
    )
