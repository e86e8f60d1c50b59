"""The supervisee's content in their portal: limits, assignments and responses, goals and
evaluations; a copy of their data, who opened their records, and their erasure request. Nobody
else gets any of it."""

from __future__ import annotations

import html
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent, Origin
from luotsi.platform.clock import HELSINKI
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.kinds import SupervisionKind
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import (
    Content,
    Firm,
    Firms,
    add_agreement,
    add_content,
    add_member,
    add_person,
    add_session,
    bind_supervisee_login,
    make_user,
)


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


@pytest.fixture
async def written(clean_db: Backend, firms: Firms) -> Content:
    """One of each piece of content on Sanna's agreement in firm A (and an erasure request)."""
    return await add_content(clean_db, firms.a)


def agreement_url(firm: Firm) -> str:
    return f"/t/{firm.slug}/me/agreements/{firm.agreement.id}"


def response_url(firm: Firm, assignment_id: uuid.UUID) -> str:
    return f"{agreement_url(firm)}/assignments/{assignment_id}/response"


def text_of(response: Any) -> str:
    return html.unescape(response.text)


@asynccontextmanager
async def firm_db(backend: Backend, firm: Firm) -> AsyncIterator[AsyncSession]:
    """A transaction in ``firm``, as the schema owner: for arranging and inspecting only."""
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        yield db


def reader(backend: Backend, membership: Membership, ip: str = "") -> content.Reader:
    return content.Reader(
        membership, backend.settings.content_keys, Origin(ip=ip, user_agent="pytest")
    )


