"""The owner's side of confidentiality: how long content is kept, and erasure requests.

The retention period (``Tenant.content_retention_months``) is the firm's rule for how long an
agreement's content (notes, assignments and responses, goals, evaluations, the limits of
confidentiality) is kept after the agreement ends; the worker's ``content_retention`` job
(:func:`luotsi.tenants.content.erase_expired_content`) applies it. Shortening the period can
make ended agreements due for erasure at once, so the owner is told how many before the
change (:func:`agreements_due_after_change`).

Erasure requests are decided in :mod:`luotsi.tenants.content.rights`; here are only the
owner's read-outs of them that hold no content (one request, the pending count, who decided).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from luotsi.platform import audit, i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.members import record_member_action
from luotsi.platform.tenancy import (
    DEFAULT_RETENTION_MONTHS,
    RETENTION_MONTHS_CHOICES,
    TENANT_OBJECT,
    Membership,
    Tenant,
)
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.content import ErasureRequest, ErasureStatus
from luotsi.tenants.content.lifecycle import retention_cutoff


def retention_label(months: int) -> str:
    """ "6 months", "1 year", "2 years (recommended)"."""
    if months % 12:
        text = i18n.ngettext("%(num)d month", "%(num)d months", months) % {"num": months}
    else:
        years = months // 12
        text = i18n.ngettext("%(num)d year", "%(num)d years", years) % {"num": years}
    if months == DEFAULT_RETENTION_MONTHS:
        return _("%(period)s (recommended)") % {"period": text}
    return text


def retention_choices() -> list[tuple[int, str]]:
    """The periods an owner may pick, shortest first, with their labels."""
    return [(months, retention_label(months)) for months in RETENTION_MONTHS_CHOICES]


def parse_retention_months(raw: str | int) -> int:
    """A submitted period, or :class:`Invalid` when it is not one of the choices."""
    try:
        months = int(raw)
    except (TypeError, ValueError):
        months = -1
    if months not in RETENTION_MONTHS_CHOICES:
        raise Invalid.field("months", _("Choose one of the periods on the list."))
    return months


async def _own_tenant(db: AsyncSession, actor: Membership) -> Tenant:
    tenant = await db.scalar(select(Tenant).where(Tenant.id == actor.tenant_id))
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def agreements_due_after_change(
    db: AsyncSession, actor: Membership, months: int, now: datetime
) -> int:
    """How many agreements' content a shorter period would make due for erasure at once.

    Counts ended agreements whose content is still kept and that ended before the cutoff of
    ``months`` (the retention job's own rule). Zero when ``months`` is not shorter than the
    current period: keeping content longer never erases anything.
    """
    if not permissions.can_manage_retention(actor):
        raise Forbidden("retention")
    tenant = await _own_tenant(db, actor)
    if months >= tenant.content_retention_months:
        return 0
    cutoff = retention_cutoff(months, now)
    count = await db.scalar(
        select(func.count())
        .select_from(Agreement)
        .where(
            Agreement.status == AgreementStatus.ENDED,
            Agreement.content_erased_at.is_(None),
            Agreement.status_changed_at < cutoff,
        )
    )
    return int(count or 0)


async def change_retention(
    db: AsyncSession,
    actor: Membership,
    months: int,
    *,
    origin: audit.Origin | None = None,
) -> Tenant:
    """Set how long the firm keeps content after an agreement ends (the owner only).

    ``months`` must be one of :data:`~luotsi.platform.tenancy.RETENTION_MONTHS_CHOICES`. A real
    change is audited (``settings.changed`` on the tenant); the next run of the retention job
    applies it. Confirming a shortening is the caller's step (see
    :func:`agreements_due_after_change`).
    """
    if not permissions.can_manage_retention(actor):
        raise Forbidden("retention")
    months = parse_retention_months(months)
    tenant = await _own_tenant(db, actor)
    if tenant.content_retention_months == months:
        return tenant
    tenant.content_retention_months = months
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


# --- erasure requests, as the owner sees them -------------------------------------------------


async def get_erasure_request(
    db: AsyncSession, actor: Membership, request_id: uuid.UUID
) -> ErasureRequest:
    """One of the firm's erasure requests, waiting or decided, for the owner."""
    if not permissions.can_manage_retention(actor):
        raise Forbidden("erasure")
    request = await db.scalar(select(ErasureRequest).where(ErasureRequest.id == request_id))
    if request is None:
        raise NotFound("erasure_request")
    return request


def pending_erasure_requests_count(actor: Membership) -> ScalarSelect[int]:
    """How many erasure requests wait for the owner (for the dashboard), as a scalar subquery
    for a statement that counts several things at once."""
    if not permissions.can_manage_retention(actor):
        raise Forbidden("erasure")
    return (
        select(func.count())
        .select_from(ErasureRequest)
        .where(ErasureRequest.status == ErasureStatus.PENDING)
        .scalar_subquery()
    )


async def count_pending_erasure_requests(db: AsyncSession, actor: Membership) -> int:
    """:func:`pending_erasure_requests_count` on its own."""
    return int(await db.scalar(select(pending_erasure_requests_count(actor))) or 0)


async def decider_names(
    db: AsyncSession, requests: Iterable[ErasureRequest]
) -> dict[uuid.UUID, str]:
    """The names of the people who decided ``requests``, by user id."""
    ids = {r.decided_by_user_id for r in requests if r.decided_by_user_id is not None}
    if not ids:
        return {}
    rows = await db.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows.tuples()}
