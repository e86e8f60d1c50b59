"""The supervisee's portal: invitation, their own sessions and agreements only, cancelling within
the terms, inviting their manager to an evaluation meeting; and nobody else sees it."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select, update

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Role
from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.clients.models import ClientPerson, PersonRole
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import (
    MeetingKind,
    SessionChange,
    SessionStatus,
    SupervisionSession,
)
from tests.conftest import Backend, Client, Outbox, link_in, scoped
from tests.factories import (
    Firm,
    Firms,
    add_agreement,
    add_member,
    add_person,
    add_session,
    make_user,
)
from tests.web.test_isolation import fill, sample_ids, workspace_routes

SANNA = "sanna@alfa-client.example"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


async def _bind_login(backend: Backend, firm: Firm, person: ClientPerson, email: str) -> None:
    """Give ``person`` a bound supervisee login (as after an accepted invitation)."""
    user = await make_user(backend.owner, email, person.name)
    login = await add_member(backend.owner, firm.tenant, user, Role.SUPERVISEE)
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        await db.execute(
            update(ClientPerson).where(ClientPerson.id == person.id).values(membership_id=login.id)
        )


async def _sanna(client: Client, backend: Backend, firm: Firm) -> None:
    await _bind_login(backend, firm, firm.supervisee, SANNA)
    await client.login(SANNA)


async def _meeting(
    backend: Backend, firm: Firm, in_hours: float, agreement: Any = None, **fields: Any
) -> SupervisionSession:
    return await add_session(
        backend.owner,
        firm.tenant,
        agreement or firm.agreement,
        firm.supervisor,
        starts_at=clock.now().replace(microsecond=0) + timedelta(hours=in_hours),
        **fields,
    )


async def _stored(backend: Backend, firm: Firm, session_id: uuid.UUID) -> SupervisionSession:
    async with scoped(backend, firm.tenant) as db:
        found = await db.scalar(
            select(SupervisionSession).where(SupervisionSession.id == session_id)
        )
        assert found is not None
        return found


async def test_supervisee_is_invited_accepts_and_lands_on_their_portal(
    client_factory: Any, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    await _meeting(clean_db, firms.a, 24 * 10, address="Ohjaajankatu 3, Hyvinkää")
    owner = client_factory()
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    person_url = f"/t/alfa/clients/people/{firms.a.supervisee.id}"
    assert "Invite to the supervisee portal" in (await owner.get(person_url)).text
    assert (await owner.post(person_url + "/invite")).status_code == 303
    assert "Invited on" in (await owner.get(person_url)).text

    mail = await outbox.last_to(SANNA)
    assert "Alfa Työnohjaus Oy" in mail.subject and "Luotsi" in mail.subject  # in Finnish
    sanna = client_factory()
    sanna.client.cookies.set("luotsi_lang", "en")
    link = link_in(mail)
    assert (await sanna.get(link)).status_code == 200
    joined = await sanna.post(link, {"name": "Sanna S", "password": "a good long password"})
    assert joined.status_code == 303 and joined.headers["location"] == "/t/alfa/"
    landing = await sanna.get("/t/alfa/")
    assert landing.status_code == 303 and landing.headers["location"] == "/t/alfa/me/"
    page = await sanna.get("/t/alfa/me/")
    assert page.status_code == 200
    assert "Individual supervision" in page.text and "Maija Supervisor" in page.text
    upcoming = page.text.split('id="upcoming"')[1].split("</section>")[0]
    assert "Ohjaajankatu 3, Hyvinkää" in upcoming and "Supervision session" in upcoming
    nav = page.text.split('class="mainnav"')[1].split("</nav>")[0]
    assert "My supervision" in nav and "Dashboard" not in nav and "Clients" not in nav
    assert "Has a portal login: sees their own sessions" in (await owner.get(person_url)).text


async def test_supervisee_sees_only_their_own_agreements_and_their_groups(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    olli = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Olli Other")
    greta = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Greta G")
    ollis = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [olli], title="Ollin prosessi"
    )
    group = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee, greta],
        kind=SupervisionKind.GROUP,
        title="Tiimi Kolmonen",
    )
    await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee],
        title="Luonnos",
        status=AgreementStatus.DRAFT,
    )
    theirs = await _meeting(clean_db, a, 24 * 5, ollis, address="Ollintie 5")
    await _meeting(clean_db, a, 24 * 6, group, address="Ryhmätila 2")
    await _meeting(clean_db, a, -24 * 20, status=SessionStatus.HELD, billable=True)
    await _sanna(client, clean_db, a)
    page = await client.get("/t/alfa/me/")
    assert page.status_code == 200
    assert "Tiimi Kolmonen" in page.text and "Ryhmätila 2" in page.text
    past = page.text.split('id="past"')[1].split("</section>")[0]
    assert "Held" in past
    for foreign in ("Ollin prosessi", "Ollintie 5", "Luonnos", "Olli Other"):
        assert foreign not in page.text
    assert (await client.get(f"/t/alfa/me/sessions/{theirs.id}/cancel")).status_code == 404
    assert (await client.post(f"/t/alfa/me/sessions/{theirs.id}/cancel")).status_code == 404
    assert (await _stored(clean_db, a, theirs.id)).status == SessionStatus.PLANNED
    assert (await client.get("/t/beeta/me/")).status_code == 404


async def test_an_on_time_cancellation_is_not_billable_and_tells_everyone(
    client: Client, firms: Firms, clean_db: Backend, outbox: Outbox
) -> None:
    meeting = await _meeting(clean_db, firms.a, 24 * 3)
    await _sanna(client, clean_db, firms.a)
    url = f"/t/alfa/me/sessions/{meeting.id}/cancel"
    assert url in (await client.get("/t/alfa/me/")).text
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert "This cancellation is on time: at least 24 hours before the start." in confirm.text
    assert "billable: the session counts as used" not in confirm.text
    done = await client.post(url)
    assert done.status_code == 303 and done.headers["location"] == "/t/alfa/me/"
    stored = await _stored(clean_db, firms.a, meeting.id)
    assert stored.status == SessionStatus.CANCELLED_BY_CLIENT
    assert stored.late_cancellation is False and stored.billable is False
    assert stored.cancelled_at is not None
    page = await client.get("/t/alfa/me/")
    assert "The session is cancelled and the participants told." in page.text
    assert url not in page.text  # cancelled: nothing more to cancel
    assert "Cancelled by the client" in page.text
    to = {m.to for m in await outbox.deliver()}
    assert {SANNA, firms.a.supervisor.user.email} <= to
    assert (await client.post(url)).status_code == 404  # not twice


async def test_a_late_cancellation_says_so_and_is_billable(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    meeting = await _meeting(clean_db, firms.a, 5)
    await _sanna(client, clean_db, firms.a)
    url = f"/t/alfa/me/sessions/{meeting.id}/cancel"
    confirm = await client.get(url)
    assert "This cancellation is late: less than 24 hours before the start." in confirm.text
    assert "A late cancellation is billable" in confirm.text
    assert (await client.post(url)).status_code == 303
    stored = await _stored(clean_db, firms.a, meeting.id)
    assert stored.status == SessionStatus.CANCELLED_BY_CLIENT
    assert stored.late_cancellation is True and stored.billable is True
    async with scoped(clean_db, firms.a.tenant) as db:
        change = await db.scalar(
            select(SessionChange).where(SessionChange.session_id == meeting.id)
        )
    assert change is not None and change.kind == SessionStatus.CANCELLED_BY_CLIENT.value


async def test_past_and_group_sessions_are_not_cancelled_by_a_supervisee(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    greta = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Greta G")
    group = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee, greta], title="Tiimi"
    )
    group_meeting = await _meeting(clean_db, a, 24 * 4, group)
    begun = await _meeting(clean_db, a, -1)
    await _sanna(client, clean_db, a)
    for meeting in (group_meeting, begun):
        url = f"/t/alfa/me/sessions/{meeting.id}/cancel"
        assert (await client.get(url)).status_code == 404
        assert (await client.post(url)).status_code == 404
        assert (await _stored(clean_db, a, meeting.id)).status == SessionStatus.PLANNED


async def test_supervisee_invites_their_manager_to_an_evaluation_meeting(
    client: Client, firms: Firms, clean_db: Backend, outbox: Outbox
) -> None:
    evaluation = await _meeting(clean_db, firms.a, 24 * 14, kind=MeetingKind.EVALUATION)
    session = await _meeting(clean_db, firms.a, 24 * 7)
    await _sanna(client, clean_db, firms.a)
    url = f"/t/alfa/me/sessions/{evaluation.id}/manager"
    page = await client.get("/t/alfa/me/")
    assert url in page.text and f"/t/alfa/me/sessions/{session.id}/manager" not in page.text
    before = clock.now()
    assert (await client.post(url)).status_code == 303
    stored = await _stored(clean_db, firms.a, evaluation.id)
    assert stored.manager_invited_by == firms.a.supervisee.id
    assert stored.manager_invited_at is not None and stored.manager_invited_at >= before
    assert stored.sequence == 1
    mail = await outbox.last_to("manager@alfa-client.example")
    assert "Arviointikeskustelu" in mail.text  # the evaluation meeting, in the client's language
    page = await client.get("/t/alfa/me/")
    assert "The manager is invited to the evaluation meeting." in page.text
    assert "Manager invited" in page.text and f'action="{url}"' not in page.text
    again = await client.post(url)
    assert again.status_code == 422 and "only to a planned evaluation meeting" in again.text
    wrong = await client.post(f"/t/alfa/me/sessions/{session.id}/manager")
    assert wrong.status_code == 422
    assert (await _stored(clean_db, firms.a, session.id)).manager_invited_by is None


async def _payloads(backend: Backend) -> list[dict[str, Any]]:
    """Every queued e-mail, oldest first."""
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [r.payload for r in rows]


async def _history(client: Client, session_id: uuid.UUID) -> str:
    page = await client.get(f"/t/alfa/sessions/{session_id}")
    return html.unescape(page.text.split('id="session-history"')[1])


async def test_a_staff_request_for_the_manager_waits_for_the_supervisees_confirmation(
    client: Client, client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    evaluation = await _meeting(clean_db, a, 24 * 14, kind=MeetingKind.EVALUATION)
    staff = client_factory()
    staff.client.cookies.set("luotsi_lang", "en")
    await staff.login(a.supervisor.user.email)
    assert (
        await staff.post(f"/t/alfa/sessions/{evaluation.id}/manager-request")
    ).status_code == 303
    assert (await _stored(clean_db, a, evaluation.id)).manager_invited_by is None
    assert "manager@alfa-client.example" not in [p["to"] for p in await _payloads(clean_db)]

    await _sanna(client, clean_db, a)
    page = html.unescape((await client.get("/t/alfa/me/")).text)
    assert "Your supervisor recorded that you would like your manager Matti Manager" in page
    assert (await client.post(f"/t/alfa/me/sessions/{evaluation.id}/manager")).status_code == 303
    assert (await _stored(clean_db, a, evaluation.id)).manager_invited_by == a.supervisee.id
    assert "manager@alfa-client.example" in [p["to"] for p in await _payloads(clean_db)]
    history = await _history(staff, evaluation.id)
    recorded, invited = history.split("Invited the manager")
    assert "Recorded the supervisee's request" in recorded and "Maija Supervisor" in recorded
    assert "Sanna Supervisee" in invited.split("</tr>")[0]


async def test_a_supervisee_declines_the_request_and_nobody_is_invited(
    client: Client, client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    evaluation = await _meeting(clean_db, a, 24 * 14, kind=MeetingKind.EVALUATION)
    staff = client_factory()
    staff.client.cookies.set("luotsi_lang", "en")
    await staff.login(a.supervisor.user.email)
    await staff.post(f"/t/alfa/sessions/{evaluation.id}/manager-request")
    await _sanna(client, clean_db, a)
    declined = await client.post(f"/t/alfa/me/sessions/{evaluation.id}/manager/decline")
    assert declined.status_code == 303
    page = html.unescape((await client.get(declined.headers["location"])).text)
    assert "You declined the request" in page and "Your supervisor recorded" not in page
    assert (await _stored(clean_db, a, evaluation.id)).manager_invited_by is None
    assert "manager@alfa-client.example" not in [p["to"] for p in await _payloads(clean_db)]
    assert "Declined the request to invite the manager" in await _history(staff, evaluation.id)


async def test_the_manager_gets_an_invitation_and_the_others_a_participants_notice(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    evaluation = await _meeting(clean_db, firms.a, 24 * 14, kind=MeetingKind.EVALUATION)
    await _sanna(client, clean_db, firms.a)
    await client.post(f"/t/alfa/me/sessions/{evaluation.id}/manager")
    mails = {p["to"]: p for p in await _payloads(clean_db)}
    manager = mails["manager@alfa-client.example"]
    assert manager["subject"].startswith("Kutsu: Arviointikeskustelu")
    assert "muuttunut" not in manager["text"]  # nothing changed for them: it is new
    for to in (SANNA, "supervisor@alfa.example"):
        assert not mails[to]["subject"].startswith("Muutettu"), to
        assert "aika tai paikka" not in mails[to]["text"]
        assert "Matti Manager" in mails[to]["text"]


async def test_the_supervisee_withdraws_their_managers_invitation(
    client: Client, client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    evaluation = await _meeting(clean_db, a, 24 * 14, kind=MeetingKind.EVALUATION)
    await _sanna(client, clean_db, a)
    await client.post(f"/t/alfa/me/sessions/{evaluation.id}/manager")
    url = f"/t/alfa/me/sessions/{evaluation.id}/manager/withdraw"
    assert url in (await client.get("/t/alfa/me/")).text
    done = await client.post(url)
    assert done.status_code == 303
    after = html.unescape((await client.get(done.headers["location"])).text)
    assert "The manager's invitation has been withdrawn." in after
    assert (await _stored(clean_db, a, evaluation.id)).manager_invited_by is None
    to_manager = [p for p in await _payloads(clean_db) if p["to"] == "manager@alfa-client.example"]
    assert to_manager[-1]["attachments"][0]["params"] == {"method": "CANCEL"}
    staff = client_factory()
    staff.client.cookies.set("luotsi_lang", "en")
    await staff.login(a.supervisor.user.email)
    withdrawn = (await _history(staff, evaluation.id)).split("Withdrew the manager's invitation")
    assert "Sanna Supervisee" in withdrawn[1].split("</tr>")[0]
    assert (await client.post(url)).status_code == 422  # nothing left to withdraw


async def test_a_supervisee_gets_nothing_else_of_the_workspace(
    app: Litestar, client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _sanna(client, clean_db, firms.a)
    ids = sample_ids(firms.a)
    opened = []
    for method, path in workspace_routes(app):
        url = fill(path, "alfa", ids)
        if path.startswith("/t/{tenant_slug:str}/me") or path == "/t/{tenant_slug:str}":
            continue
        response = await client.request(method, url, data={"name": "x", "role": "admin"})
        if response.status_code not in (403, 404):
            opened.append(f"{method} {url} -> {response.status_code}")
    assert opened == []


async def test_nobody_else_sees_a_supervisees_portal(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    meeting = await _meeting(clean_db, a, 24 * 3, address="Salainen paikka 1")
    cancel = f"/t/alfa/me/sessions/{meeting.id}/cancel"
    olli = await add_person(clean_db.owner, a.tenant, a.org, PersonRole.SUPERVISEE, "Olli Other")
    await _bind_login(clean_db, a, olli, "olli@alfa-client.example")
    await client.login("olli@alfa-client.example")
    own = await client.get("/t/alfa/me/")
    assert own.status_code == 200 and "Salainen paikka 1" not in own.text
    assert (await client.get(cancel)).status_code == 404
    assert (await client.post(cancel)).status_code == 404
    hr_user = await make_user(clean_db.owner, "helmi@esimerkki.fi", "Helmi HR")
    await add_member(clean_db.owner, a.tenant, hr_user, Role.CLIENT_CONTACT)
    for email, allowed in (
        (a.supervisor.user.email, {403}),  # the supervisor's own meeting, still not theirs here
        ("helmi@esimerkki.fi", {403, 404}),
        (a.owner.user.email, {200}),  # an explanation of the portal, nothing of Sanna's
        (firms.b.owner.user.email, {404}),
    ):
        other = Client(client.app)
        other.client.cookies.set("luotsi_lang", "en")
        await other.login(email)
        for url in ("/t/alfa/me/", cancel):
            response = await other.get(url)
            assert response.status_code in allowed, (email, url)
            assert "Salainen paikka 1" not in response.text and "Sanna" not in response.text
        assert (await other.post(cancel)).status_code in (403, 404)
    assert (await _stored(clean_db, a, meeting.id)).status == SessionStatus.PLANNED


async def test_owners_get_an_explanation_not_a_preview(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    page = await client.get("/t/alfa/me/")
    assert page.status_code == 200
    assert "Invite to the supervisee portal" in html.unescape(page.text)
    assert "Sanna Supervisee" not in page.text


async def test_an_archived_supervisee_loses_the_portal(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    meeting = await _meeting(clean_db, firms.a, 24 * 3)
    await _sanna(client, clean_db, firms.a)
    owner = Client(client.app)
    await owner.login(firms.a.owner.user.email)
    person = f"/t/alfa/clients/people/{firms.a.supervisee.id}"
    assert (await owner.post(person + "/archive")).status_code == 303
    refused = await client.get("/t/alfa/me/")
    assert refused.status_code == 403 and "not linked to a supervisee" in refused.text
    assert (await client.post(f"/t/alfa/me/sessions/{meeting.id}/cancel")).status_code == 403
    assert (await owner.post(person + "/restore")).status_code == 303
    assert (await client.get("/t/alfa/me/")).status_code == 200


async def test_supervisee_logins_are_not_granted_from_the_member_list(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    forged = await client.post(
        "/t/alfa/members/invite", {"email": "someone@example.fi", "role": "supervisee"}
    )
    assert forged.status_code == 422 and "Choose a role." in forged.text
