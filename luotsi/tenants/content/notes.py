"""A supervisor's private session notes: readable by their keeper alone.

The keeper is the supervisor who wrote the note, until they hand their notes of an agreement
over to another of its supervisors (a supervisor who takes over an agreement inherits nothing
otherwise); the hand-over is recorded on each note and in the audit log.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import audit, clock, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.tenancy import STAFF_ROLES, Membership
from luotsi.tenants.agreements.models import Agreement, AgreementSupervisor
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.content.access import TEXT_MAX_CHARS, Reader, check_not_erased, clean_text
from luotsi.tenants.content.models import NOTE_BODY, SessionNote
from luotsi.tenants.sessions.models import SupervisionSession
from luotsi.tenants.sessions.service import to_local

NOTE_OBJECT = "session_note"  # the audit log's object type of a note
NOTE_MAX_CHARS = TEXT_MAX_CHARS


@dataclass(frozen=True)
class Note:
    """A decrypted session note, as its keeper sees it."""

    id: uuid.UUID
    session_id: uuid.UUID
    text: str
    created_at: datetime
    updated_at: datetime
    handed_over_from: uuid.UUID | None = None
    handed_over_at: datetime | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in re.split(r"\n\s*\n", self.text) if p.strip()]


def clean_note_text(raw: str) -> str:
    """Plain text with paragraphs, as :func:`.access.clean_text`, with a note's own words."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()  # counted as stored
    if not text:
        raise Invalid.field("text", _("Write the note first."))
    if len(text) > NOTE_MAX_CHARS:
        raise Invalid.field("text", _("A note holds at most 20,000 characters."))
    return clean_text(text, "text", max_chars=NOTE_MAX_CHARS)


async def _session(db: AsyncSession, session_id: uuid.UUID) -> SupervisionSession:
    session = await db.scalar(
        select(SupervisionSession)
        .where(SupervisionSession.id == session_id)
        .options(joinedload(SupervisionSession.agreement))
    )
    if session is None:
        raise NotFound("session")
    return session


def _note(row: SessionNote, text: str) -> Note:
    return Note(
        row.id,
        row.session_id,
        text,
        row.created_at,
        row.updated_at,
        row.handed_over_from,
        row.handed_over_at,
    )


