"""The agreement pages: list and filters, drafting, status changes, reviews and the PDF."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from pypdf import PdfReader
from sqlalchemy import text

from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.agreements.service import max_end_date
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.kinds import SupervisionKind
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import Firms, add_agreement, add_client_org, add_person, draft_start

A = "/t/alfa/agreements/"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def draft_form(firms: Firms, **changes: Any) -> dict[str, Any]:
    """Firm A's individual agreement from next month, as the draft form posts it."""
    form: dict[str, Any] = {
        "kind": "individual",
        "org_id": str(firms.a.org.id),
        "supervisor_ids": [str(firms.a.supervisor.id)],
        "supervisee_ids": [str(firms.a.supervisee.id)],
        "manager_id": str(firms.a.manager.id),
        "hr_contact_id": str(firms.a.hr_contact.id),
        "start_date": draft_start().isoformat(),
        "end_date": "",
        "session_minutes": "60",
        "cadence_weeks": "3",
        "session_quota": "12",
        "pricing": "per_session",
        "price": "1 234,50",
        "vat_rate": "25,5",
        "cancellation_hours": "24",
        "review_interval_months": "6",
        "reminders_enabled": "1",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def status_of(backend: Backend, agreement_id: uuid.UUID | str) -> tuple[str, date]:
    async with backend.owner.connect() as conn:
        row = (
            await conn.execute(
                text("select status, end_date from agreements where id = :id"),
                {
                    "id": str(agreement_id)
                    if backend.is_postgres
                    else uuid.UUID(str(agreement_id)).hex
                },
            )
        ).one()
    end = row[1] if isinstance(row[1], date) else date.fromisoformat(row[1])
    return row[0], end


async def agreement_count(backend: Backend) -> int:
    async with backend.owner.connect() as conn:
        return int((await conn.execute(text("select count(*) from agreements"))).scalar_one())


async def test_the_list_shows_parties_review_and_quota(client: Client, firms: Firms) -> None:
    agreement = firms.a.agreement
    next_review = firms.a.review.held_on + relativedelta(months=6)
    await client.login(firms.a.owner.user.email)
    page = await client.get(A)
    assert page.status_code == 200
    for expected in (
        "Esimerkkikunta",
        "Individual supervision",
        "Sanna Supervisee",
        "Maija Supervisor",
        f"{clock.en_date(agreement.start_date)} – {clock.en_date(agreement.end_date)}",
        f"{clock.en_date(next_review)}",  # six months after the last review
        "0 / 1 / 14",  # used / planned / left of 15
    ):
        assert expected in page.text
    assert "Beeta" not in page.text


async def test_filters_and_an_empty_result(client: Client, firms: Firms, clean_db: Backend) -> None:
    other = await add_client_org(clean_db.owner, firms.a.tenant, "Toinen Osakeyhtiö")
    team = await add_person(
        clean_db.owner, firms.a.tenant, other, PersonRole.SUPERVISEE, "Tiina Tiimiläinen"
    )
    await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        other,
        firms.a.admin,
        [team],
        kind=SupervisionKind.GROUP,
        status=AgreementStatus.PAUSED,
        title="Kotihoidon tiimi",
    )
    await client.login(firms.a.owner.user.email)

    async def results(query: str) -> str:
        fragment = await client.get(f"{A}?{query}", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        return str(fragment.text)

    assert "Toinen Osakeyhtiö" in await results("q=toinen")
    assert "Sanna Supervisee" not in await results("q=toinen")
    assert "Toinen Osakeyhtiö" in await results("q=tiimil")  # a supervisee's name
    assert "Sanna Supervisee" not in await results("kind=group")
    assert "Toinen Osakeyhtiö" not in await results(f"org={firms.a.org.id}")
    assert "Toinen Osakeyhtiö" in await results(f"supervisor={firms.a.admin.id}")
    assert "Toinen Osakeyhtiö" not in await results("status=active")
    assert "Toinen Osakeyhtiö" in await results("status=paused")
    empty = await results("status=ended")
    assert "No agreement matches these filters." in empty
    # Nonsense filters are ignored, not errors.
    both = await results("status=<b>&kind=x&org=nope&supervisor=1&page=-4")
    assert "Toinen Osakeyhtiö" in both and "Esimerkkikunta" in both


async def test_the_list_pages_and_marks_overdue_reviews(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    long_ago = clock.today() - timedelta(days=400)
    for n in range(21):
        org = await add_client_org(clean_db.owner, firms.a.tenant, f"Kunta {n:02d}")
        await add_agreement(
            clean_db.owner,
            firms.a.tenant,
            org,
            firms.a.supervisor,
            [firms.a.supervisee],
            start_date=long_ago,
            end_date=long_ago + timedelta(days=700),
        )
    await client.login(firms.a.owner.user.email)
    first = await client.get(A)
    assert ">Esimerkkikunta</a>" in first.text and ">Kunta 20</a>" not in first.text
    assert 'class="review-overdue"' in first.text and "overdue" in first.text
    assert 'href="?page=2"' in first.text
    second = await client.get(f"{A}?page=2")
    assert ">Kunta 20</a>" in second.text


async def test_the_list_sorts_by_a_column_keeping_its_filters_and_the_export_follows(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    earlier = clock.today() - timedelta(days=200)
    for name, start in (("Aakkoskunta", earlier), ("Öljykylä", earlier - timedelta(days=30))):
        org = await add_client_org(clean_db.owner, a.tenant, name)
        await add_agreement(
            clean_db.owner,
            a.tenant,
            org,
            a.supervisor,
            [a.supervisee],
            start_date=start,
            end_date=start + timedelta(days=600),
        )
    await client.login(a.owner.user.email)

    def orgs(html: str) -> list[str]:
        return [n for n in ("Aakkoskunta", "Esimerkkikunta", "Öljykylä") if f">{n}</a>" in html]

    def order(html: str) -> list[str]:
        return sorted(orgs(html), key=lambda n: html.index(f">{n}</a>"))

    by_name = (await client.get(A)).text
    assert order(by_name) == ["Aakkoskunta", "Esimerkkikunta", "Öljykylä"]
    assert 'aria-sort="ascending"' in by_name and "sort=-organisation" in by_name
    by_term = (await client.get(f"{A}?sort=term")).text
    assert order(by_term) == ["Öljykylä", "Aakkoskunta", "Esimerkkikunta"]
    latest_first = (await client.get(f"{A}?sort=-term&kind=individual")).text
    assert order(latest_first) == ["Esimerkkikunta", "Aakkoskunta", "Öljykylä"]
    assert 'name="sort" value="-term"' in latest_first  # the filter form keeps the order
    assert "kind=individual" in latest_first.split('aria-sort="descending"')[1][:300]
    export = await client.get("/t/alfa/exports/agreements.csv?sort=term")
    rows = export.content.decode("utf-8-sig").splitlines()[1:]
    assert [row.split(";")[0] for row in rows] == ["Öljykylä", "Aakkoskunta", "Esimerkkikunta"]
    nonsense = (await client.get(f"{A}?sort=-<b>")).text  # an unknown column: the usual order
    assert order(nonsense) == ["Aakkoskunta", "Esimerkkikunta", "Öljykylä"]


async def test_empty_state(client: Client, firms: Firms) -> None:
    await client.login(firms.both.email)  # a supervisor of firm A on no agreement
    page = await client.get(A)
    assert page.status_code == 200
    assert "You are not the supervisor of any agreement yet." in page.text
    assert "Draft the first agreement" not in page.text


async def test_a_supervisor_sees_only_their_own_agreements(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    admins = await add_agreement(
        clean_db.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.admin,
        [firms.a.supervisee],
        title="Toisen ohjaajan sopimus",
    )
    await client.login(firms.a.supervisor.user.email)
    listing = await client.get(f"{A}?status=all")
    assert "Sanna Supervisee" in listing.text and "Toisen ohjaajan sopimus" not in listing.text
    assert 'name="supervisor"' not in listing.text  # no supervisor filter for supervisors
    assert (await client.get(f"{A}{firms.a.agreement.id}")).status_code == 200
    assert (await client.get(f"{A}{admins.id}")).status_code == 404
    assert (await client.get(f"{A}{admins.id}/pdf")).status_code == 404
    review = await client.post(f"{A}{admins.id}/reviews", {"held_on": clock.fi(clock.today())})
    assert review.status_code == 404
    assert (await client.get(f"{A}new")).status_code == 403
    assert (await client.post(f"{A}{firms.a.agreement.id}/pause")).status_code == 403


async def test_drafting_through_the_form(client: Client, firms: Firms, clean_db: Backend) -> None:
    await client.login(firms.a.admin.user.email)
    form = await client.get(f"{A}new?org_id={firms.a.org.id}")
    assert (
        form.status_code == 200 and "Sanna Supervisee" in form.text and 'value="25,5"' in form.text
    )
    created = await client.post(A, draft_form(firms))
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert "The draft agreement has been saved." in page.text
    start = draft_start()  # a first of the month: a year runs to the last of the month before
    end = start.replace(year=start.year + 1) - timedelta(days=1)
    for expected in (
        "Draft",
        f"{clock.en_date(start)} – {clock.en_date(end)}",  # one year by default
        "1\xa0234,50\xa0€ + VAT 25.5 % = 1\xa0549,30\xa0€",
        "Every 3 weeks",
        "12 sessions",
        "Matti Manager",
        "Hanna HR",
        "Send for acceptance",
        "Drafted",
    ):
        assert expected in page.text, expected


async def test_a_bad_draft_is_shown_again_with_messages_and_nothing_saved(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.owner.user.email)
    before = await agreement_count(clean_db)
    bad = draft_form(
        firms,
        supervisor_ids=["not-a-uuid"],
        supervisee_ids=[],
        manager_id="",
        start_date="31.2.2027",  # no such day
        session_minutes="120",
        price="paljon",
        vat_rate="101",
        cancellation_hours="-1",
    )
    response = await client.post(A, bad)
    assert response.status_code == 422
    for message in (
        "Please correct the marked fields.",
        "Choose at least one supervisor",
        "Individual supervision has exactly one supervisee.",
        "needs the supervisee&#39;s manager",
        "Enter the start date",
        "A session lasts 45 to 90 minutes.",
        "Enter the price in euros",
        "Enter the VAT rate",
        "0 to 168",
    ):
        assert message in response.text, message
    assert 'value="paljon"' in response.text  # typed values are kept
    assert await agreement_count(clean_db) == before
    nonsense = await client.post(A, {"org_id": "x" * 500, "kind": "\x00", "supervisor_ids": "1"})
    assert nonsense.status_code == 422


async def test_choosing_the_organisation_shows_its_people(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    fragment = await client.get(f"{A}new?org_id={firms.a.org.id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Sanna Supervisee" in fragment.text and "Matti Manager" in fragment.text
    # Without JavaScript the form is posted back with the people shown and nothing saved.
    shown = await client.post(A, {"org_id": str(firms.a.org.id), "pick_org": "1", "price": "99"})
    assert shown.status_code == 200 and "Sanna Supervisee" in shown.text
    assert 'value="99"' in shown.text and "Please correct" not in shown.text


async def test_an_active_agreements_terms_and_end_date_cannot_be_edited(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    start, end = firms.a.agreement.start_date, firms.a.agreement.end_date
    await client.login(firms.a.owner.user.email)
    url = f"{A}{firms.a.agreement.id}/edit"
    page = await client.get(url)
    assert page.status_code == 200 and "Only a draft can be edited" in page.text
    assert 'name="end_date"' not in page.text
    attempt = await client.post(
        url,
        draft_form(
            firms,
            start_date=start.isoformat(),
            end_date=max_end_date(start).isoformat(),
            session_quota="15",
        ),
    )
    assert attempt.status_code == 409 and "review of continuation" in attempt.text
    assert await status_of(clean_db, firms.a.agreement.id) == ("active", end)
    # There is no other way to end or extend it.
    later = (end + relativedelta(months=4)).isoformat()
    for path in ("end", "extend", "status"):
        response = await client.post(f"{A}{firms.a.agreement.id}/{path}", {"end_date": later})
        assert response.status_code in (404, 405)
    assert await status_of(clean_db, firms.a.agreement.id) == ("active", end)


async def test_editing_a_draft(client: Client, firms: Firms, clean_db: Backend) -> None:
    await client.login(firms.a.owner.user.email)
    created = await client.post(A, draft_form(firms))
    url = created.headers["location"]
    start = draft_start()
    form = await client.get(f"{url}/edit")
    assert form.status_code == 200 and f'value="{start.isoformat()}"' in form.text
    half_year = start + relativedelta(months=6, days=-1)
    saved = await client.post(f"{url}/edit", draft_form(firms, end_date=half_year.isoformat()))
    assert saved.status_code == 303
    assert await status_of(clean_db, url.rsplit("/", 1)[1]) == ("draft", half_year)
    too_long = start + relativedelta(years=3, months=6, days=-1)
    bad = await client.post(f"{url}/edit", draft_form(firms, end_date=too_long.isoformat()))
    assert bad.status_code == 422 and "at most three years" in bad.text


async def test_a_fixed_price_for_the_process_is_saved_and_shown(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    form = await client.get(f"{A}new")
    assert 'value="per_session" id="pricing-per_session" checked' in form.text
    created = await client.post(A, draft_form(firms, pricing="per_process", price="2 400"))
    assert created.status_code == 303
    url = created.headers["location"]
    page = await client.get(url)
    assert "Price of the process" in page.text and "Price per session" not in page.text
    edit = await client.get(f"{url}/edit")
    assert 'value="per_process" id="pricing-per_process" checked' in edit.text
    wrong = await client.post(f"{url}/edit", draft_form(firms, pricing="per_hour"))
    assert wrong.status_code == 422
    assert "per session or for the process" in wrong.text


async def _running(backend: Backend, firms: Firms) -> str:
    """An active agreement of firm A that started 90 days ago (so reviews can be held today)."""
    start = clock.today() - timedelta(days=90)
    agreement = await add_agreement(
        backend.owner,
        firms.a.tenant,
        firms.a.org,
        firms.a.supervisor,
        [firms.a.supervisee],
        start_date=start,
        end_date=start + timedelta(days=364),
        manager_id=firms.a.manager.id,
    )
    return f"{A}{agreement.id}"


async def test_a_review_ends_the_agreement(client: Client, firms: Firms, clean_db: Backend) -> None:
    url = await _running(clean_db, firms)
    await client.login(firms.a.supervisor.user.email)
    page = await client.get(url)
    assert "Record a review" in page.text and "Pause" not in page.text  # supervisors review only
    today = clock.today()
    ended = await client.post(
        f"{url}/reviews",
        {
            "held_on": today.isoformat(),
            "decision": "end",
            "supervisee_present": "1",
            "supervisor_present": "1",
            "note": "Tavoitteet saavutettu.",
        },
    )
    assert ended.status_code == 303
    assert await status_of(clean_db, url.rsplit("/", 1)[1]) == ("ended", today)
    page = await client.get(url)
    assert "Ended" in page.text and "Tavoitteet saavutettu." in page.text
    assert "supervisee, Supervisor" in page.text or "Supervisee, Supervisor" in page.text
    assert "Record the review" not in page.text  # an ended agreement is not reviewed again


async def test_extending_beyond_three_years_is_refused(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    url = await _running(clean_db, firms)
    limit = max_end_date(clock.today() - timedelta(days=90))
    await client.login(firms.a.owner.user.email)
    form = {
        "held_on": clock.today().isoformat(),
        "decision": "extend",
        "supervisee_present": "1",
        "supervisor_present": "1",
        "manager_present": "1",
    }
    too_far = await client.post(
        f"{url}/reviews", {**form, "new_end_date": (limit + timedelta(days=1)).isoformat()}
    )
    assert too_far.status_code == 422 and "at most three years" in too_far.text
    missing = await client.post(f"{url}/reviews", {**form, "new_end_date": ""})
    assert missing.status_code == 422 and "Enter the new end date" in missing.text
    ok = await client.post(f"{url}/reviews", {**form, "new_end_date": limit.isoformat()})
    assert ok.status_code == 303
    assert await status_of(clean_db, url.rsplit("/", 1)[1]) == ("active", limit)
    history = await client.get(url)
    assert "Extended" in history.text and "Maija Owner" in history.text


async def test_pause_and_resume_with_a_confirmation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    url = f"{A}{firms.a.agreement.id}"
    await client.login(firms.a.admin.user.email)
    confirm = await client.get(f"{url}/status?action=pause")
    assert confirm.status_code == 200 and "Pause the agreement?" in confirm.text
    assert "Resume the agreement?" not in confirm.text
    paused = await client.post(f"{url}/pause", {"note": "Sairausloma"})
    assert paused.status_code == 303
    assert (await status_of(clean_db, firms.a.agreement.id))[0] == "paused"
    again = await client.post(f"{url}/pause")
    assert again.status_code == 422 and "not possible now" in again.text
    resumed = await client.post(f"{url}/resume")
    assert resumed.status_code == 303
    page = await client.get(url)
    assert "Paused" in page.text and "Resumed" in page.text and "Sairausloma" in page.text
    assert page.text.count("Maija Admin") >= 2  # who, for both changes
    wrong = await client.get(f"{url}/status?action=resume")
    assert wrong.status_code == 200 and "not possible" in wrong.text


async def test_the_terms_download_as_pdf(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    response = await client.get(f"{A}{firms.a.agreement.id}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    pdf = PdfReader(io.BytesIO(response.content))
    words = " ".join(page.extract_text() for page in pdf.pages).replace("\xa0", " ")
    assert "Esimerkkikunta" in words and "Sanna Supervisee" in words
    assert "120,00 €" in words and "150,60 €" in words  # in the organisation's language


async def test_the_agreement_page_lists_its_sessions_and_leads_to_planning(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    page = await client.get(f"/t/alfa/agreements/{firms.a.agreement.id}")
    assert page.status_code == 200
    sessions = page.text.split('id="sessions"')[1].split("</section>")[0]
    assert f"/t/alfa/sessions/{firms.a.session.id}" in sessions
    assert "10.00" in sessions and "Planned" in sessions  # the fixture's, 10.00 in Helsinki
    assert f"/t/alfa/sessions/plan/{firms.a.agreement.id}" in sessions
