"""Client organisations: checks, search, archiving and deleting, and adding their people.

An organisation buys supervision; its people are in :mod:`.people`, their portal logins in
:mod:`.logins`, its billing details in :mod:`.billing_details`. Records with history are
archived, never deleted. The tables are in :mod:`.models`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Page, Sort
from luotsi.platform.permissions import require
from luotsi.platform.search import contains, like_pattern, search_words
from luotsi.platform.tenancy import Membership, check_business_id
from luotsi.tenants.agreements.queries import (
    open_agreement_count,
    open_agreements_per_org,
    org_has_history,
)
from luotsi.tenants.clients.billing_details import BillingInput, billing_values, check_billing
from luotsi.tenants.clients.checks import text_within
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, OrgType, PersonRole
from luotsi.tenants.clients.people import (
    PersonInput,
    check_person,
    remove_person,
    revoke_invitations,
)

DEFAULT_PAYMENT_TERM_DAYS = 14
MAX_PAYMENT_TERM_DAYS = 120
MAX_NOTES = 5000


@dataclass
class OrgInput(BillingInput):
    """An organisation as submitted; :func:`check_org` validates every field."""

    name: str = ""
    business_id: str = ""
    org_type: str = OrgType.MUNICIPALITY.value
    payment_term_days: str = str(DEFAULT_PAYMENT_TERM_DAYS)
    internal_notes: str = ""

    @classmethod
    def of(cls, org: ClientOrg) -> OrgInput:
        """The saved organisation as form values."""
        return cls(
            name=org.name,
            business_id=org.business_id,
            org_type=org.org_type.value,
            payment_term_days=str(org.payment_term_days),
            internal_notes=org.internal_notes,
            **asdict(billing_values(org)),
        )


def check_org(data: OrgInput) -> dict[str, Any]:
    """Clean values for a :class:`ClientOrg`, or :class:`Invalid` naming every wrong field."""
    errors: dict[str, str] = {}
    name = " ".join(data.name.split())
    if not name:
        errors["name"] = _("Enter the name of the organisation.")
    elif len(name) > 200:
        errors["name"] = i18n.too_long(200)
    business_id = ""
    try:
        business_id = check_business_id(data.business_id)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        org_type = OrgType(data.org_type)
    except ValueError:
        errors["org_type"] = _("Choose the type of the organisation.")
    raw_term = data.payment_term_days.strip()
    term = DEFAULT_PAYMENT_TERM_DAYS
    if raw_term.isascii() and raw_term.isdigit() and int(raw_term) <= MAX_PAYMENT_TERM_DAYS:
        term = int(raw_term)
    else:
        errors["payment_term_days"] = _("Enter a payment term from 0 to %(n)d days.") % {
            "n": MAX_PAYMENT_TERM_DAYS
        }
    notes = text_within(errors, "internal_notes", data.internal_notes, MAX_NOTES)
    billing: dict[str, Any] = {}
    try:
        billing = check_billing(data)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return {
        "name": name,
        "business_id": business_id,
        "org_type": org_type,
        "payment_term_days": term,
        "internal_notes": notes,
        **billing,
    }


@dataclass
class OrgFilter:
    """The organisation list: words in the name or business ID; archived ones on request."""

    text: str = ""
    archived: bool = False  # include archived organisations

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if not self.archived:
            conditions.append(ClientOrg.archived_at.is_(None))
        for word in search_words(self.text):
            conditions.append(
                or_(
                    contains(ClientOrg.name, word),
                    func.replace(ClientOrg.business_id, "-", "").like(
                        like_pattern(word.replace("-", "")), escape="!"
                    ),
                )
            )
        return conditions


@dataclass
class OrgRow:
    org: ClientOrg
    people: int
    open_agreements: int


ORG_SORTS = ("name", "business_id", "city", "people", "agreements")  # the list's columns
ORG_DEFAULT_SORT = Sort("name")


def _listed(filters: OrgFilter, sort: Sort) -> Select[tuple[ClientOrg, int, int]]:
    """The organisation list's rows (and its export's) in ``sort``'s order: each organisation
    with how many people and open agreements it has."""
    people = (
        select(func.count())
        .select_from(ClientPerson)
        .where(ClientPerson.org_id == ClientOrg.id, ClientPerson.archived_at.is_(None))
        .correlate(ClientOrg)
        .scalar_subquery()
        .label("people")
    )
    agreements = open_agreements_per_org().label("agreements")
    name = func.lower(ClientOrg.name)
    order = sort.order(
        {
            "name": [name],
            "business_id": [ClientOrg.business_id, name],
            "city": [func.lower(ClientOrg.billing_city), name],
            "people": [people, name],
            "agreements": [agreements, name],
        },
        ClientOrg.id,
    )
    return select(ClientOrg, people, agreements).where(*filters.conditions()).order_by(*order)


async def search_orgs(
    db: AsyncSession,
    actor: Membership,
    filters: OrgFilter,
    page: int = 1,
    per_page: int = 20,
    sort: Sort = ORG_DEFAULT_SORT,
) -> Page[OrgRow]:
    """Organisations (by name unless ``sort`` says otherwise), with how many people and open
    agreements each has."""
    require(permissions.can_view_clients(actor), "clients")
    conditions = filters.conditions()
    total = await db.scalar(select(func.count()).select_from(ClientOrg).where(*conditions)) or 0
    page = max(1, min(page, Page.last_page(total, per_page)))
    rows = await db.execute(_listed(filters, sort).offset((page - 1) * per_page).limit(per_page))
    items = [OrgRow(org, n_people or 0, n_open or 0) for org, n_people, n_open in rows.tuples()]
    return Page(items, page, per_page, total)


async def export_orgs(
    db: AsyncSession, actor: Membership, filters: OrgFilter, sort: Sort = ORG_DEFAULT_SORT
) -> list[OrgRow]:
    """Every organisation the list shows with ``filters`` (all pages), in its order: one
    statement."""
    require(permissions.can_view_clients(actor), "clients")
    rows = await db.execute(_listed(filters, sort))
    return [OrgRow(org, n_people or 0, n_open or 0) for org, n_people, n_open in rows.tuples()]


async def get_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    require(permissions.can_view_clients(actor), "clients")
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == org_id))
    if org is None:
        raise NotFound("client_org")
    return org


async def create_org(db: AsyncSession, actor: Membership, data: OrgInput) -> ClientOrg:
    """Add a client organisation."""
    require(permissions.can_manage_clients(actor), "clients")
    org = ClientOrg(**check_org(data))
    db.add(org)
    await db.flush()
    return org


async def update_org(
    db: AsyncSession, actor: Membership, org_id: uuid.UUID, data: OrgInput
) -> ClientOrg:
    """Change every field of an organisation."""
    require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    for name, value in check_org(data).items():
        setattr(org, name, value)
    await db.flush()
    return org


async def archive_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    """Put an organisation aside: out of lists, its HR contacts out of the portal.

    An organisation with agreements still pending, active or paused stays: end them first.
    """
    require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if await open_agreement_count(db, org.id):
        raise Invalid.field(
            "archive", _("The organisation has current agreements. End them before archiving.")
        )
    org.archived_at = org.archived_at or clock.now()
    await revoke_invitations(db, await people_of(db, org.id))
    await db.flush()
    return org


async def unarchive_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    org.archived_at = None
    await db.flush()
    return org


async def delete_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> None:
    """Delete an organisation without history, with its people and their portal logins."""
    require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if await org_has_history(db, org.id):
        raise Invalid.field(
            "delete", _("The organisation has agreements and cannot be deleted. Archive it.")
        )
    for person in await people_of(db, org.id):
        await remove_person(db, person)
    await db.flush()  # people first: the unit of work does not order them before the org
    await db.delete(org)
    await db.flush()


async def people_of(db: AsyncSession, org_id: uuid.UUID) -> list[ClientPerson]:
    """Every person of the organisation, archived ones too."""
    rows = await db.scalars(select(ClientPerson).where(ClientPerson.org_id == org_id))
    return list(rows.unique())


async def people_by_role(
    db: AsyncSession, org_id: uuid.UUID
) -> tuple[dict[PersonRole, list[ClientPerson]], list[ClientPerson]]:
    """The organisation's current people per role (HR contacts, managers, supervisees) and
    its archived people."""
    current: dict[PersonRole, list[ClientPerson]] = {role: [] for role in PersonRole}
    archived: list[ClientPerson] = []
    for person in sorted(await people_of(db, org_id), key=lambda p: (p.name.lower(), p.id)):
        (archived if person.is_archived else current[person.role]).append(person)
    return current, archived


async def create_person(
    db: AsyncSession, actor: Membership, org_id: uuid.UUID, data: PersonInput
) -> ClientPerson:
    """Add an HR contact, a manager or a supervisee to an organisation."""
    require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if org.is_archived:
        raise Invalid.field("org", _("Restore the organisation before adding people to it."))
    person = ClientPerson(org_id=org.id, **check_person(data))
    db.add(person)
    await db.flush()
    return person
