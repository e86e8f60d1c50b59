"""Client organisations and their people: billing details, search, archiving and logins.

An organisation buys supervision; its HR contacts may sign in to a portal (a membership with
role ``client_contact``, bound to the organisation through their person record), its managers
are contact records, and its supervisees are the people in supervision. Records with history
are archived, never deleted. The tables are in :mod:`.models`.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement
from stdnum import iban
from stdnum.fi import ytunnus

from luotsi.platform import clock, i18n, members, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import check_email, get_user_by_email
from luotsi.platform.mail import render_email
from luotsi.platform.members import Invitation
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page, paginate
from luotsi.platform.phones import normalise_phone
from luotsi.platform.tenancy import Membership, Role, Tenant, check_business_id
from luotsi.tenants.agreements.queries import (
    open_agreement_count,
    open_agreements_per_org,
    org_has_history,
    person_has_history,
)
from luotsi.tenants.clients.models import (
    ClientOrg,
    ClientPerson,
    OrgType,
    PersonRole,
)

INVOICE_LANGUAGES = ("fi", "sv", "en")
DEFAULT_PAYMENT_TERM_DAYS = 14
MAX_PAYMENT_TERM_DAYS = 120
MAX_NOTES = 5000
POSTAL_CODE = re.compile(r"[0-9]{5}")
OVT_PREFIX = "0037"  # Finland's ISO 6523 code: 0037 + business ID without the hyphen (+ 0-5)
EDI_CODE = re.compile(r"[0-9A-Z]{12,17}")
OPERATOR_CODE = re.compile(r"[0-9A-Z]{4,35}")  # 003721291126, NDEAFIHH, E204503


def check_einvoice_address(text: str, field_name: str = "einvoice_address") -> str:
    """An e-invoice address as the receiver gave it; empty stays empty.

    An OVT code is ``0037``, the business ID without its hyphen (check digit verified) and up to
    five characters of the receiver's own; an IBAN is checked by its checksum; other EDI codes
    (foreign or operator-specific) pass when they are 12-17 letters and digits.
    """
    code = "".join(text.split()).upper()
    if not code:
        return ""
    if code.startswith(OVT_PREFIX):
        if EDI_CODE.fullmatch(code) and ytunnus.is_valid(code[4:12]):
            return code
        raise Invalid.field(
            field_name,
            _(
                "An OVT code is 0037 followed by the business ID without the hyphen and up to"
                " five more characters, e.g. 003707375462."
            ),
        )
    if len(code) <= 34 and code[:2].isalpha() and iban.is_valid(code):
        return str(iban.compact(code))
    if EDI_CODE.fullmatch(code):
        return code
    raise Invalid.field(
        field_name,
        _("Enter the e-invoice address (an OVT code such as 003707375462, or an IBAN)."),
    )


def check_operator(text: str, field_name: str = "einvoice_operator") -> str:
    """An e-invoice operator's code or BIC; empty stays empty."""
    code = "".join(text.split()).upper()
    if code and not OPERATOR_CODE.fullmatch(code):
        raise Invalid.field(
            field_name, _("Enter the operator's code or BIC, e.g. 003721291126 or NDEAFIHH.")
        )
    return code


