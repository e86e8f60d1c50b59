"""What the API reads and writes, as the OpenAPI document shows it.

Times are ISO 8601 with their offset, in Finnish time (``2026-12-07T10:00:00+02:00``); money is
integer cents. Nothing here carries content (notes, assignments, goals, evaluations): sessions
are dates, statuses and counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from luotsi.billing.models import Invoice
from luotsi.platform.clock import HELSINKI
from luotsi.platform.i18n import gettext as _
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.agreements.quota import QuotaUsage
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, OrgType, PersonRole
from luotsi.tenants.sessions.models import MeetingKind, SupervisionSession
from luotsi.tenants.sessions.service import ends_at

OrgTypeCode = Literal["municipality", "wellbeing_county", "company", "association", "other"]
PersonRoleCode = Literal["hr_contact", "manager", "supervisee"]
MeetingKindCode = Literal["session", "evaluation", "review"]


def local(value: datetime) -> datetime:
    return value.astimezone(HELSINKI)


def local_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else local(value)


# --- client organisations -------------------------------------------------------------------


@dataclass
class ClientOrgOut:
    id: uuid.UUID
    name: str
    business_id: str
    org_type: OrgTypeCode
    billing_street: str
    billing_postal_code: str
    billing_city: str
    einvoice_address: str
    einvoice_operator: str
    invoice_email: str
    invoice_language: str
    payment_term_days: int
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: ClientOrg) -> ClientOrgOut:
        return cls(
            id=org.id,
            name=org.name,
            business_id=org.business_id,
            org_type=org.org_type.value,  # type: ignore[arg-type]
            billing_street=org.billing_street,
            billing_postal_code=org.billing_postal_code,
            billing_city=org.billing_city,
            einvoice_address=org.einvoice_address,
            einvoice_operator=org.einvoice_operator,
            invoice_email=org.invoice_email,
            invoice_language=org.invoice_language,
            payment_term_days=org.payment_term_days,
            archived_at=local_or_none(org.archived_at),
            created_at=local(org.created_at),
            updated_at=local(org.updated_at),
        )


@dataclass
class ClientOrgPage:
    data: list[ClientOrgOut]
    next: str | None  # the cursor of the next page; null on the last


@dataclass
class ClientOrgIn:
    """A new organisation; every field is checked as on the organisation form."""

    name: str
    business_id: str = ""
    org_type: OrgTypeCode = OrgType.COMPANY.value  # type: ignore[assignment]
    billing_street: str = ""
    billing_postal_code: str = ""
    billing_city: str = ""
    einvoice_address: str = ""
    einvoice_operator: str = ""
    invoice_email: str = ""
    invoice_language: str = "fi"
    payment_term_days: int = 14


@dataclass
class ClientOrgPatch:
    """Changes to an organisation: the fields given; the others stay."""

    name: str | None = None
    business_id: str | None = None
    org_type: OrgTypeCode | None = None
    billing_street: str | None = None
    billing_postal_code: str | None = None
    billing_city: str | None = None
    einvoice_address: str | None = None
    einvoice_operator: str | None = None
    invoice_email: str | None = None
    invoice_language: str | None = None
    payment_term_days: int | None = None


# --- people ---------------------------------------------------------------------------------


@dataclass
class PersonOut:
    id: uuid.UUID
    org_id: uuid.UUID
    role: PersonRoleCode
    name: str
    email: str
    phone: str  # E.164, e.g. +358401234567; empty when not known
    title: str
    archived_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, person: ClientPerson) -> PersonOut:
        return cls(
            id=person.id,
            org_id=person.org_id,
            role=person.role.value,  # type: ignore[arg-type]
            name=person.name,
            email=person.email,
            phone=person.phone,
            title=person.title,
            archived_at=local_or_none(person.archived_at),
            created_at=local(person.created_at),
        )


@dataclass
class PersonPage:
    data: list[PersonOut]
    next: str | None


@dataclass
class PersonIn:
    name: str
    role: PersonRoleCode = PersonRole.SUPERVISEE.value  # type: ignore[assignment]
    email: str = ""
    phone: str = ""
    title: str = ""


@dataclass
class PersonPatch:
    name: str | None = None
    role: PersonRoleCode | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None


# --- agreements -----------------------------------------------------------------------------


@dataclass
class AgreementOut:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    title: str
    status: str
    start_date: date
    end_date: date
    session_minutes: int
    cadence_weeks: int
    session_quota: int | None  # null: open-ended until the end date
    sessions_used: int  # held, and billable cancellations and no-shows
    sessions_planned: int
    sessions_remaining: int | None  # null when there is no quota
    review_due_on: date | None
    manager_id: uuid.UUID | None
    hr_contact_id: uuid.UUID | None
    supervisor_ids: list[uuid.UUID]  # staff memberships
    supervisee_ids: list[uuid.UUID]  # people of the organisation
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, agreement: Agreement, usage: QuotaUsage) -> AgreementOut:
        return cls(
            id=agreement.id,
            org_id=agreement.org_id,
            kind=agreement.kind.value,
            title=agreement.title,
            status=agreement.status.value,
            start_date=agreement.start_date,
            end_date=agreement.end_date,
            session_minutes=agreement.session_minutes,
            cadence_weeks=agreement.cadence_weeks,
            session_quota=agreement.session_quota,
            sessions_used=usage.used,
            sessions_planned=usage.planned,
            sessions_remaining=usage.remaining,
            review_due_on=agreement.review_due_on,
            manager_id=agreement.manager_id,
            hr_contact_id=agreement.hr_contact_id,
            supervisor_ids=sorted(s.membership_id for s in agreement.supervisors),
            supervisee_ids=sorted(s.person_id for s in agreement.supervisees),
            created_at=local(agreement.created_at),
            updated_at=local(agreement.updated_at),
        )


@dataclass
class AgreementPage:
    data: list[AgreementOut]
    next: str | None


# --- sessions -------------------------------------------------------------------------------


@dataclass
class SessionOut:
    id: uuid.UUID
    agreement_id: uuid.UUID
    supervisor_id: uuid.UUID
    kind: MeetingKindCode
    status: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    actual_minutes: int | None
    remote: bool
    billable: bool
    late_cancellation: bool
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: SupervisionSession) -> SessionOut:
        return cls(
            id=session.id,
            agreement_id=session.agreement_id,
            supervisor_id=session.supervisor_id,
            kind=session.kind.value,  # type: ignore[arg-type]
            status=session.status.value,
            starts_at=local(session.starts_at),
            ends_at=local(ends_at(session)),
            duration_minutes=session.duration_minutes,
            actual_minutes=session.actual_minutes,
            remote=session.remote,
            billable=session.billable,
            late_cancellation=session.late_cancellation,
            cancelled_at=local_or_none(session.cancelled_at),
            created_at=local(session.created_at),
            updated_at=local(session.updated_at),
        )


@dataclass
class SessionPage:
    data: list[SessionOut]
    next: str | None


@dataclass
class SessionIn:
    """A meeting to plan, checked as on the planning page: within the agreement and its
    quota, not over another meeting of the supervisor, on a working day within working hours
    unless ``anyway``."""

    starts_at: datetime  # with its offset, in whole minutes
    kind: MeetingKindCode = MeetingKind.SESSION.value  # type: ignore[assignment]
    duration_minutes: int | None = None  # the agreement's length when not given
    remote: bool = False
    address: str = ""
    meeting_url: str = ""
    supervisor_id: uuid.UUID | None = None  # one of the agreement's supervisors
    anyway: bool = False  # plan it on a weekend, a holiday or outside working hours


@dataclass
class SessionPatch:
    """A planned meeting moved: the fields given; the others stay."""

    starts_at: datetime | None = None
    duration_minutes: int | None = None
    remote: bool | None = None
    address: str | None = None
    meeting_url: str | None = None
    anyway: bool = False


@dataclass
class SessionCancellation:
    by: Literal["client", "supervisor"]
    cancelled_at: datetime | None = None  # when the client cancelled; now when not given


@dataclass
class SessionHeld:
    actual_minutes: int | None = None  # how long it lasted; its planned length when not given


# --- invoices -------------------------------------------------------------------------------


@dataclass
class InvoiceOut:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str  # invoice or credit_note
    status: str  # draft or issued
    number: int | None
    reference: str
    issued_on: date | None
    due_on: date | None
    period_start: date | None
    period_end: date | None
    net_cents: int
    vat_cents: int
    gross_cents: int
    credited_id: uuid.UUID | None
    created_at: datetime
    currency: str = field(default="EUR")

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            id=invoice.id,
            org_id=invoice.org_id,
            kind=invoice.kind.value,
            status=invoice.status.value,
            number=invoice.number,
            reference=invoice.reference,
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            net_cents=invoice.net_cents,
            vat_cents=invoice.vat_cents,
            gross_cents=invoice.gross_cents,
            credited_id=invoice.credited_id,
            created_at=local(invoice.created_at),
        )


@dataclass
class InvoicePage:
    data: list[InvoiceOut]
    next: str | None


def whole_minutes_local(value: datetime, name: str, errors: dict[str, str]) -> tuple[str, str]:
    """A time from the API as the planning forms take it: the Finnish date and ``HH:MM``."""
    if value.tzinfo is None:
        errors[name] = _("Give the time with its offset, e.g. 2026-12-07T10:00:00+02:00.")
        return "", ""
    if value.second or value.microsecond:
        errors[name] = _("Give the time in whole minutes.")
        return "", ""
    moment = local(value)
    return moment.date().isoformat(), moment.strftime("%H:%M")
