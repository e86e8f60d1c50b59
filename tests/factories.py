"""Arranging data: firms, people and invitations, written through the models as the owner.

``make_two_firms`` builds the default world: two firms with overlapping names and data, so
every test that touches one can check the other stays invisible.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import obstore
from dateutil.relativedelta import relativedelta
from PIL import Image
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from luotsi.billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceRun,
    RunStatus,
)
from luotsi.billing.subscription.models import PlanInterval, PlanStatus, Subscription
from luotsi.platform import storage
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.identity import User, hash_password
from luotsi.platform.members import Invitation
from luotsi.platform.notifications import Notification, NotificationKind
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import (
    DEFAULT_REMINDER_HOURS,
    DEFAULT_RETENTION_MONTHS,
    Membership,
    Role,
    Tenant,
    TenantStatus,
)
from luotsi.platform.webhooks import WebhookEndpoint, WebhookEvent
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
    ReviewDecision,
)
from luotsi.tenants.agreements.service import default_end_date
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, OrgType, PersonRole
from luotsi.tenants.directory.models import (
    Absence,
    AbsenceKind,
    FirmArea,
    FirmAreaPart,
    Inquiry,
    ServiceArea,
    Specialty,
    StaffProfile,
    StaffSpecialty,
)
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SupervisionSession
from tests import clock

if TYPE_CHECKING:
    from tests.conftest import Backend

PASSWORD = "correct horse battery"
# Where the helpers write: an engine (a transaction each), or a connection inside a transaction
# (its sessions join it: make_two_firms builds its whole world in one transaction).
Bind = AsyncEngine | AsyncConnection


def agreement_start() -> date:
    """The fixture agreement's first day: three months before the suite's today."""
    return clock.days(-91)


def evaluation_day() -> date:
    """The day of the fixture evaluation in ``add_content``: a month ago."""
    return clock.days(-30)


def draft_start() -> date:
    """The start the tests give a drafted agreement: the first day of next month."""
    return clock.today() + relativedelta(months=1, day=1)


_hashes: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    if password not in _hashes:
        _hashes[password] = hash_password(password)
    return _hashes[password]


@dataclass
class Firm:
    tenant: Tenant
    owner: Membership
    admin: Membership
    supervisor: Membership
    invitation: Invitation
    area: FirmArea
    specialty: Specialty
    profile: StaffProfile  # the supervisor's, visible in the directory
    absence: Absence  # the supervisor's holiday, a week a year ago
    inquiry: Inquiry
    org: ClientOrg
    hr_contact: ClientPerson
    manager: ClientPerson
    supervisee: ClientPerson
    agreement: Agreement  # active, individual, the supervisor's, with a planned session
    session: SupervisionSession
    review: Review
    invoice: Invoice  # a draft to the organisation with one hand-added line
    invoice_line: InvoiceLine
    notification: Notification  # the owner's, unread: the inquiry
    webhook: WebhookEndpoint  # disabled: no test's event is queued to it

    @property
    def slug(self) -> str:
        return self.tenant.slug


@dataclass
class Firms:
    a: Firm
    b: Firm
    both: User  # a person who belongs to both firms


async def make_user(engine: Bind, email: str, name: str, verified: bool = True) -> User:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        user = User(
            email=email,
            name=name,
            password_hash=password_hash(),
            email_verified_at=clock.now() if verified else None,
        )
        db.add(user)
    return user


async def make_firm(engine: Bind, slug: str, name: str, business_id: str) -> Tenant:
    """An active firm. Inserted naming only the columns every revision has (and those with
    defaults), so the migration tests can make firms at older revisions; the returned row is
    detached."""
    values = {
        "id": uuid.uuid4(),
        "slug": slug,
        "name": name,
        "business_id": business_id,
        "status": TenantStatus.ACTIVE,
        "content_retention_months": DEFAULT_RETENTION_MONTHS,
        "created_at": clock.now(),
    }
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        await db.execute(insert(Tenant.__table__).values(values))
    return Tenant(**values, reminder_hours=DEFAULT_REMINDER_HOURS)


async def add_member(engine: Bind, tenant: Tenant, user: User, role: Role) -> Membership:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        membership = Membership(user_id=user.id, role=role)
        db.add(membership)
    membership.user = user
    return membership


def paid_plan(**changes: Any) -> dict[str, Any]:
    """The fields of a paid monthly subscription of three seats with a card, as Stripe reports
    it (``changes`` over them), for :func:`set_plan`."""
    return {
        "customer_id": "cus_alfa",
        "stripe_subscription_id": "sub_alfa",
        "status": PlanStatus.ACTIVE,
        "interval": PlanInterval.MONTH,
        "seats": 3,
        "seat_cents": 2900,
        "current_period_end": clock.now() + timedelta(days=20),
        "card_brand": "visa",
        "card_last4": "4242",
        **changes,
    }


async def set_plan(engine: Bind, tenant: Tenant, **fields: object) -> Subscription:
    """Store ``tenant``'s subscription row as Stripe's webhooks would have left it: ``fields``
    over those already stored (a paid one needs ``stripe_subscription_id``)."""
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        row = await db.get(Subscription, tenant.id)
        if row is None:
            row = Subscription(tenant_id=tenant.id)
            db.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
    return row


async def add_invitation(engine: Bind, tenant: Tenant, email: str, role: Role) -> Invitation:
    from datetime import timedelta

    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        invitation = Invitation(
            email=email,
            role=role,
            token_hash=uuid.uuid4().hex,
            expires_at=clock.now() + timedelta(days=7),
        )
        db.add(invitation)
    return invitation


async def add_area(
    engine: Bind,
    tenant: Tenant,
    name: str,
    regions: tuple[str, ...] | list[str] = (),
    municipalities: tuple[str, ...] | list[str] = (),
) -> FirmArea:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        area = FirmArea(name=name)
        area.parts = [FirmAreaPart(region_code=c) for c in regions] + [
            FirmAreaPart(municipality_code=c) for c in municipalities
        ]
        db.add(area)
    return area


async def add_specialty(engine: Bind, tenant: Tenant, name: str) -> Specialty:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        specialty = Specialty(name=name)
        db.add(specialty)
    return specialty


async def add_profile(
    engine: Bind,
    tenant: Tenant,
    membership: Membership,
    display_name: str,
    *,
    places: tuple[str, ...] | list[str] = (),  # r01, m106, a<uuid>
    specialties: tuple[Specialty, ...] | list[Specialty] = (),
    **fields: object,
) -> StaffProfile:
    """A staff profile; visible and active unless ``fields`` say otherwise."""
    fields.setdefault("visible", True)
    fields.setdefault("active", True)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        profile = StaffProfile(membership_id=membership.id, display_name=display_name, **fields)
        profile.areas = [
            ServiceArea(region_code=key[1:])
            if key[0] == "r"
            else ServiceArea(municipality_code=key[1:])
            if key[0] == "m"
            else ServiceArea(firm_area_id=uuid.UUID(key[1:]))
            for key in places
        ]
        profile.specialty_links = [StaffSpecialty(specialty_id=s.id) for s in specialties]
        db.add(profile)
    return profile


def portrait() -> bytes:
    """A small JPEG, as :func:`luotsi.tenants.directory.staff.reencode_photo` stores them."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (120, 160, 200)).save(out, format="JPEG")
    return out.getvalue()


