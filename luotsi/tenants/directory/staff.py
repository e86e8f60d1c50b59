"""Staff profiles, the firm's specialties, and where each supervisor works.

Every staff membership (owner, admin, supervisor) has one profile: the public face of the
person in the firm's directory and the facts the office uses to match a client with a
supervisor. Where someone works is a mix of municipalities, regions and the firm's own areas
(plus "remote, anywhere in Finland"); a search for a place finds everyone whose service area
contains it (see :func:`covering`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from luotsi.platform import clock, i18n, images, permissions, storage
from luotsi.platform.db import has_code
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, check_email
from luotsi.platform.paging import Page, paginate
from luotsi.platform.phones import normalise_phone
from luotsi.platform.search import contains, search_words
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role, active_member
from luotsi.tenants.directory.models import (
    STAFF_PROFILE_CARD,
    STAFF_PROFILE_WHOLE,
    FirmArea,
    FirmAreaPart,
    FirmProfile,
    Municipality,
    Qualification,
    Region,
    ServiceArea,
    Specialty,
    StaffProfile,
    StaffSpecialty,
    supervising_staff,
)
from luotsi.tenants.directory.regions import Place, named_places
from luotsi.tenants.kinds import SPOKEN_LANGUAGES, SupervisionKind

BIO_LANGUAGES = ("fi", "sv", "en")
MAX_BIO = 2000
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_SIZE = 600  # longest side of the stored photo, in pixels
PHOTO_RULES = images.ImageRules(
    field="photo",
    output="JPEG",
    max_side=PHOTO_SIZE,
    max_bytes=MAX_PHOTO_BYTES,
    missing=N_("Choose a photo to upload."),
    too_large=N_("The photo is too large; the limit is 5 MB."),
)


# --- who works where ------------------------------------------------------------------------


def covering(place: Place) -> ColumnElement[bool]:
    """Profiles whose service area meets ``place``.

    A municipality is found inside its region and inside every firm area that lists it or its
    region. A region search also finds those who work somewhere in it (one of its
    municipalities, or an area listing one), since they can serve clients there.
    """
    if place.kind == "municipality":
        region = select(Municipality.region_code).where(Municipality.code == place.code)
        part = or_(
            FirmAreaPart.municipality_code == place.code,
            FirmAreaPart.region_code.in_(region.scalar_subquery()),
        )
        direct = or_(
            ServiceArea.municipality_code == place.code,
            ServiceArea.region_code.in_(region.scalar_subquery()),
        )
    else:
        municipalities = select(Municipality.code).where(Municipality.region_code == place.code)
        part = or_(
            FirmAreaPart.region_code == place.code,
            FirmAreaPart.municipality_code.in_(municipalities),
        )
        direct = or_(
            ServiceArea.region_code == place.code,
            ServiceArea.municipality_code.in_(municipalities),
        )
    areas = select(FirmAreaPart.area_id).where(part)
    matching = select(ServiceArea.profile_id).where(
        or_(direct, ServiceArea.firm_area_id.in_(areas))
    )
    return StaffProfile.id.in_(matching)


@dataclass
class StaffFilter:
    """What the staff list and the public directory can be narrowed by; empty means all."""

    text: str = ""
    place: Place | None = None
    specialty_id: uuid.UUID | None = None
    kind: str = ""
    language: str = ""
    status: str = ""  # "active", "inactive" or "" (workspace only)
    public: bool = False  # only visible, active people (the public directory)

    def conditions(self) -> list[ColumnElement[bool]]:
        # Someone who has left the firm is on no list, public or internal.
        conditions: list[ColumnElement[bool]] = [
            StaffProfile.membership_id.in_(select(Membership.id).where(active_member()))
        ]
        if self.public:
            conditions += [
                StaffProfile.visible.is_(True),
                StaffProfile.active.is_(True),
                StaffProfile.membership_id.in_(select(Membership.id).where(supervising_staff())),
            ]
        elif self.status in ("active", "inactive"):
            conditions.append(StaffProfile.active.is_(self.status == "active"))
        for word in search_words(self.text):
            conditions.append(
                or_(contains(StaffProfile.display_name, word), contains(StaffProfile.title, word))
            )
        if self.place is not None:
            local = covering(self.place)
            conditions.append(or_(local, StaffProfile.remote_anywhere.is_(True)))
        if self.specialty_id is not None:
            conditions.append(
                StaffProfile.id.in_(
                    select(StaffSpecialty.profile_id).where(
                        StaffSpecialty.specialty_id == self.specialty_id
                    )
                )
            )
        if self.kind in {k.value for k in SupervisionKind}:
            conditions.append(has_code(StaffProfile.kinds, self.kind))
        if self.language in SPOKEN_LANGUAGES:
            conditions.append(has_code(StaffProfile.languages, self.language))
        return conditions


async def search_staff(
    db: AsyncSession, filters: StaffFilter, page: int = 1, per_page: int = 20
) -> Page[StaffProfile]:
    """Profiles matching ``filters``, people working locally before remote-only ones."""
    conditions = filters.conditions()
    order: list[Any] = [StaffProfile.display_name, StaffProfile.id]
    if filters.place is not None:
        order.insert(0, case((covering(filters.place), 0), else_=1))
    return await paginate(db, StaffProfile, conditions, order, page, per_page, STAFF_PROFILE_CARD)


# --- profiles -------------------------------------------------------------------------------


async def ensure_profiles(db: AsyncSession) -> None:
    """Give every staff member without a profile one, named as their account."""
    missing = await db.execute(
        select(Membership.id, User.name, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.role.in_(STAFF_ROLES),
            active_member(),
            Membership.id.not_in(select(StaffProfile.membership_id)),
        )
    )
    for membership_id, name, role in missing.tuples():
        supervises = role == Role.SUPERVISOR  # kept should they become an admin
        db.add(StaffProfile(membership_id=membership_id, display_name=name, supervises=supervises))
    await db.flush()


async def get_profile(db: AsyncSession, profile_id: uuid.UUID) -> StaffProfile:
    """A profile of someone still in the firm."""
    profile = await db.scalar(
        select(StaffProfile)
        .where(StaffProfile.id == profile_id, *StaffFilter().conditions())
        .options(*STAFF_PROFILE_WHOLE)
    )
    if profile is None:
        raise NotFound("profile")
    return profile


async def get_public_profile(db: AsyncSession, profile_id: uuid.UUID) -> StaffProfile:
    """A profile the public may see: visible and active, else not found."""
    profile = await db.scalar(
        select(StaffProfile)
        .where(StaffProfile.id == profile_id, *StaffFilter(public=True).conditions())
        .options(*STAFF_PROFILE_WHOLE)
    )
    if profile is None:
        raise NotFound("profile")
    return profile


def profile_id_of(membership_id: uuid.UUID) -> ScalarSelect[uuid.UUID]:
    """The id of a staff member's profile (None until it exists), as a scalar subquery."""
    return (
        select(StaffProfile.id).where(StaffProfile.membership_id == membership_id).scalar_subquery()
    )


