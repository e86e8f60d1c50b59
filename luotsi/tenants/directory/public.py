"""The firm's public face: its description in the directory at ``/f/{slug}/``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.identity import check_email
from luotsi.platform.phones import normalise_phone
from luotsi.platform.tenancy import Membership
from luotsi.tenants.directory.models import (
    FirmProfile,
    Specialty,
    StaffProfile,
    StaffSpecialty,
)
from luotsi.tenants.directory.staff import StaffFilter
from luotsi.tenants.kinds import SPOKEN_LANGUAGES, SupervisionKind

MAX_DESCRIPTION = 4000


async def firm_profile(db: AsyncSession) -> FirmProfile:
    """The firm's profile; a firm that never wrote one gets an empty, enabled one."""
    profile = await db.scalar(select(FirmProfile))
    if profile is not None:
        return profile
    # Column defaults apply only when a row is inserted: spell out the empty values here.
    return FirmProfile(
        description_fi="",
        description_sv="",
        description_en="",
        public_email="",
        public_phone="",
        directory_enabled=True,
    )


async def save_firm_profile(
    db: AsyncSession,
    actor: Membership,
    *,
    descriptions: dict[str, str],
    public_email: str,
    public_phone: str,
    directory_enabled: bool,
) -> FirmProfile:
    if not permissions.can_edit_firm_profile(actor):
        raise Forbidden("firm profile")
    errors: dict[str, str] = {}
    texts = {}
    for lang in ("fi", "sv", "en"):
        text = descriptions.get(lang, "").strip()
        if len(text) > MAX_DESCRIPTION:
            errors[f"description_{lang}"] = i18n.too_long(MAX_DESCRIPTION)
        texts[lang] = text
    email = phone = ""
    if public_email.strip():
        try:
            email = check_email(public_email, "public_email")
        except Invalid as exc:
            errors.update(exc.errors)
    try:
        phone = normalise_phone(public_phone, "public_phone")
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    profile = await db.scalar(select(FirmProfile))
    if profile is None:
        profile = FirmProfile()
        db.add(profile)
    profile.description_fi, profile.description_sv, profile.description_en = (
        texts["fi"],
        texts["sv"],
        texts["en"],
    )
    profile.public_email = email
    profile.public_phone = phone
    profile.directory_enabled = directory_enabled
    await db.flush()
    return profile


@dataclass
class DirectoryChoices:
    """What the public directory's filters offer: only what someone the public sees has."""

    specialties: list[Specialty]
    kinds: list[SupervisionKind]
    languages: list[str]


async def directory_choices(db: AsyncSession) -> DirectoryChoices:
    """Specialties, forms and languages of the firm's visible, active supervisors.

    Hidden and inactive people are left out, so a filter never offers a choice that only they
    would match (and their specialties are not published through it).
    """
    public = StaffFilter(public=True).conditions()
    holders = (
        select(StaffSpecialty.specialty_id)
        .join(
            StaffProfile,
            (StaffProfile.tenant_id == StaffSpecialty.tenant_id)
            & (StaffProfile.id == StaffSpecialty.profile_id),
        )
        .where(*public)
    )
    specialties = await db.scalars(
        select(Specialty).where(Specialty.id.in_(holders)).order_by(func.lower(Specialty.name))
    )
    kinds: set[str] = set()
    languages: set[str] = set()
    # Distinct combinations only: a large firm's people share a handful of them.
    combinations = select(StaffProfile.kinds, StaffProfile.languages).where(*public).distinct()
    for row in await db.execute(combinations):
        kinds |= row.kinds
        languages |= row.languages
    return DirectoryChoices(
        specialties=list(specialties),
        kinds=[k for k in SupervisionKind if k.value in kinds],
        languages=[code for code in SPOKEN_LANGUAGES if code in languages],
    )