def stored_portrait(files: FileStore, tenant: Tenant) -> str:
    """The key of a :func:`portrait` put in ``files`` for ``tenant``: a profile's ``photo_key``."""
    key = storage.new_key(tenant.id, storage.PHOTOS, ".jpg")
    obstore.put(files.store, key, portrait())
    return key


async def add_absence(
    engine: Bind,
    tenant: Tenant,
    membership: Membership,
    starts_on: date,
    ends_on: date,
    kind: AbsenceKind = AbsenceKind.HOLIDAY,
    note: str = "",
) -> Absence:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        absence = Absence(
            membership_id=membership.id, kind=kind, starts_on=starts_on, ends_on=ends_on, note=note
        )
        db.add(absence)
    return absence


async def add_inquiry(engine: Bind, tenant: Tenant, **fields: object) -> Inquiry:
    values: dict[str, object] = {
        "organisation": "Esimerkkikunta",
        "name": "Heikki Henkilöstö",
        "email": "heikki@esimerkki.example",
        "message": "Tarvitsemme ryhmätyönohjausta keväästä alkaen.",
        "consent_at": clock.now(),
        "kind": SupervisionKind.GROUP,
        "municipality_code": "106",
    }
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        inquiry = Inquiry(**values)
        db.add(inquiry)
    return inquiry


