"""Three-party acceptance: the links, the public page, activation and the kept PDF."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from tests import clock
from tests.conftest import Backend, Client, Outbox, both_stores, link_in
from tests.factories import Firms
from tests.web.agreements.test_agreements import A, draft_form, status_of

PARTIES = ("sanna@alfa-client.example", "manager@alfa-client.example", "hr@alfa-client.example")


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def _draft(client: Client, firms: Firms, **changes: Any) -> str:
    await client.login(firms.a.owner.user.email)
    created = await client.post(A, draft_form(firms, **changes))
    assert created.status_code == 303, created.text
    return str(created.headers["location"])


async def _send(client: Client, firms: Firms, outbox: Outbox) -> tuple[str, dict[str, str]]:
    """Draft and send; returns the agreement's URL and each party's link by e-mail address."""
    url = await _draft(client, firms, price="120")
    sent = await client.post(f"{url}/send")
    assert sent.status_code == 303, sent.text
    links = {address: link_in(await outbox.last_to(address)) for address in PARTIES}
    return url, links


def _english(client_factory: Any) -> Client:
    party: Client = client_factory()
    party.client.cookies.set("luotsi_lang", "en")
    return party


@both_stores
async def test_every_party_accepts_and_the_agreement_becomes_active_with_its_pdf(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox, clean_db: Backend
) -> None:
    url, links = await _send(client, firms, outbox)
    invitation = await outbox.last_to("manager@alfa-client.example")
    assert "Alfa Työnohjaus Oy" in invitation.subject  # in the organisation's language (fi)
    assert all(link.startswith("/accept/alfa/") for link in links.values())
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "pending"

    for n, address in enumerate(PARTIES):
        party = _english(client_factory)
        page = await party.get(links[address])
        assert page.status_code == 200
        for term in ("Esimerkkikunta", "Individual supervision", "Maija Supervisor", "12 sessions"):
            assert term in page.text
        assert "150,60" in page.text  # the price with VAT
        assert "24 hours" in page.text and "Every 6 months" in page.text
        answered = await party.post(links[address], {"response": "accept"})
        assert answered.status_code == 200 and "you have accepted" in answered.text
        last = n == len(PARTIES) - 1
        assert ("in force" in answered.text) is last
        status = (await status_of(clean_db, url.rsplit("/", 1)[1]))[0]
        assert status == ("active" if last else "pending")

    page = await client.get(url)
    assert "Active" in page.text and "Became active" in page.text
    assert page.text.count("Accepted") >= 3
    assert "The accepted agreement (PDF)" in page.text
    pdf = await client.get(f"{url}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    words = words.replace("\xa0", " ")
    assert "Esimerkkikunta" in words
    assert "120,00 €" in words and "150,60 €" in words
    assert "Sanna Supervisee" in words and "Matti Manager" in words and "Hanna HR" in words
    async with clean_db.owner.connect() as conn:
        kept = (await conn.execute(text("select count(*) from agreement_documents"))).scalar_one()
    assert kept == 1
    # The supervisor hears the agreement is in force.
    notice = await outbox.last_to("supervisor@alfa.example")
    assert "Esimerkkikunta" in notice.subject


async def test_a_used_link_says_so(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox
) -> None:
    _url, links = await _send(client, firms, outbox)
    party = _english(client_factory)
    link = links["sanna@alfa-client.example"]
    assert (await party.post(link, {"response": "accept"})).status_code == 200
    again = await party.get(link)
    assert again.status_code == 410 and "already been used" in again.text
    twice = await party.post(link, {"response": "change", "comment": "Sittenkin muutos"})
    assert twice.status_code == 410 and "You accepted the agreement" in twice.text


async def test_unknown_and_expired_links(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox, clean_db: Backend
) -> None:
    _url, links = await _send(client, firms, outbox)
    party = _english(client_factory)
    link = links["hr@alfa-client.example"]
    unknown = await party.get("/accept/alfa/not-a-real-token")
    assert unknown.status_code == 404 and "The link is not valid" in unknown.text
    token = link.rsplit("/", 1)[1]
    assert (await party.get(f"/accept/beeta/{token}")).status_code == 404  # another firm's
    assert (await party.get(f"/accept/no-such-firm/{token}")).status_code == 404
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update agreement_acceptances set expires_at = sent_at where party = 'hr_contact'")
        )
    expired = await party.get(link)
    assert expired.status_code == 410 and "expired" in expired.text
    assert (await party.post(link, {"response": "accept"})).status_code == 410


async def test_each_party_is_named_by_its_role_in_the_mail_and_on_the_page(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox
) -> None:
    _url, links = await _send(client, firms, outbox)
    # The organisation's language is Finnish: "HR-yhteyshenkilö", never lower-cased.
    hr_mail = await outbox.last_to("hr@alfa-client.example")
    assert "(HR-yhteyshenkilö)" in hr_mail.text and "hr-yhteyshenkilö" not in hr_mail.text
    assert "(ohjattava)" in (await outbox.last_to("sanna@alfa-client.example")).text
    assert "(esihenkilö)" in (await outbox.last_to("manager@alfa-client.example")).text
    english = await _english(client_factory).get(links["hr@alfa-client.example"])
    assert "as HR contact" in english.text and "hr contact" not in english.text
    swedish = client_factory()
    swedish.client.cookies.set("luotsi_lang", "sv")
    page = await swedish.get(links["hr@alfa-client.example"])
    assert "som HR-kontaktperson" in page.text and "hr-kontaktperson" not in page.text


async def test_a_change_request_returns_the_agreement_to_draft(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox, clean_db: Backend
) -> None:
    url, links = await _send(client, firms, outbox)
    supervisee = _english(client_factory)
    assert (
        await supervisee.post(links["sanna@alfa-client.example"], {"response": "accept"})
    ).status_code == 200
    manager = _english(client_factory)
    link = links["manager@alfa-client.example"]
    empty = await manager.post(link, {"response": "change", "comment": "  "})
    assert empty.status_code == 422 and "what should be changed" in empty.text
    asked = await manager.post(
        link, {"response": "change", "comment": "Istunnot 90 minuutin mittaisiksi."}
    )
    assert asked.status_code == 200 and "your request has been sent" in asked.text
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "draft"
    # The other open links stop working.
    hr = await _english(client_factory).get(links["hr@alfa-client.example"])
    assert hr.status_code == 410 and "no longer works" in hr.text
    # The office and the supervisor are told (without the comment), in their notifications
    # and by e-mail, and read it on the agreement page.
    for office in ("owner@alfa.example", "admin@alfa.example", "supervisor@alfa.example"):
        mail = await outbox.last_to(office)
        assert "Matti Manager" in mail.text and "90 minuutin" not in mail.text
    listed = await client.get("/t/alfa/notifications/")
    assert "Matti Manager asked for a change to the agreement with Esimerkkikunta" in listed.text
    page = await client.get(url)
    assert "Istunnot 90 minuutin mittaisiksi." in page.text
    assert "A party asked for a change" in page.text and "Edit the draft" in page.text
    # Corrected and sent again, a new round of links goes out.
    assert (
        await client.post(f"{url}/edit", draft_form(firms, session_minutes="90"))
    ).status_code == 303
    assert (await client.post(f"{url}/send")).status_code == 303
    fresh = link_in(await outbox.last_to("manager@alfa-client.example"))
    assert fresh != link and (await manager.get(fresh)).status_code == 200


async def test_sending_needs_every_partys_e_mail(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    url = await _draft(client, firms)
    async with clean_db.owner.begin() as conn:
        await conn.execute(text("update client_people set email = '' where name = 'Matti Manager'"))
    refused = await client.post(f"{url}/send")
    assert refused.status_code == 422 and "Matti Manager" in refused.text
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "draft"


async def test_withdrawing_voids_the_links(
    client: Client, client_factory: Any, firms: Firms, outbox: Outbox, clean_db: Backend
) -> None:
    url, links = await _send(client, firms, outbox)
    assert "Withdraw the agreement" in (await client.get(f"{url}/status?action=withdraw")).text
    assert (await client.post(f"{url}/withdraw")).status_code == 303
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "draft"
    gone = await _english(client_factory).get(links["sanna@alfa-client.example"])
    assert gone.status_code == 410


async def test_marking_as_accepted_on_paper_needs_a_confirmation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    url = await _draft(client, firms)
    confirm = await client.get(f"{url}/status?action=paper")
    assert confirm.status_code == 200 and "Mark as accepted on paper?" in confirm.text
    unconfirmed = await client.post(f"{url}/accepted-on-paper", {"note": "Allekirjoitettu"})
    assert unconfirmed.status_code == 422 and "Confirm that the parties" in unconfirmed.text
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "draft"
    note = f"Allekirjoitettu {clock.fi(clock.today())}"  # signed today
    done = await client.post(f"{url}/accepted-on-paper", {"confirm": "1", "note": note})
    assert done.status_code == 303
    assert (await status_of(clean_db, url.rsplit("/", 1)[1]))[0] == "active"
    page = await client.get(url)
    assert "Marked as accepted on paper" in page.text and note in page.text
    pdf = await client.get(f"{url}/pdf")
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Maija Owner" in words  # who recorded the paper signature


async def test_a_supervisor_cannot_send_or_activate(
    client: Client, client_factory: Any, firms: Firms
) -> None:
    url = await _draft(client, firms)
    supervisor = _english(client_factory)
    await supervisor.login(firms.a.supervisor.user.email)
    assert (await supervisor.post(f"{url}/send")).status_code == 403
    assert (await supervisor.post(f"{url}/accepted-on-paper", {"confirm": "1"})).status_code == 403