def listed_in_directory(membership_id: uuid.UUID) -> ColumnElement[bool]:
    """Whether clients find the member's profile in the firm's public directory: shown and
    active, in a directory the firm has not switched off (a firm without a profile has it on)."""
    shown = select(StaffProfile.id).where(
        StaffProfile.membership_id == membership_id,
        StaffProfile.visible.is_(True),
        StaffProfile.active.is_(True),
    )
    enabled = select(FirmProfile.directory_enabled).scalar_subquery()
    return and_(shown.exists(), func.coalesce(enabled, true()).is_(True))


async def profile_of_membership(db: AsyncSession, membership_id: uuid.UUID) -> StaffProfile:
    profile = await db.scalar(
        select(StaffProfile)
        .where(StaffProfile.membership_id == membership_id)
        .options(*STAFF_PROFILE_WHOLE)
    )
    if profile is None:
        membership = await db.scalar(select(Membership).where(Membership.id == membership_id))
        if membership is None or not membership.is_staff or not membership.is_active:
            raise NotFound("profile")
        await ensure_profiles(db)
        return await profile_of_membership(db, membership_id)
    return profile


@dataclass
class ProfileInput:
    """A profile as submitted; :func:`save_profile` validates every part."""

    display_name: str = ""
    title: str = ""
    phone: str = ""
    public_email: str = ""
    bio_fi: str = ""
    bio_sv: str = ""
    bio_en: str = ""
    languages: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    qualifications: list[tuple[str, str]] = field(default_factory=list)  # (name, year)
    place_keys: list[str] = field(default_factory=list)  # r01, m106, a<uuid>
    place_names: str = ""  # more places by name, comma-separated: "Hyvinkää, Tusby"
    remote_anywhere: bool = False
    specialty_ids: list[str] = field(default_factory=list)
    visible: bool = False
    active: bool = True
    supervises: bool = False  # an owner's or admin's own clients (supervisors always have them)


