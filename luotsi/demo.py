"""``luotsi demo``: a fictional demo firm with invented people (never real ones).

Idempotent: the firm is created once; its supervisors, specialties, areas and public page are
added when the firm has none yet (so a demo created by an older version gains them too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import holidays
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, payments
from luotsi.billing.drafts import draft_for_org
from luotsi.billing.models import Invoice
from luotsi.billing.profile import get_profile
from luotsi.platform import apitokens, audit, clock
from luotsi.platform.apitokens import ApiToken
from luotsi.platform.db import (
    make_engine,
    make_sessionmaker,
    scope_to_tenant,
    unscoped_session,
)
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.identity import User, configure_password_hashing, hash_password
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, Tenant, TenantStatus
from luotsi.tenants import content
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
    ReviewDecision,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, OrgType, PersonRole
from luotsi.tenants.content import Goal
from luotsi.tenants.directory.models import (
    FirmArea,
    FirmAreaPart,
    FirmProfile,
    Qualification,
    ServiceArea,
    Specialty,
    StaffProfile,
    StaffSpecialty,
)
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession

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
    engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
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
            if not await db.scalar(select(func.count()).select_from(ClientOrg)):
                await _clients(db, password_hash)
                created = True
            if not await db.scalar(select(func.count()).select_from(Goal)):
                await _content(db, settings, password_hash)
                created = True
            if not await db.scalar(select(func.count()).select_from(Invoice)):
                created = await _billing(db) or created
            if not await db.scalar(select(func.count()).select_from(ApiToken)):
                await _api_token(db)
                created = True
            return created
    finally:
        await engine.dispose()


async def _api_token(db: AsyncSession) -> None:
    """The payroll system's read-only token, made by the owner (its text is not kept)."""
    owner = await db.scalar(select(Membership).where(Membership.role == Role.OWNER))
    assert owner is not None
    await apitokens.create_token(
        db,
        owner,
        apitokens.TokenInput(name="Palkkahallinto", scopes=["clients_read", "sessions_read"]),
        audit.Origin(ip="", user_agent=""),
    )


async def _member(
    db: AsyncSession, login: str, name: str, role: Role, password_hash: str
) -> Membership:
    email = f"{login}@{DEMO_DOMAIN}"
    user = await db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email, name=name, password_hash=password_hash, email_verified_at=clock.now()
        )
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


# --- clients, agreements and a year of sessions --------------------------------------------

CLIENT_DOMAIN = "asiakas.demo.luotsi.localhost"


@dataclass
class DemoOrg:
    name: str
    business_id: str  # fictional numbers with a valid check digit
    org_type: OrgType
    city: str
    hr: str
    managers: list[str]
    supervisees: list[str]
    einvoice: tuple[str, str] = ("", "")  # OVT address, operator


ORGS = [
    DemoOrg(
        "Kuvitteellisen kaupungin sosiaalipalvelut",
        "2345678-0",
        OrgType.MUNICIPALITY,
        "Hyvinkää",
        "Hilkka Henkilöstö",
        ["Markku Esihenkilö", "Maarit Päällikkö"],
        ["Sari Sosiaalityö", "Pasi Perhetyö", "Liisa Lastensuojelu", "Teemu Tiimi"],
        ("003723456780", "003721291126"),
    ),
    DemoOrg(
        "Esimerkin hyvinvointialue",
        "4567891-5",
        OrgType.WELLBEING_COUNTY,
        "Hämeenlinna",
        "Helena Hyvinvointi",
        ["Mikael Osastonhoitaja"],
        ["Kirsi Kotihoito", "Olli Osasto", "Tuula Terapia"],
        ("003745678915", "003721291126"),
    ),
    DemoOrg(
        "Mallilan Rakennus Oy",
        "5678912-7",
        OrgType.COMPANY,
        "Turku",
        "Henna Hallinto",
        ["Jussi Johtaja"],
        ["Pekka Projekti", "Riitta Rakennus"],
    ),
    DemoOrg(
        "Tukiyhdistys ry",
        "7654321-2",
        OrgType.ASSOCIATION,
        "Tampere",
        "Heikki Hallitus",
        ["Aila Toiminnanjohtaja"],
        ["Vesa Vapaaehtoinen"],
    ),
]


@dataclass
class DemoAgreement:
    org: int  # index in ORGS
    kind: SupervisionKind
    supervisor: str  # login of a demo supervisor
    supervisees: list[str]
    start: tuple[int, int]  # (weeks before this week's Monday, weekday): the demo stays current
    months: int = 12
    status: AgreementStatus = AgreementStatus.ACTIVE
    quota: int | None = 15
    minutes: int = 60
    cadence: int = 3
    price_cents: int = 12000
    hour: int = 9
    remote: bool = False


