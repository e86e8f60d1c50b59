"""Drafting an agreement: the form's values, their parsing and checks, and saving a draft.

Only a draft can be edited; once sent for acceptance its terms stay as the parties see them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import N_, parse_date
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    DEFAULT_CADENCE_WEEKS,
    DEFAULT_CANCELLATION_HOURS,
    DEFAULT_REVIEW_MONTHS,
    MAX_SESSION_MINUTES,
    MIN_SESSION_MINUTES,
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
    EventKind,
    Pricing,
)
from luotsi.tenants.agreements.service import (
    MAX_PRICE_CENTS,
    MAX_QUOTA,
    MAX_TITLE,
    default_end_date,
    get_agreement,
    max_end_date,
    people_choices,
    record_event,
    staff_choices,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.kinds import SupervisionKind


@dataclass
class AgreementInput:
    """An agreement as typed into the form; :func:`check_agreement` validates every part."""

    kind: str = SupervisionKind.INDIVIDUAL.value
    org_id: str = ""
    title: str = ""
    supervisor_ids: list[str] = field(default_factory=list)
    supervisee_ids: list[str] = field(default_factory=list)
    manager_id: str = ""
    hr_contact_id: str = ""
    start_date: str = ""
    end_date: str = ""  # empty: one year from the start
    session_minutes: str = "60"
    cadence_weeks: str = str(DEFAULT_CADENCE_WEEKS)
    session_quota: str = ""
    open_ended: bool = False
    pricing: str = Pricing.PER_SESSION.value  # the price is per session or for the process
    price: str = ""  # euros: "120", "120,50", "1 234,50"
    vat_rate: str = "25,5"  # per cent
    cancellation_hours: str = str(DEFAULT_CANCELLATION_HOURS)
    review_interval_months: str = str(DEFAULT_REVIEW_MONTHS)
    reminders_enabled: bool = True

    @classmethod
    def of(cls, agreement: Agreement) -> AgreementInput:
        """The saved agreement as form values."""
        return cls(
            kind=agreement.kind.value,
            org_id=str(agreement.org_id),
            title=agreement.title,
            supervisor_ids=[str(s.membership_id) for s in agreement.supervisors],
            supervisee_ids=[str(s.person_id) for s in agreement.supervisees],
            manager_id=str(agreement.manager_id or ""),
            hr_contact_id=str(agreement.hr_contact_id or ""),
            start_date=agreement.start_date.isoformat(),
            end_date=agreement.end_date.isoformat(),
            session_minutes=str(agreement.session_minutes),
            cadence_weeks=str(agreement.cadence_weeks),
            session_quota=str(agreement.session_quota or ""),
            open_ended=agreement.session_quota is None,
            pricing=agreement.pricing.value,
            price=decimal_text(agreement.price_cents, cents=True),
            vat_rate=decimal_text(agreement.vat_basis_points, cents=False),
            cancellation_hours=str(agreement.cancellation_hours),
            review_interval_months=str(agreement.review_interval_months),
            reminders_enabled=agreement.reminders_enabled,
        )


def decimal_text(hundredths: int, *, cents: bool) -> str:
    """A form value: 12050 -> "120,50" (``cents``), 2550 -> "25,5", 12000 -> "120".

    The decimal comma in Finnish and Swedish, a point in English; both are read back.
    """
    whole, part = divmod(hundredths, 100)
    separator = "," if i18n.current_language() in ("fi", "sv") else "."
    if part == 0:
        return str(whole)
    digits = f"{part:02d}" if cents else f"{part:02d}".rstrip("0")
    return f"{whole}{separator}{digits}"


_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_HUNDREDTHS = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


def parse_hundredths(text: str) -> int | None:
    """ "1 234,50" -> 123450; "120" -> 12000; "25,5" -> 2550. None if it is not a number."""
    match = _HUNDREDTHS.match(_SPACES.sub("", text).removesuffix("€").removesuffix("%"))
    if not match:
        return None
    whole, part = match.groups()
    return int(whole) * 100 + int((part or "0").ljust(2, "0"))


def _int_in(errors: dict[str, str], name: str, text: str, low: int, high: int, message: str) -> int:
    text = text.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors[name] = message
        return low
    return int(text)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _uuids(values: list[str]) -> set[uuid.UUID] | None:
    parsed = {_uuid(v) for v in values if v.strip()}
    return None if None in parsed else {p for p in parsed if p is not None}


@dataclass
class _Terms:
    """Checked values, ready to be written to an agreement."""

    columns: dict[str, Any]  # Agreement attributes
    supervisor_ids: list[uuid.UUID]
    supervisee_ids: list[uuid.UUID]


# Whole-number terms: (field, lowest, highest, message).
_WHOLE_NUMBERS = (
    (
        "session_minutes",
        MIN_SESSION_MINUTES,
        MAX_SESSION_MINUTES,
        N_("A session lasts 45 to 90 minutes."),
    ),
    ("cadence_weeks", 1, 12, N_("Enter how many weeks apart the sessions are, 1 to 12.")),
    ("cancellation_hours", 0, 168, N_("Enter the hours before a session, 0 to 168.")),
    ("review_interval_months", 1, 12, N_("Enter the review interval in months, 1 to 12.")),
)


async def check_agreement(db: AsyncSession, data: AgreementInput) -> _Terms:
    """Validate a drafted agreement; raises :class:`Invalid` with a message per field."""
    errors: dict[str, str] = {}
    columns: dict[str, Any] = {"reminders_enabled": data.reminders_enabled}
    known_kinds = {k.value for k in SupervisionKind}
    kind = SupervisionKind(data.kind) if data.kind in known_kinds else None
    if kind is None:
        errors["kind"] = _("Choose the form of supervision.")
    columns["kind"] = kind
    columns["title"] = data.title.strip()
    if len(columns["title"]) > MAX_TITLE:
        errors["title"] = i18n.too_long(MAX_TITLE)
    supervisor_ids, supervisee_ids = await _check_parties(db, errors, columns, data, kind)
    _check_term(errors, columns, data)
    for name, low, high, message in _WHOLE_NUMBERS:
        columns[name] = _int_in(errors, name, getattr(data, name), low, high, _(message))
    columns["session_quota"] = None
    if not data.open_ended:
        columns["session_quota"] = _int_in(
            errors,
            "session_quota",
            data.session_quota,
            1,
            MAX_QUOTA,
            _("Enter the number of sessions (1 to %(n)d) or choose open-ended.") % {"n": MAX_QUOTA},
        )
    known_pricing = {p.value: p for p in Pricing}
    columns["pricing"] = known_pricing.get(data.pricing)
    if columns["pricing"] is None:
        errors["pricing"] = _("Choose whether the price is per session or for the process.")
    columns["price_cents"] = price = parse_hundredths(data.price)
    if price is None or price > MAX_PRICE_CENTS:
        errors["price"] = _("Enter the price in euros, e.g. 120 or 120,50.")
    columns["vat_basis_points"] = vat = parse_hundredths(data.vat_rate)
    if vat is None or vat >= 10_000:
        errors["vat_rate"] = _("Enter the VAT rate in per cent, e.g. 25,5 or 0.")
    if errors:
        raise Invalid(errors)
    return _Terms(columns, sorted(supervisor_ids), sorted(supervisee_ids))


async def _check_parties(
    db: AsyncSession,
    errors: dict[str, str],
    columns: dict[str, Any],
    data: AgreementInput,
    kind: SupervisionKind | None,
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The organisation, supervisors and the organisation's people in their roles."""
    org_id = _uuid(data.org_id)
    org = None
    if org_id is not None:
        org = await db.scalar(
            select(ClientOrg).where(ClientOrg.id == org_id, ClientOrg.archived_at.is_(None))
        )
    if org is None:
        errors["org_id"] = _("Choose the client organisation.")
    columns["org_id"] = org.id if org else None

    supervisor_ids = _uuids(data.supervisor_ids)
    staff = {m for m, _n in await staff_choices(db)} if supervisor_ids else set()
    if not supervisor_ids or not supervisor_ids <= staff:
        errors["supervisor_ids"] = _("Choose at least one supervisor from the firm's staff.")

    people = await people_choices(db, org.id if org else None)
    supervisee_ids = _uuids(data.supervisee_ids)
    allowed = {p.id for p in people[PersonRole.SUPERVISEE]}
    if org is not None:
        if supervisee_ids is None or not supervisee_ids <= allowed:
            errors["supervisee_ids"] = _("Choose supervisees among the organisation's people.")
        elif kind == SupervisionKind.INDIVIDUAL and len(supervisee_ids) != 1:
            errors["supervisee_ids"] = _("Individual supervision has exactly one supervisee.")
        elif not supervisee_ids:
            errors["supervisee_ids"] = _("Choose at least one supervisee.")
    columns["manager_id"] = _person_choice(
        errors,
        "manager_id",
        data.manager_id,
        people[PersonRole.MANAGER],
        _("Choose the manager among the organisation's managers."),
    )
    if org is not None and columns["manager_id"] is None and kind == SupervisionKind.INDIVIDUAL:
        errors.setdefault("manager_id", _("Individual supervision needs the supervisee's manager."))
    columns["hr_contact_id"] = _person_choice(
        errors,
        "hr_contact_id",
        data.hr_contact_id,
        people[PersonRole.HR_CONTACT],
        _("Choose the HR contact among the organisation's HR contacts."),
    )
    return supervisor_ids or set(), supervisee_ids or set()


