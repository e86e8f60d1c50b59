"""Confidentiality: a session note's text reaches its author and nobody else, anywhere.

A marker string is written into a note of firm A's session by its supervisor. Then every GET
route of the app, read from the route table (so new pages are covered without editing this
file), is requested as firm A's owner, admin, another supervisor and an HR contact with a
portal login, as a full page and as an htmx fragment; none may show the marker. Neither may
the e-mails in the outbox, the supervisor's ICS feed, the audit log or the log output. The
author's own session page shows it, so the test cannot pass by looking in the wrong place.

Later content (assignments, goals, evaluations) and principals (supervisee, manager,
platform operator) join the same crawl when they exist.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import select

from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.identity import TokenPurpose, User, issue_token
from luotsi.platform.members import invite_member
from luotsi.platform.tenancy import Role
from luotsi.tenants import calendars, content
from luotsi.tenants.clients import PersonRole
from tests.conftest import Backend, Client, Outbox, scoped
from tests.factories import Firm, Firms, add_member, add_person, make_user
from tests.web.test_isolation import PARAM, fill, sample_ids

MARKER = "LUOTTAMUKSELLINEN-7c1e-MERKKI"
STATIC_FILE = "luotsi.css"
SCHEMA_PAGE = "openapi.json"

# Path parameters whose value cannot be made from firm A's fixture objects: how each is filled.
# An agreement's acceptance link exists only for a draft sent for acceptance (the fixture's
# agreement is active): that route is requested with a token that matches nothing, which
# still exercises its error page, and is listed here so the gap stays visible.
UNCONSTRUCTED_TOKENS = {
    "/accept/{tenant_slug:str}/{token:str}": "acceptance links exist only for drafts sent out",
}


@dataclass
class World:
    """Firm A with a marked note, the people who must not see it, and the secrets in URLs."""

    firm: Firm
    readers: dict[str, tuple[str, str]]  # principal -> e-mail and name; must never see it
    author: str
    tokens: dict[str, str]  # route path -> token for its {token} parameter
    feed_url: str


async def _member(backend: Backend, firm: Firm, email: str, name: str, role: Role) -> User:
    user = await make_user(backend.owner, email, name)
    membership = await add_member(backend.owner, firm.tenant, user, role)
    if role == Role.CLIENT_CONTACT:  # bound to the session's organisation
        await add_person(
            backend.owner,
            firm.tenant,
            firm.org,
            PersonRole.HR_CONTACT,
            name,
            email=email,
            membership_id=membership.id,
        )
    return user


@pytest.fixture
async def world(clean_db: Backend, firms: Firms, client: Client) -> World:
    a = firms.a
    keys = clean_db.settings.content_keys
    async with scoped(clean_db, a.tenant) as db, db.begin():
        reader = content.Reader(a.supervisor, keys)
        await content.write_note(db, reader, a.session.id, f"Keskustelu: {MARKER}")
        feed_token = await calendars.create_feed(db, a.supervisor)
        _invitation, join_token = await invite_member(
            db, a.owner, "kutsuttu@alfa.example", Role.SUPERVISOR.value
        )
    other = await _member(clean_db, a, "toinen@alfa.example", "Olli Other", Role.SUPERVISOR)
    hr = await _member(clean_db, a, "helmi@alfa-client.example", "Helmi HR", Role.CLIENT_CONTACT)
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        reset_token = await issue_token(db, a.owner.user, TokenPurpose.RESET_PASSWORD)
    # Mail that names the session: the author moves it, and the participants are told.
    author = Client(client.app)
    await author.login(a.supervisor.user.email)
    moved = await author.post(
        f"/t/{a.slug}/sessions/{a.session.id}/reschedule",
        {
            "date": "2026-12-10",
            "time": "10:00",
            "minutes": "60",
            "place": "address",
            "address": "Testikatu 1, Helsinki",
            "anyway": "1",
        },
    )
    assert moved.status_code == 303, moved.text
    return World(
        firm=a,
        readers={
            "owner": (a.owner.user.email, a.owner.user.name),
            "admin": (a.admin.user.email, a.admin.user.name),
            "other_supervisor": (other.email, other.name),
            "hr_contact": (hr.email, hr.name),
        },
        author=a.supervisor.user.email,
        tokens={
            "/password/reset/{token:str}": reset_token,
            "/join/{tenant_slug:str}/{token:str}": join_token,
            "/accept/{tenant_slug:str}/{token:str}": "x" * 43,
        },
        feed_url=f"/ical/{a.slug}/{feed_token}.ics",
    )


def get_routes(app: Litestar) -> list[str]:
    """Every GET path of the app, as declared (with its parameters)."""
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute) and "GET" in route.methods
    )


def url_of(path: str, world: World, tokens: dict[str, str] | None = None) -> str:
    ids: dict[str, Any] = {
        **sample_ids(world.firm),
        "file_path": STATIC_FILE,
        "path": SCHEMA_PAGE,
        "filename": world.feed_url.rsplit("/", 1)[1],
    }
    if "{token" in path:
        known = {**world.tokens, **(tokens or {})}
        assert path in known, f"make a real token for {path} (or list it with a reason)"
        ids["token"] = known[path]
    return fill(path, world.firm.slug, ids)


def leaks_in(response: Any) -> bool:
    return MARKER.encode() in response.content


@pytest.fixture
async def logs(
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[list[dict[str, Any]]]:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as captured:
        yield captured


async def verify_token_of(backend: Backend, email: str) -> dict[str, str]:
    """The e-mail confirmation link signs its holder in: it is the principal's own token."""
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        token = await issue_token(db, user, TokenPurpose.VERIFY_EMAIL)
    return {"/signup/verify/{token:str}": token}


