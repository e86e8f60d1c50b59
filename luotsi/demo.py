"""``luotsi demo``: a fictional demo firm with invented people (never real ones).

Idempotent: the firm is created once; its supervisors, specialties, areas and public page are
added when the firm has none yet (so a demo created by an older version gains them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.db import (
    make_engine,
    make_sessionmaker,
    scope_to_tenant,
    unscoped_session,
    utcnow,
)
from luotsi.platform.identity import User, configure_password_hashing, hash_password
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, Tenant, TenantStatus
from luotsi.tenants.directory import FirmProfile
from luotsi.tenants.regions import FirmArea, FirmAreaPart
from luotsi.tenants.staff import (
    Qualification,
    ServiceArea,
    Specialty,
    StaffProfile,
    StaffSpecialty,
)

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-salasana"  # noqa: S105 - published demo credentials, demo data only
DEMO_DOMAIN = "demo.luotsi.localhost"
DEMO_PEOPLE = [
    ("omistaja", "Outi Omistaja", Role.OWNER),
    ("toimisto", "Tiina Toimisto", Role.ADMIN),
]

AREAS = {
    "Etelä-Suomi": {"regions": ["01", "02", "05", "07", "08", "09"]},
    "Pääkaupunkiseutu": {"municipalities": ["091", "049", "092", "235"]},
}
SPECIALTIES = [
    "Palveluohjaus",
    "Kuntayhteistyö",
    "Palvelusopimukset",
    "Hallinto",
    "Henkilöstöasiat",
    "Työyhteisösovittelu",
    "Lastensuojelu",
    "Johtaminen ja esihenkilötyö",
    "Muutoksen tuki",
    "Työssä jaksaminen",
]
FIRM_DESCRIPTION = {
    "fi": "Demo Työnohjaus Oy on kuvitteellinen työnohjausyritys. Ohjaajamme työskentelevät "
    "Etelä-Suomessa ja etänä koko maassa: yksilö-, ryhmä- ja työyhteisötyönohjausta sekä "
    "työyhteisösovittelua kunnille, hyvinvointialueille ja yrityksille.",
    "sv": "Demo Työnohjaus Oy är ett fiktivt handledningsföretag. Våra handledare arbetar i "
    "södra Finland och på distans i hela landet.",
    "en": "Demo Työnohjaus Oy is a fictional work supervision firm. Our supervisors work in "
    "Southern Finland and remotely across the country.",
}


@dataclass
class DemoSupervisor:
    """An invented supervisor; phone numbers are in the 040 555 range kept for fiction."""

    login: str
    name: str
    title: str
    phone: str
    places: list[str]  # r05, m106, or an area name from AREAS prefixed with "a:"
    specialties: list[str]
    kinds: list[str]
    languages: list[str]
    bio_fi: str
    qualifications: list[tuple[str, int | None]] = field(default_factory=list)
    remote: bool = False
    visible: bool = True
    active: bool = True
    role: Role = Role.SUPERVISOR
    bio_sv: str = ""
    bio_en: str = ""


SUPERVISORS = [
    DemoSupervisor(
        "aino.ohjaaja",
        "Aino Ohjaaja",
        "Toimitusjohtaja, työnohjaaja",
        "+358405550101",
        ["a:Etelä-Suomi"],
        ["Johtaminen ja esihenkilötyö", "Hallinto"],
        ["individual", "leadership", "work_community"],
        ["fi", "sv", "en"],
        "Johdon ja esihenkilöiden työnohjaaja, taustaltaan sosiaalialan johtaja.",
        [("Työnohjaaja (STOry)", 2012), ("Sosiaalityöntekijä (YTM)", 2003)],
        bio_sv="Handledare för chefer och ledning.",
        bio_en="Supervisor for managers and leadership teams.",
    ),
    DemoSupervisor(
        "ville.ohjaaja",
        "Ville Ohjaaja",
        "Perhetyöntekijä, työnohjaaja",
        "+358405550102",
        ["m106", "m543", "m858", "r05"],
        ["Lastensuojelu", "Palveluohjaus"],
        ["individual", "group"],
        ["fi"],
        "Perhetyön ja lastensuojelun työnohjausta Hyvinkäällä, Nurmijärvellä, Tuusulassa ja "
        "Kanta-Hämeessä.",
        [("Työnohjaajakoulutus", 2016)],
    ),
    DemoSupervisor(
        "saara.sovittelija",
        "Saara Sovittelija",
        "Työyhteisösovittelija",
        "+358405550103",
        ["a:Pääkaupunkiseutu"],
        ["Työyhteisösovittelu", "Henkilöstöasiat"],
        ["mediation", "work_community"],
        ["fi", "sv"],
        "Sovittelen työyhteisöjen ristiriitoja ja tuen esihenkilöitä vaikeissa tilanteissa.",
        [("Sovittelija (Suomen sovittelufoorumi)", 2019)],
        bio_sv="Jag medlar i konflikter på arbetsplatser.",
    ),
    DemoSupervisor(
        "pekka.paakkonen",
        "Pekka Pääkkönen",
        "Kuntayhteistyön asiantuntija, työnohjaaja",
        "+358405550104",
        ["r06", "r07"],
        ["Kuntayhteistyö", "Palvelusopimukset", "Hallinto"],
        ["individual", "group", "leadership"],
        ["fi", "en"],
        "Kuntien ja hyvinvointialueiden yhteistyön, palvelusopimusten ja hallinnon työnohjausta.",
        [("Työnohjaaja (STOry)", 2010)],
    ),
    DemoSupervisor(
        "linnea.lindqvist",
        "Linnea Lindqvist",
        "Handledare, socionom",
        "+358405550105",
        ["r15", "m091"],
        ["Palveluohjaus", "Työssä jaksaminen"],
        ["individual", "group"],
        ["sv", "fi"],
        "Työnohjausta ruotsiksi ja suomeksi Pohjanmaalla ja Helsingissä.",
        [("Handledarutbildning", 2014)],
        bio_sv="Handledning på svenska och finska i Österbotten och Helsingfors.",
    ),
    DemoSupervisor(
        "kaisu.kettunen",
        "Kaisu Kettunen",
        "Psykologi, työnohjaaja",
        "+358405550106",
        [],
        ["Työssä jaksaminen", "Muutoksen tuki"],
        ["individual"],
        ["fi", "en"],
        "Etätyönohjausta kaikkialle Suomeen: työssä jaksaminen, muutostilanteet ja paluu "
        "työhön pitkän poissaolon jälkeen.",
        [("Psykologi (PsM)", 2008), ("Työnohjaaja (STOry)", 2015)],
        remote=True,
        bio_en="Remote supervision anywhere in Finland.",
    ),
    DemoSupervisor(
        "matti.manninen",
        "Matti Manninen",
        "HR-asiantuntija, työnohjaaja",
        "+358405550107",
        ["r02", "r04"],
        ["Henkilöstöasiat", "Johtaminen ja esihenkilötyö"],
        ["leadership", "work_community"],
        ["fi"],
        "Esihenkilötyön ja henkilöstöasioiden työnohjausta Varsinais-Suomessa ja Satakunnassa.",
        [("Työnohjaaja", 2018)],
    ),
    DemoSupervisor(
        "riikka.rantanen",
        "Riikka Rantanen",
        "Sairaanhoitaja, työnohjaaja",
        "+358405550108",
        ["r11", "r12"],
        ["Työssä jaksaminen", "Palveluohjaus"],
        ["individual", "group"],
        ["fi"],
        "Hoitotyön ja palveluohjauksen työnohjausta Pohjois-Savossa ja Pohjois-Karjalassa.",
        [("Työnohjaaja (STOry)", 2017)],
        remote=True,
    ),
    DemoSupervisor(
        "juha.jarvinen",
        "Juha Järvinen",
        "Laskutuksen ja talouden asiantuntija",
        "+358405550109",
        ["r19"],
        ["Hallinto", "Palvelusopimukset"],
        ["individual"],
        ["fi", "se"],
        "Talous- ja hallintotyön työnohjausta Lapissa.",
        [("Työnohjaaja", 2021)],
    ),
    DemoSupervisor(
        "elina.eskola",
        "Elina Eskola",
        "Työnohjaaja",
        "+358405550110",
        ["a:Etelä-Suomi"],
        ["Muutoksen tuki"],
        ["group", "work_community"],
        ["fi"],
        "Vanhempainvapaalla; ei ota uusia asiakkaita juuri nyt.",
        active=False,
    ),
]


async def load_demo(settings: Settings) -> bool:
    """Create the demo firm and its people unless they exist; returns whether anything was added."""
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings.runtime_database_url)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            created = False
            tenant = await db.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG))
            if tenant is None:
                tenant = Tenant(
                    slug=DEMO_SLUG,
                    name="Demo Työnohjaus Oy",
                    business_id="1234567-1",
                    status=TenantStatus.ACTIVE,
                )
                db.add(tenant)
                await db.flush()
                created = True
            await scope_to_tenant(db, tenant.id)
            password_hash = hash_password(DEMO_PASSWORD)
            for login, name, role in DEMO_PEOPLE:
                await _member(db, login, name, role, password_hash)
            if not await db.scalar(select(func.count()).select_from(StaffProfile)):
                await _staff(db, password_hash)
                created = True
            return created
    finally:
        await engine.dispose()


async def _member(
    db: AsyncSession, login: str, name: str, role: Role, password_hash: str
) -> Membership:
    email = f"{login}@{DEMO_DOMAIN}"
    user = await db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, password_hash=password_hash, email_verified_at=utcnow())
        db.add(user)
        await db.flush()
    membership = await db.scalar(select(Membership).where(Membership.user_id == user.id))
    if membership is None:
        membership = Membership(user_id=user.id, role=role)
        db.add(membership)
        await db.flush()
    return membership


async def _staff(db: AsyncSession, password_hash: str) -> None:
    """Areas, specialties, the public page and about ten supervisors."""
    areas = {}
    for name, parts in AREAS.items():
        area = FirmArea(name=name)
        area.parts = [FirmAreaPart(region_code=c) for c in parts.get("regions", [])] + [
            FirmAreaPart(municipality_code=c) for c in parts.get("municipalities", [])
        ]
        db.add(area)
        areas[name] = area
    specialties = {name: Specialty(name=name) for name in SPECIALTIES}
    db.add_all(specialties.values())
    db.add(
        FirmProfile(
            description_fi=FIRM_DESCRIPTION["fi"],
            description_sv=FIRM_DESCRIPTION["sv"],
            description_en=FIRM_DESCRIPTION["en"],
            public_email=f"info@{DEMO_DOMAIN}",
            public_phone="+358405550100",
        )
    )
    await db.flush()
    for person in SUPERVISORS:
        membership = await _member(db, person.login, person.name, person.role, password_hash)
        profile = StaffProfile(
            membership_id=membership.id,
            display_name=person.name,
            title=person.title,
            phone=person.phone,
            public_email=f"{person.login}@{DEMO_DOMAIN}",
            bio_fi=person.bio_fi,
            bio_sv=person.bio_sv,
            bio_en=person.bio_en,
            languages=frozenset(person.languages),
            kinds=frozenset(person.kinds),
            remote_anywhere=person.remote,
            visible=person.visible,
            active=person.active,
        )
        profile.areas = [_service_area(key, areas) for key in person.places]
        profile.specialty_links = [
            StaffSpecialty(specialty_id=specialties[name].id) for name in person.specialties
        ]
        profile.qualifications = [
            Qualification(name=name, year=year, position=i)
            for i, (name, year) in enumerate(person.qualifications)
        ]
        db.add(profile)
    # The owner and the office admin have profiles too, kept out of the directory.
    for login, name, role in DEMO_PEOPLE:
        membership = await _member(db, login, name, role, password_hash)
        db.add(StaffProfile(membership_id=membership.id, display_name=name, visible=False))
    await db.flush()


def _service_area(key: str, areas: dict[str, FirmArea]) -> ServiceArea:
    if key.startswith("a:"):
        return ServiceArea(firm_area_id=areas[key[2:]].id)
    if key.startswith("r"):
        return ServiceArea(region_code=key[1:])
    return ServiceArea(municipality_code=key[1:])
