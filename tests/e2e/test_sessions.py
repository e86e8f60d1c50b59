"""A supervisor plans a series, marks a session held and sees it on the calendar."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY
from luotsi.platform.identity import User
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, OrgType, PersonRole
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SupervisionSession
from luotsi.tenants.sessions.service import is_working_day
from tests.e2e.conftest import sign_in

SUPERVISOR = "aino.ohjaaja@demo.luotsi.localhost"
PASSWORD = "demo-salasana"


def agreement_for(
    database_url: str, email: str, today: date, org_name: str = "Selkokunta"
) -> uuid.UUID:
    """An active agreement of the demo supervisor, written straight into the database."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as db, db.begin():
            db.info[UNSCOPED_KEY] = True
            tenant = db.scalar(select(Tenant).where(Tenant.slug == "demo"))
            user = db.scalar(select(User).where(User.email == email))
            assert tenant is not None and user is not None
            db.info[TENANT_KEY] = tenant.id
            member = db.scalar(select(Membership).where(Membership.user_id == user.id))
            assert member is not None
            org = ClientOrg(name=org_name, org_type=OrgType.MUNICIPALITY)
            db.add(org)
            db.flush()
            person = ClientPerson(
                org_id=org.id,
                role=PersonRole.SUPERVISEE,
                name="Sini Selkeä",
                email="sini@selkokunta.example",
            )
            db.add(person)
            db.flush()
            agreement = Agreement(
                org_id=org.id,
                kind=SupervisionKind.INDIVIDUAL,
                start_date=today - timedelta(days=30),
                end_date=today + timedelta(days=330),
                session_minutes=60,
                cadence_weeks=3,
                session_quota=10,
                status=AgreementStatus.ACTIVE,
            )
            agreement.supervisors = [AgreementSupervisor(membership_id=member.id)]
            agreement.supervisees = [AgreementSupervisee(person_id=person.id)]
            db.add(agreement)
            db.flush()
            return agreement.id
    finally:
        engine.dispose()


def _last_working_day(today: date) -> date:
    day = today
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def test_plan_a_series_mark_one_held_and_see_it_on_the_calendar(
    page: Page, live_server: str, live_database_url: str
) -> None:
    base = live_server
    today = clock.today()
    agreement_id = agreement_for(live_database_url, SUPERVISOR, today)
    first = _last_working_day(today)  # held can be marked from a session's day on

    page.goto(base + "/login")
    page.get_by_role("button", name="EN").click()
    page.get_by_label("E-mail").fill(SUPERVISOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").last.click()
    expect(page).to_have_url(base + "/t/demo/")

    page.goto(f"{base}/t/demo/sessions/plan/{agreement_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Selkokunta – Sini Selkeä")
    expect(page.locator("#quota")).to_contain_text("10 sessions: 0 used, 0 planned, 10 left")
    page.get_by_label("First session").fill(first.isoformat())
    page.get_by_label("Time (Helsinki)").fill("18:00")  # after the demo's own meetings
    page.get_by_label("Number of sessions").fill("3")
    page.get_by_role("textbox", name="Address").fill("Selkotie 1, Hyvinkää")
    page.get_by_role("button", name="Show the dates").click()

    preview = page.locator("#series-preview")
    expect(preview.get_by_role("heading", name="2. Check the dates")).to_be_visible()
    expect(preview.locator('input[name="include"]')).to_have_count(3)
    page.get_by_role("button", name="Plan the ticked sessions").click()

    expect(page.get_by_role("status")).to_contain_text("The sessions have been planned")
    expect(page.locator("#quota")).to_contain_text("0 used, 3 planned, 7 left")
    sessions = page.locator("#agreement-sessions tbody tr")
    expect(sessions).to_have_count(3)
    sessions.first.get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Supervision session")
    page.get_by_label("Actual length (minutes)").fill("55")
    page.get_by_role("button", name="Mark held").click()
    expect(page.get_by_role("status")).to_contain_text("The session is marked held.")
    expect(page.locator("#session-facts")).to_contain_text("55 min")

    page.get_by_role("link", name="Calendar", exact=True).last.click()
    # The demo's own sessions this week may be held too: find the one just marked.
    entry = page.locator(".cal-entry.status-held", has_text="Selkokunta: Sini Selkeä")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Held")


def past_sessions_for(database_url: str, agreement_id: uuid.UUID, count: int) -> None:
    """``count`` sessions of the agreement whose time has passed and that nobody marked yet."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as db, db.begin():
            db.info[UNSCOPED_KEY] = True
            agreement = db.scalar(select(Agreement).where(Agreement.id == agreement_id))
            assert agreement is not None
            db.info[TENANT_KEY] = agreement.tenant_id
            supervisor = db.scalar(
                select(AgreementSupervisor.membership_id).where(
                    AgreementSupervisor.agreement_id == agreement_id
                )
            )
            assert supervisor is not None
            for n in range(1, count + 1):
                db.add(
                    SupervisionSession(
                        tenant_id=agreement.tenant_id,
                        agreement_id=agreement_id,
                        supervisor_id=supervisor,
                        starts_at=clock.now() - timedelta(days=n, hours=1),
                        duration_minutes=60,
                        uid=f"{uuid.uuid4()}@e2e",
                    )
                )
    finally:
        engine.dispose()


def test_mark_the_chosen_past_sessions_held_at_once(
    page: Page, live_server: str, live_database_url: str
) -> None:
    base = live_server
    agreement_id = agreement_for(live_database_url, SUPERVISOR, clock.today(), "Joukkokunta")
    past_sessions_for(live_database_url, agreement_id, 2)
    sign_in(page, base, SUPERVISOR)

    page.goto(base + "/t/demo/sessions/?when=past&status=planned&q=Joukkokunta")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Choose every planned session").check()
    expect(page.locator('input[name="session"]:checked')).to_have_count(2)
    page.get_by_role("button", name="Mark held…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Mark sessions held")
    expect(page.locator("form.card li")).to_have_count(2)
    page.get_by_role("button", name="Mark 2 sessions held").click()

    expect(page.get_by_role("status")).to_contain_text("The chosen sessions are marked held")
    page.goto(base + "/t/demo/sessions/?when=past&status=planned&q=Joukkokunta")
    expect(page.get_by_text("No meetings match these filters.")).to_be_visible()
    page.goto(base + "/t/demo/sessions/?when=past&status=held&q=Joukkokunta")
    expect(page.locator("table tbody tr")).to_have_count(2)
    expect(page.locator("table tbody")).not_to_contain_text("Planned")
