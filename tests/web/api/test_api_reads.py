"""Reading through the API: pages by cursor, ETags, problem details, invoice PDFs, isolation."""

from __future__ import annotations

import httpx
from litestar import Litestar

from luotsi.billing import invoices
from luotsi.platform.apitokens import SCOPES
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import Firms, add_content
from tests.web.api.conftest import api_client, is_problem, make_token


async def test_organisations_come_in_pages_by_cursor_in_a_stable_order(
    api_a: httpx.AsyncClient,
) -> None:
    for n in range(5):
        created = await api_a.post("/api/v1/client-orgs", json={"name": f"Kunta {n}"})
        assert created.status_code == 201, created.text
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api_a.get("/api/v1/client-orgs", params=params)).json()
        assert len(page["data"]) <= 2
        seen += [org["id"] for org in page["data"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    everything = (await api_a.get("/api/v1/client-orgs", params={"limit": "100"})).json()
    assert everything["next"] is None
    assert seen == [org["id"] for org in everything["data"]]  # same order, no repeats
    assert len(set(seen)) == len(seen) == 6 and pages == 3  # the firm's own org and 5 new


async def test_a_cursor_or_limit_the_list_never_gave_is_a_bad_request(
    api_a: httpx.AsyncClient,
) -> None:
    garbage = await api_a.get("/api/v1/client-orgs", params={"cursor": "not-a-cursor"})
    assert is_problem(garbage, 400)
    too_many = await api_a.get("/api/v1/client-orgs", params={"limit": "1000"})
    assert is_problem(too_many, 400)


async def test_times_carry_their_offset(api_a: httpx.AsyncClient, firms: Firms) -> None:
    session = (await api_a.get(f"/api/v1/sessions/{firms.a.session.id}")).json()
    assert session["starts_at"].endswith(("+02:00", "+03:00"))
    assert session["starts_at"][11:16] == "10:00"  # the factory's 10.00 Finnish time
    assert "address" not in session and "notes" not in session


async def test_a_read_has_an_etag_and_an_unchanged_one_answers_304(
    api_a: httpx.AsyncClient, firms: Firms
) -> None:
    url = f"/api/v1/client-orgs/{firms.a.org.id}"
    first = await api_a.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    again = await api_a.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    changed = await api_a.patch(url, json={"billing_city": "Nurmijärvi"})
    assert changed.status_code == 200, changed.text
    after = await api_a.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.json()["billing_city"] == "Nurmijärvi"
    assert after.headers["etag"] != etag


async def test_refusals_are_problem_details(app: Litestar, api_a: httpx.AsyncClient) -> None:
    missing = await api_a.get("/api/v1/client-orgs/00000000-0000-4000-8000-000000000000")
    assert is_problem(missing, 404)
    invalid = await api_a.post("/api/v1/client-orgs", json={"name": " ", "business_id": "x"})
    assert is_problem(invalid, 422)
    assert set(invalid.json()["errors"]) == {"name", "business_id"}
    malformed = await api_a.post("/api/v1/client-orgs", json={"name": 5})
    assert is_problem(malformed, 400)
    nul = await api_a.post("/api/v1/client-orgs", json={"name": "Kun\u0000ta"})
    assert is_problem(nul, 422) and "name" in nul.json()["errors"]
    no_route = await api_a.get("/api/v1/no-such-thing")
    assert is_problem(no_route, 404)
    async with api_client(app, None) as anonymous:
        refused = await anonymous.get("/api/v1/client-orgs")
    assert is_problem(refused, 401) and refused.headers["www-authenticate"].startswith("Bearer")


async def test_a_signed_in_owners_cookie_does_not_open_the_api(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.get("/api/v1/client-orgs")
    assert is_problem(response, 401)


async def test_an_issued_invoice_downloads_as_its_pdf_and_a_draft_has_none(
    api_a: httpx.AsyncClient, clean_db: Backend, firms: Firms
) -> None:
    async with scoped(clean_db, firms.a.tenant) as db:
        await complete_profile(db)
        draft = await add_draft(db, firms.a.org, Row("Työnohjaus", 10000))
        issued = await invoices.issue(db, firms.a.owner, draft.id)
        await db.commit()
    listed = (await api_a.get("/api/v1/invoices")).json()["data"]
    assert {i["id"] for i in listed} == {str(issued.id), str(firms.a.invoice.id)}
    pdf = await api_a.get(f"/api/v1/invoices/{issued.id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    draft_pdf = await api_a.get(f"/api/v1/invoices/{firms.a.invoice.id}/pdf")
    assert is_problem(draft_pdf, 409)


# A body every write route takes (each reads the fields it knows), so only the object's
# firm can refuse it.
SOUND_BODY = {"name": "X", "by": "client", "starts_at": "2026-12-07T10:00:00+02:00"}


def api_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every API route (method, path) from the app's route table."""
    found = []
    for route in app.routes:
        if route.path.startswith("/api/v1/") and not route.path.startswith("/api/v1/schema"):
            for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
                found.append((method, route.path))
    return found


def api_url(path: str, firm_ids: dict[str, str]) -> str:
    for name, value in firm_ids.items():
        path = path.replace(f"{{{name}:uuid}}", value)
    assert "{" not in path, f"add a sample object for {path}"
    return path


async def test_another_firms_token_gets_404_on_every_api_route(
    app: Litestar, clean_db: Backend, firms: Firms, token_a: str
) -> None:
    a = firms.a
    a_ids = {
        "org_id": str(a.org.id),
        "person_id": str(a.supervisee.id),
        "agreement_id": str(a.agreement.id),
        "session_id": str(a.session.id),
        "invoice_id": str(a.invoice.id),
    }
    routes = api_routes(app)
    assert ("POST", "/api/v1/agreements/{agreement_id:uuid}/sessions") in routes
    token_b = await make_token(clean_db, firms.b, SCOPES)
    leaks = []
    async with api_client(app, token_b) as other, api_client(app, token_a) as own:
        for method, path in routes:
            if "{" not in path:
                continue  # lists: B's own (checked below to hold none of A's)
            url = api_url(path, a_ids)
            response = await other.request(method, url, json=SOUND_BODY)
            if response.status_code != 404:
                leaks.append(f"{method} {url} -> {response.status_code}")
            if method == "GET" and not path.endswith("/pdf"):  # the control: A's own token
                assert (await own.get(url)).status_code == 200, url
        for method, path in routes:
            if method == "GET" and "{" not in path:
                listed = (await other.get(path)).text
                assert not any(value in listed for value in a_ids.values()), path
    assert leaks == []


async def test_the_published_document_holds_the_api_routes_only(app: Litestar) -> None:
    async with api_client(app, None) as anonymous:
        document = (await anonymous.get("/api/v1/schema/openapi.json")).json()
        root = (await anonymous.get("/api/v1/schema")).json()
    assert root == document
    paths = set(document["paths"])
    assert "/api/v1/client-orgs" in paths and "/api/v1/invoices/{invoice_id}/pdf" in paths
    assert all(path.startswith("/api/v1/") for path in paths)
    documented = {path for _method, path in api_routes(app)}
    assert len(documented) == len(paths)  # every API route, and nothing else
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_no_api_read_shows_content(
    api_a: httpx.AsyncClient, app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    """Notes, assignments, goals and evaluations on firm A's agreement: no answer of the API,
    to the firm's own owner's token, holds any of them."""
    content = await add_content(clean_db, firms.a)
    a = firms.a
    ids = {
        "org_id": str(a.org.id),
        "person_id": str(a.supervisee.id),
        "agreement_id": str(a.agreement.id),
        "session_id": str(a.session.id),
        "invoice_id": str(a.invoice.id),
    }
    opened = 0
    for method, path in api_routes(app):
        if method == "GET" and not path.endswith("/pdf"):
            response = await api_a.get(api_url(path, ids), params={"limit": "100"})
            assert response.status_code == 200, path
            assert content.marker not in response.text, path
            opened += 1
    assert opened >= 10
