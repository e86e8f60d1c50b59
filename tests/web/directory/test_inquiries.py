"""Inquiries over HTTP: the public form with its spam rules, and the firm's inbox."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller as SMTPController
from sqlalchemy import select

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.mail import Mailer
from luotsi.platform.outbox import OutboxMessage, run_once
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.directory.inquiries import issue_form_token
from luotsi.tenants.directory.models import Inquiry, InquiryStatus
from tests.conftest import BASE_URL, Backend, Client
from tests.factories import Firms, add_inquiry
from tests.platform.test_outbox import Inbox, free_port

ORGANISATION = "Hyvinkään kaupunki, perhepalvelut"
SENDER = "sanna.lahettaja@hyvinkaa.example"
MESSAGE = "Haemme ryhmätyönohjausta kuudelle perhetyöntekijälle syksystä alkaen."


def old_token(backend: Backend, age: timedelta = timedelta(seconds=10)) -> str:
    """A form token as if the form had been open for ``age``."""
    return issue_form_token(backend.settings.secret_key, clock.now() - age)


def filled(backend: Backend, **changes: str) -> dict[str, str]:
    data = {
        "organisation": ORGANISATION,
        "name": "Sanna Lähettäjä",
        "email": SENDER,
        "phone": "040 123 4567",
        "municipality": "Hyvinkää",
        "kind": "group",
        "message": MESSAGE,
        "consent": "yes",
        "form_token": old_token(backend),
        "website": "",
    }
    data.update(changes)
    return data


async def stored(backend: Backend, tenant: Tenant) -> list[Inquiry]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = tenant.id
        return list(await db.scalars(select(Inquiry).order_by(Inquiry.created_at)))


async def sent_mail(backend: Backend) -> list[dict[str, Any]]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        return [row.payload for row in await db.scalars(select(OutboxMessage))]


def field_errors(html: str) -> set[str]:
    """The fields of the inquiry form that carry an error message."""
    return set(re.findall(r'id="inquiry-(\w+)-error"', html))


def input_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name}"
    return match.group(1)


# --- sending --------------------------------------------------------------------------------


async def test_inquiry_from_a_supervisors_page_reaches_them_and_confirms_in_swedish(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    visitor: Client = client_factory()
    visitor.client.cookies.set("luotsi_lang", "sv")
    page = await visitor.get(f"/f/alfa/inquiry?profile={firms.a.profile.id}")
    assert page.status_code == 200
    assert input_value(page.text, "profile") == str(firms.a.profile.id)
    assert input_value(page.text, "form_token")

    data = filled(clean_db, profile=str(firms.a.profile.id))
    response = await visitor.post("/f/alfa/inquiry", data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/f/alfa/inquiry/sent"
    thanks = await visitor.get("/f/alfa/inquiry/sent")
    assert thanks.status_code == 200 and "Alfa Työnohjaus Oy" in thanks.text

    (inquiry,) = [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]
    assert inquiry.organisation == ORGANISATION
    assert inquiry.language == "sv"
    assert inquiry.requested_profile_id == firms.a.profile.id
    assert inquiry.municipality_code == "106"  # Hyvinkää
    assert inquiry.phone == "+358401234567"
    assert inquiry.status == InquiryStatus.NEW
    assert [i for i in await stored(clean_db, firms.b.tenant) if i.email == SENDER] == []

    mails = {m["to"]: m for m in await sent_mail(clean_db)}
    assert set(mails) == {firms.a.supervisor.user.email, SENDER}
    notice, confirmation = mails[firms.a.supervisor.user.email], mails[SENDER]
    assert ORGANISATION in notice["subject"]
    assert f"/t/alfa/inquiries/{inquiry.id}" in notice["text"]
    assert confirmation["language"] == "sv"
    assert "Alfa Työnohjaus Oy" in confirmation["subject"]
    assert "Hyvinge" in confirmation["text"]  # the municipality named in Swedish
    # What the sender wrote travels to nobody by e-mail.
    assert all(MESSAGE not in m["text"] and MESSAGE not in m["html"] for m in mails.values())

    # The worker delivers both through a real SMTP server.
    inbox, port = Inbox(), free_port()
    smtp = SMTPController(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        settings = replace(clean_db.settings, smtp_host="127.0.0.1", smtp_port=port)
        assert await run_once(make_sessionmaker(engine), Mailer(settings)) == 2
    finally:
        await engine.dispose()
        smtp.stop()
    received = {str(m["To"]): m for m in inbox.messages}
    assert set(received) == {firms.a.supervisor.user.email, SENDER}
    to_sender = received[SENDER]
    assert to_sender["Content-Language"] == "sv"
    assert "Alfa Työnohjaus Oy" in str(to_sender["Subject"])
    assert "Hyvinge" in to_sender.get_body(("plain",)).get_content()
    to_supervisor = received[firms.a.supervisor.user.email]
    assert f"{BASE_URL}/t/alfa/inquiries/{inquiry.id}" in (
        to_supervisor.get_body(("plain",)).get_content()
    )


async def test_who_sees_an_inquiry_sent_from_a_supervisors_page(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    visitor: Client = client_factory()
    response = await visitor.post(
        "/f/alfa/inquiry", filled(clean_db, profile=str(firms.a.profile.id))
    )
    assert response.status_code == 303
    (inquiry,) = [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]
    detail = f"/t/alfa/inquiries/{inquiry.id}"

    async def sees(email: str, slug: str = "alfa") -> tuple[bool, int]:
        person: Client = client_factory()
        await person.login(email)
        inbox = await person.get(f"/t/{slug}/inquiries/")
        assert inbox.status_code == 200
        return ORGANISATION in inbox.text, (await person.get(detail)).status_code

    assert await sees(firms.a.owner.user.email) == (True, 200)
    assert await sees(firms.a.admin.user.email) == (True, 200)
    assert await sees(firms.a.supervisor.user.email) == (True, 200)  # it was sent to them
    assert await sees(firms.both.email) == (False, 404)  # another supervisor of the firm
    assert await sees(firms.b.owner.user.email, "beeta") == (False, 404)


async def test_inquiry_from_the_firm_page_notifies_owners_and_admins(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    response = await client.post("/f/alfa/inquiry", filled(clean_db))
    assert response.status_code == 303
    recipients = sorted(m["to"] for m in await sent_mail(clean_db))
    assert recipients == sorted([firms.a.owner.user.email, firms.a.admin.user.email, SENDER])
    (inquiry,) = [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]
    assert inquiry.requested_profile_id is None


async def test_a_profile_that_is_not_public_is_ignored(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    data = filled(clean_db, profile=str(firms.b.profile.id))  # another firm's supervisor
    assert (await client.post("/f/alfa/inquiry", data)).status_code == 303
    (inquiry,) = [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]
    assert inquiry.requested_profile_id is None
    assert firms.b.supervisor.user.email not in {m["to"] for m in await sent_mail(clean_db)}


async def test_an_anonymous_visitor_gets_a_csrf_cookie_and_the_form_carries_it(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    browser = client.client  # plain requests: the token travels only in the form
    page = await browser.get("/f/alfa/inquiry")
    assert page.status_code == 200 and browser.cookies.get("__Host-luotsi_csrf")
    data = filled(clean_db, _csrf_token=input_value(page.text, "_csrf_token"))
    response = await browser.post("/f/alfa/inquiry", data=data)
    assert response.status_code == 303, response.text
    forged = await browser.post("/f/alfa/inquiry", data=filled(clean_db))
    assert forged.status_code == 403
    assert len([i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]) == 1


async def test_htmx_gets_the_thank_you_in_place_of_the_form(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    response = await client.post("/f/alfa/inquiry", filled(clean_db), htmx=True)
    assert response.status_code == 200
    assert 'id="inquiry"' in response.text and "<html" not in response.text
    assert "<form" not in response.text
    assert len([i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]) == 1


async def test_municipality_suggestions_offer_municipalities_only(
    client: Client, firms: Firms
) -> None:
    async def options(text: str) -> list[str]:
        response = await client.get(
            f"/f/alfa/inquiry/places?municipality={text}", headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        return re.findall(r'<option value="([^"]+)">', response.text)

    assert (await options("hyv"))[0].startswith("Hyvinkää")
    swedish = await options("tavast")  # offered as typed: in Swedish, on a Finnish page
    assert any(o.startswith("Tavastehus") for o in swedish)
    assert all(o.startswith("Tavast") for o in swedish)
    assert await options("uusimaa") == []  # a region, not a municipality


async def test_unknown_or_closed_firm_has_no_inquiry_form(client: Client, firms: Firms) -> None:
    assert (await client.get("/f/no-such-firm/inquiry")).status_code == 404
    response = await client.post("/f/no-such-firm/inquiry", {"organisation": "x"})
    assert response.status_code == 404


# --- spam rules -----------------------------------------------------------------------------


async def test_filled_honeypot_looks_like_success_but_keeps_and_sends_nothing(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    before = await stored(clean_db, firms.a.tenant)
    response = await client.post("/f/alfa/inquiry", filled(clean_db, website="http://spam.example"))
    assert response.status_code == 303
    assert response.headers["location"] == "/f/alfa/inquiry/sent"
    htmx = await client.post(
        "/f/alfa/inquiry", filled(clean_db, website="http://spam.example"), htmx=True
    )
    honest = await client.post("/f/beeta/inquiry", filled(clean_db), htmx=True)
    assert htmx.status_code == honest.status_code == 200
    assert htmx.text.replace("Alfa", "Beeta").replace("/f/alfa/", "/f/beeta/") == honest.text
    assert len(await stored(clean_db, firms.a.tenant)) == len(before)
    assert {m["to"] for m in await sent_mail(clean_db)} == {
        firms.b.owner.user.email,
        firms.b.admin.user.email,
        firms.both.email,  # an admin of Beeta
        SENDER,
    }  # only the honest inquiry to Beeta


async def test_a_form_sent_too_fast_is_refused_and_kept(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    page = await client.get("/f/alfa/inquiry")
    fresh = input_value(page.text, "form_token")
    response = await client.post("/f/alfa/inquiry", filled(clean_db, form_token=fresh))
    assert response.status_code == 422
    assert "sent very quickly" in response.text
    assert f'value="{ORGANISATION}"' in response.text and MESSAGE in response.text
    assert input_value(response.text, "form_token") != ""  # a new token to send again with
    assert [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER] == []
    assert await sent_mail(clean_db) == []


async def test_a_missing_or_tampered_token_is_refused(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    stamp, _dot, signature = old_token(clean_db).partition(".")
    older = str(int(stamp) - 3600)
    for token in ("", "garbage", f"{older}.{signature}", f"{stamp}.{'0' * 64}"):
        response = await client.post("/f/alfa/inquiry", filled(clean_db, form_token=token))
        assert response.status_code == 422, token
        assert "could not be checked" in response.text
    stale = old_token(clean_db, timedelta(days=2))
    response = await client.post("/f/alfa/inquiry", filled(clean_db, form_token=stale))
    assert response.status_code == 422 and "open for a long time" in response.text
    assert [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER] == []
    assert await sent_mail(clean_db) == []


async def test_the_sixth_inquiry_from_one_address_in_an_hour_is_refused(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    # The app takes the address from the connection (as for sign-in), not X-Forwarded-For.
    client.client.cookies.set("luotsi_lang", "en")
    for slug in ("alfa", "beeta", "alfa", "beeta", "alfa"):  # the limit spans firms
        response = await client.post(f"/f/{slug}/inquiry", filled(clean_db))
        assert response.status_code == 303
    mails_before = len(await sent_mail(clean_db))
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    sixth = await client.post(
        "/f/beeta/inquiry", filled(clean_db, organisation="Kuudes"), headers=spoofed
    )
    assert sixth.status_code == 429
    assert 0 < int(sixth.headers["retry-after"]) <= 3600
    assert "several inquiries in a short time" in sixth.text
    assert 'value="Kuudes"' in sixth.text
    htmx = await client.post("/f/alfa/inquiry", filled(clean_db), htmx=True)
    assert htmx.status_code == 429 and 'id="inquiry"' in htmx.text and "<html" not in htmx.text
    assert len([i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER]) == 3
    assert len([i for i in await stored(clean_db, firms.b.tenant) if i.email == SENDER]) == 2
    assert len(await sent_mail(clean_db)) == mails_before


# --- validation -----------------------------------------------------------------------------


async def test_an_empty_form_names_every_missing_field(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    empty = {name: "" for name in filled(clean_db)} | {"form_token": old_token(clean_db)}
    response = await client.post("/f/alfa/inquiry", empty)
    assert response.status_code == 422
    assert field_errors(response.text) == {
        "organisation",
        "name",
        "email",
        "municipality",
        "message",
        "consent",
    }
    assert [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER] == []


async def test_bad_values_are_refused_and_kept_in_the_form(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    cases = {
        "email": {"email": "sanna.at.example"},
        "phone": {"phone": "12"},
        "municipality": {"municipality": "Atlantis"},
        "kind": {"kind": "therapy"},
        "message": {"message": "x" * 5001},
    }
    for field, change in cases.items():
        response = await client.post("/f/alfa/inquiry", filled(clean_db, **change))
        assert response.status_code == 422, field
        assert field_errors(response.text) == {field}, field
        assert f'value="{ORGANISATION}"' in response.text
    region = await client.post("/f/alfa/inquiry", filled(clean_db, municipality="Uusimaa"))
    assert field_errors(region.text) == {"municipality"}
    no_consent = await client.post("/f/alfa/inquiry", filled(clean_db, consent=""))
    assert field_errors(no_consent.text) == {"consent"}
    assert input_value(no_consent.text, "email") == SENDER
    assert MESSAGE in no_consent.text
    assert [i for i in await stored(clean_db, firms.a.tenant) if i.email == SENDER] == []
    assert await sent_mail(clean_db) == []


async def test_municipality_may_be_written_in_swedish_or_as_offered(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    for municipality in ("Tavastehus", "Hyvinkää (Uusimaa)"):
        response = await client.post("/f/alfa/inquiry", filled(clean_db, municipality=municipality))
        assert response.status_code == 303, municipality
    codes = [i.municipality_code for i in await stored(clean_db, firms.a.tenant)]
    assert codes[-2:] == ["109", "106"]  # Hämeenlinna, Hyvinkää


async def test_a_non_htmx_error_shows_the_form_page_under_the_firm(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    response = await client.post("/f/alfa/inquiry", filled(clean_db, email=""))
    assert response.status_code == 422
    assert "<html" in response.text and "Alfa Työnohjaus Oy" in response.text
    htmx = await client.post("/f/alfa/inquiry", filled(clean_db, email=""), htmx=True)
    assert htmx.status_code == 422 and "<html" not in htmx.text
    assert field_errors(htmx.text) == {"email"}


# --- the inbox ------------------------------------------------------------------------------


async def test_status_changes_and_filters_the_list(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    other = await add_inquiry(clean_db.owner, firms.a.tenant, organisation="Toinen kunta")
    await client.login(firms.a.owner.user.email)
    url = f"/t/alfa/inquiries/{firms.a.inquiry.id}"
    response = await client.post(f"{url}/status", {"status": "contacted"})
    assert response.status_code == 303 and response.headers["location"] == url
    (changed,) = [i for i in await stored(clean_db, firms.a.tenant) if i.id == firms.a.inquiry.id]
    assert changed.status == InquiryStatus.CONTACTED
    contacted = await client.get("/t/alfa/inquiries/?status=contacted")
    assert str(firms.a.inquiry.id) in contacted.text and str(other.id) not in contacted.text
    new = await client.get("/t/alfa/inquiries/?status=new")
    assert str(other.id) in new.text and str(firms.a.inquiry.id) not in new.text
    closed = await client.get("/t/alfa/inquiries/?status=closed")
    assert "inquiry-row" not in closed.text and "card empty" in closed.text
    bad = await client.post(f"{url}/status", {"status": "deleted"})
    assert bad.status_code == 422


async def test_the_supervisor_may_update_the_status_of_their_own_inquiry(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/inquiries/{firms.a.inquiry.id}/status"
    assert (await client.post(url, {"status": "converted"})).status_code == 303
    (changed,) = [i for i in await stored(clean_db, firms.a.tenant) if i.id == firms.a.inquiry.id]
    assert changed.status == InquiryStatus.CONVERTED


async def test_assigning_lets_the_supervisor_see_it_and_tells_them(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    inquiry = await add_inquiry(clean_db.owner, firms.a.tenant, organisation="Firman kautta")
    url = f"/t/alfa/inquiries/{inquiry.id}"
    colleague: Client = client_factory()  # a supervisor of Alfa with no part in it yet
    await colleague.login(firms.both.email)
    assert (await colleague.get(url)).status_code == 404
    assert "Firman kautta" not in (await colleague.get("/t/alfa/inquiries/")).text

    owner: Client = client_factory()
    await owner.login(firms.a.owner.user.email)
    both_membership = await _membership_of(clean_db, firms.a.tenant, firms.both.id)
    response = await owner.post(f"{url}/assign", {"assignee": str(both_membership)})
    assert response.status_code == 303
    (mail,) = [m for m in await sent_mail(clean_db) if m["to"] == firms.both.email]
    assert "Firman kautta" in mail["subject"] and url in mail["text"]

    assert (await colleague.get(url)).status_code == 200
    assert "Firman kautta" in (await colleague.get("/t/alfa/inquiries/")).text
    page = await owner.get(url)
    assert "Kaisa Kahdessa" in page.text


async def test_only_the_firms_staff_can_be_assigned(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.owner.user.email)
    url = f"/t/alfa/inquiries/{firms.a.inquiry.id}/assign"
    for assignee in (str(firms.b.supervisor.id), "not-an-id", str(uuid.uuid4())):
        response = await client.post(url, {"assignee": assignee})
        assert response.status_code == 422, assignee
    assert await sent_mail(clean_db) == []


async def test_a_supervisor_cannot_assign(client: Client, firms: Firms, clean_db: Backend) -> None:
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/inquiries/{firms.a.inquiry.id}"
    page = await client.get(url)
    assert page.status_code == 200 and "/assign" not in page.text
    response = await client.post(f"{url}/assign", {"assignee": str(firms.a.supervisor.id)})
    assert response.status_code == 403
    (unchanged,) = [i for i in await stored(clean_db, firms.a.tenant) if i.id == firms.a.inquiry.id]
    assert unchanged.assigned_membership_id is None


async def test_a_supervisor_cannot_open_an_inquiry_that_is_not_theirs(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    inquiry = await add_inquiry(clean_db.owner, firms.a.tenant, organisation="Ei sinun")
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/inquiries/{inquiry.id}"
    assert (await client.get(url)).status_code == 404
    assert (await client.post(f"{url}/status", {"status": "closed"})).status_code == 404
    inbox = await client.get("/t/alfa/inquiries/")
    assert "Ei sinun" not in inbox.text and str(firms.a.inquiry.id) in inbox.text


async def test_the_inbox_is_paged_by_twenty(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    start = clock.now() - timedelta(days=30)
    for n in range(25):
        await add_inquiry(
            clean_db.owner,
            firms.a.tenant,
            organisation=f"Kunta {n:02}",
            created_at=start + timedelta(hours=n),
        )
    await client.login(firms.a.owner.user.email)
    first = await client.get("/t/alfa/inquiries/")
    second = await client.get("/t/alfa/inquiries/?page=2")
    assert first.text.count('class="inquiry-row') == 20
    assert second.text.count('class="inquiry-row') == 6  # 25 + the fixture's one
    assert str(firms.a.inquiry.id) in first.text  # the newest first
    assert "Kunta 00" in second.text and "Kunta 00" not in first.text
    assert 'href="?page=2"' in first.text
    filtered = await client.get("/t/alfa/inquiries/?status=new&page=2")
    assert "status=new" in filtered.text and "page=1" in filtered.text


async def test_an_empty_inbox_says_so(client: Client, firms: Firms, clean_db: Backend) -> None:
    await client.login(firms.both.email)  # a supervisor with no profile and nothing assigned
    inbox = await client.get("/t/alfa/inquiries/")
    assert inbox.status_code == 200
    assert "inquiry-row" not in inbox.text and "card empty" in inbox.text


async def test_dashboard_counts_new_inquiries(
    client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    await add_inquiry(clean_db.owner, firms.a.tenant, status=InquiryStatus.CLOSED)
    await add_inquiry(clean_db.owner, firms.a.tenant)
    owner: Client = client_factory()
    await owner.login(firms.a.owner.user.email)
    page = await owner.get("/t/alfa/")
    link = re.search(
        r'href="/t/alfa/inquiries/\?status=new"><span class="stat-number">(\d+)</span>', page.text
    )
    assert link and link.group(1) == "2"
    supervisor: Client = client_factory()
    await supervisor.login(firms.a.supervisor.user.email)
    page = await supervisor.get("/t/alfa/")
    link = re.search(
        r'href="/t/alfa/inquiries/\?status=new"><span class="stat-number">(\d+)</span>', page.text
    )
    assert link and link.group(1) == "1"  # only the one sent from their page


async def _membership_of(backend: Backend, tenant: Tenant, user_id: uuid.UUID) -> uuid.UUID:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = tenant.id
        membership_id = await db.scalar(select(Membership.id).where(Membership.user_id == user_id))
    assert membership_id is not None
    return membership_id
