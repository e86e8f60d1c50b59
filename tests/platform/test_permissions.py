"""Every role against every permission in ``platform/permissions.py``."""

from __future__ import annotations

import uuid

import pytest

from luotsi.platform import permissions
from luotsi.platform.identity import User
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role

ROLES = list(Role)


def member(role: Role) -> Membership:
    return Membership(id=uuid.uuid4(), tenant_id=uuid.uuid4(), user_id=uuid.uuid4(), role=role)


EXPECTED = {
    "can_view_workspace": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_view_members": {Role.OWNER, Role.ADMIN},
    "can_invite_members": {Role.OWNER, Role.ADMIN},
    "can_change_roles": {Role.OWNER},
    "can_manage_firm_settings": {Role.OWNER},
    "can_manage_sign_in_security": {Role.OWNER},
    "can_set_up_firm": {Role.OWNER, Role.ADMIN},
    "can_receive_notifications": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_manage_subscription": {Role.OWNER},
    "can_close_firm": {Role.OWNER},
    "can_view_firm_privacy": {Role.OWNER, Role.ADMIN},
    "can_connect_card_payments": {Role.OWNER},
    "can_manage_areas": {Role.OWNER, Role.ADMIN},
    "can_set_firm_hours": {Role.OWNER, Role.ADMIN},
    "can_view_staff": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_manage_specialties": {Role.OWNER, Role.ADMIN},
    "can_edit_firm_profile": {Role.OWNER, Role.ADMIN},
    "can_view_inquiries": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_manage_inquiries": {Role.OWNER, Role.ADMIN},
    "can_view_clients": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_manage_clients": {Role.OWNER, Role.ADMIN},
    "can_manage_agreements": {Role.OWNER, Role.ADMIN},
    "can_manage_billing": {Role.OWNER, Role.ADMIN},
    "can_work_on_agreements": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
    "can_view_all_calendars": {Role.OWNER, Role.ADMIN},
    "can_use_client_portal": {Role.CLIENT_CONTACT},
    "can_view_audit": {Role.OWNER},
    "can_view_reports": {Role.OWNER, Role.ADMIN},
    "can_export_firm_data": {Role.OWNER},
    "can_manage_webhooks": {Role.OWNER},
    "can_manage_api_tokens": {Role.OWNER},
    "can_use_supervisee_portal": {Role.SUPERVISEE},
    "can_manage_retention": {Role.OWNER},
    "can_request_manager_invitation": {Role.OWNER, Role.ADMIN, Role.SUPERVISOR},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_single_member_permissions(name: str, role: Role) -> None:
    assert getattr(permissions, name)(member(role)) == (role in EXPECTED[name])


# Permissions of a signed-in user outside any firm (the platform operator's pages).
USER_PERMISSIONS = {"can_view_firm_plans", "can_support_firms", "can_view_platform_health"}


def test_every_single_member_permission_is_in_the_matrix() -> None:
    single = {
        name
        for name in dir(permissions)
        if name.startswith("can_") and permissions.__dict__[name].__code__.co_argcount == 1
    }
    assert single == set(EXPECTED) | USER_PERMISSIONS


@pytest.mark.parametrize("name", sorted(USER_PERMISSIONS))
def test_only_a_platform_operator_uses_the_console(name: str) -> None:
    operator = User(email="o@luotsi.example", name="O", is_operator=True)
    owner = User(email="a@alfa.example", name="A", is_operator=False)
    allowed = getattr(permissions, name)
    assert allowed(operator)
    assert not allowed(owner)
    assert not allowed(None)


@pytest.mark.parametrize(
    ("actor", "invited", "allowed"),
    [
        (Role.OWNER, Role.OWNER, True),
        (Role.OWNER, Role.SUPERVISOR, True),
        (Role.ADMIN, Role.OWNER, False),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.SUPERVISOR, True),
        (Role.SUPERVISOR, Role.SUPERVISOR, False),
        (Role.CLIENT_CONTACT, Role.SUPERVISOR, False),
        (Role.OWNER, Role.CLIENT_CONTACT, False),
    ],
)
def test_who_may_invite_whom(actor: Role, invited: Role, allowed: bool) -> None:
    assert permissions.can_invite_role(member(actor), invited) is allowed


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (Role.OWNER, Role.ADMIN, True),
        (Role.OWNER, Role.OWNER, True),
        (Role.ADMIN, Role.SUPERVISOR, True),
        (Role.ADMIN, Role.ADMIN, False),
        (Role.ADMIN, Role.OWNER, False),
        (Role.SUPERVISOR, Role.SUPERVISOR, False),
    ],
)
def test_who_may_remove_whom(actor: Role, target: Role, allowed: bool) -> None:
    assert permissions.can_remove_member(member(actor), member(target)) is allowed


def test_anyone_may_leave() -> None:
    me = member(Role.SUPERVISOR)
    assert permissions.can_remove_member(me, me)


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (Role.OWNER, Role.OWNER, True),
        (Role.OWNER, Role.SUPERVISOR, True),
        (Role.ADMIN, Role.OWNER, True),
        (Role.ADMIN, Role.SUPERVISOR, True),
        (Role.SUPERVISOR, Role.SUPERVISOR, False),
        (Role.SUPERVISOR, Role.ADMIN, False),
        (Role.CLIENT_CONTACT, Role.SUPERVISOR, False),
        (Role.OWNER, Role.CLIENT_CONTACT, False),
    ],
)
def test_who_may_edit_whose_staff_profile(actor: Role, target: Role, allowed: bool) -> None:
    assert permissions.can_edit_staff_profile(member(actor), member(target)) is allowed


