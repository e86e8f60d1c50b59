"""The append-only audit log: who did what to which object, when and from where.

A row never holds content or secrets: no notes, no passwords, no tokens, no e-mail bodies;
only codes, ids, the actor's name at the time and where the request came from. Rows are
written in the caller's transaction, so an action and its audit row commit or roll back
together. Nothing here updates or deletes a row, and on PostgreSQL the app's role is not
allowed to (see migration 0006 and :func:`luotsi.platform.migrate.ensure_app_role`).

``audit_events`` is a global table with a nullable ``tenant_id``: sign-ins belong to the
account, not to a firm, and are platform events (``tenant_id`` NULL). Row-level security shows
a firm's rows only within that firm and hides platform events from the app role.

Content is opened many values at a time (an agreement page decrypts a hundred goals and
evaluations): :func:`record_items` gathers what one transaction opens into ONE row per action
and person, whose ``items`` list every value (its kind, id and whose record it is), written when
the transaction commits. "Who opened item X" and "who touched person P's records" are
:func:`touching` conditions on that list: a GIN index answers them on PostgreSQL (JSONB
containment); SQLite reads the list with ``json_each``.

On PostgreSQL the table is partitioned by month of ``at`` (the key is ``(id, at)``); the
retention job drops whole months (:func:`luotsi.platform.retention.keep_audit_log`).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import JSON, ColumnElement, Index, String, event, exists, func, or_, select
from sqlalchemy import type_coerce as coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

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
FIRM_DATA_EXPORTED = "firm.data_exported"
EMAIL_CHANGED = "account.email_changed"  # an account's event (no firm); never the addresses
WORKING_HOURS_CHANGED = "hours.changed"
ABSENCE_ADDED = "absence.added"
ABSENCE_CHANGED = "absence.changed"
ABSENCE_DELETED = "absence.deleted"
TWO_FACTOR_ENABLED = "two_factor.enabled"
TWO_FACTOR_DISABLED = "two_factor.disabled"
TWO_FACTOR_RECOVERY_USED = "two_factor.recovery_code_used"
TWO_FACTOR_CODES_RENEWED = "two_factor.recovery_codes_renewed"
FIRM_CLOSURE_REQUESTED = "firm.closure_requested"
FIRM_CLOSURE_CANCELLED = "firm.closure_cancelled"
FIRM_ERASED = "firm.erased"
FIRM_RECORDS_ERASED = "firm.records_erased"  # invoices past the bookkeeping period
# What Luotsi support did (luotsi.platform.operators); the firm sees them as "Luotsi support".
FIRM_SUSPENDED = "support.firm_suspended"
FIRM_REACTIVATED = "support.firm_reactivated"
PLAN_OVERRIDDEN = "support.plan_overridden"
TRIAL_EXTENDED = "support.trial_extended"
SUPPORT_ACTIONS = (FIRM_SUSPENDED, FIRM_REACTIVATED, PLAN_OVERRIDDEN, TRIAL_EXTENDED)

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


class AuditItem(TypedDict):
    """One value opened, in an event's ``items``: its kind, its id and whose record it is (the
    supervisee it belongs to, else the agreement), ids as text."""

    type: str
    id: str
    context: str | None


# JSONB on PostgreSQL (containment, GIN-indexed), JSON text on SQLite.
ITEMS_TYPE = JSON().with_variant(JSONB(), "postgresql")


class AuditEvent(Base):
    """One audited action. Written once, never changed."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_at", "tenant_id", "at"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_tenant_id_context_id", "tenant_id", "context_id"),
        Index("ix_audit_events_tenant_id_object_id", "tenant_id", "object_id"),
        Index(
            "ix_audit_events_items",
            "items",
            postgresql_using="gin",
            postgresql_ops={"items": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    # Ids, not foreign keys: the log outlives the people, memberships and objects it names.
    # ``at`` is in the key because PostgreSQL partitions the table by it.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime] = mapped_column(primary_key=True, default=clock.now)
    actor_user_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    object_type: Mapped[str] = mapped_column(String(OBJECT_TYPE_LENGTH), default="")
    object_id: Mapped[uuid.UUID | None]
    # The record the object belongs to (an agreement, a supervisee): whose history it is in.
    context_id: Mapped[uuid.UUID | None]
    ip: Mapped[str] = mapped_column(String(IP_LENGTH), default="")
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_LENGTH), default="")
    # The values one page view opened (see :func:`record_items`); NULL for a single action.
    items: Mapped[list[AuditItem] | None] = mapped_column(ITEMS_TYPE, default=None)

    def item_counts(self, contexts: Iterable[uuid.UUID] | None = None) -> list[tuple[str, int]]:
        """How many values of each kind the row names (of ``contexts`` only, when given), in
        the order first opened; a row without items counts its one object."""
        if self.items is None:
            return [(self.object_type, 1)]
        wanted = None if contexts is None else {str(c) for c in contexts}
        counts = Counter(
            item["type"] for item in self.items if wanted is None or item["context"] in wanted
        )
        return list(counts.items())


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
) -> AuditEvent:
    """Add an audit row in the caller's transaction (it commits or rolls back with the action).

    ``action`` is a code such as ``member.role_changed``. Without ``tenant_id`` the row belongs
    to the tenant the session is scoped to, or is a platform event in an unscoped session. Pass
    ids and codes only: the caller never passes content, and nothing free-form is stored
    besides the actor's name and the client's user agent, both cut to their columns.
    """
    tenant_id = _checked(db, action, tenant_id)
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
    await db.flush()
    return event


