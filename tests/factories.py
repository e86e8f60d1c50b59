"""Arranging data: firms, people and invitations, written through the models as the owner.

``make_two_firms`` builds the default world: two firms with overlapping names and data, so
every test that touches one can check the other stays invisible.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker, utcnow
from luotsi.platform.identity import User, hash_password
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, Tenant, TenantStatus
from luotsi.tenants.inquiries import Inquiry
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.regions import FirmArea, FirmAreaPart
from luotsi.tenants.staff import ServiceArea, Specialty, StaffProfile, StaffSpecialty

if TYPE_CHECKING:
    from tests.conftest import Backend

PASSWORD = "correct horse battery"
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
    inquiry: Inquiry

    @property
    def slug(self) -> str:
        return self.tenant.slug


@dataclass
class Firms:
    a: Firm
    b: Firm
    both: User  # a person who belongs to both firms


async def make_user(engine: AsyncEngine, email: str, name: str, verified: bool = True) -> User:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        user = User(
            email=email,
            name=name,
            password_hash=password_hash(),
            email_verified_at=utcnow() if verified else None,
        )
        db.add(user)
    return user


async def make_firm(engine: AsyncEngine, slug: str, name: str, business_id: str) -> Tenant:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        tenant = Tenant(slug=slug, name=name, business_id=business_id, status=TenantStatus.ACTIVE)
        db.add(tenant)
    return tenant


async def add_member(engine: AsyncEngine, tenant: Tenant, user: User, role: Role) -> Membership:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        membership = Membership(user_id=user.id, role=role)
        db.add(membership)
    membership.user = user
    return membership


async def add_invitation(engine: AsyncEngine, tenant: Tenant, email: str, role: Role) -> Invitation:
    from datetime import timedelta

    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        invitation = Invitation(
            email=email,
            role=role,
            token_hash=uuid.uuid4().hex,
            expires_at=utcnow() + timedelta(days=7),
        )
        db.add(invitation)
    return invitation


async def add_area(
    engine: AsyncEngine,
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


async def add_specialty(engine: AsyncEngine, tenant: Tenant, name: str) -> Specialty:
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        specialty = Specialty(name=name)
        db.add(specialty)
    return specialty


async def add_profile(
    engine: AsyncEngine,
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
    """A small JPEG, as :func:`luotsi.tenants.staff.reencode_photo` stores them."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (120, 160, 200)).save(out, format="JPEG")
    return out.getvalue()


async def add_inquiry(engine: AsyncEngine, tenant: Tenant, **fields: object) -> Inquiry:
    values: dict[str, object] = {
        "organisation": "Esimerkkikunta",
        "name": "Heikki Henkilöstö",
        "email": "heikki@esimerkki.example",
        "message": "Tarvitsemme ryhmätyönohjausta keväästä alkaen.",
        "consent_at": utcnow(),
        "kind": SupervisionKind.GROUP,
        "municipality_code": "106",
    }
    values.update(fields)
    async with make_sessionmaker(engine)() as db, db.begin():
        db.info[TENANT_KEY] = tenant.id
        inquiry = Inquiry(**values)
        db.add(inquiry)
    return inquiry


async def make_two_firms(backend: Backend) -> Firms:
    engine = backend.owner
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
            photo=portrait(),
            photo_updated_at=utcnow(),
        )
        inquiry = await add_inquiry(engine, tenant, requested_profile_id=profile.id)
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
                inquiry,
            )
        )
    both = await make_user(engine, "both@shared.example", "Kaisa Kahdessa")
    await add_member(engine, firms[0].tenant, both, Role.SUPERVISOR)
    await add_member(engine, firms[1].tenant, both, Role.ADMIN)
    return Firms(a=firms[0], b=firms[1], both=both)
