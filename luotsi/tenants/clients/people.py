"""The people of client organisations (HR contacts, managers, supervisees): checks, search,
editing, archiving and deleting. They are added through their organisation
(:func:`.organisations.create_person`); their portal logins are in :mod:`.logins`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import check_email
from luotsi.platform.members import Invitation
from luotsi.platform.paging import Page, Sort, paginate
from luotsi.platform.permissions import require
from luotsi.platform.phones import normalise_phone
from luotsi.platform.search import contains, search_words
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.agreements.queries import person_has_history
from luotsi.tenants.clients.checks import text_within
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole


@dataclass
class PersonInput:
    role: str = PersonRole.SUPERVISEE.value
    name: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""

    @classmethod
    def of(cls, person: ClientPerson) -> PersonInput:
        return cls(
            role=person.role.value,
            name=person.name,
            email=person.email,
            phone=person.phone_display,
            title=person.title,
        )


def check_person(data: PersonInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    try:
        role = PersonRole(data.role)
    except ValueError:
        errors["role"] = _("Choose the person's role.")
    name = " ".join(data.name.split())
    if not name:
        errors["name"] = _("Enter the person's name.")
    elif len(name) > 120:
        errors["name"] = i18n.too_long(120)
    title = text_within(errors, "title", data.title, 160)
    email = phone = ""
    if data.email.strip():
        try:
            email = check_email(data.email)
        except Invalid as exc:
            errors.update(exc.errors)
    try:
        phone = normalise_phone(data.phone)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return {"role": role, "name": name, "email": email, "phone": phone, "title": title}


@dataclass
class PeopleFilter:
    """People of every organisation: words in the name, e-mail or title; one role or all."""

    text: str = ""
    role: str = ""
    archived: bool = False  # include archived people and people of archived organisations

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if not self.archived:
            conditions.append(ClientPerson.archived_at.is_(None))
            conditions.append(
                ClientPerson.org_id.in_(select(ClientOrg.id).where(ClientOrg.archived_at.is_(None)))
            )
        if self.role in {r.value for r in PersonRole}:
            conditions.append(ClientPerson.role == PersonRole(self.role))
        for word in search_words(self.text):
            conditions.append(
                or_(
                    contains(ClientPerson.name, word),
                    contains(ClientPerson.email, word),
                    contains(ClientPerson.title, word),
                )
            )
        return conditions


PEOPLE_SORTS = ("name", "role", "org", "email")  # the list's columns
PEOPLE_DEFAULT_SORT = Sort("name")


def _order(sort: Sort) -> list[Any]:
    """ORDER BY of the people list (and of its export)."""
    name = func.lower(ClientPerson.name)
    org_name = (
        select(func.lower(ClientOrg.name))
        .where(ClientOrg.id == ClientPerson.org_id)
        .correlate(ClientPerson)
        .scalar_subquery()
    )
    return sort.order(
        {
            "name": [name],
            "role": [ClientPerson.role, name],
            "org": [org_name, name],
            "email": [func.lower(ClientPerson.email), name],
        },
        ClientPerson.id,
    )


async def search_people(
    db: AsyncSession,
    actor: Membership,
    filters: PeopleFilter,
    page: int = 1,
    per_page: int = 20,
    sort: Sort = PEOPLE_DEFAULT_SORT,
) -> Page[ClientPerson]:
    require(permissions.can_view_clients(actor), "clients")
    loads = [joinedload(ClientPerson.org)]
    return await paginate(
        db, ClientPerson, filters.conditions(), _order(sort), page, per_page, loads
    )


async def export_people(
    db: AsyncSession, actor: Membership, filters: PeopleFilter, sort: Sort = PEOPLE_DEFAULT_SORT
) -> list[ClientPerson]:
    """Every person the list shows with ``filters`` (all pages), in its order, with their
    organisations: one statement."""
    require(permissions.can_view_clients(actor), "clients")
    rows = await db.scalars(
        select(ClientPerson)
        .where(*filters.conditions())
        .order_by(*_order(sort))
        .options(joinedload(ClientPerson.org))
    )
    return list(rows)


async def count_people(db: AsyncSession, org_id: uuid.UUID) -> int:
    """How many people (archived ones included) the organisation has."""
    count = await db.scalar(
        select(func.count()).select_from(ClientPerson).where(ClientPerson.org_id == org_id)
    )
    return int(count or 0)


async def get_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientPerson:
    require(permissions.can_view_clients(actor), "clients")
    person = await db.scalar(
        select(ClientPerson)
        .where(ClientPerson.id == person_id)
        .options(joinedload(ClientPerson.org))
    )
    if person is None:
        raise NotFound("client_person")
    return person


async def role_is_fixed(db: AsyncSession, person: ClientPerson) -> bool:
    """A person's role stays once they are on an agreement or have (been invited to) a login."""
    if person.membership_id is not None or person.invitation_id is not None:
        return True
    return await person_has_history(db, person.id)


