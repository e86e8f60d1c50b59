"""The directory's tables: regions and firm areas, staff profiles, the firm's public
profile, inquiries. The services are beside this module, one per subject.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship, selectinload

from luotsi.platform import clock, i18n
from luotsi.platform.db import Base, CodeSet, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.platform.phones import format_phone
from luotsi.platform.search import trigram_index
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.kinds import SPOKEN_LANGUAGES, SupervisionKind

# --- regions -------------------------------------------------------------------------------------


class Region(Base):
    """A maakunta. Global reference data."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name_fi: Mapped[str] = mapped_column(String(80))
    name_sv: Mapped[str] = mapped_column(String(80))

    def name(self, language: str | None = None) -> str:
        return self.name_sv if (language or i18n.current_language()) == "sv" else self.name_fi


class Municipality(Base):
    """A kunta, inside exactly one region. Global reference data."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_fi: Mapped[str] = mapped_column(String(80), index=True)
    name_sv: Mapped[str] = mapped_column(String(80), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)

    region: Mapped[Region] = relationship(lazy="raise")

    def name(self, language: str | None = None) -> str:
        return self.name_sv if (language or i18n.current_language()) == "sv" else self.name_fi


class FirmArea(TenantScoped, Base):
    """A firm's own area: any set of regions and municipalities."""

    __tablename__ = "firm_areas"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    parts: Mapped[list[FirmAreaPart]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="FirmAreaPart.id"
    )


class FirmAreaPart(TenantScoped, Base):
    """One region or one municipality inside a firm area."""

    __tablename__ = "firm_area_parts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "area_id"], ["firm_areas.tenant_id", "firm_areas.id"], ondelete="CASCADE"
        ),
        UniqueConstraint(
            "tenant_id",
            "area_id",
            "region_code",
            "municipality_code",
            name="uq_firm_area_parts_part",
        ),
        CheckConstraint("(region_code IS NULL) <> (municipality_code IS NULL)", name="one_place"),
    )

    area_id: Mapped[uuid.UUID]  # found through uq_firm_area_parts_part (tenant_id, area_id, …)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))


# --- staff ---------------------------------------------------------------------------------------


class Specialty(TenantScoped, Base):
    """One word of the firm's own vocabulary ("workplace mediation", "social work")."""

    __tablename__ = "specialties"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class StaffProfile(TenantScoped, Base):
    __tablename__ = "staff_profiles"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "membership_id"),
        trigram_index("staff_profiles", "display_name"),
    )

    membership_id: Mapped[uuid.UUID]
    display_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(160), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")  # E.164
    public_email: Mapped[str] = mapped_column(String(254), default="")
    bio_fi: Mapped[str] = mapped_column(Text, default="")
    bio_sv: Mapped[str] = mapped_column(Text, default="")
    bio_en: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[frozenset[str]] = mapped_column(CodeSet, default=frozenset)
    kinds: Mapped[frozenset[str]] = mapped_column(CodeSet, default=frozenset)
    remote_anywhere: Mapped[bool] = mapped_column(default=False)
    visible: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # An owner or admin who takes clients too (supervisors always do): see staff.supervising().
    supervises: Mapped[bool] = mapped_column(default=False)
    photo_key: Mapped[str | None] = mapped_column(String(120))  # JPEG (platform.storage)
    photo_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    membership: Mapped[Membership] = relationship(lazy="raise", viewonly=True)
    specialty_links: Mapped[list[StaffSpecialty]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )
    qualifications: Mapped[list[Qualification]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Qualification.position"
    )
    areas: Mapped[list[ServiceArea]] = relationship(lazy="raise", cascade="all, delete-orphan")

    @property
    def specialties(self) -> list[Specialty]:
        return sorted((link.specialty for link in self.specialty_links), key=lambda s: s.name)

    @property
    def has_photo(self) -> bool:
        return self.photo_updated_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def kind_list(self) -> list[SupervisionKind]:
        return [k for k in SupervisionKind if k.value in self.kinds]

    @property
    def language_list(self) -> list[str]:
        return [code for code in SPOKEN_LANGUAGES if code in self.languages]

    def bio(self, language: str) -> str:
        """The bio in ``language``, else the first one written."""
        texts = {"fi": self.bio_fi, "sv": self.bio_sv, "en": self.bio_en}
        return texts.get(language) or next((t for t in texts.values() if t), "")


def supervising_staff() -> ColumnElement[bool]:
    """SQL condition on :class:`Membership`: the member takes clients. Supervisors always do;
    an owner or admin when their profile says so (a one-person firm's owner, say). Only they
    are offered where an agreement's supervisors are chosen and shown in the public directory.
    """
    return or_(
        Membership.role == Role.SUPERVISOR,
        Membership.id.in_(
            select(StaffProfile.membership_id).where(StaffProfile.supervises.is_(True))
        ),
    )


class StaffSpecialty(TenantScoped, Base):
    __tablename__ = "staff_specialties"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "specialty_id"],
            ["specialties.tenant_id", "specialties.id"],
            ondelete="CASCADE",
        ),
        # A profile's specialties through the unique constraint, a specialty's holders here.
        UniqueConstraint("tenant_id", "profile_id", "specialty_id"),
        Index("ix_staff_specialties_tenant_specialty", "tenant_id", "specialty_id"),
    )

    profile_id: Mapped[uuid.UUID]
    specialty_id: Mapped[uuid.UUID]

    specialty: Mapped[Specialty] = relationship(lazy="raise", viewonly=True)


class Qualification(TenantScoped, Base):
    """A qualification as the person states it ("Certified supervisor (STOry)", 2015)."""

    __tablename__ = "qualifications"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            ondelete="CASCADE",
        ),
        Index("ix_qualifications_tenant_profile", "tenant_id", "profile_id"),
    )

    profile_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(160))
    year: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)