async def test_route_crawl_covers_every_get_route(app: Litestar, world: World) -> None:
    routes = get_routes(app)
    assert "/t/{tenant_slug:str}/sessions/{session_id:uuid}" in routes
    assert "/ical/{tenant_slug:str}/{filename:str}" in routes
    tokens = {"/signup/verify/{token:str}": "t" * 43}
    for path in routes:
        assert not PARAM.search(url_of(path, world, tokens)), path
    assert set(UNCONSTRUCTED_TOKENS) <= set(world.tokens)


async def test_the_author_sees_the_marker_on_the_session_page(client: Client, world: World) -> None:
    """Positive control: the marker is really there to be found."""
    await client.login(world.author)
    page = await client.get(f"/t/{world.firm.slug}/sessions/{world.firm.session.id}")
    assert page.status_code == 200
    assert leaks_in(page)


@pytest.mark.parametrize("principal", ["owner", "admin", "other_supervisor", "hr_contact"])
async def test_no_page_or_fragment_shows_a_note_to_anyone_but_its_author(
    app: Litestar, client: Client, world: World, clean_db: Backend, principal: str
) -> None:
    email, name = world.readers[principal]
    await client.login(email)
    tokens = await verify_token_of(clean_db, email)
    leaks, answered = [], 0
    for path in get_routes(app):
        url = url_of(path, world, tokens)
        for headers in ({}, {"HX-Request": "true"}):
            response = await client.get(url, headers=headers)
            answered += response.status_code == 200
            if leaks_in(response):
                leaks.append(f"{url} {headers} -> {response.status_code}")
    assert leaks == []
    assert answered > 10  # signed in and really crawling, not bounced at every door
    account = await client.get("/account")
    assert f'class="account-link">{name}<' in account.text  # still the same person at the end


async def test_no_email_shows_a_note(outbox: Outbox, world: World) -> None:
    mails = await outbox.deliver()
    assert mails, "the fixture's reschedule should have told the participants"
    for mail in mails:
        assert MARKER not in f"{mail.subject}\n{mail.text}\n{mail.html}", mail.to


async def test_the_supervisors_ics_feed_shows_no_note(client: Client, world: World) -> None:
    feed = await client.get(world.feed_url)
    assert feed.status_code == 200
    assert "BEGIN:VEVENT" in feed.text  # the session is in it, its note is not
    assert not leaks_in(feed)


async def test_the_audit_log_never_holds_a_note(
    client: Client, world: World, clean_db: Backend
) -> None:
    await client.login(world.author)
    await client.get(f"/t/{world.firm.slug}/sessions/{world.firm.session.id}")  # a read
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = list(await db.scalars(select(AuditEvent)))
    assert {row.action for row in rows} >= {"content.read", "content.written"}
    for row in rows:
        for column in AuditEvent.__table__.columns:
            assert MARKER not in str(getattr(row, column.key)), (row.action, column.key)


async def test_no_log_line_shows_a_note(
    app: Litestar,
    client: Client,
    world: World,
    logs: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Everything that touches the note, including refused attempts and a failed write.
    author = Client(app)
    await author.login(world.author)
    session_url = f"/t/{world.firm.slug}/sessions/{world.firm.session.id}"
    await author.get(session_url)
    await author.post(f"{session_url}/notes", {"text": f"{MARKER} " + "x" * 20_001})
    await author.post(f"{session_url}/notes", {"text": f"{MARKER} \x00"})
    await client.login(world.readers["owner"][0])
    await client.get(session_url)
    await client.post(f"{session_url}/notes", {"text": MARKER})
    out = capsys.readouterr()
    assert MARKER not in caplog.text
    assert MARKER not in repr(logs)
    # The posted text echoes back in the author's own 422 page, never into the logs.
    assert MARKER not in out.out and MARKER not in out.err


def test_tokens_listed_as_unconstructed_have_reasons() -> None:
    assert all(reason.strip() for reason in UNCONSTRUCTED_TOKENS.values())
    assert all(re.search(r"{token", path) for path in UNCONSTRUCTED_TOKENS)
