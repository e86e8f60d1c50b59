"""The "My notes" section of the session page: only the session's supervisor sees it, and every
read and write of a note leaves an audit row without the text."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update

from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.tenancy import Role
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.content import NOTE_MAX_CHARS, NOTE_OBJECT
from luotsi.tenants.sessions.models import SupervisionSession
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms, add_member, add_person, make_user

MARKER = "MUISTIINPANO-MERKKI-91c2"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


def session_url(firm: Firm) -> str:
    return f"/t/{firm.slug}/sessions/{firm.session.id}"


async def audit_rows(backend: Backend) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_([audit.CONTENT_READ, audit.CONTENT_WRITTEN]))
            .order_by(AuditEvent.at)
        )
        return list(rows)


async def stored_note_ids(backend: Backend) -> list[uuid.UUID]:
    async with backend.owner.connect() as conn:
        rows = await conn.execute(text("select id from session_notes"))
        return [uuid.UUID(str(row[0])) for row in rows]


async def other_supervisor(backend: Backend, firm: Firm) -> str:
    user = await make_user(backend.owner, f"other@{firm.slug}.example", "Olli Other")
    await add_member(backend.owner, firm.tenant, user, Role.SUPERVISOR)
    return user.email


async def hr_contact_login(backend: Backend, firm: Firm) -> str:
    """An HR contact of the session's organisation with a bound portal login."""
    email = f"helmi@{firm.slug}-client.example"
    user = await make_user(backend.owner, email, "Helmi HR")
    login = await add_member(backend.owner, firm.tenant, user, Role.CLIENT_CONTACT)
    await add_person(
        backend.owner,
        firm.tenant,
        firm.org,
        PersonRole.HR_CONTACT,
        "Helmi HR",
        email=email,
        membership_id=login.id,
    )
    return email


async def add_note(client: Client, firm: Firm, body: str, htmx: bool = False) -> Any:
    return await client.post(f"{session_url(firm)}/notes", {"text": body}, htmx=htmx)


# --- the author -------------------------------------------------------------------------------