async def write_note(db: AsyncSession, reader: Reader, session_id: uuid.UUID, text: str) -> Note:
    """Add a private note to a session; only the supervisor who holds the session may.

    Anyone else (owners and admins included) gets :class:`NotFound`. Invalid text raises
    :class:`Invalid` before anything is added to the session, so a caller may still commit
    (e.g. the audit rows of re-showing the author's notes). Audited (``content.written``).
    """
    actor = reader.actor
    if actor.role not in STAFF_ROLES:
        raise NotFound("session")
    session = await _session(db, session_id)
    if not permissions.can_write_session_notes(actor, session.supervisor_id):
        raise NotFound("session")
    check_not_erased(session.agreement)
    clean = clean_note_text(text)  # before any change: see the docstring
    note_id = uuid.uuid4()  # known before the insert: the ciphertext is bound to it
    body, version = reader.seal(NOTE_BODY, note_id, clean)
    now = clock.now()
    row = SessionNote(
        id=note_id,
        tenant_id=actor.tenant_id,
        session_id=session_id,
        author_membership_id=actor.id,
        body=body,
        key_version=version,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    await reader.audit(db, audit.CONTENT_WRITTEN, NOTE_OBJECT, [row.id], session.agreement_id)
    return _note(row, clean)


async def read_notes(
    db: AsyncSession, reader: Reader, session_id: uuid.UUID, *, note_id: uuid.UUID | None = None
) -> list[Note]:
    """The actor's own notes on a session, oldest first.

    The session's supervisor gets their notes (maybe none); an earlier supervisor of the session
    keeps reading the notes they keep; everyone else gets :class:`NotFound`, whatever their
    role. Each note decrypted is audited (``content.read``) in the caller's transaction.
    """
    actor = reader.actor
    if actor.role not in STAFF_ROLES:
        raise NotFound("session")
    session = await _session(db, session_id)
    query = select(SessionNote).where(
        SessionNote.session_id == session_id, SessionNote.author_membership_id == actor.id
    )
    if note_id is not None:  # only that one is decrypted (and audited)
        query = query.where(SessionNote.id == note_id)
    rows = (await db.scalars(query.order_by(SessionNote.created_at, SessionNote.id))).all()
    if not rows and not permissions.can_write_session_notes(actor, session.supervisor_id):
        raise NotFound("session")
    notes = []
    for row in rows:
        if not permissions.can_read_session_note(actor, row.author_membership_id):
            raise NotFound("session")
        notes.append(_note(row, reader.open(NOTE_BODY, row.id, row.body)))
    await reader.audit(
        db, audit.CONTENT_READ, NOTE_OBJECT, [n.id for n in notes], session.agreement_id
    )
    return notes


async def _own_note(db: AsyncSession, reader: Reader, note_id: uuid.UUID) -> SessionNote:
    row = await db.scalar(select(SessionNote).where(SessionNote.id == note_id))
    if row is None or not permissions.can_read_session_note(reader.actor, row.author_membership_id):
        raise NotFound("session_note")
    return row


async def edit_note(db: AsyncSession, reader: Reader, note_id: uuid.UUID, text: str) -> Note:
    """Replace the text of one of the actor's notes (audited as a write)."""
    row = await _own_note(db, reader, note_id)
    session = await _session(db, row.session_id)
    check_not_erased(session.agreement)
    clean = clean_note_text(text)
    row.body, row.key_version = reader.seal(NOTE_BODY, row.id, clean)
    row.updated_at = clock.now()
    await db.flush()
    await reader.audit(db, audit.CONTENT_WRITTEN, NOTE_OBJECT, [row.id], session.agreement_id)
    return _note(row, clean)


async def delete_note(db: AsyncSession, reader: Reader, note_id: uuid.UUID) -> uuid.UUID:
    """Delete one of the actor's notes for good; returns its session's id. Audited."""
    row = await _own_note(db, reader, note_id)
    session = await _session(db, row.session_id)
    await db.delete(row)
    await db.flush()
    await reader.audit(db, audit.CONTENT_DELETED, NOTE_OBJECT, [note_id], session.agreement_id)
    return session.id


async def notes_to_hand_over(db: AsyncSession, actor: Membership, agreement_id: uuid.UUID) -> int:
    """How many notes the actor keeps on an agreement's sessions (nothing is decrypted)."""
    if actor.role not in STAFF_ROLES:
        return 0
    count = await db.scalar(
        select(func.count())
        .select_from(SessionNote)
        .join(SupervisionSession, SupervisionSession.id == SessionNote.session_id)
        .where(
            SupervisionSession.agreement_id == agreement_id,
            SessionNote.author_membership_id == actor.id,
        )
    )
    return int(count or 0)


async def count_kept_notes(db: AsyncSession, actor: Membership) -> int:
    """How many notes the actor keeps in the whole firm (nothing is decrypted or audited)."""
    if actor.role not in STAFF_ROLES:
        return 0
    count = await db.scalar(
        select(func.count())
        .select_from(SessionNote)
        .where(SessionNote.author_membership_id == actor.id)
    )
    return int(count or 0)


async def export_kept_notes(db: AsyncSession, reader: Reader) -> list[dict[str, Any]]:
    """Every note the actor keeps, decrypted, as plain values for their own copy (the firm's
    zip, when its owner keeps notes): the session's time, agreement and organisation beside
    each text. Nobody else's notes, whatever the role; each note is audited as read
    (``content.read``, one context per agreement) in the caller's transaction."""
    actor = reader.actor
    if actor.role not in STAFF_ROLES:
        return []
    rows = (
        await db.execute(
            select(
                SessionNote,
                SupervisionSession.starts_at,
                SupervisionSession.agreement_id,
                Agreement.title,
                ClientOrg.name,
            )
            .join(SupervisionSession, SupervisionSession.id == SessionNote.session_id)
            .join(Agreement, Agreement.id == SupervisionSession.agreement_id)
            .join(ClientOrg, ClientOrg.id == Agreement.org_id)
            .where(SessionNote.author_membership_id == actor.id)
            .order_by(SupervisionSession.starts_at, SessionNote.created_at, SessionNote.id)
        )
    ).all()
    exported: list[dict[str, Any]] = []
    read_per_agreement: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row, starts_at, agreement_id, title, org_name in rows:
        if not permissions.can_read_session_note(actor, row.author_membership_id):
            continue  # cannot happen (the query is the keeper's own); refused all the same
        exported.append(
            {
                "session_starts_at": to_local(starts_at).isoformat(),
                "agreement": title,
                "organisation": org_name,
                "written_at": to_local(row.created_at).isoformat(),
                "edited_at": to_local(row.updated_at).isoformat(),
                "handed_over_at": (
                    to_local(row.handed_over_at).isoformat() if row.handed_over_at else None
                ),
                "text": reader.open(NOTE_BODY, row.id, row.body),
            }
        )
        read_per_agreement.setdefault(agreement_id, []).append(row.id)
    for agreement_id, note_ids in read_per_agreement.items():
        await reader.audit(db, audit.CONTENT_READ, NOTE_OBJECT, note_ids, agreement_id)
    return exported


async def hand_over_notes(
    db: AsyncSession, reader: Reader, agreement_id: uuid.UUID, recipient: Membership
) -> int:
    """Hand the actor's notes on an agreement's sessions to another of its supervisors.

    The recipient becomes their keeper and the actor stops reading them; each note remembers
    who wrote it and when it was handed over, and each gets a ``content.handed_over`` audit row.
    Returns how many notes moved (0 is refused with :class:`Invalid`).
    """
    actor = reader.actor
    supervisor_ids = set(
        await db.scalars(
            select(AgreementSupervisor.membership_id).where(
                AgreementSupervisor.agreement_id == agreement_id
            )
        )
    )
    if actor.id not in supervisor_ids and not await notes_to_hand_over(db, actor, agreement_id):
        raise NotFound("agreement")
    if not permissions.can_receive_handed_over_notes(actor, recipient, supervisor_ids):
        raise Invalid.field(
            "recipient", _("Notes can be handed over only to another supervisor of the agreement.")
        )
    rows = (
        await db.scalars(
            select(SessionNote)
            .join(SupervisionSession, SupervisionSession.id == SessionNote.session_id)
            .where(
                SupervisionSession.agreement_id == agreement_id,
                SessionNote.author_membership_id == actor.id,
            )
        )
    ).all()
    if not rows:
        raise Invalid.field("recipient", _("You have no notes on this agreement to hand over."))
    now = clock.now()
    for row in rows:
        row.handed_over_from = row.handed_over_from or actor.id
        row.handed_over_at = now
        row.author_membership_id = recipient.id
    await db.flush()
    await reader.audit(
        db, audit.CONTENT_HANDED_OVER, NOTE_OBJECT, [row.id for row in rows], agreement_id
    )
    return len(rows)
