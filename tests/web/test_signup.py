"""A firm signs up, verifies its e-mail, and lands in its own workspace."""

from __future__ import annotations

from sqlalchemy import text

from luotsi.platform.identity import MAIL_REQUEST_WINDOW, MAIL_REQUESTS_PER_IP
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import Firms

GOOD = {
    "firm_name": "Kolmas Työnohjaus Oy",
    "business_id": "2345678-0",
    "slug": "kolmas",
    "name": "Kerttu Kolmas",
    "email": "kerttu@kolmas.example",
    "password": "a long enough password",
}


async def test_signup_verify_and_land_on_dashboard(client: Client, outbox: Outbox) -> None:
    page = await client.post("/signup/", GOOD)
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


async def test_signup_rejects_bad_business_id(client: Client) -> None:
    page = await client.post("/signup/", {**GOOD, "business_id": "1234567-2"})
    assert page.status_code == 422
    assert "1234567-8" in page.text or "Y-tunnus" in page.text


async def test_signup_rejects_reserved_and_taken_slugs(client: Client, firms: Firms) -> None:
    reserved = await client.post("/signup/", {**GOOD, "slug": "admin"})
    assert reserved.status_code == 422
    taken = await client.post("/signup/", {**GOOD, "slug": firms.a.slug})
    assert taken.status_code == 422
    malformed = await client.post("/signup/", {**GOOD, "slug": "-x"})
    assert malformed.status_code == 422


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
    assert page.status_code == 200  # the same answer as for a new address
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
    assert again.status_code == 200


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
        assert page.status_code == 200, page.text
    refused = await client.post(
        "/signup/", {**GOOD, "business_id": _business_id(99), "slug": "one-more"}
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= MAIL_REQUEST_WINDOW.total_seconds()
    assert "Try again in" in refused.text
    assert len(await outbox.deliver()) == MAIL_REQUESTS_PER_IP