def _check_term(errors: dict[str, str], columns: dict[str, Any], data: AgreementInput) -> None:
    """Start and end date: the end after the start, one year by default, three at most."""
    start = parse_date(data.start_date)
    end = parse_date(data.end_date) if data.end_date.strip() else None
    if start is None:
        errors["start_date"] = _("Enter the start date, e.g. 1.9.2026.")
    if data.end_date.strip() and end is None:
        errors["end_date"] = _("Enter the end date, e.g. 31.8.2027, or leave it empty.")
    if start is not None:
        end = end or default_end_date(start)
        if end <= start:
            errors["end_date"] = _("The end date must be after the start date.")
        elif end > max_end_date(start):
            errors["end_date"] = _(
                "An agreement runs at most three years: end it by %(date)s at the latest."
            ) % {"date": i18n.format_date(max_end_date(start))}
    columns["start_date"], columns["end_date"] = start, end


def _person_choice(
    errors: dict[str, str], name: str, text: str, allowed: list[ClientPerson], message: str
) -> uuid.UUID | None:
    if not text.strip():
        return None
    chosen = _uuid(text)
    if chosen is None or chosen not in {p.id for p in allowed}:
        errors[name] = message
        return None
    return chosen


def _apply(agreement: Agreement, terms: _Terms) -> None:
    for name, value in terms.columns.items():
        setattr(agreement, name, value)
    # Keep the links that stay: a flush inserts before it deletes, and a link is unique.
    kept_staff = [s for s in agreement.supervisors if s.membership_id in terms.supervisor_ids]
    have = {s.membership_id for s in kept_staff}
    agreement.supervisors = kept_staff + [
        AgreementSupervisor(membership_id=m) for m in terms.supervisor_ids if m not in have
    ]
    kept_people = [s for s in agreement.supervisees if s.person_id in terms.supervisee_ids]
    have = {s.person_id for s in kept_people}
    agreement.supervisees = kept_people + [
        AgreementSupervisee(person_id=p) for p in terms.supervisee_ids if p not in have
    ]