async def audit_actions(backend: Backend, action: str) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        return list(await db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def signed_in(client: Client, written: Content) -> Client:
    await client.login(written.supervisee_login.user.email)
    return client


async def other_client(app: Litestar, email: str) -> Client:
    other = Client(app)
    other.client.cookies.set("luotsi_lang", "en")
    await other.login(email)
    return other


# --- the agreement page -------------------------------------------------------------------------


async def test_supervisee_sees_their_agreements_shared_content(
    client: Client, firms: Firms, written: Content
) -> None:
    await signed_in(client, written)
    index = await client.get("/t/alfa/me/")
    assert agreement_url(firms.a) in index.text
    page = await client.get(agreement_url(firms.a))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    shown = text_of(page)
    limits = shown.split('id="limits"')[1].split("</section>")[0]
    assert f"Rajat {written.marker}" in limits
    assignment = shown.split(f'id="assignment-{written.assignment_id}"')[1].split("</article>")[0]
    assert f"Välitehtävä {written.marker}" in assignment
    assert f"Vastaus {written.marker}" in assignment and "Done" in assignment
    goals = shown.split('id="goals"')[1].split("</section>")[0]
    assert f"Oma tavoite {written.marker}" in goals and "Own goal" in goals
    assert f"Tavoite {written.marker}" in goals and "Organisation's goal" in goals
    own_goal = goals.split(f'id="goal-{written.goal_id}"')[1].split("</article>")[0]
    assert f"Arvio {written.marker}" in own_goal and "3/5" in own_goal
    assert 'class="progress-chart"' in own_goal
    assert f"Muistiinpano {written.marker}" not in shown  # the supervisor's note is theirs
    assert "Maija Supervisor" in shown and "Next review" in shown


async def test_the_page_says_when_nothing_is_written_and_when_content_was_erased(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    login = await bind_supervisee_login(clean_db, firms.a, firms.a.supervisee, "s@alfa.example")
    await client.login(login.user.email)
    page = text_of(await client.get(agreement_url(firms.a)))
    assert "The limits of confidentiality have not been written down yet." in page
    assert "No assignments yet." in page and "No goals yet." in page
    assert "was erased on" not in page and 'id="add-goal"' in page
    async with firm_db(clean_db, firms.a) as db:
        await db.execute(
            update(Agreement)
            .where(Agreement.id == firms.a.agreement.id)
            .values(content_erased_at=clock.now())
        )
    page = text_of(await client.get(agreement_url(firms.a)))
    assert "erased on" in page and "under the firm's retention rule" in page
    assert 'id="add-goal"' not in page  # nothing new is written where the content is gone


async def test_supervisee_responds_and_the_supervisor_sees_the_response(
    app: Litestar, client: Client, firms: Firms, written: Content, clean_db: Backend
) -> None:
    await signed_in(client, written)
    url = response_url(firms.a, written.assignment_id)
    saved = await client.post(url, {"text": "Kokeilin uutta tapaa. RESP-1"})
    assert saved.status_code == 303
    anchor = f"#assignment-{written.assignment_id}"
    assert saved.headers["location"] == agreement_url(firms.a) + anchor
    page = text_of(await client.get(agreement_url(firms.a)))
    block = page.split(f'id="assignment-{written.assignment_id}"')[1].split("</article>")[0]
    assert "RESP-1" in block and ">Done<" not in block  # saved without marking it done
    assert "Your response has been saved." in page

    fragment = await client.post(url, {"text": "Valmis. RESP-2", "done": "1"}, htmx=True)
    assert fragment.status_code == 200
    shown = text_of(fragment)
    assert shown.lstrip().startswith('<article class="supervisee-item is-done" id="assignment-')
    assert "RESP-2" in shown and ">Done<" in shown and "<html" not in shown

    supervisor = await other_client(app, firms.a.supervisor.user.email)
    session_page = text_of(await supervisor.get(f"/t/alfa/sessions/{firms.a.session.id}"))
    if 'id="assignments"' in session_page:
        section = session_page.split('id="assignments"')[1].split("</section>")[0]
        assert "RESP-2" in section and "Sanna Supervisee" in section
    else:  # the staff page without its assignments section: ask the content module
        async with firm_db(clean_db, firms.a) as db:
            (seen,) = await content.list_assignments(
                db, reader(clean_db, firms.a.supervisor), firms.a.agreement.id
            )
        response = seen.response_of(firms.a.supervisee.id)
        assert response is not None and response.text == "Valmis. RESP-2"
        assert response.done_at is not None


async def test_a_response_with_control_characters_is_refused_with_the_reason(
    client: Client, firms: Firms, written: Content
) -> None:
    await signed_in(client, written)
    url = response_url(firms.a, written.assignment_id)
    typed = "Puolikas vastaus \x07 KESKEN"
    for htmx in (False, True):
        refused = await client.post(url, {"text": typed}, htmx=htmx)
        assert refused.status_code == 422
        shown = text_of(refused)
        assert "control characters" in shown
        assert ("<html" in shown) is not htmx
    empty = await client.post(url, {"text": "  "})
    assert empty.status_code == 422 and "Write the text first." in text_of(empty)
    page = text_of(await client.get(agreement_url(firms.a)))
    assert "KESKEN" not in page and f"Vastaus {written.marker}" in page


async def test_supervisee_adds_and_revises_an_own_goal(
    client: Client, firms: Firms, written: Content
) -> None:
    await signed_in(client, written)
    base = agreement_url(firms.a)
    added = await client.post(f"{base}/goals", {"text": "Opin rajaamaan työtäni. GOAL-1"})
    assert added.status_code == 303 and added.headers["location"].endswith("#goals")
    page = text_of(await client.get(base))
    assert "GOAL-1" in page and "The goal has been added." in page

    revised = await client.post(
        f"{base}/goals/{written.goal_id}/revise", {"text": "Tarkennettu tavoite GOAL-2"}
    )
    assert revised.status_code == 303
    page = text_of(await client.get(base))
    assert "GOAL-2" in page and f"Oma tavoite {written.marker}" not in page

    refused = await client.post(f"{base}/goals", {"text": "x" * 2001})
    assert refused.status_code == 422
    assert "Shorten this to 2\u00a0000 characters." in text_of(refused)
    assert "x" * 2001 in refused.text


async def test_supervisee_records_an_evaluation_and_sees_it_in_the_chart(
    client: Client, firms: Firms, written: Content
) -> None:
    await signed_in(client, written)
    url = f"{agreement_url(firms.a)}/goals/{written.goal_id}/evaluations"
    today = clock.today()
    refused = await client.post(url, {"comment": "Sanottavaa EVAL-KEEP", "evaluated_on": ""})
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "Choose a rating from 1 to 5." in shown and "EVAL-KEEP" in shown
    assert "Enter the date of the evaluation" in shown
    recorded = await client.post(
        url, {"rating": "4", "comment": "Edistyin. EVAL-1", "evaluated_on": today.isoformat()}
    )
    assert recorded.status_code == 303
    page = text_of(await client.get(agreement_url(firms.a)))
    goal = page.split(f'id="goal-{written.goal_id}"')[1].split("</article>")[0]
    assert "EVAL-1" in goal and "4/5" in goal and "3/5" in goal
    assert goal.count('class="point"') == 2  # both evaluations drawn


async def test_supervisee_cannot_date_an_evaluation_before_the_agreement(
    client: Client, firms: Firms, written: Content
) -> None:
    await signed_in(client, written)
    url = f"{agreement_url(firms.a)}/goals/{written.goal_id}/evaluations"
    years_before = firms.a.agreement.start_date - timedelta(days=3 * 365)
    refused = await client.post(
        url, {"rating": "4", "comment": "EVAL-OLD", "evaluated_on": years_before.isoformat()}
    )
    assert refused.status_code == 422
    assert "Choose a date within the agreement" in text_of(refused)
    assert "EVAL-OLD" not in text_of(await client.get(agreement_url(firms.a)))


async def test_in_a_group_one_supervisee_never_sees_anothers_own_content(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    greta = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Greta G")
    group = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee, greta],
        kind=SupervisionKind.GROUP,
        title="Tiimi Kolmonen",
    )
    meeting = await add_session(clean_db.owner, a.tenant, group, a.supervisor)
    sanna = await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.s@alfa.example")
    greta_login = await bind_supervisee_login(clean_db, a, greta, "greta@alfa.example")
    async with firm_db(clean_db, a) as db:
        assignment = await content.set_assignment(
            db, reader(clean_db, a.supervisor), meeting.id, "Ryhmän tehtävä GROUP-TASK"
        )
    await client.login(sanna.user.email)
    base = f"/t/alfa/me/agreements/{group.id}"
    goal = await client.post(f"{base}/goals", {"text": "Sannan oma SANNA-GOAL"})
    assert goal.status_code == 303
    answered = await client.post(
        f"{base}/assignments/{assignment.id}/response", {"text": "Sannan vastaus SANNA-RESP"}
    )
    assert answered.status_code == 303
    assert "For the whole group" in (await client.get(base)).text

    theirs = await other_client(client.app, greta_login.user.email)
    page = text_of(await theirs.get(base))
    assert "GROUP-TASK" in page
    assert "SANNA-GOAL" not in page and "SANNA-RESP" not in page
    exported = await theirs.get("/t/alfa/me/export/download")
    data = zipfile.ZipFile(io.BytesIO(exported.content)).read("data.json").decode()
    assert "GROUP-TASK" in data and "SANNA" not in data


# --- a copy of their data -----------------------------------------------------------------------


async def test_supervisee_downloads_a_copy_of_their_data(
    client: Client, firms: Firms, written: Content, clean_db: Backend
) -> None:
    await signed_in(client, written)
    explained = await client.get("/t/alfa/me/export")
    assert explained.status_code == 200 and "/t/alfa/me/export/download" in explained.text
    assert "/t/alfa/me/export" in (await client.get("/t/alfa/me/")).text

    download = await client.get("/t/alfa/me/export/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "private, no-store"
    name = f"luotsi-my-data-{clock.today().isoformat()}.zip"
    assert download.headers["content-disposition"] == f'attachment; filename="{name}"'
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == ["data.html", "data.json"]

    data = json.loads(archive.read("data.json").decode("utf-8"))
    assert data["firm"] == "Alfa Työnohjaus Oy"
    assert data["person"]["name"] == "Sanna Supervisee"
    (agreement,) = data["agreements"]
    assert agreement["limits_of_confidentiality"] == f"Rajat {written.marker}"
    assert {goal["text"] for goal in agreement["goals"]} == {
        f"Oma tavoite {written.marker}",
        f"Tavoite {written.marker}",
    }
    (assignment,) = agreement["assignments"]
    assert assignment["response"] == f"Vastaus {written.marker}" and assignment["done_at"]
    starts_at = agreement["sessions"][0]["starts_at"]
    assert datetime.fromisoformat(starts_at) == firms.a.session.starts_at
    assert starts_at.endswith(
        firms.a.session.starts_at.astimezone(HELSINKI).strftime("%z")[:3] + ":00"
    )
    assert f"Muistiinpano {written.marker}" not in json.dumps(data, ensure_ascii=False)

    page = archive.read("data.html").decode("utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="en">' in page
    assert f"Arvio {written.marker}" in html.unescape(page) and "3/5" in page
    for external in ("<script", "<link", "src=", "http://", "https://"):
        assert external not in page

    (exported,) = await audit_actions(clean_db, audit.DATA_EXPORTED)
    assert exported.actor_user_id == written.supervisee_login.user_id
    assert exported.context_id == firms.a.supervisee.id


# --- who has opened their records ---------------------------------------------------------------


async def test_the_history_lists_the_supervisors_reads_by_name_without_their_address(
    client: Client, firms: Firms, written: Content, clean_db: Backend
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await content.read_limits(
            db, reader(clean_db, firms.a.supervisor, ip="192.0.2.77"), firms.a.agreement.id
        )
    await signed_in(client, written)
    assert "/t/alfa/me/history" in (await client.get("/t/alfa/me/")).text
    page = await client.get("/t/alfa/me/history")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = text_of(page)
    assert "nobody else" in shown and "Every opening" in shown
    rows = [row.split("</tr>")[0] for row in shown.split('class="history-row"')[1:]]
    assert any(
        "Maija Supervisor" in row and "Read · limits of confidentiality" in row for row in rows
    )
    assert any("Maija Supervisor" in row and "Wrote · assignment" in row for row in rows)
    assert any("<td>You</td>" in row and "Wrote · response" in row for row in rows)
    assert "192.0.2.77" not in shown and "pytest" not in shown
    assert written.marker not in shown


# --- erasure ------------------------------------------------------------------------------------


async def test_supervisee_asks_for_erasure_once_and_sees_the_owners_answer(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    login = await bind_supervisee_login(clean_db, firms.a, firms.a.supervisee, "s@alfa.example")
    await client.login(login.user.email)
    assert "/t/alfa/me/erasure" in (await client.get("/t/alfa/me/")).text
    page = text_of(await client.get("/t/alfa/me/erasure"))
    assert "your login ends" in page and "the law requires" in page
    assert "/t/alfa/me/erasure/confirm" in page
    confirm = text_of(await client.get("/t/alfa/me/erasure/confirm"))
    assert 'id="erasure-form"' in confirm and "cannot be undone" in confirm

    sent = await client.post("/t/alfa/me/erasure")
    assert sent.status_code == 303 and sent.headers["location"] == "/t/alfa/me/erasure"
    page = text_of(await client.get("/t/alfa/me/erasure"))
    assert "Your request has been sent to the firm." in page
    assert "Waiting for the owner" in page and "/t/alfa/me/erasure/confirm" not in page
    assert 'id="erasure-form"' not in text_of(await client.get("/t/alfa/me/erasure/confirm"))

    again = await client.post("/t/alfa/me/erasure")
    assert again.status_code == 422
    assert "Your request is already waiting for the firm." in text_of(again)
    assert len(await audit_actions(clean_db, audit.ERASURE_REQUESTED)) == 1

    async with firm_db(clean_db, firms.a) as db:
        latest = await content.latest_request_of(db, login)
        assert latest is not None
        await content.decline_erasure(
            db, firms.a.owner, latest.id, "Sopimus on vielä voimassa DECLINE-REASON."
        )
    page = text_of(await client.get("/t/alfa/me/erasure"))
    assert "Declined" in page and "DECLINE-REASON" in page
    assert "/t/alfa/me/erasure/confirm" in page  # they may ask again


# --- nobody else --------------------------------------------------------------------------------


PAGES = ("", "/export", "/export/download", "/history", "/erasure", "/erasure/confirm")


async def test_nobody_else_gets_any_of_the_supervisees_content(
    app: Litestar, firms: Firms, written: Content, clean_db: Backend
) -> None:
    a = firms.a
    olli = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Olli Other")
    olli_login = await bind_supervisee_login(clean_db, a, olli, "olli@alfa-client.example")
    hr_user = await make_user(clean_db.owner, "helmi@esimerkki.fi", "Helmi HR")
    await add_member(clean_db.owner, a.tenant, hr_user, Role.CLIENT_CONTACT)
    agreement = agreement_url(a)
    urls = [agreement] + [f"/t/alfa/me{page}" for page in PAGES]
    for email, allowed in (
        (a.owner.user.email, {200}),  # the portal's explanation, nothing of Sanna's
        (a.admin.user.email, {200}),
        (a.supervisor.user.email, {403, 404}),
        ("helmi@esimerkki.fi", {403, 404}),
        (olli_login.user.email, {200, 404}),  # his own portal, never her agreement
        (firms.b.owner.user.email, {404}),
    ):
        other = await other_client(app, email)
        for url in urls:
            response = await other.get(url)
            assert response.status_code in allowed, (email, url, response.status_code)
            if email == olli_login.user.email and url == agreement:
                assert response.status_code == 404
            shown = text_of(response) if "zip" not in response.headers["content-type"] else ""
            if "zip" in response.headers["content-type"]:
                data = zipfile.ZipFile(io.BytesIO(response.content)).read("data.json").decode()
                assert written.marker not in data and "Sanna" not in data
            assert written.marker not in shown and "Sanna" not in shown, (email, url)
        posts = {
            f"{agreement}/goals": {"text": "FORGED-GOAL"},
            f"{agreement}/goals/{written.goal_id}/revise": {"text": "FORGED-GOAL"},
            f"{agreement}/goals/{written.goal_id}/evaluations": {
                "rating": "1",
                "evaluated_on": clock.today().isoformat(),
            },
            response_url(a, written.assignment_id): {"text": "FORGED-RESPONSE"},
        }
        for url, form in posts.items():
            response = await other.post(url, form)
            assert response.status_code in (403, 404), (email, url, response.status_code)
        if email != olli_login.user.email:  # his own request would be his to send
            assert (await other.post("/t/alfa/me/erasure")).status_code in (403, 404)

    sanna = await other_client(app, written.supervisee_login.user.email)
    page = text_of(await sanna.get(agreement))
    assert "FORGED" not in page and "1/5" not in page
    assert f"Vastaus {written.marker}" in page
