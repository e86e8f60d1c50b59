"""The notification pages: the header's unread badge, the list, opening one, marking all read,
the member's settings and the owner's reminder hours; nobody sees another's notifications."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from luotsi.platform.db import TENANT_KEY, make_sessionmaker
from luotsi.platform.notifications import Notification, NotificationKind, NotificationSettings
from luotsi.platform.tenancy import Membership, Tenant
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms, bind_supervisee_login


async def _notify(backend: Backend, firm: Firm, member: Membership, n: int = 1) -> list[uuid.UUID]:
    """Give ``member`` ``n`` unread notifications of an erasure request (to the settings)."""
    ids = []
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        for i in range(n):
            row = Notification(
                recipient_id=member.id,
                user_id=member.user_id,
                kind=NotificationKind.ERASURE_REQUEST.value,
                target="settings/erasure-requests/",
                words={"person": f"Pertti Poistaja {i}"},
            )
            db.add(row)
            await db.flush()
            ids.append(row.id)
    return ids


async def _as(client_factory: Any, member: Membership) -> Client:
    client: Client = client_factory()
    await client.login(member.user.email)
    await client.post("/language", {"language": "en", "next": "/"})
    return client


async def test_the_header_counts_the_members_own_unread_notifications(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    await _notify(clean_db, a, a.owner, 3)  # and the fixture's one: 4
    await _notify(clean_db, a, a.admin, 1)  # the admin's, never counted for the owner
    await _notify(clean_db, firms.b, firms.b.owner, 5)  # another firm's
    owner = await _as(client_factory, a.owner)
    page = await owner.get(f"/t/{a.slug}/")
    assert page.status_code == 200
    assert 'class="badge unread-badge"' in page.text
    assert '<span aria-hidden="true">4</span>' in page.text
    assert "4 unread notifications" in page.text
    # On a phone the link hides behind the menu button, so the button carries the count too.
    menu_button = page.text.split('class="menu-button"', 1)[1].split("</button>", 1)[0]
    assert '<span aria-hidden="true">4</span>' in menu_button
    supervisor = await _as(client_factory, a.supervisor)
    assert "unread-badge" not in (await supervisor.get(f"/t/{a.slug}/")).text


async def test_the_list_shows_only_the_members_own_and_opening_one_reads_it(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    (mine,) = await _notify(clean_db, a, a.supervisor)
    (admins,) = await _notify(clean_db, a, a.admin)
    supervisor = await _as(client_factory, a.supervisor)
    listed = await supervisor.get(f"/t/{a.slug}/notifications/")
    assert listed.status_code == 200
    assert "Pertti Poistaja 0 asked the firm to erase their data" in listed.text
    assert f"/notifications/{mine}" in listed.text
    assert f"/notifications/{admins}" not in listed.text
    # Another's notification in the same firm is not found, and stays unread.
    assert (await supervisor.get(f"/t/{a.slug}/notifications/{admins}")).status_code == 404
    opened = await supervisor.get(f"/t/{a.slug}/notifications/{mine}")
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/t/{a.slug}/settings/erasure-requests/"
    assert "unread-badge" not in (await supervisor.get(f"/t/{a.slug}/")).text
    admin = await _as(client_factory, a.admin)
    assert "unread-badge" in (await admin.get(f"/t/{a.slug}/")).text


async def test_a_member_of_another_firm_gets_404_for_a_notification(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    (theirs,) = await _notify(clean_db, firms.a, firms.a.owner)
    b_owner = await _as(client_factory, firms.b.owner)
    assert (await b_owner.get(f"/t/{firms.b.slug}/notifications/{theirs}")).status_code == 404
    assert (await b_owner.get(f"/t/{firms.a.slug}/notifications/{theirs}")).status_code == 404
    a_owner = await _as(client_factory, firms.a.owner)  # the positive control
    assert (await a_owner.get(f"/t/{firms.a.slug}/notifications/{theirs}")).status_code == 303


async def test_mark_all_read_clears_the_badge_and_needs_the_csrf_token(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    await _notify(clean_db, a, a.owner, 2)  # and the fixture's one: 3
    owner = await _as(client_factory, a.owner)
    listed = await owner.get(f"/t/{a.slug}/notifications/")
    assert "You have 3 unread notifications." in listed.text
    forged = await owner.client.post(f"/t/{a.slug}/notifications/read")  # no token
    assert forged.status_code == 403
    done = await owner.post(f"/t/{a.slug}/notifications/read")
    assert done.status_code == 303
    after = await owner.get(f"/t/{a.slug}/notifications/")
    assert "You have no unread notifications." in after.text
    assert "unread-badge" not in after.text


async def test_the_portals_have_no_notifications(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.portal@example.fi")
    client: Client = client_factory()
    await client.login("sanna.portal@example.fi")
    assert (await client.get(f"/t/{a.slug}/notifications/")).status_code == 403


async def test_a_member_chooses_e_mail_kinds_and_reminder_hours(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    supervisor = await _as(client_factory, a.supervisor)
    page = await supervisor.get(f"/t/{a.slug}/notifications/settings")
    assert page.status_code == 200
    assert 'value="inquiry" checked' in page.text  # the defaults
    bad = await supervisor.post(
        f"/t/{a.slug}/notifications/settings", {"email_kinds": "inquiry", "reminder_hours": "0"}
    )
    assert bad.status_code == 422
    assert "Enter whole hours from 1 to 168." in bad.text
    saved = await supervisor.post(
        f"/t/{a.slug}/notifications/settings",
        {"email_kinds": "review_due", "reminder_hours": "24"},
    )
    assert saved.status_code == 303
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        row = await db.scalar(
            select(NotificationSettings).where(
                NotificationSettings.membership_id == a.supervisor.id
            )
        )
        assert row is not None
        assert row.email_kinds == {"review_due"} and row.reminder_hours == 24
    again = await supervisor.get(f"/t/{a.slug}/notifications/settings")
    assert 'value="inquiry" checked' not in again.text
    assert 'value="review_due" checked' in again.text


async def test_the_owner_sets_the_firms_reminder_hours(
    clean_db: Backend, firms: Firms, client_factory: Any
) -> None:
    a = firms.a
    admin = await _as(client_factory, a.admin)
    assert (await admin.get(f"/t/{a.slug}/settings/reminders/")).status_code == 403
    owner = await _as(client_factory, a.owner)
    assert (await owner.get(f"/t/{a.slug}/settings/reminders/")).status_code == 200
    bad = await owner.post(f"/t/{a.slug}/settings/reminders/", {"reminder_hours": ""})
    assert bad.status_code == 422
    saved = await owner.post(f"/t/{a.slug}/settings/reminders/", {"reminder_hours": "12"})
    assert saved.status_code == 303
    async with make_sessionmaker(clean_db.owner)() as db:
        hours = await db.scalar(select(Tenant.reminder_hours).where(Tenant.id == a.tenant.id))
        other = await db.scalar(select(Tenant.reminder_hours).where(Tenant.id == firms.b.tenant.id))
    assert (hours, other) == (12, 48)
