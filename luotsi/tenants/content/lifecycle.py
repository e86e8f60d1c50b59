"""Content over time: key rotation, and erasure when the firm's retention period has passed.

Each firm sets how long content is kept after an agreement ends
(``Tenant.content_retention_months``, two years unless changed). The worker's
``content_retention`` job erases the content of every agreement ended longer ago than that:
the ciphertext rows are deleted, the agreement remembers when (``content_erased_at``) and one
``content.erased`` audit row stays. Dates, sessions and invoices are not content and stay.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform import audit
from luotsi.platform.crypto import ContentCipher, MasterKeys
from luotsi.platform.db import inline, tenant_session, unscoped_session
from luotsi.platform.jobs import JobContext, claimed, scheduled
from luotsi.platform.tenancy import Tenant
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.content.models import (
    ENCRYPTED_FIELDS,
    Assignment,
    AssignmentResponse,
    ConfidentialityLimits,
    EncryptedField,
    Evaluation,
    Goal,
    SessionNote,
)
from luotsi.tenants.sessions.models import SupervisionSession

AGREEMENT_OBJECT = "agreement"


async def erase_agreement_content(db: AsyncSession, agreement_id: uuid.UUID) -> int:
    """Delete every piece of content of one agreement; returns how many rows went."""
    sessions = select(SupervisionSession.id).where(SupervisionSession.agreement_id == agreement_id)
    assignments = select(Assignment.id).where(Assignment.agreement_id == agreement_id)
    statements = [
        delete(AssignmentResponse).where(AssignmentResponse.assignment_id.in_(assignments)),
        delete(Assignment).where(Assignment.agreement_id == agreement_id),
        delete(Evaluation).where(Evaluation.agreement_id == agreement_id),
        delete(Goal).where(Goal.agreement_id == agreement_id),
        delete(ConfidentialityLimits).where(ConfidentialityLimits.agreement_id == agreement_id),
        delete(SessionNote).where(SessionNote.session_id.in_(sessions)),
    ]
    erased = 0
    for statement in statements:
        result = await db.execute(statement.execution_options(synchronize_session=False))
        erased += int(getattr(result, "rowcount", 0) or 0)
    return erased


def retention_cutoff(months: int, now: datetime) -> datetime:
    """Agreements that ended before this moment have had their content kept ``months``."""
    return now - relativedelta(months=months)


@scheduled("content_retention", 6 * 3600)
async def erase_expired_content(job: JobContext) -> int:
    """Erase the content of the firm's agreements that ended more than the retention ago.

    Returns how many agreements were erased. Each gets ``content_erased_at`` and one audit
    row (``content.erased``, no actor: the firm's retention rule did it). The agreements
    still to erase have an index of their own (``ix_agreements_tenant_ended_unerased``).
    """
    db, tenant, now = job.db, job.tenant, job.now
    query = select(Agreement).where(
        Agreement.status == inline(AgreementStatus.ENDED),
        Agreement.content_erased_at.is_(None),
        Agreement.status_changed_at < retention_cutoff(tenant.content_retention_months, now),
    )
    due = list((await db.scalars(claimed(db, query, Agreement))).unique())
    for agreement in due:
        await erase_agreement_content(db, agreement.id)
        agreement.content_erased_at = now
        await audit.record(
            db,
            audit.CONTENT_ERASED,
            actor_user_id=None,
            actor_name="",
            object_type=AGREEMENT_OBJECT,
            object_id=agreement.id,
            context_id=agreement.id,
        )
    await db.flush()
    return len(due)


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
