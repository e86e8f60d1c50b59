"""The supervisee's portal at ``/t/{slug}/me``: their own sessions and agreements only.

A ``supervisee`` sees what :mod:`luotsi.tenants.portal.supervisee` gives them; the firm's owners
and admins get a page that explains the portal (it is personal: there is no preview of a
supervisee's portal). Everyone else is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import permissions
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.tenants.portal import supervisee as supervisee_portal
from luotsi.tenants.sessions.service import Mailing, get_session
from luotsi.web.deps import DB, WS, Req
from luotsi.web.templating import redirect, render


def _mailing(request: Req) -> Mailing:
    return Mailing.from_settings(request.app.state["settings"])


class SuperviseePortalController(Controller):
    path = "/me"

    @get("/", name="supervisee_portal")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        if permissions.can_use_supervisee_portal(ws.membership):
            return await self._page(request, db, ws)
        return about_page(request, ws)

    @get("/sessions/{session_id:uuid}/cancel", name="supervisee_confirm_cancel")
    async def confirm_cancel(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            await _session_of_firm(db, ws, session_id)
            return about_page(request, ws)
        try:
            terms = await supervisee_portal.cancellation_terms(db, ws.membership, session_id)
        except Forbidden:
            return no_access_page(request, ws)
        return render(request, "portal/supervisee/cancel.html", {"ws": ws, "terms": terms})

    @post("/sessions/{session_id:uuid}/cancel", name="supervisee_cancel")
    async def cancel(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        await _only_supervisees(db, ws, session_id)
        await supervisee_portal.cancel_own_session(db, ws.membership, session_id, _mailing(request))
        return redirect(request, ws.url("me/"), flash="session_cancelled")

    @post("/sessions/{session_id:uuid}/manager", name="supervisee_invite_manager")
    async def invite_manager(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._manager_step(
            request,
            db,
            ws,
            session_id,
            lambda: supervisee_portal.invite_own_manager(
                db, ws.membership, session_id, _mailing(request)
            ),
            flash="manager_invited",
        )

    @post("/sessions/{session_id:uuid}/manager/withdraw", name="supervisee_withdraw_manager")
    async def withdraw_manager(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._manager_step(
            request,
            db,
            ws,
            session_id,
            lambda: supervisee_portal.withdraw_own_manager_invitation(
                db, ws.membership, session_id, _mailing(request)
            ),
            flash="manager_uninvited",
        )

    @post("/sessions/{session_id:uuid}/manager/decline", name="supervisee_decline_manager")
    async def decline_manager(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._manager_step(
            request,
            db,
            ws,
            session_id,
            lambda: supervisee_portal.decline_manager_request(db, ws.membership, session_id),
            flash="manager_request_declined",
        )

    async def _manager_step(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: uuid.UUID,
        step: Callable[[], Awaitable[object]],
        *,
        flash: str,
    ) -> Any:
        """One step of the supervisee's own say over their manager at an evaluation meeting:
        done, then back to their page; refused, their page with the reason (422)."""
        await _only_supervisees(db, ws, session_id)
        try:
            await step()
        except Invalid as exc:
            return await self._page(request, db, ws, errors=exc.errors, status_code=422)
        return redirect(request, ws.url("me/"), flash=flash)

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Any:
        """The supervisee's own page; a login no longer bound to a current supervisee gets a
        page that says so (403)."""
        try:
            view = await supervisee_portal.own_view(db, ws.membership)
        except Forbidden:
            return no_access_page(request, ws)
        context = {"ws": ws, "view": view, "errors": errors or {}}
        return render(request, "portal/supervisee/index.html", context, status_code=status_code)


def about_page(request: Req, ws: WS) -> Any:
    """What the portal is, for the firm's owners and admins; nobody else of the staff."""
    if not permissions.can_manage_clients(ws.membership):
        raise Forbidden("supervisee_portal")
    return render(request, "portal/supervisee/about.html", {"ws": ws})


def no_access_page(request: Req, ws: WS) -> Any:
    return render(request, "portal/supervisee/no_access.html", {"ws": ws}, status_code=403)


async def _session_of_firm(db: DB, ws: WS, session_id: uuid.UUID) -> None:
    """For anyone but a supervisee, a meeting id answers like the staff pages do: 404 unless
    it is a meeting of this firm they work on (so no id of another firm is confirmed)."""
    await get_session(db, ws.membership, session_id)


async def _only_supervisees(db: DB, ws: WS, session_id: uuid.UUID) -> None:
    """The portal's actions are the supervisee's alone: the staff get 403 for their firm's
    meetings, 404 for any other id."""
    if not permissions.can_use_supervisee_portal(ws.membership):
        await _session_of_firm(db, ws, session_id)
        raise Forbidden("supervisee_portal")
