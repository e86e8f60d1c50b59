"""Confidential content: the only module that reads or writes it.

Content (a supervisor's private session notes now; assignments, goals and evaluations later) is
stored encrypted (:mod:`luotsi.platform.crypto`), each ciphertext bound to its tenant, table,
row and field. Every function here takes the acting membership and checks
:mod:`luotsi.platform.permissions` before it decrypts anything; whoever may not see a piece of
content gets :class:`NotFound`, the same answer as for something that does not exist. Nothing
here logs content; SQL parameters are hidden by the engines (``hide_parameters``).

Every read and every write of a piece of content adds an audit row (``content.read`` /
``content.written``, the object's type and id, the actor, where the request came from; never
the text) in the caller's transaction, here rather than in the callers, so none can forget it.

Each encrypted column is listed in :data:`ENCRYPTED_FIELDS`, which key rotation walks, next to
the integer column that says which master key version encrypted it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, LargeBinary, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import audit, permissions
from luotsi.platform.crypto import Binding, ContentCipher, MasterKeys
from luotsi.platform.db import Base, TenantScoped, tenant_session, unscoped_session, utcnow
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Tenant
from luotsi.tenants.sessions import SupervisionSession

NOTE_MAX_CHARS = 20_000
NOTE_OBJECT = "session_note"  # the audit log's object type of a note


class SessionNote(TenantScoped, Base):
    """A supervisor's private note on one session; ``body`` is ciphertext."""

    __tablename__ = "session_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_session_notes_tenant_session_author",
            "tenant_id",
            "session_id",
            "author_membership_id",
        ),
        Index("ix_session_notes_tenant_key_version", "tenant_id", "key_version"),
    )

    session_id: Mapped[uuid.UUID]
    author_membership_id: Mapped[uuid.UUID]  # a plain id: a note outlives its membership
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]  # the master key version of ``body`` (rotation finds old ones)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"SessionNote(id={self.id}, session_id={self.session_id})"