async def test_supervisor_writes_a_note_and_reads_it_on_the_session_page(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    before = await client.get(session_url(a))
    assert 'id="my-notes"' in before.text and "No notes yet." in before.text

    response = await add_note(client, a, f"Ensimmäinen {MARKER}\r\n\r\nToinen kappale")
    assert response.status_code == 303
    assert response.headers["location"] == f"{session_url(a)}#my-notes"

    page = (await client.get(session_url(a))).text
    assert f'<p class="client-notes">Ensimmäinen {MARKER}</p>' in page
    assert '<p class="client-notes">Toinen kappale</p>' in page


async def test_notes_are_shown_newest_first(client: Client, firms: Firms) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    await add_note(client, a, "vanhempi muistiinpano")
    await add_note(client, a, "uudempi muistiinpano")
    page = (await client.get(session_url(a))).text
    assert page.index("uudempi muistiinpano") < page.index("vanhempi muistiinpano")


async def test_htmx_note_form_swaps_only_the_notes_section(client: Client, firms: Firms) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    response = await add_note(client, a, f"htmx {MARKER}", htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section class="card wide" id="my-notes"')
    assert f"htmx {MARKER}" in response.text
    assert "session-history" not in response.text


async def test_note_text_is_escaped_not_rendered_as_html(client: Client, firms: Firms) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    await add_note(client, a, "<script>alert(1)</script>")
    page = (await client.get(session_url(a))).text
    assert "<script>alert(1)</script>" not in page
    assert html.escape("<script>alert(1)</script>") in page


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
async def test_empty_note_is_refused_with_422(
    client: Client, firms: Firms, clean_db: Backend, htmx: bool
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    response = await add_note(client, a, "   \n  ", htmx=htmx)
    assert response.status_code == 422
    assert "Write the note first." in response.text
    assert await stored_note_ids(clean_db) == []


@pytest.mark.parametrize("htmx", [False, True])
async def test_too_long_note_is_refused_and_the_text_kept(
    client: Client, firms: Firms, clean_db: Backend, htmx: bool
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    await add_note(client, a, f"aiempi {MARKER}")
    body = "x" * (NOTE_MAX_CHARS - 10) + " kesken-123 " + "y" * 20
    response = await add_note(client, a, body, htmx=htmx)
    assert response.status_code == 422
    assert "A note holds at most 20,000 characters." in response.text
    assert body in response.text  # the text is not lost
    assert f"aiempi {MARKER}" in response.text  # the earlier notes stay on screen
    assert len(await stored_note_ids(clean_db)) == 1
    # Re-showing the earlier note was a read, and it is audited despite the 422.
    reads = [r for r in await audit_rows(clean_db) if r.action == audit.CONTENT_READ]
    assert len(reads) == 1


# --- everybody else ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin", "other_supervisor", "hr_contact", "firm_b"])
async def test_nobody_but_the_supervisor_sees_the_section_or_the_text(
    client: Client, firms: Firms, clean_db: Backend, who: str
) -> None:
    a = firms.a
    author = Client(client.app)
    await author.login(a.supervisor.user.email)
    await add_note(author, a, f"salainen {MARKER}")
    emails = {
        "owner": a.owner.user.email,
        "admin": a.admin.user.email,
        "firm_b": firms.b.owner.user.email,
    }
    if who == "other_supervisor":
        emails[who] = await other_supervisor(clean_db, a)
    if who == "hr_contact":
        emails[who] = await hr_contact_login(clean_db, a)
    await client.login(emails[who])

    page = await client.get(session_url(a))
    assert page.status_code in (200, 403, 404)  # 403: an HR contact is not staff
    assert MARKER not in page.text
    assert 'id="my-notes"' not in page.text and "My notes" not in page.text
    if who in ("owner", "admin"):
        assert page.status_code == 200  # the session page itself is theirs to see

    posted = await add_note(client, a, f"vieras {MARKER}")
    assert posted.status_code == (403 if who == "hr_contact" else 404)
    assert len(await stored_note_ids(clean_db)) == 1


async def test_earlier_supervisor_loses_the_section_when_the_session_moves(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    await add_note(client, a, f"ennen siirtoa {MARKER}")
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        await db.execute(
            update(SupervisionSession)
            .where(SupervisionSession.id == a.session.id)
            .values(supervisor_id=a.admin.id)
        )
    page = await client.get(session_url(a))
    assert MARKER not in page.text and 'id="my-notes"' not in page.text


# --- the audit log ----------------------------------------------------------------------------


async def test_writing_and_reading_a_note_are_audited_without_the_text(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    await add_note(client, a, f"auditoitu {MARKER}")
    await client.get(session_url(a))
    [note_id] = await stored_note_ids(clean_db)
    written, read = await audit_rows(clean_db)
    assert (written.action, read.action) == (audit.CONTENT_WRITTEN, audit.CONTENT_READ)
    for row in (written, read):
        assert row.tenant_id == a.tenant.id
        assert (row.object_type, row.object_id) == (NOTE_OBJECT, note_id)
        assert (row.actor_user_id, row.actor_name) == (a.supervisor.user_id, "Maija Supervisor")
        assert row.ip == "127.0.0.1"
        assert row.user_agent.startswith("python-httpx/")
        for column in AuditEvent.__table__.columns:
            assert MARKER not in str(getattr(row, column.key))


async def test_a_page_without_notes_records_no_read(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.supervisor.user.email)
    await client.get(session_url(firms.a))
    assert await audit_rows(clean_db) == []


async def test_refused_readers_leave_no_content_read_row(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    author = Client(client.app)
    await author.login(a.supervisor.user.email)
    await add_note(author, a, MARKER)
    await client.login(a.owner.user.email)
    await client.get(session_url(a))
    assert [r.actor_user_id for r in await audit_rows(clean_db)] == [a.supervisor.user_id]
