"""The append-only audit log: who did what to which object, when and from where.

A row never holds content or secrets: no notes, no passwords, no tokens, no e-mail bodies;
only codes, ids, the actor's name at the time and where the request came from. Rows are
written in the caller's transaction, so an action and its audit row commit or roll back
together. Nothing here updates or deletes a row, and on PostgreSQL the app's role is not
allowed to (see migration 0006 and :func:`luotsi.platform.migrate.ensure_app_role`).

``audit_events`` is a global table with a nullable ``tenant_id``: sign-ins belong to the
account, not to a firm, and are platform events (``tenant_id`` NULL). Row-level security shows
a firm's rows only within that firm and hides platform events from the app role.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock, permissions
from luotsi.platform.db import TENANT_KEY, Base
from luotsi.platform.errors import Forbidden, TenantNotSet
from luotsi.platform.paging import Page, paginate
from luotsi.platform.tenancy import Membership

LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
MEMBER_INVITED = "member.invited"
MEMBER_ROLE_CHANGED = "member.role_changed"
MEMBER_REMOVED = "member.removed"
MEMBER_WORK_HANDED_OVER = "member.work_handed_over"
CONTENT_READ = "content.read"
CONTENT_WRITTEN = "content.written"
CONTENT_DELETED = "content.deleted"
CONTENT_HANDED_OVER = "content.handed_over"
CONTENT_ERASED = "content.erased"
DATA_EXPORTED = "data.exported"
ERASURE_REQUESTED = "erasure.requested"
ERASURE_CONFIRMED = "erasure.confirmed"
ERASURE_DECLINED = "erasure.declined"
SETTINGS_CHANGED = "settings.changed"

ACTION_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
ACTION_LENGTH = 40
NAME_LENGTH = 200
OBJECT_TYPE_LENGTH = 40
IP_LENGTH = 45
USER_AGENT_LENGTH = 200


class Origin(TypedDict):
    """Where a request came from, as plain values (the web layer reads them off the request)."""

    ip: str
    user_agent: str


class AuditEvent(Base):
    """One audited action. Written once, never changed."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_at", "tenant_id", "at"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_tenant_id_context_id", "tenant_id", "context_id"),
    )

    # Ids, not foreign keys: the log outlives the people, memberships and objects it names.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_user_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    object_type: Mapped[str] = mapped_column(String(OBJECT_TYPE_LENGTH), default="")
    object_id: Mapped[uuid.UUID | None]
    # The record the object belongs to (an agreement, a supervisee): whose history it is in.
    context_id: Mapped[uuid.UUID | None]
    ip: Mapped[str] = mapped_column(String(IP_LENGTH), default="")
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_LENGTH), default="")


async def record(
    db: AsyncSession,
    action: str,
    *,
    actor_user_id: uuid.UUID | None,
    actor_name: str,
    tenant_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: uuid.UUID | None = None,
    context_id: uuid.UUID | None = None,
    ip: str = "",
    user_agent: str = "",
    flush: bool = True,
) -> AuditEvent:
    """Add an audit row in the caller's transaction (it commits or rolls back with the action).

    ``flush=False`` leaves the INSERT to the session's next flush (at the latest the commit),
    so many rows recorded in a row are written as one batch.

    ``action`` is a code such as ``member.role_changed``. Without ``tenant_id`` the row belongs
    to the tenant the session is scoped to, or is a platform event in an unscoped session. Pass
    ids and codes only: the caller never passes content, and nothing free-form is stored
    besides the actor's name and the client's user agent, both cut to their columns.
    """
    if not ACTION_RE.match(action) or len(action) > ACTION_LENGTH:
        raise ValueError(f"invalid audit action {action!r}")
    scoped = db.info.get(TENANT_KEY)
    if tenant_id is None:
        tenant_id = scoped
    elif scoped is not None and tenant_id != scoped:
        raise TenantNotSet("audit event of another tenant in this session")
    event = AuditEvent(
        id=uuid.uuid4(),  # set here: an INSERT ... RETURNING would need SELECT rights on the row
        tenant_id=tenant_id,
        at=clock.now(),
        actor_user_id=actor_user_id,
        actor_name=actor_name[:NAME_LENGTH],
        action=action,
        object_type=object_type[:OBJECT_TYPE_LENGTH],
        object_id=object_id,
        context_id=context_id,
        ip=ip[:IP_LENGTH],
        user_agent=user_agent[:USER_AGENT_LENGTH],
    )
    db.add(event)
    if flush:
        await db.flush()
    return event


async def list_audit_events(
    db: AsyncSession,
    actor: Membership,
    *,
    action: str = "",
    actor_user_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """The firm's audit events, newest first, optionally of one action and one person."""
    if not permissions.can_view_audit(actor):
        raise Forbidden("audit")
    # A global table: the tenant filter is explicit here (and RLS repeats it on PostgreSQL).
    conditions = [AuditEvent.tenant_id == actor.tenant_id]
    if action:
        conditions.append(AuditEvent.action == action)
    if actor_user_id is not None:
        conditions.append(AuditEvent.actor_user_id == actor_user_id)
    order = [AuditEvent.at.desc(), AuditEvent.id.desc()]
    return await paginate(db, AuditEvent, conditions, order, page, per_page)


async def audit_filter_choices(
    db: AsyncSession, actor: Membership
) -> tuple[list[str], list[tuple[uuid.UUID, str]]]:
    """The actions and the people that occur in the firm's log, for the view's filters.

    People come from the log itself, so someone who has since left can still be picked; a
    renamed person appears once, under their latest recorded name.
    """
    if not permissions.can_view_audit(actor):
        raise Forbidden("audit")
    mine = AuditEvent.tenant_id == actor.tenant_id
    actions = await db.scalars(
        select(AuditEvent.action).where(mine).distinct().order_by(AuditEvent.action)
    )
    latest = (
        select(AuditEvent.actor_user_id, func.max(AuditEvent.at).label("at"))
        .where(mine, AuditEvent.actor_user_id.is_not(None))
        .group_by(AuditEvent.actor_user_id)
        .subquery()
    )
    people = await db.execute(
        select(AuditEvent.actor_user_id, func.max(AuditEvent.actor_name))
        .join(
            latest,
            (latest.c.actor_user_id == AuditEvent.actor_user_id) & (latest.c.at == AuditEvent.at),
        )
        .where(mine)
        .group_by(AuditEvent.actor_user_id)
    )
    choices = [(user_id, name) for user_id, name in people if user_id is not None]
    return list(actions), sorted(choices, key=lambda choice: choice[1].casefold())


SIGN_IN_ACTIONS = (LOGIN_SUCCEEDED, LOGIN_FAILED)


async def own_sign_ins(db: AsyncSession, user_id: uuid.UUID, limit: int = 20) -> list[AuditEvent]:
    """The account's latest sign-ins and failed attempts on it, newest first.

    Sign-ins are platform events (no firm). On PostgreSQL the ``own_sign_ins`` policy lets the
    app's role read them only for the user named on the session
    (:func:`luotsi.platform.db.set_session_user`); the filter here says the same on every
    backend. A failed attempt with an address that has no account belongs to nobody.
    """
    rows = await db.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.tenant_id.is_(None),
            AuditEvent.actor_user_id == user_id,
            AuditEvent.action.in_(SIGN_IN_ACTIONS),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(rows)
