"""Client organisations and their people: HR contacts, managers and supervisees.

An organisation buys supervision; its HR contacts may sign in to a portal (a membership with
role ``client_contact``, bound to the organisation through their person record), its managers
are contact records, and its supervisees are the people in supervision. Records with history
are archived, never deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from luotsi.platform import clock
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.platform.members import Invitation  # noqa: F401  (the table its keys name)
from luotsi.platform.phones import format_phone
from luotsi.platform.search import trigram_index


class OrgType(LabelledEnum):
    MUNICIPALITY = "municipality", N_("Municipality")
    WELLBEING_COUNTY = "wellbeing_county", N_("Wellbeing services county")
    COMPANY = "company", N_("Company")
    ASSOCIATION = "association", N_("Association")
    OTHER = "other", N_("Other")


class PersonRole(LabelledEnum):
    HR_CONTACT = "hr_contact", N_("HR contact")
    MANAGER = "manager", N_("Manager")
    SUPERVISEE = "supervisee", N_("Supervisee")


class ClientOrg(TenantScoped, Base):
    """An organisation that buys supervision from the firm."""

    __tablename__ = "client_orgs"
    __table_args__ = (
        Index("ix_client_orgs_tenant_name", "tenant_id", "name"),
        Index("ix_client_orgs_tenant_created", "tenant_id", "created_at", "id"),  # the API's list
        trigram_index("client_orgs", "name"),
    )

    name: Mapped[str] = mapped_column(String(200))
    business_id: Mapped[str] = mapped_column(String(9), default="")  # Y-tunnus, 1234567-8
    org_type: Mapped[OrgType] = mapped_column(str_enum(OrgType), default=OrgType.COMPANY)
    billing_street: Mapped[str] = mapped_column(String(200), default="")
    billing_postal_code: Mapped[str] = mapped_column(String(10), default="")
    billing_city: Mapped[str] = mapped_column(String(100), default="")
    einvoice_address: Mapped[str] = mapped_column(String(35), default="")  # OVT / EDI code
    einvoice_operator: Mapped[str] = mapped_column(String(35), default="")  # operator id/BIC
    invoice_email: Mapped[str] = mapped_column(String(254), default="")
    invoice_language: Mapped[str] = mapped_column(String(2), default="fi")
    payment_term_days: Mapped[int] = mapped_column(default=14)
    internal_notes: Mapped[str] = mapped_column(Text, default="")  # the firm's, never the client's
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def postal_line(self) -> str:
        return " ".join(p for p in (self.billing_postal_code, self.billing_city) if p)


class ClientPerson(TenantScoped, Base):
    """A person of a client organisation in one role.

    ``membership_id`` is the person's login in this firm (an HR contact's portal account, or a
    supervisee's); a login that ends is deactivated, never deleted, so the reference stays real.
    """

    __tablename__ = "client_people"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "org_id"], ["client_orgs.tenant_id", "client_orgs.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        # Invitations are revoked, never deleted: no ON DELETE needed (see docs/decisions.md).
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"], ["invitations.tenant_id", "invitations.id"]
        ),
        Index("ix_client_people_tenant_org", "tenant_id", "org_id"),
        Index("ix_client_people_tenant_created", "tenant_id", "created_at", "id"),  # the API's
        # Who a portal login speaks for.
        Index("ix_client_people_tenant_membership", "tenant_id", "membership_id"),
        trigram_index("client_people", "name"),
        trigram_index("client_people", "email"),
    )

    org_id: Mapped[uuid.UUID]
    role: Mapped[PersonRole] = mapped_column(str_enum(PersonRole))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")  # E.164
    title: Mapped[str] = mapped_column(String(160), default="")
    membership_id: Mapped[uuid.UUID | None]
    # The person's pending portal invitation: when its invitee accepts, the new membership is
    # bound here (see :func:`portal_access`).
    invitation_id: Mapped[uuid.UUID | None]
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    org: Mapped[ClientOrg] = relationship(lazy="raise", viewonly=True)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)


# --- checking what people type --------------------------------------------------------------