def _check_text(errors: dict[str, str], name: str, value: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        errors[name] = i18n.too_long(limit)
    return value


async def save_profile(
    db: AsyncSession, actor: Membership, profile: StaffProfile, data: ProfileInput
) -> StaffProfile:
    if not permissions.can_edit_staff_profile(actor, profile.membership):
        raise Forbidden("profile")
    errors: dict[str, str] = {}
    display_name = _check_text(errors, "display_name", data.display_name, 120)
    if not display_name:
        errors["display_name"] = _("Enter the name shown to clients.")
    title = _check_text(errors, "title", data.title, 160)
    bios = {
        lang: _check_text(errors, f"bio_{lang}", getattr(data, f"bio_{lang}"), MAX_BIO)
        for lang in BIO_LANGUAGES
    }
    phone = email = ""
    try:
        phone = normalise_phone(data.phone)
    except Invalid as exc:
        errors.update(exc.errors)
    if data.public_email.strip():
        try:
            email = check_email(data.public_email, "public_email")
        except Invalid as exc:
            errors.update(exc.errors)
    languages = set(data.languages)
    kinds = set(data.kinds)
    if not languages <= set(SPOKEN_LANGUAGES):
        errors["languages"] = _("Choose languages from the list.")
    if not kinds <= {k.value for k in SupervisionKind}:
        errors["kinds"] = _("Choose forms of supervision from the list.")
    qualifications = _check_qualifications(errors, data.qualifications)
    named = [place.key for place in named_places(errors, "place_names", data.place_names)]
    areas = await _check_places(db, errors, data.place_keys + named)
    specialty_ids = await _check_specialties(db, errors, data.specialty_ids)
    if errors:
        raise Invalid(errors)

    profile.display_name = display_name
    profile.title = title
    profile.phone = phone
    profile.public_email = email
    profile.bio_fi, profile.bio_sv, profile.bio_en = bios["fi"], bios["sv"], bios["en"]
    profile.languages = frozenset(languages)
    profile.kinds = frozenset(kinds)
    profile.remote_anywhere = data.remote_anywhere
    profile.visible = data.visible
    profile.active = data.active
    if profile.membership.role != Role.SUPERVISOR:  # a supervisor's clients stay theirs
        profile.supervises = data.supervises
    profile.qualifications = qualifications
    profile.areas = areas
    # Keep the links that stay: a flush inserts before it deletes, and a link is unique.
    kept = [link for link in profile.specialty_links if link.specialty_id in specialty_ids]
    kept_ids = {link.specialty_id for link in kept}
    profile.specialty_links = kept + [
        StaffSpecialty(specialty_id=s) for s in specialty_ids if s not in kept_ids
    ]
    await db.flush()
    return profile


def _check_qualifications(
    errors: dict[str, str], rows: list[tuple[str, str]]
) -> list[Qualification]:
    this_year = clock.now().year
    result: list[Qualification] = []
    for name, year_text in rows:
        name, year_text = name.strip(), year_text.strip()
        if not name and not year_text:
            continue
        if not name or len(name) > 160:
            errors["qualifications"] = _(
                "Each qualification needs a name (at most 160 characters)."
            )
            continue
        year = None
        if year_text:
            if not year_text.isdigit() or not 1950 <= int(year_text) <= this_year:
                errors["qualifications"] = _("A year is written like 2015.")
                continue
            year = int(year_text)
        result.append(Qualification(name=name, year=year, position=len(result)))
    if len(result) > 20:
        errors["qualifications"] = _("List at most 20 qualifications.")
    return result


async def _check_places(
    db: AsyncSession, errors: dict[str, str], keys: list[str]
) -> list[ServiceArea]:
    regions = {k[1:] for k in keys if k[:1] == "r"}
    municipalities = {k[1:] for k in keys if k[:1] == "m"}
    area_ids: set[uuid.UUID] = set()
    bad = [k for k in keys if k[:1] not in ("r", "m", "a")]
    for key in keys:
        if key[:1] == "a":
            try:
                area_ids.add(uuid.UUID(key[1:]))
            except ValueError:
                bad.append(key)
    known_regions = set(await db.scalars(select(Region.code).where(Region.code.in_(regions))))
    known_municipalities = set(
        await db.scalars(select(Municipality.code).where(Municipality.code.in_(municipalities)))
    )
    known_areas = set(await db.scalars(select(FirmArea.id).where(FirmArea.id.in_(area_ids))))
    if (
        bad
        or regions - known_regions
        or municipalities - known_municipalities
        or area_ids - known_areas
    ):
        errors["places"] = _("Choose places from the list.")
        return []
    return (
        [ServiceArea(region_code=c) for c in sorted(regions)]
        + [ServiceArea(municipality_code=c) for c in sorted(municipalities)]
        + [ServiceArea(firm_area_id=a) for a in sorted(area_ids)]
    )


async def _check_specialties(
    db: AsyncSession, errors: dict[str, str], values: list[str]
) -> list[uuid.UUID]:
    try:
        ids = {uuid.UUID(v) for v in values}
    except ValueError:
        errors["specialties"] = _("Choose specialties from the list.")
        return []
    known = set(await db.scalars(select(Specialty.id).where(Specialty.id.in_(ids))))
    if ids - known:
        errors["specialties"] = _("Choose specialties from the list.")
    return sorted(ids & known)


# --- photos ---------------------------------------------------------------------------------


def reencode_photo(data: bytes) -> bytes:
    """A checked, re-encoded JPEG of an uploaded portrait, without its metadata
    (:func:`luotsi.platform.images.reencode`). Blocking: see :func:`set_photo`."""
    return images.reencode(data, PHOTO_RULES)


async def set_photo(
    db: AsyncSession, files: FileStore, actor: Membership, profile: StaffProfile, data: bytes
) -> None:
    """Store ``data`` as the profile's photo, checked and re-encoded in an image thread.

    The new photo is a new file; the one it replaces is deleted once this is committed.
    """
    if not permissions.can_edit_staff_profile(actor, profile.membership):
        raise Forbidden("profile")
    photo = await images.reencode_in_thread(data, PHOTO_RULES)
    files.delete_after_commit(db, profile.photo_key)
    profile.photo_key = await files.put(db, profile.tenant_id, storage.PHOTOS, photo, ".jpg")
    profile.photo_updated_at = clock.now()
    await db.flush()


async def remove_photo(
    db: AsyncSession, files: FileStore, actor: Membership, profile: StaffProfile
) -> None:
    """The profile shows no photo; its file is deleted once this is committed."""
    if not permissions.can_edit_staff_profile(actor, profile.membership):
        raise Forbidden("profile")
    files.delete_after_commit(db, profile.photo_key)
    profile.photo_key = None
    profile.photo_updated_at = None
    await db.flush()


async def photo_bytes(files: FileStore, profile: StaffProfile) -> bytes:
    """The profile's photo (JPEG); :class:`NotFound` when it has none."""
    if profile.photo_key is None:
        raise NotFound("photo")
    return await files.get(profile.tenant_id, profile.photo_key)


# --- specialties ----------------------------------------------------------------------------


async def list_specialties(db: AsyncSession) -> list[tuple[Specialty, int]]:
    """The firm's specialties with how many people have each."""
    count = (
        select(func.count())
        .select_from(StaffSpecialty)
        .where(StaffSpecialty.specialty_id == Specialty.id)
        .correlate(Specialty)
        .scalar_subquery()
    )
    rows = await db.execute(select(Specialty, count).order_by(func.lower(Specialty.name)))
    return [(s, n) for s, n in rows.tuples()]


async def get_specialty(db: AsyncSession, specialty_id: uuid.UUID) -> Specialty:
    specialty = await db.scalar(select(Specialty).where(Specialty.id == specialty_id))
    if specialty is None:
        raise NotFound("specialty")
    return specialty


async def _check_specialty_name(
    db: AsyncSession, name: str, except_id: uuid.UUID | None = None
) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid.field("name", _("Enter a name for the specialty."))
    if len(name) > 80:
        raise Invalid.field("name", i18n.too_long(80))
    clash = await db.scalar(
        select(Specialty.id).where(
            func.lower(Specialty.name) == name.lower(),
            Specialty.id != (except_id or uuid.uuid4()),
        )
    )
    if clash:
        raise Invalid.field("name", _("The firm already has this specialty."))
    return name


async def create_specialty(db: AsyncSession, actor: Membership, name: str) -> Specialty:
    if not permissions.can_manage_specialties(actor):
        raise Forbidden("specialties")
    specialty = Specialty(name=await _check_specialty_name(db, name))
    db.add(specialty)
    await db.flush()
    return specialty


async def rename_specialty(
    db: AsyncSession, actor: Membership, specialty_id: uuid.UUID, name: str
) -> Specialty:
    if not permissions.can_manage_specialties(actor):
        raise Forbidden("specialties")
    specialty = await get_specialty(db, specialty_id)
    specialty.name = await _check_specialty_name(db, name, specialty.id)
    await db.flush()
    return specialty


async def merge_specialty(
    db: AsyncSession, actor: Membership, source_id: uuid.UUID, target_id: uuid.UUID
) -> Specialty:
    """Fold ``source`` into ``target``: everyone with either keeps ``target``; source goes."""
    if not permissions.can_manage_specialties(actor):
        raise Forbidden("specialties")
    source = await get_specialty(db, source_id)
    try:
        target = await get_specialty(db, target_id)
    except NotFound:
        raise Invalid.field("target", _("Choose the specialty to merge into.")) from None
    if source.id == target.id:
        raise Invalid.field("target", _("Choose a different specialty to merge into."))
    links = list(
        await db.scalars(select(StaffSpecialty).where(StaffSpecialty.specialty_id == source.id))
    )
    having_target = set(
        await db.scalars(
            select(StaffSpecialty.profile_id).where(StaffSpecialty.specialty_id == target.id)
        )
    )
    for link in links:
        if link.profile_id in having_target:
            await db.delete(link)
        else:
            link.specialty_id = target.id
    await db.flush()
    await db.delete(source)
    await db.flush()
    return target


async def delete_specialty(db: AsyncSession, actor: Membership, specialty_id: uuid.UUID) -> None:
    if not permissions.can_manage_specialties(actor):
        raise Forbidden("specialties")
    specialty = await get_specialty(db, specialty_id)
    for link in await db.scalars(
        select(StaffSpecialty).where(StaffSpecialty.specialty_id == specialty.id)
    ):
        await db.delete(link)
    await db.flush()  # links first: the unit of work does not order them before the specialty
    await db.delete(specialty)
    await db.flush()
