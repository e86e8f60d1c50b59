"""Inviting people, accepting invitations, roles, and removing members."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from luotsi.platform import clock
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import Firms


async def _invite(owner: Client, email: str, role: str = "supervisor") -> None:
    response = await owner.post("/t/alfa/members/invite", {"email": email, "role": role})
    assert response.status_code == 303, response.text


async def test_invited_supervisor_creates_account_and_joins(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    await _invite(owner, "new.supervisor@example.fi")
    mail = await outbox.last_to("new.supervisor@example.fi")
    assert "Alfa Työnohjaus Oy" in mail.subject
    link = link_in(mail)

    invitee = client_factory()
    page = await invitee.get(link)
    assert page.status_code == 200 and "new.supervisor@example.fi" in page.text
    short = await invitee.post(link, {"name": "Uusi Ohjaaja", "password": "short"})
    assert short.status_code == 422
    common = await invitee.post(link, {"name": "Uusi Ohjaaja", "password": "1234567890"})
    assert common.status_code == 422 and 'id="password-error"' in common.text
    joined = await invitee.post(link, {"name": "Uusi Ohjaaja", "password": "a good long password"})
    assert joined.status_code == 303 and joined.headers["location"] == "/t/alfa/"
    assert (await invitee.get("/t/alfa/")).status_code == 200
    # A supervisor does not manage people.
    assert (await invitee.get("/t/alfa/members/")).status_code == 403
    # The link was single-use.
    assert (await client_factory().get(link)).status_code == 404

    members = await owner.get("/t/alfa/members/")
    assert "Uusi Ohjaaja" in members.text


async def test_existing_account_accepts_after_signing_in(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    existing = firms.b.supervisor.user.email
    await _invite(owner, existing)
    link = link_in(await outbox.last_to(existing))
    person = client_factory()
    page = await person.get(link)
    assert "/login?next=" in page.text
    await person.login(existing)
    accepted = await person.post(link, {})
    assert accepted.status_code == 303
    account = await person.get("/account")
    assert "/t/alfa/" in account.text and "/t/beeta/" in account.text


async def test_invitation_for_another_address_is_refused(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    await _invite(owner, "someone.else@example.fi")
    link = link_in(await outbox.last_to("someone.else@example.fi"))
    intruder = client_factory()
    await intruder.login(firms.b.owner.user.email)
    response = await intruder.post(link, {})
    assert response.status_code == 422
    assert (await intruder.get("/t/alfa/")).status_code == 404


async def test_invitation_expires_after_seven_days(
    client_factory, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    await _invite(owner, "late@example.fi")
    link = link_in(await outbox.last_to("late@example.fi"))
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update invitations set expires_at = :t where email = 'late@example.fi'"),
            {"t": clock.now() - timedelta(minutes=1)},
        )
    assert (await client_factory().get(link)).status_code == 404


async def test_revoked_invitation_no_longer_works(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    response = await owner.post(f"/t/alfa/members/invitations/{firms.a.invitation.id}/revoke")
    assert response.status_code == 303
    assert "invitee@shared.example" not in (await owner.get("/t/alfa/members/")).text
    # Firm B's invitation to the same address is untouched.
    other = Client(owner.app)
    await other.login(firms.b.owner.user.email)
    assert "invitee@shared.example" in (await other.get("/t/beeta/members/")).text


async def test_invite_form_errors(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    bad_email = await client.post(
        "/t/alfa/members/invite", {"email": "not-an-address", "role": "supervisor"}, htmx=True
    )
    assert bad_email.status_code == 422 and "<html" not in bad_email.text
    member = await client.post(
        "/t/alfa/members/invite", {"email": firms.a.admin.user.email, "role": "admin"}
    )
    assert member.status_code == 422
    bad_role = await client.post(
        "/t/alfa/members/invite", {"email": "x@example.fi", "role": "emperor"}
    )
    assert bad_role.status_code == 422


async def test_admin_cannot_invite_an_owner(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    response = await client.post(
        "/t/alfa/members/invite", {"email": "x@example.fi", "role": "owner"}
    )
    assert response.status_code == 422


async def test_owner_changes_roles_but_keeps_one_owner(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    promoted = await client.post(f"/t/alfa/members/{firms.a.supervisor.id}/role", {"role": "admin"})
    assert promoted.status_code == 303
    last_owner = await client.post(f"/t/alfa/members/{firms.a.owner.id}/role", {"role": "admin"})
    assert last_owner.status_code == 422


async def test_admin_cannot_change_roles(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    response = await client.post(f"/t/alfa/members/{firms.a.supervisor.id}/role", {"role": "owner"})
    assert response.status_code == 403


async def test_remove_member_asks_first_and_last_owner_stays(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/members/{firms.a.admin.id}/remove")
    assert confirm.status_code == 200 and "Maija Admin" in confirm.text
    removed = await client.post(f"/t/alfa/members/{firms.a.admin.id}/remove")
    assert removed.status_code == 303
    assert "admin@alfa.example" not in (await client.get("/t/alfa/members/")).text
    last = await client.post(f"/t/alfa/members/{firms.a.owner.id}/remove")
    assert last.status_code == 422


async def test_removed_member_loses_access_and_the_firm_leaves_their_list(
    client_factory, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    admin = client_factory()
    await admin.login(firms.a.admin.user.email)
    assert "/t/alfa/" in (await admin.get("/account")).text
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    assert (await owner.post(f"/t/alfa/members/{firms.a.admin.id}/remove")).status_code == 303
    assert (await admin.get("/t/alfa/")).status_code == 404
    assert (await admin.get("/t/alfa/members/")).status_code == 404
    assert "/t/alfa/" not in (await admin.get("/account")).text
    # Signing in again does not bring it back.
    again = client_factory()
    await again.login(firms.a.admin.user.email)
    assert (await again.get("/t/alfa/")).status_code == 404


async def test_removal_waits_while_the_member_has_planned_sessions_and_agreements(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get(f"/t/alfa/members/{firms.a.supervisor.id}/remove")
    assert page.status_code == 200
    assert f"/t/alfa/sessions/{firms.a.session.id}" in page.text
    assert f"/t/alfa/agreements/{firms.a.agreement.id}" in page.text
    assert f'action="/t/alfa/members/{firms.a.supervisor.id}/hand-over"' in page.text
    assert f'action="/t/alfa/members/{firms.a.supervisor.id}/remove"' not in page.text
    refused = await client.post(f"/t/alfa/members/{firms.a.supervisor.id}/remove")
    assert refused.status_code == 422 and "Luovuta ne ensin" in refused.text
    assert "supervisor@alfa.example" in (await client.get("/t/alfa/members/")).text


async def test_work_is_handed_over_then_the_member_is_removed(client_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    gone = firms.a.supervisor
    handed = await owner.post(
        f"/t/alfa/members/{gone.id}/hand-over", {"successor": str(firms.a.admin.id)}
    )
    assert handed.status_code == 303
    assert handed.headers["location"] == f"/t/alfa/members/{gone.id}/remove"
    confirm = await owner.get(f"/t/alfa/members/{gone.id}/remove")
    assert f'action="/t/alfa/members/{gone.id}/remove"' in confirm.text
    assert (await owner.post(f"/t/alfa/members/{gone.id}/remove")).status_code == 303

    # The successor holds the session and works on the agreement now.
    admin = client_factory()
    await admin.login(firms.a.admin.user.email)
    session = await admin.get(f"/t/alfa/sessions/{firms.a.session.id}")
    assert session.status_code == 200
    assert "Luovutettu toiselle työnohjaajalle" in session.text
    agreement = await owner.get(f"/t/alfa/agreements/{firms.a.agreement.id}")
    assert "Maija Admin" in agreement.text
    assert "Maija Supervisor → Maija Admin" in agreement.text  # the agreement's history
    # The removed member is nobody's choice any more.
    draft = await owner.get("/t/alfa/agreements/new")
    assert draft.status_code == 200 and str(gone.id) not in draft.text
    assert str(gone.id) not in (await owner.get("/t/alfa/inquiries/")).text


async def test_hand_over_refuses_a_bad_successor(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    url = f"/t/alfa/members/{firms.a.supervisor.id}/hand-over"
    for successor in ("", "not-an-id", str(firms.a.supervisor.id), str(firms.b.admin.id)):
        response = await client.post(url, {"successor": successor})
        assert response.status_code == 422, successor
        assert 'id="successor-error"' in response.text
    # Nothing moved.
    page = await client.get(f"/t/alfa/members/{firms.a.supervisor.id}/remove")
    assert f"/t/alfa/sessions/{firms.a.session.id}" in page.text


async def test_admin_cannot_hand_over_or_remove_an_owner(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    url = f"/t/alfa/members/{firms.a.owner.id}"
    assert (
        await client.post(f"{url}/hand-over", {"successor": str(firms.a.admin.id)})
    ).status_code == 403
    assert (await client.post(f"{url}/remove")).status_code == 403


async def test_another_firms_member_is_not_found(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    other = firms.b.supervisor.id
    assert (await client.get(f"/t/alfa/members/{other}/remove")).status_code == 404
    assert (await client.post(f"/t/alfa/members/{other}/remove")).status_code == 404
    handed = await client.post(
        f"/t/alfa/members/{other}/hand-over", {"successor": str(firms.a.admin.id)}
    )
    assert handed.status_code == 404


async def test_a_removed_member_invited_again_comes_back(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    admin = firms.a.admin
    assert (await owner.post(f"/t/alfa/members/{admin.id}/remove")).status_code == 303
    await _invite(owner, admin.user.email, "supervisor")
    link = link_in(await outbox.last_to(admin.user.email))
    person = client_factory()
    await person.login(admin.user.email)
    assert (await person.post(link, {})).status_code == 303
    assert (await person.get("/t/alfa/")).status_code == 200
    members = (await owner.get("/t/alfa/members/")).text
    # The same membership, back with the role of the new invitation.
    assert f"/t/alfa/members/{admin.id}/remove" in members
    assert (await person.get("/t/alfa/members/")).status_code == 403  # a supervisor now


async def test_member_list_shows_owners_first(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    page = (await client.get("/t/alfa/members/")).text
    assert (
        page.index("owner@alfa.example")
        < page.index("admin@alfa.example")
        < page.index("supervisor@alfa.example")
    )
    assert "beeta.example" not in page


async def test_a_removed_members_calendar_feed_stops(client_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    admin = client_factory()
    await admin.login(firms.a.admin.user.email)
    created = await admin.post("/t/alfa/calendar/feed")
    match = re.search(r'value="https://testserver\.local(/ical/alfa/[^"]+\.ics)"', created.text)
    assert match, created.text
    anonymous = client_factory()
    assert (await anonymous.get(match.group(1))).status_code == 200
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    assert (await owner.post(f"/t/alfa/members/{firms.a.admin.id}/remove")).status_code == 303
    assert (await anonymous.get(match.group(1))).status_code == 404
