"""Inquiries from the public directory: a prospective client asks the firm for supervision."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import i18n
from luotsi.platform.db import Base, TenantScoped, str_enum, utcnow
from luotsi.platform.i18n import N_
from luotsi.tenants.kinds import SupervisionKind


class InquiryStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    CONVERTED = "converted"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return i18n.gettext(_STATUS_LABELS[self])


_STATUS_LABELS = {
    InquiryStatus.NEW: N_("New"),
    InquiryStatus.CONTACTED: N_("Contacted"),
    InquiryStatus.CONVERTED: N_("Became a client"),
    InquiryStatus.CLOSED: N_("Closed"),
}


class Inquiry(TenantScoped, Base):
    """What the sender wrote, and how the firm is handling it.

    ``requested_profile_id`` (the supervisor page it came from) and ``assigned_membership_id``
    are plain ids, not foreign keys: a staff member may leave the firm while the inquiry, part
    of the firm's records, stays. They are resolved when shown; a missing one shows as a former
    staff member.
    """

    __tablename__ = "inquiries"

    organisation: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20), default="")  # E.164
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    kind: Mapped[SupervisionKind | None] = mapped_column(str_enum(SupervisionKind))
    message: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="fi")  # the sender's
    consent_at: Mapped[datetime]
    status: Mapped[InquiryStatus] = mapped_column(
        str_enum(InquiryStatus), default=InquiryStatus.NEW, index=True
    )
    requested_profile_id: Mapped[uuid.UUID | None]
    assigned_membership_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
