"""Every permission is a named function here, used by route guards and services alike."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol

from luotsi.platform.errors import Forbidden
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role


def require(allowed: bool, what: str) -> None:
    """Raise :class:`Forbidden` for ``what`` unless the permission check ``allowed`` passed."""
    if not allowed:
        raise Forbidden(what)


def can_view_workspace(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN, Role.SUPERVISOR)


def can_view_members(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_invite_members(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_invite_role(membership: Membership, role: Role, *, bound: bool = False) -> bool:
    """Admins invite supervisors and admins; only an owner makes another owner.

    ``bound``: the invitation is tied to a record that gives the role its scope (an HR
    contact's person record). Owners and admins grant ``client_contact`` only that way, never
    from the member list, so no client login exists without its organisation.
    """
    if role == Role.CLIENT_CONTACT:
        return bound and membership.role in (Role.OWNER, Role.ADMIN)
    if role == Role.SUPERVISEE:  # bound to the supervisee's person record, the same way
        return bound and membership.role in (Role.OWNER, Role.ADMIN)
    if membership.role == Role.OWNER:
        return role in (Role.OWNER, Role.ADMIN, Role.SUPERVISOR)
    if membership.role == Role.ADMIN:
        return role in (Role.ADMIN, Role.SUPERVISOR)
    return False


def can_change_roles(membership: Membership) -> bool:
    return membership.role == Role.OWNER


def can_remove_member(membership: Membership, target: Membership) -> bool:
    """The owner removes anyone; an admin removes supervisors; everyone may leave."""
    if membership.id == target.id:
        return True
    if membership.role == Role.OWNER:
        return True
    return membership.role == Role.ADMIN and target.role == Role.SUPERVISOR


def can_manage_areas(membership: Membership) -> bool:
    """Firm areas ("Southern Finland") are the firm's shared vocabulary: owners and admins."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_firm_settings(membership: Membership) -> bool:
    """The firm's details (its name and business ID): the owner alone."""
    return membership.role == Role.OWNER


def can_manage_sign_in_security(membership: Membership) -> bool:
    """Whether the firm requires two-factor authentication of its staff: the owner alone."""
    return membership.role == Role.OWNER


def can_set_up_firm(membership: Membership) -> bool:
    """The dashboard's setup checklist: owners and admins, who can do each of its steps
    (billing settings, the public page, areas, inviting supervisors, clients, agreements)."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_subscription(membership: Membership) -> bool:
    """The firm's subscription to Luotsi (plan, card, cancelling): the owner alone."""
    return membership.role == Role.OWNER


def can_close_firm(membership: Membership) -> bool:
    """Closing the firm's account (and keeping it during the grace period): the owner alone."""
    return membership.role == Role.OWNER


def can_view_firm_privacy(membership: Membership) -> bool:
    """The firm's privacy page (what is stored, how long, by whom): owners and admins."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_connect_card_payments(membership: Membership) -> bool:
    """Connecting the firm's own Stripe account for card payments, and disconnecting it: where
    clients' money goes is the owner's decision (admins see whether it is on)."""
    return membership.role == Role.OWNER


def can_view_staff(membership: Membership) -> bool:
    """The staff list and colleagues' profiles: everyone on the staff."""
    return membership.role in STAFF_ROLES


def can_edit_staff_profile(membership: Membership, target: Membership) -> bool:
    """Owners and admins keep everyone's profile; a supervisor keeps their own."""
    if membership.role in (Role.OWNER, Role.ADMIN):
        return target.role in STAFF_ROLES
    return membership.role == Role.SUPERVISOR and membership.id == target.id


def can_keep_working_hours(membership: Membership, target: Membership) -> bool:
    """A staff member's working hours and absences, and reading an absence's note: the person
    and the firm's office (owners and admins), nobody else: whoever keeps the profile."""
    return can_edit_staff_profile(membership, target)


def can_set_firm_hours(membership: Membership) -> bool:
    """The firm's usual working week (everyone's without their own): the office."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_specialties(membership: Membership) -> bool:
    """The firm's specialty vocabulary: owners and admins."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_edit_firm_profile(membership: Membership) -> bool:
    """The firm's public description in the directory: owners and admins."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_view_inquiries(membership: Membership) -> bool:
    """The inquiry inbox: owners and admins see all; a supervisor those assigned to them."""
    return membership.role in STAFF_ROLES


def can_manage_inquiries(membership: Membership) -> bool:
    """Assigning any inquiry and seeing the whole inbox: owners and admins."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_view_clients(membership: Membership) -> bool:
    """Client organisations and their people: the whole staff (supervisors need contacts)."""
    return membership.role in STAFF_ROLES


def can_manage_clients(membership: Membership) -> bool:
    """Creating, editing and archiving organisations and people; inviting HR contacts."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_billing(membership: Membership) -> bool:
    """Billing settings, invoice runs, drafts, issuing, credit notes, payments: the office."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_agreements(membership: Membership) -> bool:
    """Drafting, sending and changing any agreement, and seeing all of them."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_work_on_agreements(membership: Membership) -> bool:
    """Agreements the person supervises: planning sessions, marking them, recording reviews.

    Owners and admins may do this on every agreement; a supervisor on their own only (the
    services check that they are on the agreement).
    """
    return membership.role in STAFF_ROLES


def can_view_all_calendars(membership: Membership) -> bool:
    """Every supervisor's calendar, not only one's own."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_use_client_portal(membership: Membership) -> bool:
    """The HR contact's portal: their own organisation's agreements, sessions and reviews."""
    return membership.role == Role.CLIENT_CONTACT


def can_view_audit(membership: Membership) -> bool:
    """The firm's audit log (who did what, when, from where; never content): the owner."""
    return membership.role == Role.OWNER


def can_manage_api_tokens(membership: Membership) -> bool:
    """The firm's API tokens for integrations (creating, seeing, revoking): the owner. A token
    acts as the owner who made it, so it ends when they no longer are one."""
    return membership.role == Role.OWNER


def can_view_reports(membership: Membership) -> bool:
    """The firm's reports: sessions, hours, quota, reviews, revenue and receivables."""
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_export_firm_data(membership: Membership) -> bool:
    """All of the firm's data (content excluded) as one zip."""
    return membership.role == Role.OWNER


def can_manage_webhooks(membership: Membership) -> bool:
    """The firm's outgoing webhooks (endpoints, secrets, delivery log): the owner alone, as
    the API tokens: they send the firm's events out of Luotsi."""
    return membership.role == Role.OWNER


def can_write_session_notes(membership: Membership, session_supervisor_id: uuid.UUID) -> bool:
    """Private session notes: only the staff member who holds the session writes them."""
    return membership.role in STAFF_ROLES and membership.id == session_supervisor_id


def can_read_session_note(membership: Membership, author_membership_id: uuid.UUID) -> bool:
    """A session note is its keeper's alone (its author, or whom the author handed it to): no
    owner, admin or other supervisor reads it."""
    return membership.role in STAFF_ROLES and membership.id == author_membership_id


def can_receive_handed_over_notes(
    membership: Membership, recipient: Membership, agreement_supervisor_ids: Collection[uuid.UUID]
) -> bool:
    """A supervisor hands their notes of an agreement only to another of its supervisors."""
    return (
        membership.role in STAFF_ROLES
        and recipient.role in STAFF_ROLES
        and recipient.id != membership.id
        and recipient.tenant_id == membership.tenant_id
        and recipient.id in agreement_supervisor_ids
    )


def can_work_with_shared_content(
    membership: Membership, agreement_supervisor_ids: Collection[uuid.UUID]
) -> bool:
    """An agreement's assignments, goals, evaluations and limits of confidentiality: its own
    supervisors (never the owner or an admin as such, never another supervisor)."""
    return membership.role in STAFF_ROLES and membership.id in agreement_supervisor_ids


def can_share_content_as_supervisee(
    membership: Membership, person_id: uuid.UUID, agreement_supervisee_ids: Collection[uuid.UUID]
) -> bool:
    """A supervisee sees their agreements' shared content (of the group, and their own)."""
    return membership.role == Role.SUPERVISEE and person_id in agreement_supervisee_ids


def can_receive_notifications(membership: Membership) -> bool:
    """A notification list and its e-mail choices: the staff (nothing notifies the portals)."""
    return membership.role in STAFF_ROLES


def can_manage_retention(membership: Membership) -> bool:
    """How long content is kept, and supervisees' erasure requests: the owner."""
    return membership.role == Role.OWNER


def can_use_supervisee_portal(membership: Membership) -> bool:
    """The supervisee's portal: their own sessions and agreements, nobody else's."""
    return membership.role == Role.SUPERVISEE


def can_request_manager_invitation(membership: Membership) -> bool:
    """Recording that a supervisee asked for their manager at an evaluation meeting: the staff
    who work on the agreement. It stays a request: only the supervisee invites the manager."""
    return membership.role in STAFF_ROLES


def can_invite_manager_to_evaluation(
    membership: Membership, person_id: uuid.UUID, agreement_supervisee_ids: Collection[uuid.UUID]
) -> bool:
    """The manager joins an evaluation meeting only on a supervisee's own invitation, given in
    their portal (never by the staff on their behalf)."""
    return membership.role == Role.SUPERVISEE and person_id in agreement_supervisee_ids


def can_withdraw_manager_invitation(
    membership: Membership, person_id: uuid.UUID, inviter_id: uuid.UUID | None
) -> bool:
    """Only the supervisee who invited the manager takes the invitation back."""
    return membership.role == Role.SUPERVISEE and inviter_id is not None and person_id == inviter_id


class SignedIn(Protocol):
    """A global user as the platform's own permissions see them (identity imports this module
    through audit, so the type is named by its one attribute used here)."""

    @property
    def is_operator(self) -> bool: ...


def can_view_firm_plans(user: SignedIn | None) -> bool:
    """The platform operator's list of firms with their plans and revenue (no content)."""
    return user is not None and user.is_operator


def can_support_firms(user: SignedIn | None) -> bool:
    """Luotsi support's actions on a firm: suspend and reactivate it, override its plan,
    extend its trial (each written to the firm's audit log)."""
    return user is not None and user.is_operator


def can_view_platform_health(user: SignedIn | None) -> bool:
    """The console's health page: database, migrations, workers, jobs and the outbox."""
    return user is not None and user.is_operator