def test_a_supervisor_edits_their_own_profile() -> None:
    me = member(Role.SUPERVISOR)
    assert permissions.can_edit_staff_profile(me, me)


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (Role.OWNER, Role.SUPERVISOR, True),
        (Role.ADMIN, Role.SUPERVISOR, True),
        (Role.ADMIN, Role.OWNER, True),
        (Role.SUPERVISOR, Role.SUPERVISOR, False),
        (Role.SUPERVISEE, Role.SUPERVISOR, False),
        (Role.OWNER, Role.CLIENT_CONTACT, False),
    ],
)
def test_who_keeps_whose_working_hours(actor: Role, target: Role, allowed: bool) -> None:
    assert permissions.can_keep_working_hours(member(actor), member(target)) is allowed


def test_a_supervisor_keeps_their_own_working_hours() -> None:
    me = member(Role.SUPERVISOR)
    assert permissions.can_keep_working_hours(me, me)


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.SUPERVISOR, False),
        (Role.CLIENT_CONTACT, False),
        (Role.SUPERVISEE, False),
    ],
)
def test_hr_contacts_are_invited_only_bound_to_their_person_record(
    actor: Role, allowed: bool
) -> None:
    assert permissions.can_invite_role(member(actor), Role.CLIENT_CONTACT, bound=True) is allowed
    assert permissions.can_invite_role(member(actor), Role.CLIENT_CONTACT) is False


@pytest.mark.parametrize("role", ROLES)
def test_only_the_sessions_own_staff_supervisor_writes_its_notes(role: Role) -> None:
    me = member(role)
    assert permissions.can_write_session_notes(me, me.id) is (role in STAFF_ROLES)
    assert permissions.can_write_session_notes(me, uuid.uuid4()) is False


@pytest.mark.parametrize("role", ROLES)
def test_a_session_note_is_read_by_its_author_only(role: Role) -> None:
    me = member(role)
    assert permissions.can_read_session_note(me, me.id) is (role in STAFF_ROLES)
    assert permissions.can_read_session_note(me, uuid.uuid4()) is False


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.SUPERVISOR, False),
        (Role.CLIENT_CONTACT, False),
        (Role.SUPERVISEE, False),
    ],
)
def test_supervisees_are_invited_only_bound_to_their_person_record(
    actor: Role, allowed: bool
) -> None:
    assert permissions.can_invite_role(member(actor), Role.SUPERVISEE, bound=True) is allowed
    assert permissions.can_invite_role(member(actor), Role.SUPERVISEE) is False


@pytest.mark.parametrize("role", ROLES)
def test_shared_content_is_for_the_agreements_own_supervisors(role: Role) -> None:
    me = member(role)
    assert permissions.can_work_with_shared_content(me, {me.id}) is (role in STAFF_ROLES)
    assert permissions.can_work_with_shared_content(me, {uuid.uuid4()}) is False
    assert permissions.can_work_with_shared_content(me, set()) is False


@pytest.mark.parametrize("role", ROLES)
def test_only_a_supervisee_of_the_agreement_shares_its_content(role: Role) -> None:
    me, person = member(role), uuid.uuid4()
    assert permissions.can_share_content_as_supervisee(me, person, {person}) is (
        role == Role.SUPERVISEE
    )
    assert permissions.can_share_content_as_supervisee(me, person, {uuid.uuid4()}) is False


@pytest.mark.parametrize("role", ROLES)
def test_notes_are_handed_only_to_another_supervisor_of_the_agreement(role: Role) -> None:
    me, other = member(Role.SUPERVISOR), member(role)
    other.tenant_id = me.tenant_id
    on_agreement = {me.id, other.id}
    assert permissions.can_receive_handed_over_notes(me, other, on_agreement) is (
        role in STAFF_ROLES
    )
    assert permissions.can_receive_handed_over_notes(me, other, {me.id}) is False
    assert permissions.can_receive_handed_over_notes(me, me, on_agreement) is False


@pytest.mark.parametrize("role", ROLES)
def test_only_a_supervisee_of_the_agreement_invites_the_manager(role: Role) -> None:
    me, person = member(role), uuid.uuid4()
    assert permissions.can_invite_manager_to_evaluation(me, person, {person}) is (
        role == Role.SUPERVISEE
    )
    assert permissions.can_invite_manager_to_evaluation(me, person, {uuid.uuid4()}) is False


@pytest.mark.parametrize("role", ROLES)
def test_only_the_inviting_supervisee_withdraws_the_managers_invitation(role: Role) -> None:
    me, person = member(role), uuid.uuid4()
    assert permissions.can_withdraw_manager_invitation(me, person, person) is (
        role == Role.SUPERVISEE
    )
    assert permissions.can_withdraw_manager_invitation(me, person, uuid.uuid4()) is False
    assert permissions.can_withdraw_manager_invitation(me, person, None) is False
