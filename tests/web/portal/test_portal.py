"""The HR contact's portal: invitation, their own organisation only, billing details and
requests for new agreements; and a client contact sees nothing else of the workspace."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from litestar import Litestar

from luotsi.platform.i18n import format_date, language
from luotsi.platform.tenancy import Role
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.sessions.models import SessionStatus
from tests import clock
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import (
    Firm,
    Firms,
    add_agreement,
    add_client_org,
    add_member,
    add_person,
    add_session,
    agreement_start,
    make_user,
)
from tests.web.test_isolation import fill, sample_ids, workspace_routes

BILLING = {
    "billing_street": "Uusikatu 2",
    "billing_postal_code": "05830",
    "billing_city": "Hyvinkää",
    "einvoice_address": "003707375462",
    "einvoice_operator": "NDEAFIHH",
    "invoice_email": "laskut@esimerkki.fi",
    "invoice_language": "sv",
}


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


async def _contact(
    backend: Backend, firm: Firm, org: ClientOrg, email: str, name: str = "Helmi HR"
) -> ClientPerson:
    """An HR contact of ``org`` with a bound portal login (as after an accepted invitation)."""
    user = await make_user(backend.owner, email, name)
    login = await add_member(backend.owner, firm.tenant, user, Role.CLIENT_CONTACT)
    return await add_person(
        backend.owner,
        firm.tenant,
        org,
        PersonRole.HR_CONTACT,
        name,
        email=email,
        membership_id=login.id,
    )


async def _session(
    backend: Backend, firm: Firm, days_ago: int, agreement: Agreement | None = None, **fields: Any
) -> None:
    """A session ``days_ago`` days ago of ``agreement``, by default ``firm``'s (which started
    91 days ago)."""
    starts_at = clock.at(clock.days(-days_ago))
    await add_session(
        backend.owner,
        firm.tenant,
        agreement or firm.agreement,
        firm.supervisor,
        starts_at=starts_at,
        **fields,
    )


async def _older_agreements(
    backend: Backend, firm: Firm, count: int, **fields: Any
) -> list[Agreement]:
    """``count`` more running agreements of ``firm``'s organisation, "Tiimi 01" started a week
    before the fixture's, each next a week before that: in the portal's order after it, and
    (never reviewed, every six months) their reviews are due the earlier the later they come."""
    made = []
    for n in range(1, count + 1):
        start = agreement_start() - timedelta(weeks=n)
        made.append(
            await add_agreement(
                backend.owner,
                firm.tenant,
                firm.org,
                firm.supervisor,
                [firm.supervisee],
                title=f"Tiimi {n:02d}",
                start_date=start,
                end_date=start + relativedelta(years=1),
                **fields,
            )
        )
    return made


def _stat(page: str, label: str) -> str:
    """The number shown before ``label`` in the portal's counts."""
    before = page.split(f"</span>{label}", 1)[0]
    return before.rsplit('<span class="stat-number">', 1)[1]


def _listed(page: str) -> list[uuid.UUID]:
    """The ids of the agreements the page shows, in its order."""
    return [uuid.UUID(found) for found in re.findall(r'<h3 id="agreement-([0-9a-f-]+)"', page)]


def _article(page: str, agreement: Agreement) -> str:
    """One agreement's part of the page."""
    return page.split(f'aria-labelledby="agreement-{agreement.id}"', 1)[1].split("</article>")[0]


def _reviews(page: str) -> str:
    """The page's section of reviews of continuation."""
    return page.split('id="reviews"', 1)[1].split("</section>", 1)[0]


def _due(agreement: Agreement) -> str:
    """The next review of a never reviewed agreement, as the English page writes it."""
    with language("en"):
        return format_date(agreement.start_date + relativedelta(months=6))


