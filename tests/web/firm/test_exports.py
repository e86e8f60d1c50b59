"""The lists' CSV exports and the owner's zip of all of the firm's data."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from luotsi.billing import firm_export
from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.exports import csv_bytes, csv_euros, csv_hours
from luotsi.platform.tenancy import Role
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.content.models import ENCRYPTED_FIELDS
from luotsi.tenants.sessions.models import SessionStatus
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import (
    Firms,
    add_agreement,
    add_client_org,
    add_content,
    add_member,
    add_person,
    add_session,
    bind_supervisee_login,
    make_user,
)

LISTS = ("sessions", "agreements", "clients", "people")
FIXTURE_ROWS = {"sessions": 1, "agreements": 1, "clients": 1, "people": 3}  # each firm's


async def _login(client: Client, email: str) -> Client:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(email)
    return client


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel in Finnish reads it
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_cells_that_start_like_a_formula_are_defused_but_numbers_are_not() -> None:
    typed = ["=HYPERLINK(1)", "+358 40", "-2", "@SUM(A1)", "\tx", "\rx", "Kunta"]
    rows = _rows(csv_bytes([[*typed, csv_euros(-1250), csv_hours(90), 7]]))
    defused = ["'=HYPERLINK(1)", "'+358 40", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "Kunta"]
    assert rows == [[*defused, "-12,50", "1,5", "7"]]


@pytest.mark.parametrize("name", LISTS)
async def test_each_list_exports_as_csv_for_excel(client: Client, firms: Firms, name: str) -> None:
    await _login(client, firms.a.owner.user.email)
    export = await client.get(f"/t/alfa/exports/{name}.csv")
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["content-disposition"]
    assert export.headers["cache-control"] == "private, no-store"
    rows = _rows(export.content)
    assert len(rows) == 1 + FIXTURE_ROWS[name]  # the header, and firm A's rows only


@pytest.mark.parametrize("name", LISTS)
async def test_a_member_of_another_firm_gets_404(client: Client, firms: Firms, name: str) -> None:
    await _login(client, firms.b.owner.user.email)
    assert (await client.get(f"/t/alfa/exports/{name}.csv")).status_code == 404
    assert (await client.get(f"/t/beeta/exports/{name}.csv")).status_code == 200  # control


def _export_link(page: str, name: str) -> dict[str, list[str]]:
    """The query of the list's "Export CSV" link."""
    found = re.search(rf'href="/t/alfa/exports/{name}\.csv\?([^"]*)" download>Export CSV<', page)
    assert found, name
    return parse_qs(html.unescape(found[1]))


async def test_lists_link_their_export_with_the_current_filters(
    client: Client, firms: Firms
) -> None:
    await _login(client, firms.a.owner.user.email)
    people = await client.get("/t/alfa/clients/people/?q=Sanna&sort=-name&page=2")
    assert _export_link(people.text, "people") == {"q": ["Sanna"], "sort": ["-name"]}
    sessions = await client.get("/t/alfa/sessions/?when=all&status=planned")
    assert _export_link(sessions.text, "sessions") == {"when": ["all"], "status": ["planned"]}
    agreements = await client.get("/t/alfa/agreements/?kind=individual")
    assert _export_link(agreements.text, "agreements") == {"kind": ["individual"]}
    orgs = await client.get("/t/alfa/clients/?sort=city")
    assert _export_link(orgs.text, "clients") == {"sort": ["city"]}


async def test_the_session_export_applies_the_lists_filters(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(clock.days(-10)),
        status=SessionStatus.HELD,
        actual_minutes=90,
    )
    await _login(client, a.owner.user.email)
    upcoming = _rows((await client.get("/t/alfa/exports/sessions.csv")).content)
    held = _rows((await client.get("/t/alfa/exports/sessions.csv?when=all&status=held")).content)
    nobody = _rows((await client.get("/t/alfa/exports/sessions.csv?when=all&q=Nobody")).content)
    assert [row[6] for row in upcoming[1:]] == ["Planned"]
    assert [row[6] for row in held[1:]] == ["Held"]
    assert held[1][4] == "1,5"  # the recorded length in hours
    assert held[1][10:] == ["Esimerkkikunta", "", "Sanna Supervisee", "Maija Supervisor"]
    assert nobody == [upcoming[0]]