def _checked(db: AsyncSession, action: str, tenant_id: uuid.UUID | None) -> uuid.UUID | None:
    """The row's tenant, after refusing a malformed action or another tenant's row."""
    if not ACTION_RE.match(action) or len(action) > ACTION_LENGTH:
        raise ValueError(f"invalid audit action {action!r}")
    scoped = db.info.get(TENANT_KEY)
    if tenant_id is None:
        return scoped
    if scoped is not None and tenant_id != scoped:
        raise TenantNotSet("audit event of another tenant in this session")
    return tenant_id


PENDING_KEY = "luotsi.audit_items"


def record_items(
    db: AsyncSession,
    action: str,
    items: Iterable[tuple[str, uuid.UUID, uuid.UUID | None]],
    *,
    actor_user_id: uuid.UUID | None,
    actor_name: str,
    tenant_id: uuid.UUID | None = None,
    ip: str = "",
    user_agent: str = "",
) -> None:
    """Add ``(kind, id, context)`` values to this transaction's one row of ``action`` by this
    actor; the row is added when the transaction commits (and dropped if it rolls back).

    A page view opens many values at once: one row lists them all, instead of a row per value.
    A row naming one value also carries it in ``object_type``/``object_id``, and a row whose
    values share a kind or a context carries those, as a row of :func:`record` would.
    """
    tenant_id = _checked(db, action, tenant_id)
    pending: dict[tuple[Any, ...], AuditEvent] = db.info.setdefault(PENDING_KEY, {})
    key = (action, actor_user_id, tenant_id)
    row = pending.get(key)
    if row is None:
        row = pending[key] = AuditEvent(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            at=clock.now(),
            actor_user_id=actor_user_id,
            actor_name=actor_name[:NAME_LENGTH],
            action=action,
            object_type="",
            ip=ip[:IP_LENGTH],
            user_agent=user_agent[:USER_AGENT_LENGTH],
            items=[],
        )
    listed = row.items
    assert listed is not None
    for object_type, object_id, context_id in items:
        item = AuditItem(
            type=object_type[:OBJECT_TYPE_LENGTH],
            id=str(object_id),
            context=None if context_id is None else str(context_id),
        )
        if item not in listed:
            listed.append(item)


def _summed_up(row: AuditEvent) -> AuditEvent:
    """The row's single-object columns from its items: what they all share."""
    items = row.items or []
    kinds = {item["type"] for item in items}
    contexts = {item["context"] for item in items}
    row.object_type = kinds.pop() if len(kinds) == 1 else ""
    row.object_id = uuid.UUID(items[0]["id"]) if len(items) == 1 else None
    context = contexts.pop() if len(contexts) == 1 else None
    row.context_id = None if context is None else uuid.UUID(context)
    return row


@event.listens_for(Session, "before_commit")
def _add_pending_items(session: Session) -> None:
    """Write the transaction's gathered rows: the commit's flush inserts them."""
    pending: dict[Any, AuditEvent] = session.info.pop(PENDING_KEY, {})
    session.add_all(_summed_up(row) for row in pending.values() if row.items)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending_items(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction's reads go with it, as every row of it does."""
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


def touching(db: AsyncSession, key: str, values: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """Rows whose items include a value with ``key`` (``"id"`` or ``"context"``) among
    ``values``: JSONB containment on PostgreSQL (the GIN index), ``json_each`` on SQLite."""
    texts = [str(value) for value in values]
    if db.bind.dialect.name == "postgresql":
        items = coerce(AuditEvent.items, JSONB)
        return or_(*(items.contains([{key: text}]) for text in texts))
    listed = func.json_each(AuditEvent.items).table_valued("value")
    return (
        exists().select_from(listed).where(func.json_extract(listed.c.value, f"$.{key}").in_(texts))
    )


def concerning(db: AsyncSession, object_ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """Rows about any of ``object_ids``: as their one object or among their items."""
    return or_(AuditEvent.object_id.in_(object_ids), touching(db, "id", object_ids))


async def list_audit_events(
    db: AsyncSession,
    actor: Membership,
    *,
    action: str = "",
    actor_user_id: uuid.UUID | None = None,
    item: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """The firm's audit events, newest first, optionally of one action, one person and one
    object (who opened item X, and when)."""
    if not permissions.can_view_audit(actor):
        raise Forbidden("audit")
    # A global table: the tenant filter is explicit here (and RLS repeats it on PostgreSQL).
    conditions = [AuditEvent.tenant_id == actor.tenant_id]
    if action:
        conditions.append(AuditEvent.action == action)
    if actor_user_id is not None:
        conditions.append(AuditEvent.actor_user_id == actor_user_id)
    if item is not None:
        conditions.append(concerning(db, [item]))
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