async def update_person(
    db: AsyncSession, actor: Membership, person_id: uuid.UUID, data: PersonInput
) -> ClientPerson:
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    clean = check_person(data)
    if clean["role"] != person.role and await role_is_fixed(db, person):
        raise Invalid.field(
            "role",
            _("The role cannot change: the person is on an agreement or has a portal login."),
        )
    if clean["email"] != person.email:
        await revoke_invitations(db, [person])  # it was sent to the old address
    for name, value in clean.items():
        setattr(person, name, value)
    await db.flush()
    return person


async def archive_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientPerson:
    """Put a person aside; an HR contact's portal login stops working until restored."""
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    person.archived_at = person.archived_at or clock.now()
    await revoke_invitations(db, [person])
    await db.flush()
    return person


MAX_ARCHIVED_AT_ONCE = 100  # people archived in one go (a page of the list at most)


async def archivable_people(
    db: AsyncSession, actor: Membership, person_ids: Iterable[uuid.UUID]
) -> list[ClientPerson]:
    """Of the chosen people, those still to archive (not archived yet), by name."""
    require(permissions.can_manage_clients(actor), "clients")
    ids = list(dict.fromkeys(person_ids))[:MAX_ARCHIVED_AT_ONCE]
    if not ids:
        return []
    rows = await db.scalars(
        select(ClientPerson)
        .where(ClientPerson.id.in_(ids), ClientPerson.archived_at.is_(None))
        .order_by(func.lower(ClientPerson.name), ClientPerson.id)
        .options(joinedload(ClientPerson.org))
    )
    return list(rows.unique())


async def archive_people(
    db: AsyncSession, actor: Membership, person_ids: Iterable[uuid.UUID]
) -> list[ClientPerson]:
    """Put several people aside at once (a bulk action of the people list), as
    :func:`archive_person` does one; those archived already are left as they are."""
    people = await archivable_people(db, actor, person_ids)
    await revoke_invitations(db, people)
    now = clock.now()
    for person in people:
        person.archived_at = now
    await db.flush()
    return people


async def unarchive_person(
    db: AsyncSession, actor: Membership, person_id: uuid.UUID
) -> ClientPerson:
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    person.archived_at = None
    await db.flush()
    return person


async def delete_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientOrg:
    """Delete a person without history (and their portal login); returns their organisation."""
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if await person_has_history(db, person.id):
        raise Invalid.field(
            "delete", _("The person is on an agreement and cannot be deleted. Archive them.")
        )
    org = person.org
    await remove_person(db, person)
    await db.flush()
    return org


async def remove_person(db: AsyncSession, person: ClientPerson) -> None:
    """Delete the person record, its open invitation and an HR contact's login."""
    await revoke_invitations(db, [person])
    if person.membership_id is not None:
        login = await db.scalar(select(Membership).where(Membership.id == person.membership_id))
        if login is not None and login.role == Role.CLIENT_CONTACT:
            login.deactivate()
    await db.delete(person)


async def revoke_invitations(db: AsyncSession, people: Sequence[ClientPerson]) -> None:
    """Cancel the people's open portal invitations, if any (one statement for them all)."""
    invited = [person for person in people if person.invitation_id is not None]
    if not invited:
        return
    ids = [person.invitation_id for person in invited]
    now = clock.now()
    for invitation in await db.scalars(select(Invitation).where(Invitation.id.in_(ids))):
        if invitation.is_open:
            invitation.revoked_at = now
    for person in invited:
        person.invitation_id = None
