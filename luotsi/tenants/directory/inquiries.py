"""Inquiries from the public directory: a prospective client asks the firm for supervision.

A visitor sends the form on the firm page or a supervisor's page; the firm sees it in its
inbox (owners and admins all of it, a supervisor what was asked of them or assigned to them),
moves it through its statuses and assigns it to one of its staff.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, check_email
from luotsi.platform.mail import render_email
from luotsi.platform.notifications import NotificationKind, notify, words_of
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page, paginate
from luotsi.platform.phones import normalise_phone
from luotsi.platform.ratelimit import RateLimits
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role, Tenant, active_member
from luotsi.tenants.directory.models import (
    Inquiry,
    InquiryStatus,
    StaffProfile,
)
from luotsi.tenants.directory.regions import places
from luotsi.tenants.directory.staff import get_public_profile
from luotsi.tenants.kinds import SupervisionKind

# --- spam protection ------------------------------------------------------------------------
# No third parties: a hidden field people leave empty (checked by the web layer), a signed
# time stamp that proves the form was open for a few seconds, and a limit per sender address.

MIN_FILL_TIME = timedelta(seconds=3)
MAX_FORM_AGE = timedelta(days=1)
RATE_BUCKET = "inquiry"
RATE_LIMIT = 5  # stored inquiries per sender address and window, across all firms
RATE_WINDOW = timedelta(hours=1)
_TOKEN_PURPOSE = b"luotsi-inquiry-form:"


def _sign(secret: str, stamp: str) -> str:
    return hmac.new(secret.encode(), _TOKEN_PURPOSE + stamp.encode(), hashlib.sha256).hexdigest()


def issue_form_token(secret: str, now: datetime) -> str:
    """A signed time stamp for a new inquiry form: when it was handed out."""
    stamp = str(int(now.timestamp()))
    return f"{stamp}.{_sign(secret, stamp)}"


def check_form_token(secret: str, token: str, now: datetime) -> None:
    """Refuse a form sent without a genuine token, too fast (a bot) or after a day."""
    stamp, _dot, signature = token.strip().partition(".")
    expected = _sign(secret, stamp)
    if not (stamp.isdigit() and len(stamp) <= 10) or not hmac.compare_digest(
        signature.encode(), expected.encode()
    ):
        raise Invalid.field("form_token", _("The form could not be checked. Please send it again."))
    age = now - datetime.fromtimestamp(int(stamp), UTC)
    if age < MIN_FILL_TIME:
        raise Invalid.field(
            "form_token",
            _("The form was sent very quickly. Check your details and send it again."),
        )
    if age > MAX_FORM_AGE:
        raise Invalid.field(
            "form_token", _("The form was open for a long time. Please send it again.")
        )


# --- receiving an inquiry -------------------------------------------------------------------

MAX_MESSAGE = 5000


@dataclass
class InquiryInput:
    """An inquiry as submitted on a public page; :func:`submit_inquiry` validates every part."""

    organisation: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    municipality: str = ""  # a name ("Hyvinkää", "Hyvinge") or a suggestion's label
    kind: str = ""  # a SupervisionKind value, or empty when the sender is not sure
    message: str = ""
    consent: str = ""  # non-empty when the box is ticked
    profile: str = ""  # the id of the supervisor whose page the form was on


async def public_profile_or_none(db: AsyncSession, profile_id: str) -> StaffProfile | None:
    """The visible supervisor named by a form's hidden field; anything else is ignored."""
    try:
        return await get_public_profile(db, uuid.UUID(profile_id.strip()))
    except (ValueError, NotFound):
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_inquiry(data: InquiryInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, limit, missing in (
        ("organisation", 200, _("Enter the name of your organisation.")),
        ("name", 120, _("Enter your name.")),
    ):
        value = _one_line(getattr(data, name))
        if not value:
            errors[name] = missing
        elif len(value) > limit:
            errors[name] = i18n.too_long(limit)
        clean[name] = value
    for name, check in (("email", check_email), ("phone", normalise_phone)):
        try:
            clean[name] = check(getattr(data, name), name)
        except Invalid as exc:
            errors.update(exc.errors)
    if not data.email.strip():
        errors["email"] = _("Enter your e-mail address so that we can answer.")
    place = places().resolve(data.municipality) if data.municipality.strip() else None
    if not data.municipality.strip():
        errors["municipality"] = _("Enter the municipality where the supervision would be.")
    elif place is None or place.kind != "municipality":
        errors["municipality"] = _("Choose a municipality from the list, e.g. Hyvinkää.")
    else:
        clean["municipality_code"] = place.code
    clean["kind"] = None
    if data.kind.strip():
        try:
            clean["kind"] = SupervisionKind(data.kind.strip())
        except ValueError:
            errors["kind"] = _("Choose a form of supervision from the list.")
    message = data.message.strip()
    if not message:
        errors["message"] = _("Tell us briefly what you are looking for.")
    elif len(message) > MAX_MESSAGE:
        errors["message"] = i18n.too_long(MAX_MESSAGE)
    clean["message"] = message
    if not data.consent.strip():
        errors["consent"] = _("Tick the box so that we may keep your details to answer you.")
    if errors:
        raise Invalid(errors)
    return clean


async def submit_inquiry(
    db: AsyncSession,
    limits: RateLimits,
    tenant: Tenant,
    data: InquiryInput,
    *,
    language: str,
    sender_ip: str,
    base_url: str,
) -> Inquiry:
    """Receive an inquiry sent on ``tenant``'s public pages.

    Validates the input, counts it against the sender's address (:class:`RateLimited` when
    full), stores it and queues the notice to the firm (the supervisor whose page it came from,
    else the owners and admins) and a confirmation to the sender in ``language``.
    """
    clean = _check_inquiry(data)
    profile = await public_profile_or_none(db, data.profile)
    await limits.hit(db, RATE_BUCKET, sender_ip, RATE_LIMIT, RATE_WINDOW)
    inquiry = Inquiry(
        **clean,
        language=language if language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE,
        consent_at=clock.now(),
        status=InquiryStatus.NEW,
        requested_profile_id=profile.id if profile else None,
    )
    db.add(inquiry)
    await db.flush()
    link = f"{base_url}/t/{tenant.slug}/inquiries/{inquiry.id}"
    supervisor = profile.display_name if profile else ""

    def notice(_member: Membership, user: User) -> dict[str, Any]:
        return _render(
            "inquiry_notice",
            user.email,
            user.locale,
            tenant,
            inquiry,
            link=link,
            supervisor=supervisor,
        )

    await notify(
        db,
        tenant,
        await _notice_recipients(db, profile),
        NotificationKind.INQUIRY,
        f"inquiries/{inquiry.id}",
        words_of(name=inquiry.name, organisation=inquiry.organisation),
        base_url=base_url,
        email=notice,
    )
    enqueue_email(
        db,
        _render(
            "inquiry_confirmation",
            inquiry.email,
            inquiry.language,
            tenant,
            inquiry,
            link=f"{base_url}/f/{tenant.slug}/",
            supervisor=profile.display_name if profile else "",
        ),
        tenant_id=tenant.id,
    )
    await db.flush()
    return inquiry


async def _notice_recipients(db: AsyncSession, profile: StaffProfile | None) -> list[uuid.UUID]:
    """The supervisor asked for, else (or if their account is closed) owners and admins."""
    if profile is not None and profile.membership.user.is_active:
        return [profile.membership.id]
    rows = await db.scalars(
        select(Membership.id).where(Membership.role.in_((Role.OWNER, Role.ADMIN)), active_member())
    )
    return list(rows)


def _render(
    template: str, to: str, language: str, tenant: Tenant, inquiry: Inquiry, **extra: Any
) -> dict[str, Any]:
    """An inquiry e-mail; place and kind are named in the recipient's language.

    The sender's free text never goes into an e-mail: the confirmation could otherwise carry
    anyone's words to any address, and the notice points to the workspace instead.
    """
    with i18n.language(language):
        municipality = (
            places().name(f"m{inquiry.municipality_code}") if inquiry.municipality_code else ""
        )
        kind = inquiry.kind.label if inquiry.kind else ""
    return render_email(
        template,
        to,
        language,
        firm=tenant.name,
        organisation=inquiry.organisation,
        name=inquiry.name,
        municipality=municipality,
        kind=kind,
        **extra,
    )


# --- the firm's inbox -----------------------------------------------------------------------

PER_PAGE = 20


def _visible(actor: Membership) -> list[ColumnElement[bool]]:
    """Conditions for the inquiries ``actor`` may see: all, or their own as a supervisor."""
    if not permissions.can_view_inquiries(actor):
        raise Forbidden("inquiries")
    if permissions.can_manage_inquiries(actor):
        return []
    own_profiles = select(StaffProfile.id).where(StaffProfile.membership_id == actor.id)
    return [
        or_(
            Inquiry.assigned_membership_id == actor.id,
            Inquiry.requested_profile_id.in_(own_profiles),
        )
    ]


async def list_inquiries(
    db: AsyncSession, actor: Membership, status: str = "", page: int = 1
) -> Page[Inquiry]:
    """The inquiries ``actor`` may see, newest first; ``status`` narrows (empty: all)."""
    conditions = _visible(actor)
    if status in {s.value for s in InquiryStatus}:
        conditions.append(Inquiry.status == InquiryStatus(status))
    order = [Inquiry.created_at.desc(), Inquiry.id]
    return await paginate(db, Inquiry, conditions, order, page, PER_PAGE)


def new_inquiries_count(actor: Membership) -> ScalarSelect[int]:
    """How many inquiries ``actor`` may see are still new (the dashboard's count), as a scalar
    subquery for a statement that counts several things at once."""
    return (
        select(func.count())
        .select_from(Inquiry)
        .where(Inquiry.status == InquiryStatus.NEW, *_visible(actor))
        .scalar_subquery()
    )


async def count_new_inquiries(db: AsyncSession, actor: Membership) -> int:
    """:func:`new_inquiries_count` on its own."""
    return int(await db.scalar(select(new_inquiries_count(actor))) or 0)


async def get_inquiry(db: AsyncSession, actor: Membership, inquiry_id: uuid.UUID) -> Inquiry:
    """One inquiry; not found when it does not exist or ``actor`` may not see it."""
    conditions = _visible(actor)
    inquiry = await db.scalar(select(Inquiry).where(Inquiry.id == inquiry_id, *conditions))
    if inquiry is None:
        raise NotFound("inquiry")
    return inquiry


async def set_inquiry_status(
    db: AsyncSession, actor: Membership, inquiry_id: uuid.UUID, status: str
) -> Inquiry:
    """Move an inquiry along (contacted, became a client, closed); anyone who sees it may."""
    inquiry = await get_inquiry(db, actor, inquiry_id)
    try:
        inquiry.status = InquiryStatus(status)
    except ValueError:
        raise Invalid.field("status", _("Choose a status from the list.")) from None
    await db.flush()
    return inquiry


async def assign_inquiry(
    db: AsyncSession,
    actor: Membership,
    inquiry_id: uuid.UUID,
    assignee: str,
    *,
    base_url: str,
) -> Inquiry:
    """Give an inquiry to one of the firm's staff (empty: to no one) and e-mail them.

    Owners and admins only. The new assignee is told by e-mail unless they assigned it to
    themselves.
    """
    if not permissions.can_manage_inquiries(actor):
        raise Forbidden("assign inquiry")
    inquiry = await get_inquiry(db, actor, inquiry_id)
    if not assignee.strip():
        inquiry.assigned_membership_id = None
        await db.flush()
        return inquiry
    try:
        membership_id = uuid.UUID(assignee.strip())
    except ValueError:
        membership_id = None
    member = await db.scalar(
        select(Membership)
        .where(Membership.id == membership_id, Membership.role.in_(STAFF_ROLES), active_member())
        .options(joinedload(Membership.user))
    )
    if member is None:
        raise Invalid.field("assignee", _("Choose a person from the firm's staff."))
    changed = inquiry.assigned_membership_id != member.id
    inquiry.assigned_membership_id = member.id
    await db.flush()
    if changed and member.id != actor.id and member.user.is_active:
        tenant = await db.get(Tenant, actor.tenant_id)
        assert tenant is not None
        enqueue_email(
            db,
            _render(
                "inquiry_assigned",
                member.user.email,
                member.user.locale,
                tenant,
                inquiry,
                link=f"{base_url}/t/{tenant.slug}/inquiries/{inquiry.id}",
                assigner=actor.user.name,
            ),
            tenant_id=tenant.id,
        )
        await db.flush()
    return inquiry


@dataclass
class StaffNames:
    """Who is who, to show the staff an inquiry points at (see :class:`Inquiry`); those who
    have left the firm keep their names here but are no choice."""

    by_profile: dict[uuid.UUID, str]
    by_membership: dict[uuid.UUID, str]
    current: set[uuid.UUID]  # memberships still in the firm

    def requested(self, inquiry: Inquiry) -> str:
        """The supervisor whose page it came from; "" for the firm page."""
        if inquiry.requested_profile_id is None:
            return ""
        return self.by_profile.get(inquiry.requested_profile_id, "")

    def assignee(self, inquiry: Inquiry) -> str:
        if inquiry.assigned_membership_id is None:
            return ""
        return self.by_membership.get(inquiry.assigned_membership_id, "")

    @property
    def choices(self) -> list[tuple[uuid.UUID, str]]:
        """Staff to assign to (those still in the firm), by name."""
        current = [(m, name) for m, name in self.by_membership.items() if m in self.current]
        return sorted(current, key=lambda pair: pair[1].casefold())


async def staff_names(db: AsyncSession) -> StaffNames:
    """The firm's staff by profile and by membership: the profile's name, else the account's."""
    profiles = (
        await db.execute(
            select(StaffProfile.id, StaffProfile.membership_id, StaffProfile.display_name)
        )
    ).tuples()
    by_profile: dict[uuid.UUID, str] = {}
    profile_names: dict[uuid.UUID, str] = {}
    for profile_id, membership_id, display_name in profiles:
        by_profile[profile_id] = display_name
        profile_names[membership_id] = display_name
    staff = await db.execute(
        select(Membership.id, User.name, Membership.deactivated_at)
        .join(User, Membership.user_id == User.id)
        .where(Membership.role.in_(STAFF_ROLES))
    )
    rows = list(staff.tuples())
    by_membership = {m_id: profile_names.get(m_id) or name for m_id, name, _left in rows}
    return StaffNames(by_profile, by_membership, {m_id for m_id, _n, left in rows if left is None})
