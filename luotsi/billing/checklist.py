"""The setup checklist of a new firm: what an owner or office admin does before the firm runs.

Each step ticks itself from the firm's data (nothing is ever ticked by hand), and all of them
are read in one statement: a select of ``EXISTS`` subqueries. It lives in billing because its
first step is the billing profile, and billing is the one domain layer that sees every other.
Each member who may set the firm up puts the checklist away for themselves
(``memberships.setup_dismissed_at``); it also goes once every step is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.models import BillingProfile
from luotsi.platform import clock, permissions
from luotsi.platform.i18n import N_
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, active_member
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.directory.models import FirmArea, FirmProfile, Specialty, supervising_staff
from luotsi.tenants.sessions.models import CalendarFeed, SupervisionSession


@dataclass(frozen=True)
class SetupStep:
    key: str
    label: str  # untranslated: the template translates it
    path: str  # the page where the step is done, within the workspace
    done: bool


# (key, label, path), in the order a new firm does them.
STEPS = (
    ("billing", N_("Firm details and billing settings"), "billing/settings/"),
    ("public_page", N_("Public page"), "directory/"),
    ("specialties", N_("Areas and specialties"), "specialties/"),
    ("supervisors", N_("Invite supervisors"), "members/"),
    ("organisation", N_("First client organisation"), "clients/new"),
    ("agreement", N_("First agreement"), "agreements/new"),
    ("sessions", N_("First sessions"), "agreements/"),
    ("calendar_feed", N_("Calendar feed"), "calendar/"),
)


@dataclass(frozen=True)
class Checklist:
    steps: list[SetupStep]

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def total(self) -> int:
        return len(self.steps)


def shows_checklist(membership: Membership) -> bool:
    """Whether the dashboard asks ``membership`` for the checklist at all (no statement)."""
    return permissions.can_set_up_firm(membership) and membership.setup_dismissed_at is None


async def setup_checklist(db: AsyncSession, actor: Membership) -> Checklist | None:
    """The firm's setup steps with their states (one statement), or None when ``actor`` may
    not set the firm up, has put the checklist away, or every step is done."""
    if not shows_checklist(actor):
        return None
    now = clock.now()
    states = {
        "billing": select(BillingProfile.id).where(BillingProfile.iban != "").exists(),
        "public_page": select(FirmProfile.id)
        .where(
            or_(
                FirmProfile.description_fi != "",
                FirmProfile.description_sv != "",
                FirmProfile.description_en != "",
            )
        )
        .exists(),
        "specialties": or_(select(Specialty.id).exists(), select(FirmArea.id).exists()),
        # Someone takes clients (the owner themself in a one-person firm), or is invited to.
        "supervisors": or_(
            select(Membership.id).where(supervising_staff(), active_member()).exists(),
            select(Invitation.id)
            .where(
                Invitation.role == Role.SUPERVISOR,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .exists(),
        ),
        "organisation": select(ClientOrg.id).exists(),
        "agreement": select(Agreement.id).exists(),
        "sessions": select(SupervisionSession.id).exists(),
        # Someone's sessions reach their own calendar (a feed holds its holder's sessions).
        "calendar_feed": select(CalendarFeed.id).where(CalendarFeed.revoked_at.is_(None)).exists(),
    }
    row = (await db.execute(select(*(states[key].label(key) for key, _l, _p in STEPS)))).one()
    done = row._asdict()
    steps = [SetupStep(key, label, path, bool(done[key])) for key, label, path in STEPS]
    if all(step.done for step in steps):
        return None
    return Checklist(steps)


async def dismiss_checklist(db: AsyncSession, actor: Membership) -> None:
    """Put the checklist away for ``actor`` (the others who set the firm up still see it)."""
    permissions.require(permissions.can_set_up_firm(actor), "setup checklist")
    actor.setup_dismissed_at = actor.setup_dismissed_at or clock.now()
    await db.flush()