async def test_the_client_exports_apply_search_and_sort(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await add_client_org(clean_db.owner, a.tenant, "=Ahjo kunta", billing_city="Aura")
    await add_person(clean_db.owner, a.tenant, a.org, PersonRole.MANAGER, "Aatu Manager")
    await _login(client, a.owner.user.email)
    orgs = _rows((await client.get("/t/alfa/exports/clients.csv?sort=-name")).content)
    assert [row[0] for row in orgs[1:]] == ["Esimerkkikunta", "'=Ahjo kunta"]
    managers = _rows((await client.get("/t/alfa/exports/people.csv?role=manager")).content)
    assert [row[0] for row in managers[1:]] == ["Aatu Manager", "Matti Manager"]
    found = _rows((await client.get("/t/alfa/exports/clients.csv?q=ahjo")).content)
    assert [row[0] for row in found[1:]] == ["'=Ahjo kunta"]


async def test_a_supervisor_exports_only_what_their_lists_show(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    colleague = await add_member(
        clean_db.owner,
        a.tenant,
        await make_user(clean_db.owner, "toinen@alfa.example", "Toni"),
        Role.SUPERVISOR,
    )
    other_org = await add_client_org(clean_db.owner, a.tenant, "Muu kunta")
    person = await add_person(clean_db.owner, a.tenant, other_org, PersonRole.SUPERVISEE, "Olli")
    theirs = await add_agreement(clean_db.owner, a.tenant, other_org, colleague, [person])
    await add_session(clean_db.owner, a.tenant, theirs, colleague)
    await _login(client, a.supervisor.user.email)
    sessions = _rows((await client.get("/t/alfa/exports/sessions.csv?when=all")).content)
    agreements = _rows((await client.get("/t/alfa/exports/agreements.csv?status=all")).content)
    assert [row[10] for row in sessions[1:]] == ["Esimerkkikunta"]
    assert [row[0] for row in agreements[1:]] == ["Esimerkkikunta"]
    # The supervisor filter is the owner's: a supervisor cannot ask for a colleague's.
    asked = f"/t/alfa/exports/sessions.csv?when=all&supervisor={colleague.id}"
    assert _rows((await client.get(asked)).content) == sessions


async def test_agreement_export_counts_used_and_planned_sessions(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    for status in (
        SessionStatus.HELD,
        SessionStatus.NO_SHOW,
        SessionStatus.CANCELLED_BY_SUPERVISOR,
    ):
        await add_session(
            clean_db.owner,
            a.tenant,
            a.agreement,
            a.supervisor,
            starts_at=clock.at(clock.days(-20)),
            status=status,
        )
    await _login(client, a.admin.user.email)
    [head, row] = _rows((await client.get("/t/alfa/exports/agreements.csv")).content)
    values = dict(zip(head, row, strict=True))
    assert (values["Quota"], values["Used"], values["Planned"]) == ("15", "2", "1")
    assert values["Supervisors"] == "Maija Supervisor"
    assert values["Supervisees"] == "Sanna Supervisee"
    assert values["Next review"]


async def test_only_staff_export_lists_and_only_the_owner_the_whole_firm(
    client_factory: Any, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.export@alfa-client.example")
    expected = {
        "sanna.export@alfa-client.example": (403, 403),
        a.supervisor.user.email: (200, 403),
        a.admin.user.email: (200, 403),
        a.owner.user.email: (200, 200),
    }
    for email, (lists, firm) in expected.items():
        client = client_factory()
        await _login(client, email)
        for name in LISTS:
            assert (await client.get(f"/t/alfa/exports/{name}.csv")).status_code == lists, email
        assert (await client.get("/t/alfa/exports/firm")).status_code == firm, email
        assert (await client.post("/t/alfa/exports/firm.zip")).status_code in (firm, 201), email


async def test_content_never_appears_in_any_export(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    written = await add_content(clean_db, firms.a)
    await _login(client, firms.a.owner.user.email)
    for name in LISTS:
        export = await client.get(f"/t/alfa/exports/{name}.csv?when=all&status=all")
        assert export.status_code == 200
        assert written.marker not in export.content.decode("utf-8-sig")
    archive = await client.post("/t/alfa/exports/firm.zip")
    assert archive.status_code in (200, 201)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        for info in files.infolist():
            assert written.marker.encode() not in files.read(info), info.filename


def test_the_firm_zip_reads_no_content_table_and_no_secret_column() -> None:
    content_tables = {field.table for field in ENCRYPTED_FIELDS}
    exported = {model.__tablename__ for _name, model in firm_export.KINDS}
    assert not content_tables & exported
    for _name, model in firm_export.KINDS:
        names = {column.key for column in firm_export.exported_columns(model)}
        assert not names & {"token_hash", "password_hash", "tenant_id", "key_version"}
        assert not any(name.endswith("_key") for name in names)


async def _audited(backend: Backend) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        query = select(AuditEvent).where(AuditEvent.action == audit.FIRM_DATA_EXPORTED)
        return list(await db.scalars(query))


async def test_the_owner_downloads_the_firm_as_a_zip_after_confirming(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await _login(client, a.owner.user.email)
    confirm = await client.get("/t/alfa/exports/firm")
    assert confirm.status_code == 200
    assert 'action="/t/alfa/exports/firm.zip"' in confirm.text
    assert await _audited(clean_db) == []  # looking at the confirmation exports nothing
    refused = await client.client.post("/t/alfa/exports/firm.zip")  # no CSRF token
    assert refused.status_code == 403
    archive = await client.post("/t/alfa/exports/firm.zip")
    assert archive.status_code in (200, 201)
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        names = set(files.namelist())
        readme = files.read("README.txt").decode()
        orgs = json.loads(files.read("client_organisations.json"))
        staff = _rows(files.read("staff.csv"))
        sessions = json.loads(files.read("sessions.json"))
    assert {"README.txt", "sessions.json", "sessions.csv", "invoices.csv", "staff.json"} <= names
    assert "Confidential content is not included" in readme
    assert [org["name"] for org in orgs] == ["Esimerkkikunta"]  # firm B's is not here
    assert [str(s["id"]) for s in sessions] == [str(a.session.id)]
    assert "token_hash" not in staff[0] and "password_hash" not in staff[0]
    assert {row[staff[0].index("email")] for row in staff[1:]} == {
        "owner@alfa.example",
        "admin@alfa.example",
        "supervisor@alfa.example",
        "both@shared.example",
    }
    [event] = await _audited(clean_db)
    assert (event.tenant_id, event.actor_user_id) == (a.tenant.id, a.owner.user_id)


async def test_an_owner_who_keeps_notes_may_add_only_their_own_to_the_zip(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    from luotsi.platform.db import TENANT_KEY
    from luotsi.tenants import content

    a = firms.a
    others = await add_content(clean_db, a)  # the supervisor's note, among other content
    own_session = await add_session(clean_db.owner, a.tenant, a.agreement, a.owner)
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        owner_reader = content.Reader(a.owner, clean_db.settings.content_keys)
        await content.write_note(db, owner_reader, own_session.id, "Omistajan oma muistiinpano")
    await _login(client, a.owner.user.email)

    confirm = await client.get("/t/alfa/exports/firm")
    assert "Include the 1 session note that I keep myself" in html.unescape(confirm.text)

    without = await client.post("/t/alfa/exports/firm.zip")
    with zipfile.ZipFile(io.BytesIO(without.content)) as files:
        assert firm_export.OWN_NOTES_FILE not in files.namelist()

    archive = await client.post("/t/alfa/exports/firm.zip", data={"own_notes": "yes"})
    assert archive.status_code in (200, 201)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        notes = json.loads(files.read(firm_export.OWN_NOTES_FILE))
        readme = files.read("README.txt").decode()
        everything = b"".join(files.read(info) for info in files.infolist())
    assert [note["text"] for note in notes] == ["Omistajan oma muistiinpano"]
    assert notes[0]["agreement"] == a.agreement.title
    assert f"{firm_export.OWN_NOTES_FILE}: 1" in readme
    assert others.marker.encode() not in everything  # the supervisor's note stays theirs

    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        reads = list(
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == audit.CONTENT_READ,
                    AuditEvent.actor_user_id == a.owner.user_id,
                )
            )
        )
    assert len(reads) == 1  # the notes put in the zip are audited as read by their keeper


async def test_staff_who_keep_no_notes_are_not_offered_them(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await add_content(clean_db, firms.a)  # notes kept by the supervisor, not the owner
    await _login(client, firms.a.owner.user.email)
    confirm = await client.get("/t/alfa/exports/firm")
    assert 'name="own_notes"' not in confirm.text
