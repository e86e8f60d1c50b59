"""The firm's dashboard: the landing page of the workspace."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from sqlalchemy import ColumnElement, func, select

from luotsi.billing import checklist
from luotsi.platform import clock, permissions
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, active_member
from luotsi.tenants.agreements import summaries as agreement_summaries
from luotsi.tenants.content import retention
from luotsi.tenants.directory import staff
from luotsi.tenants.directory.inquiries import new_inquiries_count
from luotsi.tenants.directory.public import firm_profile
from luotsi.tenants.sessions import overview
from luotsi.web.deps import DB, WS, Req
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

REVIEWS_WITHIN_DAYS = 14
ENDING_WITHIN_DAYS = 60
LIST_LIMIT = 10  # agreements per dashboard list; the rest are counted ("and 3 more")
COUNTED_ROLES = (Role.OWNER, Role.ADMIN, Role.SUPERVISOR)
MEMBER_COUNTS = (*(role.value for role in COUNTED_ROLES), "invitations")


def _member_counts() -> dict[str, ColumnElement[int]]:
    """The firm's active owners, admins and supervisors, and its open invitations."""
    counts: dict[str, ColumnElement[int]] = {
        role.value: select(func.count())
        .select_from(Membership)
        .where(Membership.role == role, active_member())
        .scalar_subquery()
        for role in COUNTED_ROLES
    }
    counts["invitations"] = (
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > clock.now(),
        )
        .scalar_subquery()
    )
    return counts


async def _counts_and_profile(db: DB, member: Membership) -> dict[str, Any]:
    """What the member may see counted (members, invitations, new inquiries, erasure requests)
    and their own profile (its id, whether clients find it), in one statement of scalar
    subqueries; only what the member may see is asked."""
    facts: dict[str, ColumnElement[Any]] = {}
    if permissions.can_view_members(member):
        facts |= _member_counts()
    if permissions.can_view_inquiries(member):
        facts["new_inquiries"] = new_inquiries_count(member)
    if permissions.can_manage_retention(member):
        facts["pending_erasures"] = retention.pending_erasure_requests_count(member)
    if member.is_staff:
        facts["profile_id"] = staff.profile_id_of(member.id)
        facts["public"] = staff.listed_in_directory(member.id)
    if not facts:
        return {}
    row = await db.execute(select(*(value.label(key) for key, value in facts.items())))
    return dict(row.one()._mapping)


@get("/", name="dashboard")
async def dashboard(request: Req, db: DB, ws: WS) -> Any:
    if permissions.can_use_client_portal(ws.membership):
        return redirect(request, ws.url("portal/"))  # an HR contact's landing page
    if permissions.can_use_supervisee_portal(ws.membership):
        return redirect(request, ws.url("me/"))  # a supervisee's landing page
    found = await _counts_and_profile(db, ws.membership)
    counts = {key: int(found[key]) for key in MEMBER_COUNTS if key in found}
    profile_id, public = found.get("profile_id"), bool(found.get("public"))
    if ws.membership.is_staff and profile_id is None:  # the first visit makes the profile
        profile = await staff.profile_of_membership(db, ws.membership.id)
        profile_id = profile.id
        public = profile.visible and profile.active and (await firm_profile(db)).directory_enabled
    now = clock.now()
    work = None
    if permissions.can_work_on_agreements(ws.membership):
        attention = await agreement_summaries.needing_attention(
            db,
            ws.membership,
            reviews_within=REVIEWS_WITHIN_DAYS,
            ending_within=ENDING_WITHIN_DAYS,
            limit=LIST_LIMIT,
        )
        work = {
            "agenda": await overview.agenda(db, ws.membership, now),
            "reviews": attention.reviews,
            "reviews_total": attention.reviews_total,
            "ending": attention.ending,
            "ending_total": attention.ending_total,
            "overruns": attention.overruns,
            "overruns_total": attention.overruns_total,
            "today": clock.today(now),
        }
    return render(
        request,
        "firm/dashboard.html",
        {
            "ws": ws,
            "setup": await checklist.setup_checklist(db, ws.membership),
            "counts": counts,
            "new_inquiries": int(found["new_inquiries"]) if "new_inquiries" in found else None,
            "profile_id": profile_id,
            "public": public,
            "work": work,
            "pending_erasures": int(found.get("pending_erasures") or 0),
        },
    )


@post("/setup/dismiss", name="dismiss_setup", guards=[requires(permissions.can_set_up_firm)])
async def dismiss_setup(request: Req, db: DB, ws: WS) -> Any:
    """Put the setup checklist away (for the signed-in member only)."""
    await checklist.dismiss_checklist(db, ws.membership)
    return redirect(request, ws.url(""), flash="setup_dismissed")