async def add_client_org(
    engine: Bind, tenant: Tenant, name: str = "Esimerkkikunta", **fields: object
) -> ClientOrg:
    values: dict[str, object] = {
        "business_id": "0737546-2",
        "org_type": OrgType.MUNICIPALITY,
        "billing_street": "Kunnantie 1",
        "billing_postal_code": "05800",
        "billing_city": "Hyvinkää",
    }
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        org = ClientOrg(name=name, **values)
        db.add(org)
    return org


async def add_person(
    engine: Bind,
    tenant: Tenant,
    org: ClientOrg,
    role: PersonRole,
    name: str,
    **fields: object,
) -> ClientPerson:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        person = ClientPerson(org_id=org.id, role=role, name=name, **fields)
        db.add(person)
    return person


async def add_agreement(
    engine: Bind,
    tenant: Tenant,
    org: ClientOrg,
    supervisor: Membership,
    supervisees: list[ClientPerson],
    **fields: object,
) -> Agreement:
    """An agreement (active unless ``status`` says otherwise) for one year from
    :func:`agreement_start`, three months ago."""
    start = agreement_start()
    values: dict[str, object] = {
        "kind": SupervisionKind.INDIVIDUAL,
        "start_date": start,
        "end_date": default_end_date(start),
        "session_minutes": 60,
        "cadence_weeks": 3,
        "session_quota": 15,
        "price_cents": 12000,
        "status": AgreementStatus.ACTIVE,
    }
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        agreement = Agreement(org_id=org.id, **values)
        agreement.supervisors = [AgreementSupervisor(membership_id=supervisor.id)]
        agreement.supervisees = [AgreementSupervisee(person_id=p.id) for p in supervisees]
        db.add(agreement)
    return agreement


async def add_session(
    engine: Bind,
    tenant: Tenant,
    agreement: Agreement,
    supervisor: Membership,
    **fields: object,
) -> SupervisionSession:
    values: dict[str, object] = {
        "starts_at": clock.at(clock.working_day(7)),  # a working day next week, 10.00
        "duration_minutes": agreement.session_minutes,
        "address": "Kunnantie 1, Hyvinkää",
    }
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        session = SupervisionSession(
            agreement_id=agreement.id,
            supervisor_id=supervisor.id,
            uid=f"{uuid.uuid4()}@luotsi",
            **values,
        )
        db.add(session)
    return session


async def add_review(
    engine: Bind, tenant: Tenant, agreement: Agreement, **fields: object
) -> Review:
    values: dict[str, object] = {"held_on": clock.days(-30), "decision": ReviewDecision.CONTINUE}
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        review = Review(agreement_id=agreement.id, **values)
        db.add(review)
    return review


async def add_draft_invoice(
    engine: Bind, tenant: Tenant, org: ClientOrg
) -> tuple[Invoice, InvoiceLine]:
    """A draft invoice to ``org`` with one hand-added line (travel costs)."""
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        invoice = Invoice(org_id=org.id)
        db.add(invoice)
        await db.flush()
        line = InvoiceLine(
            invoice_id=invoice.id,
            description="Matkakulut",
            unit_cents=4500,
            net_cents=4500,
            vat_basis_points=2550,
        )
        db.add(line)
    return invoice, line