def _text(errors: dict[str, str], name: str, value: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        errors[name] = i18n.too_long(limit)
    return value


@dataclass
class BillingInput:
    """Where and how an organisation is invoiced: what its HR contact may update too."""

    billing_street: str = ""
    billing_postal_code: str = ""
    billing_city: str = ""
    einvoice_address: str = ""
    einvoice_operator: str = ""
    invoice_email: str = ""
    invoice_language: str = "fi"


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


def billing_values(org: ClientOrg) -> BillingInput:
    return BillingInput(
        billing_street=org.billing_street,
        billing_postal_code=org.billing_postal_code,
        billing_city=org.billing_city,
        einvoice_address=org.einvoice_address,
        einvoice_operator=org.einvoice_operator,
        invoice_email=org.invoice_email,
        invoice_language=org.invoice_language,
    )


def check_billing(data: BillingInput) -> dict[str, Any]:
    """Clean billing details, or :class:`Invalid` naming every wrong field.

    The address is all or nothing (street, five-digit postal code, city); an e-invoice address
    needs its operator and the other way round; the invoice e-mail is optional.
    """
    errors: dict[str, str] = {}
    values = _billing(errors, data)
    if errors:
        raise Invalid(errors)
    return values


def _billing(errors: dict[str, str], data: BillingInput) -> dict[str, Any]:
    street = _text(errors, "billing_street", data.billing_street, 200)
    postal = "".join(data.billing_postal_code.split())
    city = _text(errors, "billing_city", data.billing_city, 100)
    if postal and not POSTAL_CODE.fullmatch(postal):
        errors["billing_postal_code"] = _("A postal code has five digits, e.g. 05800.")
    if street or postal or city:
        missing = _("An address needs a street, a postal code and a city.")
        for name, value in (
            ("billing_street", street),
            ("billing_postal_code", postal),
            ("billing_city", city),
        ):
            if not value:
                errors.setdefault(name, missing)
    address = operator = email = ""
    try:
        address = check_einvoice_address(data.einvoice_address)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        operator = check_operator(data.einvoice_operator)
    except Invalid as exc:
        errors.update(exc.errors)
    if address and not operator:
        errors.setdefault("einvoice_operator", _("Enter the operator of the e-invoice address."))
    if operator and not address and "einvoice_address" not in errors:
        errors["einvoice_address"] = _("Enter the e-invoice address, or leave the operator empty.")
    if data.invoice_email.strip():
        try:
            email = check_email(data.invoice_email, "invoice_email")
        except Invalid as exc:
            errors.update(exc.errors)
    if data.invoice_language not in INVOICE_LANGUAGES:
        errors["invoice_language"] = _("Choose the language of the invoices.")
    return {
        "billing_street": street,
        "billing_postal_code": postal,
        "billing_city": city,
        "einvoice_address": address,
        "einvoice_operator": operator,
        "invoice_email": email,
        "invoice_language": data.invoice_language,
    }


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
    notes = _text(errors, "internal_notes", data.internal_notes, MAX_NOTES)
    billing = _billing(errors, data)
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


# --- organisations --------------------------------------------------------------------------


def _like(word: str) -> str:
    return f"%{word.replace('!', '!!').replace('%', '!%').replace('_', '!_')}%"


@dataclass
class OrgFilter:
    """The organisation list: words in the name or business ID; archived ones on request."""

    text: str = ""
    archived: bool = False  # include archived organisations

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if not self.archived:
            conditions.append(ClientOrg.archived_at.is_(None))
        for word in self.text.strip().lower().split()[:5]:
            conditions.append(
                or_(
                    func.lower(ClientOrg.name).like(_like(word), escape="!"),
                    func.replace(ClientOrg.business_id, "-", "").like(
                        _like(word.replace("-", "")), escape="!"
                    ),
                )
            )
        return conditions


@dataclass
class OrgRow:
    org: ClientOrg
    people: int
    open_agreements: int


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise Forbidden(what)


async def search_orgs(
    db: AsyncSession, actor: Membership, filters: OrgFilter, page: int = 1, per_page: int = 20
) -> Page[OrgRow]:
    """Organisations by name, with how many people and open agreements each has."""
    _require(permissions.can_view_clients(actor), "clients")
    conditions = filters.conditions()
    total = await db.scalar(select(func.count()).select_from(ClientOrg).where(*conditions)) or 0
    page = max(1, min(page, Page.last_page(total, per_page)))
    people = (
        select(func.count())
        .select_from(ClientPerson)
        .where(ClientPerson.org_id == ClientOrg.id, ClientPerson.archived_at.is_(None))
        .correlate(ClientOrg)
        .scalar_subquery()
    )
    agreements = open_agreements_per_org()
    rows = await db.execute(
        select(ClientOrg, people, agreements)
        .where(*conditions)
        .order_by(func.lower(ClientOrg.name), ClientOrg.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [OrgRow(org, n_people or 0, n_open or 0) for org, n_people, n_open in rows.tuples()]
    return Page(items, page, per_page, total)


async def get_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    _require(permissions.can_view_clients(actor), "clients")
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == org_id))
    if org is None:
        raise NotFound("client_org")
    return org


async def create_org(db: AsyncSession, actor: Membership, data: OrgInput) -> ClientOrg:
    """Add a client organisation."""
    _require(permissions.can_manage_clients(actor), "clients")
    org = ClientOrg(**check_org(data))
    db.add(org)
    await db.flush()
    return org


async def update_org(
    db: AsyncSession, actor: Membership, org_id: uuid.UUID, data: OrgInput
) -> ClientOrg:
    """Change every field of an organisation."""
    _require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    for name, value in check_org(data).items():
        setattr(org, name, value)
    await db.flush()
    return org


def apply_billing(org: ClientOrg, data: BillingInput) -> None:
    """Validate and set an organisation's billing details (see :func:`check_billing`)."""
    for name, value in check_billing(data).items():
        setattr(org, name, value)


async def archive_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    """Put an organisation aside: out of lists, its HR contacts out of the portal.

    An organisation with agreements still pending, active or paused stays: end them first.
    """
    _require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if await open_agreement_count(db, org.id):
        raise Invalid.field(
            "archive", _("The organisation has current agreements. End them before archiving.")
        )
    org.archived_at = org.archived_at or clock.now()
    for person in await _people_of(db, org.id):
        await _revoke_invitation(db, person)
    await db.flush()
    return org


async def unarchive_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> ClientOrg:
    _require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    org.archived_at = None
    await db.flush()
    return org


async def delete_org(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> None:
    """Delete an organisation without history, with its people and their portal logins."""
    _require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if await org_has_history(db, org.id):
        raise Invalid.field(
            "delete", _("The organisation has agreements and cannot be deleted. Archive it.")
        )
    for person in await _people_of(db, org.id):
        await _remove_person(db, person)
    await db.flush()  # people first: the unit of work does not order them before the org
    await db.delete(org)
    await db.flush()


# --- people ---------------------------------------------------------------------------------


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
    title = _text(errors, "title", data.title, 160)
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
        for word in self.text.strip().lower().split()[:5]:
            like = _like(word)
            conditions.append(
                or_(
                    func.lower(ClientPerson.name).like(like, escape="!"),
                    func.lower(ClientPerson.email).like(like, escape="!"),
                    func.lower(ClientPerson.title).like(like, escape="!"),
                )
            )
        return conditions


async def search_people(
    db: AsyncSession, actor: Membership, filters: PeopleFilter, page: int = 1, per_page: int = 20
) -> Page[ClientPerson]:
    _require(permissions.can_view_clients(actor), "clients")
    conditions = filters.conditions()
    order = [func.lower(ClientPerson.name), ClientPerson.id]
    loads = [joinedload(ClientPerson.org)]
    return await paginate(db, ClientPerson, conditions, order, page, per_page, loads)


async def count_people(db: AsyncSession, org_id: uuid.UUID) -> int:
    """How many people (archived ones included) the organisation has."""
    count = await db.scalar(
        select(func.count()).select_from(ClientPerson).where(ClientPerson.org_id == org_id)
    )
    return int(count or 0)


async def _people_of(db: AsyncSession, org_id: uuid.UUID) -> list[ClientPerson]:
    rows = await db.scalars(select(ClientPerson).where(ClientPerson.org_id == org_id))
    return list(rows.unique())


async def people_by_role(
    db: AsyncSession, org_id: uuid.UUID
) -> tuple[dict[PersonRole, list[ClientPerson]], list[ClientPerson]]:
    """The organisation's current people per role (HR contacts, managers, supervisees) and
    its archived people."""
    current: dict[PersonRole, list[ClientPerson]] = {role: [] for role in PersonRole}
    archived: list[ClientPerson] = []
    for person in sorted(await _people_of(db, org_id), key=lambda p: (p.name.lower(), p.id)):
        (archived if person.is_archived else current[person.role]).append(person)
    return current, archived


async def get_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientPerson:
    _require(permissions.can_view_clients(actor), "clients")
    person = await db.scalar(
        select(ClientPerson)
        .where(ClientPerson.id == person_id)
        .options(joinedload(ClientPerson.org))
    )
    if person is None:
        raise NotFound("client_person")
    return person


async def create_person(
    db: AsyncSession, actor: Membership, org_id: uuid.UUID, data: PersonInput
) -> ClientPerson:
    """Add an HR contact, a manager or a supervisee to an organisation."""
    _require(permissions.can_manage_clients(actor), "clients")
    org = await get_org(db, actor, org_id)
    if org.is_archived:
        raise Invalid.field("org", _("Restore the organisation before adding people to it."))
    person = ClientPerson(org_id=org.id, **check_person(data))
    db.add(person)
    await db.flush()
    return person


async def role_is_fixed(db: AsyncSession, person: ClientPerson) -> bool:
    """A person's role stays once they are on an agreement or have (been invited to) a login."""
    if person.membership_id is not None or person.invitation_id is not None:
        return True
    return await person_has_history(db, person.id)


async def update_person(
    db: AsyncSession, actor: Membership, person_id: uuid.UUID, data: PersonInput
) -> ClientPerson:
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    clean = check_person(data)
    if clean["role"] != person.role and await role_is_fixed(db, person):
        raise Invalid.field(
            "role",
            _("The role cannot change: the person is on an agreement or has a portal login."),
        )
    if clean["email"] != person.email:
        await _revoke_invitation(db, person)  # it was sent to the old address
    for name, value in clean.items():
        setattr(person, name, value)
    await db.flush()
    return person


async def archive_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientPerson:
    """Put a person aside; an HR contact's portal login stops working until restored."""
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    person.archived_at = person.archived_at or clock.now()
    await _revoke_invitation(db, person)
    await db.flush()
    return person


async def unarchive_person(
    db: AsyncSession, actor: Membership, person_id: uuid.UUID
) -> ClientPerson:
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    person.archived_at = None
    await db.flush()
    return person


async def delete_person(db: AsyncSession, actor: Membership, person_id: uuid.UUID) -> ClientOrg:
    """Delete a person without history (and their portal login); returns their organisation."""
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if await person_has_history(db, person.id):
        raise Invalid.field(
            "delete", _("The person is on an agreement and cannot be deleted. Archive them.")
        )
    org = person.org
    await _remove_person(db, person)
    await db.flush()
    return org


async def _remove_person(db: AsyncSession, person: ClientPerson) -> None:
    await _revoke_invitation(db, person)
    if person.membership_id is not None:
        login = await db.scalar(select(Membership).where(Membership.id == person.membership_id))
        if login is not None and login.role == Role.CLIENT_CONTACT:
            await db.delete(login)
    await db.delete(person)


async def _revoke_invitation(db: AsyncSession, person: ClientPerson) -> None:
    if person.invitation_id is None:
        return
    invitation = await db.scalar(select(Invitation).where(Invitation.id == person.invitation_id))
    if invitation is not None and invitation.is_open:
        invitation.revoked_at = clock.now()
    person.invitation_id = None


# --- portal logins: an HR contact's (client portal) and a supervisee's -----------------------

# The membership role a person's login has; other people (managers) get no login.
LOGIN_ROLES = {PersonRole.HR_CONTACT: Role.CLIENT_CONTACT, PersonRole.SUPERVISEE: Role.SUPERVISEE}


class PortalStatus(enum.StrEnum):
    NONE = "none"
    INVITED = "invited"
    EXPIRED = "expired"  # invited, but the link was not used in time
    ACTIVE = "active"


@dataclass
class PortalAccess:
    status: PortalStatus
    invitation: Invitation | None = None


async def portal_access(db: AsyncSession, person: ClientPerson) -> PortalAccess:
    """Where a person's portal login stands; binds an accepted invitation on the way."""
    if person.membership_id is not None:
        login = await db.scalar(select(Membership).where(Membership.id == person.membership_id))
        if login is not None:
            return PortalAccess(PortalStatus.ACTIVE)
        person.membership_id = None  # removed from the member list
    invitation = None
    if person.invitation_id is not None:
        invitation = await db.scalar(
            select(Invitation).where(Invitation.id == person.invitation_id)
        )
    if invitation is not None and invitation.accepted_at is not None:
        login = await db.scalar(select(Membership).where(Membership.user_id == invitation.user_id))
        if login is not None and login.role == LOGIN_ROLES.get(person.role):
            person.membership_id, person.invitation_id = login.id, None
            await db.flush()
            return PortalAccess(PortalStatus.ACTIVE)
        invitation = None
    if invitation is None or invitation.revoked_at is not None:
        person.invitation_id = None
        await db.flush()
        return PortalAccess(PortalStatus.NONE)
    status = PortalStatus.INVITED if invitation.is_open else PortalStatus.EXPIRED
    return PortalAccess(status, invitation)


async def person_of_contact(db: AsyncSession, membership: Membership) -> ClientPerson | None:
    """The HR contact record a ``client_contact`` membership speaks for, or None."""
    if membership.role != Role.CLIENT_CONTACT:
        return None
    return await person_of_login(db, membership)


async def person_of_login(db: AsyncSession, membership: Membership) -> ClientPerson | None:
    """The person record a ``client_contact`` or ``supervisee`` membership speaks for, or None.

    The first time after the invitation was accepted the binding is made here: the person
    record remembers the invitation it was sent, and the invitation the account that used it.
    """
    person_role = next((p for p, r in LOGIN_ROLES.items() if r == membership.role), None)
    if person_role is None:
        return None
    person = await db.scalar(
        select(ClientPerson)
        .where(ClientPerson.membership_id == membership.id)
        .options(joinedload(ClientPerson.org))
        .limit(1)
    )
    if person is None:
        accepted = select(Invitation.id).where(
            Invitation.user_id == membership.user_id,
            Invitation.accepted_at.is_not(None),
            Invitation.role == membership.role,
        )
        person = await db.scalar(
            select(ClientPerson)
            .where(
                ClientPerson.invitation_id.in_(accepted),
                ClientPerson.membership_id.is_(None),
                ClientPerson.role == person_role,
            )
            .order_by(ClientPerson.created_at.desc())
            .options(joinedload(ClientPerson.org))
            .limit(1)
        )
        if person is None:
            return None
        person.membership_id, person.invitation_id = membership.id, None
        await db.flush()
    return person


async def invite_hr_contact(
    db: AsyncSession, actor: Membership, tenant: Tenant, person_id: uuid.UUID, *, base_url: str
) -> Invitation:
    """E-mail an HR contact a single-use link to the firm's client portal.

    The invitation (role ``client_contact``) is remembered on the person record; whoever
    accepts it with that address becomes this person's login (:func:`person_of_login`).
    """
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if person.role != PersonRole.HR_CONTACT:
        raise Invalid.field("invite", _("Only HR contacts get a portal login."))
    return await _invite_login(
        db, actor, tenant, person, "client_contact_invitation", base_url=base_url
    )


async def invite_supervisee(
    db: AsyncSession, actor: Membership, tenant: Tenant, person_id: uuid.UUID, *, base_url: str
) -> Invitation:
    """E-mail a supervisee a single-use link to their own portal (role ``supervisee``), bound
    to their person record the same way as an HR contact's."""
    _require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if person.role != PersonRole.SUPERVISEE:
        raise Invalid.field("invite", _("Only supervisees are invited to the supervisee portal."))
    return await _invite_login(
        db, actor, tenant, person, "supervisee_invitation", base_url=base_url
    )


async def _invite_login(
    db: AsyncSession,
    actor: Membership,
    tenant: Tenant,
    person: ClientPerson,
    template: str,
    *,
    base_url: str,
) -> Invitation:
    if person.is_archived or person.org.is_archived:
        raise Invalid.field("invite", _("Restore the person and the organisation first."))
    if not person.email:
        raise Invalid.field("invite", _("Add the person's e-mail address first."))
    if (await portal_access(db, person)).status == PortalStatus.ACTIVE:
        raise Invalid.field("invite", _("The person already has a portal login."))
    try:
        invitation, token = await members.invite_member(
            db, actor, person.email, LOGIN_ROLES[person.role].value, bound=True
        )
    except Invalid as exc:
        raise Invalid.field("invite", next(iter(exc.errors.values()))) from None
    person.invitation_id = invitation.id
    invitee = await get_user_by_email(db, person.email)
    enqueue_email(
        db,
        render_email(
            template,
            person.email,
            invitee.locale if invitee else person.org.invoice_language,
            inviter=actor.user.name,
            firm=tenant.name,
            organisation=person.org.name,
            link=f"{base_url}/join/{tenant.slug}/{token}",
        ),
        tenant_id=tenant.id,
    )
    await db.flush()
    return invitation
