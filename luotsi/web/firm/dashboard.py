"""The firm's dashboard: the landing page of the workspace."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from sqlalchemy import func, select

from luotsi.billing import checklist
from luotsi.platform import clock, permissions
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, active_member
from luotsi.tenants.agreements import quota as agreement_quota
from luotsi.tenants.agreements import reviews as agreement_reviews
from luotsi.tenants.content import retention
from luotsi.tenants.directory import staff
from luotsi.tenants.directory.inquiries import count_new_inquiries
from luotsi.tenants.directory.public import firm_profile
from luotsi.tenants.sessions import overview
from luotsi.web.deps import DB, WS, Req
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

REVIEWS_WITHIN_DAYS = 14
ENDING_WITHIN_DAYS = 60
LIST_LIMIT = 10  # agreements per dashboard list; the rest are counted ("and 3 more")


@get("/", name="dashboard")
async def dashboard(request: Req, db: DB, ws: WS) -> Any:
    if permissions.can_use_client_portal(ws.membership):
        return redirect(request, ws.url("portal/"))  # an HR contact's landing page
    if permissions.can_use_supervisee_portal(ws.membership):
        return redirect(request, ws.url("me/"))  # a supervisee's landing page
    counts: dict[str, int] = {}
    if permissions.can_view_members(ws.membership):
        rows = await db.execute(
            select(Membership.role, func.count()).where(active_member()).group_by(Membership.role)
        )
        counts = {Role(role).value: n for role, n in rows.tuples()}
        counts["invitations"] = int(
            await db.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(
                    Invitation.accepted_at.is_(None),
                    Invitation.revoked_at.is_(None),
                    Invitation.expires_at > clock.now(),
                )
            )
            or 0
        )
    new_inquiries = None
    if permissions.can_view_inquiries(ws.membership):
        new_inquiries = await count_new_inquiries(db, ws.membership)
    pending_erasures = 0
    if permissions.can_manage_retention(ws.membership):
        pending_erasures = await retention.count_pending_erasure_requests(db, ws.membership)
    now = clock.now()
    work = None
    if permissions.can_work_on_agreements(ws.membership):
        work = {
            "agenda": await overview.agenda(db, ws.membership, now),
            "reviews": await agreement_reviews.reviews_due(
                db, ws.membership, REVIEWS_WITHIN_DAYS, limit=LIST_LIMIT
            ),
            "reviews_total": await agreement_reviews.count_reviews_due(
                db, ws.membership, REVIEWS_WITHIN_DAYS
            ),
            "ending": await agreement_reviews.agreements_ending_within(
                db, ws.membership, ENDING_WITHIN_DAYS, limit=LIST_LIMIT
            ),
            "ending_total": await agreement_reviews.count_agreements_ending_within(
                db, ws.membership, ENDING_WITHIN_DAYS
            ),
            "overruns": await agreement_quota.quota_overruns(db, ws.membership, limit=LIST_LIMIT),
            "overruns_total": await agreement_quota.count_quota_overruns(db, ws.membership),
            "today": clock.today(now),
        }
    profile, public = None, False
    if ws.membership.is_staff:
        profile = await staff.profile_of_membership(db, ws.membership.id)
        public = profile.visible and profile.active and (await firm_profile(db)).directory_enabled
    return render(
        request,
        "firm/dashboard.html",
        {
            "ws": ws,
            "setup": await checklist.setup_checklist(db, ws.membership),
            "counts": counts,
            "new_inquiries": new_inquiries,
            "profile": profile,
            "public": public,
            "work": work,
            "pending_erasures": pending_erasures,
        },
    )


@post("/setup/dismiss", name="dismiss_setup", guards=[requires(permissions.can_set_up_firm)])
async def dismiss_setup(request: Req, db: DB, ws: WS) -> Any:
    """Put the setup checklist away (for the signed-in member only)."""
    await checklist.dismiss_checklist(db, ws.membership)
    return redirect(request, ws.url(""), flash="setup_dismissed")
