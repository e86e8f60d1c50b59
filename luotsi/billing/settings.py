"""The firm's billing settings: who invoices, where the money goes, how invoices are made.

Owners and admins (``can_manage_billing``) edit the profile on one form; every field is checked
and nothing is saved while any is wrong. The number series may be started anywhere from
:data:`~luotsi.billing.references.MIN_NUMBER` until the first invoice is issued; after that the
counter belongs to issuing alone (an unbroken series). The logo printed on invoices is stored
re-encoded as PNG (:mod:`luotsi.platform.images`). Changes are audited as
``settings.changed`` on the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import bank
from luotsi.billing.models import BillingProfile, Invoice, InvoiceStatus
from luotsi.billing.profile import get_profile
from luotsi.billing.references import MIN_NUMBER, ReferenceType
from luotsi.platform import audit, clock, i18n, images, permissions, storage
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import check_email
from luotsi.platform.members import record_member_action
from luotsi.platform.phones import format_phone, normalise_phone
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import Membership, check_business_id
from luotsi.tenants.agreements.drafts import parse_hundredths
from luotsi.tenants.clients.billing_details import INVOICE_LANGUAGES

PROFILE_OBJECT = "billing_profile"
MAX_NUMBER = 999_999_999  # the counter is a 32-bit column; nine digits last any firm
MIN_TERM_DAYS, MAX_TERM_DAYS = 1, 120
MAX_REMINDER_FEE_CENTS = 4000  # what a business-to-business reminder may cost at most
POSTAL_CODE = re.compile(r"[0-9]{5}")
MAX_EURO_CENTS = 10**8

REFERENCE_TYPES = (
    (ReferenceType.NATIONAL, N_("Finnish reference number")),
    (ReferenceType.RF, N_("International RF creditor reference")),
)

LOGO_SIZE = 800  # longest side of the stored logo, in pixels (sharp at print size)
MAX_LOGO_BYTES = 2 * 1024 * 1024
LOGO_RULES = images.ImageRules(
    field="logo",
    output="PNG",
    max_side=LOGO_SIZE,
    max_bytes=MAX_LOGO_BYTES,
    missing=N_("Choose a logo to upload."),
    too_large=N_("The logo is too large; the limit is 2 MB."),
)


@dataclass
class ProfileInput:
    """The settings form as submitted; :func:`update_profile` checks every field."""

    legal_name: str = ""
    business_id: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    email: str = ""
    phone: str = ""
    iban: str = ""
    bic: str = ""
    next_number: str = ""
    payment_term_days: str = ""
    penalty_interest: str = ""
    reminder_fee: str = ""  # euros: "5", "5,00", "5.50"
    language: str = "fi"
    reference_type: str = ReferenceType.NATIONAL.value
    vat_exemption_text: str = ""
    full_names_on_lines: bool = False

    @classmethod
    def of(cls, profile: BillingProfile) -> ProfileInput:
        """The saved profile as form values."""
        return cls(
            legal_name=profile.legal_name,
            business_id=profile.business_id,
            street=profile.street,
            postal_code=profile.postal_code,
            city=profile.city,
            email=profile.email,
            phone=format_phone(profile.phone),
            iban=profile.iban,
            bic=profile.bic,
            next_number=str(profile.next_number),
            payment_term_days=str(profile.payment_term_days),
            penalty_interest=profile.penalty_interest,
            reminder_fee=euro_text(profile.reminder_fee_cents),
            language=profile.language,
            reference_type=profile.reference_type.value,
            vat_exemption_text=profile.vat_exemption_text,
            full_names_on_lines=profile.full_names_on_lines,
        )


def reference_type_choices() -> list[tuple[ReferenceType, str]]:
    """The kinds of payment reference, named in the reader's language."""
    return [(kind, _(label)) for kind, label in REFERENCE_TYPES]


def euro_text(cents: int) -> str:
    """A form value in the reader's way: 500 -> "5,00" (fi, sv) or "5.00" (en)."""
    separator = "," if i18n.current_language() in ("fi", "sv") else "."
    whole, part = divmod(cents, 100)
    return f"{whole}{separator}{part:02d}"


