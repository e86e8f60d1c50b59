"""A member's notifications (the header's badge leads here), their e-mail choices, and the
owner's default of how many hours ahead session reminders go out.

``/t/{slug}/notifications/`` lists the member's own notifications, newest first; opening one
marks it read and goes to what it is about. ``/t/{slug}/notifications/settings`` keeps which
kinds also come by e-mail and the member's own reminder hours. ``/t/{slug}/settings/reminders/``
is the owner's firm default.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import notifications, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.notifications import NotificationKind
from luotsi.platform.paging import page_number
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text, form_texts
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import Workspace, requires


class NotificationsController(Controller):
    """The signed-in member's own notifications; nobody sees another's."""

    path = "/notifications"
    guards = [requires(permissions.can_receive_notifications)]

    @get("/", name="notifications")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        page = await notifications.list_notifications(
            db, ws.membership, page=page_number(query.get("page"))
        )
        return render(request, "firm/notifications.html", {"ws": ws, "page": page, "query": query})

    @get("/{notification_id:uuid}", name="open_notification")
    async def open(self, request: Req, db: DB, ws: WS, notification_id: FromPath[uuid.UUID]) -> Any:
        notification = await notifications.open_notification(db, ws.membership, notification_id)
        return redirect(request, ws.url(notification.target))

    @post("/read", name="mark_notifications_read")
    async def mark_all_read(self, request: Req, db: DB, ws: WS) -> Any:
        await notifications.mark_all_read(db, ws.membership)
        return redirect(request, ws.url("notifications/"))

    @get("/settings", name="notification_settings")
    async def settings(self, request: Req, db: DB, ws: WS) -> Any:
        choices = await notifications.choices_of(db, ws.membership)
        chosen = {"email_kinds": choices.email_kinds, "reminder_hours": choices.reminder_hours}
        return render(request, "firm/notification_settings.html", _context(ws, chosen))

    @post("/settings", name="save_notification_settings")
    async def save_settings(self, request: Req, db: DB, ws: WS) -> Any:
        form = await request.form()
        kinds, hours = form_texts(form, "email_kinds"), form_text(form, "reminder_hours")
        try:
            await notifications.save_choices(db, ws.membership, kinds, hours)
        except Invalid as exc:
            chosen = {"email_kinds": frozenset(kinds), "reminder_hours": hours}
            context = _context(ws, chosen, errors=exc.errors)
            return render(request, "firm/notification_settings.html", context, status_code=422)
        return redirect(
            request, ws.url("notifications/settings"), flash="notification_choices_saved"
        )


def _context(ws: Workspace, chosen: dict[str, Any], errors: dict[str, str] | None = None) -> Any:
    return {
        "ws": ws,
        "kinds": list(NotificationKind),
        "chosen": chosen,
        "errors": errors or {},
        "low": notifications.MIN_REMINDER_HOURS,
        "high": notifications.MAX_REMINDER_HOURS,
    }


class ReminderHoursController(Controller):
    """The owner's default of how many hours ahead session reminders go out."""

    path = "/settings/reminders"
    guards = [requires(permissions.can_manage_firm_settings)]

    @get("/", name="reminder_hours")
    async def page(self, request: Req, ws: WS) -> Any:
        context = _context(ws, {"reminder_hours": ws.tenant.reminder_hours})
        return render(request, "firm/reminder_hours.html", context)

    @post("/", name="save_reminder_hours")
    async def save(self, request: Req, db: DB, ws: WS) -> Any:
        hours = form_text(await request.form(), "reminder_hours")
        try:
            await notifications.set_firm_reminder_hours(db, ws.membership, hours)
        except Invalid as exc:
            context = _context(ws, {"reminder_hours": hours}, errors=exc.errors)
            return render(request, "firm/reminder_hours.html", context, status_code=422)
        return redirect(request, ws.url("settings/reminders/"), flash="reminder_hours_saved")