AGREEMENTS = [
    DemoAgreement(
        0, SupervisionKind.INDIVIDUAL, "ville.ohjaaja", ["Sari Sosiaalityö"], (51, 0), quota=18
    ),
    DemoAgreement(
        0, SupervisionKind.INDIVIDUAL, "ville.ohjaaja", ["Pasi Perhetyö"], (39, 0), hour=13
    ),
    DemoAgreement(
        0,
        SupervisionKind.GROUP,
        "aino.ohjaaja",
        ["Liisa Lastensuojelu", "Teemu Tiimi", "Sari Sosiaalityö"],
        (44, 1),
        minutes=90,
        cadence=4,
        quota=12,
        price_cents=32000,
    ),
    DemoAgreement(
        1,
        SupervisionKind.INDIVIDUAL,
        "kaisu.kettunen",
        ["Kirsi Kotihoito"],
        (42, 2),
        remote=True,
        hour=15,
    ),
    DemoAgreement(
        1,
        SupervisionKind.WORK_COMMUNITY,
        "elina.eskola",
        ["Olli Osasto", "Tuula Terapia"],
        (64, 0),
        months=12,
        status=AgreementStatus.ENDED,
        minutes=90,
        cadence=4,
        quota=10,
        price_cents=38000,
    ),
    DemoAgreement(
        2,
        SupervisionKind.LEADERSHIP,
        "aino.ohjaaja",
        ["Pekka Projekti"],
        (15, 3),
        minutes=75,
        price_cents=15000,
        hour=8,
    ),
    DemoAgreement(
        2,
        SupervisionKind.MEDIATION,
        "saara.sovittelija",
        ["Riitta Rakennus"],
        (8, 4),
        months=3,
        quota=5,
        cadence=2,
        minutes=90,
        price_cents=25000,
    ),
    DemoAgreement(
        3,
        SupervisionKind.INDIVIDUAL,
        "matti.manninen",
        ["Vesa Vapaaehtoinen"],
        (-1, 1),
        status=AgreementStatus.DRAFT,
        price_cents=9000,
    ),
    DemoAgreement(
        1,
        SupervisionKind.INDIVIDUAL,
        "riikka.rantanen",
        ["Tuula Terapia"],
        (33, 3),
        status=AgreementStatus.PAUSED,
        hour=10,
    ),
]


def _working_day(day: date, fi_holidays: holidays.HolidayBase) -> date:
    while day.weekday() >= 5 or day in fi_holidays:
        day += timedelta(days=1)
    return day


async def _clients(db: AsyncSession, password_hash: str) -> None:
    """Four fictional client organisations, their people, agreements and their sessions."""
    people: dict[str, ClientPerson] = {}
    orgs = []
    for org_spec in ORGS:
        org = ClientOrg(
            name=org_spec.name,
            business_id=org_spec.business_id,
            org_type=org_spec.org_type,
            billing_street="Laskutuskuja 1",
            billing_postal_code="00100",
            billing_city=org_spec.city,
            einvoice_address=org_spec.einvoice[0],
            einvoice_operator=org_spec.einvoice[1],
            invoice_email="" if org_spec.einvoice[0] else f"laskut@{CLIENT_DOMAIN}",
        )
        db.add(org)
        await db.flush()
        orgs.append(org)
        named = [(org_spec.hr, PersonRole.HR_CONTACT)]
        named += [(name, PersonRole.MANAGER) for name in org_spec.managers]
        named += [(name, PersonRole.SUPERVISEE) for name in org_spec.supervisees]
        for name, role in named:
            login = name.lower().replace(" ", ".").translate(_ASCII)
            person = ClientPerson(
                org_id=org.id, role=role, name=name, email=f"{login}@{CLIENT_DOMAIN}"
            )
            db.add(person)
            people[name] = person
    await db.flush()
    logins = {f"{p.login}@{DEMO_DOMAIN}": p.login for p in SUPERVISORS}
    memberships = {}
    for row in await db.execute(
        select(Membership.id, User.email).join(User, User.id == Membership.user_id)
    ):
        if row.email in logins:
            memberships[logins[row.email]] = row.id
    today = clock.today()
    fi_holidays = holidays.country_holidays("FI", years=range(today.year - 2, today.year + 3))
    for spec in AGREEMENTS:
        org = orgs[spec.org]
        spec_org = ORGS[spec.org]
        monday = today - timedelta(days=today.weekday())
        start = monday - timedelta(weeks=spec.start[0]) + timedelta(days=spec.start[1])
        end = start + relativedelta(months=spec.months) - timedelta(days=1)
        agreement = Agreement(
            org_id=org.id,
            kind=spec.kind,
            manager_id=people[spec_org.managers[0]].id,
            hr_contact_id=people[spec_org.hr].id,
            start_date=start,
            end_date=end,
            session_minutes=spec.minutes,
            cadence_weeks=spec.cadence,
            session_quota=spec.quota,
            price_cents=spec.price_cents,
            status=spec.status,
        )
        agreement.supervisors = [AgreementSupervisor(membership_id=memberships[spec.supervisor])]
        agreement.supervisees = [
            AgreementSupervisee(person_id=people[name].id) for name in spec.supervisees
        ]
        db.add(agreement)
        await db.flush()
        db.add(AgreementEvent(agreement_id=agreement.id, kind="created", actor_name="Demo"))
        if spec.status == AgreementStatus.DRAFT:
            continue
        db.add(AgreementEvent(agreement_id=agreement.id, kind="activated", actor_name="Demo"))
        if start + relativedelta(months=6) <= today:
            db.add(
                Review(
                    agreement_id=agreement.id,
                    held_on=_working_day(start + relativedelta(months=6), fi_holidays),
                    decision=ReviewDecision.CONTINUE,
                    note="Jatketaan sovitusti.",
                )
            )
        if spec.status == AgreementStatus.ENDED:  # ended, as always, through a review
            db.add(
                Review(
                    agreement_id=agreement.id,
                    held_on=_working_day(end - timedelta(days=14), fi_holidays),
                    decision=ReviewDecision.END,
                    note="Tavoitteet saavutettu; päätetään sovitusti.",
                )
            )
            db.add(AgreementEvent(agreement_id=agreement.id, kind="ended", actor_name="Demo"))
        _sessions(db, agreement, spec, memberships[spec.supervisor], fi_holidays, today)
    await db.flush()