async def add_notification(
    engine: Bind, tenant: Tenant, member: Membership, target: str
) -> Notification:
    """An unread notification of a new inquiry for ``member``, leading to ``target``."""
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        row = Notification(
            recipient_id=member.id,
            user_id=member.user_id,
            kind=NotificationKind.INQUIRY.value,
            target=target,
            words={"name": "Outi Ostaja", "organisation": "Tuusulan kunta"},
        )
        db.add(row)
        await db.flush()
    return row


async def add_webhook(engine: Bind, tenant: Tenant) -> WebhookEndpoint:
    """A disabled webhook endpoint of the firm's (so no event is ever queued to it)."""
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        row = WebhookEndpoint(
            url=f"https://hooks.{tenant.slug}.example/luotsi",
            events=frozenset({WebhookEvent.INVOICE_PAID.value}),
            secret="whsec_" + "0" * 48,
            active=False,
        )
        db.add(row)
        await db.flush()
    return row


async def add_invoice_run(engine: Bind, tenant: Tenant) -> InvoiceRun:
    """A finished invoice run of last month with nothing drafted."""
    first = clock.today() + relativedelta(months=-1, day=1)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        run = InvoiceRun(
            period_start=first,
            period_end=first + relativedelta(day=31),
            status=RunStatus.DONE,
            finished_at=clock.now(),
        )
        db.add(run)
    return run


async def make_two_firms(backend: Backend) -> Firms:
    # One transaction, not ~40: the default world is built before most tests.
    async with backend.owner.begin() as conn:
        return await _build_two_firms(conn, backend.files)


async def _build_two_firms(engine: Bind, files: FileStore) -> Firms:
    firms = []
    for slug, name, business_id in (
        ("alfa", "Alfa Työnohjaus Oy", "0737546-2"),
        ("beeta", "Beeta Työnohjaus Oy", "1234567-1"),
    ):
        tenant = await make_firm(engine, slug, name, business_id)
        people = {}
        for role in (Role.OWNER, Role.ADMIN, Role.SUPERVISOR):
            # Same names in both firms on purpose: overlapping data.
            user = await make_user(
                engine, f"{role.value}@{slug}.example", f"Maija {role.value.title()}"
            )
            people[role] = await add_member(engine, tenant, user, role)
        invitation = await add_invitation(engine, tenant, "invitee@shared.example", Role.SUPERVISOR)
        # Same area name in both firms on purpose; different contents.
        area = await add_area(
            engine, tenant, "Etelä-Suomi", regions=["01", "02", "05"] if slug == "alfa" else ["01"]
        )
        specialty = await add_specialty(engine, tenant, "Työyhteisösovittelu")
        profile = await add_profile(
            engine,
            tenant,
            people[Role.SUPERVISOR],
            "Maija Supervisor",
            title="Sosiaalityöntekijä, työnohjaaja",
            phone="+358405551234",
            places=["m106", f"a{area.id}"],
            specialties=[specialty],
            kinds=frozenset({"individual", "group"}),
            languages=frozenset({"fi", "sv"}),
            photo_key=stored_portrait(files, tenant),
            photo_updated_at=clock.now(),
        )
        absence = await add_absence(
            engine, tenant, people[Role.SUPERVISOR], clock.days(-365), clock.days(-359)
        )
        inquiry = await add_inquiry(engine, tenant, requested_profile_id=profile.id)
        # Same organisation and people names in both firms on purpose.
        org = await add_client_org(engine, tenant)
        hr = await add_person(
            engine,
            tenant,
            org,
            PersonRole.HR_CONTACT,
            "Hanna HR",
            email=f"hr@{slug}-client.example",
        )
        manager = await add_person(
            engine,
            tenant,
            org,
            PersonRole.MANAGER,
            "Matti Manager",
            email=f"manager@{slug}-client.example",
        )
        supervisee = await add_person(
            engine,
            tenant,
            org,
            PersonRole.SUPERVISEE,
            "Sanna Supervisee",
            email=f"sanna@{slug}-client.example",
        )
        agreement = await add_agreement(
            engine,
            tenant,
            org,
            people[Role.SUPERVISOR],
            [supervisee],
            manager_id=manager.id,
            hr_contact_id=hr.id,
        )
        session = await add_session(engine, tenant, agreement, people[Role.SUPERVISOR])
        review = await add_review(engine, tenant, agreement)
        invoice, invoice_line = await add_draft_invoice(engine, tenant, org)
        notification = await add_notification(
            engine, tenant, people[Role.OWNER], f"inquiries/{inquiry.id}"
        )
        webhook = await add_webhook(engine, tenant)
        firms.append(
            Firm(
                tenant,
                people[Role.OWNER],
                people[Role.ADMIN],
                people[Role.SUPERVISOR],
                invitation,
                area,
                specialty,
                profile,
                absence,
                inquiry,
                org,
                hr,
                manager,
                supervisee,
                agreement,
                session,
                review,
                invoice,
                invoice_line,
                notification,
                webhook,
            )
        )
    both = await make_user(engine, "both@shared.example", "Kaisa Kahdessa")
    await add_member(engine, firms[0].tenant, both, Role.SUPERVISOR)
    await add_member(engine, firms[1].tenant, both, Role.ADMIN)
    return Firms(a=firms[0], b=firms[1], both=both)


