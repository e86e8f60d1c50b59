"""The firm's billing profile: who invoices, where the money goes, how invoices are made.

There is one profile per firm, made on first use from what signup knows (the firm's name and
business ID). Invoicing (runs and issuing) is refused until :func:`missing_settings` is empty.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.models import BillingProfile
from luotsi.platform.db import TENANT_KEY
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.tenancy import Tenant

# What an invoice cannot be printed without, by the label of its field.
REQUIRED = (
    ("legal_name", N_("Legal name")),
    ("business_id", N_("Business ID")),
    ("street", N_("Street address")),
    ("postal_code", N_("Postal code")),
    ("city", N_("City")),
    ("iban", N_("IBAN")),
    ("bic", N_("BIC")),
)


async def get_profile(db: AsyncSession) -> BillingProfile:
    """The firm's billing profile, made from the firm's signup details on first use."""
    profile = await db.scalar(select(BillingProfile))
    if profile is None:
        tenant = await db.get_one(Tenant, db.info[TENANT_KEY])
        profile = BillingProfile(legal_name=tenant.name, business_id=tenant.business_id)
        db.add(profile)
        await db.flush()
    return profile


async def defaults_for_new_orgs(db: AsyncSession) -> dict[str, str]:
    """A new client organisation's payment term and invoice language, from the profile."""
    profile = await db.scalar(select(BillingProfile))
    if profile is None:
        return {}
    return {
        "payment_term_days": str(profile.payment_term_days),
        "invoice_language": profile.language,
    }


def missing_settings(profile: BillingProfile) -> list[str]:
    """The translated labels of the settings an invoice still needs, in form order."""
    return [_(label) for name, label in REQUIRED if not getattr(profile, name)]


async def ready_profile(db: AsyncSession) -> BillingProfile:
    """The profile, or :class:`Invalid` (field ``settings``) naming what is still missing."""
    profile = await get_profile(db)
    missing = missing_settings(profile)
    if missing:
        raise Invalid.field(
            "settings",
            _("Complete the billing settings before invoicing: %(missing)s.")
            % {"missing": ", ".join(missing)},
        )
    return profile
