"""Who may touch which content, the audit of every touch, and text checks.

The rules (each a named function in :mod:`luotsi.platform.permissions`):

- a session note is its keeper's alone (:mod:`.notes`);
- an agreement's shared content (assignments, goals, evaluations, the limits of
  confidentiality) is seen by the agreement's own supervisors and its supervisees; what
  belongs to one supervisee (their own goals, their responses and evaluations, an assignment
  set for them alone) only by that supervisee among the group;
- nobody else, whatever their role: owners, admins, other supervisors, HR contacts,
  managers and platform operators get :class:`NotFound`, the answer for what does not exist.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from luotsi.platform import audit, i18n, permissions
from luotsi.platform.crypto import ContentCipher, MasterKeys
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    Agreement,
    AgreementStatus,
)
from luotsi.tenants.clients import logins
from luotsi.tenants.content.models import EncryptedField

TEXT_MAX_CHARS = 20_000
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(
    raw: str, field: str = "text", *, required: bool = True, max_chars: int = TEXT_MAX_CHARS
) -> str:
    """Plain text with paragraphs: line breaks kept, other control characters refused."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text and required:
        raise Invalid.field(field, _("Write the text first."))
    if len(text) > max_chars:
        raise Invalid.field(field, i18n.too_long(max_chars))
    if _CONTROL_RE.search(text):
        raise Invalid.field(field, _("Remove the control characters from the text."))
    return text


@dataclass
class Reader:
    """The acting principal with what reading content needs: its keys and its origin."""

    actor: Membership
    keys: MasterKeys
    origin: audit.Origin = field(default_factory=lambda: audit.Origin(ip="", user_agent=""))
    _name: str | None = None

    @property
    def cipher(self) -> ContentCipher:
        return ContentCipher(self.keys)

    async def name(self, db: AsyncSession) -> str:
        """The actor's name for the audit (given by a caller that knows it, else looked up)."""
        if self._name is None:
            self._name = await db.scalar(select(User.name).where(User.id == self.actor.user_id))
            self._name = self._name or ""
        return self._name

    async def audit(
        self,
        db: AsyncSession,
        action: str,
        object_type: str,
        object_ids: Iterable[uuid.UUID],
        context_id: uuid.UUID | None,
    ) -> None:
        """Audit the pieces of content touched; ids and codes only, never the text.

        What one transaction (a page view, a form sent) touches goes into one row per action,
        listing every piece with ``context_id`` as whose record it is
        (:func:`luotsi.platform.audit.record_items`), written at the commit."""
        audit.record_items(
            db,
            action,
            [(object_type, object_id, context_id) for object_id in object_ids],
            actor_user_id=self.actor.user_id,
            actor_name=await self.name(db),
            tenant_id=self.actor.tenant_id,
            ip=self.origin["ip"],
            user_agent=self.origin["user_agent"],
        )

    def seal(self, spec: EncryptedField, row_id: uuid.UUID, text: str) -> tuple[bytes, int]:
        """Ciphertext of ``text`` for one row's field, and the key version used."""
        cipher = self.cipher
        blob = cipher.encrypt(text, spec.binding(self.actor.tenant_id, row_id))
        return blob, cipher.current_version

    def open(self, spec: EncryptedField, row_id: uuid.UUID, blob: bytes) -> str:
        return self.cipher.decrypt(blob, spec.binding(self.actor.tenant_id, row_id))


@dataclass(frozen=True)
class Access:
    """What one principal may do with one agreement's shared content."""

    agreement: Agreement
    person_id: uuid.UUID | None  # the acting supervisee; None for one of its supervisors
    supervisee_ids: frozenset[uuid.UUID]

    @property
    def is_supervisor(self) -> bool:
        return self.person_id is None

    def sees(self, item_person_id: uuid.UUID | None) -> bool:
        """Whether an item of one supervisee (None: of everyone on the agreement) is visible."""
        return self.person_id is None or item_person_id in (None, self.person_id)

    def check_writable(self) -> None:
        """Refuse new content once the retention rule has erased the agreement's content (it
        would never be erased again)."""
        check_not_erased(self.agreement)

    def context_for(self, item_person_id: uuid.UUID | None) -> uuid.UUID:
        """The audit context: the supervisee an item belongs to, else the agreement."""
        return item_person_id if item_person_id is not None else self.agreement.id


def check_not_erased(agreement: Agreement) -> None:
    if agreement.content_erased_at is not None:
        raise Invalid.field(
            "agreement",
            _("This agreement's content was erased under the firm's retention rule."),
        )


_PARTIES = ("org", "supervisors", "supervisees", "manager", "hr_contact")


async def _agreement_with_parties(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> Agreement | None:
    """The agreement with its parties: the one the request already loaded whole (the page
    that shows its content did), else loaded now."""
    key = identity_key(Agreement, (actor.tenant_id, agreement_id))
    known = db.identity_map.get(key)
    if isinstance(known, Agreement) and not inspect(known).unloaded & set(_PARTIES):
        return known
    query = select(Agreement).where(Agreement.id == agreement_id).options(*AGREEMENT_WHOLE)
    return (await db.scalars(query)).unique().one_or_none()


async def agreement_access(db: AsyncSession, actor: Membership, agreement_id: uuid.UUID) -> Access:
    """The actor's access to an agreement's shared content; :class:`NotFound` when none."""
    agreement = await _agreement_with_parties(db, actor, agreement_id)
    if agreement is None:
        raise NotFound("agreement")
    supervisor_ids = {s.membership_id for s in agreement.supervisors}
    supervisee_ids = frozenset(s.person_id for s in agreement.supervisees)
    if permissions.can_work_with_shared_content(actor, supervisor_ids):
        return Access(agreement, None, supervisee_ids)
    if permissions.can_use_supervisee_portal(actor) and agreement.status != AgreementStatus.DRAFT:
        person = await logins.person_of_login(db, actor)
        if (
            person is not None
            and not person.is_archived
            and not person.org.is_archived  # a current supervisee, as in their portal
            and permissions.can_share_content_as_supervisee(actor, person.id, supervisee_ids)
        ):
            return Access(agreement, person.id, supervisee_ids)
    raise NotFound("agreement")