async def bind_supervisee_login(
    backend: Backend, firm: Firm, person: ClientPerson, email: str
) -> Membership:
    """Give ``person`` a bound supervisee login (as after an accepted invitation)."""
    user = await make_user(backend.owner, email, person.name)
    login = await add_member(backend.owner, firm.tenant, user, Role.SUPERVISEE)
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        row = await db.get(ClientPerson, (firm.tenant.id, person.id))
        assert row is not None
        row.membership_id = login.id
    return login


@dataclass
class Content:
    """One of each piece of content on a firm's agreement, written through the content module.

    ``marker`` is in every text, so a test can look for it anywhere.
    """

    marker: str
    supervisee_login: Membership  # Sanna's portal login
    note_id: uuid.UUID
    assignment_id: uuid.UUID
    response_id: uuid.UUID
    goal_id: uuid.UUID  # Sanna's own goal
    org_goal_id: uuid.UUID
    evaluation_id: uuid.UUID
    request_id: uuid.UUID  # Sanna's erasure request, waiting for the owner


async def add_content(backend: Backend, firm: Firm, marker: str = "") -> Content:
    """Write a note, an assignment and its response, two goals, an evaluation and the limits
    of confidentiality on ``firm``'s agreement, and an erasure request by its supervisee."""
    from luotsi.tenants import content

    marker = marker or f"SISALTO-{firm.tenant.slug}-{uuid.uuid4().hex[:8]}"
    login = await bind_supervisee_login(
        backend, firm, firm.supervisee, f"sanna.login@{firm.tenant.slug}-client.example"
    )
    keys = backend.settings.content_keys
    staff = content.Reader(firm.supervisor, keys)
    sanna = content.Reader(login, keys)
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        note = await content.write_note(db, staff, firm.session.id, f"Muistiinpano {marker}")
        assignment = await content.set_assignment(
            db, staff, firm.session.id, f"Välitehtävä {marker}"
        )
        response = await content.respond_to_assignment(
            db, sanna, assignment.id, f"Vastaus {marker}", done=True
        )
        goal = await content.add_goal(
            db, sanna, firm.agreement.id, content.GoalSource.OWN, f"Oma tavoite {marker}"
        )
        org_goal = await content.add_goal(
            db, staff, firm.agreement.id, content.GoalSource.ORGANISATION, f"Tavoite {marker}"
        )
        evaluation = await content.record_evaluation(
            db, staff, goal.id, 3, f"Arvio {marker}", evaluated_on=evaluation_day()
        )
        await content.write_limits(db, staff, firm.agreement.id, f"Rajat {marker}")
        request = await content.request_erasure(db, login, base_url="http://luotsi.test")
    return Content(
        marker,
        login,
        note.id,
        assignment.id,
        response.id,
        goal.id,
        org_goal.id,
        evaluation.id,
        request.id,
    )
