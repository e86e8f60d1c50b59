"""The firm's people: the member list, invitations, roles, and accepting an invitation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.subscription.sync import sync_seats
from luotsi.platform import audit, members, permissions
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import get_user_by_email
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import INVITABLE_ROLES, Role, TenantStatus, get_tenant_by_slug
from luotsi.tenants.sessions import departure
from luotsi.web.auth import sign_in
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_value, read_form
from luotsi.web.middleware import visitor
from luotsi.web.reauth import require_recent_authentication
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import record_in_workspace, requires


def role_label(role: Role | str) -> str:
    return {
        Role.OWNER: _("Owner"),
        Role.ADMIN: _("Administrator"),
        Role.SUPERVISOR: _("Supervisor"),
        Role.CLIENT_CONTACT: _("HR contact"),
        Role.SUPERVISEE: _("Supervisee"),
    }[Role(role)]


@dataclass
class InviteForm:
    email: str = ""
    role: str = Role.SUPERVISOR.value


class MembersController(Controller):
    path = "/members"
    guards = [requires(permissions.can_view_members)]

    async def _page(self, request: Req, db: DB, ws: WS, **extra: Any) -> dict[str, Any]:
        return {
            "ws": ws,
            "members": await members.list_members(db, ws.membership),
            "invitations": await members.list_open_invitations(db, ws.membership),
            "invite_form": extra.pop("invite_form", InviteForm()),
            "invitable_roles": [
                r
                for r in (Role.OWNER, *INVITABLE_ROLES)
                if permissions.can_invite_role(ws.membership, r)
            ],
            "can_change_roles": permissions.can_change_roles(ws.membership),
            "role_label": role_label,
            **extra,
        }

    @get("/", name="members")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        return render(request, "firm/members.html", await self._page(request, db, ws))

    @post("/invite", name="invite_member")
    async def invite(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, InviteForm)
        try:
            invitation, token = await members.invite_member(
                db, ws.membership, form.email, form.role
            )
        except Invalid as exc:
            context = await self._page(request, db, ws, invite_form=form, errors=exc.errors)
            return render(
                request, "firm/members.html", context, block="invite_form", status_code=422
            )
        settings = request.app.state["settings"]
        # An invitee with an account gets their own language; a new one the inviter's.
        invitee = await get_user_by_email(db, invitation.email)
        enqueue_email(
            db,
            render_email(
                "invitation",
                invitation.email,
                invitee.locale if invitee else ws.user.locale,
                inviter=ws.user.name,
                firm=ws.tenant.name,
                role=role_label(invitation.role),
                link=f"{settings.base_url}/join/{ws.tenant.slug}/{token}",
            ),
            tenant_id=ws.tenant.id,
        )
        await record_in_workspace(
            request, db, ws, audit.MEMBER_INVITED, "invitation", invitation.id
        )
        return redirect(request, ws.url("members/"), flash="invited")

    @post("/invitations/{invitation_id:uuid}/revoke", name="revoke_invitation")
    async def revoke(
        self,
        request: Req,
        db: DB,
        ws: WS,
        invitation_id: FromPath[uuid.UUID],
    ) -> Any:
        await members.revoke_invitation(db, ws.membership, invitation_id)
        return redirect(request, ws.url("members/"), flash="invitation_revoked")

    @post("/{membership_id:uuid}/role", name="change_role")
    async def change_role(
        self,
        request: Req,
        db: DB,
        ws: WS,
        membership_id: FromPath[uuid.UUID],
    ) -> Any:
        require_recent_authentication(request, ws.url("members/"))
        role = await form_value(request, "role")
        try:
            await members.change_role(db, ws.membership, membership_id, role)
        except Invalid as exc:
            context = await self._page(request, db, ws, errors=exc.errors, error_row=membership_id)
            return render(request, "firm/members.html", context, status_code=422)
        await sync_seats(db, ws.tenant.id)  # a supervisor more or less: the seats follow
        await record_in_workspace(
            request, db, ws, audit.MEMBER_ROLE_CHANGED, "membership", membership_id
        )
        return redirect(request, ws.url("members/"), flash="role_changed")

    async def _removal_page(
        self, request: Req, db: DB, ws: WS, membership_id: uuid.UUID, **extra: Any
    ) -> Any:
        """The removal page: the work to hand over first, or the confirmation."""
        target = await members.get_member(db, membership_id)
        context = {
            "ws": ws,
            "target": target,
            "work": await departure.open_work(db, ws.membership, target),
            "successors": await departure.successor_choices(db, target),
            "role_label": role_label,
            **extra,
        }
        status_code = 422 if "errors" in extra else 200
        return render(request, "firm/remove_member.html", context, status_code=status_code)

    @get("/{membership_id:uuid}/remove", name="confirm_remove_member")
    async def confirm_remove(
        self,
        request: Req,
        db: DB,
        ws: WS,
        membership_id: FromPath[uuid.UUID],
    ) -> Any:
        return await self._removal_page(request, db, ws, membership_id)

    @post("/{membership_id:uuid}/hand-over", name="hand_over_member_work")
    async def hand_over(
        self,
        request: Req,
        db: DB,
        ws: WS,
        membership_id: FromPath[uuid.UUID],
    ) -> Any:
        successor = await form_value(request, "successor")
        try:
            await departure.hand_over_work(db, ws.membership, membership_id, successor)
        except Invalid as exc:
            return await self._removal_page(
                request, db, ws, membership_id, errors=exc.errors, successor=successor
            )
        await record_in_workspace(
            request, db, ws, audit.MEMBER_WORK_HANDED_OVER, "membership", membership_id
        )
        return redirect(
            request, ws.url(f"members/{membership_id}/remove"), flash="member_work_handed_over"
        )

    @post("/{membership_id:uuid}/remove", name="remove_member")
    async def remove(
        self,
        request: Req,
        db: DB,
        ws: WS,
        membership_id: FromPath[uuid.UUID],
    ) -> Any:
        try:
            await departure.remove_member(db, ws.membership, membership_id)
        except Invalid as exc:
            if "work" in exc.errors:  # work still waits for them: the page that hands it over
                return await self._removal_page(request, db, ws, membership_id, errors=exc.errors)
            context = await self._page(request, db, ws, errors=exc.errors, error_row=membership_id)
            return render(request, "firm/members.html", context, status_code=422)
        await sync_seats(db, ws.tenant.id)
        await record_in_workspace(
            request, db, ws, audit.MEMBER_REMOVED, "membership", membership_id
        )
        return redirect(request, ws.url("members/"), flash="member_removed")


@dataclass
class JoinForm:
    name: str = ""
    password: str = ""


class JoinController(Controller):
    """``/join/{slug}/{token}``: the invitation link. No membership yet, so not under ``/t/``."""

    path = "/join/{tenant_slug:str}/{token:str}"

    async def _invitation(
        self, db: AsyncSession, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        try:
            tenant = await get_tenant_by_slug(db, tenant_slug)
            if tenant.status != TenantStatus.ACTIVE:
                raise NotFound(tenant_slug)
            await scope_to_tenant(db, tenant.id)
            return tenant, await members.find_open_invitation(db, token)
        except NotFound:
            return None, None

    @get("/", name="join")
    async def page(
        self, request: Req, db: DB, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        tenant, invitation = await self._invitation(db, tenant_slug, token)
        if invitation is None:
            return render(request, "auth/link_invalid.html", status_code=404)
        context = {
            "tenant": tenant,
            "invitation": invitation,
            "form": JoinForm(),
            "has_account": await get_user_by_email(db, invitation.email) is not None,
            "role_label": role_label,
        }
        return render(request, "auth/join.html", context)

    @post("/")
    async def accept(
        self, request: Req, db: DB, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        tenant, invitation = await self._invitation(db, tenant_slug, token)
        if invitation is None:
            return render(request, "auth/link_invalid.html", status_code=404)
        form = await read_form(request, JoinForm)
        user = visitor(request).user
        try:
            user, _membership = await members.accept_invitation(
                db, invitation, user, form.name, form.password
            )
        except Invalid as exc:
            context = {
                "tenant": tenant,
                "invitation": invitation,
                "form": JoinForm(name=form.name),
                "has_account": await get_user_by_email(db, invitation.email) is not None,
                "errors": exc.errors,
                "role_label": role_label,
            }
            return render(request, "auth/join.html", context, block="form", status_code=422)
        await sync_seats(db, tenant.id)
        return await sign_in(request, db, user, f"/t/{tenant.slug}/", flash="joined")