async def test_hr_contact_is_invited_accepts_and_lands_in_the_portal(
    client_factory: Any, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    await _session(clean_db, firms.a, 64, status=SessionStatus.HELD, billable=True)
    await _session(clean_db, firms.a, 57, status=SessionStatus.CANCELLED_BY_CLIENT, billable=True)
    owner = client_factory()
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    person_url = f"/t/alfa/clients/people/{firms.a.hr_contact.id}"
    assert "Invite to the portal" in (await owner.get(person_url)).text
    invited = await owner.post(person_url + "/invite")
    assert invited.status_code == 303
    assert "Invited on" in (await owner.get(person_url)).text

    mail = await outbox.last_to("hr@alfa-client.example")
    assert "Esimerkkikunta" in mail.text and "Alfa Työnohjaus Oy" in mail.subject
    hr = client_factory()
    hr.client.cookies.set("luotsi_lang", "en")
    link = link_in(mail)
    join = await hr.get(link)
    assert join.status_code == 200 and "HR contact" in join.text
    joined = await hr.post(link, {"name": "Hanna HR", "password": "a good long password"})
    assert joined.status_code == 303 and joined.headers["location"] == "/t/alfa/"
    landing = await hr.get("/t/alfa/")
    assert landing.status_code == 303 and landing.headers["location"] == "/t/alfa/portal/"
    page = await hr.get("/t/alfa/portal/")
    assert page.status_code == 200
    text = page.text
    assert "Esimerkkikunta" in text and "Individual supervision" in text
    assert "Maija Supervisor" in text and "Sanna Supervisee" in text
    assert _stat(text, "held") == "1"
    assert _stat(text, "planned") == "1"
    assert _stat(text, "cancelled") == "1"
    assert _stat(text, "left of 15 sessions") == "13"  # a held one and a late cancellation
    # Never the place of a session, nor the firm's internal notes or payment term.
    assert "Kunnantie 1, Hyvinkää" not in text and "payment_term_days" not in text
    # The login is now bound: the firm sees it on the person page.
    assert "Has a portal login" in (await owner.get(person_url)).text


async def test_the_portal_shows_no_other_organisation_nor_firm(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    other = await add_client_org(clean_db.owner, a.tenant, "Naapurikunta", business_id="1234567-1")
    olli = await add_person(clean_db.owner, a.tenant, other, PersonRole.SUPERVISEE, "Olli Other")
    await add_agreement(clean_db.owner, a.tenant, other, a.admin, [olli], title="Naapurin tiimi")
    b = firms.b
    beata = await add_person(clean_db.owner, b.tenant, b.org, PersonRole.SUPERVISEE, "Beata Beeta")
    await add_agreement(clean_db.owner, b.tenant, b.org, b.supervisor, [beata])
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    page = await client.get("/t/alfa/portal/")
    assert page.status_code == 200 and "Sanna Supervisee" in page.text
    for foreign in ("Naapurikunta", "Olli Other", "Naapurin tiimi", "Beata Beeta", "Maija Admin"):
        assert foreign not in page.text
    # The preview parameter is the firm's, not the contact's.
    assert "Naapurikunta" not in (await client.get(f"/t/alfa/portal/?org={other.id}")).text
    assert (await client.get("/t/beeta/portal/")).status_code == 404


async def test_a_client_contact_gets_nothing_else_of_the_workspace(
    app: Litestar, client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _contact(clean_db, firms.a, firms.a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    ids = sample_ids(firms.a)
    opened = []
    for method, path in workspace_routes(app):
        url = fill(path, "alfa", ids)
        if path.startswith("/t/{tenant_slug:str}/portal") or path == "/t/{tenant_slug:str}":
            continue
        response = await client.request(method, url, data={"name": "x", "role": "admin"})
        if response.status_code not in (403, 404):
            opened.append(f"{method} {url} -> {response.status_code}")
    assert opened == []
    dashboard = await client.get("/t/alfa/")
    assert dashboard.headers["location"] == "/t/alfa/portal/"


async def test_billing_details_are_updated_and_checked(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _contact(clean_db, firms.a, firms.a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    bad = await client.post(
        "/t/alfa/portal/billing",
        {**BILLING, "billing_postal_code": "5830", "einvoice_operator": ""},
    )
    assert bad.status_code == 422
    assert "A postal code has five digits" in bad.text
    assert "Enter the operator of the e-invoice address." in bad.text
    assert 'value="Uusikatu 2"' in bad.text  # kept for correcting
    unchanged = await client.get("/t/alfa/portal/")
    assert 'value="Kunnantie 1"' in unchanged.text
    saved = await client.post(
        "/t/alfa/portal/billing",
        # Fields the contact may not change are ignored if sent.
        {**BILLING, "payment_term_days": "120", "internal_notes": "hacked", "name": "X"},
    )
    assert saved.status_code == 303
    page = await client.get("/t/alfa/portal/")
    assert "The billing details have been saved." in page.text
    assert 'value="Uusikatu 2"' in page.text and 'value="laskut@esimerkki.fi"' in page.text
    owner = Client(client.app)
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    org = await owner.get(f"/t/alfa/clients/{firms.a.org.id}")
    assert "05830 Hyvinkää" in org.text and "NDEAFIHH" in org.text
    assert "14 days" in org.text
    assert "hacked" not in org.text and "Esimerkkikunta" in org.text


async def test_an_agreement_request_reaches_the_owners_and_admins(
    client: Client, firms: Firms, clean_db: Backend, outbox: Outbox
) -> None:
    await _contact(clean_db, firms.a, firms.a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    empty = await client.post("/t/alfa/portal/request", {"kind": "group", "message": "  "})
    assert empty.status_code == 422
    assert "Tell the firm briefly what you need." in empty.text
    bad_kind = await client.post("/t/alfa/portal/request", {"kind": "therapy", "message": "x"})
    assert bad_kind.status_code == 422
    sent = await client.post(
        "/t/alfa/portal/request",
        {"kind": "group", "message": "Ryhmätyönohjausta kuudelle\nkeväästä alkaen."},
    )
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert "Your request has been sent to the firm." in page.text
    mails = await outbox.deliver()
    to = sorted(m.to for m in mails)
    assert to == ["admin@alfa.example", "owner@alfa.example"]
    mail = mails[0]
    assert "Esimerkkikunta" in mail.subject
    assert "Ryhmätyönohjausta kuudelle" in mail.text and "helmi@esimerkki.fi" in mail.text
    assert f"/t/alfa/clients/{firms.a.org.id}" in link_in(mail)


async def test_agreement_requests_are_limited_per_day(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _contact(clean_db, firms.a, firms.a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    for _n in range(5):
        ok = await client.post("/t/alfa/portal/request", {"kind": "", "message": "Uusi tarve"})
        assert ok.status_code == 303
    limited = await client.post("/t/alfa/portal/request", {"kind": "", "message": "Uusi tarve"})
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 24 * 3600
    assert "several requests today" in limited.text


async def test_an_archived_contact_or_organisation_loses_the_portal(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    person = await _contact(clean_db, firms.a, firms.a.org, "helmi@esimerkki.fi")
    owner = Client(client.app)
    await owner.login(firms.a.owner.user.email)
    await client.login("helmi@esimerkki.fi")
    assert (await client.get("/t/alfa/portal/")).status_code == 200
    assert (await owner.post(f"/t/alfa/clients/people/{person.id}/archive")).status_code == 303
    refused = await client.get("/t/alfa/portal/")
    assert refused.status_code == 403 and "not linked to a client organisation" in refused.text
    assert (await client.post("/t/alfa/portal/billing", BILLING)).status_code == 403
    assert (await owner.post(f"/t/alfa/clients/people/{person.id}/restore")).status_code == 303
    assert (await client.get("/t/alfa/portal/")).status_code == 200


async def test_owners_preview_an_organisations_portal_and_supervisors_do_not(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.admin.user.email)
    start = await client.get("/t/alfa/portal/")
    assert start.status_code == 200 and "Invite to the portal" in html.unescape(start.text)
    preview = await client.get(f"/t/alfa/portal/?org={firms.a.org.id}")
    assert preview.status_code == 200
    assert "Preview: this is what the HR contacts of Esimerkkikunta see" in preview.text
    assert "Sanna Supervisee" in preview.text and "disabled" in preview.text
    assert (await client.get("/t/alfa/portal/?org=nonsense")).status_code == 404
    assert (await client.get(f"/t/alfa/portal/?org={firms.b.org.id}")).status_code == 404
    assert (await client.post("/t/alfa/portal/billing", BILLING)).status_code == 403
    supervisor = Client(client.app)
    await supervisor.login(firms.a.supervisor.user.email)
    assert (await supervisor.get("/t/alfa/portal/")).status_code == 403


async def test_a_paused_agreement_shows_its_review_and_ended_ones_none(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    ended = AgreementStatus.ENDED
    await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], title="Vanha", status=ended
    )
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    page = await client.get("/t/alfa/portal/")
    reviews = page.text.split('id="reviews"')[1].split("</section>")[0]
    with language("en"):
        due = format_date(firms.a.review.held_on + relativedelta(months=6))  # a month ago + 6
    assert due in reviews
    assert reviews.count("<li>") == 1
    assert "Vanha" in page.text  # the ended agreement is listed with its status


async def test_hr_contact_logins_are_not_granted_from_the_member_list(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    forged = await client.post(
        "/t/alfa/members/invite", {"email": "someone@example.fi", "role": "client_contact"}
    )
    assert forged.status_code == 422 and "Choose a role." in forged.text
    members = await client.get("/t/alfa/members/")
    assert 'value="client_contact"' not in members.text


async def test_only_hr_contacts_are_invited_to_the_portal(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    manager = f"/t/alfa/clients/people/{firms.a.manager.id}"
    assert "Invite to the portal" not in (await client.get(manager)).text
    refused = await client.post(manager + "/invite")
    assert refused.status_code == 422 and "Only HR contacts get a portal login." in refused.text


async def test_agreements_come_ten_a_page_the_latest_start_first(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    older = await _older_agreements(clean_db, a, 11)
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    first = (await client.get("/t/alfa/portal/")).text
    assert _listed(first) == [a.agreement.id] + [x.id for x in older[:9]]
    assert "Page 1 of 2" in first and 'rel="next" href="?page=2"' in first
    assert 'rel="prev"' not in first
    second = (await client.get("/t/alfa/portal/?page=2")).text
    assert _listed(second) == [older[9].id, older[10].id]
    assert "Page 2 of 2" in second and 'rel="prev" href="?page=1"' in second
    assert 'rel="next"' not in second
    # A page past the end is the last page; a page number that is none is the first.
    assert _listed((await client.get("/t/alfa/portal/?page=9")).text) == _listed(second)
    assert _listed((await client.get("/t/alfa/portal/?page=x")).text) == _listed(first)


async def test_each_agreement_shows_its_own_session_counts(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    [team] = await _older_agreements(clean_db, a, 1, session_quota=10)
    # The fixture's agreement: its planned session next week, a held one, a late (billable)
    # cancellation by the client and a cancellation by the supervisor.
    await _session(clean_db, a, 64, status=SessionStatus.HELD, billable=True)
    late = {"billable": True, "late_cancellation": True}
    await _session(clean_db, a, 57, status=SessionStatus.CANCELLED_BY_CLIENT, **late)
    await _session(clean_db, a, 50, status=SessionStatus.CANCELLED_BY_SUPERVISOR)
    # The team's: two held and a cancellation in time (not billable), of a quota of ten.
    await _session(clean_db, a, 70, team, status=SessionStatus.HELD, billable=True)
    await _session(clean_db, a, 63, team, status=SessionStatus.HELD, billable=True)
    await _session(clean_db, a, 56, team, status=SessionStatus.CANCELLED_BY_CLIENT)
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    page = (await client.get("/t/alfa/portal/")).text

    own = _article(page, a.agreement)
    assert [_stat(own, label) for label in ("held", "planned", "cancelled")] == ["1", "1", "2"]
    assert _stat(own, "left of 15 sessions") == "13"  # the held one and the late cancellation
    assert "Used: 2 sessions, including late cancellations" in own
    assert "4 sessions" in own  # their dates a click away
    theirs = _article(page, team)
    assert [_stat(theirs, label) for label in ("held", "planned", "cancelled")] == ["2", "0", "1"]
    assert _stat(theirs, "left of 10 sessions") == "8"
    assert "Used:" not in theirs  # only the held ones


async def test_an_agreements_sessions_open_on_a_page_of_their_own(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    """The portal counts an agreement's sessions; their dates and statuses load when the
    contact opens them (a page of their own without script), for that agreement only."""
    a = firms.a
    await _session(clean_db, a, 64, status=SessionStatus.HELD, billable=True)
    await _session(clean_db, a, 50, status=SessionStatus.CANCELLED_BY_SUPERVISOR)
    other = await add_client_org(clean_db.owner, a.tenant, "Naapurikunta", business_id="1234567-1")
    olli = await add_person(clean_db.owner, a.tenant, other, PersonRole.SUPERVISEE, "Olli Other")
    theirs = await add_agreement(clean_db.owner, a.tenant, other, a.supervisor, [olli])
    draft = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], status=AgreementStatus.DRAFT
    )
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    own = _article((await client.get("/t/alfa/portal/")).text, a.agreement)
    url = f"/t/alfa/portal/agreements/{a.agreement.id}/sessions"
    assert "3 sessions" in own and url in own and "<table" not in own

    whole = await client.get(url)
    assert whole.status_code == 200 and "Esimerkkikunta" in whole.text
    rows = whole.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    statuses = [html.unescape(cell) for cell in re.findall(r"<td>([^<]*)</td></tr>", rows)]
    assert statuses == ["Held", "Cancelled by the supervisor", "Planned"]  # the earliest first
    assert "Kunnantie 1, Hyvinkää" not in whole.text  # never the place
    fragment = await client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.count("<tr>") == 4
    assert "<html" not in fragment.text and "Esimerkkikunta" not in fragment.text

    for foreign in (theirs, draft, firms.b.agreement):  # another organisation's, a draft
        missing = await client.get(f"/t/alfa/portal/agreements/{foreign.id}/sessions")
        assert missing.status_code == 404, foreign.title

    # The firm previews it (its organisation's portal links to it); a supervisor may not.
    await client.login(a.owner.user.email)
    assert url in (await client.get(f"/t/alfa/portal/?org={a.org.id}")).text
    preview = await client.get(url)
    assert preview.status_code == 200 and "Preview" in preview.text
    assert f"/t/alfa/portal/?org={a.org.id}" in preview.text  # back to the preview
    assert (await client.get(f"/t/alfa/portal/agreements/{draft.id}/sessions")).status_code == 404
    await client.login(a.supervisor.user.email)
    assert (await client.get(url)).status_code == 403


async def test_the_reviews_list_takes_the_most_urgent_of_all_the_agreements(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    older = await _older_agreements(clean_db, a, 11)
    await _contact(clean_db, a, a.org, "helmi@esimerkki.fi")
    await client.login("helmi@esimerkki.fi")
    # The oldest are due first, those on the second page of agreements too; the fixture's
    # (reviewed a month ago) and "Tiimi 01" are the two more.
    urgent = [_due(x) for x in reversed(older[1:])]
    for number in (1, 2):
        reviews = _reviews((await client.get(f"/t/alfa/portal/?page={number}")).text)
        assert reviews.count("<li>") == 10
        shown = [reviews.index(due) for due in urgent]
        assert shown == sorted(shown)
        assert _due(older[0]) not in reviews
        assert "and 2 more" in reviews


async def test_the_preview_pages_the_agreements_of_its_organisation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    older = await _older_agreements(clean_db, a, 11)
    await client.login(a.admin.user.email)
    first = (await client.get(f"/t/alfa/portal/?org={a.org.id}")).text
    assert len(_listed(first)) == 10
    assert f'rel="next" href="?org={a.org.id}&amp;page=2"' in first
    second = (await client.get(f"/t/alfa/portal/?org={a.org.id}&page=2")).text
    assert "Preview: this is what the HR contacts of Esimerkkikunta see" in second
    assert _listed(second) == [older[9].id, older[10].id]
    assert f'rel="prev" href="?org={a.org.id}&amp;page=1"' in second


async def test_an_organisation_without_agreements_says_so(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    empty = await add_client_org(clean_db.owner, a.tenant, "Tyhjä Oy", business_id="1234567-1")
    await _contact(clean_db, a, empty, "helmi@tyhja.fi")
    await client.login("helmi@tyhja.fi")
    for url in ("/t/alfa/portal/", "/t/alfa/portal/?page=3"):
        page = await client.get(url)
        assert page.status_code == 200 and _listed(page.text) == []
        assert "No agreements yet. You can ask the firm for one below." in page.text
        assert "No reviews due." in _reviews(page.text)
        assert 'class="pager"' not in page.text and "more</p>" not in page.text