@dataclass(frozen=True)
class EncryptedField:
    """One encrypted column and the column holding its key version."""

    model: type[Any]
    column: str
    version_column: str

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def binding(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> Binding:
        return Binding(tenant_id=tenant_id, table=self.table, row_id=row_id, field=self.column)


NOTE_BODY = EncryptedField(SessionNote, "body", "key_version")
ENCRYPTED_FIELDS: tuple[EncryptedField, ...] = (NOTE_BODY,)


# --- session notes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A decrypted session note, as its author sees it."""

    id: uuid.UUID
    session_id: uuid.UUID
    text: str
    created_at: datetime
    updated_at: datetime

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in re.split(r"\n\s*\n", self.text) if p.strip()]


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_note_text(raw: str) -> str:
    """Plain text with paragraphs: line breaks kept, other control characters refused."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise Invalid.field("text", _("Write the note first."))
    if len(text) > NOTE_MAX_CHARS:
        raise Invalid.field("text", _("A note holds at most 20,000 characters."))
    if _CONTROL_RE.search(text):
        raise Invalid.field("text", _("Remove the control characters from the text."))
    return text


async def _session_supervisor(db: AsyncSession, session_id: uuid.UUID) -> uuid.UUID:
    supervisor_id = await db.scalar(
        select(SupervisionSession.supervisor_id).where(SupervisionSession.id == session_id)
    )
    if supervisor_id is None:
        raise NotFound("session")
    return supervisor_id


async def _audit(
    db: AsyncSession,
    actor: Membership,
    action: str,
    object_ids: Sequence[uuid.UUID],
    ip: str,
    user_agent: str,
) -> None:
    """One audit row per piece of content touched; ids and codes only."""
    if not object_ids:
        return
    name = await db.scalar(select(User.name).where(User.id == actor.user_id)) or ""
    for object_id in object_ids:
        await audit.record(
            db,
            action,
            actor_user_id=actor.user_id,
            actor_name=name,
            tenant_id=actor.tenant_id,
            object_type=NOTE_OBJECT,
            object_id=object_id,
            ip=ip,
            user_agent=user_agent,
        )


async def write_note(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    text: str,
    *,
    keys: MasterKeys,
    ip: str = "",
    user_agent: str = "",
) -> Note:
    """Add a private note to a session; only the supervisor who holds the session may.

    Anyone else (owners and admins included) gets :class:`NotFound`. Invalid text raises
    :class:`Invalid` before anything is added to the session, so a caller may still commit
    (e.g. the audit rows of re-showing the author's notes). The write is audited
    (``content.written``) with ``ip`` and ``user_agent``, in the caller's transaction.
    """
    if actor.role not in STAFF_ROLES:
        raise NotFound("session")
    supervisor_id = await _session_supervisor(db, session_id)
    if not permissions.can_write_session_notes(actor, supervisor_id):
        raise NotFound("session")
    clean = clean_note_text(text)  # before any change: see the docstring
    cipher = ContentCipher(keys)
    note_id = uuid.uuid4()  # known before the insert: the ciphertext is bound to it
    now = utcnow()
    note = SessionNote(
        id=note_id,
        tenant_id=actor.tenant_id,
        session_id=session_id,
        author_membership_id=actor.id,
        body=cipher.encrypt(clean, NOTE_BODY.binding(actor.tenant_id, note_id)),
        key_version=cipher.current_version,
        created_at=now,
        updated_at=now,
    )
    db.add(note)
    await db.flush()
    await _audit(db, actor, audit.CONTENT_WRITTEN, [note.id], ip, user_agent)
    return Note(note.id, session_id, clean, now, now)


async def read_notes(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    *,
    keys: MasterKeys,
    ip: str = "",
    user_agent: str = "",
) -> list[Note]:
    """The actor's own notes on a session, oldest first.

    Notes are their author's alone: the session's supervisor gets their notes (maybe none); an
    earlier supervisor of the session keeps reading the notes they wrote; everyone else gets
    :class:`NotFound`, whatever their role. Each note decrypted is audited (``content.read``)
    with ``ip`` and ``user_agent``, in the caller's transaction: commit it whenever the notes
    are shown.
    """
    if actor.role not in STAFF_ROLES:
        raise NotFound("session")
    supervisor_id = await _session_supervisor(db, session_id)
    rows = (
        await db.scalars(
            select(SessionNote)
            .where(
                SessionNote.session_id == session_id, SessionNote.author_membership_id == actor.id
            )
            .order_by(SessionNote.created_at, SessionNote.id)
        )
    ).all()
    if not rows and not permissions.can_write_session_notes(actor, supervisor_id):
        raise NotFound("session")
    cipher = ContentCipher(keys)
    notes = []
    for row in rows:
        if not permissions.can_read_session_note(actor, row.author_membership_id):
            raise NotFound("session")
        text = cipher.decrypt(row.body, NOTE_BODY.binding(row.tenant_id, row.id))
        notes.append(Note(row.id, row.session_id, text, row.created_at, row.updated_at))
    await _audit(db, actor, audit.CONTENT_READ, [note.id for note in notes], ip, user_agent)
    return notes


# --- key rotation ---------------------------------------------------------------------------


@dataclass
class RotationResult:
    """What :func:`rotate_keys_all_tenants` did: values re-encrypted, per firm slug."""

    key_version: int
    tenants: int = 0
    per_tenant: dict[str, int] = field(default_factory=dict)

    @property
    def reencrypted(self) -> int:
        return sum(self.per_tenant.values())


async def rotate_tenant_keys(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    cipher: ContentCipher,
    fields: Sequence[EncryptedField] = ENCRYPTED_FIELDS,
    batch_size: int = 200,
) -> int:
    """Re-encrypt one batch of a tenant's values that use an older key; returns how many.

    ``db`` is scoped to ``tenant_id``. A value that fails to decrypt stops the rotation with
    :class:`~luotsi.platform.crypto.ContentUnreadable` naming its row (never its content).
    """
    done = 0
    current = cipher.current_version
    for spec in fields:
        model = spec.model
        column = getattr(model, spec.column)
        version = getattr(model, spec.version_column)
        rows = (
            await db.execute(
                select(model.id, column)
                .where(version != current)
                .order_by(model.id)
                .limit(batch_size)
            )
        ).all()
        # Keep ``updated_at`` and the like: rotation is not an edit.
        untouched = {c.name: c for c in model.__table__.c if c.onupdate is not None}
        for row_id, blob in rows:
            fresh = cipher.reencrypt(blob, spec.binding(tenant_id, row_id))
            result = await db.execute(
                update(model)
                .where(model.id == row_id, column == blob)  # unchanged since it was read
                .values({spec.column: fresh, spec.version_column: current, **untouched})
                .execution_options(synchronize_session=False)
            )
            done += int(getattr(result, "rowcount", 0) or 0)
    return done


async def rotate_keys_all_tenants(
    maker: async_sessionmaker[AsyncSession], keys: MasterKeys, batch_size: int = 200
) -> RotationResult:
    """Re-encrypt every encrypted value of every firm with the current master key version.

    Crosses tenants the way the worker does: the global ``tenants`` table first, then each
    firm's work in a session scoped to it (so row-level security applies on PostgreSQL), one
    transaction per batch. Idempotent: a second run finds nothing to do.
    """
    cipher = ContentCipher(keys)
    async with unscoped_session(maker) as db:
        firms = (await db.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.slug))).all()
    result = RotationResult(key_version=cipher.current_version, tenants=len(firms))
    for tenant_id, slug in firms:
        count = 0
        while True:
            async with tenant_session(maker, tenant_id) as db:
                batch = await rotate_tenant_keys(db, tenant_id, cipher, batch_size=batch_size)
            count += batch
            if batch == 0:
                break
        if count:
            result.per_tenant[slug] = count
    return result