def parse_euros(text: str) -> int | None:
    """ "5,00" -> 500, "5.5" -> 550, "5 €" -> 500, "12" -> 1200; None if not an amount (or a
    million euros or more, beyond any fee or payment here)."""
    cents = parse_hundredths(text)
    return None if cents is None or cents >= MAX_EURO_CENTS else cents


async def series_started(db: AsyncSession) -> bool:
    """Whether the firm has issued an invoice or credit note (the series start is then fixed)."""
    issued = select(Invoice.id).where(Invoice.status == InvoiceStatus.ISSUED).limit(1)
    return await db.scalar(issued) is not None


def _text(errors: dict[str, str], name: str, value: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        errors[name] = i18n.too_long(limit)
    return value


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _check_identity(errors: dict[str, str], data: ProfileInput) -> dict[str, Any]:
    """Who invoices: the legal name, business ID, address and contact details."""
    values: dict[str, Any] = {"legal_name": _text(errors, "legal_name", data.legal_name, 200)}
    if not values["legal_name"]:
        errors["legal_name"] = _("Enter the firm's legal name as invoices show it.")
    values["business_id"] = ""
    try:
        values["business_id"] = check_business_id(data.business_id)
    except Invalid as exc:
        errors.update(exc.errors)
    if not values["business_id"]:
        errors.setdefault("business_id", _("Enter the business ID in the form 1234567-8."))
    values["street"] = _text(errors, "street", data.street, 200)
    values["postal_code"] = postal = "".join(data.postal_code.split())
    if postal and not POSTAL_CODE.fullmatch(postal):
        errors["postal_code"] = _("A postal code has five digits, e.g. 05800.")
    values["city"] = _text(errors, "city", data.city, 100)
    values["email"] = values["phone"] = ""
    try:
        if data.email.strip():
            values["email"] = check_email(data.email, "email")
        values["phone"] = normalise_phone(data.phone, "phone")
    except Invalid as exc:
        errors.update(exc.errors)
    return values


def _check_bank(errors: dict[str, str], data: ProfileInput) -> dict[str, Any]:
    """The account: an IBAN (print form) and its bank's BIC (from the IBAN when left empty)."""
    values = {"iban": "", "bic": ""}
    if not data.iban.strip():
        if data.bic.strip():
            errors["iban"] = _("Enter the account's IBAN with the BIC.")
        return values
    try:
        values["iban"] = bank.check_iban(data.iban.strip())
        values["bic"] = bank.check_bic(data.bic, values["iban"])
    except Invalid as exc:
        errors.update(exc.errors)
    return values


def _check_terms(errors: dict[str, str], data: ProfileInput) -> dict[str, Any]:
    """How invoices are made: term, penalty interest, reminder fee, language, references."""
    values: dict[str, Any] = {}
    term = _whole(data.payment_term_days)
    if term is None or not MIN_TERM_DAYS <= term <= MAX_TERM_DAYS:
        errors["payment_term_days"] = _("Enter a payment term from %(low)d to %(high)d days.") % {
            "low": MIN_TERM_DAYS,
            "high": MAX_TERM_DAYS,
        }
    values["payment_term_days"] = term
    values["penalty_interest"] = _text(errors, "penalty_interest", data.penalty_interest, 200)
    if not values["penalty_interest"]:
        errors["penalty_interest"] = _(
            "Enter the penalty interest as invoices state it, e.g. the rate under the Interest Act."
        )
    fee = parse_euros(data.reminder_fee)
    if fee is None or fee > MAX_REMINDER_FEE_CENTS:
        errors["reminder_fee"] = _("Enter the reminder fee in euros, from 0 to 40, e.g. 5,00.")
    values["reminder_fee_cents"] = fee
    if data.language not in INVOICE_LANGUAGES:
        errors["language"] = _("Choose the language of the invoices.")
    values["language"] = data.language
    known = {kind.value: kind for kind, _label in REFERENCE_TYPES}
    if data.reference_type not in known:
        errors["reference_type"] = _("Choose the kind of payment reference.")
    values["reference_type"] = known.get(data.reference_type)
    values["vat_exemption_text"] = _text(errors, "vat_exemption_text", data.vat_exemption_text, 200)
    values["full_names_on_lines"] = data.full_names_on_lines
    return values


def _check_series(
    errors: dict[str, str], data: ProfileInput, profile: BillingProfile, started: bool
) -> dict[str, Any]:
    """The series start, while no invoice has been issued; after that it cannot change."""
    number = _whole(data.next_number)
    if started:
        if number != profile.next_number:
            errors["next_number"] = _(
                "Invoices have been issued: the numbers continue the series and the start can"
                " no longer change."
            )
        return {}
    if number is None or not MIN_NUMBER <= number <= MAX_NUMBER:
        errors["next_number"] = _("Enter the first invoice number, from %(low)d to %(high)d.") % {
            "low": MIN_NUMBER,
            "high": MAX_NUMBER,
        }
    return {"next_number": number}


async def update_profile(
    db: AsyncSession,
    actor: Membership,
    data: ProfileInput,
    *,
    origin: audit.Origin | None = None,
) -> BillingProfile:
    """Check and save the billing settings; :class:`Invalid` names every wrong field.

    Nothing is saved while any field is wrong. The profile row is locked first, so an invoice
    issued meanwhile either comes before (and fixes the series start) or waits for this.
    """
    permissions.require(permissions.can_manage_billing(actor), "billing")
    profile = await get_profile(db)
    await db.scalar(
        select(BillingProfile)
        .where(BillingProfile.id == profile.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    errors: dict[str, str] = {}
    values = {
        **_check_identity(errors, data),
        **_check_bank(errors, data),
        **_check_terms(errors, data),
        **_check_series(errors, data, profile, await series_started(db)),
    }
    if errors:
        raise Invalid(errors)
    for name, value in values.items():
        setattr(profile, name, value)
    await db.flush()
    await record_member_action(
        db,
        actor,
        audit.SETTINGS_CHANGED,
        object_type=PROFILE_OBJECT,
        object_id=profile.id,
        origin=origin,
    )
    return profile


async def get_settings(db: AsyncSession, actor: Membership) -> BillingProfile:
    """The firm's billing profile for the settings page (owners and admins)."""
    permissions.require(permissions.can_manage_billing(actor), "billing")
    return await get_profile(db)


async def set_logo(
    db: AsyncSession, files: FileStore, actor: Membership, data: bytes
) -> BillingProfile:
    """Store ``data`` as the invoices' logo, checked and re-encoded as PNG.

    The new logo is a new file; the one it replaces is deleted once this is committed.
    """
    permissions.require(permissions.can_manage_billing(actor), "billing")
    profile = await get_profile(db)
    logo = await images.reencode_in_thread(data, LOGO_RULES)
    files.delete_after_commit(db, profile.logo_key)
    profile.logo_key = await files.put(db, profile.tenant_id, storage.LOGOS, logo, ".png")
    profile.logo_updated_at = clock.now()
    await db.flush()
    return profile


async def remove_logo(db: AsyncSession, files: FileStore, actor: Membership) -> BillingProfile:
    """Invoices are printed without a logo from now on; its file goes once this is committed."""
    permissions.require(permissions.can_manage_billing(actor), "billing")
    profile = await get_profile(db)
    files.delete_after_commit(db, profile.logo_key)
    profile.logo_key = None
    profile.logo_updated_at = None
    await db.flush()
    return profile


async def logo_png(db: AsyncSession, files: FileStore, actor: Membership) -> bytes:
    """The stored logo (PNG); :class:`NotFound` when the firm has none."""
    permissions.require(permissions.can_manage_billing(actor), "billing")
    profile = await get_profile(db)
    if profile.logo_key is None:
        raise NotFound("logo")
    return await files.get(profile.tenant_id, profile.logo_key)
