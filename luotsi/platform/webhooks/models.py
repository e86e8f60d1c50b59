"""The firm's webhook endpoints and the log of every delivery attempt to them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import Base, CodeSet, TenantScoped
from luotsi.platform.i18n import N_, LabelledEnum


class WebhookEvent(LabelledEnum):
    """What a firm may subscribe to; the value is the ``Luotsi-Event`` header and ``event``."""

    SESSION_PLANNED = "session_planned", N_("A session planned")
    SESSION_CANCELLED = "session_cancelled", N_("A session cancelled")
    SESSION_HELD = "session_held", N_("A session held")
    AGREEMENT_ACCEPTED = "agreement_accepted", N_("An agreement accepted")
    INVOICE_ISSUED = "invoice_issued", N_("An invoice issued")
    INVOICE_PAID = "invoice_paid", N_("An invoice paid")


# The test event of the settings page: sent to one endpoint whatever it subscribes to.
TEST_EVENT = "ping"


class WebhookEndpoint(TenantScoped, Base):
    """An HTTPS address of the firm's that receives the events it subscribes to, signed.

    The signing secret is kept as it is (HMAC needs it); it is shown once, when created or
    rotated, and never logged.
    """

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[frozenset[str]] = mapped_column(CodeSet, default=frozenset)
    secret: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    secret_rotated_at: Mapped[datetime | None]


class WebhookDelivery(TenantScoped, Base):
    """One attempt to deliver one event to one endpoint (a delivery id has 1-8 attempts)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_deliveries_tenant_endpoint_at", "tenant_id", "endpoint_id", "at"),
        Index("ix_webhook_deliveries_tenant_at", "tenant_id", "at"),
    )

    endpoint_id: Mapped[uuid.UUID]
    delivery_id: Mapped[uuid.UUID]  # the Luotsi-Delivery header: the same on every retry
    event: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no answer
    error: Mapped[str | None] = mapped_column(String(200))  # why it failed, no body
    # delivered, retrying (with next_retry_at) or failed (the last attempt)
    outcome: Mapped[str] = mapped_column(String(12))
    next_retry_at: Mapped[datetime | None]