async def _reloaded(db: AsyncSession, agreement: Agreement) -> Agreement:
    """The flushed ``agreement`` as stored, with its organisation and parties for the caller."""
    query = (
        select(Agreement)
        .where(Agreement.id == agreement.id)
        .options(*AGREEMENT_WHOLE)
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(query)).unique().one()


async def create_agreement(db: AsyncSession, actor: Membership, data: AgreementInput) -> Agreement:
    """Draft a new agreement (status draft)."""
    require(permissions.can_manage_agreements(actor), "agreements")
    terms = await check_agreement(db, data)
    agreement = Agreement(status=AgreementStatus.DRAFT, status_changed_by=actor.user_id)
    agreement.supervisors = []
    agreement.supervisees = []
    _apply(agreement, terms)
    db.add(agreement)
    await db.flush()
    record_event(db, agreement, EventKind.CREATED, actor=actor)
    await db.flush()
    return await _reloaded(db, agreement)


def not_editable_message() -> str:
    return _(
        "Only a draft can be edited. The terms of an agreement sent for acceptance or in force"
        " stay as accepted; its end date changes only through a review of continuation."
    )


async def update_draft(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, data: AgreementInput
) -> Agreement:
    """Change a draft's terms. Any other agreement refuses (see :func:`not_editable_message`)."""
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.DRAFT:
        raise Invalid.field("status", not_editable_message())
    terms = await check_agreement(db, data)
    _apply(agreement, terms)
    record_event(db, agreement, EventKind.EDITED, actor=actor)
    await db.flush()
    return await _reloaded(db, agreement)