DEMO_SUPERVISEE = "Sari Sosiaalityö"  # signs in to the supervisee portal of the demo
DEMO_CONTENT_SUPERVISOR = "ville.ohjaaja"


async def _content(db: AsyncSession, settings: Settings, password_hash: str) -> None:
    """Sari's portal login, and content on her individual agreement with Ville: limits of
    confidentiality, goals evaluated over time, an assignment with her response and a note.
    Written through the content module, so it is encrypted and audited like any other."""
    person = await db.scalar(select(ClientPerson).where(ClientPerson.name == DEMO_SUPERVISEE))
    supervisor_user = await db.scalar(
        select(User).where(User.email == f"{DEMO_CONTENT_SUPERVISOR}@{DEMO_DOMAIN}")
    )
    if person is None or supervisor_user is None:
        return
    supervisor = await db.scalar(select(Membership).where(Membership.user_id == supervisor_user.id))
    agreement = await db.scalar(
        select(Agreement)
        .join(AgreementSupervisee, AgreementSupervisee.agreement_id == Agreement.id)
        .where(
            AgreementSupervisee.person_id == person.id,
            Agreement.kind == SupervisionKind.INDIVIDUAL,
            Agreement.status == AgreementStatus.ACTIVE,
        )
    )
    if supervisor is None or agreement is None:
        return
    user = User(
        email=person.email,
        name=person.name,
        password_hash=password_hash,
        email_verified_at=clock.now(),
    )
    db.add(user)
    await db.flush()
    login = Membership(user_id=user.id, role=Role.SUPERVISEE)
    db.add(login)
    await db.flush()
    person.membership_id = login.id
    keys = settings.content_keys
    ville, sari = content.Reader(supervisor, keys), content.Reader(login, keys)
    held = list(
        await db.scalars(
            select(SupervisionSession)
            .where(
                SupervisionSession.agreement_id == agreement.id,
                SupervisionSession.status == SessionStatus.HELD,
            )
            .order_by(SupervisionSession.starts_at)
        )
    )
    await content.write_limits(
        db,
        ville,
        agreement.id,
        "Keskustelut jäävät meidän kahden väliin. Esihenkilölle kerrotaan vain tapaamisten "
        "määrä ja päivät. Jos esiin tulee vakava vaara jollekulle, sovimme yhdessä, miten "
        "asia viedään eteenpäin.",
    )
    goals = [
        await content.add_goal(
            db, sari, agreement.id, content.GoalSource.OWN, "Rajaan työpäivän ja palaudun paremmin."
        ),
        await content.add_goal(
            db,
            ville,
            agreement.id,
            content.GoalSource.ORGANISATION,
            "Asiakastyön kirjaaminen sujuu ja perehdytän uusia kollegoita.",
        ),
    ]
    for step, session in enumerate(held[2 : len(held) : max(1, len(held) // 4)][:4]):
        day = session.starts_at.astimezone(HELSINKI).date()
        for goal, start in zip(goals, (2, 3), strict=True):
            await content.record_evaluation(
                db,
                ville,
                goal.id,
                min(5, start + step // 2 + step % 2),
                "Arvioitu yhdessä tapaamisessa.",
                evaluated_on=day,
                session_id=session.id,
            )
    if held:
        last = held[-1]
        assignment = await content.set_assignment(
            db, ville, last.id, "Kirjaa viikon ajan, milloin lopetat työt ja miltä se tuntui."
        )
        await content.respond_to_assignment(
            db,
            sari,
            assignment.id,
            "Kolmena päivänä lähdin ajoissa; se tuntui hyvältä.",
            done=False,
        )
        await content.write_note(
            db, ville, last.id, "Puhuttiin työpäivän rajaamisesta.\n\nSeuraavaksi: palautuminen."
        )


def _sessions(
    db: AsyncSession,
    agreement: Agreement,
    spec: DemoAgreement,
    supervisor_id: uuid.UUID,
    fi_holidays: holidays.HolidayBase,
    today: date,
) -> None:
    """Sessions every ``cadence`` weeks: held before now (a few cancelled), planned after."""
    day = agreement.start_date
    count = 0
    stop = agreement.end_date
    if spec.status == AgreementStatus.PAUSED:
        stop = min(stop, today - timedelta(days=30))
    while day <= stop and (spec.quota is None or count < spec.quota):
        held_day = _working_day(day, fi_holidays)
        if held_day > agreement.end_date:
            break
        starts = datetime.combine(held_day, time(spec.hour), HELSINKI).astimezone(UTC)
        past = starts < clock.now()
        status = SessionStatus.HELD if past else SessionStatus.PLANNED
        if past and count % 7 == 5:
            status = SessionStatus.CANCELLED_BY_CLIENT
        db.add(
            SupervisionSession(
                agreement_id=agreement.id,
                supervisor_id=supervisor_id,
                starts_at=starts,
                duration_minutes=spec.minutes,
                status=status,
                billable=status == SessionStatus.HELD,
                actual_minutes=spec.minutes if status == SessionStatus.HELD else None,
                cancelled_at=starts - timedelta(days=3)
                if status != SessionStatus.HELD and past
                else None,
                remote=spec.remote,
                address="" if spec.remote else "Työnohjaustila, Asemakatu 2",
                meeting_url="https://meet.example/demo" if spec.remote else "",
                uid=f"{uuid.uuid4()}@luotsi",
            )
        )
        count += 1
        day += timedelta(weeks=spec.cadence)


BILLED_MONTHS = 4  # whole months behind this one that the demo has invoiced


def _last_working_day(day: date, fi_holidays: holidays.HolidayBase) -> date:
    while day.weekday() >= 5 or day in fi_holidays:
        day -= timedelta(days=1)
    return day


async def _billing(db: AsyncSession) -> bool:
    """The firm's billing profile, and its invoices of the last whole months, each issued on
    its month's last working day: most paid, the newest still open, one overdue and one
    credited in full by a credit note. Returns whether any invoice was made."""
    profile = await get_profile(db)
    profile.legal_name, profile.business_id = "Demo Työnohjaus Oy", "1234567-1"
    profile.street, profile.postal_code, profile.city = "Asemakatu 2", "05800", "Hyvinkää"
    profile.iban, profile.bic = "FI21 1234 5600 0007 85", "NDEAFIHH"
    profile.email, profile.phone = f"laskutus@{DEMO_DOMAIN}", "+358405550100"
    await db.flush()
    owner = await db.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(User.email == f"{DEMO_PEOPLE[0][0]}@{DEMO_DOMAIN}")
    )
    assert owner is not None
    orgs = list(await db.scalars(select(ClientOrg.id).order_by(ClientOrg.name)))
    today = clock.today()
    fi_holidays = holidays.country_holidays("FI", years=range(today.year - 1, today.year + 1))
    this_month = today.replace(day=1)
    made = False
    for back in range(BILLED_MONTHS, 0, -1):
        start = this_month - relativedelta(months=back)
        end = start + relativedelta(months=1) - timedelta(days=1)
        issued_on = _last_working_day(end, fi_holidays)
        issued = []
        for org_id in orgs:
            draft = await draft_for_org(db, owner, org_id, start, end)
            if draft is not None:
                issued.append(await invoices.issue(db, owner, draft.id, issued_on=issued_on))
        made = made or bool(issued)
        for position, invoice in enumerate(issued):
            assert invoice.due_on is not None
            if back == BILLED_MONTHS - 1 and position == 0:  # a mistake, credited in full
                note = await invoices.credit(db, owner, invoice.id)
                credited_on = min(issued_on + timedelta(days=7), today)
                await invoices.issue(db, owner, note.id, issued_on=credited_on)
            elif back == 2 and position == 0 and invoice.due_on < today:
                continue  # overdue: never paid
            elif back > 1 or position % 2 == 0:
                paid_on = min(invoice.due_on - timedelta(days=2), today)
                await payments.record_payment(
                    db, owner, invoice.id, paid_on, invoice.gross_cents, "Demo"
                )
    return made


_ASCII = str.maketrans("äöåÄÖÅ", "aoaAOA")
