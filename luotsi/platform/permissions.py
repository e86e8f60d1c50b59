"""Every permission is a named function here, used by route guards and services alike."""

from __future__ import annotations

from luotsi.platform.tenancy import Membership, Role


def can_view_workspace(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN, Role.SUPERVISOR)


def can_view_members(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_invite_members(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_invite_role(membership: Membership, role: Role) -> bool:
    """Admins invite supervisors and admins; only an owner makes another owner."""
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


def can_manage_firm_settings(membership: Membership) -> bool:
    return membership.role == Role.OWNER
