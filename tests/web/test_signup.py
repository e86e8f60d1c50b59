"""A firm signs up, verifies its e-mail, and lands in its own workspace."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select, text

from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.identity import (
    MAIL_REQUEST_WINDOW,
    MAIL_REQUESTS_PER_ADDRESS,
    MAIL_REQUESTS_PER_IP,
)
from luotsi.platform.mail import MailboxEntry
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.clients.models import PersonRole
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import (
    Firms,
    add_agreement,
    add_client_org,
    add_person,
    add_profile,
    make_user,
)

GOOD = {
    "firm_name": "Kolmas Työnohjaus Oy",
    "business_id": "2345678-0",
    "slug": "kolmas",
    "name": "Kerttu Kolmas",
    "email": "kerttu@kolmas.example",
    "password": "a long enough password",
}


async def test_signup_verify_and_land_on_dashboard(client: Client, outbox: Outbox) -> None:
    sent = await client.post("/signup/", GOOD)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/signup/sent"
    page = await client.get("/signup/sent")  # reload-safe: found again by the browser's cookie
    assert page.status_code == 200
    assert "kerttu@kolmas.example" in page.text

    # Not usable before the e-mail is verified.
    assert (
        await client.post("/login", {"email": GOOD["email"], "password": GOOD["password"]})
    ).status_code == 422

    mail = await outbox.last_to("kerttu@kolmas.example")
    assert "Kolmas Työnohjaus Oy" in mail.subject
    assert "<html" in mail.html and mail.text  # multipart: text and HTML
    verified = await client.get(link_in(mail), follow_redirects=False)
    assert verified.status_code == 303
    assert verified.headers["location"] == "/t/kolmas/"
    dashboard = await client.get("/t/kolmas/")
    assert dashboard.status_code == 200
    assert "Kolmas Työnohjaus Oy" in dashboard.text

    # The link works once.
    again = await client.get(link_in(mail))
    assert again.status_code == 404


async def test_signup_mail_is_in_the_signup_language(client: Client, outbox: Outbox) -> None:
    await client.post("/language", {"language": "sv", "next": "/signup/"})
    await client.post("/signup/", GOOD)
    mail = await outbox.last_to("kerttu@kolmas.example")
    assert "Bekräfta" in mail.subject or "e-post" in mail.subject


async def test_signup_says_when_the_business_ids_check_digit_is_wrong(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    page = await client.post("/signup/", {**GOOD, "business_id": "2345678-1"})
    assert page.status_code == 422
    assert "check digit" in page.text
    malformed = await client.post("/signup/", {**GOOD, "business_id": "12-34"})
    assert malformed.status_code == 422
    assert "1234567-8" in malformed.text and "check digit" not in malformed.text
    missing = await client.post("/signup/", {**GOOD, "business_id": " "})
    assert missing.status_code == 422
    assert "Enter the firm&#39;s business ID" in missing.text


async def _tenant(backend: Backend, slug: str) -> Tenant:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    assert tenant is not None
    return tenant


async def test_business_id_typed_with_a_space_is_kept_and_shown_with_its_hyphen(
    client: Client, client_factory: Any, outbox: Outbox, clean_db: Backend
) -> None:
    await client.post("/signup/", {**GOOD, "business_id": " 2077474 0 "})
    await client.get(link_in(await outbox.last_to(GOOD["email"])))  # signed in as the owner
    tenant = await _tenant(clean_db, "kolmas")
    assert tenant.business_id == "2077474-0"

    # The firm sends an agreement: the parties' page and the PDF name the firm by it.
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = tenant.id
        owner = await db.scalar(select(Membership))
    assert owner is not None
    # A one-person firm: the owner supervises the agreement themself.
    await add_profile(clean_db.owner, tenant, owner, GOOD["name"], supervises=True)
    org = await add_client_org(clean_db.owner, tenant)
    people = {
        role: await add_person(clean_db.owner, tenant, org, role, name, email=email)
        for role, name, email in (
            (PersonRole.HR_CONTACT, "Hanna HR", "hr@client.example"),
            (PersonRole.MANAGER, "Matti Manager", "manager@client.example"),
            (PersonRole.SUPERVISEE, "Sanna Supervisee", "sanna@client.example"),
        )
    }
    agreement = await add_agreement(
        clean_db.owner,
        tenant,
        org,
        owner,
        [people[PersonRole.SUPERVISEE]],
        status=AgreementStatus.DRAFT,
        manager_id=people[PersonRole.MANAGER].id,
        hr_contact_id=people[PersonRole.HR_CONTACT].id,
    )
    url = f"/t/kolmas/agreements/{agreement.id}"
    sent = await client.post(f"{url}/send")
    assert sent.status_code == 303, sent.text
    party = client_factory()
    page = await party.get(link_in(await outbox.last_to("sanna@client.example")))
    assert page.status_code == 200
    assert "Kolmas Työnohjaus Oy (2077474-0)" in page.text
    pdf = await client.get(f"{url}/pdf")
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "2077474-0" in words and "20774740" not in words


async def test_signup_rejects_reserved_and_taken_slugs(client: Client, firms: Firms) -> None:
    reserved = await client.post("/signup/", {**GOOD, "slug": "admin"})
    assert reserved.status_code == 422
    taken = await client.post("/signup/", {**GOOD, "slug": firms.a.slug})
    assert taken.status_code == 422
    malformed = await client.post("/signup/", {**GOOD, "slug": "-x"})
    assert malformed.status_code == 422


async def test_signup_refuses_a_password_anyone_would_guess(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    for password in ("qwertyuiop", "aaaaaaaaaa", "kerttu-kolmas"):
        page = await client.post("/signup/", {**GOOD, "password": password})
        assert page.status_code == 422, password
        assert 'id="password-error"' in page.text


async def test_signup_suggests_slug_from_name(client: Client) -> None:
    hint = await client.post(
        "/signup/slug", {"firm_name": "Äänekosken Työnohjaus Oy", "slug": ""}, htmx=True
    )
    assert hint.status_code == 200
    assert 'value="aanekosken-tyonohjaus"' in hint.text
    assert "<html" not in hint.text  # an htmx fragment, not the page


async def test_signup_form_errors_keep_what_was_typed(client: Client) -> None:
    page = await client.post("/signup/", {**GOOD, "password": "short"})
    assert page.status_code == 422
    assert 'value="Kolmas Työnohjaus Oy"' in page.text
    assert "a long enough password" not in page.text


async def test_signup_with_existing_account_confirms_by_email(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    existing = firms.a.owner.user.email
    page = await client.post(
        "/signup/", {**GOOD, "email": existing, "password": "not their password!"}
    )
    assert page.status_code == 303  # the same answer as for a new address
    mail = await outbox.last_to(existing)
    await client.get(link_in(mail))
    # Their own password still works; the one typed in the form was ignored.
    fresh = Client(client.app)
    assert (
        await fresh.post("/login", {"email": existing, "password": "not their password!"})
    ).status_code == 422
    await fresh.login(existing)
    account = await fresh.get("/account")
    assert "Kolmas Työnohjaus Oy" in account.text and "Alfa Työnohjaus Oy" in account.text


async def test_unverified_firm_is_not_reachable(client: Client, clean_db: Backend) -> None:
    await client.post("/signup/", GOOD)
    async with clean_db.owner.connect() as conn:
        status = (
            await conn.execute(text("select status from tenants where slug = 'kolmas'"))
        ).scalar()
    assert status == "pending"


async def test_abandoned_signup_frees_its_address(client: Client, clean_db: Backend) -> None:
    await client.post("/signup/", GOOD)
    assert (
        await client.post("/signup/", {**GOOD, "email": "other@kolmas.example"})
    ).status_code == 422
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update tenants set created_at = '2020-01-01 00:00:00+00' where slug = 'kolmas'")
        )
    again = await client.post("/signup/", {**GOOD, "email": "other@kolmas.example"})
    assert again.status_code == 303


def _business_id(n: int) -> str:
    """A valid business ID (check digit with weights 7, 9, 10, 5, 8, 4, 2), one per ``n``."""
    while True:
        digits = f"{3456000 + n:07d}"
        rest = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if rest != 1:
            return f"{digits}-{0 if rest == 0 else 11 - rest}"
        n += 1000


async def test_signups_from_one_client_are_limited(client: Client, outbox: Outbox) -> None:
    await client.post("/language", {"language": "en", "next": "/"})
    for i in range(MAIL_REQUESTS_PER_IP):
        page = await client.post(
            "/signup/",
            {
                **GOOD,
                "firm_name": f"Firma {i}",
                "business_id": _business_id(i),
                "slug": f"firma-{i}",
                "email": f"owner{i}@firma.example",
            },
        )
        assert page.status_code == 303, page.text
    refused = await client.post(
        "/signup/", {**GOOD, "business_id": _business_id(99), "slug": "one-more"}
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= MAIL_REQUEST_WINDOW.total_seconds()
    assert "Try again in" in refused.text
    assert len(await outbox.deliver()) == MAIL_REQUESTS_PER_IP


async def _mail_about(outbox: Outbox, address: str, firm: str) -> MailboxEntry:
    mails = [m for m in await outbox.deliver() if m.to == address and firm in m.subject]
    assert len(mails) == 1, [m.subject for m in mails]
    return mails[0]


ATTACKER_PASSWORD = "the attacker's own password"
OTHER_FIRM = {"firm_name": "Kaappaaja Oy", "slug": "kaappaaja", "password": ATTACKER_PASSWORD}


async def test_a_second_signup_cannot_set_the_password_of_an_unverified_account(
    client: Client, client_factory: Any, outbox: Outbox
) -> None:
    assert (await client.post("/signup/", GOOD)).status_code == 303  # the victim
    attacker = client_factory()
    # The victim's firm address is taken; a firm of the attacker's own is accepted as usual.
    taken = await attacker.post("/signup/", {**GOOD, "password": ATTACKER_PASSWORD})
    assert taken.status_code == 422
    assert (await attacker.post("/signup/", {**GOOD, **OTHER_FIRM})).status_code == 303

    mail = await _mail_about(outbox, GOOD["email"], "Kolmas Työnohjaus Oy")
    verified = await client.get(link_in(mail), follow_redirects=False)
    assert verified.headers["location"] == "/t/kolmas/"

    signed_in = await attacker.post(
        "/login", {"email": GOOD["email"], "password": ATTACKER_PASSWORD}
    )
    assert signed_in.status_code == 422
    assert (await attacker.get("/t/kolmas/")).status_code in (303, 404)
    victim = client_factory()
    await victim.login(GOOD["email"], GOOD["password"])
    account = await victim.get("/account")
    assert "Kolmas Työnohjaus Oy" in account.text and "Kaappaaja Oy" not in account.text


async def test_the_password_set_is_the_one_typed_in_the_signup_whose_link_is_followed(
    client: Client, client_factory: Any, outbox: Outbox
) -> None:
    attacker = client_factory()
    assert (await attacker.post("/signup/", {**GOOD, **OTHER_FIRM})).status_code == 303
    assert (await client.post("/signup/", GOOD)).status_code == 303  # the address's owner
    await client.get(link_in(await _mail_about(outbox, GOOD["email"], "Kolmas Työnohjaus Oy")))

    signed_in = await attacker.post(
        "/login", {"email": GOOD["email"], "password": ATTACKER_PASSWORD}
    )
    assert signed_in.status_code == 422
    await client_factory().login(GOOD["email"], GOOD["password"])


async def test_signup_for_a_registered_address_does_the_same_work_as_for_a_new_one(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    registered = firms.a.owner.user.email
    new = "new@neljas.example"
    known = await client.post("/signup/", {**GOOD, "email": registered})
    known_page = await client.get("/signup/sent")
    unknown = await client.post("/signup/", {**GOOD, "slug": "neljas", "email": new})
    unknown_page = await client.get("/signup/sent")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    assert known_page.text.replace(registered, "@") == unknown_page.text.replace(new, "@")
    # Both paths hash the typed password (the costly step) and e-mail a link.
    async with clean_db.owner.connect() as conn:
        rows = await conn.execute(
            text("select password_hash from auth_tokens where purpose = 'verify_email'")
        )
        hashes = rows.scalars().all()
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)
    assert sorted(m.to for m in await outbox.deliver()) == sorted([registered, new])


async def test_a_second_firm_with_the_same_business_id_opens_and_operators_are_told(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    operator = await make_user(clean_db.owner, "operator@luotsi.example", "Olli Operator")
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update users set is_operator = :yes where email = :email"),
            {"yes": True, "email": operator.email},
        )
    # An abandoned signup with the number is no reason to warn anyone.
    await client.post("/signup/", {**GOOD, "slug": "hylatty", "email": "x@hylatty.example"})

    # The firm is told nothing that the form would not tell anyone (no oracle).
    sent = await client.post("/signup/", {**GOOD, "business_id": firms.a.tenant.business_id})
    assert sent.status_code == 303
    assert "Alfa" not in (await client.get("/signup/sent")).text
    assert {m.to for m in await outbox.deliver()} == {GOOD["email"], "x@hylatty.example"}

    verified = await client.get(
        link_in(await _mail_about(outbox, GOOD["email"], "Kolmas")), follow_redirects=False
    )
    assert verified.headers["location"] == "/t/kolmas/"
    warning = await outbox.last_to(operator.email)
    text_of_mail = warning.text.replace("\xa0", " ")
    assert "0737546-2" in text_of_mail
    assert "Kolmas Työnohjaus Oy" in text_of_mail and "Alfa Työnohjaus Oy" in text_of_mail
    assert "hylatty" not in text_of_mail


# --- "check your e-mail": its own page, sending again, changing the address -----------------


async def test_check_your_email_page_survives_a_reload_and_sends_the_link_again(
    client: Client, outbox: Outbox
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.post("/signup/", GOOD)
    for _reload in range(2):
        page = await client.get("/signup/sent")
        assert page.status_code == 200
        assert "kerttu@kolmas.example" in page.text and "Send the link again" in page.text
    first = await outbox.last_to(GOOD["email"])
    again = await client.post("/signup/sent/again")
    assert again.status_code == 303 and again.headers["location"] == "/signup/sent"
    assert "A new link has been sent." in (await client.get("/signup/sent")).text
    mails = [m for m in await outbox.deliver() if m.to == GOOD["email"]]
    assert len(mails) == 2 and link_in(mails[0]) != link_in(mails[1])
    # The first link still works: a slow e-mail is not spoiled by asking again.
    verified = await client.get(link_in(first), follow_redirects=False)
    assert verified.headers["location"] == "/t/kolmas/"
    # Once the firm is open, the page has nothing to wait for.
    done = await client.get("/signup/sent")
    assert done.status_code == 303 and done.headers["location"] == "/login"


async def test_sending_again_is_limited_with_a_clear_message(
    client: Client, outbox: Outbox
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.post("/signup/", GOOD)  # the first of the address's links in the window
    for _i in range(MAIL_REQUESTS_PER_ADDRESS - 1):
        assert (await client.post("/signup/sent/again")).status_code == 303
    refused = await client.post("/signup/sent/again")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "try again in" in refused.text and "spam" in refused.text
    sent = [m for m in await outbox.deliver() if m.to == GOOD["email"]]
    assert len(sent) == MAIL_REQUESTS_PER_ADDRESS


async def test_a_mistyped_address_is_changed_and_the_old_link_stops_working(
    client: Client, client_factory: Any, outbox: Outbox
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.post("/signup/", {**GOOD, "email": "kertu@kolmas.example"})
    old = await outbox.last_to("kertu@kolmas.example")
    changed = await client.post("/signup/sent/address", {"email": GOOD["email"]})
    assert changed.status_code == 303 and changed.headers["location"] == "/signup/sent"
    page = await client.get("/signup/sent")
    assert GOOD["email"] in page.text and "kertu@" not in page.text
    assert "The address has been changed" in page.text

    new = await outbox.last_to(GOOD["email"])
    assert "Kolmas Työnohjaus Oy" in new.subject
    assert (await client_factory().get(link_in(old))).status_code == 404
    verified = await client.get(link_in(new), follow_redirects=False)
    assert verified.headers["location"] == "/t/kolmas/"
    # The password typed in the signup goes with it to the right address.
    await client_factory().login(GOOD["email"], GOOD["password"])
    assert (await client.get("/t/kolmas/")).status_code == 200


async def test_a_bad_new_address_is_refused_with_a_reason(client: Client, outbox: Outbox) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.post("/signup/", GOOD)
    refused = await client.post("/signup/sent/address", {"email": "not an address"})
    assert refused.status_code == 422
    assert 'id="email-error"' in refused.text and GOOD["email"] in refused.text
    assert [m.to for m in await outbox.deliver()] == [GOOD["email"]]


async def test_without_this_browsers_signup_there_is_nothing_to_send_again(
    client: Client, client_factory: Any, outbox: Outbox
) -> None:
    await client.post("/signup/", GOOD)
    cookie = client.client.cookies.get("luotsi_signup")
    assert cookie
    stranger = client_factory()
    assert (await stranger.get("/signup/sent")).headers["location"] == "/login"
    tenant_hex = cookie.split(".")[0]
    stranger.client.cookies.set("luotsi_signup", f"{tenant_hex}.{'0' * 64}", path="/signup")
    assert (await stranger.get("/signup/sent")).headers["location"] == "/login"
    moved = await stranger.post("/signup/sent/address", {"email": "thief@example.fi"})
    assert moved.status_code == 303 and moved.headers["location"] == "/login"
    assert (await stranger.post("/signup/sent/again")).headers["location"] == "/login"
    assert [m.to for m in await outbox.deliver()] == [GOOD["email"]]
