"""The firm's own details, its name and business ID: typed at signup, edited by the owner."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import audit, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.members import record_member_action
from luotsi.platform.tenancy import TENANT_OBJECT, Membership, Tenant, check_business_id

MAX_FIRM_NAME = 200


@dataclass
class FirmDetails:
    firm_name: str = ""
    business_id: str = ""


def check_firm_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise Invalid.field("firm_name", _("Enter the firm's name."))
    if len(name) > MAX_FIRM_NAME:
        raise Invalid.field("firm_name", i18n.too_long(MAX_FIRM_NAME))
    return name


def clean_business_id(value: str) -> str:
    """The firm's business ID is required; otherwise checked as every business ID is."""
    business_id = check_business_id(value)
    if not business_id:
        raise Invalid.field("business_id", _("Enter the firm's business ID."))
    return business_id


async def change_firm_details(
    db: AsyncSession, actor: Membership, data: FirmDetails, *, origin: audit.Origin | None = None
) -> Tenant:
    """Rename the firm or correct its business ID (the owner only); a real change is audited
    (``settings.changed`` on the tenant). The address (``/t/slug``) stays: links and calendar
    feeds already given out keep working."""
    permissions.require(permissions.can_manage_firm_settings(actor), "firm details")
    errors: dict[str, str] = {}
    name = business_id = ""
    try:
        name = check_firm_name(data.firm_name)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        business_id = clean_business_id(data.business_id)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    tenant = await db.scalar(select(Tenant).where(Tenant.id == actor.tenant_id))
    if tenant is None:
        raise NotFound("tenant")
    if (tenant.name, tenant.business_id) == (name, business_id):
        return tenant
    tenant.name, tenant.business_id = name, business_id
    await db.flush()
    await record_member_action(
        db,
        actor,
        audit.SETTINGS_CHANGED,
        object_type=TENANT_OBJECT,
        object_id=tenant.id,
        origin=origin,
    )
    return tenant
