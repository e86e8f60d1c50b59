"""The owner's audit view: who did what in the firm, and when."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get

from luotsi.platform import apitokens, audit, permissions
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.platform.tenancy import TENANT_OBJECT
from luotsi.platform.webhooks.service import ENDPOINT_OBJECT
from luotsi.tenants import content
from luotsi.tenants.content.lifecycle import AGREEMENT_OBJECT
from luotsi.tenants.content.rights import PERSON_OBJECT
from luotsi.tenants.content.shared import (
    ASSIGNMENT_OBJECT,
    EVALUATION_OBJECT,
    GOAL_OBJECT,
    LIMITS_OBJECT,
    RESPONSE_OBJECT,
)
from luotsi.tenants.directory.hours import ABSENCE_OBJECT
from luotsi.web.deps import DB, WS, Req
from luotsi.web.templating import render
from luotsi.web.workspace import requires

PER_PAGE = 50


def action_label(action: str) -> str:
    labels = {
        audit.LOGIN_SUCCEEDED: _("Signed in"),
        audit.LOGIN_FAILED: _("Sign-in failed"),
        audit.MEMBER_INVITED: _("Invited a person"),
        audit.MEMBER_ROLE_CHANGED: _("Changed a role"),
        audit.MEMBER_REMOVED: _("Removed a member"),
        audit.MEMBER_WORK_HANDED_OVER: _("Handed a member's sessions and agreements over"),
        audit.CONTENT_READ: _("Read confidential content"),
        audit.CONTENT_WRITTEN: _("Wrote confidential content"),
        audit.CONTENT_DELETED: _("Deleted confidential content"),
        audit.CONTENT_HANDED_OVER: _("Handed over confidential content"),
        audit.CONTENT_ERASED: _("Erased confidential content"),
        audit.DATA_EXPORTED: _("Exported a supervisee's data"),
        audit.ERASURE_REQUESTED: _("Asked for erasure"),
        audit.ERASURE_CONFIRMED: _("Erased a supervisee's data"),
        audit.ERASURE_DECLINED: _("Declined an erasure request"),
        audit.SETTINGS_CHANGED: _("Changed the firm's settings"),
        audit.FIRM_DATA_EXPORTED: _("Exported all of the firm's data"),
        audit.WORKING_HOURS_CHANGED: _("Changed a member's working hours"),
        audit.ABSENCE_ADDED: _("Recorded an absence"),
        audit.ABSENCE_CHANGED: _("Changed an absence"),
        audit.ABSENCE_DELETED: _("Deleted an absence"),
        audit.FIRM_CLOSURE_REQUESTED: _("Asked to close the firm's account"),
        audit.FIRM_CLOSURE_CANCELLED: _("Kept the firm's account"),
        audit.FIRM_ERASED: _("Erased the closed firm's data"),
        audit.FIRM_RECORDS_ERASED: _("Erased invoices past the bookkeeping period"),
        audit.FIRM_SUSPENDED: _("Luotsi support suspended the workspace"),
        audit.FIRM_REACTIVATED: _("Luotsi support reopened the workspace"),
        audit.PLAN_OVERRIDDEN: _("Luotsi support changed the firm's plan"),
        audit.TRIAL_EXTENDED: _("Luotsi support extended the firm's trial"),
        apitokens.TOKEN_CREATED: _("Created an API token"),
        apitokens.TOKEN_REVOKED: _("Revoked an API token"),
        apitokens.API_WRITE: _("Changed data through the API"),
    }
    return labels.get(action, action)


def object_label(object_type: str) -> str:
    """What kind of thing an audit row names, in words (the row holds its type and id only)."""
    labels = {
        "membership": _("Member"),
        "invitation": _("Invitation"),
        ABSENCE_OBJECT: _("Absence"),
        apitokens.TOKEN_OBJECT: _("API token"),
        "client_org": _("Client organisation"),
        "client_person": _("Person of a client"),
        "session": _("Session"),
        TENANT_OBJECT: _("Firm"),
        AGREEMENT_OBJECT: _("Agreement"),
        PERSON_OBJECT: _("Supervisee"),
        content.NOTE_OBJECT: _("Session note"),
        ASSIGNMENT_OBJECT: _("Between-session assignment"),
        RESPONSE_OBJECT: _("Response to an assignment"),
        GOAL_OBJECT: _("Goal"),
        EVALUATION_OBJECT: _("Evaluation"),
        LIMITS_OBJECT: _("Limits of confidentiality"),
        ENDPOINT_OBJECT: _("Webhook endpoint"),
    }
    return labels.get(object_type, object_type)


def _uuid_or_none(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


class AuditController(Controller):
    """``/t/{slug}/audit/``: the firm's audit log for its owner. Rows hold no content."""

    path = "/audit"
    guards = [requires(permissions.can_view_audit)]

    @get("/", name="audit")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        actions, people = await audit.audit_filter_choices(db, ws.membership)
        action = query.get("action", "")
        action = action if action in actions else ""
        person = _uuid_or_none(query.get("person"))
        person = person if person in {user_id for user_id, _name in people} else None
        item = _uuid_or_none(query.get("item"))
        page = await audit.list_audit_events(
            db,
            ws.membership,
            action=action,
            actor_user_id=person,
            item=item,
            page=page_number(query.get("page")),
            per_page=PER_PAGE,
        )
        context = {
            "ws": ws,
            "page": page,
            "query": query,
            "actions": actions,
            "people": people,
            "action": action,
            PERSON_OBJECT: person,
            "item": item,
            "action_label": action_label,
            "object_label": object_label,
            "support_actions": audit.SUPPORT_ACTIONS,
        }
        return render(request, "firm/audit.html", context, block="audit_list")