class ServiceArea(TenantScoped, Base):
    """One place a supervisor works in: a region, a municipality or one of the firm's areas."""

    __tablename__ = "service_areas"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "firm_area_id"],
            ["firm_areas.tenant_id", "firm_areas.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(
            "CASE WHEN region_code IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN municipality_code IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN firm_area_id IS NULL THEN 0 ELSE 1 END = 1",
            name="one_place",
        ),
        Index("ix_service_areas_tenant_profile", "tenant_id", "profile_id"),
    )

    profile_id: Mapped[uuid.UUID]
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    firm_area_id: Mapped[uuid.UUID | None]

    firm_area: Mapped[FirmArea | None] = relationship(lazy="raise", viewonly=True)

    @property
    def key(self) -> str:
        if self.region_code:
            return f"r{self.region_code}"
        if self.municipality_code:
            return f"m{self.municipality_code}"
        return f"a{self.firm_area_id}"


# --- working hours and absences ------------------------------------------------------------------


class WorkingHours(TenantScoped, Base):
    """One weekday of a staff member's own week. Someone with no rows works the firm's usual
    week (:class:`FirmWorkingHours`); someone with rows works on those weekdays only."""

    __tablename__ = "working_hours"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "membership_id", "weekday"),
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    membership_id: Mapped[uuid.UUID]
    weekday: Mapped[int]  # 0 Monday ... 6 Sunday
    starts_at: Mapped[time]  # Helsinki wall-clock time
    ends_at: Mapped[time]


class FirmWorkingHours(TenantScoped, Base):
    """One weekday of the firm's usual week: the hours of everyone who has not set their own.
    A firm with no rows works :data:`luotsi.tenants.directory.hours.DEFAULT_WEEK`."""

    __tablename__ = "firm_working_hours"
    __table_args__ = (
        UniqueConstraint("tenant_id", "weekday"),
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    weekday: Mapped[int]  # 0 Monday ... 6 Sunday
    starts_at: Mapped[time]  # Helsinki wall-clock time
    ends_at: Mapped[time]


class AbsenceKind(LabelledEnum):
    HOLIDAY = "holiday", N_("Holiday")
    SICK_LEAVE = "sick_leave", N_("Sick leave")
    OTHER = "other", N_("Other absence")


class Absence(TenantScoped, Base):
    """Days a staff member is away, first and last day included. The note is read only by
    the person and the firm's office (:func:`luotsi.platform.permissions.can_keep_working_hours`);
    planning and calendars see only that the person is away."""

    __tablename__ = "absences"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        # One person's absences by date, and everyone's over a calendar's days.
        Index("ix_absences_tenant_membership_starts", "tenant_id", "membership_id", "starts_on"),
    )

    membership_id: Mapped[uuid.UUID]
    kind: Mapped[AbsenceKind] = mapped_column(str_enum(AbsenceKind))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- public --------------------------------------------------------------------------------------


class FirmProfile(TenantScoped, Base):
    """One row per firm: what the public directory says about it."""

    __tablename__ = "firm_profiles"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    description_fi: Mapped[str] = mapped_column(Text, default="")
    description_sv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    public_email: Mapped[str] = mapped_column(String(254), default="")
    public_phone: Mapped[str] = mapped_column(String(20), default="")  # E.164
    directory_enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def description(self, language: str) -> str:
        texts = {"fi": self.description_fi, "sv": self.description_sv, "en": self.description_en}
        return texts.get(language) or next((t for t in texts.values() if t), "")


# --- inquiries -----------------------------------------------------------------------------------


class InquiryStatus(LabelledEnum):
    NEW = "new", N_("New")
    CONTACTED = "contacted", N_("Contacted")
    CONVERTED = "converted", N_("Became a client")
    CLOSED = "closed", N_("Closed")


class Inquiry(TenantScoped, Base):
    """What the sender wrote, and how the firm is handling it.

    ``requested_profile_id`` (the supervisor page it came from) and ``assigned_membership_id``
    stay real references when a staff member leaves: memberships are deactivated, never
    deleted, and a profile goes only with its membership.
    """

    __tablename__ = "inquiries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requested_profile_id"], ["staff_profiles.tenant_id", "staff_profiles.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "assigned_membership_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        # The inbox, newest first: everything, one status, or one staff member's.
        Index("ix_inquiries_tenant_created", "tenant_id", "created_at"),
        Index("ix_inquiries_tenant_status_created", "tenant_id", "status", "created_at"),
        Index(
            "ix_inquiries_tenant_assigned_created",
            "tenant_id",
            "assigned_membership_id",
            "created_at",
        ),
    )

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
        str_enum(InquiryStatus), default=InquiryStatus.NEW
    )
    requested_profile_id: Mapped[uuid.UUID | None]
    assigned_membership_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


# --- what a query loads (every relationship is lazy="raise": a query names what it needs) ---

FIRM_AREA_WHOLE = (selectinload(FirmArea.parts),)
"""A firm area with its regions and municipalities."""

STAFF_PROFILE_CARD = (
    joinedload(StaffProfile.membership).joinedload(Membership.user),
    selectinload(StaffProfile.specialty_links).joinedload(StaffSpecialty.specialty),
    selectinload(StaffProfile.areas).joinedload(ServiceArea.firm_area),
)
"""A staff profile with its account, specialties and service areas (a firm's area with its
name): what its card in a list shows (a constant number of statements for any number of
them)."""

STAFF_PROFILE_WHOLE = (*STAFF_PROFILE_CARD, selectinload(StaffProfile.qualifications))
"""A staff profile with its qualifications too: what its own page and form show."""
